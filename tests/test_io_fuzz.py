"""Property tests: whatever bytes or records we are given, read() fails only with InputError."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from referee.errors import InputError
from referee.io import FORMATS, read
from referee.schema import WINNERS

#: raise REFEREE_FUZZ_EXAMPLES for a longer hunt (e.g. 5000)
SETTINGS = settings(max_examples=int(os.environ.get("REFEREE_FUZZ_EXAMPLES", "60")), deadline=None)

NAMES = [
    "data.jsonl",
    "data.json",
    "data.csv",
    "data.tsv",
    "data.parquet",
    "data.jsonl.gz",
    "data.json.xz",
    "answer_gpt4-vs-answer_vicuna-13b-vicuna-13b-reviewer_threeclass.jsonl",
]
COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress}

CONV = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
VALID: list[dict[str, Any]] = [
    {"model_a": "a", "model_b": "b", "winner": "model_a", "judge": "u", "tstamp": 1.0, "question_id": "q",
     "turn": 1, "anony": True, "language": "English", "conversation_a": CONV, "conversation_b": CONV,
     "conv_metadata": {"sum_assistant_a_tokens": 3, "header_count_a": {"h1": 1}}},
    {"instruction": "i", "output_1": "x", "generator_1": "g1", "output_2": "y", "generator_2": "g2",
     "annotator": "ann", "dataset": "d", "preference": 1.25},
    {"question_id": 81, "model_a": "a", "model_b": "b", "winner": "tie (inconsistent)", "judge": "expert_1",
     "turn": 1, "category": "writing", "conversation_a": CONV, "conversation_b": CONV},
    {"question_id": 1, "model_1": "a", "model_2": "b", "g1_winner": "model_1", "g2_winner": "error",
     "judge": ["gpt-4", "pair-v2"], "turn": 1, "tstamp": 2.0},
    {"uid": "u", "category": "hard_prompt", "judge": "j", "model": "m", "baseline": "b",
     "games": [{"score": "A>>B"}, {"score": None}]},
    {"question_id": "q", "model": "m", "judge": "j", "games": [{"score": "B>A"}, {"score": "A=B"}]},
    {"question_id": 1, "text": "q", "score": 3},
    {"model_a": "a", "model_b": "b", "prob_a": 0.7, "weight": 1.0, "pair_id": "p", "order": 1, "extra": 3.5},
]
KEYS = sorted({k for rec in VALID for k in rec} | {"preference", "prompt_id", "voter", "strength", "games"})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([*WINNERS, "draw", "A", "A>B", "model_1", "error", "1.5", "", " "])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
records = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), values, max_size=10)


def encode(recs: list[Any], array: bool) -> bytes:
    if array:
        return json.dumps(recs).encode()
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


def read_every_way(raw: bytes, name: str) -> None:
    """Read ``raw`` saved as ``name`` with detection and with every forced format."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ratings-vicuna-13b"
        folder.mkdir()
        path = folder / name
        path.write_bytes(raw)
        for fmt in (None, *FORMATS):
            for baseline in (None, "base"):
                try:
                    df = read(path, format=fmt, baseline=baseline)
                except InputError:
                    continue
                check_table(df)


def check_table(df: pd.DataFrame) -> None:
    assert isinstance(df, pd.DataFrame) and len(df) > 0
    assert {"model_a", "model_b", "winner"} <= set(df.columns)
    assert df["winner"].isin(WINNERS).all()
    assert "_line" not in df.columns
    assert set(df.attrs) == {"dropped", "mapped", "formats"}


@SETTINGS
@given(raw=st.binary(max_size=600), name=st.sampled_from(NAMES))
def test_random_bytes(raw: bytes, name: str) -> None:
    read_every_way(raw, name)


@SETTINGS
@given(
    raw=st.binary(max_size=300),
    prefix=st.sampled_from([b"PAR1", b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh", b"[", b"{", b"\xef\xbb\xbf{"]),
    name=st.sampled_from(NAMES),
)
def test_random_bytes_with_magic(raw: bytes, prefix: bytes, name: str) -> None:
    read_every_way(prefix + raw, name)


@SETTINGS
@given(
    recs=st.lists(records, min_size=1, max_size=4),
    array=st.booleans(),
    name=st.sampled_from(NAMES),
    compression=st.sampled_from(list(COMPRESS)),
)
def test_random_records(recs: list[dict[str, Any]], array: bool, name: str, compression: str) -> None:
    read_every_way(COMPRESS[compression](encode(recs, array)), name)


@SETTINGS
@given(data=st.data(), array=st.booleans(), name=st.sampled_from(NAMES))
def test_mutated_valid_records(data: st.DataObject, array: bool, name: str) -> None:
    """Valid records of every format with a few fields replaced by random JSON or removed."""
    base = data.draw(st.sampled_from(VALID))
    recs = []
    for _ in range(data.draw(st.integers(1, 3))):
        rec = dict(base)
        for key in data.draw(st.lists(st.sampled_from(sorted(rec)), max_size=3)):
            if data.draw(st.booleans()):
                rec[key] = data.draw(values)
            else:
                rec.pop(key, None)
        recs.append(rec)
    read_every_way(encode(recs, array), name)


@SETTINGS
@given(
    base=st.sampled_from(VALID),
    copies=st.integers(1, 3),
    cut=st.floats(0, 1),
    array=st.booleans(),
    compress_first=st.booleans(),
    compression=st.sampled_from([".gz", ".xz"]),
    name=st.sampled_from(NAMES),
)
def test_truncated_valid_files(
    base: dict[str, Any], copies: int, cut: float, array: bool, compress_first: bool, compression: str, name: str
) -> None:
    """Valid content cut short anywhere: as text, or as a truncated compressed stream."""
    raw = encode([base] * copies, array)
    if compress_first:
        raw = COMPRESS[compression](raw)
    raw = raw[: int(len(raw) * cut)]
    read_every_way(raw, name)


@SETTINGS
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"model_a": scalars, "model_b": scalars, "winner": scalars},
            optional={"prob_a": scalars, "weight": scalars, "turn": scalars, "prompt_id": scalars, "x": scalars},
        ),
        min_size=1,
        max_size=4,
    ),
    sep=st.sampled_from([",", "\t"]),
)
def test_random_csv(rows: list[dict[str, Any]], sep: str) -> None:
    frame = pd.DataFrame(rows)
    text = frame.to_csv(sep=sep, index=False)
    read_every_way(text.encode("utf-8", "surrogatepass"), "data.tsv" if sep == "\t" else "data.csv")

"""Chatbot Arena battle logs (``clean_battle_*.json``, HF ``chatbot_arena_conversations``).

Fields: ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``, ``tie``,
``tie (bothbad)``), ``judge`` (the *voter's* id: stored in ``voter``, and
``judge="human"``), ``turn``, ``anony``, ``language``, ``tstamp``, ``question_id``
(-> ``prompt_id``), ``conversation_a/b`` (-> ``prompt`` = first user turn,
``response_a/b`` = assistant turns joined by a blank line) and ``conv_metadata``
(Arena's style counts, nested counts summed, as the columns ``length_a/b``,
``headers_a/b``, ``lists_a/b``, ``bold_a/b`` that :mod:`referee.ranking.style` reads).  The label
``both_bad`` of newer LMArena releases is mapped to ``tie (bothbad)`` and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa

from referee.errors import InputError
from referee.io import _arrow as fa
from referee.io.fields import Fields
from referee.io.source import Parsed, Source
from referee.schema import TIE_BOTHBAD, WINNERS

SYNONYMS = {"both_bad": TIE_BOTHBAD}
#: the keys this reader uses
KEYS = frozenset(
    {"model_a", "model_b", "winner", "judge", "question_id", "tstamp", "turn", "anony", "language", "category"}
    | {"conversation_a", "conversation_b", "conv_metadata"}
)
#: ``conv_metadata`` field -> style column read by :mod:`referee.ranking.style` (``<feature>_a/_b``)
STYLE = {
    "sum_assistant_a_tokens": "length_a",
    "sum_assistant_b_tokens": "length_b",
    "header_count_a": "headers_a",
    "header_count_b": "headers_b",
    "list_count_a": "lists_a",
    "list_count_b": "lists_b",
    "bold_count_a": "bold_a",
    "bold_count_b": "bold_b",
}
#: optional keys of the fast path: key -> (column, conversion)
OPTIONAL: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "judge": ("voter", lambda c: fa.text(c, ids=True)),
    "question_id": ("prompt_id", lambda c: fa.text(c, ids=True)),
    "tstamp": ("tstamp", fa.number),
    "turn": ("turn", lambda c: fa.number(c, integer=True)),
    "anony": ("anony", fa.boolean),
    "language": ("language", fa.text),
    "category": ("category", fa.text),
}
#: arrow types of the scalar keys (for a JSON Lines read of chosen keys); the others are nested
TYPES: dict[str, pa.DataType] = {
    "model_a": pa.string(), "model_b": pa.string(), "winner": pa.string(), "judge": pa.string(),
    "question_id": pa.string(), "tstamp": pa.float64(), "turn": pa.int64(), "anony": pa.bool_(),
    "language": pa.string(), "category": pa.string(),
}
NESTED = frozenset({"conversation_a", "conversation_b", "conv_metadata"})
#: keys that mark a Chatbot Arena record (besides model_a/model_b/winner)
MARKERS = frozenset(
    {"anony", "tstamp", "question_id", "conversation_a", "conversation_b", "conv_metadata", "dedup_tag", "category_tag"}
)


def read(src: Source, fast: bool = True, keep: frozenset[str] | None = None, **_: Any) -> Parsed:
    """Read a battle log, vectorised through pyarrow unless ``fast`` is False.

    ``keep``: the output columns wanted (None: all); the fast path converts no others.
    """
    if fast and src.kind in ("jsonl", "json_array"):
        try:
            return _read_fast(src, keep)
        except InputError:
            raise
        except fa.FAST_PATH_ERRORS:
            pass
    return _read_records(src)


def _read_fast(src: Source, keep: frozenset[str] | None = None) -> Parsed:
    """Vectorised pass over an arrow table; raises Fallback whenever anything is unexpected."""
    wanted: set[str] | None = None
    if keep is not None:  # neither parse nor convert the keys nobody asked for
        wanted = {"model_a", "model_b", "winner"}
        wanted |= {key for key, (name, _) in OPTIONAL.items() if name in keep}
        if keep & {"prompt", "response_a", "response_b"}:
            wanted |= {"conversation_a", "conversation_b"}
        if keep & set(STYLE.values()):
            wanted.add("conv_metadata")
    if src.kind == "jsonl":
        tbl = fa.read_jsonl(src, None if wanted is None or wanted & NESTED else sorted(wanted), TYPES)
    else:
        tbl = fa.from_records(src.records(), KEYS)
    names = set(tbl.column_names)
    if wanted is not None:
        names &= wanted
    if not {"model_a", "model_b", "winner"} <= names:
        raise fa.Fallback("missing column")
    # model names and labels as Categoricals: a million rows hold a few hundred distinct strings
    model_a, model_b = fa.categories([tbl["model_a"], tbl["model_b"]])
    if (model_a.codes < 0).any() or (model_b.codes < 0).any():
        raise fa.Fallback("missing model name")
    cols: dict[str, Any] = {"model_a": model_a, "model_b": model_b}
    cols["winner"], mapped = fa.label_categories(tbl["winner"], WINNERS, SYNONYMS)
    for key, (name, convert) in OPTIONAL.items():
        if key in names:
            cols[name] = convert(tbl[key])
    conv_a = tbl["conversation_a"] if "conversation_a" in names else None
    conv_b = tbl["conversation_b"] if "conversation_b" in names else None
    if conv_a is not None:
        cols["prompt"], cols["response_a"] = fa.chat(conv_a)
    if conv_b is not None:
        prompt_b, cols["response_b"] = fa.chat(conv_b)
        cols.setdefault("prompt", prompt_b)
    if "conv_metadata" in names:
        cols.update(fa.metadata(tbl["conv_metadata"], STYLE))
    frame = pd.DataFrame({k: fa.to_series(v) for k, v in cols.items() if v is not None})
    if keep is None or "judge" in keep:
        frame.insert(3, "judge", "human")
    return Parsed(frame, exact=False, mapped=mapped)


def _read_records(src: Source) -> Parsed:
    """Exact pass, record by record, with line numbers and typed field checks."""
    rows = []
    mapped = 0
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        winner = f.text("winner")
        if winner in SYNONYMS:
            winner = SYNONYMS[winner]
            mapped += 1
        row: dict[str, Any] = {
            "_line": line,
            "model_a": f.text("model_a"),
            "model_b": f.text("model_b"),
            "winner": winner,
            "judge": "human",
            "voter": f.ident("judge", required=False),
            "prompt_id": f.ident("question_id", required=False),
            "tstamp": f.number("tstamp", required=False),
            "turn": f.integer("turn", required=False),
            "anony": f.boolean("anony", required=False),
            "language": f.text("language", required=False),
            "category": f.text("category", required=False),
        }
        row.update(_conversation(f))
        row.update(fa.metadata_py(rec.get("conv_metadata"), STYLE))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.drop(columns=[c for c in frame.columns if c != "judge" and frame[c].isna().all()])
    return Parsed(frame, mapped={"both_bad -> tie (bothbad)": mapped} if mapped else {})


def _conversation(f: Fields) -> dict[str, Any]:
    """prompt (first user turn) and response_a/b (assistant turns) of the two conversations."""
    out: dict[str, Any] = {}
    for side in ("a", "b"):
        key = f"conversation_{side}"
        if key not in f.rec:
            continue
        users = f.messages(key, "user", required=False)
        answers = f.messages(key, "assistant", required=False)
        if users is None or answers is None:
            out[f"response_{side}"] = None
            continue
        if users and "prompt" not in out:
            out["prompt"] = users[0]
        out[f"response_{side}"] = "\n\n".join(answers)
    return out

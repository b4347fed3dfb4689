"""Every reader on small hand-built fixtures: plain, gzip and xz; detection; writers."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from referee.errors import InputError
from referee.io import FORMATS, detect, read, write

COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress}


def dump(path: Path, records: list[dict[str, Any]], *, array: bool = False, compression: str = "") -> Path:
    """Write records as JSON Lines (or one JSON array), optionally compressed; returns the path."""
    text = json.dumps(records, indent=2) if array else "".join(json.dumps(r) + "\n" for r in records)
    path = path.with_name(path.name + compression)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(COMPRESS[compression](text.encode()))
    return path


def chat(user: list[str], assistant: list[str]) -> list[dict[str, str]]:
    out = []
    for u, a in zip(user, assistant, strict=True):
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return out


# -- fixtures ---------------------------------------------------------------------------------
ARENA = [
    {
        "question_id": "5a1c",
        "model_a": "gpt-4",
        "model_b": "vicuna-13b",
        "winner": "model_a",
        "judge": "arena_user_12",
        "turn": 2,
        "anony": True,
        "language": "English",
        "tstamp": 1682351591.1322,
        "conversation_a": chat(["hi", "and?"], ["A1", "A2"]),
        "conversation_b": chat(["hi", "and?"], ["B1", "B2"]),
        "conv_metadata": {
            "sum_user_tokens": 3,
            "sum_assistant_a_tokens": 10,
            "sum_assistant_b_tokens": 4,
            "header_count_a": {"h1": 1, "h2": 2},
            "header_count_b": {"h1": 0, "h2": 0},
            "list_count_a": {"ordered": 1, "unordered": 1},
            "list_count_b": {"ordered": 0, "unordered": 3},
            "bold_count_a": {"**": 0, "__": 0},
            "bold_count_b": {"**": 2, "__": 1},
            "turns": 2,
        },
    },
    {
        "question_id": "77ff",
        "model_a": "vicuna-13b",
        "model_b": "vicuna-13b",
        "winner": "tie (bothbad)",
        "judge": "arena_user_40",
        "turn": 1,
        "anony": False,
        "language": "German",
        "tstamp": 1682351600,
        "conversation_a": chat(["hallo"], ["a"]),
        "conversation_b": chat(["hallo"], ["b"]),
        "conv_metadata": {
            "sum_user_tokens": 1,
            "sum_assistant_a_tokens": 1,
            "sum_assistant_b_tokens": 1,
            "header_count_a": {"h1": 0, "h2": 0},
            "header_count_b": {"h1": 0, "h2": 0},
            "list_count_a": {"ordered": 0, "unordered": 0},
            "list_count_b": {"ordered": 0, "unordered": 0},
            "bold_count_a": {"**": 0, "__": 0},
            "bold_count_b": {"**": 0, "__": 0},
            "turns": 1,
        },
    },
    {
        "question_id": "9c0d",
        "model_a": "claude-v1",
        "model_b": "gpt-4",
        "winner": "both_bad",
        "judge": "arena_user_12",
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": 1682351700.5,
        "conversation_a": chat(["q"], ["x"]),
        "conversation_b": chat(["q"], ["y"]),
        "conv_metadata": {
            "sum_user_tokens": 1,
            "sum_assistant_a_tokens": 1,
            "sum_assistant_b_tokens": 1,
            "header_count_a": {"h1": 0, "h2": 0},
            "header_count_b": {"h1": 0, "h2": 0},
            "list_count_a": {"ordered": 0, "unordered": 0},
            "list_count_b": {"ordered": 0, "unordered": 0},
            "bold_count_a": {"**": 0, "__": 0},
            "bold_count_b": {"**": 0, "__": 0},
            "turns": 1,
        },
    },
]
ARENA_PLAIN = [  # clean_battle style: no conversations
    {"model_a": "a", "model_b": "b", "winner": "model_b", "judge": "arena_user_1", "tstamp": 1.5, "question_id": "q1"},
    {"model_a": "b", "model_b": "c", "winner": "tie", "judge": "arena_user_2", "tstamp": 2.5, "question_id": "q2"},
]


def annotation(pref: Any, i: int = 0) -> dict[str, Any]:
    return {
        "instruction": f"instruction {i}",
        "output_1": f"baseline answer {i}",
        "generator_1": "gpt4_1106_preview",
        "dataset": "helpful_base",
        "output_2": f"model answer {i}",
        "generator_2": "my-model",
        "annotator": "weighted_alpaca_eval_gpt4_turbo",
        "preference": pref,
        "price_per_example": 0.01,
    }


ALPACA = [annotation(p, i) for i, p in enumerate([1.0, 2.0, "1.75", 1.5, 0.0, None, 1.0000211125])]

MT_BENCH = [
    {
        "question_id": 81,
        "model_a": "alpaca-13b",
        "model_b": "gpt-3.5-turbo",
        "winner": "model_b",
        "judge": "expert_3",
        "turn": 2,
        "category": "writing",
        "conversation_a": chat(["write", "rewrite"], ["a1", "a2"]),
        "conversation_b": chat(["write", "rewrite"], ["b1", "b2"]),
    },
    {
        "question_id": 82,
        "model_a": "gpt-4",
        "model_b": "claude-v1",
        "winner": "tie (inconsistent)",
        "judge": "gpt4_pair",
        "turn": 1,
        "category": "writing",
        "conversation_a": chat(["draft", "shorter"], ["g1", "g2"]),
        "conversation_b": chat(["draft", "shorter"], ["c1", "c2"]),
    },
]

FASTCHAT = [
    {
        "question_id": 81,
        "model_1": "vicuna-13b",
        "model_2": "gpt-3.5-turbo",
        "g1_winner": "model_2",
        "g2_winner": "model_2",
        "judge": ["gpt-4", "pair-v2"],
        "g1_user_prompt": "[User Question] ...",
        "g1_judgment": "... [[B]]",
        "g2_user_prompt": "[User Question] ...",
        "g2_judgment": "... [[A]]",
        "turn": 1,
        "tstamp": 1687221890.5,
    },
    {
        "question_id": 111,
        "model_1": "vicuna-13b",
        "model_2": "gpt-3.5-turbo",
        "g1_winner": "tie",
        "g2_winner": "error",
        "judge": ["gpt-4", "pair-math-v1-multi-turn"],
        "turn": 2,
        "tstamp": 1687221899.0,
    },
]


def game(score: str | None) -> dict[str, Any]:
    return {"user_prompt": "<|User Prompt|> ...", "judgment": f"... [[{score}]]", "score": score}


ARENA_HARD_V2 = [
    {
        "uid": "0a1b",
        "category": "hard_prompt",
        "judge": "gpt-4.1",
        "model": "my-model",
        "baseline": "o3-mini-2025-01-31",
        "games": [game("A>>B"), game("A>B")],
    },
    {
        "uid": "0c2d",
        "category": "hard_prompt",
        "judge": "gpt-4.1",
        "model": "my-model",
        "baseline": "o3-mini-2025-01-31",
        "games": [game("B<<A"), game(None)],
    },
    {
        "uid": "0e3f",
        "category": "creative_writing",
        "judge": "gpt-4.1",
        "model": "my-model",
        "baseline": "o3-mini-2025-01-31",
        "games": [game("A=B"), None],
    },
]
ARENA_HARD_V01 = [
    {"question_id": "328c", "model": "llama-3-70b", "judge": "gpt-4-1106-preview", "games": [game("B>A"), game("A>>B")]},
    {"question_id": "4f2a", "model": "llama-3-70b", "judge": "gpt-4-1106-preview", "games": [game("B>>A"), game("B=A")]},
]

PRD = [
    {"question_id": 1, "text": "How can I improve my time management skills?", "score": 1},
    {"question_id": 1, "text": "How can I improve my time management skills?", "score": 3},
    {"question_id": 2, "text": "What are the most effective ways to deal with stress?", "score": 2},
]
PRD_LLM = [
    {"review_id": "r1", "question_id": 1, "answer1_id": "x", "answer2_id": "y", "reviewer_id": 1, "metadata": {},
     "text": "Assistant 2 is better. 2", "score": 2},
    {"review_id": "r2", "question_id": 2, "answer1_id": "x", "answer2_id": "y", "reviewer_id": 1, "metadata": {},
     "text": "Both fine. 3", "score": 3},
]

GENERIC = [
    {"model_a": "a", "model_b": "b", "winner": "model_a", "prompt_id": "p1", "judge": "gpt-4o", "weight": 2.0,
     "len_diff": 0.5},
    {"model_a": "b", "model_b": "c", "winner": "tie", "prompt_id": "p2", "judge": "gpt-4o", "weight": 1.0,
     "len_diff": -0.25},
    {"model_a": "a", "model_b": "a", "winner": "model_b", "prompt_id": "p3", "judge": "gpt-4o", "weight": 1.0,
     "len_diff": 0.0},
]

COMPRESSIONS = ["", ".gz", ".xz"]


# -- readers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("array", [False, True])
def test_arena(tmp_path: Path, compression: str, array: bool) -> None:
    path = dump(tmp_path / ("battles.json" if array else "battles.jsonl"), ARENA, array=array, compression=compression)
    assert detect(path) == "arena"
    df = read(path)
    assert df["winner"].tolist() == ["model_a", "tie (bothbad)", "tie (bothbad)"]
    assert df.attrs["mapped"] == {"both_bad -> tie (bothbad)": 1}
    assert df.attrs["dropped"] == {}
    assert (df["judge"] == "human").all()
    assert df["voter"].tolist() == ["arena_user_12", "arena_user_40", "arena_user_12"]
    assert df["prompt_id"].tolist() == ["5a1c", "77ff", "9c0d"]
    assert df["prompt"].tolist() == ["hi", "hallo", "q"]
    assert df["response_a"].iloc[0] == "A1\n\nA2"
    assert df["response_b"].iloc[0] == "B1\n\nB2"
    assert df["turn"].tolist() == [2, 1, 1]
    assert df["anony"].tolist() == [True, False, True]
    assert df["tstamp"].tolist() == [1682351591.1322, 1682351600.0, 1682351700.5]
    assert df["headers_a"].tolist() == [3.0, 0.0, 0.0]
    assert df["lists_b"].tolist() == [3.0, 0.0, 0.0]
    assert df["bold_b"].tolist() == [3.0, 0.0, 0.0]
    assert df["length_a"].tolist() == [10.0, 1.0, 1.0]
    assert (df["model_a"] == df["model_b"]).sum() == 1  # self-battles are kept
    assert "_line" not in df.columns


def test_arena_fast_and_exact_paths_agree(tmp_path: Path) -> None:
    from referee.io import arena, labels_as_categories
    from referee.io.source import Source
    from referee.schema import validate

    path = dump(tmp_path / "battles.jsonl", ARENA)
    fast = arena.read(Source(path))
    exact = arena.read(Source(path), fast=False)
    assert not fast.exact and exact.exact
    assert isinstance(fast.frame["model_a"].dtype, pd.CategoricalDtype)  # the fast path never hashes names
    # read() gives every reader's labels the same dtype (Categoricals over sorted names)
    a = labels_as_categories(validate(fast.frame))
    b = labels_as_categories(validate(exact.frame).drop(columns="_line"))
    pd.testing.assert_frame_equal(a, b[a.columns], check_dtype=False)
    assert set(a.columns) == set(b.columns)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_arena_plain_battles(tmp_path: Path, compression: str) -> None:
    path = dump(tmp_path / "clean_battle.jsonl", ARENA_PLAIN, compression=compression)
    df = read(path)
    assert df.attrs["formats"] == {str(path): "arena"}
    assert df[["model_a", "model_b", "winner", "voter", "prompt_id"]].values.tolist() == [
        ["a", "b", "model_b", "arena_user_1", "q1"],
        ["b", "c", "tie", "arena_user_2", "q2"],
    ]


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("array", [True, False])
def test_alpaca_eval(tmp_path: Path, compression: str, array: bool) -> None:
    records = [*ALPACA, annotation(float("nan"), 99)]
    path = dump(tmp_path / "annotations.json", records, array=array, compression=compression)
    assert detect(path) == "alpaca_eval"
    df = read(path)
    assert df.attrs["dropped"] == {"unparsed_verdict": 2}
    assert df["model_a"].unique().tolist() == ["gpt4_1106_preview"]
    assert df["model_b"].unique().tolist() == ["my-model"]
    assert df["winner"].tolist() == ["model_a", "model_b", "model_b", "tie", "tie", "model_a"]
    assert df["prob_a"].tolist() == pytest.approx([1.0, 0.0, 0.25, 0.5, 0.5, 1 - 0.0000211125])
    assert df["prompt"].iloc[1] == "instruction 1"
    assert df["response_a"].iloc[1] == "baseline answer 1"
    assert df["response_b"].iloc[1] == "model answer 1"
    assert (df["judge"] == "weighted_alpaca_eval_gpt4_turbo").all()
    assert (df["category"] == "helpful_base").all()
    ids = df["prompt_id"].tolist()
    assert len(set(ids)) == len(ids) and all(len(i) == 12 for i in ids)
    again = read(path)
    assert again["prompt_id"].tolist() == ids  # stable


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_mt_bench(tmp_path: Path, compression: str) -> None:
    path = dump(tmp_path / "human.jsonl", MT_BENCH, compression=compression)
    assert detect(path) == "mt_bench"
    df = read(path)
    assert df["winner"].tolist() == ["model_b", "tie"]
    assert df.attrs["mapped"] == {"tie (inconsistent) -> tie": 1}
    assert df["judge"].tolist() == ["human", "gpt4_pair"]
    assert df["voter"].iloc[0] == "expert_3" and pd.isna(df["voter"].iloc[1])
    assert df["prompt_id"].tolist() == ["81-t2", "82-t1"]
    assert df["prompt"].tolist() == ["rewrite", "draft"]
    assert df["response_a"].tolist() == ["a2", "g1"]
    assert df["response_b"].tolist() == ["b2", "c1"]
    assert df["turn"].tolist() == [2, 1]
    assert df["category"].tolist() == ["writing", "writing"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_fastchat_pair(tmp_path: Path, compression: str) -> None:
    path = dump(tmp_path / "gpt-4_pair.jsonl", FASTCHAT, compression=compression)
    assert detect(path) == "fastchat_pair"
    df = read(path)
    # game 1 shows model_1 first, game 2 shows model_2 first; winners are in the shown frame
    assert df[["model_a", "model_b", "winner", "order"]].values.tolist() == [
        ["vicuna-13b", "gpt-3.5-turbo", "model_b", 1],
        ["gpt-3.5-turbo", "vicuna-13b", "model_a", 2],
        ["vicuna-13b", "gpt-3.5-turbo", "tie", 1],
    ]
    assert df["pair_id"].iloc[0] == df["pair_id"].iloc[1] != df["pair_id"].iloc[2]
    assert df.attrs["dropped"] == {"unparsed_verdict": 1}
    assert (df["judge"] == "gpt-4").all()
    assert df["prompt_id"].tolist() == ["81-t1", "81-t1", "111-t2"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_arena_hard_v2(tmp_path: Path, compression: str) -> None:
    path = dump(tmp_path / "model_judgment" / "gpt-4.1" / "my-model.jsonl", ARENA_HARD_V2, compression=compression)
    assert detect(path) == "arena_hard"
    df = read(path)
    base, model = "o3-mini-2025-01-31", "my-model"
    assert df[["model_a", "model_b", "winner", "strength", "order"]].values.tolist() == [
        [base, model, "model_a", 2.0, 1],
        [model, base, "model_a", 1.0, 2],
        [base, model, "model_a", 2.0, 1],
        [base, model, "tie", 0.0, 1],
    ]
    assert df.attrs["dropped"] == {"unparsed_verdict": 1, "missing_game": 1}
    assert df["pair_id"].iloc[0] == df["pair_id"].iloc[1] != df["pair_id"].iloc[2]
    assert df["prompt_id"].tolist() == ["0a1b", "0a1b", "0c2d", "0e3f"]
    assert df["category"].tolist() == ["hard_prompt", "hard_prompt", "hard_prompt", "creative_writing"]
    assert (df["judge"] == "gpt-4.1").all()


def test_arena_hard_v01_needs_baseline(tmp_path: Path) -> None:
    path = dump(tmp_path / "llama-3-70b.jsonl", ARENA_HARD_V01)
    with pytest.raises(InputError, match="baseline=") as exc:
        read(path)
    assert exc.value.field == "baseline" and exc.value.line == 1 and exc.value.path == str(path)
    df = read(path, baseline="gpt-4-0314")
    base, model = "gpt-4-0314", "llama-3-70b"
    assert df[["model_a", "model_b", "winner", "strength", "order"]].values.tolist() == [
        [base, model, "model_b", 1.0, 1],
        [model, base, "model_a", 2.0, 2],
        [base, model, "model_b", 2.0, 1],
        [model, base, "tie", 0.0, 2],
    ]
    assert df["prompt_id"].tolist() == ["328c", "328c", "4f2a", "4f2a"]


def test_arena_hard_conflicting_baseline(tmp_path: Path) -> None:
    path = dump(tmp_path / "my-model.jsonl", ARENA_HARD_V2)
    with pytest.raises(InputError, match="differs") as exc:
        read(path, baseline="gpt-4-0314")
    assert exc.value.field == "baseline" and exc.value.line == 1


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_prd_human(tmp_path: Path, compression: str) -> None:
    name = "answer_gpt4-vs-answer_guanaco-13b-human-reviewer_threeclass.jsonl"
    path = dump(tmp_path / "ratings-human" / name, PRD, compression=compression)
    assert detect(path) == "prd"
    df = read(path)
    assert df[["model_a", "model_b", "winner", "judge", "prompt_id"]].values.tolist() == [
        ["gpt4", "guanaco-13b", "model_a", "human", "1"],
        ["gpt4", "guanaco-13b", "tie", "human", "1"],
        ["gpt4", "guanaco-13b", "model_b", "human", "2"],
    ]
    assert df["prompt"].iloc[0] == "How can I improve my time management skills?"


@pytest.mark.parametrize(
    ("folder", "name", "expected"),
    [
        ("ratings-vicuna-13b", "answer_gpt4-vs-answer_vicuna-13b-vicuna-13b-reviewer.jsonl", ("gpt4", "vicuna-13b", "vicuna-13b")),
        ("ratings-gpt35", "answer-gpt35-vs-answer-gpt4-gpt35-reviewer-threeclass.jsonl", ("gpt35", "gpt4", "gpt35")),
        ("elsewhere", "answer_claude-vs-answer_vicuna-13b-gpt4-reviewer_threeclass.jsonl", ("claude", "vicuna-13b", "gpt4")),
        ("elsewhere", "answer_bard-vs-answer_claude-vicuna-13b-reviewer.jsonl", ("bard", "claude", "vicuna-13b")),
    ],
)
def test_prd_llm_reviewer_names(tmp_path: Path, folder: str, name: str, expected: tuple[str, str, str]) -> None:
    path = dump(tmp_path / folder / name, PRD_LLM)
    assert detect(path) == "prd"
    df = read(path)
    assert df[["model_a", "model_b", "judge"]].drop_duplicates().values.tolist() == [list(expected)]
    assert df["winner"].tolist() == ["model_b", "tie"]
    assert "prompt" not in df.columns  # LLM files hold the review in 'text', not the question


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "jsonl.xz", "json", "csv", "csv.gz", "tsv", "parquet"])
def test_generic(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"table.{kind}"
    frame = pd.DataFrame(GENERIC)
    if kind.startswith("jsonl"):
        dump(tmp_path / "table.jsonl", GENERIC, compression=kind[5:])
    elif kind == "json":
        dump(path, GENERIC, array=True)
    elif kind == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif kind == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    assert detect(path) == "generic"
    df = read(path)
    assert df[["model_a", "model_b", "winner", "prompt_id", "judge"]].values.tolist() == [
        [r["model_a"], r["model_b"], r["winner"], r["prompt_id"], r["judge"]] for r in GENERIC
    ]
    assert df["weight"].tolist() == [2.0, 1.0, 1.0]
    assert df["len_diff"].tolist() == [0.5, -0.25, 0.0]  # extra numeric columns are kept
    assert df["len_diff"].dtype.kind == "f"


def test_generic_prob_a_only(tmp_path: Path) -> None:
    path = dump(tmp_path / "soft.jsonl", [{"model_a": "a", "model_b": "b", "prob_a": p} for p in (0.9, 0.5, 0.2)])
    df = read(path)
    assert df["winner"].tolist() == ["model_a", "tie", "model_b"]


def test_detection_ignores_misleading_names(tmp_path: Path) -> None:
    gz_named_plain = tmp_path / "battles.jsonl"
    gz_named_plain.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in ARENA_PLAIN).encode()))
    assert detect(gz_named_plain) == "arena"
    assert len(read(gz_named_plain)) == 2
    csv_named_json = dump(tmp_path / "judgments.csv", FASTCHAT)
    assert detect(csv_named_json) == "fastchat_pair"
    plain_named_xz = dump(tmp_path / "annotations.json.xz", ALPACA, array=True)  # not actually xz
    plain_named_xz.write_bytes(json.dumps(ALPACA).encode())
    assert detect(plain_named_xz) == "alpaca_eval"


def test_format_override(tmp_path: Path) -> None:
    # an arena-looking table read as generic keeps 'judge' as the judge
    path = dump(tmp_path / "battles.jsonl", ARENA_PLAIN)
    df = read(path, format="generic")
    assert df["judge"].tolist() == ["arena_user_1", "arena_user_2"]
    assert "question_id" in df.columns
    with pytest.raises(InputError, match="unknown format"):
        read(path, format="nope")


def test_several_files_and_directories(tmp_path: Path) -> None:
    a = dump(tmp_path / "d" / "human.jsonl", MT_BENCH)
    b = dump(tmp_path / "d" / "sub" / "annotations.json", ALPACA, array=True)
    (tmp_path / "d" / "README.md").write_text("not data")
    df = read(tmp_path / "d")
    assert len(df) == 2 + 6
    assert df.attrs["formats"] == {str(a): "mt_bench", str(b): "alpaca_eval"}
    assert df.attrs["dropped"] == {"unparsed_verdict": 1}
    assert df.attrs["mapped"] == {"tie (inconsistent) -> tie": 1}
    both = read([a, str(b)])
    pd.testing.assert_frame_equal(both, df)


# -- writers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz", "out.csv", "out.csv.gz", "out.parquet"])
def test_write_round_trip(tmp_path: Path, name: str) -> None:
    df = read(dump(tmp_path / "in.jsonl", MT_BENCH))
    written = write(df, tmp_path / name)
    back = read(written)
    assert back.attrs["formats"] == {str(written): "generic"}
    assert list(back.columns) == list(df.columns)
    for col in df.columns:
        left, right = df[col].tolist(), back[col].tolist()
        assert [None if isinstance(x, float) and math.isnan(x) else x for x in left] == [
            None if isinstance(x, float) and math.isnan(x) else x for x in right
        ], col


def test_write_arena_round_trip_stays_generic(tmp_path: Path) -> None:
    df = read(dump(tmp_path / "in.jsonl", ARENA))
    back = read(write(df, tmp_path / "out.jsonl"))
    assert back["judge"].tolist() == ["human"] * 3
    assert back["voter"].tolist() == df["voter"].tolist()


def test_write_unknown_extension(tmp_path: Path) -> None:
    df = read(dump(tmp_path / "in.jsonl", ARENA_PLAIN))
    with pytest.raises(InputError, match="extension"):
        write(df, tmp_path / "out.txt")


def test_formats_constant() -> None:
    assert set(FORMATS) == {"arena", "alpaca_eval", "mt_bench", "fastchat_pair", "arena_hard", "prd", "generic",
                            "llmbar", "judgebench", "autoj", "pandalm", "pairs"}


def test_read_takes_glob_patterns(tmp_path):
    """``referee.read`` expands patterns itself (Python callers have no shell): the same files, sorted."""
    for i in range(3):
        (tmp_path / f"part{i}.jsonl").write_text(
            "".join(json.dumps({"model_a": "a", "model_b": "b", "winner": "model_a"}) + "\n" for _ in range(i + 1))
        )
    assert len(read(str(tmp_path / "part*.jsonl"))) == 6
    assert len(read(str(tmp_path / "part[01].jsonl"))) == 3

"""Readers on the real public data in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from referee.io import detect, read
from shared_data import DATA, need

pytestmark = pytest.mark.shared_data

AE = DATA / "alpaca_eval"
MT = DATA / "mt-bench-human-judgments-partial" / "derived"
PRD = DATA / "prd-peer-rank" / "data" / "vicuna80"


def leaderboard_row(csv: Path, model: str) -> pd.Series:
    board = pd.read_csv(need(csv), index_col=0)
    return board.loc[model]


@pytest.mark.parametrize(
    ("model", "annotator", "board", "n_rows", "n_dropped"),
    [
        # AlpacaEval 2.0: logprob-weighted GPT-4-turbo judge against gpt4_1106_preview
        ("claude-2", "weighted_alpaca_eval_gpt4_turbo", "data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo", 805, 0),
        # AlpacaEval 1.0: GPT-4 judge against text_davinci_003, with draws (0) and unparsed (None) verdicts
        ("claude-2", "alpaca_eval_gpt4", "data_AlpacaEval/alpaca_eval_gpt4", 804, 1),
        ("gpt35_turbo_instruct", "alpaca_eval_gpt4", "data_AlpacaEval/alpaca_eval_gpt4", 801, 4),
    ],
)
def test_alpaca_eval_reproduces_leaderboard(model: str, annotator: str, board: str, n_rows: int, n_dropped: int) -> None:
    path = need(AE / "results" / model / annotator / "annotations.json.xz")
    assert detect(path) == "alpaca_eval"
    df = read(path)
    assert len(df) == n_rows
    assert sum(df.attrs["dropped"].values()) == n_dropped
    assert set(df["model_b"]) == {model}
    assert set(df["judge"]) == {annotator}
    row = leaderboard_row(AE / "src" / "alpaca_eval" / "leaderboards" / f"{board}_leaderboard.csv", model)
    # AlpacaEval's win rate = mean(preference - 1), draws worth 1/2 = mean(1 - prob_a)
    assert (1 - df["prob_a"]).mean() == pytest.approx(row["win_rate"] / 100, abs=0.0005)
    counts = df["winner"].value_counts()
    assert counts.get("model_b", 0) == row["n_wins"]
    assert counts.get("model_a", 0) == row["n_wins_base"]
    assert counts.get("tie", 0) == row["n_draws"]
    assert len(df) == row["n_total"]
    assert df["prompt_id"].nunique() == len(df)  # 805 distinct instructions


def test_alpaca_eval_winner_matches_raw_preference() -> None:
    import json
    import lzma

    path = need(AE / "results" / "claude-2" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz")
    with lzma.open(path, "rt") as fh:
        raw = json.load(fh)
    df = read(path)
    prefs = [float(r["preference"]) for r in raw]
    expected = ["model_b" if p > 1.5 else "model_a" if p < 1.5 else "tie" for p in prefs]
    assert df["winner"].tolist() == expected
    assert df["prompt"].tolist() == [r["instruction"] for r in raw]
    assert df["response_b"].tolist() == [r["output_2"] for r in raw]


def test_mt_bench_human() -> None:
    path = need(MT / "human.jsonl.gz")
    assert detect(path) == "mt_bench"
    df = read(path)
    assert len(df) == 1751
    assert df["winner"].value_counts().to_dict() == {"model_b": 1040, "tie": 417, "model_a": 294}
    assert set(df["judge"]) == {"human"}
    assert df["voter"].nunique() == 65
    assert df["voter"].str.match(r"^(expert|author)_\d+$").all()
    assert set(df["turn"]) == {1, 2}
    assert df["prompt_id"].str.match(r"^\d+-t[12]$").all()
    assert df.attrs["mapped"] == {} and df.attrs["dropped"] == {}
    first = df.iloc[0]
    assert first["prompt"].startswith("Compose an engaging travel blog post about a recent trip to Hawaii")
    t2 = df[df["turn"] == 2].iloc[0]
    assert t2["prompt"] != first["prompt"] and t2["response_a"]


def test_mt_bench_gpt4_pair() -> None:
    path = need(MT / "gpt4_pair.jsonl.gz")
    df = read(path)
    assert len(df) == 1240
    assert df.attrs["mapped"] == {"tie (inconsistent) -> tie": 196}
    assert df["winner"].value_counts().to_dict() == {"model_b": 827, "tie": 108 + 196, "model_a": 109}
    assert set(df["judge"]) == {"gpt4_pair"}
    assert "voter" not in df.columns


def test_prd_human_file() -> None:
    path = need(PRD / "ratings-human" / "answer_gpt4-vs-answer_bard-human-reviewer_threeclass.jsonl")
    assert detect(path) == "prd"
    df = read(path)
    assert len(df) == 99
    assert set(df["model_a"]) == {"gpt4"} and set(df["model_b"]) == {"bard"}
    assert set(df["judge"]) == {"human"}
    assert df["prompt"].iloc[0] == "How can I improve my time management skills?"


def test_prd_llm_reviewer_file() -> None:
    path = need(PRD / "ratings-vicuna-13b" / "answer_bard-vs-answer_vicuna-13b-vicuna-13b-reviewer.jsonl.gz")
    df = read(path)
    assert len(df) == 80
    assert df[["model_a", "model_b", "judge"]].drop_duplicates().values.tolist() == [["bard", "vicuna-13b", "vicuna-13b"]]


@pytest.mark.parametrize(
    ("reviewer", "n", "counts"),
    [
        ("human", 7040, {"model_a": 3211, "model_b": 3025, "tie": 804}),
        ("gpt4", 1600, {"model_a": 848, "model_b": 512, "tie": 240}),
        ("gpt35", 1760, {"model_a": 704, "model_b": 722, "tie": 334}),
        ("vicuna-13b", 1600, {"model_a": 631, "model_b": 922, "tie": 47}),
    ],
)
def test_prd_folders(reviewer: str, n: int, counts: dict[str, int]) -> None:
    df = read(need(PRD / f"ratings-{reviewer}"))
    assert len(df) == n
    assert df["winner"].value_counts().to_dict() == counts
    assert set(df["judge"]) == {reviewer}
    models = {"bard", "claude", "gpt35", "gpt4", "vicuna-13b"}
    if reviewer == "human":
        models |= {"guanaco-7b", "guanaco-13b", "guanaco-33b", "guanaco-65b"}
    assert set(df["model_a"]) | set(df["model_b"]) == models


def test_model_outputs_file_is_explained() -> None:
    from referee.errors import InputError

    path = need(AE / "results" / "claude-2" / "model_outputs.json.xz")
    with pytest.raises(InputError, match="AlpacaEval model outputs") as exc:
        read(path)
    assert exc.value.path == str(path)

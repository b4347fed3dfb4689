"""JudgeBench: gold from the dataset files, two games per judge; JudgeBench's accuracy through the audit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.io import detect, read
from referee.io.judgebench import combine_games, scores_table
from shared_data import DATA, need

JB = DATA / "judgebench"

SKYWORK = "Skywork/Skywork-Reward-Gemma-2-27B"
#: SOURCE.md: overall accuracy (JudgeBench rule: the two games' votes summed, 0 = wrong).  Only the
#: Skywork-Gemma row was cross-checked against the paper; the others are SOURCE.md's computed values.
OVERALL = {
    SKYWORK: 64.3,
    "internlm/internlm2-20b-reward": 63.4,
    "Skywork/Skywork-Reward-Llama-3.1-8B": 62.3,
    "Ray2333/GRM-Gemma-2B-rewardmodel-ft": 59.4,
    "internlm/internlm2-7b-reward": 59.4,
    "o1-mini-2024-09-12": 65.7,
    "claude-3-haiku-20240307": 32.2,
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read(need(JB))


@pytest.fixture(scope="module")
def combined(table: pd.DataFrame):
    return referee.audit(combine_games(table), rounds=0)


@pytest.mark.shared_data
def test_folder_read(table: pd.DataFrame) -> None:
    gold = table[table["judge"] == "gold"]
    assert len(gold) == 350 + 270 and gold["pair_id"].is_unique
    assert gold["winner"].value_counts().to_dict() == {"model_a": 193 + 143, "model_b": 157 + 127}
    verdicts = table[table["judge"] != "gold"]
    assert verdicts.groupby("judge").size().to_dict() == {j: 540 if "haiku" in j else 700 for j in OVERALL}
    assert table.attrs["mapped"] == {"unparsed decision -> tie": 13}
    rm = verdicts[verdicts["judge"] == SKYWORK]
    assert rm[["score_a", "score_b", "prob_a"]].notna().all().all()
    assert np.allclose(rm["prob_a"], 1 / (1 + np.exp(-(rm["score_a"] - rm["score_b"]))))


@pytest.mark.shared_data
def test_second_game_is_shown_swapped() -> None:
    path = need(JB / "outputs" / "dataset=judgebench,response_model=gpt-4o-2024-05-13,judge_name=arena_hard,"
                                 "judge_model=o1-mini-2024-09-12.jsonl.gz")
    assert detect(path) == "judgebench"
    df = read(path)
    with gzip.open(path, "rt") as fh:
        rec = json.loads(fh.readline())
    g1, g2 = df.iloc[0], df.iloc[1]
    assert (g1["order"], g1["model_a"], g1["response_a"]) == (1, "response_A", rec["response_A"])
    assert (g2["order"], g2["model_a"], g2["response_a"]) == (2, "response_B", rec["response_B"])
    assert rec["judgments"][1]["decision"] == "B>A" and g2["winner"] == "model_b"  # B = shown second = response_A
    assert g1["pair_id"] == g2["pair_id"] == rec["pair_id"]
    assert set(df["strength"].dropna()) <= {0.0, 1.0, 2.0}


@pytest.mark.shared_data
@pytest.mark.parametrize("judge", sorted(OVERALL))
def test_judgebench_accuracy(combined, judge: str) -> None:
    acc = combined.judges[judge]["accuracy"]
    assert acc["n"] == (270 if "haiku" in judge else 350)
    assert round(100 * acc["value"], 1) == OVERALL[judge]


@pytest.mark.shared_data
def test_reward_models_as_scores(table: pd.DataFrame) -> None:
    """The raw scores audited as a reward model (score tie = wrong) give the same accuracies."""
    scores = scores_table(table)
    assert scores.groupby("scorer").size().to_dict() == {j: 700 for j in OVERALL if "/" in j}
    rep = referee.audit(scores, gold=table[table["judge"] == "gold"], kind="reward-model", rounds=0)
    for judge, d in rep.judges.items():
        assert d["accuracy"]["n"] == 350
        assert round(100 * d["accuracy"]["value"], 1) == OVERALL[judge]
    assert rep.judges[SKYWORK]["details"]["scores"]["score_ties"] == 3


@pytest.mark.shared_data
def test_skywork_gemma_per_source(combined) -> None:
    """SOURCE.md: 64.3 overall / 59.7 MMLU-Pro / 72.7 LiveBench / 50.0 LiveCodeBench."""
    cats = combined.judges[SKYWORK]["details"]["accuracy_by_category"]
    live = sum(cats[c]["value"] * cats[c]["n"] for c in ("reasoning", "math")) / sum(
        cats[c]["n"] for c in ("reasoning", "math"))
    assert [round(100 * x, 1) for x in (cats["knowledge"]["value"], live, cats["coding"]["value"])] == [
        59.7, 72.7, 50.0]


def test_bad_decision(tmp_path: Path) -> None:
    rec = {"pair_id": "p", "question": "q", "response_A": "a", "response_B": "b", "label": "A>B", "source": "x",
           "judgments": [{"judgment": {"judge_model": "j"}, "decision": "A>B"},
                         {"judgment": {"judge_model": "j"}, "decision": "A>>>B"}]}
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(InputError, match="unknown decision") as exc:
        read(path)
    assert (exc.value.line, exc.value.field) == (1, "judgments")
    path.write_text(json.dumps(rec | {"label": "A>C"}) + "\n")
    with pytest.raises(InputError, match="unknown label") as exc:
        read(path)
    assert exc.value.field == "label"

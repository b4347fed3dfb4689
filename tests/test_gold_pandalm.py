"""PandaLM: three annotators per pair as gold votes; GPT-3.5 and PandaLM-7B against their majority."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.io import detect, read
from shared_data import DATA, need

PANDALM = DATA / "pandalm" / "data"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read(need(PANDALM))


@pytest.mark.shared_data
def test_folder_read(table: pd.DataFrame) -> None:
    gold = table[table["judge"] == "gold"]
    assert len(gold) == 3 * 999 and set(gold["voter"]) == {"annotator1", "annotator2", "annotator3"}
    unanimous = gold.groupby("pair_id")["winner"].nunique().eq(1).sum()
    assert unanimous == 879  # SOURCE.md
    assert table[table["judge"] == "gpt-3.5-turbo"].shape[0] == 999 - 25
    assert table[table["judge"] == "pandalm-7b"].shape[0] == 999
    assert table.attrs["dropped"] == {"unparsed_verdict": 25}  # GPT-3.5's "garbage"
    assert set(table["model_a"]) | set(table["model_b"]) == {
        "llama-7b", "bloom-7b", "cerebras-gpt-6.7B", "opt-7b", "pythia-6.9b"}
    assert len(table.attrs["formats"]) == 3  # the inference set (instructions only) is skipped
    first = table[(table["pair_id"] == "pandalm#0") & (table["judge"] == "gold")].iloc[0]
    assert (first["model_a"], first["model_b"]) == ("bloom-7b", "llama-7b")  # cmp_key: response 1 is bloom's
    assert first["response_a"] == "If you have any questions about my rate, please let me know."


@pytest.mark.shared_data
@pytest.mark.parametrize(("judge", "published"), [("gpt-3.5-turbo", 69.8), ("pandalm-7b", 66.8)])
def test_accuracy_against_the_annotator_majority(judge: str, published: float) -> None:
    """SOURCE.md: accuracy vs the 3-annotator majority, GPT-3.5's 25 "garbage" answers counted wrong."""
    rep = referee.audit(need(PANDALM), rounds=0, tie_policy="three-class")
    majority = rep.judges[judge]["details"]["agreement_majority"]
    dropped = rep.meta["dropped"].get("unparsed_verdict", 0) if judge == "gpt-3.5-turbo" else 0
    assert majority["n"] + dropped == 999
    with_garbage = majority["value"] * majority["n"] / (majority["n"] + dropped)
    assert round(100 * with_garbage, 1) == published


@pytest.mark.shared_data
@pytest.mark.parametrize(("judge", "published"), [("gpt-3.5-turbo", 0.527), ("pandalm-7b", 0.574)])
def test_macro_f1_from_the_rows(table: pd.DataFrame, judge: str, published: float) -> None:
    """SOURCE.md's macro-F1 (independent computation from the reader's rows; garbage = a wrong fourth class)."""
    gold = table[table["judge"] == "gold"]
    majority = gold.groupby("pair_id")["winner"].agg(lambda s: s.value_counts().idxmax())
    pred = table[table["judge"] == judge].set_index("pair_id")["winner"].reindex(majority.index).fillna("garbage")
    f1 = []
    for c in ("model_a", "model_b", "tie"):
        tp, fp = ((pred == c) & (majority == c)).sum(), ((pred == c) & (majority != c)).sum()
        fn = ((pred != c) & (majority == c)).sum()
        f1.append(2 * tp / (2 * tp + fp + fn))
    assert round(float(np.mean(f1)), 3) == published


def test_bad_verdict_file(tmp_path: Path) -> None:
    test = tmp_path / "testset-v1.json"
    item = {"idx": 0, "motivation_app": "a", "cmp_key": "m1_m2", "instruction": "i", "input": "", "response1": "x",
            "response2": "y", "annotator1": 1, "annotator2": 1, "annotator3": 0}
    test.write_text(json.dumps([item]))
    verdicts = tmp_path / "judge-testset-v1.json"
    verdicts.write_text(json.dumps([{"idx": 0, "judge_result": "2"}, {"idx": 7, "judge_result": "1"}]))
    assert detect(verdicts) == "pandalm" and detect(test) == "pandalm"
    with pytest.raises(InputError, match="not in the test set") as exc:
        read(verdicts)
    assert (exc.value.line, exc.value.field) == (2, "idx")
    verdicts.write_text(json.dumps([{"idx": 0, "judge_result": "maybe"}]))
    with pytest.raises(InputError, match="unknown label") as exc:
        read(verdicts)
    assert exc.value.field == "judge_result"
    test.write_text(json.dumps([item | {"annotator2": "garbage"}]))
    with pytest.raises(InputError, match="unknown label") as exc:
        read(test)
    assert exc.value.field == "annotator2"

"""Auto-J: the reader plus the audit reproduce the published agreement and consistency exactly."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.io import detect, read
from shared_data import DATA, need

AUTOJ = DATA / "auto-j" / "data"
pytestmark = pytest.mark.shared_data

#: codes/leaderboard/README.md, type "single" (original order only): agreement per scenario group
SINGLE_BY_GROUP = {
    "Summarization": 56.94, "Exam Questions": 41.67, "Code": 54.17, "Rewriting": 57.5, "Creative Writing": 63.43,
    "Functional Writing": 68.33, "General Communication": 57.29, "NLP Tasks": 62.12,
}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read(need(AUTOJ))


def test_folder_read(table: pd.DataFrame) -> None:
    gold = table[table["judge"] == "gold"]
    assert len(gold) == 1392 and gold["category"].nunique() == 8 and gold["scenario"].nunique() == 58
    assert gold["winner"].value_counts().to_dict() == {"model_a": 520, "model_b": 499, "tie": 373}
    verdicts = table[table["judge"] == "auto-j-13b"]
    assert verdicts["order"].value_counts().to_dict() == {1: 1392, 2: 1392}
    assert len(table) == 3 * 1392  # the GPT-4 critique comparisons beside them are skipped
    assert set(table.attrs["formats"].values()) == {"autoj"}


def test_exchanged_verdicts_are_in_the_shown_frame() -> None:
    path = need(AUTOJ / "outputs" / "pairwise_exchange_example_output.jsonl")
    assert detect(path) == "autoj"
    df = read(path)
    raw = [json.loads(line)["output"] for line in path.read_text().splitlines() if line.strip()]
    with gzip.open(need(AUTOJ / "test" / "testdata_pairwise.jsonl.gz"), "rt") as fh:
        first = json.loads(fh.readline())
    row = df.iloc[0]
    assert (row["model_a"], row["response_a"]) == ("response_2", first["response 2"])
    assert row["winner"] == {0: "model_a", 1: "model_b", 2: "tie"}[raw[0]]  # 0 = the response shown first
    assert (df["order"] == 2).all() and (df["judge"] == "auto-j-13b").all()


def test_published_agreement_and_consistency(table: pd.DataFrame) -> None:
    rep = referee.audit(table, rounds=0, tie_policy="three-class")
    j = rep.judges["auto-j-13b"]
    assert round(100 * j["accuracy_order1"]["value"], 2) == 59.99  # "single" agreement
    assert round(100 * j["accuracy_both_orders"]["value"], 2) == 54.96  # "pairwise" agreement
    assert round(100 * j["position_consistency"]["value"], 2) == 83.41
    assert j["accuracy_order1"]["n"] == j["accuracy_both_orders"]["n"] == j["position_consistency"]["n"] == 1392


def test_published_single_agreement_per_group(table: pd.DataFrame) -> None:
    single = table[(table["judge"] == "gold") | (table["order"] == 1)]
    rep = referee.audit(single, rounds=0, tie_policy="three-class")
    by_group = rep.judges["auto-j-13b"]["details"]["accuracy_by_category"]
    assert {g: round(100 * m["value"], 2) for g, m in by_group.items()} == SINGLE_BY_GROUP


def test_outputs_need_the_test_set_and_the_same_length(tmp_path: Path) -> None:
    out = tmp_path / "outputs" / "my_judge.jsonl"
    out.parent.mkdir()
    out.write_text('{"output": 0}\n{"output": 1}\n')
    with pytest.raises(InputError, match="testdata_pairwise") as exc:
        read(out)
    assert exc.value.path == str(out)
    (tmp_path / "test").mkdir()
    shutil.copy(need(AUTOJ / "test" / "testdata_pairwise.jsonl.gz"), tmp_path / "test")
    with pytest.raises(InputError, match="2 verdicts but the test set"):
        read(out)
    out.write_text('{"output": 0}\n' * 1391 + '{"output": 3}\n')
    with pytest.raises(InputError, match="unknown label") as exc:
        read(out)
    assert (exc.value.line, exc.value.field) == (1392, "output")

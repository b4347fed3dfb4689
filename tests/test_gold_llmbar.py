"""LLMBar: the reader plus the audit reproduce every evaluator's published statistics.json exactly."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.io import detect, read
from shared_data import DATA, need

LLMBAR = DATA / "llmbar" / "Dataset"

#: statistics.json key -> audit metric (accuracy in order 1 / order 2, order consistency)
METRICS = {"correct_False": "accuracy_order1", "correct_True": "accuracy_order2", "equal": "position_consistency"}


def fraction(text: str) -> tuple[int, int]:
    """``"94 / 100 = 94.0%"`` -> (94, 100)."""
    m = re.match(r"\s*(\d+)\s*/\s*(\d+)\s*=", text)
    assert m, text
    return int(m[1]), int(m[2])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read(need(LLMBAR))


@pytest.fixture(scope="module")
def reports(table: pd.DataFrame) -> dict[str, referee.auditing.AuditReport]:
    """One audit per subset (its gold rows and every evaluator), point estimates only."""
    return {cat: referee.audit(part, rounds=0) for cat, part in table.groupby("category", sort=True)}


@pytest.mark.shared_data
def test_folder_read_gives_gold_and_every_evaluator(table: pd.DataFrame) -> None:
    gold = table[table["judge"] == "gold"]
    assert len(gold) == 1200  # 100 + 319 Adversarial + 315 CaseStudy + 466 Processed (SOURCE.md)
    assert gold.groupby("category").size()["LLMBar/Natural"] == 100
    assert gold.groupby("category")["winner"].value_counts()["LLMBar/Natural"].to_dict() == {
        "model_b": 58, "model_a": 42}
    verdicts = table[table["judge"] != "gold"]
    assert verdicts.groupby(["category", "judge"]).ngroups == 499
    assert (verdicts["order"].value_counts() == 40413).all()  # every instance in both orders
    assert table.attrs["mapped"] == {"unparsed verdict -> tie": 348}
    assert set(table.attrs["formats"].values()) == {"llmbar"}
    assert not any(name.endswith("statistics.json") for name in table.attrs["formats"])


@pytest.mark.shared_data
def test_swapped_order_is_shown_swapped() -> None:
    path = need(LLMBAR / "LLMBar" / "Natural" / "evaluators" / "GPT-4" / "Swap" / "result.json.gz")
    assert detect(path) == "llmbar"
    df = read(path)
    with gzip.open(path, "rt") as fh:
        raw = json.load(fh)
    first = raw[0]
    o1, o2 = df[df["order"] == 1].iloc[0], df[df["order"] == 2].iloc[0]
    assert (o1["model_a"], o1["response_a"]) == ("output_1", first["output_1"])
    assert (o2["model_a"], o2["response_a"]) == ("output_2", first["output_2"])
    assert o1["pair_id"] == o2["pair_id"] and o1["judge"] == "GPT-4/Swap"
    # the stored winner "1" (output_1, original frame) is the second shown response in order 2
    assert first["results"][-1]["swap = True"]["winner"] == "1" and o2["winner"] == "model_b"


@pytest.mark.shared_data
def test_every_statistics_json_is_reproduced_by_the_audit(reports) -> None:
    stats = sorted(need(LLMBAR).rglob("statistics.json"))
    assert len(stats) == 499
    checked = 0
    for path in stats:
        rel = path.relative_to(LLMBAR).parts
        e = rel.index("evaluators")
        subset, judge = "/".join(rel[:e]), "/".join(rel[e + 1 : e + 3])
        published = json.loads(path.read_text())
        got = reports[subset].judges[judge]
        for key, metric in METRICS.items():
            k, n = fraction(published[key])
            assert got[metric]["n"] == n, (judge, metric)
            assert got[metric]["value"] == k / n, (judge, metric, got[metric]["value"], published[key])
        checked += 1
    assert checked == 499


@pytest.mark.parametrize(
    ("change", "field", "match"),
    [
        ({"label": 3}, "label", "unknown label"),
        ({"results": [{"swap = False": {"winner": "3"}}]}, "results", "unknown winner"),
        ({"results": []}, "results", "non-empty list"),
        ({"output_2": None}, "output_2", "required field is null"),
    ],
)
def test_bad_result_records_are_located(tmp_path: Path, change: dict, field: str, match: str) -> None:
    folder = tmp_path / "Dataset" / "Mine" / "evaluators" / "Judge" / "Vanilla"
    folder.mkdir(parents=True)
    good = {"input": "i", "output_1": "a", "output_2": "b", "label": 1,
            "results": [{"swap = False": {"winner": "1"}, "swap = True": {"winner": None}}]}
    path = folder / "result.json"
    path.write_text(json.dumps([good, good | change]))
    with pytest.raises(InputError, match=match) as exc:
        read(path)
    assert (exc.value.line, exc.value.field) == (2, field)
    path.write_text(json.dumps([good]))
    df = read(path)
    assert df[["judge", "category", "order", "winner"]].values.tolist() == [
        ["Judge/Vanilla", "Mine", 1, "model_a"], ["Judge/Vanilla", "Mine", 2, "tie"]]
    assert df.attrs["mapped"] == {"unparsed verdict -> tie": 1}

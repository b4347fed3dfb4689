"""RewardBench leaderboard formulas against the published v1 and v2 scores (reward-bench-leaderboard-eee)."""

from __future__ import annotations

import json
import math

import pytest

from referee.auditing import rewardbench as rb
from shared_data import DATA, need

EEE = DATA / "reward-bench-leaderboard-eee" / "data" / "reward-bench"
GPM = DATA / "reward-bench" / "scripts" / "results" / "eval-set" / "general-preference"
#: sections and scores are published rounded to 4 decimals, so the formula on them lands within 1e-4
TOL = 1e-4


def leaderboard() -> list[tuple[str, str, dict[str, float]]]:
    """(benchmark, model, {section or "Score": value}) for every EvalEval file."""
    rows = []
    for path in sorted(p for p in need(EEE).rglob("*.json") if p.is_file()):
        d = json.loads(path.read_text())
        values = {r["evaluation_name"]: r["score_details"]["score"] for r in d["evaluation_results"]}
        rows.append((d["source_metadata"]["source_name"], d["model_info"]["name"], values))
    return rows


@pytest.mark.shared_data
def test_v1_overall_reproduces_every_complete_row() -> None:
    rows = [(m, v) for b, m, v in leaderboard() if b == "RewardBench"]
    complete = [(m, v) for m, v in rows if all(s in v for s in rb.V1_SECTIONS)]
    assert (len(rows), len(complete)) == (187, 172)
    with_prior = 0
    for model, v in complete:
        sections = {s: v[s] for s in rb.V1_SECTIONS}
        prior = v.get("Prior Sets (0.5 weight)")
        # The conversion writes 0.0 where the leaderboard's Prior Sets cell is blank (7 RB2-era RMs);
        # their published Score is the four-section mean.
        if prior:
            sections[rb.PRIOR] = prior
            with_prior += 1
        assert math.isclose(rb.v1_overall(sections), v["Score"], abs_tol=TOL), (model, v)
    assert with_prior == 98


@pytest.mark.shared_data
def test_v2_overall_reproduces_every_row() -> None:
    rows = [(m, v) for b, m, v in leaderboard() if b == "RewardBench 2"]
    assert len(rows) == 197
    for model, v in rows:
        assert math.isclose(rb.v2_overall(v), v["Score"], abs_tol=TOL), (model, v)


@pytest.mark.shared_data
def test_sections_from_subset_accuracies() -> None:
    """GPM-Llama-3.1-8B's per-subset results give the leaderboard's Chat score (0.933); its other
    sections on the leaderboard come from a later run than this results file."""
    subsets = json.loads(need(GPM / "GPM-Llama-3.1-8B-Instruct.json").read_text())
    sections = rb.v1_sections(subsets)
    assert set(sections) == set(rb.V1_SECTIONS)  # no prior-set results in the file
    assert round(sections["Chat"], 4) == 0.9330
    assert rb.v1_from_subsets(subsets) == pytest.approx(sum(sections.values()) / 4)


def test_subset_weights() -> None:
    perfect = {s: 1.0 for s in rb.EXAMPLE_COUNTS}
    assert rb.v1_sections(perfect) == {s: 1.0 for s in rb.V1_SECTIONS}
    # math-prm is weighted like the six code subsets together
    assert rb.v1_sections(perfect | {"math-prm": 0.0})["Reasoning"] == pytest.approx(0.5)
    # a section is averaged over the subsets present only
    assert rb.v1_sections({"mt-bench-hard": 0.5, "llmbar-natural": 1.0})["Chat Hard"] == pytest.approx(
        (37 * 0.5 + 100) / 137)
    prior = {"anthropic_helpful": 0.6, "anthropic_hhh": 0.8, "shp": 0.5, "summarize": 0.7, "mtbench_gpt4": 0.0}
    assert rb.v1_sections(prior) == {rb.PRIOR: pytest.approx(0.65)}
    full = perfect | prior
    assert rb.v1_from_subsets(full) == pytest.approx((4 + 0.5 * 0.65) / 4.5)


def test_incomplete_sections_are_refused() -> None:
    with pytest.raises(ValueError, match="Reasoning"):
        rb.v1_overall({"Chat": 1, "Chat Hard": 1, "Safety": 1})
    with pytest.raises(ValueError, match="Ties"):
        rb.v2_overall({s: 1 for s in rb.V2_SECTIONS if s != "Ties"})
    assert rb.v1_overall({s: 0.8 for s in rb.V1_SECTIONS} | {rb.PRIOR: float("nan")}) == pytest.approx(0.8)

"""ECE and Brier only against gold labels; without gold, the order consistency of ``prob_a`` under its own name."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import referee
from referee.io import read
from shared_data import DATA, need

JB = DATA / "judgebench"
RM_FILE = "dataset=judgebench,response_model=gpt-4o-2024-05-13,judge_name=reward_model,judge_model=internlm_internlm2-7b-reward.jsonl.gz"
GOLD_FILE = "dataset=judgebench,response_model=gpt-4o-2024-05-13.jsonl.gz"
CALIBRATION_VS_TRUTH = ("ece", "brier")


def both_orders(p_first: list[float], p_second: list[float]) -> pd.DataFrame:
    """One pair per prompt, judged in both orders; ``p_second`` = P(B wins) with B shown first."""
    rows = []
    for i, (p1, p2) in enumerate(zip(p_first, p_second, strict=True)):
        rows.append({"prompt_id": f"p{i}", "pair_id": f"q{i}", "order": 1, "model_a": "x", "model_b": "y",
                     "prob_a": p1, "judge": "j"})
        rows.append({"prompt_id": f"p{i}", "pair_id": f"q{i}", "order": 2, "model_a": "y", "model_b": "x",
                     "prob_a": p2, "judge": "j"})
    return pd.DataFrame(rows)


def metric_names(report) -> set[str]:
    """Every name with a value in the JSON report (contract keys and details; ``null`` ones left out), lower-cased."""
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if v is not None:
                    names.add(str(k).lower())
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(report.to_json())["judges"])
    return names


def test_without_gold_no_calibration_metric_is_reported() -> None:
    """An RM-like judge near ½ and order-consistent: the old self-referenced "ECE" called it the worst; now 0."""
    rng = np.random.default_rng(0)
    p = 0.5 + rng.uniform(-0.03, 0.03, 60)
    rep = referee.audit(both_orders(list(p), list(1 - p)), rounds=200, seed=0)
    j = rep.judges["j"]
    for name in CALIBRATION_VS_TRUTH:
        assert j[name] is None
    assert not {"ece", "brier", "reliability_diagram", "reliability"} & metric_names(rep)
    assert j["prob_order_inconsistency"]["value"] == pytest.approx(0.0, abs=1e-12)
    assert any("calibration (ECE, Brier) needs a reference" in n for n in rep.meta["notes"])
    md, html = rep.to_markdown(), rep.to_html()
    assert "ECE (gold)" in md and "P order-incons." in md
    assert "Order-inconsistency of prob_a" in html and "Expected calibration error" not in html


def test_position_biased_probabilities_are_order_inconsistent() -> None:
    """A judge that says "first shown wins with probability 0.8" whatever the order: |0.8 + 0.8 − 1| = 0.6."""
    rep = referee.audit(both_orders([0.8] * 40, [0.8] * 40), rounds=200, seed=0)
    m = rep.judges["j"]["prob_order_inconsistency"]
    assert m["value"] == pytest.approx(0.6) and m["n"] == 40
    assert rep.judges["j"]["ece"] is None


@pytest.mark.shared_data
def test_judgebench_reward_model_ece_needs_gold() -> None:
    """internlm2-7b-reward on JudgeBench: ECE and Brier against the gold labels; without them only consistency."""
    rm = need(JB / "outputs" / RM_FILE)
    with_gold = referee.audit(read([need(JB / "data" / GOLD_FILE), rm]), rounds=200, seed=0)
    j = with_gold.judges["internlm/internlm2-7b-reward"]
    assert j["details"]["calibration"]["basis"] == "gold labels"
    assert 0 < j["ece"]["value"] < 1 and j["ece"]["ci_low"] <= j["ece"]["value"] <= j["ece"]["ci_high"]
    assert 0 < j["brier"]["value"] < 1
    assert j["details"]["calibration"]["reliability_diagram"]
    # a reward model scores each response on its own: P(A first) = 1 − P(B first) up to rounding
    assert j["prob_order_inconsistency"]["value"] < 1e-12

    alone = referee.audit(read(rm), rounds=200, seed=0)
    k = alone.judges["internlm/internlm2-7b-reward"]
    assert k["ece"] is None and k["brier"] is None
    assert not {"ece", "brier", "reliability_diagram"} & metric_names(alone)
    assert k["prob_order_inconsistency"]["value"] < 1e-12

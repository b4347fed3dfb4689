"""Synthetic judges with planted biases are flagged; unbiased ones are not; CIs cover the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import referee
from referee.auditing.sim import JudgeSpec, simulate_judges

BIAS_METRICS = ("first_position_rate", "prefer_longer_excess", "self_preference", "position_consistency", "ece")
FAMILY = {"fair": "claude", "position": "mistral", "length": "llama", "gpt-judge": "gpt"}


@pytest.fixture(scope="module")
def planted():
    verdicts, gold = simulate_judges(
        {
            "fair": JudgeSpec(),
            "position": JudgeSpec(position=1.5),
            "length": JudgeSpec(length=8.0),
            "gpt-judge": JudgeSpec(self_family="gpt", self_bonus=2.5),
        },
        n_prompts=150,
        seed=11,
    )
    return referee.audit(verdicts, gold, rounds=500, seed=0, family=FAMILY)


def flagged(rep, judge: str) -> set[str]:
    return {f["metric"] for f in rep.judges[judge]["flags"]}


def test_planted_position_bias_is_flagged(planted):
    assert "first_position_rate" in flagged(planted, "position")
    flag = next(f for f in planted.judges["position"]["flags"] if f["metric"] == "first_position_rate")
    assert flag["direction"] == "above" and flag["ci_low"] > 0.55 and flag["band"] == [0.45, 0.55]
    assert "0.45–0.55" in flag["message"] and f"{flag['value']:.3f}" in flag["message"]
    assert not flagged(planted, "position") & {"prefer_longer_excess", "self_preference"}


def test_planted_length_bias_is_flagged(planted):
    assert "prefer_longer_excess" in flagged(planted, "length")
    assert planted.judges["length"]["length_slope"]["ci_low"] > 0
    assert not flagged(planted, "length") & {"first_position_rate", "self_preference"}


def test_planted_self_preference_is_flagged(planted):
    assert "self_preference" in flagged(planted, "gpt-judge")
    det = planted.judges["gpt-judge"]["details"]["self_preference"]
    assert det["family"] == "gpt" and det["reference"].startswith("other judges")
    assert not flagged(planted, "gpt-judge") & {"first_position_rate", "prefer_longer_excess"}


def test_unbiased_judge_is_not_flagged(planted):
    assert not flagged(planted, "fair") & set(BIAS_METRICS)
    for name, ideal in (("first_position_rate", 0.5), ("prefer_longer_excess", 0.0)):
        m = planted.judges["fair"][name]
        assert m["ci_low"] < ideal < m["ci_high"]


@pytest.mark.parametrize("seed", range(6))
def test_noise_is_never_called_bias(seed):
    verdicts, gold = simulate_judges({"fair": JudgeSpec(), "other": JudgeSpec()}, n_prompts=60, seed=100 + seed)
    rep = referee.audit(verdicts, gold, rounds=300, seed=seed, family={"fair": "gpt", "other": "claude"})
    for judge in ("fair", "other"):
        assert not flagged(rep, judge) & set(BIAS_METRICS), rep.judges[judge]["flags"]


def test_small_sample_with_an_extreme_point_estimate_is_not_flagged():
    rows = []
    for i, (w1, w2) in enumerate([("model_a", "model_a"), ("model_a", "model_a"), ("model_a", "model_b")]):
        rows.append({"prompt_id": f"p{i}", "model_a": "m1", "model_b": "m2", "winner": w1, "judge": "j"})
        rows.append({"prompt_id": f"p{i}", "model_a": "m2", "model_b": "m1", "winner": w2, "judge": "j"})
    rep = referee.audit(pd.DataFrame(rows), rounds=500)
    m = rep.judges["j"]["first_position_rate"]
    assert m["value"] == pytest.approx(5 / 6)
    assert m["ci_low"] is None  # three prompts cannot bound it
    assert rep.judges["j"]["flags"] == []
    # thirty prompts with the same pattern: now the interval exists
    rows = [dict(r, prompt_id=f"{r['prompt_id']}-{k}") for k in range(10) for r in rows]
    m = referee.audit(pd.DataFrame(rows), rounds=500).judges["j"]["first_position_rate"]
    assert m["value"] == pytest.approx(5 / 6) and m["ci_low"] is not None


def _known_accuracy(seed: int, n_prompts: int = 80, per: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A judge whose per-prompt accuracy varies (Beta(7, 3), mean 0.7) around a known 0.7."""
    rng = np.random.default_rng(seed)
    p = rng.beta(7, 3, n_prompts)
    pid = np.repeat(np.arange(n_prompts), per)
    gold = np.where(rng.random(pid.size) < 0.5, "model_a", "model_b")
    right = rng.random(pid.size) < p[pid]
    judge = np.where(right, gold, np.where(gold == "model_a", "model_b", "model_a"))
    base = pd.DataFrame({"prompt_id": [f"p{i}" for i in pid], "model_a": "x",
                         "model_b": [f"m{i}" for i in range(pid.size)]})
    return base.assign(winner=judge, judge="j"), base.assign(winner=gold, judge="gold")


@pytest.mark.slow
def test_bootstrap_ci_coverage_on_a_judge_with_known_accuracy():
    reps, hits, widths = 120, 0, []
    for s in range(reps):
        v, g = _known_accuracy(s)
        acc = referee.audit(v, g, rounds=300, seed=s).judges["j"]["accuracy"]
        hits += acc["ci_low"] <= 0.7 <= acc["ci_high"]
        widths.append(acc["ci_high"] - acc["ci_low"])
    coverage = hits / reps
    assert 0.88 <= coverage <= 0.995, coverage
    # the clustered interval is wider than a naive binomial one would be (prompt-level variation)
    naive = 2 * 1.96 * np.sqrt(0.7 * 0.3 / 320)
    assert np.mean(widths) > naive

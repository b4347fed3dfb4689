"""The audit's intervals must cover the truth: length excess, graded metrics, accuracy.

Everything goes through the public entry point, ``referee.audit(verdicts_or_scores, gold)``, with
the library's default 1,000 bootstrap rounds (prompt-clustered percentile bootstrap,
:mod:`referee.auditing.bootstrap`) and ``workers=1`` (one core), on data simulated with a known
truth; ``DATASETS`` (500, ``REFEREE_AUDIT_COVERAGE_DATASETS``) seeded datasets per case — twice
that for the graded metrics, whose audits are cheaper — so a result is reproducible.  A 95%
interval must cover the truth 92–98% of the time (binomial SE at 500 datasets: 1.0 point; at
300, cells whose true coverage is 93–94% fell below 92% by chance).  ``bench/coverage_audit.py`` prints the same tables with more datasets.

* **Length excess** (:mod:`referee.auditing.length`, ``prefer_longer_excess``): ``n`` pairs, one
  per prompt, the responses ≥ 100 characters apart, one gold vote per pair preferring the longer
  response with probability 0.7 (:func:`referee.auditing.validate.simulate`).  The judge prefers
  the longer one with probability q, in both orders with one decision (``same``: the two order
  games agree, correlation 1) or two independent ones (``indep``); ``copy`` judges copy the gold
  vote on half the pairs (a judge correlated with the reference) and decide with q = 0.9 on the
  rest.  Truth: q − 0.7 (``copy``: 0.5·0.7 + 0.5·0.9 − 0.7 = 0.1).
* **Graded metrics** (:mod:`referee.auditing.graded`): 4 models per prompt, a per-prompt effect
  (sd 1) shared by the reference and the judge (so rows of one prompt are correlated), reference
  y = round(5.5 + u_prompt + N(0, 1.7²)) on 1-10, response lengths 100-3000 characters, judge
  x = round(5.5 + 0.9·(y − 5.5) + 0.3·z(length) + 0.5·[own family] + N(0, 1)), both clipped to
  1-10.  The population value of every metric is computed once from 2·10⁶ draws of the same law
  with the metric's own formula (Spearman: of the mid-ranks).
* **Accuracy** (the CI the jury's ``weighted`` log-odds weights are a monotone transform of,
  :mod:`referee.judging.jury`): per-prompt accuracy ~ Beta(7, 3) (mean 0.7), 4 verdicts per prompt.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

import referee
from referee.auditing.validate import REF_LONGER, simulate

DATASETS = int(os.environ.get("REFEREE_AUDIT_COVERAGE_DATASETS", "500"))
BAND = (0.92, 0.98)
SCALE = (1, 10)
SWAP = {"model_a": "model_b", "model_b": "model_a"}


def covered(m: dict[str, Any] | None, truth: float) -> bool:
    return m is not None and m["ci_low"] is not None and m["ci_low"] <= truth <= m["ci_high"]


# --- length excess ---------------------------------------------------------------------------------------

#: case → (pairs, q = P(judge picks the longer), independent orders?, share of pairs copying the gold vote)
LENGTH_CASES = {
    "n30-fair-same": (30, 0.7, False, 0.0),
    "n30-long-indep": (30, 0.9, True, 0.0),
    "n200-fair-same": (200, 0.7, False, 0.0),
    "n200-fair-indep": (200, 0.7, True, 0.0),
    "n200-long-same": (200, 0.9, False, 0.0),
    "n200-copy-same": (200, 0.9, False, 0.5),
}


def length_data(seed: int, n: int, q: float, indep: bool, copy: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng([seed, 21])
    verdicts, gold = simulate(n, {"j": {"longer": q, "independent": 1.0 if indep else 0.0}}, rng)
    if copy:
        copied = set(gold["prompt_id"][rng.random(n) < copy])
        gw = gold.set_index("prompt_id")["winner"]
        rows = verdicts["prompt_id"].isin(copied).to_numpy()
        w = gw[verdicts["prompt_id"][rows]].to_numpy()
        second = verdicts["order"][rows].to_numpy() == 2
        verdicts.loc[rows, "winner"] = np.where(second, pd.Series(w).map(SWAP).to_numpy(), w)
    return verdicts, gold


def length_truth(q: float, copy: float) -> float:
    return copy * REF_LONGER + (1 - copy) * q - REF_LONGER


@cache
def length_coverage(case: str, datasets: int = DATASETS) -> float:
    n, q, indep, copy = LENGTH_CASES[case]
    truth, hits = length_truth(q, copy), 0
    for s in range(datasets):
        v, g = length_data(s, n, q, indep, copy)
        hits += covered(referee.audit(v, g, seed=s, workers=1).judges["j"]["prefer_longer_excess"], truth)
    return hits / datasets


@pytest.mark.parametrize("case", LENGTH_CASES)
def test_length_excess_interval_covers_the_true_excess(case: str) -> None:
    cov = length_coverage(case)
    print(f"prefer_longer_excess {case}: {cov:.3f}")
    assert BAND[0] <= cov <= BAND[1], f"{case}: coverage {cov:.3f}"


def test_the_copying_judge_simulation_hits_its_target() -> None:
    v, g = length_data(0, 4000, 0.9, False, 0.5)
    ex = referee.audit(v, g, rounds=0).judges["j"]["prefer_longer_excess"]["value"]
    assert ex == pytest.approx(length_truth(0.9, 0.5), abs=0.02)


# --- graded metrics --------------------------------------------------------------------------------------

GRADED = ("weighted_kappa", "spearman", "exact_agreement", "within_one", "mean_difference", "score_spread_ratio",
          "middle_rate", "score_middle_excess", "score_verbosity", "score_self_preference")
GRADED_PROMPTS = (30, 150)
MODELS = 4


def graded_draw(rng: np.random.Generator, prompts: int) -> dict[str, np.ndarray]:
    """One dataset of the graded law (see the module docstring), as arrays."""
    n = prompts * MODELS
    u = np.repeat(rng.normal(0, 1.0, prompts), MODELS)
    length = rng.integers(100, 3001, n).astype(float)
    y = np.clip(np.round(5.5 + u + rng.normal(0, 1.7, n)), *SCALE)
    own = np.tile(np.arange(MODELS) == 0, prompts)
    zl = (length - 1550) / np.sqrt((2901**2 - 1) / 12)  # standardised by the law's own mean and sd
    x = np.clip(np.round(5.5 + 0.9 * (y - 5.5) + 0.3 * zl + 0.5 * own + rng.normal(0, 1.0, n)), *SCALE)
    return {"x": x, "y": y, "length": length, "own": own}


def graded_values(d: dict[str, np.ndarray]) -> dict[str, float]:
    """Every graded metric of one (large) sample, with the formulas of :mod:`referee.auditing.graded`."""
    x, y, L, own = d["x"], d["y"], d["length"], d["own"]
    diff = x - y
    kappa = 1 - np.mean(diff**2) / (np.mean(x**2) + np.mean(y**2) - 2 * x.mean() * y.mean())
    r = np.corrcoef(np.c_[x, y, L].T)
    rxy, rxl, ryl = r[0, 1], r[0, 2], r[1, 2]
    mid, half = 5.5, 1.5
    mx, my = np.abs(x - mid) <= half, np.abs(y - mid) <= half
    return {
        "weighted_kappa": float(kappa),
        "spearman": float(np.corrcoef(rankdata(x), rankdata(y))[0, 1]),
        "exact_agreement": float(np.mean(x == y)),
        "within_one": float(np.mean(np.abs(diff) <= 1)),
        "mean_difference": float(diff.mean()),
        "score_spread_ratio": float(x.std() / y.std()),
        "middle_rate": float(mx.mean()),
        "score_middle_excess": float(mx.mean() - my.mean()),
        "score_verbosity": float((rxl - rxy * ryl) / np.sqrt((1 - rxy**2) * (1 - ryl**2))),
        "score_self_preference": float((diff[own].mean() - diff[~own].mean()) / (SCALE[1] - SCALE[0])),
    }


@cache
def graded_truth() -> dict[str, float]:
    """The population values: the metrics of 2·10⁶ draws (500,000 prompts) of the law."""
    return graded_values(graded_draw(np.random.default_rng(2024), 500_000))


def graded_tables(d: dict[str, np.ndarray], prompts: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    models = np.tile([f"m{i}" for i in range(MODELS)], prompts)
    response = [m + "w" * (int(k) - len(m)) for m, k in zip(models, d["length"], strict=True)]
    base = pd.DataFrame({"prompt_id": np.repeat([f"p{i}" for i in range(prompts)], MODELS), "model": models,
                         "response": response})
    return base.assign(scorer="m0", score=d["x"]), base.assign(scorer="human", score=d["y"])


@cache
def graded_coverage(prompts: int, datasets: int = 2 * DATASETS) -> dict[str, float]:
    truth, hits = graded_truth(), dict.fromkeys(GRADED, 0)
    for s in range(datasets):
        judge, gold = graded_tables(graded_draw(np.random.default_rng([s, prompts, 22]), prompts), prompts)
        rep = referee.audit(judge, gold, scale=SCALE, family="m0=m0", seed=s, workers=1)
        for k in GRADED:
            hits[k] += covered(rep.metric("m0", f"details.graded.{k}"), truth[k])
    return {k: h / datasets for k, h in hits.items()}


def test_graded_population_values_are_what_the_audit_estimates() -> None:
    truth = graded_truth()
    # the judge is reference + noise + small length / own-family terms: good but not perfect agreement
    assert 0.6 < truth["weighted_kappa"] < 0.95 and 0.6 < truth["spearman"] < 0.95
    assert 0.05 < truth["score_verbosity"] < 0.3 and 0.02 < truth["score_self_preference"] < 0.08
    # a large dataset through the public path lands on them
    judge, gold = graded_tables(graded_draw(np.random.default_rng(7), 20_000), 20_000)
    rep = referee.audit(judge, gold, scale=SCALE, family="m0=m0", rounds=0)
    for k in GRADED:
        m = rep.metric("m0", f"details.graded.{k}")
        assert m is not None and m["value"] == pytest.approx(truth[k], abs=0.01), k


@pytest.mark.parametrize("prompts", GRADED_PROMPTS)
@pytest.mark.parametrize("metric", GRADED)
def test_graded_interval_covers_the_population_value(metric: str, prompts: int) -> None:
    cov = graded_coverage(prompts)[metric]
    print(f"{metric} prompts={prompts}: {cov:.3f}")
    assert BAND[0] <= cov <= BAND[1], f"{metric} at {prompts} prompts: coverage {cov:.3f}"


# --- accuracy (and so the jury's log-odds weights) -------------------------------------------------------

def accuracy_data(seed: int, prompts: int, per: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A judge whose per-prompt accuracy varies (Beta(7, 3)) around a known 0.7."""
    rng = np.random.default_rng([seed, 23])
    p = rng.beta(7, 3, prompts)
    pid = np.repeat(np.arange(prompts), per)
    gold = np.where(rng.random(pid.size) < 0.5, "model_a", "model_b")
    right = rng.random(pid.size) < p[pid]
    judge = np.where(right, gold, np.where(gold == "model_a", "model_b", "model_a"))
    base = pd.DataFrame({"prompt_id": [f"p{i}" for i in pid], "model_a": "x",
                         "model_b": [f"m{i}" for i in range(pid.size)]})
    return base.assign(winner=judge, judge="j"), base.assign(winner=gold, judge="gold")


def accuracy_coverage(prompts: int, datasets: int = DATASETS) -> float:
    hits = sum(covered(referee.audit(*accuracy_data(s, prompts), seed=s, workers=1).judges["j"]["accuracy"], 0.7)
               for s in range(datasets))
    return hits / datasets


@pytest.mark.parametrize("prompts", [30, 150])
def test_accuracy_interval_covers_the_true_accuracy(prompts: int) -> None:
    cov = accuracy_coverage(prompts)
    print(f"accuracy prompts={prompts}: {cov:.3f}")
    assert BAND[0] <= cov <= BAND[1], f"accuracy at {prompts} prompts: coverage {cov:.3f}"

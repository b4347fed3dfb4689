"""The probes' intervals must cover the truth: flip rates, shares and mean score changes.

Simulated at the level of :mod:`referee.probing.stats` (no HTTP; ``referee probe`` feeds these
functions the per-pair 0/1 outcomes it parsed):

* **flip rates** (:func:`clustered_rate`): ``n`` pairs, each judged in two orders; each order-game
  flips with probability p, and the second game copies the first with probability ρ (else it is
  drawn afresh), so the two games of a pair are correlated ρ with the same marginal rate p.
  p ∈ {0.05, 0.35} × n ∈ {8, 30, 200} × ρ ∈ {0, 0.5, 1}, plus the awkward p ∈ {0, 0.01};
* **shares** (:func:`share`, independent units) on the same p and n;
* **mean score changes** (:func:`mean_ci`, t interval) of after − before scores on a 1-10 scale:
  symmetric, skewed and sparse (80% zeros) distributions of the change (5× the datasets: the t
  interval sits at 93% on sparse changes of 30 pairs, so it needs the finer estimate).

2,000 datasets per cell (``REFEREE_PROBE_COVERAGE_DATASETS``), seeded, so a result is
reproducible.  With 2,000 datasets the binomial SE at 95% is 0.5 points (Wilson itself
covers 93.9% at n = 30 effective units, p = 0.05: its known oscillation, Brown et al. 2001).  A 95% interval
meant to be honest must cover 92–98% where the data can inform it (≥ 30 pairs, p ≥ 0.05).  With
8 pairs or p ≤ 0.01 the outcome is too discrete for nominal coverage at a fixed p: there the
interval must not undercover (≥ 92%) and may be conservative.  ``bench/coverage_audit.py``
prints the same table with more datasets.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from referee.probing.stats import clustered_rate, design_effect, mean_ci, share, wilson

DATASETS = int(os.environ.get("REFEREE_PROBE_COVERAGE_DATASETS", "2000"))
BAND = (0.92, 0.98)
RATES = (0.0, 0.01, 0.05, 0.35)
PAIRS = (8, 30, 200)
RHOS = (0.0, 0.5, 1.0)
CHANGES = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
#: distributions of a pointwise probe's score change (after − before) over CHANGES
CHANGE_LAWS = {"symmetric": (0.1, 0.2, 0.4, 0.2, 0.1), "skewed": (0.0, 0.0, 0.6, 0.3, 0.1),
               "sparse": (0.0, 0.05, 0.8, 0.1, 0.05)}


def order_pairs(rng: np.random.Generator, n: int, p: float, rho: float) -> list[list[int]]:
    """``n`` pairs of two 0/1 order-games, each 1 with probability p, correlated ρ within a pair."""
    first = rng.random(n) < p
    second = np.where(rng.random(n) < rho, first, rng.random(n) < p)
    return [[int(a), int(b)] for a, b in zip(first, second, strict=True)]


def rate_coverage(p: float, n: int, rho: float, datasets: int = DATASETS) -> float:
    rng = np.random.default_rng([n, round(p * 1000), round(rho * 10), 1])
    hits = 0
    for _ in range(datasets):
        r = clustered_rate(order_pairs(rng, n, p, rho))
        hits += r["ci_low"] <= p <= r["ci_high"]
    return hits / datasets


def share_coverage(p: float, n: int, datasets: int = DATASETS) -> float:
    rng = np.random.default_rng([n, round(p * 1000), 2])
    hits = 0
    for _ in range(datasets):
        r = share(list(rng.random(n) < p))
        hits += r["ci_low"] <= p <= r["ci_high"]
    return hits / datasets


def change_coverage(law: str, n: int, datasets: int = 5 * DATASETS) -> tuple[float, float]:
    """(coverage among the intervals given, share of datasets with no interval — all changes equal)."""
    probs = np.array(CHANGE_LAWS[law])
    truth = float(CHANGES @ probs)
    rng = np.random.default_rng([n, len(law), 3])
    hits = given = 0
    for _ in range(datasets):
        r = mean_ci(list(rng.choice(CHANGES, n, p=probs)))
        if r["ci_low"] is None:
            continue
        given += 1
        hits += r["ci_low"] <= truth <= r["ci_high"]
    return hits / given, 1 - given / datasets


def honest(p: float, n: int) -> bool:
    """Cells where nominal coverage is expected (not too few pairs, rate away from 0)."""
    return n >= 30 and p >= 0.05


@pytest.fixture(scope="module")
def rate_table() -> dict[tuple[float, int, float], float]:
    table = {(p, n, rho): rate_coverage(p, n, rho) for p in RATES for n in PAIRS for rho in RHOS}
    print(f"\nflip-rate coverage of the 95% clustered Wilson interval, {DATASETS} datasets per cell")
    print("   p      n  " + "  ".join(f"rho={r:<4g}" for r in RHOS))
    for p in RATES:
        for n in PAIRS:
            print(f"{p:5.2f} {n:6d}  " + "  ".join(f"{table[(p, n, r)]:8.3f}" for r in RHOS))
    return table


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("n", PAIRS)
@pytest.mark.parametrize("p", RATES)
def test_flip_rate_interval_covers_the_true_rate(
    rate_table: dict[tuple[float, int, float], float], p: float, n: int, rho: float
) -> None:
    cov = rate_table[(p, n, rho)]
    lo, hi = BAND if honest(p, n) else (BAND[0], 1.0)
    assert lo <= cov <= hi, f"p={p} n={n} rho={rho}: coverage {cov:.3f} outside [{lo}, {hi}]"


@pytest.mark.parametrize("n", PAIRS)
@pytest.mark.parametrize("p", RATES)
def test_share_interval_covers_the_true_share(p: float, n: int) -> None:
    cov = share_coverage(p, n)
    lo, hi = BAND if honest(p, n) else (BAND[0], 1.0)
    print(f"share p={p} n={n}: {cov:.3f}")
    assert lo <= cov <= hi, f"p={p} n={n}: coverage {cov:.3f}"


@pytest.mark.parametrize("n", PAIRS)
@pytest.mark.parametrize("law", CHANGE_LAWS)
def test_score_change_interval_covers_the_true_mean_change(law: str, n: int) -> None:
    cov, missing = change_coverage(law, n)
    print(f"score change {law} n={n}: {cov:.3f} ({missing:.1%} all equal, no interval)")
    lo, hi = BAND if n >= 30 else (0.88, 1.0)  # the t interval is approximate on 8 discrete values
    assert lo <= cov <= hi, f"{law} n={n}: coverage {cov:.3f}"


def test_boundary_cases_that_used_to_undercover() -> None:
    # a true rate of exactly 0 is inside every interval of flip-free data (was 8.7e-19 > 0)
    assert wilson(0, 16)[0] == 0.0 and wilson(16, 16)[1] == 1.0
    # one flip in 16 games: the Poisson-modified lower bound lets p = 0.01 in (plain Wilson: 0.011)
    assert wilson(1, 16)[0] < 0.005
    assert wilson(15, 16)[1] > 0.995
    # no flip at all: the within-pair correlation is unknown, so the pairs are the units
    assert design_effect([[0, 0]] * 200) == pytest.approx(2.0)
    assert clustered_rate([[0, 0]] * 200)["ci_high"] > 0.0185  # Wilson(0, 200), not Wilson(0, 400) = 0.0095
    # away from the boundary nothing changes
    assert wilson(35, 100) == pytest.approx((0.2636, 0.4475), abs=1e-4)
    assert mean_ci([0.0] * 8)["ci_low"] is None and mean_ci([0.0] * 7 + [1.0])["ci_low"] is not None

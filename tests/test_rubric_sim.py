"""Rubric aggregation in simulation: a judge with known per-criterion truth.

Each pair has a true per-criterion difference ``d_j = ρ·q + √(1−ρ²)·e_j`` (``q`` the pair's shared
quality difference, so criteria correlate as real ones do); the judge's soft verdict on criterion j is
``σ(κ (d_j + ε_j)) − ½``.  A judge at temperature 0 answers the same question the same way (and the
engine's cache sends a repeated request once), so a criterion listed three times is three equal columns.
"""

from __future__ import annotations

import numpy as np
import pytest

from referee.judging.rubric_aggregate import (
    aggregate,
    correlation,
    effective_number,
    learn_weights,
    redundancy_weights,
)

N, RHO, KAPPA = 4000, 0.5, 2.0


def simulate(seed: int = 0, n: int = N, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 1))
    d = RHO * q + np.sqrt(1 - RHO**2) * rng.normal(size=(n, k))
    soft = 1 / (1 + np.exp(-KAPPA * (d + rng.normal(scale=0.7, size=(n, k))))) - 0.5
    return soft, d


def verdicts(soft: np.ndarray, weights: np.ndarray) -> np.ndarray:
    margin, _ = aggregate(soft, np.empty((len(soft), 0)), weights)
    return np.sign(margin)


def changed(before: np.ndarray, after: np.ndarray) -> float:
    return float(np.mean(before != after))


def test_listing_one_criterion_three_times_barely_changes_redundancy_aware_verdicts():
    soft, _ = simulate()
    tripled = np.column_stack([soft[:, 0], soft[:, 0], soft[:, 0], soft[:, 1:]])
    w4, w6 = np.ones(4), np.ones(6)
    plain = changed(verdicts(soft, w4), verdicts(tripled, w6))
    aware = changed(verdicts(soft, redundancy_weights(soft, w4)), verdicts(tripled, redundancy_weights(tripled, w6)))
    print(f"\nlisting one of 4 criteria three times changes {plain:.1%} of {N} verdicts with plain weights, "
          f"{aware:.2%} with redundancy-aware weights")
    assert aware <= 0.02
    assert plain > 0.05  # the plain weighted sum does count the criterion three times
    # the copies share the weight one criterion had
    v = redundancy_weights(tripled, w6)
    assert v[:3] == pytest.approx([v[0]] * 3) and v[:3].sum() / v[3:].sum() == pytest.approx(
        redundancy_weights(soft, w4)[0] / redundancy_weights(soft, w4)[1:].sum(), rel=1e-6)


def test_noisy_copies_are_still_down_weighted():
    """At temperature > 0 the three copies are answered independently: near-duplicates, not equal columns."""
    rng = np.random.default_rng(1)
    soft, d = simulate(seed=1)
    copies = [1 / (1 + np.exp(-KAPPA * (d[:, 0] + rng.normal(scale=0.7, size=N)))) - 0.5 for _ in range(2)]
    tripled = np.column_stack([soft[:, 0], *copies, soft[:, 1:]])
    w4, w6 = np.ones(4), np.ones(6)
    plain = changed(verdicts(soft, w4), verdicts(tripled, w6))
    aware = changed(verdicts(soft, redundancy_weights(soft, w4)), verdicts(tripled, redundancy_weights(tripled, w6)))
    print(f"\nnoisy copies: plain weights change {plain:.1%}, redundancy-aware {aware:.1%}")
    assert aware < plain


def test_effective_number_counts_copies_once():
    soft, _ = simulate(n=2000)
    r4 = correlation(soft)
    r6 = correlation(np.column_stack([soft[:, 0], soft[:, 0], soft[:, 0], soft[:, 1:]]))
    assert np.allclose(np.diag(r6), 1) and r6[0, 1] == pytest.approx(1.0)
    assert effective_number(np.eye(4)) == pytest.approx(4.0)
    assert effective_number(np.ones((3, 3))) == pytest.approx(1.0)
    assert effective_number(r6) < effective_number(r4) + 0.5  # three copies add far less than two criteria


def test_learned_weights_recover_the_informative_criterion():
    rng = np.random.default_rng(2)
    soft, d = simulate(seed=2)
    gold = (d[:, 2] + rng.normal(scale=0.3, size=N) > 0).astype(float)  # humans care about criterion 2
    v = learn_weights(soft, gold)
    print(f"\nlearned weights {np.round(v, 2).tolist()} (criterion 2 decides the gold verdict)")
    assert np.argmax(v) == 2 and v[2] > 2 * np.delete(v, 2).max()
    acc = {name: float(np.mean((verdicts(soft, w) > 0) == (gold > 0.5))) for name, w in
           {"given": np.ones(4), "learned": v}.items()}
    print(f"agreement with gold: {acc}")
    assert acc["learned"] > acc["given"] + 0.05


def test_gates_decide_and_unparsed_criteria_drop_out():
    soft = np.array([[0.4, 0.4], [0.4, np.nan], [np.nan, np.nan], [0.1, -0.3]])
    gates = np.array([[-1.0, 0.0], [np.nan, 0.0], [0.0, 0.0], [1.0, -1.0]])
    margin, decided = aggregate(soft, gates, np.array([1.0, 3.0]))
    assert margin[0] == -0.5 and decided[0] == 0  # a fails gate 0: b wins whatever the preferences say
    assert margin[1] == pytest.approx(0.4)  # the unparsed criterion drops out, the weights renormalise
    assert np.isnan(margin[2]) and decided[2] == -1  # nothing parsed, no gate decides: no verdict
    assert decided[3] == -1 and margin[3] == pytest.approx((0.1 - 0.9) / 4)  # each fails a gate: no gate decides

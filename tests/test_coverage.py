"""Confidence intervals must cover the truth at their nominal rate on simulated arenas."""

from __future__ import annotations

import numpy as np
import pytest

from referee.rank.bt import fit_bt
from referee.rank.cells import aggregate, cluster_counts
from referee.rank.uncertainty import bootstrap_bt, percentile_intervals, sandwich_intervals
from referee.sim import simulate_arena

N_ARENAS = 120


def _coverage(method: str) -> float:
    hits = []
    for seed in range(N_ARENAS):
        df, truth = simulate_arena(8, 1500, seed=1000 + seed, spread=0.7, skew=0.8)
        cells = aggregate(df)
        fit = fit_bt(cells)
        if method == "sandwich":
            iv = sandwich_intervals(fit)
        else:
            samples, _ = bootstrap_bt(cells, fit, rounds=300, seed=seed, workers=1)
            iv = percentile_intervals(fit, samples)
        t = truth.reindex(cells.models).to_numpy()
        hits.append((iv.lower <= t) & (t <= iv.upper))
    return float(np.mean(np.concatenate(hits)))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sandwich", "bootstrap"])
def test_ci_coverage_is_nominal(method):
    cov = _coverage(method)
    assert 0.92 <= cov <= 0.98, f"{method} coverage {cov:.3f}"


def test_bootstrap_is_seeded_and_matches_sandwich_width():
    df, _ = simulate_arena(10, 20_000, seed=9)
    cells = aggregate(df)
    fit = fit_bt(cells)
    s1, _ = bootstrap_bt(cells, fit, rounds=400, seed=3, workers=2)
    s2, _ = bootstrap_bt(cells, fit, rounds=400, seed=3, workers=1)
    np.testing.assert_array_equal(s1, s2)
    se_boot = s1.std(axis=0, ddof=1)
    se_sand = np.sqrt(np.diag(fit.cov))
    np.testing.assert_allclose(se_boot, se_sand, rtol=0.15)


def test_clustered_bootstrap_is_wider_when_prompts_matter():
    """Battles on one prompt share a prompt effect: clustering must widen intervals."""
    rng = np.random.default_rng(0)
    df, _ = simulate_arena(6, 6000, seed=4, n_prompts=60)
    # make outcomes within a prompt strongly correlated: copy the first verdict of each (prompt, pair)
    df["pair"] = df.model_a + "|" + df.model_b
    df["winner"] = df.groupby(["prompt_id", "pair"])["winner"].transform("first")
    del rng
    cells, clusters = cluster_counts(df.drop(columns="pair"), "prompt_id")
    fit = fit_bt(cells)
    plain, _ = bootstrap_bt(cells, fit, rounds=300, seed=1)
    clustered, _ = bootstrap_bt(cells, fit, rounds=300, seed=1, clusters=clusters)
    assert clustered.std(axis=0).mean() > 1.5 * plain.std(axis=0).mean()

"""The reward-model accuracy CI (``referee.scoring.rm.bootstrap_ci``): BCa / percentile, by pair or prompt."""

from __future__ import annotations

import numpy as np
import pytest

from referee.errors import InputError
from referee.resample import chunk_seeds, multiplicities
from referee.scoring.rm import bootstrap_ci


def test_pairs_bootstrap_is_the_row_bootstrap_of_the_mean() -> None:
    """Unclustered percentile CI = quantiles of the mean over resampled pairs (same draws)."""
    correct = (np.random.default_rng(0).random(200) < 0.7).astype(float)
    lo, hi = bootstrap_ci(correct, rounds=400, seed=3, interval="percentile", workers=1)
    means = np.concatenate([multiplicities(np.random.default_rng(ss), 200, r) @ correct / 200
                            for r, ss in chunk_seeds(3, 400)])
    assert (lo, hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975], method="weibull")))


def test_singleton_clusters_equal_the_pair_bootstrap() -> None:
    correct = (np.random.default_rng(1).random(150) < 0.6).astype(float)
    for interval in ("bca", "percentile"):
        plain = bootstrap_ci(correct, rounds=500, seed=2, interval=interval)
        clustered = bootstrap_ci(correct, [f"p{i:03d}" for i in range(150)], rounds=500, seed=2, interval=interval)
        assert plain == clustered


def test_clustering_by_prompt_widens_the_interval_for_correlated_pairs() -> None:
    """9 pairs per prompt, all right or all wrong: the honest CI is ~3× (√9) the pair-level one."""
    rng = np.random.default_rng(4)
    per_prompt = (rng.random(60) < 0.65).astype(float)
    correct, prompt = np.repeat(per_prompt, 9), np.repeat(np.arange(60), 9)
    lo_p, hi_p = bootstrap_ci(correct, rounds=2000, seed=0)
    lo_c, hi_c = bootstrap_ci(correct, prompt, rounds=2000, seed=0)
    assert lo_c < correct.mean() < hi_c
    assert 2.5 < (hi_c - lo_c) / (hi_p - lo_p) < 3.5


def test_bca_and_percentile_both_cover_the_estimate_and_bca_shifts_with_skew() -> None:
    """Accuracy near 1 is left-skewed: BCa moves the interval down relative to the percentile one."""
    correct = np.r_[np.ones(57), np.zeros(3)]
    bca = bootstrap_ci(correct, rounds=4000, seed=0)
    pct = bootstrap_ci(correct, rounds=4000, seed=0, interval="percentile")
    for lo, hi in (bca, pct):
        assert lo < 0.95 <= hi <= 1.0
    assert bca[0] < pct[0]


def test_degenerate_inputs() -> None:
    assert all(np.isnan(bootstrap_ci(np.zeros(0))))
    assert bootstrap_ci(np.ones(40)) == (1.0, 1.0)  # every replicate equals the estimate
    assert bootstrap_ci(np.array([1.0, 0.0, 1.0]), ["p", "p", "p"]) == pytest.approx((2 / 3, 2 / 3))
    with pytest.raises(InputError, match="unknown interval"):
        bootstrap_ci(np.ones(3), interval="basic")

"""Online Elo (FastChat's compute_online_elo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from referee.ranking.elo import online_elo
from referee.sim import simulate_arena


def _expected(ra: float, rb: float) -> float:
    return 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0))


def test_hand_computed_example():
    df = pd.DataFrame({
        "model_a": ["x", "y", "x", "z"],
        "model_b": ["y", "x", "z", "y"],
        "winner": ["model_a", "tie", "model_b", "tie (bothbad)"],
    })
    # by hand, K = 4, all start at 1000
    x = y = z = 1000.0
    x, y = x + 4 * (1 - 0.5), y - 4 * (1 - 0.5)  # x beats y at equal ratings: ±2
    assert (x, y) == (1002.0, 998.0)
    d = 4 * (0.5 - _expected(y, x))  # tie, y shown first
    y, x = y + d, x - d
    d = 4 * (0 - _expected(x, z))  # z beats x
    x, z = x + d, z - d
    d = 4 * (0.5 - _expected(z, y))  # tie (bothbad), z shown first
    z, y = z + d, y - d
    models, ratings = online_elo(df)
    assert models == ("x", "y", "z")
    np.testing.assert_allclose(ratings, [x, y, z], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ratings.sum(), 3000.0, atol=1e-9)  # zero-sum updates


def test_input_forms_and_k():
    df = pd.DataFrame({"model_a": ["a", "b", "a"], "model_b": ["b", "a", "b"], "winner": ["model_a", "model_a", "tie"]})
    _, r_df = online_elo(df, k=32.0)
    _, r_labels = online_elo((df.model_a, df.model_b, df.winner), k=32.0)
    _, r_codes = online_elo((df.model_a, df.model_b, np.array([0, 0, 2])), k=32.0)
    _, r_scores = online_elo((df.model_a, df.model_b, np.array([1.0, 1.0, 0.5])), k=32.0)
    for r in (r_labels, r_codes, r_scores):
        np.testing.assert_array_equal(r, r_df)
    assert r_df[0] - 1000.0 == -(r_df[1] - 1000.0)


def test_uses_tstamp_order():
    df, _ = simulate_arena(8, 2_000, seed=1)
    shuffled = df.sample(frac=1.0, random_state=0)
    m1, r1 = online_elo(df)
    m2, r2 = online_elo(shuffled)
    assert m1 == m2
    np.testing.assert_array_equal(r1, r2)
    _, r3 = online_elo(shuffled.drop(columns="tstamp"))
    assert not np.allclose(r1, r3)  # order matters


def test_ranking_tracks_truth_and_shuffles_are_seeded():
    df, truth = simulate_arena(20, 30_000, seed=2, spread=0.8)
    models, ratings = online_elo(df)
    assert spearmanr(ratings, truth.loc[list(models)]).statistic > 0.9
    _, s1 = online_elo(df, seed=5, shuffles=3)
    _, s2 = online_elo(df, seed=5, shuffles=3)
    _, s3 = online_elo(df, seed=6, shuffles=3)
    np.testing.assert_array_equal(s1, s2)
    assert not np.allclose(s1, s3)
    assert spearmanr(s1, truth.loc[list(models)]).statistic > 0.9
    np.testing.assert_allclose(s1.mean(), 1000.0, atol=1e-9)

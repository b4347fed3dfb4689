"""Bradley–Terry fits: agreement with an independent row-level optimiser, recovery, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from referee.ranking.bt import fit_bt, mle_exists, pair_stats
from referee.ranking.cells import aggregate
from referee.sim import simulate_arena


def row_level_mle(df: pd.DataFrame, home: bool = False) -> tuple[np.ndarray, float]:
    """Independent reference: minimise the row-by-row half-tie likelihood with BFGS."""
    names = sorted(set(df.model_a) | set(df.model_b))
    idx = {m: i for i, m in enumerate(names)}
    a = df.model_a.map(idx).to_numpy()
    b = df.model_b.map(idx).to_numpy()
    t = df.winner.map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}).to_numpy()
    m = len(names)

    def nll(x: np.ndarray) -> float:
        th = np.r_[0.0, x[: m - 1]]
        d = th[a] - th[b] + (x[-1] if home else 0.0)
        return -np.sum(t * log_expit(d) + (1 - t) * log_expit(-d))

    x0 = np.zeros(m - 1 + int(home))
    res = minimize(nll, x0, method="BFGS", options={"gtol": 1e-10, "maxiter": 10_000})
    th = np.r_[0.0, res.x[: m - 1]]
    return th - th.mean(), (res.x[-1] if home else 0.0)


def test_matches_row_level_optimiser():
    df, _ = simulate_arena(8, 3000, seed=11)
    fit = fit_bt(aggregate(df))
    ref, _ = row_level_mle(df)
    assert fit.converged
    np.testing.assert_allclose(fit.theta, ref, atol=1e-5)


def test_first_position_term_matches_reference_and_truth():
    df, _truth = simulate_arena(8, 20_000, seed=5, first_position=0.4)
    fit = fit_bt(aggregate(df), home=True)
    ref, h_ref = row_level_mle(df.sample(3000, random_state=0), home=True)
    assert abs(fit.extra["first_position"] - 0.4) < 4 * fit.extra_se["first_position"]
    fit_small = fit_bt(aggregate(df.sample(3000, random_state=0)), home=True)
    assert fit_small.extra["first_position"] == pytest.approx(h_ref, abs=1e-5)
    np.testing.assert_allclose(fit_small.theta, ref, atol=1e-5)


def test_recovers_true_strengths():
    df, truth = simulate_arena(15, 200_000, seed=2)
    fit = fit_bt(aggregate(df))
    se = np.sqrt(np.diag(fit.cov))
    z = (fit.theta - truth.to_numpy()) / se
    assert np.all(np.abs(z) < 4.5)
    assert np.corrcoef(fit.theta, truth)[0, 1] > 0.999


def test_weights_equal_replication():
    df, _ = simulate_arena(6, 2000, seed=3)
    doubled = pd.concat([df, df], ignore_index=True)
    weighted = df.assign(weight=2.0)
    f1 = fit_bt(aggregate(doubled))
    f2 = fit_bt(aggregate(weighted))
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-10)


def test_drop_ties_ignores_ties():
    df, _ = simulate_arena(6, 4000, seed=4)
    no_ties = df[df.winner.isin(["model_a", "model_b"])]
    f1 = fit_bt(aggregate(df), ties="drop")
    f2 = fit_bt(aggregate(no_ties))
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-10)


def test_undefeated_model_gets_finite_rating_with_prior():
    df = pd.DataFrame(
        {
            "model_a": ["champ", "champ", "x", "y", "x", "y"],
            "model_b": ["x", "y", "y", "x", "champ", "champ"],
            "winner": ["model_a", "model_a", "model_a", "model_a", "model_b", "tie"],
        }
    )
    # 'champ' never loses (a tie is half a win *and* half a loss, so add a pure winner)
    df2 = df[df.winner != "tie"]
    cells = aggregate(df2)
    assert not mle_exists(pair_stats(cells))
    fit = fit_bt(cells)
    assert np.all(np.isfinite(fit.theta)) and np.all(np.isfinite(fit.cov))
    assert fit.extra["prior_precision"] > 0
    assert fit.theta[cells.models.index("champ")] == fit.theta.max()


def test_soft_verdicts_count_fractionally():
    hard = pd.DataFrame({"model_a": ["a"] * 4, "model_b": ["b"] * 4, "winner": ["model_a"] * 3 + ["model_b"]})
    soft = pd.DataFrame({"model_a": ["a"], "model_b": ["b"], "winner": ["model_a"], "prob_a": [0.75]})
    f1 = fit_bt(aggregate(hard))
    f2 = fit_bt(aggregate(soft))
    assert f2.theta[0] - f2.theta[1] == pytest.approx(np.log(3), abs=1e-9)
    assert f1.theta[0] - f1.theta[1] == pytest.approx(np.log(3), abs=1e-9)
    assert expit(f2.theta[0] - f2.theta[1]) == pytest.approx(0.75)

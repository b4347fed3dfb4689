"""Davidson and Rao–Kupper tie models: recovery of known parameters on simulated arenas."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from _sim import names, rao_kupper, strengths, to_cells
from referee.ranking.cells import aggregate
from referee.ranking.ties import (
    _DAVIDSON_TIES,
    cumulative_terms,
    fit_davidson,
    fit_rao_kupper,
    softmax_terms,
)
from referee.sim import simulate_arena


def _z(fit, truth: np.ndarray) -> np.ndarray:
    return (fit.theta - truth) / np.sqrt(np.diag(fit.cov))


def _numeric(terms, d: np.ndarray, phi: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the per-cell log-likelihood and gradient in (d, φ)."""
    k, q = d.size, phi.size
    g = np.zeros((k, 1 + q))
    h = np.zeros((k, 1 + q, 1 + q))
    for j in range(1 + q):
        dp, dm, pp, pm = d.copy(), d.copy(), phi.copy(), phi.copy()
        if j == 0:
            dp += eps
            dm -= eps
        else:
            pp[j - 1] += eps
            pm[j - 1] -= eps
        lp, gp, _ = terms(dp, pp, True)
        lm, gm, _ = terms(dm, pm, True)
        g[:, j] = (lp - lm) / (2 * eps)
        h[:, :, j] = (gp - gm) / (2 * eps)
    return g, h


def test_analytic_derivatives_match_finite_differences():
    rng = np.random.default_rng(1)
    d = rng.normal(0, 1.5, 40)
    cat5 = rng.integers(0, 5, 40)
    cmat = np.array([[0.0, -1.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])

    def cum(d, phi, derivs):
        return cumulative_terms(d, phi, cat5, cmat, np.zeros(4), derivs)

    cat3 = rng.integers(0, 3, 40)

    def dav(d, phi, derivs):
        return softmax_terms(d, phi, cat3, _DAVIDSON_TIES, derivs)

    for terms, phi in ((cum, np.array([0.4, 1.3])), (dav, np.array([-0.3]))):
        _, g, h = terms(d, phi, True)
        gn, hn = _numeric(terms, d, phi)
        np.testing.assert_allclose(g, gn, atol=1e-7)
        np.testing.assert_allclose(h, hn, atol=1e-6)
    # out-of-order cut-points are infeasible, not NaN
    ll, _, _ = cum(d, np.array([1.0, 0.5]), False)
    assert np.all(ll == -np.inf)


@pytest.mark.parametrize("home", [0.0, 0.35])
def test_davidson_recovers_tie_parameter_strengths_and_first_position(home):
    df, truth = simulate_arena(12, 60_000, seed=3, tie_model="davidson", nu=0.8, first_position=home, skew=0.5)
    fit = fit_davidson(aggregate(df), home=True)
    assert fit.converged and fit.method == "davidson"
    truth = truth.loc[list(fit.models)].to_numpy()
    assert np.abs(_z(fit, truth)).max() < 4.5
    nu, se = fit.extra["tie_parameter"], fit.extra_se["tie_parameter"]
    assert abs(nu - 0.8) < 4 * se and se < 0.05
    h, se_h = fit.extra["first_position"], fit.extra_se["first_position"]
    assert abs(h - home) < 4 * se_h
    assert np.isclose(fit.theta.mean(), 0.0, atol=1e-12)


def test_davidson_without_home_has_no_first_position_and_beats_rao_kupper_on_davidson_data():
    df, _ = simulate_arena(10, 40_000, seed=4, tie_model="davidson", nu=1.2)
    cells = aggregate(df)
    dav = fit_davidson(cells)
    rk = fit_rao_kupper(cells)
    assert "first_position" not in dav.extra
    assert dav.loglik > rk.loglik


@pytest.mark.parametrize("home", [0.0, 0.25])
def test_rao_kupper_recovers_tie_parameter_and_first_position(home):
    rng = np.random.default_rng(5)
    theta = strengths(10, rng)
    a, b, y = rao_kupper(theta, 60_000, 1.7, rng, home=home)
    fit = fit_rao_kupper(to_cells(a, b, y), home=True)
    assert fit.converged and fit.method == "rao_kupper"
    assert fit.models == tuple(names(10))
    assert np.abs(_z(fit, theta)).max() < 4.5
    th, se = fit.extra["tie_parameter"], fit.extra_se["tie_parameter"]
    assert abs(th - 1.7) < 4 * se and se < 0.05
    assert abs(fit.extra["first_position"] - home) < 4 * fit.extra_se["first_position"]


def test_without_ties_both_reduce_to_bradley_terry():
    rng = np.random.default_rng(6)
    theta = strengths(6, rng)
    a, b, y = rao_kupper(theta, 5_000, 1.0, rng)  # θ_RK = 1: no ties
    assert not (y == 2).any()
    cells = to_cells(a, b, y)
    dav, rk = fit_davidson(cells), fit_rao_kupper(cells)
    assert dav.extra["tie_parameter"] == 0.0 and rk.extra["tie_parameter"] == 1.0
    np.testing.assert_allclose(dav.theta, rk.theta, atol=1e-8)
    np.testing.assert_allclose(dav.cov, rk.cov, atol=1e-10)


def test_weights_are_likelihood_weights():
    rng = np.random.default_rng(7)
    theta = strengths(5, rng)
    a, b, y = rao_kupper(theta, 3_000, 1.5, rng)
    once = to_cells(a, b, y)
    twice = to_cells(np.r_[a, a], np.r_[b, b], np.r_[y, y])
    weighted = to_cells(a, b, y, weight=np.full(a.size, 2.0))
    for fit_fn in (fit_davidson, fit_rao_kupper):
        f1, f2, fw = fit_fn(once), fit_fn(twice), fit_fn(weighted)
        np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-8)
        np.testing.assert_allclose(fw.theta, f2.theta, atol=1e-8)
        np.testing.assert_allclose(fw.loglik, 2 * f1.loglik, rtol=1e-10)
        # the sandwich treats a weight-2 row as one observation: twice the variance of duplicates
        np.testing.assert_allclose(np.diag(fw.cov), 2 * np.diag(f2.cov), rtol=1e-6)


def _degenerate_cells():
    """m00 never loses, m03 never wins, m04–m05 compared only with each other."""
    a = np.array([0, 0, 1, 2, 1, 2, 1, 3, 4, 5, 4, 1])
    b = np.array([1, 2, 2, 1, 3, 3, 0, 2, 5, 4, 5, 2])
    y = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 2, 2])
    return to_cells(a, b, y)


@pytest.mark.parametrize("fit_fn", [fit_davidson, fit_rao_kupper])
def test_degenerate_data_with_prior_is_finite(fit_fn):
    cells = _degenerate_cells()
    fit = fit_fn(cells, home=True, prior=0.1)
    assert fit.converged
    assert np.all(np.isfinite(fit.theta)) and np.all(np.isfinite(fit.cov))
    assert all(np.isfinite(v) for v in fit.extra.values())
    assert fit.theta.argmax() == 0 and fit.theta[3] < fit.theta[1]
    # without a prior: never NaN/inf (the caller is told via the missing covariance)
    raw = fit_fn(cells)
    assert np.all(np.isfinite(raw.theta)) and raw.cov is None and not raw.converged
    # connected but m00 never loses: still no finite MLE
    connected = cells.select((cells.a < 4) & (cells.b < 4))
    assert not fit_fn(connected).converged and fit_fn(connected, prior=0.1).converged


def test_zero_weight_cells_are_ignored():
    rng = np.random.default_rng(8)
    a, b, y = rao_kupper(strengths(4, rng), 2_000, 1.5, rng)
    cells = to_cells(a, b, y)
    zeroed = replace(cells, w=np.where(np.arange(cells.w.size) == 0, 0.0, cells.w))
    fit = fit_davidson(zeroed)
    assert fit.converged and np.all(np.isfinite(fit.theta))

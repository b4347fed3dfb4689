"""Graded verdicts: Arena-Hard weighting and the cumulative-logit (ordinal) model."""

from __future__ import annotations

import numpy as np
import pytest

from _sim import ordinal, rao_kupper, strengths, to_cells
from referee.ranking.graded import arena_hard_weights, fit_ordinal
from referee.ranking.ties import fit_rao_kupper


@pytest.mark.parametrize("home", [0.0, 0.2])
def test_ordinal_recovers_strengths_thresholds_and_first_position(home):
    rng = np.random.default_rng(11)
    theta = strengths(10, rng)
    a, b, y, s = ordinal(theta, 60_000, 0.4, 1.6, rng, home=home)
    fit = fit_ordinal(to_cells(a, b, y, s), home=True)
    assert fit.converged and fit.method == "ordinal" and fit.extra["levels"] == 5
    z = (fit.theta - theta) / np.sqrt(np.diag(fit.cov))
    assert np.abs(z).max() < 4.5
    for key, true in (("threshold_tie", 0.4), ("threshold_strong", 1.6), ("first_position", home)):
        assert abs(fit.extra[key] - true) < 4 * fit.extra_se[key], key
    assert 0 < fit.extra["threshold_tie"] < fit.extra["threshold_strong"]


def test_ordinal_on_ungraded_data_is_rao_kupper():
    rng = np.random.default_rng(12)
    theta = strengths(7, rng)
    a, b, y = rao_kupper(theta, 20_000, 1.6, rng, home=0.1)
    cells = to_cells(a, b, y)  # no strength column: every win is plain
    ordf, rk = fit_ordinal(cells, home=True), fit_rao_kupper(cells, home=True)
    assert ordf.extra["levels"] == 3 and "threshold_strong" not in ordf.extra
    np.testing.assert_allclose(ordf.theta, rk.theta, atol=1e-8)
    np.testing.assert_allclose(ordf.extra["threshold_tie"], np.log(rk.extra["tie_parameter"]), atol=1e-8)
    np.testing.assert_allclose(ordf.loglik, rk.loglik, rtol=1e-12)
    np.testing.assert_allclose(ordf.cov, rk.cov, rtol=1e-6, atol=1e-12)


def test_ordinal_without_ties_and_with_only_strong_wins():
    rng = np.random.default_rng(13)
    theta = strengths(6, rng)
    a, b, y, s = ordinal(theta, 20_000, 0.5, 1.5, rng)
    dec = y < 2
    fit = fit_ordinal(to_cells(a[dec], b[dec], y[dec], s[dec]))
    assert fit.converged and fit.extra["levels"] == 4 and fit.extra["threshold_tie"] == 0.0
    # all wins strong: nothing separates strong from plain, so they are plain wins
    strong = np.where(y < 2, 2, 0)
    only = fit_ordinal(to_cells(a, b, y, strong))
    plain = fit_ordinal(to_cells(a, b, y))
    assert only.extra["levels"] == 3
    np.testing.assert_allclose(only.theta, plain.theta, atol=1e-10)


def test_arena_hard_weights_triple_strong_verdicts():
    a = np.array([0, 0, 1, 1, 0, 1])
    b = np.array([1, 1, 0, 0, 1, 0])
    y = np.array([0, 0, 0, 1, 2, 1])
    s = np.array([2, 1, 2, 2, 0, 1])
    cells = to_cells(a, b, y, s)
    out = arena_hard_weights(cells)
    strong = (cells.y <= 1) & (cells.s == 2)
    assert strong.sum() == 3
    np.testing.assert_array_equal(out.w, np.where(strong, 3.0, 1.0) * cells.w)
    np.testing.assert_array_equal(out.n, cells.n)  # still one observation each
    rep = arena_hard_weights(cells, replicate=True)
    np.testing.assert_array_equal(rep.n, out.w)  # Arena-Hard's row copies
    assert out.w.sum() == 6 + 2 * 3


@pytest.mark.parametrize("home", [False, True])
def test_ordinal_degenerate_data_with_prior_is_finite(home):
    # m00 only ever wins (strongly), m03 only ever loses, m04–m05 form a separate island
    a = np.array([0, 0, 1, 2, 1, 2, 1, 4, 5, 4, 3])
    b = np.array([1, 2, 2, 1, 3, 3, 0, 5, 4, 5, 1])
    y = np.array([0, 0, 0, 0, 0, 2, 1, 0, 0, 2, 1])
    s = np.array([2, 2, 1, 2, 1, 0, 2, 1, 2, 0, 1])
    cells = to_cells(a, b, y, s)
    fit = fit_ordinal(cells, home=home, prior=0.1)
    assert fit.converged
    assert np.all(np.isfinite(fit.theta)) and np.all(np.isfinite(fit.cov))
    assert all(np.isfinite(v) for v in fit.extra.values())
    assert fit.theta.argmax() == 0 and fit.theta.argmin() == 3
    raw = fit_ordinal(cells, home=home)
    assert np.all(np.isfinite(raw.theta)) and raw.cov is None and not raw.converged

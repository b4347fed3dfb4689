"""The result of fitting a rank model, shared by every model in :mod:`referee.ranking`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse


@dataclass
class Fit:
    """A fitted pairwise-comparison model.

    ``theta`` are log-strengths on the natural (logit) scale, centred to mean 0;
    display ratings are ``1000 + 400/ln(10) · theta``.  ``cov`` is the robust
    (sandwich) covariance of ``theta`` under the same centring, or ``None`` when the
    model does not provide one.  ``extra`` holds the other estimated parameters
    (tie parameter, first-position advantage, style coefficients, thresholds) and
    ``extra_se`` their standard errors.
    """

    models: tuple[str, ...]
    theta: np.ndarray
    cov: np.ndarray | None = None
    extra: dict[str, float] = field(default_factory=dict)
    extra_se: dict[str, float] = field(default_factory=dict)
    loglik: float = float("nan")
    iterations: int = 0
    converged: bool = True
    method: str = "bt"


def centre(theta: np.ndarray) -> np.ndarray:
    """Shift log-strengths to mean zero (the identifiability constraint)."""
    centred: np.ndarray = theta - theta.mean(axis=-1, keepdims=True)
    return centred


def sandwich(hessian: np.ndarray, score_cov: np.ndarray, n_models: int) -> np.ndarray:
    """Robust covariance ``H⁻¹ J H⁻¹`` for parameters whose first ``n_models`` entries
    are log-strengths identified only up to a common shift.

    ``hessian`` is the observed information (negative Hessian of the log-likelihood)
    and ``score_cov`` the summed outer products of per-observation scores.  The shift
    direction is removed by adding ``1·1ᵀ/M`` on the strength block (a full-rank
    completion that leaves the mean-zero solution unchanged) and the result is
    projected onto mean-zero strengths.
    """
    a = _projected_inverse(hessian, n_models)
    cov = a @ score_cov @ a.T
    sym: np.ndarray = 0.5 * (cov + cov.T)
    return sym


def _projected_inverse(hessian: np.ndarray, m: int) -> np.ndarray:
    """``P H̃⁻¹`` with ``H̃`` the full-rank completion (``+ 1·1ᵀ/M`` on the strength block) and
    ``P`` the projection onto mean-zero strengths."""
    p = hessian.shape[0]
    h = hessian.copy()
    h[:m, :m] += np.full((m, m), 1.0 / m) * max(1.0, float(np.abs(np.diag(hessian)).max()))
    proj = np.eye(p)
    proj[:m, :m] -= 1.0 / m
    return proj @ np.linalg.inv(h)


def score_meat(a: np.ndarray, b: np.ndarray, m: int, g: np.ndarray, q: sparse.spmatrix) -> np.ndarray:
    """The sandwich's meat ``J = Gᵀ Q G`` from per-cell scores.

    ``g`` (K × (1+r)) holds each cell's score per unit weight in its local parameters:
    column 0 is ∂ℓ/∂d (d = θ_a − θ_b + …, so the global score is ``g₀(e_a − e_b)``) and the
    other columns the global nuisance parameters.  ``Q`` (K × K) is
    :meth:`referee.ranking.cells.Cells.score_weights`: it sums scores within each unit (row or
    cluster) before squaring.
    """
    k = g.shape[0]
    r = g.shape[1] - 1
    rows = np.concatenate([np.arange(k), np.arange(k), np.repeat(np.arange(k), r)])
    cols = np.concatenate([a, b, np.tile(np.arange(m, m + r), k)])
    vals = np.concatenate([g[:, 0], -g[:, 0], g[:, 1:].ravel()])
    gm = sparse.csr_matrix((vals, (rows, cols)), shape=(k, m + r))
    j = (gm.T @ (q @ gm)).toarray()  # scipy: no stubs
    sym: np.ndarray = 0.5 * (j + j.T)
    return sym


def model_cov(hessian: np.ndarray, n_models: int) -> np.ndarray:
    """``H⁻¹`` projected on mean-zero strengths: the Laplace (posterior) covariance of a
    penalised fit, whose sandwich would vanish for a model that never loses."""
    a = _projected_inverse(hessian, n_models)
    p = hessian.shape[0]
    proj = np.eye(p)
    proj[:n_models, :n_models] -= 1.0 / n_models
    cov = a @ proj.T
    return 0.5 * (cov + cov.T)

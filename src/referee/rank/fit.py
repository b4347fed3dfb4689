"""The result of fitting a rank model, shared by every model in :mod:`referee.rank`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    return theta - theta.mean(axis=-1, keepdims=True)


def sandwich(hessian: np.ndarray, score_cov: np.ndarray, n_models: int) -> np.ndarray:
    """Robust covariance ``H⁻¹ J H⁻¹`` for parameters whose first ``n_models`` entries
    are log-strengths identified only up to a common shift.

    ``hessian`` is the observed information (negative Hessian of the log-likelihood)
    and ``score_cov`` the summed outer products of per-observation scores.  The shift
    direction is removed by adding ``1·1ᵀ/M`` on the strength block (a full-rank
    completion that leaves the mean-zero solution unchanged) and the result is
    projected onto mean-zero strengths.
    """
    p = hessian.shape[0]
    m = n_models
    h = hessian.copy()
    h[:m, :m] += np.full((m, m), 1.0 / m) * max(1.0, float(np.abs(np.diag(hessian)).max()))
    hinv = np.linalg.inv(h)
    proj = np.eye(p)
    proj[:m, :m] -= 1.0 / m
    a = proj @ hinv
    cov = a @ score_cov @ a.T
    return 0.5 * (cov + cov.T)

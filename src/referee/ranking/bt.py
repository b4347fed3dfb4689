"""Bradley–Terry maximum likelihood by Newton's method on aggregated counts.

Model (Bradley & Terry 1952; Zermelo 1929): for a battle where ``a`` is shown first,

    P(a beats b) = σ(θ_a − θ_b + h),   σ(x) = 1 / (1 + e^{−x}),

with an optional first-position advantage ``h`` (0 unless ``home=True``).  Ties
score one half for each side (the Chatbot Arena convention, ``ties="half"``) or are
dropped (``ties="drop"``); tie *models* live in :mod:`referee.ranking.ties`.

The log-likelihood ``ℓ(θ) = Σ_k w_k [t_k log p_k + (1 − t_k) log(1 − p_k)]`` over
cells ``k`` (target ``t`` ∈ {1, 0, ½}) is concave; Newton steps on the mean-zero
subspace converge quadratically (stopping when the step is below ``tol``).
Everything is reduced to ordered pairs (a, b) first, so the cost is
``O(#pairs + M³)`` per iteration whatever the number of battles.

When the MLE does not exist (a model that never loses or never wins: the
"beats" digraph is not strongly connected, Ford 1957) the fit is penalised by a stated
weakly-informative prior θ_i ~ N(0, 1.25²) (``½·λ·‖θ‖²``, λ = :data:`WEAK_PRIOR` = 0.64;
one standard deviation is 217 rating points) — the maximum a posteriori estimate, as in
Gelman et al. 2008 for separated logistic regressions — and the covariance is the
Laplace approximation to the posterior, ``H⁻¹`` with the prior's curvature included
(the sandwich, which vanishes for a model that never loses, is not used).  The prior's
scale is chosen so that the intervals agree with the exact binomial test in the
smallest case: two models, one winning k–0, overlap for k ≤ 5 (two-sided p ≥ 0.0625)
and separate for k ≥ 6 (p ≤ 0.031).  The leaderboard reports that it was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from referee.ranking.cells import Cells
from referee.ranking.fit import Fit, centre, model_cov, sandwich, score_meat
from referee.schema import A_WINS, B_WINS

WEAK_PRIOR = 1.0 / 1.25**2


@dataclass(frozen=True)
class PairStats:
    """Sufficient statistics per ordered pair (a shown first, b second).

    ``W`` summed weight, ``T`` summed weight·target.
    """

    a: np.ndarray
    b: np.ndarray
    W: np.ndarray
    T: np.ndarray
    n_models: int


def targets(cells: Cells, ties: str = "half") -> tuple[np.ndarray, np.ndarray]:
    """Per-cell target t (1 a wins, 0 b wins, ½ tie) and a keep-mask (ties dropped if asked)."""
    t = np.where(cells.y == A_WINS, 1.0, np.where(cells.y == B_WINS, 0.0, 0.5))
    if ties == "half":
        keep = np.ones(t.size, dtype=bool)
    elif ties == "drop":
        keep = cells.y <= B_WINS
    else:
        raise ValueError(f"ties must be 'half' or 'drop', not {ties!r}")
    return t, keep


def pair_stats(cells: Cells, ties: str = "half") -> PairStats:
    """Reduce cells to ordered-pair sufficient statistics."""
    t, keep = targets(cells, ties)
    m = cells.n_models
    a, b, w, t = cells.a[keep], cells.b[keep], cells.w[keep], t[keep]
    key = a * m + b
    uniq, inv = np.unique(key, return_inverse=True)

    def s(x: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=x, minlength=uniq.size)

    return PairStats(uniq // m, uniq % m, s(w), s(w * t), m)


def mle_exists(ps: PairStats) -> bool:
    """True when the 'has beaten' digraph is strongly connected (Ford's condition).

    An edge a→b exists when a scored anything against b (a win or a half tie).
    Strongly connected ⇔ every model is reachable from model 0 along edges and
    along reversed edges.
    """
    win_a = ps.T > 0
    win_b = (ps.W - ps.T) > 1e-12
    src = np.concatenate([ps.a[win_a], ps.b[win_b]])
    dst = np.concatenate([ps.b[win_a], ps.a[win_b]])
    g = _adjacency(src, dst, ps.n_models)
    return bool(_reach(g, 0).all() and _reach(g.T.tocsr(), 0).all())


def components(cells: Cells) -> list[list[str]]:
    """Connected components of the comparison graph (undirected), largest first."""
    m = cells.n_models
    g = _adjacency(np.r_[cells.a, cells.b], np.r_[cells.b, cells.a], m)
    label = np.full(m, -1)
    groups: list[list[str]] = []
    for start in range(m):
        if label[start] < 0:
            members = np.flatnonzero(_reach(g, start))
            label[members] = len(groups)
            groups.append([cells.models[i] for i in members])
    return sorted(groups, key=len, reverse=True)


def _adjacency(src: np.ndarray, dst: np.ndarray, m: int) -> csr_matrix:
    return csr_matrix((np.ones(src.size), (src, dst)), shape=(m, m))


def _reach(g: csr_matrix, start: int) -> np.ndarray:
    """Boolean mask of nodes reachable from ``start`` (breadth-first by sparse products)."""
    seen = np.zeros(g.shape[0], dtype=bool)
    seen[start] = True
    frontier = seen.astype(float)
    while True:
        nxt = (g.T @ frontier) > 0
        new = nxt & ~seen
        if not new.any():
            return seen
        seen |= new
        frontier = new.astype(float)


def _design(ps: PairStats, theta: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    d = theta[ps.a] - theta[ps.b] + h
    p = 1.0 / (1.0 + np.exp(-d))
    return d, p


def _gradient_hessian(
    ps: PairStats, theta: np.ndarray, h: float, home: bool, prior: float
) -> tuple[np.ndarray, np.ndarray, float]:
    m = ps.n_models
    _d, p = _design(ps, theta, h)
    resid = ps.T - ps.W * p
    v = ps.W * p * (1.0 - p)
    k = m + 1 if home else m
    g = np.zeros(k)
    g[:m] = np.bincount(ps.a, resid, m) - np.bincount(ps.b, resid, m) - prior * theta
    hess = laplacian(ps.a, ps.b, v, m, k)
    hess[np.arange(m), np.arange(m)] += prior
    if home:
        g[m] = resid.sum()
        col = np.bincount(ps.a, v, m) - np.bincount(ps.b, v, m)
        hess[:m, m] = col
        hess[m, :m] = col
        hess[m, m] = v.sum()
    return g, hess, _loglik(ps, theta, h, prior)


def _loglik(ps: PairStats, theta: np.ndarray, h: float, prior: float) -> float:
    d, _ = _design(ps, theta, h)
    return float(np.sum(ps.T * _log_sigmoid(d) + (ps.W - ps.T) * _log_sigmoid(-d)) - 0.5 * prior * theta @ theta)


def laplacian(a: np.ndarray, b: np.ndarray, v: np.ndarray, m: int, size: int | None = None) -> np.ndarray:
    """Σ_k v_k (e_a − e_b)(e_a − e_b)ᵀ as a dense matrix (the BT information matrix)."""
    size = size or m
    out = np.zeros((size, size))
    flat = np.bincount(a * m + b, v, m * m).reshape(m, m)
    block = -(flat + flat.T)
    block[np.diag_indices(m)] = np.bincount(a, v, m) + np.bincount(b, v, m)
    out[:m, :m] = block
    return out


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = -np.logaddexp(0.0, -x)
    return result


def fit_bt(
    cells: Cells,
    *,
    ties: str = "half",
    home: bool = False,
    prior: float | None = None,
    tol: float = 1e-9,
    max_iter: int = 200,
    theta0: np.ndarray | None = None,
) -> Fit:
    """Bradley–Terry MLE (ties half or dropped), optional first-position advantage.

    ``prior=None`` applies :data:`WEAK_PRIOR` only when the MLE does not exist;
    pass a number to force a prior precision (0 = none).
    """
    ps = pair_stats(cells, ties)
    m = ps.n_models
    if prior is None:
        prior = 0.0 if mle_exists(ps) else WEAK_PRIOR
    theta = np.zeros(m) if theta0 is None else centre(np.asarray(theta0, dtype=float))
    h = 0.0
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (reported as Fit.iterations)
        g, hess, ll = _gradient_hessian(ps, theta, h, home, prior)
        step = _newton_step(hess, g, m)
        # backtracking keeps the (concave) likelihood monotone on hard problems
        alpha = 1.0
        while True:
            th_new = theta + alpha * step[:m]
            h_new = h + alpha * step[m] if home else 0.0
            if alpha < 1e-6 or _loglik(ps, th_new, h_new, prior) >= ll - 1e-12 * abs(ll):
                break
            alpha /= 2
        theta, h = centre(th_new), h_new
        if np.max(np.abs(alpha * step)) < tol:
            converged = True
            break
    g, hess, ll = _gradient_hessian(ps, theta, h, home, prior)
    cov_full = model_cov(hess, m) if prior else sandwich(hess, cell_meat(cells, theta, h, ties, home), m)
    extra, extra_se = {}, {}
    if home:
        extra["first_position"] = float(h)
        extra_se["first_position"] = float(np.sqrt(max(cov_full[m, m], 0.0)))
    if prior:
        extra["prior_precision"] = float(prior)
    return Fit(
        models=cells.models,
        theta=theta,
        cov=cov_full[:m, :m],
        extra=extra,
        extra_se=extra_se,
        loglik=ll + 0.5 * prior * float(theta @ theta),  # the likelihood itself, without the prior
        iterations=it,
        converged=converged,
        method="bt" if ties == "half" else "bt-drop-ties",
    )


def _newton_step(hess: np.ndarray, g: np.ndarray, m: int) -> np.ndarray:
    """Solve H·Δ = g on the mean-zero strength subspace (H is singular along 1)."""
    h = hess.copy()
    scale = max(1.0, float(np.abs(np.diag(hess)).max()))
    h[:m, :m] += scale / m
    return np.linalg.solve(h, g)


def cell_meat(cells: Cells, theta: np.ndarray, h: float, ties: str, home: bool) -> np.ndarray:
    """Score covariance of BT over the cells' units: each cell's score per unit weight is
    ``(t − p)(e_a − e_b)`` (and ``t − p`` for the position term); see
    :func:`referee.ranking.fit.score_meat`."""
    t, keep = targets(cells, ties)
    p = 1.0 / (1.0 + np.exp(-(theta[cells.a] - theta[cells.b] + h)))
    g0 = np.where(keep, t - p, 0.0)
    g = np.column_stack([g0, g0]) if home else g0[:, None]
    return score_meat(cells.a, cells.b, cells.n_models, g, cells.score_weights())

"""Tie-aware paired-comparison models fitted on aggregated cells.

* **Davidson** (1970, JASA 65:317–328): with strengths ``π = exp(θ)``

  ``P(a) = π_a / (π_a + π_b + ν√(π_a π_b))``, ``P(tie) = ν√(π_a π_b) / (…)``.

* **Rao–Kupper** (1967, JASA 62:194–204): with ``θ_RK ≥ 1``

  ``P(a beats b) = π_a / (π_a + θ_RK π_b)``,
  ``P(tie) = (θ_RK² − 1) π_a π_b / ((π_a + θ_RK π_b)(π_b + θ_RK π_a))``.

  This is the cumulative-logit model ``P(Y ≤ k) = σ(c_k − (θ_a − θ_b))`` with the two
  cut-points ``∓ log θ_RK`` (see :mod:`referee.rank.graded`).

Both take an optional first-position (home) advantage ``γ = exp(h)`` multiplying the
strength of the model shown first (Davidson & Beaver 1977): ``θ_a − θ_b`` becomes
``θ_a − θ_b + h``.  ``tie (bothbad)`` counts as a tie.

The module also holds the shared machinery: a damped Newton solver on cells for any
model whose per-cell log-likelihood depends on ``d = θ_a − θ_b (+ h)`` and a few global
nuisance parameters ``φ`` (:func:`newton_cells`), and the per-cell log-likelihood
terms of the Davidson and cumulative-logit families with analytic derivatives.
All models here have log-likelihoods that are jointly concave in their parameters
(the Davidson model in ``(θ, log ν)``; cumulative logit in ``(θ, cut-points)``,
Pratt 1981), so Newton with step halving converges to the global maximum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit, logsumexp

from referee.rank.cells import Cells
from referee.rank.fit import Fit, centre, sandwich
from referee.schema import A_WINS, B_WINS

#: per-cell terms: (d, phi, derivs) -> (loglik (K,), grad (K, 1+q), hess (K, 1+q, 1+q)),
#: derivatives taken with respect to the local parameters (d, φ_1, …, φ_q).
Terms = Callable[[np.ndarray, np.ndarray, bool], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]


# ----------------------------------------------------------------------------- per-cell terms
def softmax_terms(
    d: np.ndarray, phi: np.ndarray, cat: np.ndarray, design: np.ndarray, derivs: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Log-probabilities of a multinomial logit whose utilities are linear in (d, φ).

    ``u_c = design[c] · (d, φ)`` and ``P(c) = softmax(u)_c``; ``cat`` is each cell's
    category.  Gradient ``Aᵀ(e_y − p)``, Hessian ``−Aᵀ(diag p − p pᵀ)A`` (A = design).
    """
    k = d.shape[0]
    local = np.empty((k, design.shape[1]))
    local[:, 0] = d
    local[:, 1:] = phi
    u = local @ design.T
    lse = logsumexp(u, axis=1)
    rows = np.arange(k)
    ll = u[rows, cat] - lse
    if not derivs:
        return ll, None, None
    p = np.exp(u - lse[:, None])
    resid = -p
    resid[rows, cat] += 1.0
    grad = resid @ design
    pa = p @ design  # (K, 1+q): Σ_c p_c A_c
    q1 = design.shape[1]
    outer = (design[:, :, None] * design[:, None, :]).reshape(design.shape[0], q1 * q1)
    hess = pa[:, :, None] * pa[:, None, :] - (p @ outer).reshape(k, q1, q1)
    return ll, grad, hess


def cumulative_terms(
    d: np.ndarray,
    phi: np.ndarray,
    cat: np.ndarray,
    cut_matrix: np.ndarray,
    cut_offset: np.ndarray,
    derivs: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Cumulative-logit log-probabilities ``log[σ(c_j − d) − σ(c_{j−1} − d)]``.

    Category ``j`` of ``J`` lies between cut-points ``c_{j−1} < c_j`` (``c_0 = −∞``,
    ``c_J = +∞``) with ``c = cut_matrix @ φ + cut_offset``.  Uses the stable form
    ``σ(h) − σ(l) = σ(h) σ(−l) (1 − e^{l−h})``.  Cut-points out of order give −inf.
    """
    cuts = cut_matrix @ phi + cut_offset
    k = d.shape[0]
    if np.any(np.diff(cuts) <= 0):
        return np.full(k, -np.inf), None, None
    cpad = np.concatenate([[-np.inf], cuts, [np.inf]])
    hi = cpad[cat + 1] - d
    lo = cpad[cat] - d
    den = -np.expm1(lo - hi)
    ll = log_expit(hi) + log_expit(-lo) + np.log(den)
    if not derivs:
        return ll, None, None
    s_hi, s_lo = expit(hi), expit(lo)
    r_hi = expit(-hi) / (expit(-lo) * den)  # f(hi)/D
    r_lo = s_lo / (s_hi * den)  # f(lo)/D
    q = cut_matrix.shape[1]
    cmat = np.vstack([np.zeros((1, q)), cut_matrix, np.zeros((1, q))])
    jac = np.empty((k, 2, 1 + q))  # d(hi, lo)/d(d, φ)
    jac[:, :, 0] = -1.0
    jac[:, 0, 1:] = cmat[cat + 1]
    jac[:, 1, 1:] = cmat[cat]
    lz = np.stack([r_hi, -r_lo], axis=1)
    lzz = np.empty((k, 2, 2))
    lzz[:, 0, 0] = r_hi * (1.0 - 2.0 * s_hi) - r_hi**2
    lzz[:, 1, 1] = -r_lo * (1.0 - 2.0 * s_lo) - r_lo**2
    lzz[:, 0, 1] = lzz[:, 1, 0] = r_hi * r_lo
    jac_t = jac.transpose(0, 2, 1)
    grad = np.matmul(jac_t, lz[:, :, None])[:, :, 0]
    hess = np.matmul(jac_t, np.matmul(lzz, jac))
    return ll, grad, hess


# ----------------------------------------------------------------------------- assembly
def _laplacian(a: np.ndarray, b: np.ndarray, m: int, c: np.ndarray) -> np.ndarray:
    """Σ_k c_k (e_a − e_b)(e_a − e_b)ᵀ via bincount (no dense design matrix)."""
    off = np.bincount(a * m + b, weights=c, minlength=m * m).reshape(m, m)
    lap = -(off + off.T)
    lap[np.diag_indices(m)] += np.bincount(a, weights=c, minlength=m) + np.bincount(b, weights=c, minlength=m)
    return lap


def _signed(a: np.ndarray, b: np.ndarray, m: int, c: np.ndarray) -> np.ndarray:
    """Σ_k c_k (e_a − e_b)."""
    return np.bincount(a, weights=c, minlength=m) - np.bincount(b, weights=c, minlength=m)


def assemble_matrix(a: np.ndarray, b: np.ndarray, m: int, q: np.ndarray) -> np.ndarray:
    """Global (M+r)² matrix from per-cell (1+r)² blocks over (d, ξ), where ∂d/∂θ = e_a − e_b."""
    r = q.shape[1] - 1
    out = np.empty((m + r, m + r))
    out[:m, :m] = _laplacian(a, b, m, q[:, 0, 0])
    for j in range(r):
        col = _signed(a, b, m, q[:, 0, 1 + j])
        out[:m, m + j] = col
        out[m + j, :m] = col
    out[m:, m:] = q[:, 1:, 1:].sum(axis=0)
    return out


def assemble_vector(a: np.ndarray, b: np.ndarray, m: int, g: np.ndarray) -> np.ndarray:
    """Global gradient from per-cell gradients over (d, ξ)."""
    return np.concatenate([_signed(a, b, m, g[:, 0]), g[:, 1:].sum(axis=0)])


def mle_exists(a: np.ndarray, b: np.ndarray, y: np.ndarray, m: int) -> bool:
    """Ford's (1957) condition: the digraph with an edge winner → loser (both ways for a
    tie) is strongly connected; otherwise some strength runs off to ±∞."""
    src = np.concatenate([np.where(y == B_WINS, b, a), b[y >= 2]])
    dst = np.concatenate([np.where(y == B_WINS, a, b), a[y >= 2]])
    g = coo_matrix((np.ones(src.size), (src, dst)), shape=(m, m))
    return int(connected_components(g, directed=True, connection="strong")[0]) == 1


def solve_step(info: np.ndarray, grad: np.ndarray, m: int) -> np.ndarray:
    """Newton step with the shift direction of θ completed (and a tiny ridge for safety)."""
    scale = max(1.0, float(np.abs(np.diag(info)).max()))
    sys = info.copy()
    sys[:m, :m] += scale / m
    sys[np.diag_indices_from(sys)] += 1e-10 * scale
    try:
        return np.linalg.solve(sys, grad)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(sys, grad, rcond=None)[0]


def safe_sandwich(info: np.ndarray, score_cov: np.ndarray, m: int, identified: bool) -> np.ndarray | None:
    """``fit.sandwich`` when the parameters are identified and the result is finite, else None."""
    if not identified:
        return None
    try:
        cov = sandwich(info, score_cov, m)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None


# ----------------------------------------------------------------------------- Newton on cells
def line_search(
    objective: Callable[[np.ndarray], float], x: np.ndarray, f: float, step: np.ndarray, m: int
) -> tuple[np.ndarray | None, float, float]:
    """Step halving until the (concave) objective does not decrease; θ re-centred."""
    t = 1.0
    while t > 1e-12:
        x_new = x + t * step
        x_new[:m] = centre(x_new[:m])
        f_new = objective(x_new)
        if f_new >= f - 1e-12 * (1.0 + abs(f)):
            return x_new, f_new, t
        t *= 0.5
    return None, f, 0.0


@dataclass
class Solution:
    """Raw result of :func:`newton_cells`: θ (centred) then ξ = (h?, φ)."""

    params: np.ndarray
    cov: np.ndarray | None
    loglik: float
    iterations: int
    converged: bool


def newton_cells(
    cells: Cells,
    terms: Terms,
    phi0: np.ndarray,
    *,
    home: bool = False,
    prior: float = 0.0,
    max_iter: int = 200,
    gtol: float = 1e-9,
) -> Solution:
    """Maximise ``Σ_k w_k ℓ(d_k, φ) − ½·prior·‖θ‖²`` over (θ, h, φ), ``d_k = θ_a − θ_b + h``.

    ``terms(d, phi, derivs)`` returns per-cell log-likelihoods and their derivatives in
    (d, φ); ``cells`` must hold positive weights only (``cells.select(cells.w > 0)``).
    Damped Newton with step halving; stops when the gradient sup-norm is ≤ ``gtol``
    (floored at 1e-14·Σw, the rounding level) or the step vanishes.  The covariance is
    the sandwich ``H⁻¹JH⁻¹`` with per-cell scores ``J = Σ_k (w_k²/n_k) u_k u_kᵀ``.
    Without a prior, when the MLE does not exist (a model never loses or never wins,
    or the graph is disconnected) the iterate stays finite but ``converged`` is False
    and ``cov`` None.
    """
    m = cells.n_models
    a, b, w = cells.a, cells.b, cells.w
    q = len(phi0)
    idx = np.r_[0, 0, 1 : q + 1] if home else np.arange(q + 1)
    x = np.concatenate([np.zeros(m), np.zeros(int(home)), np.asarray(phi0, dtype=float)])
    tol = max(gtol, 1e-14 * float(w.sum()))

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = x[:m][a] - x[:m][b]
        if home:
            d = d + x[m]
        return d, x[m + int(home) :]

    def objective(x: np.ndarray) -> float:
        d, phi = unpack(x)
        ll = terms(d, phi, False)[0]
        val = float(w @ ll) - 0.5 * prior * float(x[:m] @ x[:m])
        return val if np.isfinite(val) else -np.inf

    def derivatives(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d, phi = unpack(x)
        _, g, h = terms(d, phi, True)
        g, h = g[:, idx], h[:, idx][:, :, idx]
        grad = assemble_vector(a, b, m, w[:, None] * g)
        grad[:m] -= prior * x[:m]
        info = assemble_matrix(a, b, m, -w[:, None, None] * h)
        info[np.diag_indices(m)] += prior
        return grad, info, g

    f = objective(x)
    converged, it = False, 0
    while it < max_iter:
        it += 1
        grad, info, _ = derivatives(x)
        if np.abs(grad).max() <= tol:
            converged = True
            break
        step = solve_step(info, grad, m)
        x_new, f_new, t = line_search(objective, x, f, step, m)
        if x_new is None:
            break
        x, f = x_new, f_new
        if np.abs(t * step).max() < 1e-13:
            converged = True
            break
    grad, info, g = derivatives(x)
    nn = np.where(cells.n > 0, cells.n, 1.0)
    u = g * (w / np.sqrt(nn))[:, None]
    score_cov = assemble_matrix(a, b, m, u[:, :, None] * u[:, None, :])
    identified = prior > 0 or mle_exists(a, b, cells.y, m)
    converged = converged and identified
    cov = safe_sandwich(info, score_cov, m, identified)
    x[:m] = centre(x[:m])
    loglik = f + 0.5 * prior * float(x[:m] @ x[:m])
    return Solution(params=x, cov=cov, loglik=loglik, iterations=it, converged=converged)


def _se(cov: np.ndarray | None, i: int) -> float:
    return float(np.sqrt(max(cov[i, i], 0.0))) if cov is not None else float("nan")


def to_fit(
    cells: Cells, sol: Solution, names: list[str], method: str, home: bool
) -> tuple[Fit, dict[str, float], dict[str, float]]:
    """Wrap a :class:`Solution` into a :class:`Fit`; ``names`` label φ.  Returns the raw
    φ estimates and SEs (natural scale) for the caller to transform."""
    m = cells.n_models
    theta = sol.params[:m].copy()
    cov = None if sol.cov is None else sol.cov[:m, :m]
    extra: dict[str, float] = {}
    extra_se: dict[str, float] = {}
    pos = m
    if home:
        extra["first_position"] = float(sol.params[pos])
        extra_se["first_position"] = _se(sol.cov, pos)
        pos += 1
    raw = {nm: float(sol.params[pos + i]) for i, nm in enumerate(names)}
    raw_se = {nm: _se(sol.cov, pos + i) for i, nm in enumerate(names)}
    fit = Fit(models=cells.models, theta=theta, cov=cov, extra=extra, extra_se=extra_se,
              loglik=sol.loglik, iterations=sol.iterations, converged=sol.converged, method=method)
    return fit, raw, raw_se


def tie_share(cells: Cells) -> float:
    """Weighted share of ties (either tie label) among the cells."""
    tot = float(cells.w.sum())
    return float(cells.w[cells.y >= 2].sum()) / tot if tot > 0 else 0.0


# ----------------------------------------------------------------------------- Davidson
_DAVIDSON_TIES = np.array([[0.5, 0.0], [-0.5, 0.0], [0.0, 1.0]])
_DAVIDSON_NO_TIES = np.array([[0.5], [-0.5]])


def fit_davidson(cells: Cells, home: bool = False, prior: float = 0.0) -> Fit:
    """Davidson (1970) tie model, by maximum likelihood on cells.

    ``P(a) = π_a / (π_a + π_b + ν√(π_aπ_b))``, ``P(b)`` likewise, ``P(tie) = ν√(π_aπ_b)/(…)``
    with ``π = exp(θ)`` (times ``γ = exp(h)`` on the shown-first model when ``home``).
    Reports ``extra["tie_parameter"] = ν`` (SE by the delta method from log ν) and
    ``extra["first_position"] = h``.  Without ties ν is fixed at 0 (plain Bradley–Terry,
    SE nan).  ``prior`` adds ``−½·prior·‖θ‖²`` (keeps degenerate data finite).
    """
    cells = cells.select(cells.w > 0)
    t = tie_share(cells)
    cat = np.where(cells.y >= 2, 2, np.where(cells.y == A_WINS, 0, 1))
    has_ties = t > 0
    design = _DAVIDSON_TIES if has_ties else _DAVIDSON_NO_TIES
    phi0 = np.array([np.log(2 * min(t, 0.999) / (1 - min(t, 0.999)))]) if has_ties else np.zeros(0)

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> tuple:
        return softmax_terms(d, phi, cat, design, derivs)

    sol = newton_cells(cells, terms, phi0, home=home, prior=prior)
    fit, raw, raw_se = to_fit(cells, sol, ["log_nu"] if has_ties else [], "davidson", home)
    if has_ties:
        nu = float(np.exp(raw["log_nu"]))
        fit.extra["tie_parameter"], fit.extra_se["tie_parameter"] = nu, nu * raw_se["log_nu"]
    else:
        fit.extra["tie_parameter"], fit.extra_se["tie_parameter"] = 0.0, float("nan")
    return fit


# ----------------------------------------------------------------------------- Rao–Kupper
def fit_rao_kupper(cells: Cells, home: bool = False, prior: float = 0.0) -> Fit:
    """Rao–Kupper (1967) tie model, by maximum likelihood on cells.

    ``P(a beats b) = π_a/(π_a + θ_RK π_b)``, ``P(tie) = (θ_RK² − 1)π_aπ_b/((π_a + θ_RK π_b)(π_b + θ_RK π_a))``,
    ``θ_RK ≥ 1``; equivalently ``P(a) = σ(d − τ)``, ``P(b) = σ(−d − τ)`` with ``τ = log θ_RK``
    and ``d = θ_a − θ_b (+ h)``.  Reports ``extra["tie_parameter"] = θ_RK`` (delta-method SE)
    and ``extra["first_position"] = h``.  Without ties θ_RK is fixed at 1 (SE nan).
    """
    cells = cells.select(cells.w > 0)
    t = tie_share(cells)
    has_ties = t > 0
    if has_ties:
        cat = np.where(cells.y >= 2, 1, np.where(cells.y == B_WINS, 0, 2))
        cmat, c0 = np.array([[-1.0], [1.0]]), np.zeros(2)
        phi0 = np.array([2.0 * np.arctanh(min(t, 0.999))])
    else:
        cat = np.where(cells.y == B_WINS, 0, 1)
        cmat, c0, phi0 = np.zeros((1, 0)), np.zeros(1), np.zeros(0)

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> tuple:
        return cumulative_terms(d, phi, cat, cmat, c0, derivs)

    sol = newton_cells(cells, terms, phi0, home=home, prior=prior)
    fit, raw, raw_se = to_fit(cells, sol, ["tau"] if has_ties else [], "rao_kupper", home)
    if has_ties:
        th = float(np.exp(raw["tau"]))
        fit.extra["tie_parameter"], fit.extra_se["tie_parameter"] = th, th * raw_se["tau"]
    else:
        fit.extra["tie_parameter"], fit.extra_se["tie_parameter"] = 1.0, float("nan")
    return fit

"""Tie-aware paired-comparison models fitted on aggregated cells.

* **Davidson** (1970, JASA 65:317–328): with strengths ``π = exp(θ)``

  ``P(a) = π_a / (π_a + π_b + ν√(π_a π_b))``, ``P(tie) = ν√(π_a π_b) / (…)``.

* **Rao–Kupper** (1967, JASA 62:194–204): with ``θ_RK ≥ 1``

  ``P(a beats b) = π_a / (π_a + θ_RK π_b)``,
  ``P(tie) = (θ_RK² − 1) π_a π_b / ((π_a + θ_RK π_b)(π_b + θ_RK π_a))``.

  This is the cumulative-logit model ``P(Y ≤ k) = σ(c_k − (θ_a − θ_b))`` with the two
  cut-points ``∓ log θ_RK`` (see :mod:`referee.ranking.graded`).

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
from scipy.special import expit

from referee.ranking.cells import Cells
from referee.ranking.fit import Fit, centre, model_cov, sandwich, score_meat
from referee.schema import A_WINS, B_WINS

#: per-cell terms: (d, phi, derivs) -> (loglik (K,), grad (K, 1+q), hess (K, 1+q, 1+q)),
#: derivatives taken with respect to the local parameters (d, φ_1, …, φ_q).
#: per-cell log-likelihoods, and (when asked for) their first and second derivatives in (d, φ)
TermValues = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]
Terms = Callable[[np.ndarray, np.ndarray, bool], TermValues]


# ----------------------------------------------------------------------------- per-cell terms
def _symmetric(k: int, n: int, entry: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """(k, n, n) array from its upper-triangle entries ``entry(s, t)``, s ≤ t (1-D each)."""
    out = np.empty((k, n, n))
    for s in range(n):
        for t in range(s, n):
            out[:, s, t] = out[:, t, s] = entry(s, t)
    return out


def softmax_terms(
    d: np.ndarray, phi: np.ndarray, cat: np.ndarray, design: np.ndarray, derivs: bool = True
) -> TermValues:
    """Log-probabilities of a multinomial logit whose utilities are linear in (d, φ).

    ``u_c = design[c] · (d, φ)`` and ``P(c) = softmax(u)_c``; ``cat`` is each cell's
    category.  Gradient ``Aᵀ(e_y − p)``, Hessian ``−Aᵀ(diag p − p pᵀ)A`` (A = design).
    Computed one category column at a time: products with a tiny inner dimension are
    slow in numpy, and this runs per row for the style-controlled fits.
    """
    k = d.shape[0]
    n_cat, q1 = design.shape
    base = design[:, 1:] @ phi
    u = [design[c, 0] * d + base[c] for c in range(n_cat)]
    top = u[0].copy()
    for uc in u[1:]:
        np.maximum(top, uc, out=top)
    e = [np.exp(uc - top) for uc in u]
    tot = e[0].copy()
    for ec in e[1:]:
        tot += ec
    ll = design[cat, 0] * d + base[cat] - top - np.log(tot)
    if not derivs:
        return ll, None, None
    p = [ec / tot for ec in e]

    def moment(cols: tuple[int, ...]) -> np.ndarray:
        """Σ_c p_c Π_{s ∈ cols} A_cs."""
        acc = np.zeros(k)
        for c in range(n_cat):
            coef = float(np.prod(design[c, list(cols)]))
            if coef:
                acc += coef * p[c]
        return acc

    mean = [moment((s,)) for s in range(q1)]
    grad = np.empty((k, q1))
    for s in range(q1):
        grad[:, s] = design[cat, s] - mean[s]
    hess = _symmetric(k, q1, lambda s, t: mean[s] * mean[t] - moment((s, t)))
    return ll, grad, hess


def _log_expit(x: np.ndarray) -> np.ndarray:
    """``log σ(x)``, stable for any x including ±inf (faster than scipy's ``log_expit``)."""
    result: np.ndarray = -(np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0.0))
    return result


def cumulative_terms(
    d: np.ndarray,
    phi: np.ndarray,
    cat: np.ndarray,
    cut_matrix: np.ndarray,
    cut_offset: np.ndarray,
    derivs: bool = True,
) -> TermValues:
    """Cumulative-logit log-probabilities ``log[σ(c_j − d) − σ(c_{j−1} − d)]``.

    Category ``j`` of ``J`` lies between cut-points ``c_{j−1} < c_j`` (``c_0 = −∞``,
    ``c_J = +∞``) with ``c = cut_matrix @ φ + cut_offset``.  Uses the stable form
    ``σ(h) − σ(l) = σ(h) σ(−l) (1 − e^{l−h})``.  Cut-points out of order give −inf.
    Derivatives by the chain rule through ``(hi, lo) = (c_j − d, c_{j−1} − d)``, one
    parameter column at a time.
    """
    cuts = cut_matrix @ phi + cut_offset
    k = d.shape[0]
    if np.any(np.diff(cuts) <= 0):
        return np.full(k, -np.inf), None, None
    cpad = np.concatenate([[-np.inf], cuts, [np.inf]])
    hi = cpad[cat + 1] - d
    lo = cpad[cat] - d
    den = -np.expm1(lo - hi)
    ll = _log_expit(hi) + _log_expit(-lo) + np.log(den)
    if not derivs:
        return ll, None, None
    s_hi, s_lo = expit(hi), expit(lo)
    r_hi = expit(-hi) / (expit(-lo) * den)  # f(hi)/D
    r_lo = s_lo / (s_hi * den)  # f(lo)/D
    q = cut_matrix.shape[1]
    cmat = np.vstack([np.zeros((1, q)), cut_matrix, np.zeros((1, q))])
    # d(hi)/d(d, φ) and d(lo)/d(d, φ), column by column
    j_hi = [-1.0, *(cmat[cat + 1, s] for s in range(q))]
    j_lo = [-1.0, *(cmat[cat, s] for s in range(q))]
    l_hh = r_hi * (1.0 - 2.0 * s_hi) - r_hi**2
    l_ll = -r_lo * (1.0 - 2.0 * s_lo) - r_lo**2
    l_hl = r_hi * r_lo
    grad = np.empty((k, 1 + q))
    for s in range(1 + q):
        grad[:, s] = j_hi[s] * r_hi - j_lo[s] * r_lo
    v_hi = [l_hh * j_hi[t] + l_hl * j_lo[t] for t in range(1 + q)]
    v_lo = [l_hl * j_hi[t] + l_ll * j_lo[t] for t in range(1 + q)]
    hess = _symmetric(k, 1 + q, lambda s, t: j_hi[s] * v_hi[t] + j_lo[s] * v_lo[t])
    return ll, grad, hess


# ----------------------------------------------------------------------------- assembly
def laplacian(a: np.ndarray, b: np.ndarray, m: int, c: np.ndarray) -> np.ndarray:
    """Σ_k c_k (e_a − e_b)(e_a − e_b)ᵀ via bincount (no dense design matrix)."""
    off = np.bincount(a * m + b, weights=c, minlength=m * m).reshape(m, m)
    lap = -(off + off.T)
    lap[np.diag_indices(m)] += np.bincount(a, weights=c, minlength=m) + np.bincount(b, weights=c, minlength=m)
    return lap


def signed_sum(a: np.ndarray, b: np.ndarray, m: int, c: np.ndarray) -> np.ndarray:
    """Σ_k c_k (e_a − e_b)."""
    return np.bincount(a, weights=c, minlength=m) - np.bincount(b, weights=c, minlength=m)


def assemble_matrix(a: np.ndarray, b: np.ndarray, m: int, q: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """Global matrix from per-observation (1+r)² blocks ``q`` over the local (d, ξ).

    ``∂d/∂θ = e_a − e_b``; with per-observation covariates ``z`` (K × p) the linear
    predictor is ``d = θ_a − θ_b + zᵀβ`` and the parameters are (θ, β, ξ), so the
    result is (M+p+r)²: the θ block a bincount Laplacian, θ–(β, ξ) one bincount per
    column, the rest dense and small.  Never forms a K×M design matrix.
    """
    p = 0 if z is None else z.shape[1]
    r = q.shape[1] - 1
    out = np.empty((m + p + r, m + p + r))
    qdd = q[:, 0, 0]
    out[:m, :m] = laplacian(a, b, m, qdd)
    zq = None if z is None else z * qdd[:, None]  # keeps z's (column-major) layout
    cross = [*(() if zq is None else zq.T), *q[:, 0, 1:].T]
    for j, col in enumerate(cross):
        out[:m, m + j] = out[m + j, :m] = signed_sum(a, b, m, col)
    if z is not None:
        out[m : m + p, m : m + p] = z.T @ zq
        out[m : m + p, m + p :] = z.T @ q[:, 0, 1:]
        out[m + p :, m : m + p] = out[m : m + p, m + p :].T
    out[m + p :, m + p :] = q[:, 1:, 1:].sum(axis=0)
    return out


def assemble_vector(a: np.ndarray, b: np.ndarray, m: int, g: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """Global gradient from per-observation gradients over the local (d, ξ); ``z`` as in
    :func:`assemble_matrix`."""
    parts = [signed_sum(a, b, m, g[:, 0])]
    if z is not None:
        parts.append(z.T @ g[:, 0])
    parts.append(g[:, 1:].sum(axis=0))
    return np.concatenate(parts)


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
        result: np.ndarray = np.linalg.lstsq(sys, grad, rcond=None)[0]
        return result


def _finite(cov: np.ndarray) -> np.ndarray | None:
    return cov if np.all(np.isfinite(cov)) else None


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


def newton_loop(
    objective: Callable[[np.ndarray], float],
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    x: np.ndarray,
    m: int,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, float, int, bool]:
    """Damped Newton on a concave objective whose first ``m`` parameters are strengths:
    ``derivatives(x)`` gives (gradient, information, …).  Stops when the gradient
    sup-norm is ≤ ``tol`` or the step vanishes.  Returns (x, f(x), iterations, converged)."""
    f = objective(x)
    for it in range(1, max_iter + 1):
        grad, info, _ = derivatives(x)
        if np.abs(grad).max() <= tol:
            return x, f, it, True
        step = solve_step(info, grad, m)
        x_new, f_new, t = line_search(objective, x, f, step, m)
        if x_new is None:
            return x, f, it, False
        x, f = x_new, f_new
        if np.abs(t * step).max() < 1e-13:
            return x, f, it, True
    return x, f, max_iter, False


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
    theta0: np.ndarray | None = None,
) -> Solution:
    """Maximise ``Σ_k w_k ℓ(d_k, φ) − ½·prior·‖θ‖²`` over (θ, h, φ), ``d_k = θ_a − θ_b + h``.

    ``terms(d, phi, derivs)`` returns per-cell log-likelihoods and their derivatives in
    (d, φ); ``cells`` must hold positive weights only (``cells.select(cells.w > 0)``).
    Damped Newton with step halving; stops when the gradient sup-norm is ≤ ``gtol``
    (floored at 1e-14·Σw, the rounding level) or the step vanishes.  The covariance is
    the sandwich ``H⁻¹JH⁻¹`` with the scores summed per unit (row or cluster:
    :func:`referee.ranking.fit.score_meat`); with a prior, the Laplace covariance ``H⁻¹``.
    Without a prior, when the MLE does not exist (a model never loses or never wins,
    or the graph is disconnected) the iterate stays finite but ``converged`` is False
    and ``cov`` None.
    """
    m = cells.n_models
    a, b, w = cells.a, cells.b, cells.w
    q = len(phi0)
    idx = np.r_[0, 0, 1 : q + 1] if home else np.arange(q + 1)
    start = np.zeros(m) if theta0 is None else centre(np.asarray(theta0, dtype=float))
    x = np.concatenate([start, np.zeros(int(home)), np.asarray(phi0, dtype=float)])
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
        assert g is not None and h is not None  # derivs=True: the terms return both derivatives
        g, h = g[:, idx], h[:, idx][:, :, idx]
        grad = assemble_vector(a, b, m, w[:, None] * g)
        grad[:m] -= prior * x[:m]
        info = assemble_matrix(a, b, m, -w[:, None, None] * h)
        info[np.diag_indices(m)] += prior
        return grad, info, g

    x, f, it, converged = newton_loop(objective, derivatives, x, m, max_iter, tol)
    _, info, g = derivatives(x)
    identified = prior > 0 or mle_exists(a, b, cells.y, m)
    converged = converged and identified
    if prior > 0:
        cov = _finite(model_cov(info, m))
    else:
        cov = safe_sandwich(info, score_meat(a, b, m, g, cells.score_weights()), m, identified)
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


def tie_share(y: np.ndarray, w: np.ndarray) -> float:
    """Weighted share of ties (either tie label) among outcome codes ``y``."""
    tot = float(w.sum())
    return float(w[y >= 2].sum()) / tot if tot > 0 else 0.0


@dataclass(frozen=True)
class TieModel:
    """A tie model bound to outcome codes: its per-observation ``terms`` in (d, φ), the
    start ``phi0``, and how φ is reported.  ``param`` names the log tie parameter in φ;
    without ties in the data it is None and the tie parameter is fixed at ``fixed``."""

    terms: Terms
    phi0: np.ndarray
    method: str
    param: str | None
    fixed: float

    @property
    def names(self) -> list[str]:
        return [] if self.param is None else [self.param]

    def report(self, fit: Fit, raw: dict[str, float], raw_se: dict[str, float]) -> None:
        """Set ``extra["tie_parameter"]`` (exp of the log parameter, delta-method SE)."""
        if self.param is None:
            value, se = self.fixed, float("nan")
        else:
            value = float(np.exp(raw[self.param]))
            se = value * raw_se[self.param]
        fit.extra["tie_parameter"], fit.extra_se["tie_parameter"] = value, se


def _fit_cells(
    cells: Cells, model: Callable[[np.ndarray, np.ndarray], TieModel], home: bool, prior: float,
    theta0: np.ndarray | None = None,
) -> Fit:
    cells = cells.select(cells.w > 0)
    spec = model(cells.y, cells.w)
    sol = newton_cells(cells, spec.terms, spec.phi0, home=home, prior=prior, theta0=theta0)
    fit, raw, raw_se = to_fit(cells, sol, spec.names, spec.method, home)
    spec.report(fit, raw, raw_se)
    return fit


# ----------------------------------------------------------------------------- Davidson
_DAVIDSON_TIES = np.array([[0.5, 0.0], [-0.5, 0.0], [0.0, 1.0]])
_DAVIDSON_NO_TIES = np.array([[0.5], [-0.5]])


def davidson_model(y: np.ndarray, w: np.ndarray) -> TieModel:
    """Davidson terms for outcome codes ``y`` (weights ``w`` set the start of log ν):
    utilities ``(d/2, −d/2, log ν)`` for (a wins, b wins, tie), i.e.
    ``P(a) = e^{d/2} / (e^{d/2} + e^{−d/2} + ν)``."""
    t = tie_share(y, w)
    cat = np.where(y >= 2, 2, np.where(y == A_WINS, 0, 1))
    has_ties = t > 0
    design = _DAVIDSON_TIES if has_ties else _DAVIDSON_NO_TIES
    phi0 = np.array([np.log(2 * min(t, 0.999) / (1 - min(t, 0.999)))]) if has_ties else np.zeros(0)

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> TermValues:
        return softmax_terms(d, phi, cat, design, derivs)

    return TieModel(terms, phi0, "davidson", "log_nu" if has_ties else None, 0.0)


def fit_davidson(cells: Cells, home: bool = False, prior: float = 0.0, theta0: np.ndarray | None = None) -> Fit:
    """Davidson (1970) tie model, by maximum likelihood on cells.

    ``P(a) = π_a / (π_a + π_b + ν√(π_aπ_b))``, ``P(b)`` likewise, ``P(tie) = ν√(π_aπ_b)/(…)``
    with ``π = exp(θ)`` (times ``γ = exp(h)`` on the shown-first model when ``home``).
    Reports ``extra["tie_parameter"] = ν`` (SE by the delta method from log ν) and
    ``extra["first_position"] = h``.  Without ties ν is fixed at 0 (plain Bradley–Terry,
    SE nan).  ``prior`` adds ``−½·prior·‖θ‖²`` (keeps degenerate data finite); ``theta0``
    starts Newton there (a bootstrap round starts at the full-data fit).
    """
    return _fit_cells(cells, davidson_model, home, prior, theta0)


# ----------------------------------------------------------------------------- Rao–Kupper
def rao_kupper_model(y: np.ndarray, w: np.ndarray) -> TieModel:
    """Rao–Kupper terms for outcome codes ``y``: cumulative logit over (b wins, tie,
    a wins) with cut-points ``∓τ``, ``τ = log θ_RK``, so ``P(a) = σ(d − τ)``."""
    t = tie_share(y, w)
    has_ties = t > 0
    if has_ties:
        cat = np.where(y >= 2, 1, np.where(y == B_WINS, 0, 2))
        cmat, c0 = np.array([[-1.0], [1.0]]), np.zeros(2)
        phi0 = np.array([2.0 * np.arctanh(min(t, 0.999))])
    else:
        cat = np.where(y == B_WINS, 0, 1)
        cmat, c0, phi0 = np.zeros((1, 0)), np.zeros(1), np.zeros(0)

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> TermValues:
        return cumulative_terms(d, phi, cat, cmat, c0, derivs)

    return TieModel(terms, phi0, "rao_kupper", "tau" if has_ties else None, 1.0)


def fit_rao_kupper(cells: Cells, home: bool = False, prior: float = 0.0, theta0: np.ndarray | None = None) -> Fit:
    """Rao–Kupper (1967) tie model, by maximum likelihood on cells.

    ``P(a beats b) = π_a/(π_a + θ_RK π_b)``, ``P(tie) = (θ_RK² − 1)π_aπ_b/((π_a + θ_RK π_b)(π_b + θ_RK π_a))``,
    ``θ_RK ≥ 1``; equivalently ``P(a) = σ(d − τ)``, ``P(b) = σ(−d − τ)`` with ``τ = log θ_RK``
    and ``d = θ_a − θ_b (+ h)``.  Reports ``extra["tie_parameter"] = θ_RK`` (delta-method SE)
    and ``extra["first_position"] = h``.  Without ties θ_RK is fixed at 1 (SE nan).
    """
    return _fit_cells(cells, rao_kupper_model, home, prior, theta0)

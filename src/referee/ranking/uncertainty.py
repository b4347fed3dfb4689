"""Confidence intervals, rank intervals and win-probability matrices.

* **Sandwich** (robust, Huber 1967 / White 1982): Cov(θ̂) = H⁻¹ J H⁻¹ with H the
  observed information and J the summed outer products of per-*unit* scores — a unit is
  a row (each row with its own weight; a soft verdict is one row), or with ``cluster``
  all rows of one prompt / voter / pair (cluster-robust, Liang & Zeger 1986); see
  :mod:`referee.ranking.cells`.  Valid even when the model is misspecified (ties scored ½).
  Intervals θ̂ ± z·se.
* **Penalised fits** (a model never wins or never loses): the Laplace covariance ``H⁻¹``
  of the MAP fit under the stated prior (:mod:`referee.ranking.bt`).
* **Bootstrap** (Efron 1979): the units are resampled through :mod:`referee.resample`
  (multinomial counts over merged identical rows — exactly the row bootstrap — or
  cluster multiplicities), a round's cell weights are ``multiplicities @ U``.  For plain
  Bradley–Terry the rounds of a chunk are refitted together by batched Newton steps
  warm-started at the full-data fit.  A resample in which some model never wins or
  never loses is refitted with the same prior as a separated full-data fit (counted as
  ``penalised``); one that leaves a model without any battle is dropped (counted as
  ``failed``).  Percentile intervals over the remaining rounds.
* **Contrasts**: every interval is computed for the estimand printed — θᵢ − mean θ by
  default, θᵢ − θ_anchor with ``--anchor`` (the anchor itself is then exact): from the
  covariance ``Var(θᵢ − θₐ) = Σᵢᵢ + Σₐₐ − 2Σᵢₐ``, or from the bootstrap differences.
* **Rank intervals**: ``rank`` is Chatbot Arena's "rank (UB)", 1 + the number of
  models whose lower bound exceeds this model's upper bound; ``rank_low`` /
  ``rank_high`` come from *simultaneous* intervals (max-|z| calibration over all
  models: Hothorn et al. 2008), so all rank intervals hold jointly at the level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, ndtri

from referee.errors import InputError
from referee.ranking.bt import WEAK_PRIOR, fit_bt, targets
from referee.ranking.cells import Cells, group_rows
from referee.ranking.fit import Fit, centre
from referee.resample import Progress, chunk_seeds, draw_counts, percentile_interval, run_chunks


@dataclass
class Intervals:
    """Marginal intervals for centred θ (log-strength scale) plus what produced them."""

    method: str
    level: float
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    samples: np.ndarray | None = None  # (rounds used × M) centred θ, bootstrap only
    cov: np.ndarray | None = None  # covariance of centred θ, sandwich / Laplace only
    rounds: int | None = None
    seed: int | None = None
    cluster: str | None = None
    failed: int = 0  # bootstrap rounds dropped (a model without battles in the resample)
    penalised: int = 0  # bootstrap rounds refitted with the prior (a model never won or lost)


def sandwich_intervals(fit: Fit, level: float = 0.95) -> Intervals:
    """Wald intervals from the covariance of the fit (sandwich, or Laplace for a penalised fit)."""
    if fit.cov is None:
        raise InputError(
            f"the {fit.method!r} fit has no covariance on these comparisons (too few, or degenerate for its "
            "covariates): collect more, or use `ci='bootstrap'`",
            field="ci",
        )
    se = np.sqrt(np.clip(np.diag(fit.cov), 0.0, None))
    z = ndtri(0.5 + level / 2)
    return Intervals("sandwich", level, se, fit.theta - z * se, fit.theta + z * se, cov=fit.cov)


def percentile_intervals(fit: Fit, samples: np.ndarray, level: float = 0.95, **meta: Any) -> Intervals:
    """Percentile bootstrap intervals from centred bootstrap samples (NaN rows = failed rounds)."""
    ok = np.all(np.isfinite(samples), axis=1)
    used = samples[ok]
    lo, hi = percentile_interval(used, level)
    se = used.std(axis=0, ddof=1) if used.shape[0] > 1 else np.full(fit.theta.size, np.nan)
    meta.setdefault("failed", int((~ok).sum()))
    return Intervals("bootstrap", level, se, lo, hi, samples=used, **meta)


def contrast_intervals(
    fit: Fit, intervals: Intervals, ref: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(se, lower, upper) of θᵢ − θ_ref (``ref`` None: the centred θᵢ − mean θ as stored)."""
    if ref is None:
        return intervals.se, intervals.lower, intervals.upper
    est = fit.theta - fit.theta[ref]
    if intervals.samples is not None:
        diff = intervals.samples - intervals.samples[:, [ref]]
        lo, hi = percentile_interval(diff, intervals.level)
        se = diff.std(axis=0, ddof=1) if diff.shape[0] > 1 else np.full(est.size, np.nan)
        lo[ref] = hi[ref] = est[ref]
        # widen like the centred intervals were (separated data): keep their half-widths as a floor
        if intervals.method == "bootstrap+laplace" and intervals.cov is not None:
            lo2, hi2, _ = _wald_contrast(est, intervals.cov, ref, intervals.level)
            lo, hi = np.minimum(lo, lo2), np.maximum(hi, hi2)
        return se, lo, hi
    cov = intervals.cov if intervals.cov is not None else np.diag(intervals.se**2)
    lo, hi, se = _wald_contrast(est, cov, ref, intervals.level)
    return se, lo, hi


def _wald_contrast(est: np.ndarray, cov: np.ndarray, ref: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    var = np.diag(cov) + cov[ref, ref] - 2.0 * cov[:, ref]
    se = np.sqrt(np.clip(var, 0.0, None))
    se[ref] = 0.0
    z = ndtri(0.5 + level / 2)
    return est - z * se, est + z * se, se


def widen_to_laplace(intervals: Intervals, fit: Fit) -> Intervals:
    """Bootstrap intervals of a separated fit, widened to at least the Laplace intervals.

    When the full data already separate (a model never won or never lost), every resample
    separates too and the percentile interval collapses (a 5–0 record gives a zero-width
    interval); the prior-based Laplace interval is then the honest one, and the union of
    the two is reported.
    """
    if fit.cov is None:
        return intervals
    wald = sandwich_intervals(fit, intervals.level)
    intervals.lower = np.minimum(intervals.lower, wald.lower)
    intervals.upper = np.maximum(intervals.upper, wald.upper)
    intervals.se = np.maximum(intervals.se, wald.se)
    intervals.cov = fit.cov
    intervals.method = "bootstrap+laplace"
    return intervals


# ----------------------------------------------------------------------------- bootstrap on cells
@dataclass
class Rounds:
    """Bootstrap output: centred θ per round (NaN rows failed) and what happened."""

    samples: np.ndarray
    failed: int = 0
    penalised: int = 0


def _present(wc: np.ndarray, cells: Cells) -> np.ndarray:
    """(rounds × M) whether each model has any positive weight in the round."""
    m = cells.n_models
    to_a = sparse.csr_matrix((np.ones(cells.a.size), (np.arange(cells.a.size), cells.a)), shape=(cells.a.size, m))
    to_b = sparse.csr_matrix((np.ones(cells.b.size), (np.arange(cells.b.size), cells.b)), shape=(cells.b.size, m))
    return np.asarray((to_a.T @ wc.T + to_b.T @ wc.T).T) > 0


def bootstrap_bt(
    cells: Cells,
    fit: Fit,
    *,
    rounds: int = 1000,
    seed: int = 0,
    ties: str = "half",
    tol: float = 1e-9,
    max_iter: int = 100,
    quasi_iter: int = 12,
    chunk: int = 50,
    workers: int = 2,
    progress: Progress | None = None,
) -> Rounds:
    """Bootstrap samples of centred θ for plain Bradley–Terry (no position term).

    Units (rows or clusters, :meth:`Cells.unit_matrix`) are resampled; each chunk of
    rounds is refitted at once by batched Newton steps (warm-started at the full-data
    fit) until every round's step is below ``tol``; chunks run on ``workers`` threads
    with their own seeded streams (no processes are forked).  Separated rounds are
    refitted one by one with :data:`WEAK_PRIOR`; rounds leaving a model without battles
    are NaN.
    """
    m = cells.n_models
    units, unit_n = cells.unit_matrix()
    t, keep = targets(cells, ties)
    lo, hi = np.minimum(cells.a, cells.b), np.maximum(cells.a, cells.b)
    t_lo = np.where(cells.a == lo, t, 1.0 - t)
    pairs, pair_of_cell = np.unique(lo * m + hi, return_inverse=True)
    n_pair, k = pairs.size, cells.a.size
    to_w = sparse.csr_matrix((keep.astype(float), (np.arange(k), pair_of_cell)), shape=(k, n_pair))
    to_t = sparse.csr_matrix((keep * t_lo, (np.arange(k), pair_of_cell)), shape=(k, n_pair))
    a_w = (units @ to_w).tocsr()
    a_t = (units @ to_t).tocsr()
    a_w, a_t, unit_n, merged_cells = _merge_units(a_w, a_t, unit_n, units)
    pa, pb = pairs // m, pairs % m
    incid = sparse.csr_matrix(
        (np.r_[np.ones(n_pair), -np.ones(n_pair)], (np.r_[np.arange(n_pair), np.arange(n_pair)], np.r_[pa, pb])),
        shape=(n_pair, m),
    )
    absb = abs(incid)
    prior = fit.extra.get("prior_precision", 0.0)
    rows = np.repeat(np.arange(n_pair), 4)
    cols = np.stack([pa * m + pa, pb * m + pb, pa * m + pb, pb * m + pa], axis=1).ravel()
    lap = sparse.csr_matrix((np.tile([1.0, 1.0, -1.0, -1.0], n_pair), (rows, cols)), shape=(n_pair, m * m))
    fixed = prior * np.eye(m)
    # the full-data information, inverted once: quasi-Newton steps H₀⁻¹g for every round
    w0 = np.asarray(a_w.T @ unit_n).ravel()
    p0 = expit(fit.theta[pa] - fit.theta[pb])
    h0 = (lap.T @ (w0 * p0 * (1.0 - p0))).reshape(m, m) + fixed
    h0 += max(1.0, float(np.abs(h0).max())) / m
    h0_inv = np.linalg.inv(h0)

    def job(r: int, ss: np.random.SeedSequence) -> tuple[np.ndarray, int]:
        mult = draw_counts(np.random.default_rng(ss), unit_n, r)
        wr = np.asarray((a_w.T @ mult.T).T)
        tr = np.asarray((a_t.T @ mult.T).T)
        present = np.asarray((absb.T @ wr.T).T) > 0
        missing = ~present.all(axis=1)
        separated = ~missing & _degenerate(wr, tr, pa, pb, m, prior)
        theta = np.tile(fit.theta, (r, 1))
        done = missing | separated

        def gradient(th: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """P(a beats b) per pair and the log-likelihood gradient of the live rounds."""
            prob = expit(th[:, pa] - th[:, pb])
            return prob, np.asarray((incid.T @ (tr[live] - wr[live] * prob).T).T) - prior * th

        # quasi-Newton with the full-data information: a resample's information differs by
        # O(1/√n), so this converges linearly at that rate, each step one (r × M)·(M × M)
        # product; rounds not done after a few steps finish with exact batched Newton below
        for _ in range(quasi_iter):
            if done.all():
                break
            live = np.flatnonzero(~done)
            th = theta[live]
            prob, grad = gradient(th, live)
            step = grad @ h0_inv
            theta[live] = centre(th + step)
            done[live] |= np.abs(step).max(axis=1) < tol * 0.1
        for _ in range(max_iter):
            if done.all():
                break
            live = np.flatnonzero(~done)
            th = theta[live]
            prob, grad = gradient(th, live)
            v = wr[live] * prob * (1.0 - prob)
            hess = np.asarray((lap.T @ v.T).T).reshape(live.size, m, m) + fixed
            hess += np.abs(hess).max(axis=(1, 2), keepdims=True).clip(1.0) / m
            step, bad = _solve_each(hess, grad)
            if bad.any():  # numerically singular despite Ford's condition: refit these with the prior
                separated[live[bad]] = True
                done[live[bad]] = True
            theta[live] = centre(th + step)
            # Newton converges quadratically: after a step below √tol the error is O(tol)
            done[live] |= np.abs(step).max(axis=1) < np.sqrt(tol) * 0.1
        unit_cells = merged_cells.T.tocsr()
        for i in np.flatnonzero(separated):
            wc = np.asarray(unit_cells @ mult[i]).ravel()
            theta[i] = fit_bt(cells.with_weights(wc), ties=ties, prior=WEAK_PRIOR, theta0=fit.theta).theta
        theta[missing] = np.nan
        return theta, int(separated.sum())

    return _collect(run_chunks(job, chunk_seeds(seed, rounds, chunk), workers, progress), m)


def _collect(results: list[tuple[np.ndarray, int]], m: int) -> Rounds:
    """Stack the chunks' (θ per round, rounds penalised) into :class:`Rounds`."""
    samples = np.vstack([th for th, _ in results]) if results else np.zeros((0, m))
    failed = int((~np.all(np.isfinite(samples), axis=1)).sum())
    return Rounds(samples, failed, sum(n for _, n in results))


def _merge_units(
    a_w: sparse.csr_matrix, a_t: sparse.csr_matrix, unit_n: np.ndarray, units: sparse.csr_matrix
) -> tuple[sparse.csr_matrix, sparse.csr_matrix, np.ndarray, sparse.csr_matrix]:
    """Merge units that touch one pair with the same weight and score: for BT they are the
    same multinomial category (e.g. the two presentation orders of a pair), so fewer
    categories are drawn per round.  Also returns each merged category's cell weights
    (its units' rows of ``units``, averaged by their counts): the BT likelihood of a round,
    which depends only on per-pair sums, is then exactly that of the unmerged draw."""
    one = np.diff(a_w.indptr) == 1
    if not one.all() or np.diff(a_t.indptr).max(initial=0) > 1:
        return a_w, a_t, unit_n, units
    pair = a_w.indices
    w = a_w.data
    t = np.zeros(a_w.shape[0])
    rows_t = np.repeat(np.arange(a_t.shape[0]), np.diff(a_t.indptr))
    t[rows_t] = a_t.data
    codes, first = group_rows(pair, w, t)
    n = np.bincount(codes, unit_n, first.size)
    k = first.size
    shape = (k, a_w.shape[1])
    share = np.divide(unit_n, n[codes], out=np.zeros_like(unit_n), where=n[codes] > 0)
    split = sparse.csr_matrix((share, (codes, np.arange(codes.size))), shape=(k, codes.size))
    return (sparse.csr_matrix((w[first], (np.arange(k), pair[first])), shape=shape),
            sparse.csr_matrix((t[first], (np.arange(k), pair[first])), shape=shape), n, (split @ units).tocsr())


def _solve_each(hess: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched ``H⁻¹ g``; rounds whose system is singular get a zero step and are flagged."""
    try:
        return np.linalg.solve(hess, grad[:, :, None])[:, :, 0], np.zeros(hess.shape[0], dtype=bool)
    except np.linalg.LinAlgError:
        step = np.zeros_like(grad)
        bad = np.zeros(hess.shape[0], dtype=bool)
        for i in range(hess.shape[0]):
            try:
                step[i] = np.linalg.solve(hess[i], grad[i])
            except np.linalg.LinAlgError:
                bad[i] = True
        return step, bad


def _degenerate(wr: np.ndarray, tr: np.ndarray, a: np.ndarray, b: np.ndarray, m: int, prior: float) -> np.ndarray:
    """Rounds whose MLE does not exist: the "has scored against" digraph (an edge for any
    win or half tie) is not strongly connected (Ford 1957) — a model never won, never lost,
    or the resample split the models into groups that never met.

    Strongly connected ⇔ every model is reachable from model 0 along edges and along
    reversed edges; both searches run for all rounds at once on (rounds × M × M) boolean
    adjacency matrices (a few sweeps: arenas have small diameters)."""
    r = wr.shape[0]
    if prior > 0 or r == 0:
        return np.zeros(r, dtype=bool)
    adj = np.zeros((r, m, m), dtype=bool)
    adj[:, a, b] = tr > 1e-12
    adj[:, b, a] |= (wr - tr) > 1e-12
    out = np.zeros(r, dtype=bool)
    fwd = adj.astype(np.float32)
    for g in (fwd, fwd.transpose(0, 2, 1)):
        reach = np.zeros((r, m), dtype=bool)
        reach[:, 0] = True
        while True:
            new = reach | (np.einsum("ri,rij->rj", reach.astype(np.float32), g) > 0)
            if (new == reach).all():
                break
            reach = new
        out |= ~reach.all(axis=1)
    return out


def bootstrap_generic(
    cells: Cells,
    fitter: Callable[..., Fit],
    *,
    rounds: int = 1000,
    seed: int = 0,
    prior: float = 0.0,
    exists: Callable[[Cells], bool] | None = None,
    theta0: np.ndarray | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> Rounds:
    """Bootstrap samples of θ for any cell-based model: ``fitter(cells, prior)`` per round.

    A round whose resample has no finite MLE (``exists`` false) is refitted with
    :data:`WEAK_PRIOR` (counted); one leaving a model without battles, or whose fit
    fails, is NaN (counted).
    """
    units, unit_n = cells.unit_matrix()
    unit_cells = units.T.tocsr()
    m = cells.n_models

    def job(r: int, ss: np.random.SeedSequence) -> tuple[np.ndarray, int]:
        mult = draw_counts(np.random.default_rng(ss), unit_n, r)
        wc = np.asarray((unit_cells @ mult.T).T)
        present = _present(wc, cells)
        out = np.full((r, m), np.nan)
        pen = 0
        for i in range(r):
            if not present[i].all():
                continue
            c = cells.with_weights(wc[i])
            use = prior
            if not use and exists is not None and not exists(c):
                use, pen = WEAK_PRIOR, pen + 1
            try:
                f = fitter(c, use, theta0=theta0)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(f.theta)):
                out[i] = f.theta
        return out, pen

    return _collect(run_chunks(job, chunk_seeds(seed, rounds, 25), workers, progress), m)


def bootstrap_rows(
    fitter: Callable[[np.ndarray, float], Fit],
    units: np.ndarray,
    *,
    n_models: int,
    rounds: int = 1000,
    seed: int = 0,
    prior: float = 0.0,
    workers: int = 2,
    progress: Progress | None = None,
) -> Rounds:
    """Bootstrap for per-row models (style control): ``units`` gives each row's unit code
    (its row number, or its cluster); each round refits with unit multiplicities mapped to
    rows, ``fitter(row_multiplicities, prior)``.  A fit that does not converge (no finite
    MLE in the resample) is redone with :data:`WEAK_PRIOR` (counted); failures are NaN."""
    codes = np.asarray(units)
    n_units = int(codes.max()) + 1 if codes.size else 0

    def job(r: int, ss: np.random.SeedSequence) -> tuple[np.ndarray, int]:
        mult = draw_counts(np.random.default_rng(ss), np.ones(n_units), r)
        out = np.full((r, n_models), np.nan)
        pen = 0
        for i in range(r):
            row_mult = mult[i][codes]
            try:
                f = fitter(row_mult, prior)
                if not f.converged and not prior:
                    f, pen = fitter(row_mult, WEAK_PRIOR), pen + 1
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue
            if f.theta.size == n_models and np.all(np.isfinite(f.theta)):
                out[i] = f.theta
        return out, pen

    return _collect(run_chunks(job, chunk_seeds(seed, rounds, 25), workers, progress), n_models)


def simultaneous_draws(fit: Fit, intervals: Intervals, draws: int = 4000, seed: int = 0) -> np.ndarray:
    """Joint draws of θ: the bootstrap samples, else Gaussian draws from the covariance (also
    for bootstrap intervals widened to the Laplace ones, whose samples collapsed)."""
    if intervals.samples is not None and intervals.method == "bootstrap":
        return intervals.samples
    rng = np.random.default_rng(seed)
    cov = intervals.cov if intervals.cov is not None else np.diag(intervals.se**2)
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    result: np.ndarray = fit.theta + rng.standard_normal((draws, fit.theta.size)) @ root.T
    return result


def rank_intervals(
    theta: np.ndarray, lower: np.ndarray, upper: np.ndarray, draws: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank UB, simultaneous best rank, simultaneous worst rank), 1 = best.

    rank UB (Chatbot Arena) = 1 + #{j : lower_j > upper_i} from marginal intervals.
    Simultaneous: c = level-quantile of max_i |θ*_i − θ̂_i| / se_i over the draws;
    with L, U = θ̂ ∓ c·se, best = 1 + #{j : L_j > U_i}, worst = M − #{j : U_j < L_i}.
    """
    rank_ub = 1 + (lower[None, :] > upper[:, None]).sum(axis=1)
    se = draws.std(axis=0, ddof=1)
    se = np.where(se > 0, se, np.inf)
    c = np.quantile(np.max(np.abs(draws - theta) / se, axis=1), level)
    lo, hi = theta - c * se, theta + c * se
    best = 1 + (lo[None, :] > hi[:, None]).sum(axis=1)
    worst = theta.size - (hi[None, :] < lo[:, None]).sum(axis=1)
    return rank_ub, best, worst


def win_matrix(
    fit: Fit, intervals: Intervals, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(row beats column) = σ(θ_i − θ_j) with intervals (delta method or bootstrap)."""
    diff = fit.theta[:, None] - fit.theta[None, :]
    prob = expit(diff)
    if intervals.samples is not None and intervals.method == "bootstrap":
        # σ is monotone: quantiles of the differences, mapped through σ once (the lower
        # bound of P(j beats i) is 1 − the upper bound of P(i beats j), so half suffices)
        s = intervals.samples
        m = s.shape[1]
        iu = np.triu_indices(m, 1)
        sd = s[:, iu[0]] - s[:, iu[1]]
        q = np.quantile(sd, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        lo, hi = np.full((m, m), 0.5), np.full((m, m), 0.5)
        lo[iu], hi[iu] = expit(q[0]), expit(q[1])
        lo.T[iu], hi.T[iu] = 1.0 - hi[iu], 1.0 - lo[iu]
        return prob, lo, hi
    cov = intervals.cov if intervals.cov is not None else np.diag(intervals.se**2)
    var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2 * cov
    z = ndtri(0.5 + level / 2)
    half = z * np.sqrt(np.clip(var, 0.0, None))
    return prob, expit(diff - half), expit(diff + half)


__all__ = [
    "WEAK_PRIOR",
    "Intervals",
    "Rounds",
    "bootstrap_bt",
    "bootstrap_generic",
    "bootstrap_rows",
    "contrast_intervals",
    "percentile_intervals",
    "rank_intervals",
    "sandwich_intervals",
    "simultaneous_draws",
    "widen_to_laplace",
    "win_matrix",
]

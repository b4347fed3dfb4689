"""Confidence intervals, rank intervals and win-probability matrices.

* **Sandwich** (robust, Huber 1967 / White 1982): Cov(θ̂) = H⁻¹ J H⁻¹ with H the
  observed information and J the summed outer products of per-battle scores; valid
  even when the model is misspecified (e.g. ties scored ½).  Intervals θ̂ ± z·se.
* **Bootstrap** (Efron 1979): battles are resampled by drawing multinomial counts
  over the aggregated cells (equivalent to resampling rows, but O(#cells) per
  round); the **clustered** variant resamples whole clusters (prompts or voters)
  with replacement.  Percentile intervals.  For plain Bradley–Terry all rounds are
  refitted together: quasi-Newton iterations that reuse the full-data Hessian,
  vectorised across rounds, to the same tolerance as the point fit.
* **Rank intervals**: ``rank`` is Chatbot Arena's "rank (UB)", 1 + the number of
  models whose lower bound exceeds this model's upper bound; ``rank_low`` /
  ``rank_high`` come from *simultaneous* intervals (max-|z| calibration over all
  models: Hothorn et al. 2008), so all rank intervals hold jointly at the level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit, ndtri

from referee.errors import InputError
from referee.rank.bt import WEAK_PRIOR, fit_bt, targets
from referee.rank.cells import Cells
from referee.rank.fit import Fit, centre


@dataclass
class Intervals:
    """Marginal intervals for θ (log-strength scale) plus what produced them."""

    method: str
    level: float
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    samples: np.ndarray | None = None  # (rounds, M) centred θ, bootstrap only
    rounds: int | None = None
    seed: int | None = None
    cluster: str | None = None
    refits: int = 0  # bootstrap rounds that needed a full refit (degenerate resample)


def sandwich_intervals(fit: Fit, level: float = 0.95) -> Intervals:
    """Wald intervals from the robust covariance of the fit."""
    if fit.cov is None:
        raise InputError(
            f"the {fit.method!r} fit has no covariance on these comparisons (too few, or degenerate for its "
            "covariates): collect more, or use --ci bootstrap",
            field="ci",
        )
    se = np.sqrt(np.clip(np.diag(fit.cov), 0.0, None))
    z = ndtri(0.5 + level / 2)
    return Intervals("sandwich", level, se, fit.theta - z * se, fit.theta + z * se)


def percentile_intervals(fit: Fit, samples: np.ndarray, level: float = 0.95, **meta) -> Intervals:
    """Percentile bootstrap intervals from centred bootstrap samples."""
    lo, hi = np.quantile(samples, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    return Intervals("bootstrap", level, samples.std(axis=0, ddof=1), lo, hi, samples=samples, **meta)


def _chunk_seeds(seed: int, rounds: int, chunk: int) -> list[tuple[int, np.random.SeedSequence]]:
    """(rounds in chunk, seed) per chunk: independent streams, reproducible in any thread order."""
    sizes = [min(chunk, rounds - s) for s in range(0, rounds, chunk)]
    return list(zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes)), strict=True))


def draw_counts(
    n: np.ndarray, r: int, ss: np.random.SeedSequence, clusters: csr_matrix | None = None
) -> np.ndarray:
    """(r × categories) resampled row counts.

    Plain: Multinomial(N, n/N) over the categories (exactly the row bootstrap,
    since merging rows into cells merges multinomial categories).  Clustered:
    cluster multiplicities ~ Multinomial(C, 1/C), counts = multiplicities @ clusters.
    """
    rng = np.random.default_rng(ss)
    if clusters is None:
        total = round(float(n.sum()))
        return multinomial_rows(rng, total, n / n.sum(), r)
    c = clusters.shape[0]
    mult = rng.multinomial(c, np.full(c, 1.0 / c), size=r).astype(float)
    return np.asarray((clusters.T @ mult.T).T)


def multinomial_rows(rng: np.random.Generator, total: int, p: np.ndarray, r: int) -> np.ndarray:
    """r exact Multinomial(total, p) draws, fast when there are many categories.

    Poissonisation: X_k ~ Poisson(λ p_k) with λ = total − 4√total are independent and,
    given S = ΣX = s, X ~ Multinomial(s, p); adding an independent Multinomial(total − s, p)
    (a few thousand categorical draws) gives Multinomial(total, p) exactly for every s ≤ total.
    Rows with s > total (probability ≈ 3·10⁻⁵) are redrawn.
    """
    if total < 10_000:
        return rng.multinomial(total, p, size=r).astype(float)
    lam = total - 4.0 * np.sqrt(total)
    out = rng.poisson(lam * p, size=(r, p.size)).astype(float)
    for i in np.flatnonzero(out.sum(axis=1) > total):
        while out[i].sum() > total:
            out[i] = rng.poisson(lam * p)
    rest = (total - out.sum(axis=1)).astype(np.int64)
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    idx = np.minimum(np.searchsorted(cdf, rng.random(int(rest.sum())), side="right"), p.size - 1)
    row = np.repeat(np.arange(r), rest)
    out += np.bincount(row * p.size + idx, minlength=r * p.size).reshape(r, p.size)
    return out


Progress = Callable[[int, int], None]


def _run_chunks(job: Callable, chunks: list, workers: int, progress: Progress | None = None) -> list:
    """Run job(*chunk) for every chunk (threads when workers > 1); results in chunk order.

    BLAS runs single-threaded meanwhile: the chunk threads already use the cores, and BLAS
    threads spinning against them on a busy machine make small products many times slower.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _run_chunks_unlimited(job, chunks, workers, progress)


def _run_chunks_unlimited(job: Callable, chunks: list, workers: int, progress: Progress | None) -> list:
    total = sum(c[0] for c in chunks)
    if workers <= 1 or len(chunks) == 1:
        out, done = [], 0
        for c in chunks:
            out.append(job(*c))
            done += c[0]
            if progress:
                progress(done, total)
        return out
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(job, *c): i for i, c in enumerate(chunks)}
        results: list = [None] * len(chunks)
        done = 0
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            done += chunks[i][0]
            if progress:
                progress(done, total)
        return results


def bootstrap_bt(
    cells: Cells,
    fit: Fit,
    *,
    rounds: int = 1000,
    seed: int = 0,
    ties: str = "half",
    clusters: csr_matrix | None = None,
    tol: float = 1e-9,
    max_iter: int = 100,
    chunk: int = 50,
    workers: int = 2,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int]:
    """Bootstrap samples of centred θ for plain Bradley–Terry (no position term).

    Cells are first merged into categories (unordered pair, target, per-row
    weight) — the multinomial over categories is the multinomial over rows.  Each
    chunk of rounds is refitted at once by batched Newton steps (warm-started at
    the full-data fit) until every round's step is below ``tol``; chunks run on
    ``workers`` threads with their own seeded streams (no processes are forked).
    Returns (samples (rounds × M), number of rounds refitted one by one because
    the resample was degenerate or did not converge).
    """
    m = cells.n_models
    t, keep = targets(cells, ties)
    lo, hi = np.minimum(cells.a, cells.b), np.maximum(cells.a, cells.b)
    t_lo = np.where(cells.a == lo, t, 1.0 - t)
    wpr = np.divide(cells.w, cells.n, out=np.zeros_like(cells.w), where=cells.n > 0) * keep
    pair_key = lo * m + hi
    pairs, pair_of_cell = np.unique(pair_key, return_inverse=True)
    cat_key = np.stack([pair_of_cell, np.round(t_lo * 2).astype(np.int64)], axis=1)
    _, wpr_code = np.unique(wpr, return_inverse=True)
    cats, cat_of_cell = np.unique(np.c_[cat_key, wpr_code], axis=0, return_inverse=True)
    cat_of_cell = cat_of_cell.ravel()
    n_cat, n_pair = cats.shape[0], pairs.size
    cat_n = np.bincount(cat_of_cell, cells.n, n_cat)
    first = np.zeros(n_cat, dtype=np.int64)
    first[cat_of_cell] = np.arange(cat_of_cell.size)
    cat_pair, cat_t, cat_w = cats[:, 0], cats[:, 1] / 2.0, wpr[first]
    to_w = csr_matrix((cat_w, (np.arange(n_cat), cat_pair)), shape=(n_cat, n_pair))
    to_t = csr_matrix((cat_w * cat_t, (np.arange(n_cat), cat_pair)), shape=(n_cat, n_pair))
    pa, pb = pairs // m, pairs % m
    incid = csr_matrix(
        (np.r_[np.ones(n_pair), -np.ones(n_pair)], (np.r_[np.arange(n_pair), np.arange(n_pair)], np.r_[pa, pb])),
        shape=(n_pair, m),
    )
    if clusters is not None:
        merge = csr_matrix((np.ones(cat_of_cell.size), (np.arange(cat_of_cell.size), cat_of_cell)),
                           shape=(cat_of_cell.size, n_cat))
        clusters = csr_matrix(clusters @ merge)
    prior = fit.extra.get("prior_precision", 0.0)
    # maps per-pair information v to the flattened M×M Laplacian: H_r = (v_r @ lap).reshape(M, M)
    rows = np.repeat(np.arange(n_pair), 4)
    cols = np.stack([pa * m + pa, pb * m + pb, pa * m + pb, pb * m + pa], axis=1).ravel()
    vals = np.tile([1.0, 1.0, -1.0, -1.0], n_pair)
    lap = csr_matrix((vals, (rows, cols)), shape=(n_pair, m * m))
    fixed = prior * np.eye(m)

    def job(r: int, ss: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = draw_counts(cat_n, r, ss, clusters)
        wr = np.asarray((to_w.T @ counts.T).T)
        tr = np.asarray((to_t.T @ counts.T).T)
        theta = np.tile(fit.theta, (r, 1))
        done = np.zeros(r, dtype=bool)
        for _ in range(max_iter):
            prob = expit(theta[:, pa] - theta[:, pb])
            resid = tr - wr * prob
            grad = np.asarray((incid.T @ resid.T).T) - prior * theta
            v = wr * prob * (1.0 - prob)
            hess = np.asarray((lap.T @ v.T).T).reshape(r, m, m) + fixed
            hess += (np.abs(hess).max(axis=(1, 2), keepdims=True).clip(1.0) / m)
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
            step[done] = 0.0
            theta = centre(theta + step)
            # Newton converges quadratically: after a step below √tol the error is O(tol)
            done |= np.abs(step).max(axis=1) < np.sqrt(tol) * 0.1
            if done.all():
                break
        bad = ~done | _degenerate(wr, tr, pa, pb, m, prior)
        return theta, np.flatnonzero(bad), counts[bad]

    results = _run_chunks(job, _chunk_seeds(seed, rounds, chunk), workers, progress)
    out = []
    refits = 0
    for theta, bad_rows, bad_counts in results:
        for i, cat_counts in zip(bad_rows, bad_counts, strict=True):
            refits += 1
            cell_counts = cells.n * (cat_counts / np.where(cat_n > 0, cat_n, 1.0))[cat_of_cell]
            theta[i] = fit_bt(cells.with_counts(cell_counts), ties=ties, theta0=fit.theta).theta
        out.append(theta)
    return np.vstack(out), refits


def _degenerate(wr: np.ndarray, tr: np.ndarray, a: np.ndarray, b: np.ndarray, m: int, prior: float) -> np.ndarray:
    """Rounds where some model scored nothing or lost nothing (its MLE is infinite)."""
    if prior > 0:
        return np.zeros(wr.shape[0], dtype=bool)
    p = a.size
    to_a = csr_matrix((np.ones(p), (np.arange(p), a)), shape=(p, m))
    to_b = csr_matrix((np.ones(p), (np.arange(p), b)), shape=(p, m))
    lost = wr - tr
    scored = np.asarray((to_a.T @ tr.T + to_b.T @ lost.T).T)
    conceded = np.asarray((to_a.T @ lost.T + to_b.T @ tr.T).T)
    played = scored + conceded > 0
    return ((played & ((scored <= 1e-12) | (conceded <= 1e-12))).any(axis=1))


def bootstrap_generic(
    cells: Cells,
    fitter: Callable[[Cells], Fit],
    *,
    rounds: int = 1000,
    seed: int = 0,
    clusters: csr_matrix | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Bootstrap samples of θ for any cell-based model by refitting each round."""
    out = []
    for r, ss in _chunk_seeds(seed, rounds, 50):
        for row in draw_counts(cells.n, r, ss, clusters):
            out.append(fitter(cells.with_counts(row)).theta)
        if progress:
            progress(len(out), rounds)
    return np.vstack(out)


def simultaneous_draws(fit: Fit, intervals: Intervals, draws: int = 4000, seed: int = 0) -> np.ndarray:
    """Joint draws of θ: the bootstrap samples, else Gaussian draws from the sandwich covariance."""
    if intervals.samples is not None:
        return intervals.samples
    rng = np.random.default_rng(seed)
    cov = fit.cov if fit.cov is not None else np.diag(intervals.se**2)
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return fit.theta + rng.standard_normal((draws, fit.theta.size)) @ root.T


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
    if intervals.samples is not None:
        s = intervals.samples
        sd = s[:, :, None] - s[:, None, :]
        lo, hi = np.quantile(expit(sd), [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return prob, lo, hi
    cov = fit.cov if fit.cov is not None else np.diag(intervals.se**2)
    var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2 * cov
    z = ndtri(0.5 + level / 2)
    half = z * np.sqrt(np.clip(var, 0.0, None))
    return prob, expit(diff - half), expit(diff + half)


__all__ = [
    "WEAK_PRIOR",
    "Intervals",
    "bootstrap_bt",
    "bootstrap_generic",
    "draw_counts",
    "percentile_intervals",
    "rank_intervals",
    "sandwich_intervals",
    "simultaneous_draws",
    "win_matrix",
]


def bootstrap_rows(
    fitter: Callable[[np.ndarray], Fit],
    n_rows: int,
    *,
    rounds: int = 1000,
    seed: int = 0,
    cluster_codes: np.ndarray | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Bootstrap for per-row models (style control): each round refits with row
    multiplicities ~ Multinomial(N, 1/N), or cluster multiplicities mapped to rows."""
    out = []
    for r, ss in _chunk_seeds(seed, rounds, 50):
        rng = np.random.default_rng(ss)
        for _ in range(r):
            if cluster_codes is None:
                mult = rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows)).astype(float)
            else:
                c = int(cluster_codes.max()) + 1
                mult = rng.multinomial(c, np.full(c, 1.0 / c)).astype(float)[cluster_codes]
            out.append(fitter(mult).theta)
        if progress:
            progress(len(out), rounds)
    return np.vstack(out)

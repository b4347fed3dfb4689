"""One resampling core for rank, audit and score: seeded, threaded, clustered, weighted.

The nonparametric bootstrap (Efron 1979) resamples *units* — rows, or whole clusters
(prompts, voters, pairs: the cluster bootstrap of Field & Welsh 2007) — with
replacement.  A round is a vector of unit multiplicities

    m ~ Multinomial(U; 1/U, …, 1/U),

and a statistic is recomputed from the units weighted by ``m`` (a unit keeps its own
observation weight; the multiplicity multiplies it).  When identical units have been
merged into *categories* with counts ``n_c`` (the rank engine merges identical rows into
cells), the row bootstrap is ``Multinomial(N; n/N)`` over categories — merging rows
merges multinomial categories, so the distribution is exactly the row bootstrap's.

Rounds come in chunks; chunk ``i`` draws from its own stream
``SeedSequence(seed).spawn(k)[i]``, so results do not depend on the number of threads
or their schedule.  Chunks run on threads (numpy releases the GIL; nothing is forked)
with BLAS limited to one thread meanwhile: the chunk threads already use the cores.

A statistic may fail on a degenerate resample (a model that loses every resampled
battle, a singular system).  :func:`bootstrap` never raises for that: a chunk that
raises is recomputed round by round, and rounds that still raise or give non-finite
values are counted in :attr:`Resamples.failed` and left as NaN; the intervals use the
rounds that succeeded.

Intervals: percentile (Efron & Tibshirani 1993, §13.3) and BCa, bias-corrected and
accelerated (Efron 1987, JASA 82:171–185; acceleration from the jackknife over units,
Efron & Tibshirani 1993, §14.3).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy.special import ndtr, ndtri

Progress = Callable[[int, int], None]
#: a batched statistic: (r × units) multiplicities → (r × k) values
Statistic = Callable[[np.ndarray], np.ndarray]
_T = TypeVar("_T")

__all__ = [
    "Resamples",
    "bca_interval",
    "bootstrap",
    "chunk_seeds",
    "draw_counts",
    "multinomial_counts",
    "multiplicities",
    "percentile_interval",
    "run_chunks",
]


def chunk_seeds(seed: int, rounds: int, chunk: int = 50) -> list[tuple[int, np.random.SeedSequence]]:
    """(rounds in chunk, seed) per chunk: independent streams, reproducible in any thread order."""
    if rounds <= 0:
        return []
    sizes = [min(chunk, rounds - s) for s in range(0, rounds, chunk)]
    return list(zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes)), strict=True))


def run_chunks(
    job: Callable[..., _T], chunks: list[tuple[Any, ...]], workers: int = 2, progress: Progress | None = None
) -> list[_T]:
    """``job(*chunk)`` for every chunk (threads when ``workers > 1``); results in chunk order."""
    from threadpoolctl import threadpool_limits

    total = sum(c[0] for c in chunks)
    with threadpool_limits(limits=1, user_api="blas"):
        if workers <= 1 or len(chunks) <= 1:
            out: list[_T] = []
            done = 0
            for c in chunks:
                out.append(job(*c))
                done += c[0]
                if progress:
                    progress(done, total)
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(job, *c): i for i, c in enumerate(chunks)}
            results: list[Any] = [None] * len(chunks)
            done = 0
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                done += chunks[i][0]
                if progress:
                    progress(done, total)
            return results


def multiplicities(rng: np.random.Generator, n_units: int, r: int) -> np.ndarray:
    """(r × n_units) draws of Multinomial(n_units; 1/n_units): counts of n_units uniform picks."""
    if n_units == 0:
        return np.zeros((r, 0))
    picks = rng.integers(0, n_units, size=(r, n_units)) + (np.arange(r) * n_units)[:, None]
    return np.bincount(picks.ravel(), minlength=r * n_units).reshape(r, n_units).astype(float)


def multinomial_counts(rng: np.random.Generator, total: int, p: np.ndarray, r: int) -> np.ndarray:
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


def draw_counts(rng: np.random.Generator, counts: np.ndarray, r: int) -> np.ndarray:
    """(r × categories) resampled counts of categories holding ``counts`` identical units each.

    All counts 1 (plain units, clusters): :func:`multiplicities`; otherwise
    Multinomial(N; counts/N) with N = Σ counts (rounded: fractional counts come from soft
    verdicts split over two cells, whose parts are resampled together upstream).
    """
    counts = np.asarray(counts, dtype=float)
    if counts.size and np.all(counts == 1.0):
        return multiplicities(rng, counts.size, r)
    total = round(float(counts.sum()))
    if total <= 0:
        return np.zeros((r, counts.size))
    return multinomial_counts(rng, total, counts / counts.sum(), r)


@dataclass
class Resamples:
    """Bootstrap replicates of a k-vector statistic: ``samples`` (rounds × k), NaN rows failed."""

    samples: np.ndarray
    failed: int
    rounds: int

    @property
    def ok(self) -> np.ndarray:
        """Rounds whose statistic was computed (all entries finite)."""
        ok: np.ndarray = np.all(np.isfinite(self.samples), axis=1)
        return ok


def bootstrap(
    statistic: Statistic,
    counts: np.ndarray | int,
    *,
    rounds: int = 1000,
    seed: int = 0,
    workers: int = 2,
    chunk: int = 50,
    progress: Progress | None = None,
) -> Resamples:
    """Bootstrap replicates of ``statistic`` (batched: multiplicities (r × units) → (r × k)).

    ``counts`` is the number of units (each drawn with probability 1/U), or per-category
    counts of identical units (:func:`draw_counts`).  Never raises for a degenerate
    resample: see the module doc.
    """
    cat = np.ones(counts, dtype=float) if isinstance(counts, int | np.integer) else np.asarray(counts, dtype=float)

    def job(r: int, ss: np.random.SeedSequence) -> np.ndarray:
        mult = draw_counts(np.random.default_rng(ss), cat, r)
        try:
            with np.errstate(all="ignore"):
                vals = np.asarray(statistic(mult), dtype=float)
            if vals.ndim == 1:
                vals = vals[:, None]
            if vals.shape[0] != r:
                raise ValueError("statistic returned the wrong number of rounds")
            return vals
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            return _one_by_one(statistic, mult)

    parts = run_chunks(job, chunk_seeds(seed, rounds, chunk), workers, progress)
    if not parts:
        return Resamples(np.zeros((0, 0)), 0, 0)
    width = max(p.shape[1] for p in parts)
    samples = np.vstack([p if p.shape[1] == width else np.full((p.shape[0], width), np.nan) for p in parts])
    failed = int((~np.all(np.isfinite(samples), axis=1)).sum())
    samples[~np.all(np.isfinite(samples), axis=1)] = np.nan
    return Resamples(samples, failed, rounds)


def _one_by_one(statistic: Statistic, mult: np.ndarray) -> np.ndarray:
    rows: list[np.ndarray | None] = []
    for row in mult:
        try:
            with np.errstate(all="ignore"):
                rows.append(np.asarray(statistic(row[None, :]), dtype=float).reshape(-1))
        except (ArithmeticError, ValueError, np.linalg.LinAlgError):
            rows.append(None)
    width = max((v.size for v in rows if v is not None), default=1)
    return np.vstack([v if v is not None and v.size == width else np.full(width, np.nan) for v in rows])


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring failed (NaN) rounds; NaN where none succeeded.

    The α-quantile of B replicates is the (B+1)α-th order statistic (interpolated; Hyndman &
    Fan's type 6, numpy's ``weibull``), as Davison & Hinkley (1997, §5.2) recommend: it is
    unbiased for the α point of the bootstrap distribution, where numpy's default (type 7)
    pulls both ends inward and makes intervals from a few hundred rounds too narrow."""
    s = np.asarray(samples, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    lo = np.full(s.shape[1], np.nan)
    hi = np.full(s.shape[1], np.nan)
    ok = np.isfinite(s).any(axis=0)
    if ok.any():
        with np.errstate(all="ignore"):
            q = np.nanquantile(s[:, ok], [0.5 - level / 2, 0.5 + level / 2], axis=0, method="weibull")
        lo[ok], hi[ok] = q[0], q[1]
    return lo, hi


def bca_interval(
    samples: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """BCa interval per column (Efron 1987).

    ``z₀ = Φ⁻¹(#{θ* < θ̂}/B)`` (ties counted half), acceleration
    ``a = Σ(θ̄₍.₎ − θ₍ᵢ₎)³ / (6 [Σ(θ̄₍.₎ − θ₍ᵢ₎)²]^{3/2})`` from the leave-one-unit-out
    estimates ``jackknife`` (units × k), and the interval is the
    ``Φ(z₀ + (z₀ + z_α)/(1 − a(z₀ + z_α)))`` quantiles of the replicates.  Falls back to
    the percentile interval where z₀ is infinite (every replicate on one side).
    """
    s = np.asarray(samples, dtype=float)
    s = s[:, None] if s.ndim == 1 else s
    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    jack = np.asarray(jackknife, dtype=float)
    jack = jack[:, None] if jack.ndim == 1 else jack
    lo, hi = percentile_interval(s, level)
    with np.errstate(all="ignore"):
        valid = np.isfinite(s)
        b = valid.sum(axis=0)
        below = (np.where(valid, s < est, False).sum(axis=0) + 0.5 * np.where(valid, s == est, False).sum(axis=0))
        z0 = ndtri(below / np.maximum(b, 1))
        n_jack = np.isfinite(jack).sum(axis=0)
        d = np.nansum(jack, axis=0) / np.maximum(n_jack, 1) - jack  # no warning for an all-NaN column
        den = 6.0 * np.nansum(d**2, axis=0) ** 1.5
        a = np.where(den > 0, np.nansum(d**3, axis=0) / np.where(den > 0, den, 1.0), 0.0)
        out = []
        for z in (ndtri(0.5 - level / 2), ndtri(0.5 + level / 2)):
            out.append(ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z))))
    for j in range(s.shape[1]):
        if not (np.isfinite(z0[j]) and np.isfinite(out[0][j]) and np.isfinite(out[1][j])) or b[j] == 0:
            continue
        col = s[valid[:, j], j]
        lo[j], hi[j] = np.quantile(col, [out[0][j], out[1][j]], method="weibull")
    return lo, hi

"""Clustered bootstrap for every audit metric at once, vectorised over rounds.

Each metric is a smooth function ``f`` of a few *per-cluster sums* (a block of columns of
the cluster × statistic matrix ``S``).  One bootstrap round draws cluster multiplicities
``m ~ Multinomial(C; 1/C, …, 1/C)`` (Efron 1979; clusters = prompts, Field & Welsh 2007),
so the resampled sums are ``m @ S`` and the metric is ``f(m @ S)``.  Rounds come in
chunks: one ``(r × C) @ (C × K)`` matrix product gives the sums of every metric of every
judge for ``r`` rounds; no Python loop touches rounds × rows.  Chunks get independent
seeded streams and run on threads (:func:`referee.resample.chunk_seeds`,
:func:`referee.resample.run_chunks`), so the result does not depend on the thread schedule.
Intervals are percentile intervals (:func:`referee.resample.percentile_interval`); the
point value is ``f`` of the full-data sums (every multiplicity 1).

A Multinomial(C; 1/C) vector is drawn as the counts of C uniform draws of a cluster
(:func:`referee.resample.multiplicities`: ``integers`` + ``bincount``), an O(C) draw per round.

BLAS runs on a single thread while the chunks run (see :func:`referee.resample.run_chunks`):
the chunks already use the cores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from referee.resample import chunk_seeds, multiplicities, percentile_interval, run_chunks

Fn = Callable[[np.ndarray], np.ndarray]
Progress = Callable[[int, int], None]

#: a metric resting on fewer prompt clusters than this gets no interval (so it cannot be flagged):
#: the percentile bootstrap cannot gauge the variation between prompts from a handful of them
MIN_CLUSTERS = 10


def cluster_sums(cluster: np.ndarray, values: np.ndarray, n_clusters: int) -> np.ndarray:
    """(C × k) sums of the row statistics ``values`` (N × k, or N) per cluster."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    out = np.zeros((n_clusters, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(cluster, weights=v[:, j], minlength=n_clusters)
    return out


def ratio(t: np.ndarray) -> np.ndarray:
    """Σ numerator / Σ denominator (columns 0 and 1); NaN where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t[:, 1] > 0, t[:, 0] / np.where(t[:, 1] > 0, t[:, 1], 1.0), np.nan)


@dataclass
class Metric:
    """A point value with a percentile interval and the (weighted) number of units behind it."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: float

    def to_dict(self) -> dict[str, float | int | None]:
        n = round(self.n) if abs(self.n - round(self.n)) < 1e-9 else round(float(self.n), 6)
        return {"value": _num(self.value), "ci_low": _num(self.ci_low), "ci_high": _num(self.ci_high), "n": n}


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


@dataclass
class Registry:
    """Blocks of per-cluster sums and the metrics defined on them (for all judges)."""

    n_clusters: int
    blocks: list[np.ndarray] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    metrics: list[tuple[object, slice, Fn, float]] = field(default_factory=list)

    def block(self, sums: np.ndarray) -> slice:
        """Register a (C × k) block of cluster sums; returns its column slice."""
        s = np.asarray(sums, dtype=float)
        if s.ndim == 1:
            s = s[:, None]
        if s.shape[0] != self.n_clusters:
            raise ValueError(f"block has {s.shape[0]} rows, expected {self.n_clusters} clusters")
        start = sum(self.widths)
        self.blocks.append(s)
        self.widths.append(s.shape[1])
        return slice(start, start + s.shape[1])

    def add(self, key: object, cols: slice, fn: Fn, n: float) -> None:
        """A metric ``fn`` of the block ``cols`` (it maps (R × k) sums to R values)."""
        self.metrics.append((key, cols, fn, float(n)))

    def add_rows(self, key: object, cluster: np.ndarray, values: np.ndarray, fn: Fn = ratio, n: float | None = None) -> slice:
        """Register row statistics (summed per cluster) and a metric on them; n = Σ column 1 by default."""
        cols = self.block(cluster_sums(cluster, values, self.n_clusters))
        v = np.asarray(values, dtype=float)
        if n is None:
            n = float(v[:, 1].sum()) if v.ndim == 2 and v.shape[1] > 1 else float(len(v))
        self.add(key, cols, fn, n)
        return cols

    def matrix(self) -> np.ndarray | sparse.csr_matrix:
        """The stacked (C × K) statistic matrix: dense when small or dense enough, else CSR."""
        if not self.blocks:
            return np.zeros((self.n_clusters, 0))
        dense = np.hstack(self.blocks)
        if dense.size <= 20_000_000 or np.count_nonzero(dense) > 0.25 * dense.size:
            return dense
        return sparse.csr_matrix(dense)

    def run(
        self,
        rounds: int = 1000,
        seed: int = 0,
        level: float = 0.95,
        *,
        workers: int = 2,
        chunk: int = 50,
        progress: Progress | None = None,
    ) -> dict[object, Metric]:
        """Point values and percentile intervals of every registered metric."""
        S = self.matrix()
        total = np.asarray(S.sum(axis=0)).ravel()[None, :]
        with np.errstate(all="ignore"):
            point = np.array([float(fn(total[:, sl])[0]) for _, sl, fn, _ in self.metrics])
        lo = np.full(point.shape, np.nan)
        hi = np.full(point.shape, np.nan)
        if rounds > 0 and self.metrics and self.n_clusters > 0:
            lo, hi = percentile_interval(self._samples(S, rounds, seed, workers, chunk, progress), level)
        out: dict[object, Metric] = {}
        for i, (key, sl, _, n) in enumerate(self.metrics):
            if not math.isfinite(point[i]):
                out[key] = Metric(None, None, None, n)
            elif _support(S, sl) < MIN_CLUSTERS:
                out[key] = Metric(point[i], None, None, n)
            else:
                out[key] = Metric(point[i], _num(lo[i]), _num(hi[i]), n)
        return out

    def _samples(
        self, S: np.ndarray | sparse.csr_matrix, rounds: int, seed: int, workers: int, chunk: int,
        progress: Progress | None,
    ) -> np.ndarray:
        c = self.n_clusters
        metrics = self.metrics

        def draw(r: int, ss: np.random.SeedSequence) -> np.ndarray:
            mult = multiplicities(np.random.default_rng(ss), c, r)
            t = mult @ S if isinstance(S, np.ndarray) else np.asarray((S.T @ mult.T).T)
            vals = np.empty((r, len(metrics)))
            with np.errstate(all="ignore"):
                for j, (_, sl, fn, _) in enumerate(metrics):
                    vals[:, j] = fn(t[:, sl])
            return vals

        return np.vstack(run_chunks(draw, chunk_seeds(seed, rounds, chunk), workers, progress))


def _support(S: np.ndarray | sparse.csr_matrix, cols: slice) -> int:
    """Number of clusters with any data in the columns."""
    block = S[:, cols]
    if isinstance(block, np.ndarray):
        return int((block != 0).any(axis=1).sum())
    return int((sparse.csr_matrix(block).getnnz(axis=1) > 0).sum())

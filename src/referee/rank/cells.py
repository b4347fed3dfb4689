"""Aggregate a comparisons table into (a, b, outcome, strength) cells.

Every rank model is fitted on these cells, never row by row: a million battles
over 150 models collapse to at most ``M² · 4 · 3`` cells (a few tens of
thousands in practice), so fits and bootstrap rounds cost the same whatever the
number of battles.

A cell holds the summed observation weight ``w`` and the raw row count ``n`` (the
bootstrap resamples ``n`` multinomially and rescales ``w``).  Soft verdicts
(``prob_a``) are split into an A-win cell with weight ``w·p`` and a B-win cell with
weight ``w·(1-p)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from referee.schema import A_WINS, B_WINS, outcome_codes


@dataclass(frozen=True)
class Cells:
    """Aggregated comparisons.  Arrays have one entry per cell."""

    models: tuple[str, ...]
    a: np.ndarray  # int index of model_a (shown first)
    b: np.ndarray  # int index of model_b
    y: np.ndarray  # outcome code: 0 a wins, 1 b wins, 2 tie, 3 tie (bothbad)
    s: np.ndarray  # strength: 1 or 2 for wins (1 when ungraded), 0 for ties
    w: np.ndarray  # summed weights
    n: np.ndarray  # summed row counts (fractional for soft verdicts)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def total(self) -> float:
        return float(self.n.sum())

    def with_counts(self, n_new: np.ndarray) -> Cells:
        """The same cells with resampled row counts; weights rescale by n_new / n."""
        ratio = np.divide(n_new, self.n, out=np.zeros_like(self.w), where=self.n > 0)
        return replace(self, n=np.asarray(n_new, dtype=float), w=self.w * ratio)

    def select(self, mask: np.ndarray) -> Cells:
        """Cells where mask is true (models are kept)."""
        return replace(self, a=self.a[mask], b=self.b[mask], y=self.y[mask], s=self.s[mask],
                       w=self.w[mask], n=self.n[mask])

    def pair_table(self) -> pd.DataFrame:
        """Per unordered pair: wins of the lower index, wins of the higher, ties (weights)."""
        lo = np.minimum(self.a, self.b)
        hi = np.maximum(self.a, self.b)
        lo_first = self.a == lo
        win_lo = np.where(((self.y == A_WINS) & lo_first) | ((self.y == B_WINS) & ~lo_first), self.w, 0.0)
        win_hi = np.where(((self.y == B_WINS) & lo_first) | ((self.y == A_WINS) & ~lo_first), self.w, 0.0)
        tie = np.where(self.y >= 2, self.w, 0.0)
        df = pd.DataFrame({"i": lo, "j": hi, "win_i": win_lo, "win_j": win_hi, "tie": tie})
        return df.groupby(["i", "j"], as_index=False).sum()


def model_index(df: pd.DataFrame, models: list[str] | None = None) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Factorise model_a/model_b into integer indices over a sorted model list.

    Each column is factorised on its own (hashing N strings, not 2N) and the few
    distinct names are then merged, so this stays cheap for millions of rows.
    """
    ca, ua = pd.factorize(df["model_a"])
    cb, ub = pd.factorize(df["model_b"])
    ua = np.asarray([str(u) for u in ua], dtype=object)
    ub = np.asarray([str(u) for u in ub], dtype=object)
    if models is None:
        names = tuple(sorted(set(ua) | set(ub)))
    else:
        names = tuple(models)
        missing = sorted((set(ua) | set(ub)) - set(names))
        if missing:
            raise ValueError(f"models not in the given list: {missing[:5]}")
    pos = {n: i for i, n in enumerate(names)}
    map_a = np.array([pos[u] for u in ua], dtype=np.int64)
    map_b = np.array([pos[u] for u in ub], dtype=np.int64)
    return names, map_a[ca], map_b[cb]


def aggregate(df: pd.DataFrame, models: list[str] | None = None, soft: bool = True) -> Cells:
    """Collapse a validated comparisons table into cells (vectorised; no Python loop over rows)."""
    return aggregate_rows(df, models, soft)[0]


def cluster_counts(df: pd.DataFrame, column: str, models: list[str] | None = None, soft: bool = True):
    """Cells plus a sparse (clusters × cells) matrix of row counts, for the clustered bootstrap."""
    from scipy.sparse import csr_matrix

    cells, inv, src, cnt = aggregate_rows(df, models, soft)
    codes, uniques = pd.factorize(df[column].astype(str).to_numpy()[src])
    mat = csr_matrix((cnt, (codes, inv)), shape=(len(uniques), cells.a.size))
    return cells, mat


def aggregate_rows(
    df: pd.DataFrame, models: list[str] | None = None, soft: bool = True
) -> tuple[Cells, np.ndarray, np.ndarray, np.ndarray]:
    """Cells, and for each (expanded) row: its cell, its source row and its count share."""
    names, ia, ib = model_index(df, models)
    m = len(names)
    y = outcome_codes(df["winner"]).astype(np.int64)
    if "strength" in df.columns:
        s = df["strength"].to_numpy(dtype=float)
        s = np.where(np.isnan(s), 1.0, s).astype(np.int64)
    else:
        s = np.ones(len(df), dtype=np.int64)
    s = np.where(y >= 2, 0, np.maximum(s, 1))
    w = df["weight"].to_numpy(dtype=float) if "weight" in df.columns else np.ones(len(df))
    w = np.where(np.isnan(w), 1.0, w)
    cnt = np.ones(len(df))
    src = np.arange(len(df))
    if soft and "prob_a" in df.columns:
        p = df["prob_a"].to_numpy(dtype=float)
        has = ~np.isnan(p)
        if has.any():
            # soft rows become an A-win part and a B-win part
            idx = np.flatnonzero(has)
            ia = np.concatenate([ia, ia[idx]])
            ib = np.concatenate([ib, ib[idx]])
            y = np.concatenate([np.where(has, A_WINS, y), np.full(idx.size, B_WINS)])
            s = np.concatenate([np.where(has, 1, s), np.ones(idx.size, dtype=np.int64)])
            w = np.concatenate([np.where(has, w * p, w), w[idx] * (1 - p[idx])])
            cnt = np.concatenate([np.where(has, p, 1.0), 1 - p[idx]])
            src = np.concatenate([src, idx])
    key = ((ia * m + ib) * 4 + y) * 3 + s
    uniq, inv = np.unique(key, return_inverse=True)
    wsum = np.bincount(inv, weights=w, minlength=uniq.size)
    nsum = np.bincount(inv, weights=cnt, minlength=uniq.size)
    keep = nsum > 0
    remap = np.cumsum(keep) - 1
    inv = remap[inv]
    uniq, wsum, nsum = uniq[keep], wsum[keep], nsum[keep]
    s_u = uniq % 3
    rest = uniq // 3
    y_u = rest % 4
    rest //= 4
    cells = Cells(
        models=names,
        a=(rest // m).astype(np.int64),
        b=(rest % m).astype(np.int64),
        y=y_u.astype(np.int8),
        s=s_u.astype(np.int8),
        w=wsum,
        n=nsum,
    )
    return cells, inv, src, cnt

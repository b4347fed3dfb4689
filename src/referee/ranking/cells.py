"""Aggregate a comparisons table into (a, b, outcome, strength) cells.

Every rank model is fitted on these cells, never row by row: a million battles
over 150 models collapse to at most ``M² · 4 · 3`` cells (a few tens of
thousands in practice), so fits and bootstrap rounds cost the same whatever the
number of battles.

A cell holds the summed observation weight ``w`` and the row count ``n``.  Soft
verdicts (``prob_a``) are split into an A-win cell with weight ``w·p`` and a B-win cell
with weight ``w·(1-p)``.

**Units.**  Intervals must treat each *row* (or each cluster of rows) as one
independent observation, whatever cells it was merged into.  A unit is a row — or, with
``cluster``, every row of one prompt / voter / pair — and ``Cells.units`` is the sparse
(units × cells) matrix ``U`` of its weight contributions ``w_r·π_rk`` (``π`` = 1 for a
hard verdict, ``p`` and ``1 − p`` for the two parts of a soft one), with ``unit_n``
identical units merged per row of ``U``.  Then

* the sandwich's score covariance is ``J = Gᵀ Q G`` with ``Q = Uᵀ diag(unit_n) U`` and
  ``G`` the per-unit-weight score of each cell: a row of weight ``w`` contributes
  ``w²(t − p)²`` (Σw², not (Σw)²/n), a soft row ``w²(p_a − p)²`` (one observation, not
  two independent ones), a cluster the square of its summed score (Liang & Zeger 1986);
* the bootstrap resamples units — ``Multinomial(N; unit_n/N)`` over merged rows is the
  row bootstrap — and a round's cell weights are ``multiplicities @ U``.

When every row has weight 1 and no verdict is soft, the units are the cells themselves
(``U = I``, ``unit_n = n``) and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse

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
    units: sparse.csr_matrix | None = None  # (units × cells) weight contributions; None: U = I
    unit_n: np.ndarray | None = None  # identical units merged into each row of ``units``
    clustered: str | None = None  # the column whose values are the units, None for rows

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def total(self) -> float:
        return float(self.n.sum())

    def unit_matrix(self) -> tuple[sparse.csr_matrix, np.ndarray]:
        """``(U, unit_n)``: weight contributions of each unit type to each cell, and its count."""
        if self.units is not None and self.unit_n is not None:
            return self.units, self.unit_n
        per_row = np.divide(self.w, self.n, out=np.zeros_like(self.w), where=self.n > 0)
        return sparse.diags(per_row, format="csr"), self.n

    def score_weights(self) -> sparse.csr_matrix:
        """``Q = Uᵀ diag(unit_n) U`` (cells × cells): the sandwich's meat is ``Gᵀ Q G``.

        Clustered units get the small-sample factor ``C/(C − 1)`` (Stata's CR1 without the
        (N−1)/(N−k) part; Cameron & Miller 2015, §VI.B)."""
        u, n = self.unit_matrix()
        q = (u.T @ sparse.diags(n) @ u).tocsr()
        if self.clustered is not None and u.shape[0] > 1:
            q = q * (u.shape[0] / (u.shape[0] - 1.0))
        return q

    @property
    def n_units(self) -> int:
        """The number of independent units (rows, or clusters)."""
        return round(float(self.unit_matrix()[1].sum()))

    def with_weights(self, w_new: np.ndarray) -> Cells:
        """The same cells with resampled weights (a bootstrap round); units are dropped."""
        w_new = np.asarray(w_new, dtype=float)
        per_row = np.divide(self.n, self.w, out=np.ones_like(self.w), where=self.w > 0)
        return replace(self, w=w_new, n=w_new * per_row, units=None, unit_n=None, clustered=None)

    def select(self, mask: np.ndarray) -> Cells:
        """Cells where mask is true (models are kept; units keep their other contributions)."""
        units = None if self.units is None else self.units[:, np.flatnonzero(mask)].tocsr()
        return replace(self, a=self.a[mask], b=self.b[mask], y=self.y[mask], s=self.s[mask],
                       w=self.w[mask], n=self.n[mask], units=units)

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
    distinct names are then merged, so this stays cheap for millions of rows.  Categorical
    columns (``referee.read(..., categories=True)``) give their codes without hashing.
    """
    ca, ua = _codes(df["model_a"])
    cb, ub = _codes(df["model_b"])
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


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    """(codes, distinct names) of a model column; a Categorical's unused categories dropped."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy().astype(np.int64)
        cats = np.asarray(col.cat.categories, dtype=object)
        used = np.bincount(codes, minlength=cats.size) > 0
        remap = np.cumsum(used) - 1
        return remap[codes], cats[used]
    return pd.factorize(col)


def aggregate(
    df: pd.DataFrame, models: list[str] | None = None, soft: bool = True, cluster: str | None = None
) -> Cells:
    """Collapse a validated comparisons table into cells (vectorised; no Python loop over rows),
    with the units — rows, or the values of the ``cluster`` column — that intervals resample."""
    cells, inv, src, cnt = aggregate_rows(df, models, soft)
    if cluster is not None:
        return with_cluster_units(cells, df, cluster, inv, src, cnt)
    return with_row_units(cells, df, inv, src, cnt)


def _row_weights(df: pd.DataFrame) -> np.ndarray:
    if "weight" not in df.columns:
        return np.ones(len(df))
    w = df["weight"].to_numpy(dtype=float)
    return np.where(np.isnan(w), 1.0, w)


def with_row_units(
    cells: Cells, df: pd.DataFrame, inv: np.ndarray, src: np.ndarray | None, cnt: np.ndarray | None
) -> Cells:
    """Cells whose units are the rows: identical rows (same cells, same contributions) merged."""
    if src is None or cnt is None:
        return cells  # U = I
    w = _row_weights(df)
    expanded = src.size > len(df)
    if not expanded and np.all(w == w[0] if w.size else True):
        return cells  # U = I: every row of a cell is identical
    n_rows = len(df)
    first_cell = inv[:n_rows]
    first_val = w * cnt[:n_rows]
    second_cell = np.full(n_rows, -1, dtype=np.int64)
    second_val = np.zeros(n_rows)
    if expanded:
        second_cell[src[n_rows:]] = inv[n_rows:]
        second_val[src[n_rows:]] = w[src[n_rows:]] * cnt[n_rows:]
    codes, first = group_rows(first_cell, second_cell, first_val, second_val)
    n_units = first.size
    unit_n = np.bincount(codes, minlength=n_units).astype(float)
    u_first, u_second = first_cell[first], second_cell[first]
    v_first, v_second = first_val[first], second_val[first]
    has2 = u_second >= 0
    rows = np.concatenate([np.arange(n_units), np.flatnonzero(has2)])
    cols = np.concatenate([u_first, u_second[has2]])
    vals = np.concatenate([v_first, v_second[has2]])
    units = sparse.csr_matrix((vals, (rows, cols)), shape=(n_units, cells.a.size))
    return replace(cells, units=units, unit_n=unit_n)


def group_rows(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with equal keys: (group code per row, index of one row per group).

    One ``np.lexsort`` over the key columns and a comparison of neighbours — several times
    faster than hashing tuples of floats (a million weighted rows: ~0.3 s, against ~6 s
    for a pandas MultiIndex factorize, measured here)."""
    n = keys[0].size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort(keys[::-1])
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for k in keys:
        ks = k[order]
        new[1:] |= ks[1:] != ks[:-1]
    group_sorted = np.cumsum(new) - 1
    codes = np.empty(n, dtype=np.int64)
    codes[order] = group_sorted
    return codes, order[new]


def unit_codes(values: pd.Series) -> np.ndarray:
    """0…U−1 per row: the row's cluster, rows without a value each a unit of their own."""
    codes, uniques = pd.factorize(values)
    missing = codes < 0
    codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return codes


def with_cluster_units(
    cells: Cells, df: pd.DataFrame, column: str, inv: np.ndarray, src: np.ndarray | None, cnt: np.ndarray | None
) -> Cells:
    """Cells whose units are the clusters (values of ``column``): U[c, k] = Σ w·π over the
    rows of cluster c in cell k.  Rows without a value are units of their own."""
    n = len(df)
    src = np.arange(n) if src is None else src
    cnt = np.ones(n) if cnt is None else cnt
    w = _row_weights(df)
    row_codes = unit_codes(df[column])
    n_units = int(row_codes.max()) + 1 if row_codes.size else 0
    units = sparse.csr_matrix((w[src] * cnt, (row_codes[src], inv)), shape=(n_units, cells.a.size))
    return replace(cells, units=units, unit_n=np.ones(n_units), clustered=column)


def cluster_counts(
    df: pd.DataFrame, column: str, models: list[str] | None = None, soft: bool = True
) -> tuple[Cells, sparse.csr_matrix | None]:
    """Cells with cluster units, and the (clusters × cells) unit matrix (kept for callers)."""
    cells = aggregate(df, models, soft, cluster=column)
    return cells, cells.units


def _distinct(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for keys in [0, size): by counting when the
    key space is small enough (no sort; 10M keys: ~0.1 s instead of ~2 s)."""
    if size > 64_000_000:
        return np.unique(key, return_inverse=True)
    present = np.bincount(key, minlength=size) > 0
    uniq = np.flatnonzero(present)
    return uniq, (np.cumsum(present) - 1)[key]


def aggregate_rows(
    df: pd.DataFrame, models: list[str] | None = None, soft: bool = True
) -> tuple[Cells, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Cells, and for each (expanded) row: its cell, its source row and its count share
    (``None, None`` when every row is one hard verdict of weight 1: row i is entry i, count 1)."""
    names, ia, ib = model_index(df, models)
    m = len(names)
    y = outcome_codes(df["winner"]).astype(np.int64)
    if "strength" in df.columns:
        s = df["strength"].to_numpy(dtype=float)
        s = np.where(y >= 2, 0, np.maximum(np.where(np.isnan(s), 1.0, s), 1.0)).astype(np.int64)
    else:
        s = (y < 2).astype(np.int64)
    w = _row_weights(df) if "weight" in df.columns else None
    p = df["prob_a"].to_numpy(dtype=float) if soft and "prob_a" in df.columns else None
    has = ~np.isnan(p) if p is not None else None
    plain = w is None and (has is None or not has.any())
    cnt = np.ones(len(df)) if not plain else None
    src = np.arange(len(df)) if not plain else None
    if w is None and not plain:
        w = np.ones(len(df))
    if p is not None and has is not None and has.any():
        assert w is not None and cnt is not None and src is not None
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
    uniq, inv = _distinct(key, m * m * 12)
    if plain:  # every row counts once with weight 1: one unweighted count
        wsum = np.bincount(inv, minlength=uniq.size).astype(float)
        nsum = wsum.copy()
        return _cells(names, uniq, wsum, nsum), inv, None, None
    wsum = np.bincount(inv, weights=w, minlength=uniq.size)
    nsum = np.bincount(inv, weights=cnt, minlength=uniq.size)
    keep = nsum > 0
    remap = np.cumsum(keep) - 1
    inv = remap[inv]
    uniq, wsum, nsum = uniq[keep], wsum[keep], nsum[keep]
    assert src is not None and cnt is not None
    return _cells(names, uniq, wsum, nsum), inv, src, cnt


def _cells(names: tuple[str, ...], uniq: np.ndarray, wsum: np.ndarray, nsum: np.ndarray) -> Cells:
    """Cells from their keys ``((a·M + b)·4 + y)·3 + s``."""
    m = len(names)
    s_u = uniq % 3
    rest = uniq // 3
    y_u = rest % 4
    rest //= 4
    return Cells(
        models=names,
        a=(rest // m).astype(np.int64),
        b=(rest % m).astype(np.int64),
        y=y_u.astype(np.int8),
        s=s_u.astype(np.int8),
        w=wsum,
        n=nsum,
    )

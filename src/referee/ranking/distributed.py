"""``rank`` on a Ray cluster: the cell aggregation on Ray Data, the fit on the driver.

Every rank model is fitted on (model_a, model_b, outcome, strength) cells
(:mod:`referee.ranking.cells`), so a year of arena votes is a distributed group-by followed by
a small fit.  :func:`aggregate_on_ray` reads each shard (one Parquet / JSONL / … file, read and
validated by :func:`referee.io.table` on the worker, errors naming file, line and field) and
reduces it to a :class:`ShardCells` partial — cells keyed by model *names*, the row-unit types
and cluster contributions the intervals need, and the reader's counts — which
:func:`referee.scale.aggregate.aggregate_shards` folds on the driver in shard order
(:class:`CellsSum`).  :meth:`CellsSum.cells` then builds exactly the :class:`Cells` that
:func:`referee.ranking.cells.aggregate` builds from the concatenated table:

* models sorted by name, cells sorted by the key ``((a·M + b)·4 + y)·3 + s`` (as ``_cells``);
* row units (weighted or soft verdicts): the identical-row types ``(cell₁, cell₂, v₁, v₂)``
  with their counts, merged across shards and ordered by the same ``group_rows`` lexsort, so the
  sandwich's ``Q`` and the bootstrap's multinomial draws are the single-machine ones;
* cluster units: clusters numbered by first appearance over the shards in order, rows without
  a value after them — ``pd.factorize`` over the concatenated column.

:func:`rank_on_ray` fits these cells on the driver with the single-machine steps of
:func:`referee.ranking.api.rank`, so ratings agree within float summation order (≪ 1e-9).

Driver memory is bounded by the cells (at most ``M² · 12``) and the unit types: independent of
the number of rows for hard verdicts and for weights or soft probabilities taking few distinct
values.  Cluster units (``cluster=``, or ``pair_id`` by default when pairs repeat) are a
(clusters × cells) matrix, as on one machine: its size grows with the number of clusters.

What needs the rows themselves stays on one machine: online Elo (order-dependent), style
control, win rates vs a baseline and LC win rates, and ``merge_case`` (the canonical spelling
of a name is chosen over the whole table); :func:`rank_on_ray` refuses them with a message.
Name case-variants are reported per shard (a variant split across two shards is not seen).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from referee.errors import InputError
from referee.ranking.bt import WEAK_PRIOR, mle_exists, pair_stats
from referee.ranking.cells import Cells, _row_weights, aggregate_rows, group_rows
from referee.ranking.leaderboard import Leaderboard

#: rank options that need the rows on one machine, and why (refused with ``ray=``)
#: :func:`referee.rank`'s keywords this path uses, with rank's defaults (tests/test_shells.py checks
#: that they and :data:`ROW_OPTIONS` are exactly rank's keywords, defaults included)
RANK_DEFAULTS: dict[str, Any] = {
    "format": None, "model": "bt", "ties": "half", "graded": "auto", "first_position": False, "ci": "sandwich",
    "rounds": 1000, "cluster": None, "seed": 0, "level": 0.95, "anchor": None, "soft": True, "workers": 2,
    "progress": None, "elo_k": 4.0, "elo_shuffles": 0, "style_unit": "tokens", "lc_length": "chars", "lc_rounds": 200,
}
ROW_OPTIONS = {
    "style": "style control fits on rows",
    "baseline": "win rates vs a baseline are computed on rows",
    "lc": "the length-controlled win rate is fitted on rows",
    "lc_difficulty": "the length-controlled win rate is fitted on rows",
    "merge_case": "the canonical spelling of a name is chosen over the whole table",
}

Key = tuple[str, str, int, int]


@dataclass
class ShardCells:
    """One shard reduced to what the fit needs (module docstring); cell indices are the shard's own."""

    rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    mapped: dict[str, int] = field(default_factory=dict)
    variants: list[Any] = field(default_factory=list)
    self_rows: int = 0
    self_models: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    keys: list[Key] = field(default_factory=list)
    w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plain: bool = True  # no weight column and no soft verdict
    expanded: bool = False  # some verdict is soft (split into two parts)
    w_range: tuple[float, float] | None = None  # (min, max) of the row weights (NaN → 1)
    unit_types: tuple[np.ndarray, ...] | None = None  # c1, c2 (−1: none), v1, v2, count
    cluster: str | None = None  # the cluster column used
    cluster_values: list[Any] = field(default_factory=list)  # distinct values, first appearance
    cluster_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cluster_missing: int = 0  # rows without a value (each its own unit, after the values)
    cluster_entries: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # unit, cell, Σ w·π
    prompt_ids: set[Any] | None = None
    prompt_notna: int = 0


def resolve_cluster(columns: pd.Index, cluster: str | None) -> str | None:
    """The column whose values are units, as :func:`referee.ranking.api.cluster_column` picks it
    (``None``: ``pair_id`` as the candidate, kept only when some pair repeats)."""
    if cluster is None:
        return "pair_id" if "pair_id" in columns else None
    if cluster == "none":
        return None
    if cluster == "prompt" and "prompt_id" in columns:
        return "prompt_id"
    if cluster == "prompt_id" and "prompt_id" not in columns and "prompt" in columns:
        return "prompt"
    if cluster not in columns:
        raise InputError(f"cannot cluster by {cluster!r}: no such column", field=cluster)
    return cluster


def shard_cells(path: str, *, format: str | None, soft: bool, cluster: str | None,
                columns: list[str] | None) -> ShardCells:
    """Read one shard and reduce it to a :class:`ShardCells` (runs on a worker)."""
    from referee.io import table

    df = table(path, format, categories=columns is not None, columns=columns)
    out = ShardCells(dropped=dict(df.attrs.get("dropped", {})), mapped=dict(df.attrs.get("mapped", {})))
    if df.attrs.get("name_variants"):
        variants = df.attrs["name_variants"]
        out.variants = list(variants) if isinstance(variants, list | tuple) else [variants]
    a_names = df["model_a"].astype(str).to_numpy()
    b_names = df["model_b"].astype(str).to_numpy()
    self_mask = a_names == b_names
    out.self_rows = int(self_mask.sum())
    out.self_models = set(a_names[self_mask].tolist())
    kept = df[~self_mask].reset_index(drop=True) if out.self_rows else df
    out.rows = len(kept)
    if cluster is None and "prompt_id" in kept.columns:
        ids = kept["prompt_id"]
        out.prompt_ids = set(ids.dropna().tolist())
        out.prompt_notna = int(ids.notna().sum())
    if kept.empty:
        return out
    out.models = set(pd.unique(kept["model_a"].astype(str))) | set(pd.unique(kept["model_b"].astype(str)))
    cells, inv, src, cnt = aggregate_rows(kept, None, soft)
    names = cells.models
    out.keys = [(names[a], names[b], int(y), int(s)) for a, b, y, s in
                zip(cells.a.tolist(), cells.b.tolist(), cells.y.tolist(), cells.s.tolist(), strict=True)]
    out.w, out.n = cells.w, cells.n
    w = _row_weights(kept)
    out.w_range = (float(w.min()), float(w.max()))
    n = len(kept)
    if src is None or cnt is None:  # plain: every row is one unit (cell, −1, 1, 0)
        k = np.arange(cells.a.size)
        out.unit_types = (k, np.full(k.size, -1), np.ones(k.size), np.zeros(k.size), cells.n.copy())
        src, cnt = np.arange(n), np.ones(n)
    else:
        out.plain = False
        out.expanded = src.size > n
        second_cell = np.full(n, -1, dtype=np.int64)
        second_val = np.zeros(n)
        if out.expanded:
            second_cell[src[n:]] = inv[n:]
            second_val[src[n:]] = w[src[n:]] * cnt[n:]
        first_cell, first_val = inv[:n], w * cnt[:n]
        codes, first = group_rows(first_cell, second_cell, first_val, second_val)
        counts = np.bincount(codes, minlength=first.size).astype(float)
        out.unit_types = (first_cell[first], second_cell[first], first_val[first], second_val[first], counts)
    col = resolve_cluster(kept.columns, cluster)
    if col is not None:
        codes_c, uniques = pd.factorize(kept[col])
        missing = codes_c < 0
        n_missing = int(missing.sum())
        codes_c[missing] = len(uniques) + np.arange(n_missing)
        m = sparse.coo_matrix((w[src] * cnt, (codes_c[src], inv)), shape=(len(uniques) + n_missing, cells.a.size))
        m.sum_duplicates()
        out.cluster = col
        out.cluster_values = list(uniques)
        out.cluster_rows = np.bincount(codes_c[~missing], minlength=len(uniques)) if len(uniques) else out.cluster_rows
        out.cluster_missing = n_missing
        out.cluster_entries = (m.row.astype(np.int64), m.col.astype(np.int64), m.data)
    return out


class CellsSum:
    """The fold of :class:`ShardCells` partials on the driver (:meth:`add`), and the :class:`Cells`
    they make (:meth:`cells`).  Holds cells, unit types and clusters — never rows."""

    def __init__(self) -> None:
        self.rows = 0
        self.shards = 0
        self.dropped: Counter[str] = Counter()
        self.mapped: Counter[str] = Counter()
        self.variants: list[Any] = []
        self.self_rows = 0
        self.self_models: set[str] = set()
        self.models: set[str] = set()
        self.gid: dict[Key, int] = {}
        self.w: list[float] = []
        self.n: list[float] = []
        self.plain = True
        self.expanded = False
        self.w_range: tuple[float, float] | None = None
        self.units: Counter[tuple[int, int, float, float]] = Counter()
        self.cluster: str | None = None
        self.cluster_id: dict[Any, int] = {}
        self.cluster_rows: list[int] = []
        self.cluster_missing = 0
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.prompt_ids: set[Any] | None = None
        self.prompt_notna = 0

    def add(self, part: ShardCells) -> CellsSum:
        """Fold one shard in (shards must come in order for cluster numbering)."""
        self.shards += 1
        self.rows += part.rows
        self.dropped.update(part.dropped)
        self.mapped.update(part.mapped)
        self.variants += [v for v in part.variants if v not in self.variants]
        self.self_rows += part.self_rows
        self.self_models |= part.self_models
        self.models |= part.models
        if part.prompt_ids is not None:
            self.prompt_ids = (self.prompt_ids or set()) | part.prompt_ids
            self.prompt_notna += part.prompt_notna
        if not part.keys:
            return self
        g = np.empty(len(part.keys), dtype=np.int64)
        for i, key in enumerate(part.keys):
            j = self.gid.get(key)
            if j is None:
                j = self.gid[key] = len(self.w)
                self.w.append(0.0)
                self.n.append(0.0)
            self.w[j] += float(part.w[i])
            self.n[j] += float(part.n[i])
            g[i] = j
        self.plain &= part.plain
        self.expanded |= part.expanded
        if part.w_range is not None:
            lo, hi = part.w_range
            self.w_range = (lo, hi) if self.w_range is None else (min(self.w_range[0], lo), max(self.w_range[1], hi))
        if part.unit_types is not None:
            c1, c2, v1, v2, cnt = part.unit_types
            g2 = np.where(c2 >= 0, g[np.maximum(c2, 0)], -1)
            for unit_type, c in zip(zip(g[c1].tolist(), g2.tolist(), v1.tolist(), v2.tolist(), strict=True),
                                    cnt.tolist(), strict=True):
                self.units[unit_type] += c
        if part.cluster_entries is not None:
            self._add_clusters(part, g)
        return self

    def _add_clusters(self, part: ShardCells, g: np.ndarray) -> None:
        if self.cluster is not None and part.cluster != self.cluster:
            raise InputError(f"shards cluster by different columns ({self.cluster!r}, {part.cluster!r}): give "
                             "`cluster` explicitly", field="cluster")
        self.cluster = part.cluster
        local = np.empty(len(part.cluster_values) + part.cluster_missing, dtype=np.int64)
        for i, value in enumerate(part.cluster_values):
            j = self.cluster_id.get(value)
            if j is None:
                j = self.cluster_id[value] = len(self.cluster_rows)
                self.cluster_rows.append(0)
            self.cluster_rows[j] += int(part.cluster_rows[i])
            local[i] = j
        # rows without a value: numbered −1, −2, … in order, placed after every value at the end
        local[len(part.cluster_values):] = -1 - (self.cluster_missing + np.arange(part.cluster_missing))
        self.cluster_missing += part.cluster_missing
        unit, cell, val = part.cluster_entries  # type: ignore[misc]  # checked by the caller
        self.entries.append((local[unit], g[cell], val))

    def repeated_pairs(self) -> bool:
        """``df["pair_id"].notna().any() and df["pair_id"].duplicated().any()`` over all shards."""
        if self.cluster != "pair_id" or not self.cluster_id:
            return False
        return max(self.cluster_rows) > 1 or self.cluster_missing > 1

    def cells(self, cluster: str | None) -> tuple[Cells, str | None, str | None]:
        """The cells of the whole table, the cluster column of the units and the note on clustering
        (as :func:`referee.ranking.api.cluster_column` and :func:`~referee.ranking.cells.aggregate`)."""
        only_self = sorted(self.self_models - self.models)
        if only_self or self.rows == 0:
            names = ", ".join(only_self[:5]) or "(no rows)"
            raise InputError(f"model(s) compared only with themselves: {names}; nothing to rank", field="model_a")
        units_col, note = self._cluster_choice(cluster)
        models = tuple(sorted(self.models))
        m = len(models)
        pos = {name: i for i, name in enumerate(models)}
        keys = list(self.gid)
        a = np.array([pos[k[0]] for k in keys], dtype=np.int64)
        b = np.array([pos[k[1]] for k in keys], dtype=np.int64)
        y = np.array([k[2] for k in keys], dtype=np.int64)
        s = np.array([k[3] for k in keys], dtype=np.int64)
        w, n = np.asarray(self.w), np.asarray(self.n)
        code = ((a * m + b) * 4 + y) * 3 + s
        keep = n > 0
        order = np.flatnonzero(keep)[np.argsort(code[keep], kind="stable")]
        final = np.full(len(keys), -1, dtype=np.int64)
        final[order] = np.arange(order.size)
        cells = Cells(models=models, a=a[order], b=b[order], y=y[order].astype(np.int8), s=s[order].astype(np.int8),
                      w=w[order], n=n[order])
        if units_col is not None:
            return self._cluster_units(cells, final, units_col), units_col, note
        uniform = self.w_range is None or self.w_range[0] == self.w_range[1]
        if self.plain or (not self.expanded and uniform):
            return cells, None, note  # U = I
        return self._row_units(cells, final), None, note

    def _cluster_choice(self, cluster: str | None) -> tuple[str | None, str | None]:
        if cluster is not None:
            return self.cluster, None
        if self.repeated_pairs():
            return "pair_id", None
        if self.prompt_ids is not None and len(self.prompt_ids) < self.prompt_notna:
            return None, (
                f"{self.rows:,} comparisons share {len(self.prompt_ids):,} prompts; rows are treated as independent. "
                "If outcomes on one prompt are correlated, use cluster='prompt_id' (--cluster prompt_id) for "
                "cluster-robust intervals."
            )
        return None, None

    def _row_units(self, cells: Cells, final: np.ndarray) -> Cells:
        types = list(self.units.items())
        c1 = final[np.array([t[0][0] for t in types], dtype=np.int64)]
        g2 = np.array([t[0][1] for t in types], dtype=np.int64)
        c2 = np.where(g2 >= 0, final[np.maximum(g2, 0)], -1)
        v1 = np.array([t[0][2] for t in types])
        v2 = np.array([t[0][3] for t in types])
        count = np.array([t[1] for t in types])
        codes, first = group_rows(c1, c2, v1, v2)
        n_units = first.size
        unit_n = np.bincount(codes, weights=count, minlength=n_units)
        u1, u2, w1, w2 = c1[first], c2[first], v1[first], v2[first]
        has2 = u2 >= 0
        rows = np.concatenate([np.arange(n_units), np.flatnonzero(has2)])
        cols = np.concatenate([u1, u2[has2]])
        vals = np.concatenate([w1, w2[has2]])
        units = sparse.csr_matrix((vals, (rows, cols)), shape=(n_units, cells.a.size))
        return replace(cells, units=units, unit_n=unit_n)

    def _cluster_units(self, cells: Cells, final: np.ndarray, column: str) -> Cells:
        n_values = len(self.cluster_rows)
        unit = np.concatenate([e[0] for e in self.entries]) if self.entries else np.zeros(0, dtype=np.int64)
        cell = np.concatenate([e[1] for e in self.entries]) if self.entries else np.zeros(0, dtype=np.int64)
        val = np.concatenate([e[2] for e in self.entries]) if self.entries else np.zeros(0)
        unit = np.where(unit >= 0, unit, n_values + (-1 - unit))
        cell = final[cell]
        ok = cell >= 0
        n_units = n_values + self.cluster_missing
        units = sparse.csr_matrix((val[ok], (unit[ok], cell[ok])), shape=(n_units, cells.a.size))
        return replace(cells, units=units, unit_n=np.ones(n_units), clustered=column)

    def report(self) -> dict[str, Any]:
        """What reading reported, as :func:`referee.ranking.steps.comparisons` returns it."""
        dropped = dict(self.dropped)
        if self.self_rows:
            dropped["self_battles"] = self.self_rows
        return {"dropped": dropped, "mapped": dict(self.mapped), "name_variants": self.variants or None}


def shards_of(data: Any) -> list[str]:
    """The files of ``data`` (paths, directories, globs; as :func:`referee.io.read` expands them)."""
    if isinstance(data, pd.DataFrame):
        raise InputError("`ray` ranks files (Parquet / JSONL shards every node can read), not a DataFrame in "
                         "memory: write it to shards, or rank it without `ray`", field="ray")
    from referee.io.detect import is_side_file
    from referee.io.source import expand_paths

    return [str(p) for p in expand_paths(data if isinstance(data, str | Path) else list(data), skip=is_side_file)]


def aggregate_on_ray(
    data: Any, ray: str | None = "auto", *, format: str | None = None, soft: bool = True,
    cluster: str | None = None, columns: list[str] | None = None, num_cpus: float = 1.0,
) -> tuple[Cells, str | None, str | None, CellsSum]:
    """The cells of ``data`` aggregated on the Ray cluster ``ray`` (module docstring).

    Returns ``(cells, cluster column of the units, note on clustering, the fold)`` — the fold
    keeps the row count and the reader's report (:meth:`CellsSum.report`).  ``columns``: read
    only these besides the verdict columns (as :func:`referee.io.read`)."""
    from referee.scale.aggregate import aggregate_shards

    shards = shards_of(data)
    partial = functools.partial(shard_cells, format=format, soft=soft, cluster=cluster, columns=columns)
    total = aggregate_shards(shards, partial, CellsSum.add, CellsSum(), ray=ray, num_cpus=num_cpus)
    cells, units, note = total.cells(cluster)
    return cells, units, note, total


def rank_on_ray(data: Any, ray: str | None = "auto", **options: Any) -> Leaderboard:
    """:func:`referee.rank` with the cell aggregation on the Ray cluster ``ray``; the fit on the driver.

    ``options`` are :func:`referee.rank`'s keywords; those that need the rows (:data:`ROW_OPTIONS`,
    and ``model='elo'``) are refused.  The leaderboard equals the single-machine one: same
    cells, same units, same fit, same intervals (ratings within 1e-9)."""
    from threadpoolctl import threadpool_limits

    from referee.ranking import steps as api

    for name, why in ROW_OPTIONS.items():
        if options.get(name):
            raise InputError(f"`{name}` cannot run with `ray`: {why}; rank without `ray`", field=name)
    if options.get("model") == "elo":
        raise InputError("`model`='elo' cannot run with `ray`: online Elo replays the rows in order; rank "
                         "without `ray`", field="model")
    unknown = set(options) - set(RANK_DEFAULTS) - set(ROW_OPTIONS)
    if unknown:
        raise InputError(f"unknown rank option(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    o: dict[str, Any] = dict(RANK_DEFAULTS)
    o.update({k: v for k, v in options.items() if k not in ROW_OPTIONS})
    api.check_options(model=o["model"], ci=o["ci"], ties=o["ties"], level=o["level"], rounds=o["rounds"],
                      baseline=None, lc=False, lc_rounds=200, lc_difficulty=None)
    anchor_pair = api.parse_anchor(o["anchor"])
    columns = api.columns_needed(o["model"], None, None, False, o["cluster"])
    cells, units, note, total = aggregate_on_ray(data, ray, format=o["format"], soft=o["soft"],
                                                 cluster=o["cluster"], columns=columns)
    api.check_connected(cells)
    s = api.Settings(
        model=o["model"], ties=o["ties"], graded=api.graded_mode(cells, o["graded"]), home=o["first_position"],
        style=[], style_unit=o["style_unit"], ci=o["ci"], level=o["level"], cluster=units,
        prior=0.0 if mle_exists(pair_stats(cells, o["ties"])) else WEAK_PRIOR, soft=o["soft"],
        elo_k=o["elo_k"], elo_shuffles=o["elo_shuffles"],
        boot=api.Boot(rounds=o["rounds"], seed=o["seed"], workers=o["workers"], progress=o["progress"]),
    )
    rows = pd.DataFrame(index=pd.RangeIndex(total.rows))  # the row count without the rows: cells are all the fit reads
    meta = api.run_meta(s, rows, cells, total.report(), anchor=o["anchor"], merge_case=False, cluster_note=note)
    with threadpool_limits(limits=1 if cells.n_models <= 500 else None, user_api="blas"):
        fitted, intervals = api.fit(rows, cells, s)
        api.add_fit_meta(meta, fitted, intervals, s)
        table, win_prob = api.leaderboard_table(fitted, intervals, cells, o["level"], anchor_pair, o["seed"])
    meta["notes"] = meta["notes"] or None
    return Leaderboard(table=table, meta=meta, win_prob=win_prob)


__all__ = ["CellsSum", "ShardCells", "aggregate_on_ray", "rank_on_ray", "shard_cells"]

"""Leaderboards per segment (category, language, turn, judge, voter …) and a test of whether
strengths differ across segments.

:func:`rank_segments` reads the comparisons once, keeps the rows that satisfy every
``where`` condition (:func:`select_rows`), ranks all of them (the *overall* board) and
each value of the ``by`` column on its own (one *segment* board each), with the same
options as :func:`referee.ranking.api.rank`, as LMArena's category leaderboards do
(Chiang et al. 2024, "Chatbot Arena: An Open Platform for Evaluating LLMs by Human
Preference", §5).  Segments that cannot be ranked on their own (a comparison graph in
disconnected groups, a single model, …) are listed with the reason; they never stop
the others.

Heterogeneity test
------------------
Let ℓ(θ; D) be the maximised log-likelihood of the chosen model on data D.  Under

* H0 — one set of strengths (and of the model's other parameters: tie parameter,
  first-position advantage, ordinal thresholds, style coefficients) for every segment,
* H1 — separate strengths and parameters per segment,

the likelihood-ratio statistic is

    LR = 2 · (Σ_s ℓ̂_s − ℓ̂_pooled),

where ℓ̂_s is the maximum over segment s alone and ℓ̂_pooled the maximum over the union
of the tested segments.  With M_s models and k_s other free parameters in segment s
(M, k pooled) the models differ by

    df = Σ_s (M_s − 1 + k_s) − (M − 1 + k)

free parameters (strengths are identified up to a common shift, hence the − 1), and by
Wilks' theorem LR is asymptotically χ²_df under H0 (Wilks 1938, "The large-sample
distribution of the likelihood ratio for testing composite hypotheses", Ann. Math.
Statist. 9:60–62; Agresti 2013, *Categorical Data Analysis*, 3rd ed., §1.3.3 and §11.6
for Bradley–Terry models).  The p-value is ``P(χ²_df ≥ LR)``.

The χ² reference distribution holds for a proper likelihood of independent comparisons
with hard verdicts (Bradley–Terry with ties dropped or absent, Davidson, Rao–Kupper,
ordinal graded).  Row weights, soft verdicts (``prob_a``), ties counted as half a win,
Arena-Hard's triple-counted strong verdicts, the weak prior used when a model never wins
or never loses, and style covariates standardised within each segment make ℓ a
quasi- or penalised likelihood; the statistic is then reported as *approximate*, with
the reasons (McCullagh & Nelder 1989, *Generalized Linear Models*, 2nd ed., ch. 9: a
quasi-likelihood ratio is χ² only after division by the dispersion).  Correlated
comparisons (many votes on one prompt or from one voter) also inflate LR; the test
does not correct for clustering.  Elo has no likelihood, so no test is reported.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from referee.errors import InputError, NameWarning
from referee.io import table
from referee.ranking.api import rank
from referee.ranking.leaderboard import Leaderboard
from referee.report.output import Renderable, clean, emit
from referee.report.segments import lr_summary
from referee.schema import TIE, TIE_BOTHBAD

#: board columns repeated per segment in the models × segments table
WIDE_FIELDS: tuple[str, ...] = ("rating", "ci_low", "ci_high", "rank", "rank_low", "rank_high", "battles")
#: the label of the overall board in the long table (``to_pandas``/CSV) and the wide one
OVERALL = "(overall)"
#: fewer comparisons than this per free parameter: the χ² approximation is flagged as poor
SPARSE = 10
#: rank() options that the pooled refit for the test does not need
_NOT_FOR_TEST = ("baseline", "lc", "lc_length", "anchor", "ci", "rounds", "cluster", "progress")

Where = str | Sequence[str] | Mapping[str, Any] | None


@dataclass
class SegmentedLeaderboard(Renderable):
    """One leaderboard per segment, the overall one, and the heterogeneity test.

    ``segments`` maps each segment label (the ``by`` value as text) to a
    :class:`~referee.ranking.leaderboard.Leaderboard`; ``skipped`` maps the labels of
    segments that could not be ranked to ``{"n_comparisons", "reason"}``; ``test`` is the
    likelihood-ratio test (see the module docstring), ``notes`` what the reader must know.
    """

    by: str
    overall: Leaderboard
    segments: dict[str, Leaderboard]
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)
    where: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    FORMATS: ClassVar[dict[str, str]] = {**Renderable.FORMATS, ".csv": "to_csv"}

    # ------------------------------------------------------------------ tables
    def to_pandas(self) -> pd.DataFrame:
        """Every board stacked: a ``segment`` column (``(overall)`` first) before the board columns."""
        parts = [self.overall.table.assign(segment=OVERALL)]
        parts += [b.table.assign(segment=label) for label, b in self.segments.items()]
        out = pd.concat(parts, ignore_index=True)
        return out[["segment", *[c for c in out.columns if c != "segment"]]]

    def wide(self, fields: Sequence[str] = WIDE_FIELDS) -> pd.DataFrame:
        """The models × segments table: rows are models (overall order), columns
        ``(segment, field)`` with the overall board first; NaN where a model is absent."""
        order = list(self.overall.table["model"])
        blocks = {OVERALL: self.overall.table, **{k: b.table for k, b in self.segments.items()}}
        cols = {}
        for label, t in blocks.items():
            t = t.set_index("model")
            for f in fields:
                cols[(label, f)] = t[f].reindex(order) if f in t else pd.Series(np.nan, index=order)
        out = pd.DataFrame(cols, index=pd.Index(order, name="model"))
        out.columns = pd.MultiIndex.from_tuples(list(cols), names=["segment", "field"])
        return out

    # ------------------------------------------------------------------ writers
    def to_dict(self) -> dict[str, Any]:
        """The overall board in the usual contract plus ``by``, ``where``, ``segments``
        (label → board in the usual contract), ``skipped_segments``, ``table`` (models ×
        segments) and ``segment_test``."""
        out = self.overall.to_dict()
        wide = self.wide()
        table = []
        for model, row in wide.iterrows():
            cells: dict[str, dict[str, Any] | None] = {}
            for label in [OVERALL, *self.segments]:
                vals = {f: clean(row[(label, f)]) for f in WIDE_FIELDS}
                cells[label] = None if vals["rating"] is None else {f: _integral(f, v) for f, v in vals.items()}
            table.append({"model": model, "overall": cells.pop(OVERALL), "segments": cells})
        out.update(
            {
                "by": self.by,
                "where": [f"{c}={v}" for c, v in self.where],
                "segments": {label: b.to_dict() for label, b in self.segments.items()},
                "skipped_segments": clean(self.skipped),
                "table": table,
                "segment_test": clean(self.test),
                "segment_notes": list(self.notes),
            }
        )
        return out

    def to_csv(self, path: str | Path | None = None) -> str:
        """Long form: one row per (segment, model), the overall board first."""
        return emit(self.to_pandas().to_csv(index=False), path)

    def to_markdown(self, path: str | Path | None = None) -> str:
        from referee.report.segments import segments_markdown

        return emit(segments_markdown(self), path)

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.report.segments import segments_html

        return emit(segments_html(self), path)

    def print(self, console: Any = None, top: int | None = None) -> None:
        """The models × segments table in the terminal (Rich)."""
        from referee.report.segments import print_segments

        print_segments(self, console=console, top=top)

    def __repr__(self) -> str:
        return (
            f"SegmentedLeaderboard(by={self.by!r}, {len(self.segments)} segments, "
            f"{len(self.skipped)} skipped)\n{lr_summary(self.test)}"
        )


def _integral(name: str, value: Any) -> Any:
    """Ranks and battle counts as integers in the JSON (the wide table holds floats for NaN)."""
    if value is not None and (name.startswith("rank") or name == "battles") and float(value).is_integer():
        return int(value)
    return value


# ---------------------------------------------------------------------- filtering
def parse_where(where: Where) -> list[tuple[str, str]]:
    """``"col=value"`` strings (or a mapping) → ``[(column, value), …]``."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [(str(k), str(v)) for k, v in where.items()]
    items: Iterable[str] = [where] if isinstance(where, str) else where
    out = []
    for item in items:
        col, sep, value = str(item).partition("=")
        if not sep or not col.strip():
            raise InputError(f"`where` must look like COLUMN=VALUE, got {item!r}", field="where")
        out.append((col.strip(), value.strip()))
    return out


def _condition(column: str, value: str, *, param: bool = False) -> str:
    """A ``where`` condition (or, with ``param``, the ``column=value`` parameter itself) as an error
    names it: ``where='turn=1'`` to a library caller, ``--where turn=1`` on the command line."""
    text = value if param else f"{column}={value}"
    name = column if param else "where"
    return f"`{name}={text!r}`" if "`" not in text else f"{name}={text!r}"


def _matches(col: pd.Series, value: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col):
        return (col.astype(str).str.lower() == value.lower()).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(col):
        try:
            target = float(value)
        except ValueError:
            return np.zeros(len(col), dtype=bool)
        return (pd.to_numeric(col, errors="coerce") == target).fillna(False).to_numpy(dtype=bool)
    present: np.ndarray = col.notna().to_numpy(dtype=bool)
    equal: np.ndarray = np.asarray(col.map(_label).to_numpy(dtype=object) == value, dtype=bool)
    both: np.ndarray = present & equal
    return both


def _label(value: Any) -> str:
    """A segment value as text: ``1.0`` → ``"1"`` (integers stored as floats), else ``str``."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _seen(col: pd.Series, limit: int = 8) -> str:
    vals = col.dropna().map(_label).value_counts().index[:limit]
    more = ", …" if col.dropna().map(_label).nunique() > limit else ""
    return ", ".join(map(repr, vals)) + more if len(vals) else "none (the column is empty)"


def select_rows(data: Any, where: Where, *, format: str | None = None) -> pd.DataFrame:
    """The comparisons (a DataFrame, a path or paths, read with :func:`referee.io.table`)
    whose ``column`` equals ``value`` for every ``where`` condition (logical AND).

    Numeric columns compare numerically (``turn=1`` matches 1 and 1.0), others as text.
    An unknown column, a condition no row satisfies, or conditions that no row satisfies
    together raise :class:`InputError` naming the column.
    """
    df = table(data, format)
    conds = parse_where(where)
    if not conds:
        return df
    keep = np.ones(len(df), dtype=bool)
    for col, value in conds:
        if col not in df.columns:
            shown = ", ".join(c for c in map(str, df.columns) if not c.startswith("_"))
            raise InputError(f"{_condition(col, value)}: the data have no column {col!r} (columns: {shown})", field=col)
        hit = _matches(df[col], value)
        if not hit.any():
            raise InputError(
                f"{_condition(col, value)}: no row has {col} = {value!r}; values present: {_seen(df[col])}", field=col
            )
        keep &= hit
    if not keep.any():
        text = " and ".join(_condition(c, v) for c, v in conds)
        raise InputError(f"{text}: no row satisfies all conditions together", field=conds[-1][0])
    out = df[keep].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


# ---------------------------------------------------------------------- ranking
def refuse_ray(ray: str | None) -> None:
    """Segments and ``where`` filters are chosen on rows, which a Ray run never holds on the driver."""
    if ray is not None:
        raise InputError("`ray` cannot run with `by` or `where`: segments and filters are chosen on rows; "
                         "rank without `ray`", field="ray")


def rank_segments(
    data: Any,
    by: str,
    *,
    where: Where = None,
    format: str | None = None,
    **rank_options: Any,
) -> SegmentedLeaderboard:
    """Rank all (filtered) comparisons and each value of column ``by`` separately.

    ``data`` is what :func:`referee.ranking.api.rank` accepts (a DataFrame, a path, paths);
    it is read once.  ``where`` (``"COLUMN=VALUE"``, a list of them, or a mapping) keeps
    only rows satisfying every condition (:func:`select_rows`).  ``rank_options`` are the
    keyword arguments of :func:`~referee.ranking.api.rank` (``model``, ``ties``, ``ci``,
    ``rounds``, ``cluster``, ``seed``, ``style``, …), used for every board.  Rows with no
    ``by`` value count in the overall board only.  Segments that cannot be ranked on
    their own are reported in ``skipped`` with the reason.  The returned board carries
    the likelihood-ratio test of H0 "one set of strengths for all segments" against H1
    "separate strengths per segment" (module docstring: statistic, df, validity).
    """
    refuse_ray(rank_options.get("ray"))
    if "format" in rank_options:
        raise TypeError("pass format= to rank_segments directly")
    df = select_rows(data, where, format=format)
    if by not in df.columns:
        shown = ", ".join(c for c in map(str, df.columns) if not c.startswith("_"))
        raise InputError(f"{_condition('by', by, param=True)}: the data have no column {by!r} (columns: {shown})",
                         field=by)
    column = df[by]
    present = column.notna().to_numpy(dtype=bool)
    if not present.any():
        raise InputError(f"{_condition('by', by, param=True)}: the column {by!r} has no values in the selected rows",
                         field=by)
    labels = np.full(len(df), None, dtype=object)
    labels[present] = column[present].map(_label).to_numpy(dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NameWarning)  # given once, when the rows were read
        overall = rank(df, **rank_options)
    overall.meta["where"] = [f"{c}={v}" for c, v in parse_where(where)] or None

    notes: list[str] = []
    n_missing = int((~present).sum())
    if n_missing:
        notes.append(f"{n_missing:,} comparison(s) have no {by}; they count in the overall board only.")
    segments: dict[str, Leaderboard] = {}
    skipped: dict[str, dict[str, Any]] = {}
    for label in _ordered(column[present]):
        sub = _subset(df, labels == label)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # name-variant warnings were given once for all rows
                board = rank(sub, **rank_options)
        except (InputError, np.linalg.LinAlgError) as err:
            reason = err.message if isinstance(err, InputError) else f"the fit failed ({err})"
            skipped[label] = {"n_comparisons": len(sub), "reason": reason}
            continue
        board.meta["segment"] = {"by": by, "value": label}
        segments[label] = board
    for label, info in skipped.items():
        notes.append(f"{by} = {label} ({info['n_comparisons']:,} comparisons) is not ranked: {info['reason']}")
    test = segment_test(df, labels, by, overall, segments, rank_options)
    return SegmentedLeaderboard(
        by=by, overall=overall, segments=segments, skipped=skipped, test=test,
        where=parse_where(where), notes=notes,
    )


def _ordered(values: pd.Series) -> list[str]:
    """Distinct segment labels: numeric order for numeric columns, else alphabetical."""
    uniq = pd.unique(values)
    if pd.api.types.is_numeric_dtype(values):
        uniq = np.sort(np.asarray(uniq, dtype=float))
        return list(dict.fromkeys(_label(v) for v in uniq))
    return sorted({_label(v) for v in uniq})


def _subset(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    sub = df[mask].reset_index(drop=True)
    # the file-level counts of dropped rows belong to the overall board, not to each segment
    sub.attrs = {k: v for k, v in df.attrs.items() if k not in ("dropped", "mapped")}
    return sub


# ---------------------------------------------------------------------- the test
def free_parameters(board: Leaderboard) -> int:
    """Free parameters of a fitted board: M − 1 strengths plus the tie parameter, the
    first-position advantage, style coefficients and ordinal thresholds it estimated
    (a threshold fixed at 0 because there were no ties does not count)."""
    params = board.meta.get("parameters") or {}
    counted = [
        key
        for key, value in params.items()
        if key in ("tie_parameter", "first_position")
        or key.startswith("style:")
        or (key.startswith("threshold_") and not (key == "threshold_tie" and value == 0.0))
    ]
    return len(board.table) - 1 + len(counted)


def _approximations(df: pd.DataFrame, boards: Sequence[Leaderboard], options: Mapping[str, Any]) -> list[str]:
    """Why ℓ is not the exact likelihood of independent hard verdicts (empty when it is)."""
    why = []
    if "weight" in df.columns and not np.allclose(df["weight"].fillna(1.0).to_numpy(dtype=float), 1.0):
        why.append("rows are weighted")
    if options.get("soft", True) and "prob_a" in df.columns:
        q = df["prob_a"].dropna().to_numpy(dtype=float)
        if ((q > 0) & (q < 1)).any():
            why.append("soft verdicts (prob_a) enter as fractional wins")
    model = options.get("model", "bt")
    has_ties = bool(df["winner"].isin([TIE, TIE_BOTHBAD]).any())
    if model == "bt" and options.get("ties", "half") == "half" and has_ties:
        graded = {b.meta.get("graded") for b in boards}
        if graded <= {None, "arena-hard", "ignore"}:
            why.append("ties count as half a win (a quasi-likelihood)")
    if any(b.meta.get("graded") == "arena-hard" for b in boards):
        why.append("strong verdicts count three times (graded arena-hard)")
    if any(b.meta.get("prior_precision") for b in boards):
        why.append("a weak prior keeps some fits finite (a model never won or never lost), so ℓ is penalised")
    if options.get("style"):
        why.append("style covariates are standardised within each segment")
    thin = [b for b in boards if b.meta.get("n_comparisons", 0) < SPARSE * max(free_parameters(b), 1)]
    if thin:
        why.append(
            f"{len(thin)} fit(s) have fewer than {SPARSE} comparisons per free parameter, where the χ² "
            "approximation is poor"
        )
    clustered = options.get("cluster") or next((b.meta["cluster"] for b in boards if b.meta.get("cluster")), None)
    if clustered:
        why.append(f"comparisons are clustered by {clustered}, but the test treats them as independent")
    return why


def segment_test(
    df: pd.DataFrame,
    labels: np.ndarray,
    by: str,
    overall: Leaderboard,
    segments: Mapping[str, Leaderboard],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Likelihood-ratio test of equal strengths across the ranked segments (module docstring).

    When some rows are not in a ranked segment (no ``by`` value, or a skipped segment) the
    pooled fit is redone on the rows of the ranked segments, so that H0 and H1 describe the
    same data.  Returns a JSON-ready dict; ``available`` is False with a ``note`` when no
    test can be made.
    """
    from scipy.stats import chi2

    base: dict[str, Any] = {
        "test": "likelihood ratio: one set of strengths for all segments (H0) vs separate strengths per segment (H1)",
        "by": by,
        "available": False,
        "statistic": None,
        "df": None,
        "p_value": None,
        "segments": list(segments),
        "approximate": None,
        "approximations": [],
        "note": None,
    }
    if overall.meta.get("method") == "elo":
        return {**base, "note": "Elo has no likelihood; no test of differences between segments."}
    if len(segments) < 2:
        return {**base, "note": f"fewer than two {by} segments could be ranked; nothing to compare."}
    ll_seg = [float(b.meta.get("loglik", math.nan)) for b in segments.values()]
    if not all(math.isfinite(v) for v in ll_seg):
        return {**base, "note": "the fit reports no log-likelihood; no test."}
    tested = np.isin(labels, np.array(list(segments), dtype=object))
    pooled = overall
    note = None
    if not tested.all():
        opts = {k: v for k, v in options.items() if k not in _NOT_FOR_TEST}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pooled = rank(_subset(df, tested), ci="none", **opts)
        except (InputError, np.linalg.LinAlgError) as err:
            msg = err.message if isinstance(err, InputError) else str(err)
            return {**base, "note": f"the pooled fit of the ranked segments failed: {msg}"}
        note = f"H0 is fitted on the {int(tested.sum()):,} comparisons of the ranked segments only."
    ll_pooled = float(pooled.meta.get("loglik", math.nan))
    if not math.isfinite(ll_pooled):
        return {**base, "note": "the pooled fit reports no log-likelihood; no test."}
    dof = sum(free_parameters(b) for b in segments.values()) - free_parameters(pooled)
    if dof <= 0:
        return {**base, "note": "the segments add no free parameters; nothing to test."}
    stat = max(0.0, 2.0 * (sum(ll_seg) - ll_pooled))
    why = _approximations(_subset(df, tested), [pooled, *segments.values()], options)
    return {
        **base,
        "available": True,
        "statistic": stat,
        "df": int(dof),
        "p_value": float(chi2.sf(stat, dof)),
        "loglik_pooled": ll_pooled,
        "loglik_segments": dict(zip(segments, ll_seg, strict=True)),
        "n_comparisons": int(tested.sum()),
        "approximate": bool(why),
        "approximations": why,
        "note": note,
    }


__all__ = [
    "SegmentedLeaderboard",
    "free_parameters",
    "lr_summary",
    "parse_where",
    "rank_segments",
    "segment_test",
    "select_rows",
]

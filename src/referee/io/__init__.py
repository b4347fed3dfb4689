"""Readers and writers: external preference logs in, one canonical comparisons table out.

>>> df = read(["battles.jsonl.gz", "annotations.json.xz"])   # doctest: +SKIP
>>> df.attrs["dropped"], df.attrs["mapped"], df.attrs["formats"]   # doctest: +SKIP

Formats (auto-detected from content, or forced with ``format=``): ``arena``,
``alpaca_eval``, ``mt_bench``, ``fastchat_pair``, ``arena_hard``, ``prd``, ``generic``, and the
gold-labelled judge benchmarks ``llmbar``, ``judgebench``, ``autoj``, ``pandalm`` and ``pairs``
(chosen/rejected sets), whose tables hold gold rows (``judge="gold"``) beside the verdicts.
Each has its own module with the format's details.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import DATAFRAME, InputError
from referee.io import _arrow as fa
from referee.io import (
    alpaca_eval,
    arena,
    arena_hard,
    autoj,
    fastchat_pair,
    generic,
    judgebench,
    llmbar,
    mt_bench,
    pairs,
    pandalm,
    prd,
)
from referee.io.detect import FORMATS, detect, is_side_file
from referee.io.source import Parsed, Source, expand_paths, relocate
from referee.io.write import write
from referee.schema import REQUIRED, validate

__all__ = ["FORMATS", "detect", "read", "table", "write"]

#: columns ``read(columns=...)`` always keeps: they decide what a row means (``parse_status``:
#: whether it holds a verdict at all)
ROW_COLUMNS = frozenset(REQUIRED) | {"prob_a", "strength", "weight", "parse_status"}

READERS: dict[str, Callable[..., Parsed]] = {
    "arena": arena.read,
    "alpaca_eval": alpaca_eval.read,
    "mt_bench": mt_bench.read,
    "fastchat_pair": fastchat_pair.read,
    "arena_hard": arena_hard.read,
    "prd": prd.read,
    "generic": generic.read,
    "llmbar": llmbar.read,
    "judgebench": judgebench.read,
    "autoj": autoj.read,
    "pandalm": pandalm.read,
    "pairs": pairs.read,
}


def read(
    paths: str | Path | Iterable[str | Path],
    format: str | None = None,
    *,
    baseline: str | None = None,
    merge_case: bool = False,
    categories: bool = False,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Read one or more files (or directories of them) into one validated comparisons table.

    ``format`` forces a reader (see :data:`FORMATS`); otherwise each file's format is
    detected from its content.  ``baseline`` names the baseline model of Arena-Hard
    v0.1 judgments, whose records do not.  The result's ``attrs`` hold ``dropped``
    (reason -> rows deliberately skipped: ``unparsed_verdict`` for judge outputs the
    source itself marks unparsable, ``missing_game`` for a null Arena-Hard game),
    ``mapped`` (format-specific label mappings applied, e.g. ``"tie (inconsistent) ->
    tie"``, with counts) and ``formats`` (file -> format).  Self-battles are kept.
    Model names are NFC-normalised and stripped; names that differ only by case or
    surrounding whitespace (across all files) give one :class:`~referee.errors.NameWarning`
    and ``attrs["name_variants"]``, and are merged with ``merge_case`` (see
    :func:`referee.schema.normalise_names`).
    ``model_a``, ``model_b`` and ``winner`` are strings; with ``categories`` they are pandas
    Categoricals instead (see :func:`labels_as_categories`: both model columns share one
    sorted code space), which is how ``referee rank`` reads millions of rows without hashing
    their strings again.  ``columns`` keeps only those columns besides the ones that decide
    what a row means (:data:`ROW_COLUMNS`: models, winner, ``prob_a``, ``strength``,
    ``weight``, ``parse_status``); a Parquet file then reads nothing else, and other columns are not
    validated.
    Raises :class:`~referee.errors.InputError` naming file, line and field on bad input.
    """
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r}: `format` must be one of {', '.join(FORMATS)}", field="format")
    frames: list[pd.DataFrame] = []
    dropped: Counter[str] = Counter()
    mapped: Counter[str] = Counter()
    formats: dict[str, str] = {}
    keep = None if columns is None else ROW_COLUMNS | {str(c) for c in columns}
    files = expand_paths(paths, skip=is_side_file)
    # names are checked once: in the file's own validation when there is one file, else on the whole table
    names = {"merge_case": merge_case, "check_names": len(files) == 1}
    for path in files:
        src = Source(path)
        fmt = format or _detect(src)
        df, parsed = _read_one(src, fmt, {"baseline": baseline, "keep": keep}, names)
        frames.append(df if categories else labels_as_text(df))
        dropped.update(parsed.dropped)
        mapped.update(parsed.mapped)
        formats[src.name] = fmt
    if categories and len(frames) > 1:
        frames = _common_categories(frames)  # so that concatenating keeps the Categoricals
    out = frames[0] if len(frames) == 1 else validate(pd.concat(frames, ignore_index=True), merge_case=merge_case)
    if categories:
        out = labels_as_categories(out)
    variants = out.attrs.get("name_variants")
    out.attrs = {"dropped": dict(dropped), "mapped": dict(mapped), "formats": formats}
    if variants:
        out.attrs["name_variants"] = variants
    return out


def table(
    data: pd.DataFrame | str | Path | Iterable[str | Path],
    format: str | None = None,
    *,
    baseline: str | None = None,
    merge_case: bool = False,
    categories: bool = False,
    columns: Iterable[str] | None = None,
    source: str = DATAFRAME,
) -> pd.DataFrame:
    """The validated comparisons table of ``data``: a pandas DataFrame, a path, or paths.

    Paths (files, directories, globs) are read with :func:`read` and the keyword arguments.
    A DataFrame is validated exactly as the rows of a file are: the same schema checks
    (required columns, winner labels, numbers, ``prob_a`` in [0, 1], …) with the same
    messages, ``source`` (``<DataFrame>``) standing for the file name and the 1-based row
    number for the line; rows the judge runner marks as not parsed (``parse_status``) dropped
    and counted in ``attrs["dropped"]``; model names NFC-normalised and stripped, case variants
    warned about (merged with ``merge_case``); ``columns`` and ``categories`` as for files.
    The DataFrame itself is not modified.  ``attrs`` are those of :func:`read` (``dropped``,
    ``mapped``, ``formats``; ``name_variants``), with the counts a DataFrame already carries
    (a table read earlier) kept.  ``format`` and ``baseline`` concern files only.
    """
    if not isinstance(data, pd.DataFrame):
        return read(data, format=format, baseline=baseline, merge_case=merge_case, categories=categories,
                    columns=columns)
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r}: `format` must be one of {', '.join(FORMATS)}", field="format")
    carried = dict(data.attrs)
    frame = data.copy(deep=False)
    frame.attrs = {}
    if "_line" in frame.columns:  # a column of the user's, not a reader's line numbers
        frame = frame.drop(columns="_line")
    frame = frame.reset_index(drop=True)
    frame["_line"] = np.arange(1, len(frame) + 1)  # errors name the row, as a file's name its line
    parsed = Parsed(frame)
    keep = None if columns is None else ROW_COLUMNS | {str(c) for c in columns}
    df = _validated(parsed, source, {"merge_case": merge_case, "check_names": True}, keep)
    df = labels_as_categories(df) if categories else labels_as_text(df)
    dropped: Counter[str] = Counter(carried.get("dropped") or {})
    dropped.update(parsed.dropped)
    variants = df.attrs.get("name_variants")
    df.attrs = {
        "dropped": dict(dropped),
        "mapped": dict(carried.get("mapped") or {}),
        "formats": dict(carried.get("formats") or {source: "table"}),
    }
    if variants:
        df.attrs["name_variants"] = variants
    return df


def mapping_notes(mapped: dict[str, int] | None) -> list[str]:
    """One note per label mapping a reader applied (``attrs["mapped"]``, ``"FROM -> TO"`` → rows),
    e.g. ``196 verdicts labelled 'tie (inconsistent)' are counted as 'tie'`` for MT-Bench's GPT-4
    pair judgments, so that a leaderboard or an audit says what it counted."""
    notes = []
    for mapping, n in (mapped or {}).items():
        source, arrow, target = mapping.partition(" -> ")
        verb = "are" if n != 1 else "is"
        what = f"labelled {source!r} {verb} counted as {target!r}" if arrow else f"mapped ({mapping})"
        notes.append(f"{n:,} verdict{'s' if n != 1 else ''} {what}")
    return notes


def labels_as_categories(df: pd.DataFrame) -> pd.DataFrame:
    """``model_a``/``model_b`` as Categoricals over one sorted list of names (both columns
    share it) and ``winner`` over the sorted labels present, whichever reader made the table
    (in place; returns ``df``).

    Categories are sorted and hold only values that occur, so the columns compare, sort and
    group as the strings do (``model_a.value_counts()`` lists a model seen only as
    ``model_b`` with 0).  Consumers that need integer indices read ``.cat.codes`` (one code
    space for both model columns) instead of hashing millions of strings again.
    """
    a, b = df["model_a"], df["model_b"]
    if not (
        isinstance(a.dtype, pd.CategoricalDtype)
        and isinstance(b.dtype, pd.CategoricalDtype)
        and a.cat.categories.equals(b.cat.categories)
        and a.cat.categories.is_monotonic_increasing
    ):
        (ca, ua), (cb, ub) = pd.factorize(a), pd.factorize(b)
        names = list(dict.fromkeys([*map(str, ua), *map(str, ub)]))
        pos = {n: i for i, n in enumerate(names)}
        sides = [np.array([pos[str(u)] for u in uniq] + [-1], dtype=np.int64)[c] for c, uniq in ((ca, ua), (cb, ub))]
        df["model_a"], df["model_b"] = fa.sorted_categoricals(sides, names)
    w = df["winner"]
    if not (isinstance(w.dtype, pd.CategoricalDtype) and w.cat.categories.is_monotonic_increasing):
        codes, uniq = pd.factorize(w)
        (df["winner"],) = fa.sorted_categoricals([codes], [str(u) for u in uniq])
    return df


def _common_categories(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Every frame's label columns as Categoricals over the same sorted categories."""
    frames = [labels_as_categories(f) for f in frames]
    for cols in (("model_a", "model_b"), ("winner",)):
        union = pd.Index(sorted({str(c) for f in frames for c in f[cols[0]].cat.categories}), dtype=object)
        for f in frames:
            for col in cols:
                f[col] = f[col].cat.set_categories(union)
    return frames


def labels_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """``model_a``, ``model_b`` and ``winner`` as string columns where a fast reader made
    them Categoricals (in place; returns ``df``)."""
    for col in ("model_a", "model_b", "winner"):
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            df[col] = fa.categorical_text(df[col].array)
    return df


def _detect(src: Source) -> str:
    """Detect the format, saying what a reported line counts."""
    try:
        return detect(src)
    except InputError as err:
        raise relocate(err, src) from None


def _read_one(
    src: Source, fmt: str, opts: dict[str, Any], names: dict[str, bool] | None = None
) -> tuple[pd.DataFrame, Parsed]:
    """Read and validate one file; a fast-path failure is re-read exactly to locate the error."""
    reader = READERS[fmt]
    try:
        parsed = reader(src, **opts)
        try:
            return _validated(parsed, src.name, names, opts.get("keep")), parsed
        except InputError:
            if parsed.exact:
                raise
        parsed = reader(src, fast=False, **opts)
        return _validated(parsed, src.name, names, opts.get("keep")), parsed
    except InputError as err:
        raise relocate(err, src) from None


def _validated(
    parsed: Parsed, source: str, names: dict[str, bool] | None = None, keep: frozenset[str] | None = None
) -> pd.DataFrame:
    """Validate one file's frame (or a DataFrame's, ``source`` naming it) and drop the internal
    ``_line`` column.

    Judge output carries ``parse_status``: rows that are not ``ok`` (an unparsed
    verdict, a failed call) have no winner; they are dropped here and counted.
    """
    frame = parsed.frame
    if keep is not None and not set(frame.columns) <= keep | {"_line", "parse_status"}:
        frame = frame[[c for c in frame.columns if c in keep or c in ("_line", "parse_status")]]
    if "parse_status" in frame.columns:
        status = frame["parse_status"]
        bad = status.notna() & (status.astype(str) != "ok")
        if bad.any():
            for label, n in status[bad].astype(str).value_counts().items():
                reason = "failed_call" if label == "failed" else "unparsed_verdict"
                parsed.dropped[reason] = parsed.dropped.get(reason, 0) + int(n)
            frame = frame[~bad]
            parsed.frame = frame
    if len(frame) == 0 and parsed.dropped:
        reasons = "; ".join(f"{n} {why}" for why, n in parsed.dropped.items())
        raise InputError(f"no comparisons left: every record was dropped ({reasons})", path=source)
    present = [str(c) for c in frame.columns if c != "_line"]
    for col in REQUIRED:
        if col not in frame.columns and not (col == "winner" and "prob_a" in frame.columns):
            raise InputError(
                f"missing required column; columns present: {', '.join(present[:20]) or 'none'}",
                path=source,
                field=col,
            )
    df = validate(frame, source=source, **(names or {}))
    if "_line" in df.columns:
        df = df.drop(columns="_line")
    return df.reset_index(drop=True)

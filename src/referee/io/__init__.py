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

import pandas as pd

from referee.errors import InputError
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
from referee.io._source import Parsed, Source, expand_paths, relocate
from referee.io.detect import FORMATS, detect, is_side_file
from referee.io.write import write
from referee.schema import REQUIRED, validate

__all__ = ["FORMATS", "detect", "read", "write"]

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
) -> pd.DataFrame:
    """Read one or more files (or directories of them) into one validated comparisons table.

    ``format`` forces a reader (see :data:`FORMATS`); otherwise each file's format is
    detected from its content.  ``baseline`` names the baseline model of Arena-Hard
    v0.1 judgments, whose records do not.  The result's ``attrs`` hold ``dropped``
    (reason -> rows deliberately skipped: ``unparsed_verdict`` for judge outputs the
    source itself marks unparsable, ``missing_game`` for a null Arena-Hard game),
    ``mapped`` (format-specific label mappings applied, e.g. ``"tie (inconsistent) ->
    tie"``, with counts) and ``formats`` (file -> format).  Self-battles are kept.
    Raises :class:`~referee.errors.InputError` naming file, line and field on bad input.
    """
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}", field="format")
    frames: list[pd.DataFrame] = []
    dropped: Counter[str] = Counter()
    mapped: Counter[str] = Counter()
    formats: dict[str, str] = {}
    for path in expand_paths(paths, skip=is_side_file):
        src = Source(path)
        fmt = format or _detect(src)
        df, parsed = _read_one(src, fmt, {"baseline": baseline})
        frames.append(df)
        dropped.update(parsed.dropped)
        mapped.update(parsed.mapped)
        formats[src.name] = fmt
    out = frames[0] if len(frames) == 1 else validate(pd.concat(frames, ignore_index=True))
    out.attrs = {"dropped": dict(dropped), "mapped": dict(mapped), "formats": formats}
    return out


def _detect(src: Source) -> str:
    """Detect the format, saying what a reported line counts."""
    try:
        return detect(src)
    except InputError as err:
        raise relocate(err, src) from None


def _read_one(src: Source, fmt: str, opts: dict[str, Any]) -> tuple[pd.DataFrame, Parsed]:
    """Read and validate one file; a fast-path failure is re-read exactly to locate the error."""
    reader = READERS[fmt]
    try:
        parsed = reader(src, **opts)
        try:
            return _validated(parsed, src), parsed
        except InputError:
            if parsed.exact:
                raise
        parsed = reader(src, fast=False, **opts)
        return _validated(parsed, src), parsed
    except InputError as err:
        raise relocate(err, src) from None


def _validated(parsed: Parsed, src: Source) -> pd.DataFrame:
    """Validate one file's frame and drop the internal ``_line`` column.

    Judge output carries ``parse_status``: rows that are not ``ok`` (an unparsed
    verdict, a failed call) have no winner; they are dropped here and counted.
    """
    frame = parsed.frame
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
        raise InputError(f"no comparisons left: every record was dropped ({reasons})", path=src.name)
    present = [str(c) for c in frame.columns if c != "_line"]
    for col in REQUIRED:
        if col not in frame.columns and not (col == "winner" and "prob_a" in frame.columns):
            raise InputError(
                f"missing required column; columns present: {', '.join(present[:20]) or 'none'}",
                path=src.name,
                field=col,
            )
    df = validate(frame, source=src.name)
    if "_line" in df.columns:
        df = df.drop(columns="_line")
    return df.reset_index(drop=True)

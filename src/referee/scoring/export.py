"""Preference pairs for training, in TRL's format (``prompt``, ``chosen``, ``rejected``), from any comparisons table.

A row of the comparisons table (``prompt``, ``response_a``, ``response_b``, ``winner``) becomes one
pair: ``chosen`` = the winner's response.  Options:

* ties (``tie``, ``tie (bothbad)``) are dropped by default; with ``drop_ties=False`` they are kept
  with ``chosen`` = ``response_a`` and a ``tie`` column marking them (TRL has no tie label);
* ``min_margin``: keep only rows whose margin ``|2·prob_a − 1|`` (0 = a coin flip, 1 = certain;
  for an RM judge ``tanh(|r_a − r_b| / 2)``) is at least this; rows without ``prob_a`` are
  dropped (their margin is unknown) and counted.

Rows lacking text (no prompt or a missing response), with identical responses, or with no
verdict (``winner`` null) are dropped.  Both presentation orders of one pair (a judge's two games)
give the same pair, written once; pairs whose games disagree (A over B in one, B over A in the
other) are dropped as ``contradictory``.  ``attrs["dropped"]``: reason -> count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
TIES = ("tie", "tie (bothbad)")


def export_pairs(
    comparisons: pd.DataFrame | str | Path | Sequence[str | Path],
    *,
    drop_ties: bool = True,
    min_margin: float | None = None,
) -> pd.DataFrame:
    """A TRL preference-pairs table from a comparisons table (or files :func:`referee.io.read` reads)."""
    if isinstance(comparisons, pd.DataFrame):
        df = comparisons
    else:
        from referee.io import read

        df = read(comparisons)
    lacking = [c for c in ("prompt", "response_a", "response_b", "winner") if c not in df.columns]
    if lacking:
        raise InputError(
            f"the comparisons lack column(s) {', '.join(lacking)}: pairs need the texts", field=lacking[0]
        )
    if min_margin is not None:
        if not 0.0 <= float(min_margin) <= 1.0:
            raise InputError(
                f"--min-margin is |2·prob_a − 1|, between 0 and 1; got {min_margin}", field="min_margin"
            )
        if "prob_a" not in df.columns or pd.to_numeric(df["prob_a"], errors="coerce").isna().all():
            raise InputError(
                "--min-margin needs a prob_a column (soft verdicts: logprob judges, RM judges)",
                field="prob_a",
            )
    dropped: Counter[str] = Counter()
    prob = (
        pd.to_numeric(df["prob_a"], errors="coerce").to_numpy(dtype=float)
        if "prob_a" in df.columns
        else np.full(len(df), np.nan)
    )
    kept: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rec, p in zip(
        df[["prompt", "response_a", "response_b", "winner"]].itertuples(index=False), prob, strict=True
    ):
        prompt, a, b, winner = rec
        if not all(isinstance(x, str) for x in (prompt, a, b)):
            dropped["missing_text"] += 1
            continue
        if a == b:
            dropped["identical_responses"] += 1
            continue
        if not isinstance(winner, str):
            dropped["no_verdict"] += 1
            continue
        tie = winner in TIES
        if tie and drop_ties:
            dropped["tie"] += 1
            continue
        if min_margin is not None:
            if np.isnan(p):
                dropped["no_margin"] += 1
                continue
            if abs(2.0 * p - 1.0) < float(min_margin):
                dropped["low_margin"] += 1
                continue
        if winner == "model_b":
            a, b = b, a
        elif winner != "model_a" and not tie:
            raise InputError(f"unknown winner label {winner!r}", field="winner")
        key = (prompt, *sorted((a, b))) if tie else (prompt, a, b)
        if key in kept:
            dropped["duplicate"] += 1
            continue
        flipped = (prompt, b, a)
        if not tie and flipped in kept:
            kept[flipped]["contradictory"] = True
            dropped["contradictory"] += 1
            continue
        kept[key] = {"prompt": prompt, "chosen": a, "rejected": b, "tie": tie, "contradictory": False}
    rows = [r for r in kept.values() if not r["contradictory"]]
    dropped["contradictory"] += len(kept) - len(rows)
    if not dropped["contradictory"]:
        del dropped["contradictory"]
    columns = list(PAIR_COLUMNS) + ([] if drop_ties else ["tie"])
    out = pd.DataFrame(rows, columns=[*PAIR_COLUMNS, "tie", "contradictory"])[columns]
    out.attrs["dropped"] = dict(dropped)
    out.attrs["n_in"] = len(df)
    return out


def summary(pairs: pd.DataFrame) -> str:
    """One line: pairs written and what was dropped."""
    dropped = pairs.attrs.get("dropped", {})
    text = f"{len(pairs)} preference pairs from {pairs.attrs.get('n_in', '?')} comparisons"
    if dropped:
        text += "; dropped " + ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(dropped.items()))
    return text


__all__ = ["PAIR_COLUMNS", "export_pairs", "summary"]

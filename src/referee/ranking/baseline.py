"""Comparisons against a fixed baseline, one observation each, oriented to the other model.

The leaf shared by the plain win rate (:mod:`referee.ranking.winrate`) and the length-controlled
one (:mod:`referee.ranking.lc`); the score of an observation is defined in
:mod:`referee.ranking.winrate`'s module docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.schema import A_WINS, B_WINS, outcome_codes

__all__ = ["baseline_observations"]


def _check_columns(df: pd.DataFrame) -> None:
    for col in ("model_a", "model_b"):
        if col not in df.columns:
            raise InputError("missing required column", field=col)
    if "winner" not in df.columns and "prob_a" not in df.columns:
        raise InputError("missing required column (or a prob_a column)", field="winner")


def _hard_score_a(df: pd.DataFrame) -> np.ndarray:
    """Score of model_a from the hard label: 1 win, 0 loss, 1/2 tie (NaN without a winner column)."""
    if "winner" not in df.columns:
        return np.full(len(df), np.nan)
    y = outcome_codes(df["winner"])
    return np.where(y == A_WINS, 1.0, np.where(y == B_WINS, 0.0, 0.5))


def baseline_observations(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per comparison of a model against ``baseline``, oriented to the model.

    Columns: ``model``, ``score`` (P(model beats baseline), see the module doc),
    ``weight``, ``model_first`` (the model was ``model_a``) and ``row`` (position of
    the source row in ``df``).  Rows not involving the baseline, or pitting it
    against itself, are dropped.  Raises :class:`InputError` when the baseline never
    meets another model.
    """
    _check_columns(df)
    a = df["model_a"].astype(str).to_numpy()
    b = df["model_b"].astype(str).to_numpy()
    base_a, base_b = a == baseline, b == baseline
    keep = base_a ^ base_b
    if not keep.any():
        if not (base_a.any() or base_b.any()):
            models = sorted(set(a) | set(b))
            shown = ", ".join(models[:10]) + (", ..." if len(models) > 10 else "")
            raise InputError(f"`baseline` {baseline!r} is not in the data; models present: {shown}", field="model_a")
        raise InputError(f"`baseline` {baseline!r} is never compared with another model", field="model_a")
    score_a = _hard_score_a(df)
    if "prob_a" in df.columns:
        p = pd.to_numeric(df["prob_a"], errors="coerce").to_numpy(dtype=float)
        score_a = np.where(np.isnan(p), score_a, p)
    if np.isnan(score_a[keep]).any():
        raise InputError("rows without a winner or prob_a", field="winner")
    if "weight" in df.columns:
        w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(dtype=float)
        w = np.where(np.isnan(w), 1.0, w)
    else:
        w = np.ones(len(df))
    rows = np.flatnonzero(keep)
    model_first = base_b[rows]
    return pd.DataFrame(
        {
            "model": np.where(model_first, a[rows], b[rows]),
            "score": np.where(model_first, score_a[rows], 1.0 - score_a[rows]),
            "weight": w[rows],
            "model_first": model_first,
            "row": rows,
        }
    )

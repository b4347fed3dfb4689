"""Win rate against a fixed baseline (AlpacaEval style).

Every comparison between a model ``m`` and the baseline ``b`` is one observation,
whichever side the baseline was shown on.  Its score is the model's chance of
winning:

* ``s = P(m beats b)`` from ``prob_a`` when the row has one (``prob_a`` or
  ``1 - prob_a`` depending on the side), so soft verdicts count fractionally;
* else ``s = 1`` for a win, ``0`` for a loss and ``1/2`` for ``tie`` or
  ``tie (bothbad)``.

With observation weights ``w`` (all 1 when there is no ``weight`` column):

    WR_m = 100 · Σ w s / Σ w,
    SE_m = 100 · sqrt( n/(n-1) · Σ w² (s - WR_m/100)² ) / Σ w.

With unit weights ``SE_m`` is the usual standard error of the mean
``sd(s, ddof=1) / sqrt(n)``, which is exactly AlpacaEval's ``standard_error``
(``pandas.Series.sem`` of ``preference - 1``, draws counted 1/2; Li et al. 2023,
tatsu-lab/alpaca_eval ``metrics/helpers.py``).  With other weights it is the
linearisation (sandwich) SE of a ratio estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.schema import A_WINS, B_WINS, outcome_codes

__all__ = ["baseline_observations", "lc_win_rates", "win_rates"]


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
            raise InputError(f"baseline {baseline!r} is not in the data; models present: {shown}", field="model_a")
        raise InputError(f"baseline {baseline!r} is never compared with another model", field="model_a")
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


def win_rates(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Win rate (percent) of every model against ``baseline``, with its standard error.

    Returns a frame indexed by model (baseline excluded) with ``win_rate``,
    ``win_rate_se`` (both in percent, formulas in the module doc), ``n`` (rows),
    ``wins`` / ``losses`` / ``ties`` (rows whose score is >, < or = 1/2, as
    AlpacaEval's ``n_wins`` / ``n_wins_base`` / ``n_draws``), sorted by win rate.
    """
    obs = baseline_observations(df, baseline)
    codes, models = pd.factorize(obs["model"], sort=True)
    k = len(models)
    s = obs["score"].to_numpy()
    w = obs["weight"].to_numpy()
    n = np.bincount(codes, minlength=k).astype(float)
    sw = np.bincount(codes, weights=w, minlength=k)
    mean = np.divide(np.bincount(codes, weights=w * s, minlength=k), sw, out=np.full(k, np.nan), where=sw > 0)
    resid2 = np.bincount(codes, weights=(w * (s - mean[codes])) ** 2, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where((n > 1) & (sw > 0), np.sqrt(n / (n - 1) * resid2) / sw, np.nan)
    out = pd.DataFrame(
        {
            "win_rate": 100.0 * mean,
            "win_rate_se": 100.0 * se,
            "n": n.astype(int),
            "wins": np.bincount(codes, weights=s > 0.5, minlength=k).astype(int),
            "losses": np.bincount(codes, weights=s < 0.5, minlength=k).astype(int),
            "ties": np.bincount(codes, weights=s == 0.5, minlength=k).astype(int),
        },
        index=pd.Index(models.astype(str), name="model"),
    )
    return out.sort_values("win_rate", ascending=False, kind="stable")


def lc_win_rates(
    df: pd.DataFrame,
    baseline: str,
    length: str = "chars",
    difficulty: Any = None,
    tokenizer: Callable[[str], Any] | None = None,
    *,
    prior_weight: float = 0.2,
    rounds: int = 200,
    seed: int = 0,
    workers: int = 2,
) -> pd.DataFrame:
    """Length-controlled win rate with its standard error; see :func:`referee.rank.lc.lc_win_rates` (re-exported here)."""
    from referee.rank.lc import lc_win_rates as _lc_win_rates

    return _lc_win_rates(df, baseline, length, difficulty, tokenizer, prior_weight=prior_weight, rounds=rounds,
                         seed=seed, workers=workers)

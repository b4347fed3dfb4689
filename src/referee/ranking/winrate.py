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

from referee.ranking.baseline import baseline_observations

__all__ = ["baseline_observations", "lc_win_rates", "win_rates"]


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
    """Length-controlled win rate with its standard error; see :func:`referee.ranking.lc.lc_win_rates` (re-exported here)."""
    from referee.ranking.lc import lc_win_rates as _lc_win_rates

    return _lc_win_rates(df, baseline, length, difficulty, tokenizer, prior_weight=prior_weight, rounds=rounds,
                         seed=seed, workers=workers)

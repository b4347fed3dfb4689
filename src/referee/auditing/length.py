"""Length bias: does the judge prefer the longer response?

* ``prefer_longer_rate`` = P(the longer response wins | decisive verdict, lengths differ by
  more than ``margin`` characters — or by more than ``fraction`` of the longer one when a
  fraction is set).  0.5 means no length preference (Dubois et al. 2024, length-controlled
  AlpacaEval; Zheng et al. 2023 "verbosity bias").  It is *descriptive* and never flagged:
  when longer answers are better, a fair judge prefers them too.
* ``prefer_longer_excess`` (the flagged measure; needs gold labels) = the judge's rate minus
  the reference's rate **on the same rows**: over the judge's decisive verdicts on pairs whose
  lengths differ and that have decisive gold votes, Σ w·(j − g) / Σ w with j = 1 when the
  judge picked the longer response and g = the share of the item's decisive gold votes for the
  longer response.  A judge that prefers longer answers only as often as the humans do is not
  length-biased (excess 0).  Both rates of the difference come from the same rows and the same
  prompt clusters in every bootstrap round, so its CI is a paired one.
  ``details.length`` reports the two paired rates (``judge_rate_paired``,
  ``gold_prefer_longer_rate``) and the number of paired rows.
* ``length_slope`` = β of the logistic regression  logit P(a wins) = α + β·z  on decisive
  verdicts, z = (len_a − len_b)/sd standardised over those rows (α absorbs position bias).
  Its bootstrap uses the estimating-function (one-step Newton) bootstrap of Hu & Kalbfleisch
  (2000): with per-cluster score g_c and information H_c at the full-data fit θ̂, a round's
  estimate is θ̂ + (Σ m_c H_c)⁻¹ Σ m_c g_c — exact to first order and fully vectorised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit

from referee.auditing.bootstrap import Registry
from referee.auditing.rows import Rows

CURVE_BINS = 10


def logistic_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 1e-6, iters: int = 50) -> np.ndarray:
    """(α, β) of a weighted logistic regression of y ∈ {0, 1} on x (Newton–Raphson)."""
    X = np.c_[np.ones_like(x), x]
    theta = np.zeros(2)
    for _ in range(iters):
        p = expit(X @ theta)
        g = X.T @ (w * (y - p)) - ridge * theta
        H = (X * (w * p * (1 - p))[:, None]).T @ X + ridge * np.eye(2)
        step = np.linalg.solve(H, g)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    return theta


def _one_step_slope(theta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        g0, g1, h00, h01, h11 = (t[:, i] for i in range(5))
        det = h00 * h11 - h01 * h01
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (h00 * g1 - h01 * g0) / det
        return np.where(det > 1e-12 * np.maximum(h00 * h11, 1e-300), theta[1] + step, np.nan)

    return fn


def add(
    reg: Registry, rows: Rows, votes: np.ndarray | None, margin: float = 30.0, fraction: float | None = None
) -> dict[str, Any]:
    j = rows.name
    d = rows.len_a - rows.len_b
    known = np.isfinite(d)
    details: dict[str, Any] = {"unit": "characters", "margin": margin, "fraction": fraction}
    if not known.any():
        return details
    decisive = known & (rows.y < 2)
    longer = np.maximum(rows.len_a, rows.len_b)
    threshold = margin if fraction is None else fraction * longer
    differ = decisive & (np.abs(d) > threshold)
    if differ.any():
        won_longer = ((rows.y == 0) & (d > 0)) | ((rows.y == 1) & (d < 0))
        reg.add_rows((j, "prefer_longer_rate"), rows.cl[differ],
                     np.c_[rows.w[differ] * won_longer[differ], rows.w[differ]])
    if votes is not None and differ.any():
        _add_excess(reg, rows, votes, differ, d, details)
    if decisive.sum() >= 3:
        dd = d[decisive]
        sd = float(dd.std())
        if sd > 0:
            x = dd / sd
            yy = (rows.y[decisive] == 0).astype(float)
            w = rows.w[decisive]
            theta = logistic_fit(x, yy, w)
            p = expit(theta[0] + theta[1] * x)
            v = w * p * (1 - p)
            stats = np.c_[w * (yy - p), w * (yy - p) * x, v, v * x, v * x * x]
            reg.add_rows((j, "length_slope"), rows.cl[decisive], stats, _one_step_slope(theta), n=float(w.sum()))
            details["sd_chars"] = sd
            details["curve"] = _curve(dd, yy, w)
    return details


def _add_excess(
    reg: Registry, rows: Rows, votes: np.ndarray, differ: np.ndarray, d: np.ndarray, details: dict[str, Any]
) -> None:
    """The paired excess (judge − reference) on the judge's decisive, length-differing rows with decisive gold votes."""
    g = votes[rows.item]
    ga = np.where(rows.in_ref, g[:, 0], g[:, 1])  # gold votes for the response shown first
    gb = np.where(rows.in_ref, g[:, 1], g[:, 0])
    m = differ & (ga + gb > 0)
    details["paired_rows"] = int(m.sum())
    if not m.any():
        return
    w, dm = rows.w[m], d[m]
    judge_longer = np.where(dm > 0, rows.y[m] == 0, rows.y[m] == 1).astype(float)
    gold_longer = np.where(dm > 0, ga[m], gb[m]) / (ga[m] + gb[m])
    cl, j = rows.cl[m], rows.name
    reg.add_rows((j, "prefer_longer_excess"), cl, np.c_[w * (judge_longer - gold_longer), w])
    reg.add_rows((j, "details", "length", "judge_rate_paired"), cl, np.c_[w * judge_longer, w])
    reg.add_rows((j, "details", "length", "gold_prefer_longer_rate"), cl, np.c_[w * gold_longer, w])


def _curve(d: np.ndarray, a_won: np.ndarray, w: np.ndarray) -> list[dict[str, float]]:
    """P(first shown wins) by bins of equal mass of the length difference (len_a − len_b)."""
    edges = np.unique(np.quantile(d, np.linspace(0, 1, CURVE_BINS + 1)))
    if edges.size < 2:
        return []
    b = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, edges.size - 2)
    n = np.bincount(b, weights=w, minlength=edges.size - 1)
    won = np.bincount(b, weights=w * a_won, minlength=edges.size - 1)
    mean = np.bincount(b, weights=w * d, minlength=edges.size - 1)
    return [
        {"length_diff": float(mean[i] / n[i]), "p_first_wins": float(won[i] / n[i]), "n": float(n[i])}
        for i in range(n.size)
        if n[i] > 0
    ]

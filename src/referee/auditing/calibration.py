"""Calibration of soft verdicts ``prob_a`` = P(first shown wins), and their order consistency.

Calibration needs a reference: the target o ∈ {0, ½, 1} is the gold votes on the item (a gold
tie is ½ under the ``half`` tie policy, else left out).  Without gold labels ECE and Brier are
*not* reported: measured against the judge's own verdict in the swapped order they would score
self-agreement, not truth, and would call a reward model whose probabilities stay near ½ (but
are perfectly order-consistent) the worst calibrated.  What can be measured without gold is
reported under its own name:

* ``prob_order_inconsistency`` = Σ_pairs |p₁ − (1 − p₂)| / #pairs over the pairs whose two
  presentation orders both carry a ``prob_a``: p₁ = P(A wins | A shown first), p₂ =
  P(B wins | B shown first).  An order-consistent judge has p₁ = 1 − p₂ (0); a judge that
  always says "first shown wins with probability q" scores |2q − 1|.  It is the soft
  analogue of ``position_consistency`` (the "position consistency" of Wang et al. 2023,
  "Large Language Models are not Fair Evaluators"; Zheng et al. 2023) and is computed with or
  without gold.

Against gold (the only reference these are reported for):

* ECE with B equal-mass bins (Naeini et al. 2015; Nixon et al. 2019 adaptive binning):
  ECE = Σ_b (n_b/N)·|ō_b − p̄_b|.  When p takes at most B distinct values each value is a bin.
* Brier score BS = (1/N) Σ (p − o)² (Brier 1950) with Murphy's (1973) decomposition over the
  same bins: BS = REL − RES + UNC + WB, REL = Σ n_b(p̄_b − ō_b)²/N, RES = Σ n_b(ō_b − ō)²/N,
  UNC = mean(o²) − ō² (= ō(1 − ō) for binary o); WB, the within-bin term of Stephenson et al.
  (2008), is 0 when the forecast is constant within each bin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from referee.auditing.bootstrap import Registry, cluster_sums
from referee.auditing.rows import Rows, both_orders

N_BINS = 10


def gold_targets(rows: Rows, votes: np.ndarray, tie_policy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (n, Σo, Σo²) over the gold votes, in the row's shown frame."""
    g = votes[rows.item]
    ga = np.where(rows.in_ref, g[:, 0], g[:, 1])
    gb = np.where(rows.in_ref, g[:, 1], g[:, 0])
    gt = g[:, 2] if tie_policy == "half" else np.zeros(rows.size)
    w = rows.w
    return w * (ga + gb + gt), w * (ga + 0.5 * gt), w * (ga + 0.25 * gt)


def bin_index(p: np.ndarray, n_bins: int = N_BINS) -> tuple[np.ndarray, int]:
    """Equal-mass bins of the forecasts (one bin per value when there are few distinct values)."""
    uniq = np.unique(p)
    if uniq.size <= n_bins:
        return np.searchsorted(uniq, p), int(uniq.size)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    nb = edges.size - 1
    return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, nb - 1), nb


def ece_fn(nb: int) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        n, npb, sy = t[:, :nb], t[:, nb : 2 * nb], t[:, 2 * nb : 3 * nb]
        tot = n.sum(axis=1)
        return np.where(tot > 0, np.abs(sy - npb).sum(axis=1) / np.where(tot > 0, tot, 1), np.nan)

    return fn


def brier_fn(nb: int) -> Callable[[np.ndarray], np.ndarray]:
    def fn(t: np.ndarray) -> np.ndarray:
        tot = t[:, :nb].sum(axis=1)
        return np.where(tot > 0, t[:, 3 * nb] / np.where(tot > 0, tot, 1), np.nan)

    return fn


def decompose(n: np.ndarray, npb: np.ndarray, sy: np.ndarray, sy2: float, bs_sum: float) -> dict[str, float]:
    """Murphy's decomposition from bin sums (n_b, Σp, Σo), Σo² and Σ(p − o)²."""
    N = n.sum()
    pb = npb / n
    ob = sy / n
    obar = sy.sum() / N
    rel = float((n * (pb - ob) ** 2).sum() / N)
    res = float((n * (ob - obar) ** 2).sum() / N)
    unc = float(sy2 / N - obar**2)
    bs = float(bs_sum / N)
    return {"brier": bs, "reliability": rel, "resolution": res, "uncertainty": unc,
            "within_bin": bs - (rel - res + unc)}


NO_GOLD = ("no gold labels: calibration (ECE, Brier) needs a reference and is not reported; "
           "prob_order_inconsistency measures how far the judge's probabilities move when the order is swapped")


def add_order_consistency(reg: Registry, rows: Rows) -> dict[str, Any]:
    """Register ``prob_order_inconsistency`` (see the module docstring); {} when no pair has both probabilities."""
    if not np.isfinite(rows.prob_a).any():
        return {}
    pairs = both_orders(rows)
    p1, p2 = rows.prob_a[pairs.first], rows.prob_a[pairs.second]
    ok = np.isfinite(p1) & np.isfinite(p2)
    if not ok.any():
        return {}
    gap = np.abs(p1[ok] + p2[ok] - 1.0)
    reg.add_rows((rows.name, "prob_order_inconsistency"), rows.cl[pairs.first][ok], np.c_[gap, np.ones(gap.size)])
    return {"pairs": int(ok.sum()), "max": float(gap.max())}


def add(reg: Registry, rows: Rows, votes: np.ndarray | None, tie_policy: str, n_bins: int = N_BINS) -> dict[str, Any]:
    """Register ``ece`` and ``brier`` against the gold labels; without gold, nothing (see the module docstring)."""
    j = rows.name
    has_p = np.isfinite(rows.prob_a)
    if not has_p.any():
        return {}
    if votes is None or not (votes[rows.item].sum(axis=1) > 0).any():
        return {"basis": None, "note": NO_GOLD}
    n, s1, s2 = gold_targets(rows, votes, tie_policy)
    basis = "gold labels"
    m = has_p & (n > 0)
    if not m.any():
        return {"basis": None, "note": "no row with a prob_a has a gold label"}
    p, n, s1, s2, cl = rows.prob_a[m], n[m], s1[m], s2[m], rows.cl[m]
    b, nb = bin_index(p, n_bins)
    stats = np.zeros((p.size, 3 * nb + 1))
    idx = np.arange(p.size)
    stats[idx, b] = n
    stats[idx, nb + b] = n * p
    stats[idx, 2 * nb + b] = s1
    bs_rows = n * p * p - 2 * p * s1 + s2
    stats[:, 3 * nb] = bs_rows
    cols = reg.block(cluster_sums(cl, stats, reg.n_clusters))
    reg.add((j, "ece"), cols, ece_fn(nb), float(n.sum()))
    reg.add((j, "brier"), cols, brier_fn(nb), float(n.sum()))
    bn = np.bincount(b, weights=n, minlength=nb)
    bp = np.bincount(b, weights=n * p, minlength=nb)
    bo = np.bincount(b, weights=s1, minlength=nb)
    keep = bn > 0
    out: dict[str, Any] = {"basis": basis, "bins": nb}
    out.update(decompose(bn[keep], bp[keep], bo[keep], float(s2.sum()), float(bs_rows.sum())))
    out["reliability_diagram"] = [
        {"p_mean": float(bp[i] / bn[i]), "observed": float(bo[i] / bn[i]), "n": float(bn[i])}
        for i in range(nb) if bn[i] > 0
    ]
    return out

"""Accuracy and agreement of a judge against gold labels.

Every (verdict, gold vote) pair on an aligned item is one unit (the MT-Bench convention
for agreement between a judge and several humans: Zheng et al. 2023, §4.2), weighted by
the product of the row weights.  ``accuracy`` follows the tie policy
(:mod:`referee.auditing.agreement`); ``accuracy_order1/2`` restrict to verdicts shown in
presentation order 1 / 2; ``accuracy_both_orders`` credits a pair only when the verdicts
of both orders are right (credit W[p₁,k]·W[p₂,k]).  Majority: the judge against the unique
modal gold label of the item; human baseline: each gold vote against the unique mode of the
*other* votes of its item (leave one annotator out), on the items the judge was aligned to.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from referee.auditing import agreement as ag
from referee.auditing.bootstrap import Registry, ratio
from referee.auditing.rows import Rows, both_orders

UNKNOWN_CATEGORY = "(none)"


def add(reg: Registry, rows: Rows, gold: Rows, votes: np.ndarray, counts: np.ndarray, tie_policy: str) -> dict[str, Any]:
    """Register the gold-based metrics of one judge; returns the point-only details."""
    j = rows.name
    aligned = counts[rows.item].sum(axis=1) > 0
    r = rows.subset(aligned)
    details: dict[str, Any] = {"aligned": int(aligned.sum())}
    if r.size == 0:
        return details
    W, D = ag.policy(tie_policy)
    g = votes[r.item]
    conf = reg.add_rows((j, "accuracy"), r.cl, ag.confusion_rows(r.yr, g, r.w), ag.accuracy_fn(tie_policy),
                        n=float((r.w[:, None] * g * D[None, :]).sum()))
    n_all = float((r.w[:, None] * g).sum())
    n_decisive = float((r.w[:, None] * g[:, :2]).sum(axis=1)[r.yr < 2].sum())
    reg.add((j, "kappa"), conf, ag.kappa_fn(tie_policy), float((r.w[:, None] * g * D[None, :]).sum()))
    reg.add((j, "alpha"), conf, ag.alpha_fn(tie_policy), float((r.w[:, None] * g * D[None, :]).sum()))
    reg.add((j, "details", "agreement"), conf, ag.agreement, n_all)
    reg.add((j, "details", "agreement_no_ties"), conf, ag.agreement_no_ties, n_decisive)
    details["gold_ties_excluded"] = float((r.w * g[:, 2]).sum()) if tie_policy == "exclude" else 0.0

    num = r.w * (W[r.yr] * g).sum(axis=1)
    den = r.w * (g * D[None, :]).sum(axis=1)
    for order in (1, 2):
        m = r.order == order
        if m.any():
            reg.add_rows((j, f"accuracy_order{order}"), r.cl[m], np.c_[num[m], den[m]])
    if r.category is not None:
        names = pd.Series(r.category, dtype=object).fillna(UNKNOWN_CATEGORY).astype(str).to_numpy()
        for cat in sorted(set(names)):
            m = names == cat
            reg.add_rows((j, "details", "accuracy_by_category", cat), r.cl[m], np.c_[num[m], den[m]])

    pairs = both_orders(r)
    if pairs.first.size:
        p1, p2 = r.yr[pairs.first], r.yr[pairs.second]
        gp = votes[r.item[pairs.first]]
        credit = (W[p1] * W[p2] * gp).sum(axis=1)
        base = (gp * D[None, :]).sum(axis=1)
        reg.add_rows((j, "accuracy_both_orders"), r.cl[pairs.first], np.c_[credit, base])

    mode = ag.unique_mode(counts[r.item])
    has = mode >= 0
    if has.any():
        m_num = np.where(has, W[r.yr, np.maximum(mode, 0)], 0.0)
        m_den = np.where(has, D[np.maximum(mode, 0)], 0.0)
        reg.add_rows((j, "details", "agreement_majority"), r.cl, np.c_[m_num, m_den])

    items = np.zeros(counts.shape[0], dtype=bool)
    items[r.item] = True
    gm = items[gold.item] & (counts[gold.item].sum(axis=1) >= 2)
    if gm.any():
        own = np.eye(3)[gold.yr[gm]]
        others = counts[gold.item[gm]] - own
        mo = ag.unique_mode(others)
        ok = mo >= 0
        b_num = np.where(ok, W[gold.yr[gm], np.maximum(mo, 0)], 0.0)
        b_den = np.where(ok, D[np.maximum(mo, 0)], 0.0)
        if b_den.sum() > 0:
            reg.add_rows((j, "details", "human_baseline"), gold.cl[gm], np.c_[b_num, b_den], ratio)
    return details

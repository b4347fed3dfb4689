"""Logical consistency of a judge (TrustJudge: Wang et al. 2025, "TrustJudge: inconsistencies
of LLM-as-a-judge and how to alleviate them").

* **Pairwise transitivity inconsistency.**  Per prompt, every pair of models the judge compared
  gets one relation from its verdicts (all orders summed: net = Σ w·(+1 if the first model of
  the pair won, −1 if the second did, 0 for a tie); relation = sign(net)).  A triad of models
  whose three pairs were all compared is consistent iff its relations form a weak order
  (some scores s with sign(s_i − s_j) equal to every relation).  Violations are cycles
  (A>B, B>C, C>A) and equivalence contradictions (A=B, B=C but A≠C, or A=B, B>C but not A>C).
  ``transitivity_violation_rate`` = violations / triads.
* **Score–comparison inconsistency.**  For verdicts whose two responses also have pointwise
  scores from the same judge: the share where sign(s_a − s_b) (equal scores = tie) differs
  from the pairwise verdict.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from referee.auditing.bootstrap import Registry
from referee.auditing.rows import Rows


def _weak_order_table() -> np.ndarray:
    """consistent[code] for code = 9·(r_ij+1) + 3·(r_jk+1) + (r_ik+1)."""
    ok = np.zeros(27, dtype=bool)
    for si, sj, sk in product(range(3), repeat=3):
        r = (np.sign(si - sj), np.sign(sj - sk), np.sign(si - sk))
        ok[9 * (r[0] + 1) + 3 * (r[1] + 1) + (r[2] + 1)] = True
    return ok


CONSISTENT = _weak_order_table()


def pair_relations(rows: Rows) -> pd.DataFrame:
    """One relation per (cluster, model i < model j): +1 i preferred, −1 j preferred, 0 equivalent."""
    codes, _ = pd.factorize(np.concatenate([rows.model_a, rows.model_b]))
    ca, cb = codes[: rows.size], codes[rows.size :]
    keep = ca != cb
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    lo_won = ((rows.y == 0) & (ca == lo)) | ((rows.y == 1) & (cb == lo))
    hi_won = ((rows.y == 0) & (ca == hi)) | ((rows.y == 1) & (cb == hi))
    s = rows.w * (lo_won.astype(float) - hi_won.astype(float))
    df = pd.DataFrame({"cl": rows.cl[keep], "i": lo[keep], "j": hi[keep], "s": s[keep]})
    net = df.groupby(["cl", "i", "j"], sort=False)["s"].sum().reset_index()
    net["r"] = np.sign(np.round(net["s"].to_numpy(), 12)).astype(np.int8)
    return net.drop(columns="s")


def triads(rel: pd.DataFrame) -> pd.DataFrame:
    """Every prompt-level triad i < j < k with all three relations: columns cl, r_ij, r_jk, r_ik."""
    ij = rel.rename(columns={"r": "r_ij"})
    jk = rel.rename(columns={"i": "j", "j": "k", "r": "r_jk"})
    t = ij.merge(jk, on=["cl", "j"])
    ik = rel.rename(columns={"j": "k", "r": "r_ik"})
    return t.merge(ik, on=["cl", "i", "k"])


def add_transitivity(reg: Registry, rows: Rows) -> dict[str, Any]:
    j = rows.name
    t = triads(pair_relations(rows))
    details: dict[str, Any] = {"triads": len(t)}
    if len(t) == 0:
        return details
    rij, rjk, rik = (t[c].to_numpy(dtype=np.int64) for c in ("r_ij", "r_jk", "r_ik"))
    bad = ~CONSISTENT[9 * (rij + 1) + 3 * (rjk + 1) + (rik + 1)]
    cycle = (rij == rjk) & (rij != 0) & (rik == -rij)
    details["cycles"] = int(cycle.sum())
    details["equivalence_contradictions"] = int((bad & ~cycle).sum())
    reg.add_rows((j, "transitivity_violation_rate"), t["cl"].to_numpy(dtype=np.int64),
                 np.c_[bad.astype(float), np.ones(len(t))])
    return details


def add_score_comparison(reg: Registry, rows: Rows) -> dict[str, Any]:
    j = rows.name
    if rows.score_a is None or rows.score_b is None:
        return {}
    m = np.isfinite(rows.score_a) & np.isfinite(rows.score_b)
    if not m.any():
        return {"scored_verdicts": 0}
    sa, sb = rows.score_a[m], rows.score_b[m]
    rel = np.where(sa > sb, 0, np.where(sa < sb, 1, 2))
    y = rows.y[m]
    bad = rel != y
    reg.add_rows((j, "score_comparison_inconsistency"), rows.cl[m], np.c_[rows.w[m] * bad, rows.w[m]])
    opposite = (rel < 2) & (y < 2) & (rel != y)
    return {"scored_verdicts": int(m.sum()), "opposite": int(opposite.sum())}

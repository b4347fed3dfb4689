"""Logical consistency of a judge (TrustJudge: Wang et al. 2025, "TrustJudge: inconsistencies
of LLM-as-a-judge and how to alleviate them").

* **Pairwise transitivity inconsistency**, measured **per presentation order**.  Summing the
  verdicts of both orders would turn every position flip into "equivalent" and then count
  A=B, B=C, A>C as a violation — position bias counted a second time (it is reported where it
  belongs, by ``position_consistency`` / ``flip_rate``).  The orientation of a verdict is 1 when
  its pair is shown with the models in name order (model_a < model_b), else 2.  Within one
  orientation every triad i < j < k is shown as (i, j), (j, k), (i, k), so a first-shown
  preference acts like a score bonus 2b, b, 0 and can never create a cycle (per *benchmark*
  order it could: shown as (i, j), (j, k), (k, i) a position-biased judge cycles).  So per
  prompt and per orientation (one group when the judge saw no pair in both orientations:
  single-order data have no flips to double count), every pair of models the judge compared in
  it gets one relation (net = Σ w·(+1 if the
  first model of the pair won, −1 if the second did, 0 for a tie); relation = sign(net)).  A
  triad of models whose three pairs were all compared in that order is consistent iff its
  relations form a weak order (some scores s with sign(s_i − s_j) equal to every relation).
  Violations are cycles (A>B, B>C, C>A) and equivalence contradictions (A=B, B=C but A≠C, or
  A=B, B>C but not A>C).  ``transitivity_violation_rate`` = violations / triads over both
  orders.  ``details.transitivity`` also counts the **true cycles on order-consistent
  verdicts**: triads whose three pairs got the same relation in both orders
  (``consistent_triads``, ``consistent_cycles``), and how many pairs the orders disagree on
  (``order_disagreements``).
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
    codes, _ = pd.factorize(pd.Series(np.concatenate([rows.model_a, rows.model_b])).astype(str), sort=True)
    ca, cb = codes[: rows.size], codes[rows.size :]
    keep = ca != cb
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    lo_won = ((rows.y == 0) & (ca == lo)) | ((rows.y == 1) & (cb == lo))
    hi_won = ((rows.y == 0) & (ca == hi)) | ((rows.y == 1) & (cb == hi))
    s = rows.w * (lo_won.astype(float) - hi_won.astype(float))
    df = pd.DataFrame({"cl": rows.cl[keep], "i": lo[keep], "j": hi[keep], "o": np.where(ca == lo, 1, 2)[keep],
                       "s": s[keep]})
    if df.groupby(["cl", "i", "j"], sort=False)["o"].nunique().max() < 2:
        df["o"] = 1  # no pair judged in both orientations: one group, as the verdicts were given
    net = df.groupby(["o", "cl", "i", "j"], sort=False)["s"].sum().reset_index()
    net["r"] = np.sign(np.round(net["s"].to_numpy(), 12)).astype(np.int8)
    return net.drop(columns="s")


def triads(rel: pd.DataFrame) -> pd.DataFrame:
    """Every prompt-level triad i < j < k with all three relations (per order ``o`` when the
    relations carry one): columns [o,] cl, i, j, k, r_ij, r_jk, r_ik."""
    by = ["o", "cl"] if "o" in rel.columns else ["cl"]
    ij = rel.rename(columns={"r": "r_ij"})
    jk = rel.rename(columns={"i": "j", "j": "k", "r": "r_jk"})
    t = ij.merge(jk, on=[*by, "j"])
    ik = rel.rename(columns={"j": "k", "r": "r_ik"})
    return t.merge(ik, on=[*by, "i", "k"])


def _violations(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(violation, cycle) masks of triads."""
    rij, rjk, rik = (t[c].to_numpy(dtype=np.int64) for c in ("r_ij", "r_jk", "r_ik"))
    bad = ~CONSISTENT[9 * (rij + 1) + 3 * (rjk + 1) + (rik + 1)]
    cycle = (rij == rjk) & (rij != 0) & (rik == -rij)
    return bad, cycle


def add_transitivity(reg: Registry, rows: Rows) -> dict[str, Any]:
    j = rows.name
    rel = pair_relations(rows)
    t = triads(rel)
    both = rel["o"].nunique() > 1
    details: dict[str, Any] = {"triads": len(t), "basis": "per presentation orientation (models in name order = 1)"
                               if both else "all verdicts (no pair judged in both orientations)"}
    if len(t) == 0:
        return details
    bad, cycle = _violations(t)
    details["cycles"] = int(cycle.sum())
    details["equivalence_contradictions"] = int((bad & ~cycle).sum())
    details["by_orientation"] = {
        int(o): {"triads": int((t["o"] == o).sum()), "violations": int(bad[t["o"].to_numpy() == o].sum())}
        for o in sorted(pd.unique(t["o"]))
    }
    details.update(_order_consistent(rel))
    reg.add_rows((j, "transitivity_violation_rate"), t["cl"].to_numpy(dtype=np.int64),
                 np.c_[bad.astype(float), np.ones(len(t))])
    return details


def _order_consistent(rel: pd.DataFrame) -> dict[str, int]:
    """Triads on the pairs whose relation is the same in both orders, and their true cycles."""
    if set(pd.unique(rel["o"])) != {1, 2}:
        return {}
    wide = rel.pivot_table(index=["cl", "i", "j"], columns="o", values="r", aggfunc="first").dropna()
    same = wide[wide[1] == wide[2]]
    agreed = pd.DataFrame({"cl": same.index.get_level_values("cl"), "i": same.index.get_level_values("i"),
                           "j": same.index.get_level_values("j"), "r": same[1].to_numpy(dtype=np.int8)})
    t = triads(agreed)
    bad, cycle = _violations(t) if len(t) else (np.zeros(0, bool), np.zeros(0, bool))
    return {"pairs_both_orders": len(wide), "order_disagreements": int((wide[1] != wide[2]).sum()),
            "consistent_triads": len(t), "consistent_cycles": int(cycle.sum()),
            "consistent_violations": int(bad.sum())}


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

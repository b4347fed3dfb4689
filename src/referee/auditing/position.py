"""Position bias: does the verdict depend on which response is shown first?

* ``first_position_rate`` = P(first-shown wins | decisive verdict) = Σ w·[a wins] / Σ w·[a or b wins]
  (Zheng et al. 2023; Wang et al. 2023 "LLMs are not fair evaluators").  It is measured on
  the pairs judged in both orders (a balanced design, so response quality cancels out);
  when no pair was judged in both orders it falls back to all rows, where it also reflects
  which model happened to be shown first, and is then never flagged.
* ``position_consistency`` = share of pairs whose verdicts in the two orders agree (same
  winner in the reference frame, a tie matching a tie) — LLMBar's ``equal``, Auto-J's
  consistency.
* ``flip_rate`` = share of pairs where both verdicts are decisive and name different winners.
* ``details.position.mcnemar``: McNemar's exact test (McNemar 1947) on those flips: a flip is
  either "the first-shown response won both times" (b) or "the second-shown won both times"
  (c); without position bias b ~ Binomial(b + c, ½), p = two-sided exact binomial p-value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from referee.auditing.bootstrap import Registry
from referee.auditing.rows import Rows, both_orders


def mcnemar(y1: np.ndarray, y2: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test of position flips from the shown-frame verdicts of each pair's two orders."""
    from scipy.stats import binomtest

    b = int(((y1 == 0) & (y2 == 0)).sum())  # first shown won in both orders: a flip towards position 1
    c = int(((y1 == 1) & (y2 == 1)).sum())
    p = float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    return {"first_shown_won_both": b, "second_shown_won_both": c, "p": p}


def add(reg: Registry, rows: Rows) -> dict[str, Any]:
    j = rows.name
    pairs = both_orders(rows)
    n_pairs = int(pairs.first.size)
    details: dict[str, Any] = {"pairs_both_orders": n_pairs}
    if n_pairs:
        y1, y2 = rows.yr[pairs.first], rows.yr[pairs.second]
        cl = rows.cl[pairs.first]
        ones = np.ones(n_pairs)
        reg.add_rows((j, "position_consistency"), cl, np.c_[(y1 == y2).astype(float), ones])
        reg.add_rows((j, "details", "flip_rate"), cl, np.c_[((y1 < 2) & (y2 < 2) & (y1 != y2)).astype(float), ones])
        linked = np.zeros(int(rows.link.max()) + 1, dtype=bool)
        linked[rows.link[pairs.first]] = True
        basis = linked[rows.link]
        details["basis"] = "pairs judged in both orders"
        details["mcnemar"] = mcnemar(rows.y[pairs.first], rows.y[pairs.second])
    else:
        basis = np.ones(rows.size, dtype=bool)
        details["basis"] = "all rows (no pair judged in both orders)"
    details["balanced"] = bool(n_pairs)
    y, w, cl = rows.y[basis], rows.w[basis], rows.cl[basis]
    reg.add_rows((j, "first_position_rate"), cl, np.c_[w * (y == 0), w * (y < 2)])
    tot = float(w.sum())
    details["shares"] = {
        "first_shown_wins": float(w[y == 0].sum() / tot) if tot else None,
        "second_shown_wins": float(w[y == 1].sum() / tot) if tot else None,
        "tie": float(w[y == 2].sum() / tot) if tot else None,
    }
    return details

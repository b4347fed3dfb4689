"""``audit(..., by=COLUMN)``: audit each value of a column as its own judge, and how redundant they are.

A rubric run's per-criterion rows (``<output>.criteria.jsonl``) carry a ``criterion`` column; auditing
them ``by="criterion"`` gives every criterion its own report entry — accuracy against gold with its
clustered-bootstrap CI, position and length bias, calibration — under the judge name
``JUDGE · VALUE`` (``VALUE`` alone when there is one judge).  Any other column works the same way.

Redundancy (:func:`redundancy`): each value's soft verdict per pair in one frame (the pair's models
sorted; ``prob_a``, else 1 / ½ / 0 from the winner; a gate's ``tie (bothbad)`` counts ½; averaged
over the orders), the Pearson correlation matrix of the values over the pairs both judged
(pairwise-complete, at least 3 pairs) and the **effective number** of values: the participation
ratio ``(Σλ)² / Σλ² = k² / Σ R_jk²`` of the correlation matrix's eigenvalues — k for uncorrelated
criteria, 1 when every criterion is a copy of one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError, source_name
from referee.schema import MODEL_A, MODEL_B

MIN_OVERLAP = 3


def split_by(verdicts: Any, by: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The verdicts with ``judge`` renamed per value of ``by``, and the redundancy summary (see module)."""
    from referee.auditing.load import load_comparisons

    table = load_comparisons(verdicts)
    if by not in table.columns:
        raise InputError(f"`by` names a column the verdicts lack: {by!r}; columns: {', '.join(map(str, table.columns))}",
                         path=source_name(verdicts), field="by")
    values = table[by]
    if values.isna().all():
        raise InputError(f"column {by!r} is empty in every row", path=source_name(verdicts), field="by")
    judge = table["judge"].fillna("judge").astype(str) if "judge" in table.columns else pd.Series("judge", index=table.index)
    label = values.astype(str)
    if judge.nunique() > 1:
        label = judge + " · " + label
    out = table[values.notna()].assign(judge=label[values.notna()])
    out.attrs = dict(table.attrs)
    return out.reset_index(drop=True), redundancy(table[values.notna()], by)


def redundancy(table: pd.DataFrame, by: str) -> dict[str, Any]:
    """``{"column", "values", "correlation" (matrix as nested lists), "effective_number", "pairs"}``."""
    df = table
    if "parse_status" in df.columns:
        df = df[df["parse_status"].fillna("ok") == "ok"]
    a = df["model_a"].astype(str).to_numpy()
    b = df["model_b"].astype(str).to_numpy()
    in_order = a <= b
    prob = pd.to_numeric(df["prob_a"], errors="coerce") if "prob_a" in df.columns else pd.Series(np.nan, index=df.index)
    from_winner = df["winner"].map({MODEL_A: 1.0, MODEL_B: 0.0}).fillna(0.5)
    p = prob.fillna(from_winner).to_numpy(dtype=float)
    p = np.where(in_order, p, 1.0 - p)
    pair = [f"{pid}\x1f{x}\x1f{y}" for pid, x, y in zip(df["prompt_id"].astype(str), np.where(in_order, a, b),
                                                           np.where(in_order, b, a), strict=True)]
    wide = pd.DataFrame({"pair": pair, "value": df[by].astype(str).to_numpy(), "p": p}) \
        .groupby(["pair", "value"], sort=False)["p"].mean().unstack("value")
    values = [str(v) for v in pd.unique(df[by].astype(str))]
    wide = wide.reindex(columns=values)
    corr = wide.corr(min_periods=MIN_OVERLAP).fillna(0.0).to_numpy(copy=True)
    np.fill_diagonal(corr, 1.0)
    k = len(values)
    eff = float(k * k / np.sum(corr * corr)) if k else 0.0
    return {"column": by, "values": values, "correlation": np.round(corr, 4).tolist(), "effective_number": eff,
            "pairs": len(wide)}


def lines(info: dict[str, Any]) -> list[str]:
    """The redundancy summary as terminal lines."""
    vals = info["values"]
    out = [f"redundancy by {info['column']}: effective number {info['effective_number']:.2f} of {len(vals)} "
           f"({info['pairs']} pairs)"]
    width = max(len(v) for v in vals) if vals else 0
    for v, row in zip(vals, info["correlation"], strict=True):
        out.append(f"  {v:<{width}}  " + " ".join(f"{x:+.2f}" for x in row))
    return out


__all__ = ["lines", "redundancy", "split_by"]

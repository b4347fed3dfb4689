"""The per-row arrays every audit metric reads, for one judge (or for the gold rows)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from referee.auditing.align import Keyed
from referee.text import text_lengths


@dataclass
class Rows:
    """Verdict rows of one judge (or gold rows), as aligned numpy arrays."""

    name: str
    y: np.ndarray  # shown frame: 0 = first shown wins, 1 = second shown wins, 2 = tie
    yr: np.ndarray  # item's reference frame
    in_ref: np.ndarray  # shown in the reference orientation
    item: np.ndarray
    cl: np.ndarray
    w: np.ndarray
    order: np.ndarray  # 1 or 2
    link: np.ndarray  # pair group (pair_id, else item) — links the presentation orders
    prob_a: np.ndarray  # NaN when absent
    len_a: np.ndarray  # characters; NaN when unknown
    len_b: np.ndarray
    model_a: np.ndarray
    model_b: np.ndarray
    category: np.ndarray | None
    prompt_id: np.ndarray | None
    score_a: np.ndarray | None = None  # pointwise scores of the two responses by this judge (NaN: none)
    score_b: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> Rows:
        arrays: dict[str, Any] = {  # field -> the field's rows under the mask (None stays None)
            f: getattr(self, f)[mask] for f in ("y", "yr", "in_ref", "item", "cl", "w", "order", "link", "prob_a",
                                                "len_a", "len_b", "model_a", "model_b")}
        for f in ("category", "prompt_id", "score_a", "score_b"):
            value = getattr(self, f)
            arrays[f] = None if value is None else value[mask]
        return replace(self, **arrays)


def lengths(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Response lengths in characters (code points, :func:`referee.text.text_lengths`): from
    the texts (a missing text is NaN, not 0), else ``length_a``/``length_b`` columns, else NaN."""
    n = len(df)
    out = []
    for side in ("a", "b"):
        col = f"response_{side}"
        if col in df.columns and df[col].notna().any():
            chars = text_lengths(df[col], "chars").astype(float)
            chars[df[col].isna().to_numpy()] = np.nan
            out.append(chars)
        elif f"length_{side}" in df.columns:
            out.append(pd.to_numeric(df[f"length_{side}"], errors="coerce").to_numpy(dtype=float))
        else:
            out.append(np.full(n, np.nan))
    return out[0], out[1]


def _column(df: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in df.columns or not df[name].notna().any():
        return None
    return df[name].astype(object).where(df[name].notna(), None).to_numpy(dtype=object)


def build_rows(df: pd.DataFrame, keyed: Keyed, mask: np.ndarray, name: str) -> Rows:
    """Rows of ``df`` selected by ``mask`` (``keyed`` covers all rows of ``df``)."""
    sub = df[mask]
    n = len(sub)
    idx = np.flatnonzero(mask)
    w = sub["weight"].fillna(1.0).to_numpy(dtype=float) if "weight" in sub.columns else np.ones(n)
    in_ref = keyed.in_ref[idx]
    if "order" in sub.columns and sub["order"].notna().any():
        given = pd.to_numeric(sub["order"], errors="coerce").to_numpy(dtype=float)
        order = np.where(np.isfinite(given), given, np.where(in_ref, 1, 2)).astype(np.int8)
    else:
        order = np.where(in_ref, 1, 2).astype(np.int8)
    if "pair_id" in sub.columns:
        pid = sub["pair_id"]
        has = pid.notna().to_numpy()
        key = np.where(has, "p:" + pid.fillna("").astype(str).to_numpy(dtype=object),
                       "i:" + pd.Series(keyed.item[idx]).astype(str).to_numpy(dtype=object))
        link, _ = pd.factorize(key)
    else:
        link, _ = pd.factorize(keyed.item[idx])
    prob = sub["prob_a"].to_numpy(dtype=float) if "prob_a" in sub.columns else np.full(n, np.nan)
    la, lb = lengths(sub)
    return Rows(
        name=name,
        y=keyed.y[idx],
        yr=keyed.yr[idx],
        in_ref=in_ref,
        item=keyed.item[idx],
        cl=keyed.cluster[idx],
        w=w,
        order=order,
        link=link.astype(np.int64),
        prob_a=prob,
        len_a=la,
        len_b=lb,
        model_a=sub["model_a"].to_numpy(dtype=object),
        model_b=sub["model_b"].to_numpy(dtype=object),
        category=_column(sub, "category"),
        prompt_id=_column(sub, "prompt_id"),
    )


@dataclass
class Pairs:
    """Both presentation orders of one pair: row indices (into a :class:`Rows`) of each order's first verdict."""

    first: np.ndarray  # row in the reference orientation
    second: np.ndarray  # row in the swapped orientation


def both_orders(rows: Rows) -> Pairs:
    """Pairs judged in both orientations (the first verdict of each orientation is used)."""
    key = rows.link * 2 + (~rows.in_ref).astype(np.int64)
    _, first_idx = np.unique(key, return_index=True)
    keys = key[first_idx]
    link, orient = keys // 2, keys % 2
    # keys are sorted, so a link with both orientations has them adjacent: (2l, 2l+1)
    has_pair = (orient[:-1] == 0) & (orient[1:] == 1) & (link[:-1] == link[1:])
    i = np.flatnonzero(has_pair)
    return Pairs(first_idx[i], first_idx[i + 1])

"""Self-preference: does a judge favour responses from its own model family?

For judge J of family F, take the comparisons where exactly one side's model belongs to F.
own rate = J's win rate for the F side (a tie counts ½); reference rate = the same win rate
given by the judges of *other* families on the same items (else by the gold votes there).
``self_preference`` = own rate − reference rate (Panickssery et al. 2024 "LLM evaluators
recognize and favor their own generations"; Zheng et al. 2023 §3.3): quality differences
between families cancel because both rates are measured on the same comparisons.

Families: ``family`` maps judge names (and, optionally, model names) to a family, e.g.
``{"gpt4": "gpt", "claude-judge": "claude"}``.  A model belongs to the family its name is
mapped to, else to the longest family name (≥ 3 characters) contained in its own name,
compared in lower case without punctuation ("gpt" ⊂ "gpt-4-0613"), else to itself.  A judge
missing from the mapping (or every judge, when no mapping is given) is its own family, so
a judge named like a model (PRD's ``gpt4`` reviewer and ``gpt4`` model) is matched to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from referee.auditing.bootstrap import Registry, cluster_sums
from referee.auditing.rows import Rows


def normalise(name: object) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(name).lower())


class Families:
    """Judge and model families from a user mapping (judge → family)."""

    def __init__(self, mapping: Mapping[str, str] | None, judges: Sequence[str]) -> None:
        self.given = dict(mapping or {})
        self.map = {normalise(k): normalise(v) for k, v in self.given.items()}
        names = {self.judge(j) for j in judges} | set(self.map.values())
        self.names = sorted((n for n in names if len(n) >= 3), key=len, reverse=True)
        self._cache: dict[object, str] = {}

    def judge(self, name: str) -> str:
        key = normalise(name)
        return self.map.get(key, key)

    def model(self, name: object) -> str:
        hit = self._cache.get(name)
        if hit is None:
            key = normalise(name)
            hit = self.map.get(key) or next((f for f in self.names if f in key), key)
            self._cache[name] = hit
        return hit

    def of_models(self, models: np.ndarray) -> np.ndarray:
        if not models.size:
            return models
        codes, uniq = pd.factorize(models)
        return np.array([self.model(m) for m in uniq], dtype=object)[codes]


def _scores(rows: Rows, fam: Families, f: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of rows with exactly one F side, credit of the F side: 1 win, ½ tie, 0 loss)."""
    fa = fam.of_models(rows.model_a) == f
    fb = fam.of_models(rows.model_b) == f
    one = fa != fb
    won = np.where(rows.y == 2, 0.5, ((rows.y == 0) & fa) | ((rows.y == 1) & fb))
    return one, won.astype(float)


def add(reg: Registry, rows: Rows, others: list[Rows], gold: Rows | None, fam: Families) -> dict[str, Any]:
    j = rows.name
    f = fam.judge(j)
    one, won = _scores(rows, fam, f)
    details: dict[str, Any] = {"family": f}
    if not one.any():
        return details
    items = np.unique(rows.item[one])
    ref_rows = [o for o in others if fam.judge(o.name) != f]
    reference = "other judges: " + ", ".join(o.name for o in ref_rows)
    cl, num, den = _reference(ref_rows, fam, f, items)
    if den.sum() == 0 and gold is not None:
        cl, num, den = _reference([gold], fam, f, items)
        reference = "gold labels"
    if den.sum() == 0:
        details["reference"] = None
        return details
    details["reference"] = reference
    c = reg.n_clusters
    own = cluster_sums(rows.cl[one], np.c_[rows.w[one] * won[one], rows.w[one]], c)
    ref = cluster_sums(cl, np.c_[num, den], c)
    cols = reg.block(np.hstack([own, ref]))

    def diff(t: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            result: np.ndarray = t[:, 0] / t[:, 1] - t[:, 2] / t[:, 3]
            return result

    reg.add((j, "self_preference"), cols, diff, float(rows.w[one].sum()))
    reg.add((j, "details", "self_preference", "own_rate"), slice(cols.start, cols.start + 2),
            lambda t: t[:, 0] / t[:, 1], float(rows.w[one].sum()))
    reg.add((j, "details", "self_preference", "reference_rate"), slice(cols.start + 2, cols.start + 4),
            lambda t: t[:, 0] / t[:, 1], float(den.sum()))
    return details


def _reference(refs: list[Rows], fam: Families, f: str, items: np.ndarray) -> tuple[np.ndarray, ...]:
    cls, nums, dens = [np.zeros(0, dtype=np.int64)], [np.zeros(0)], [np.zeros(0)]
    for o in refs:
        one, won = _scores(o, fam, f)
        m = one & np.isin(o.item, items)
        cls.append(o.cl[m])
        nums.append(o.w[m] * won[m])
        dens.append(o.w[m])
    return np.concatenate(cls), np.concatenate(nums), np.concatenate(dens)

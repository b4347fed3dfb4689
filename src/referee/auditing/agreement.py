"""Scoring a verdict against gold, and chance-corrected agreement from a confusion table.

Outcomes are coded 0 = first side wins, 1 = second side wins, 2 = tie (``tie`` and
``tie (bothbad)`` alike), always in one shared frame (the gold's presentation order).

Tie policies (``W[p, k]`` = credit for predicting p when gold says k; ``D[k]`` = whether
a gold label k counts at all):

* ``exclude`` — gold ties are left out (and counted); a judge tie on a decisive gold label
  earns 0.
* ``half`` — a tie against a decisive label, or a decisive verdict against a gold tie,
  earns ½ (ties as half a win, as in AlpacaEval and the Chatbot Arena).
* ``three-class`` — exact match of the three labels.

Confusion-table metrics (``conf`` is the 3×3 table of (judge, gold) label pairs, flattened
row-major, vectorised over bootstrap rounds):

* Cohen's κ = (p_o − p_e) / (1 − p_e), p_e = Σ_k p_judge(k)·p_gold(k) (Cohen 1960).
* Krippendorff's α (nominal, two coders per unit, Krippendorff 2011): coincidences
  o = C + Cᵀ, n_c = Σ_k o_ck, n = Σ n_c;  α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from referee.errors import InputError

TIE_POLICIES = ("exclude", "half", "three-class")
SWAP = np.array([1, 0, 2], dtype=np.int8)


def policy(tie_policy: str) -> tuple[np.ndarray, np.ndarray]:
    """(W, D): the 3×3 credit matrix and the 3-vector of counted gold labels."""
    if tie_policy == "exclude":
        return np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 0]]), np.array([1.0, 1.0, 0.0])
    if tie_policy == "half":
        return np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0.5, 0.5, 1]]), np.ones(3)
    if tie_policy == "three-class":
        return np.eye(3), np.ones(3)
    raise InputError(f"unknown tie policy {tie_policy!r}: `tie_policy` must be one of {', '.join(TIE_POLICIES)}", field="tie_policy")


def confusion_rows(pred: np.ndarray, gold_votes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(N × 9) per-row confusion contributions: row i adds w_i·G_i[k] at cell (pred_i, k)."""
    n = pred.size
    out = np.zeros((n, 9))
    cols = 3 * pred.astype(np.int64)[:, None] + np.arange(3)[None, :]
    out[np.arange(n)[:, None], cols] = weight[:, None] * gold_votes
    return out


def _tables(t: np.ndarray) -> np.ndarray:
    return t.reshape(t.shape[0], 3, 3)


def accuracy_fn(tie_policy: str) -> Callable[[np.ndarray], np.ndarray]:
    """conf (R × 9) → accuracy under the tie policy."""
    w, d = policy(tie_policy)

    def fn(t: np.ndarray) -> np.ndarray:
        c = _tables(t)
        num = (c * w[None]).sum(axis=(1, 2))
        den = (c * d[None, None, :]).sum(axis=(1, 2))
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    return fn


def agreement(t: np.ndarray) -> np.ndarray:
    """Exact three-class agreement (ties must match ties)."""
    c = _tables(t)
    tot = c.sum(axis=(1, 2))
    return np.where(tot > 0, np.trace(c, axis1=1, axis2=2) / np.where(tot > 0, tot, 1), np.nan)


def agreement_no_ties(t: np.ndarray) -> np.ndarray:
    """Agreement on the pairs where neither side is a tie (MT-Bench 'without ties')."""
    c = _tables(t)[:, :2, :2]
    tot = c.sum(axis=(1, 2))
    return np.where(tot > 0, (c[:, 0, 0] + c[:, 1, 1]) / np.where(tot > 0, tot, 1), np.nan)


def kappa_fn(tie_policy: str) -> Callable[[np.ndarray], np.ndarray]:
    """conf (R × 9) → Cohen's κ (gold ties dropped under ``exclude``)."""
    keep = policy(tie_policy)[1]

    def fn(t: np.ndarray) -> np.ndarray:
        c = _tables(t) * keep[None, None, :]
        return cohen_kappa(c)

    return fn


def alpha_fn(tie_policy: str) -> Callable[[np.ndarray], np.ndarray]:
    """conf (R × 9) → Krippendorff's α, nominal (gold ties dropped under ``exclude``)."""
    keep = policy(tie_policy)[1]

    def fn(t: np.ndarray) -> np.ndarray:
        return krippendorff_alpha(_tables(t) * keep[None, None, :])

    return fn


def cohen_kappa(c: np.ndarray) -> np.ndarray:
    """κ of (R × K × K) confusion tables (rows: rater 1, columns: rater 2)."""
    tot = c.sum(axis=(1, 2))
    safe = np.where(tot > 0, tot, 1.0)
    po = np.trace(c, axis1=1, axis2=2) / safe
    pe = (c.sum(axis=2) * c.sum(axis=1)).sum(axis=1) / safe**2
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (po - pe) / (1.0 - pe)
    return np.where((tot > 0) & (pe < 1 - 1e-12), k, np.nan)


def krippendorff_alpha(c: np.ndarray) -> np.ndarray:
    """Nominal α of (R × K × K) tables of paired values (two coders per unit)."""
    o = c + np.transpose(c, (0, 2, 1))
    nc = o.sum(axis=2)
    n = nc.sum(axis=1)
    off = ~np.eye(c.shape[1], dtype=bool)
    disagree = (o * off[None]).sum(axis=(1, 2))
    expected = ((nc[:, :, None] * nc[:, None, :]) * off[None]).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = 1.0 - (n - 1.0) * disagree / expected
    return np.where((n > 1) & (expected > 0), a, np.nan)


def unique_mode(counts: np.ndarray) -> np.ndarray:
    """Index of the strict maximum of each row of (N × 3) vote counts, −1 when tied or empty."""
    top = counts.max(axis=1)
    arg = counts.argmax(axis=1)
    n_top = (counts == top[:, None]).sum(axis=1)
    return np.where((top > 0) & (n_top == 1), arg, -1)

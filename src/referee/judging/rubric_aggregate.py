"""Rubric verdicts aggregated outside the judge: gates, weighted soft preferences, redundancy, learned weights.

Pure numpy / scipy functions over a pair × criterion matrix.  Per pair (in the frame of order 1) and
criterion the judge's answers become:

* a **soft signal** ``s`` in [−½, ½] for ``preference`` criteria (``prob_a − ½``, with ``prob_a`` from
  logprobs or 1 / 0 / ½ for A / B / tie) and ``scale`` criteria (``(score_a − score_b) / (2 (high −
  low))``), averaged over the parsed orders; NaN when no order parsed (or the prompt's rubric has no
  such criterion);
* a **gate decision** for ``gate`` criteria: +1 when b fails and a passes in every parsed order, −1
  the other way round, 0 when the gate does not decide (both pass, both fail, or the orders disagree),
  NaN when no order parsed.

:func:`aggregate` then decides each pair: (1) a side that fails a gate the other passes loses (when
each side fails a different gate, no gate decides); (2) otherwise the margin is the weighted mean
``Σ v_j s_j / Σ v_j`` over the criteria that parsed (an unparsed criterion drops out and the weights
are renormalised — never guessed); a pair with no parsed weighted criterion has no margin.

Weights ``v``: the rubric's (``given``), made redundancy-aware (:func:`redundancy_weights`) or learned
from gold verdicts (:func:`learn_weights`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MIN_OVERLAP = 3  # pairs two criteria must share for their correlation to count
RIDGE = 1e-8  # tie-break of :func:`redundancy_weights` between exact copies


def correlation(signals: FloatArray) -> FloatArray:
    """Pearson correlation of the criteria's signals (columns), pairwise-complete over the pairs (rows).

    A pair of criteria sharing fewer than :data:`MIN_OVERLAP` parsed pairs, or one that is constant
    there, gets correlation 0; the diagonal is 1.
    """
    x = np.asarray(signals, dtype=float)
    k = x.shape[1]
    r = np.eye(k)
    ok = ~np.isnan(x)
    for i in range(k):
        for j in range(i + 1, k):
            both = ok[:, i] & ok[:, j]
            if both.sum() < MIN_OVERLAP:
                continue
            a, b = x[both, i], x[both, j]
            sa, sb = a.std(), b.std()
            if sa < 1e-12 or sb < 1e-12:
                continue
            r[i, j] = r[j, i] = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
    return r


def redundancy_weights(signals: FloatArray, weights: FloatArray) -> FloatArray:
    """Redundancy-aware weights: ``v ≥ 0`` solving ``R v = w`` (non-negative least squares).

    ``R`` is :func:`correlation` of the signals over the judged pairs and ``w`` the given weights.
    This is the whitening idea of RRD's correlation-aware weighting (Shen et al., "Rethinking Rubric
    Generation for Improving LLM Judge and Reward Modeling for Open-ended Tasks", arXiv:2602.05125):
    correlated criteria should not count twice.  When ``k`` criteria are equicorrelated (``r``) it
    reduces to dividing each weight by its soft duplicate count ``Σ_k max(R_jk, 0) = 1 + (k−1) r``;
    unlike that per-criterion count it is *exactly* invariant to listing a criterion several times:
    the copies' columns of ``R`` are equal, ``R v = w`` keeps the same solution for the copies' total
    weight and every other criterion, and the aggregate is unchanged (as long as the non-negativity
    bound is not active).  Among equally good solutions (exact copies) a vanishing ridge
    (:data:`RIDGE`) picks the one that splits the weight evenly.  Scaled so that ``Σ v = Σ w``.
    """
    from scipy.optimize import nnls

    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        return w.copy()
    r = correlation(signals)
    k = len(w)
    # a vanishing ridge picks, among equally good solutions, the one that splits weight evenly between copies
    v, _ = nnls(np.vstack([r, np.sqrt(RIDGE) * np.eye(k)]), np.concatenate([w, np.zeros(k)]))
    total = v.sum()
    return v * (w.sum() / total) if total > 0 else w.copy()


def effective_number(corr: FloatArray) -> float:
    """The effective number of criteria: the participation ratio ``(Σλ)² / Σλ² = k² / Σ R_jk²`` of the
    correlation matrix's eigenvalues (k for uncorrelated criteria, 1 when all are copies of one)."""
    r = np.asarray(corr, dtype=float)
    return float(r.shape[0] ** 2 / np.sum(r * r)) if r.size else 0.0


def learn_weights(signals: FloatArray, gold: FloatArray, *, l2: float = 1e-3) -> FloatArray:
    """Weights learned from gold: non-negative logistic regression of the gold verdict on the signals.

    ``gold``: 1 where a won, 0 where b won (ties and unknown: NaN, left out).  Fits
    ``P(a wins) = σ(Σ_j v_j s_j)`` with ``v ≥ 0`` and no intercept (swapping a and b must flip the
    prediction), by L-BFGS-B with a small ridge ``l2 ‖v‖²``; an unparsed signal counts as 0 (no
    evidence).  The weights are on the logit scale per unit of signal; only their ratios matter to
    :func:`aggregate`.
    """
    from scipy.optimize import minimize

    x = np.nan_to_num(np.asarray(signals, dtype=float), nan=0.0)
    g = np.asarray(gold, dtype=float)
    keep = ~np.isnan(g)
    x, y = x[keep], np.where(g[keep] > 0.5, 1.0, -1.0)
    k = x.shape[1]
    if not len(y):
        return np.ones(k)

    def loss(v: FloatArray) -> tuple[float, FloatArray]:
        z = y * (x @ v)
        p = np.exp(-np.logaddexp(0.0, z))  # σ(−z)
        value = float(np.logaddexp(0.0, -z).sum() + l2 * len(y) * (v @ v))
        grad = -(x.T @ (y * p)) + 2 * l2 * len(y) * v
        return value, grad

    res = minimize(loss, np.ones(k), jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * k)
    return np.asarray(res.x, dtype=float)


def aggregate(soft: FloatArray, gates: FloatArray, weights: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """Per pair: (margin in [−½, ½] or NaN, the gate that decided it or −1) — see the module docstring.

    ``soft``: pairs × soft criteria (NaN: no verdict); ``gates``: pairs × gate criteria (+1 / −1 / 0 /
    NaN); ``weights``: one per soft criterion.  A gate-decided pair's margin is ±½.
    """
    s = np.asarray(soft, dtype=float)
    g = np.asarray(gates, dtype=float)
    w = np.asarray(weights, dtype=float)
    n = s.shape[0] if s.ndim == 2 else g.shape[0]
    margin = np.full(n, np.nan)
    if s.size:
        ok = ~np.isnan(s) & (w > 0)
        mass = (ok * w).sum(axis=1)
        total = (np.where(ok, s, 0.0) * w).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            margin = np.where(mass > 0, total / mass, np.nan)
    decided = np.full(n, -1, dtype=np.int64)
    if g.size:
        a_fails = np.nan_to_num(g, nan=0.0) < 0
        b_fails = np.nan_to_num(g, nan=0.0) > 0
        one = a_fails.any(axis=1) ^ b_fails.any(axis=1)
        first = np.argmax(a_fails | b_fails, axis=1)
        decided = np.where(one, first, -1)
        margin = np.where(one, np.where(b_fails.any(axis=1), 0.5, -0.5), margin)
    return margin, decided


__all__ = ["aggregate", "correlation", "effective_number", "learn_weights", "redundancy_weights"]

"""Graded verdicts: ``A>>B`` / ``A>B`` / tie / ``B>A`` / ``B>>A``.

Cells carry the grade in ``s`` (2 strong, 1 plain, 0 tie).  Two treatments:

* :func:`arena_hard_weights` — Arena-Hard-Auto's convention (``show_result.py``,
  ``get_battles_from_row``): a strong verdict is a plain win counted ``multiplier = 3``
  times, then ordinary Bradley–Terry is fitted.  A heuristic, but the published one.
* :func:`fit_ordinal` — a likelihood for the five ordered outcomes: the cumulative-logit
  paired-comparison model (Tutz 1986, J. Math. Psych. 30:306–316; Agresti 1992,
  JRSS C 41:287–297, §2), with symmetric thresholds ``0 < c₁ < c₂``::

      P(Y ≤ k) = σ(c_k − (θ_a − θ_b + h)),  (c_1, …, c_4) = (−c₂, −c₁, c₁, c₂)

  over ``B>>A < B>A < tie < A>B < A>>B``.  With ungraded data (no strong verdicts) it
  is the three-outcome model with cut-points ``∓c₁`` — exactly Rao–Kupper with
  ``log θ_RK = c₁``; without ties ``c₁ = 0``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import logit

from referee.ranking.cells import Cells
from referee.ranking.fit import Fit
from referee.ranking.ties import TermValues, cumulative_terms, newton_cells, to_fit
from referee.schema import A_WINS

#: Arena-Hard-Auto counts a strong verdict (A>>B, B>>A) this many times.
ARENA_HARD_MULTIPLIER = 3.0


def arena_hard_weights(cells: Cells, multiplier: float = ARENA_HARD_MULTIPLIER, replicate: bool = False) -> Cells:
    """Cells with strong wins (``s == 2``) weighted ``multiplier`` times (Arena-Hard-Auto).

    Arena-Hard duplicates each strong-verdict row 3 times before fitting Bradley–Terry.
    By default only the likelihood weight ``w`` is multiplied, so a strong verdict remains
    one observation (the sandwich and the bootstrap see one row of weight 3); with
    ``replicate=True`` the row count ``n`` is multiplied too, reproducing Arena-Hard's
    bootstrap, which resamples the copies independently (and so overstates precision).
    """
    strong = (cells.y <= 1) & (cells.s == 2)
    factor = np.where(strong, float(multiplier), 1.0)
    n = cells.n * factor if replicate else cells.n
    return replace(cells, w=cells.w * factor, n=n)


def _layout(has_ties: bool, graded: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Category of each ordinal score −2…2, cut-point matrix and the names of φ."""
    if graded and has_ties:  # B>>A, B>A, tie, A>B, A>>B
        cats = np.array([0, 1, 2, 3, 4])
        cmat = np.array([[0.0, -1.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        return cats, cmat, ["threshold_tie", "threshold_strong"]
    if graded:  # no ties: cut-points (−c₂, 0, c₂)
        return np.array([0, 1, -1, 2, 3]), np.array([[-1.0], [0.0], [1.0]]), ["threshold_strong"]
    if has_ties:  # three outcomes: cut-points (−c₁, c₁)
        return np.array([0, 0, 1, 2, 2]), np.array([[-1.0], [1.0]]), ["threshold_tie"]
    return np.array([0, 0, -1, 1, 1]), np.zeros((1, 0)), []


def _start(names: list[str], tie: float, weak: float) -> np.ndarray:
    """Thresholds matching the observed shares when all strengths are equal."""
    c1 = float(logit((1.0 + min(tie, 0.99)) / 2.0))
    c2 = float(logit((1.0 + min(tie + weak, 0.995)) / 2.0))
    start = {"threshold_tie": c1, "threshold_strong": max(c2, c1 + 0.1)}
    return np.array([start[nm] for nm in names])


def fit_ordinal(cells: Cells, home: bool = False, prior: float = 0.0, theta0: np.ndarray | None = None) -> Fit:
    """Cumulative-logit (ordinal) Bradley–Terry over graded verdicts, by maximum likelihood.

    ``P(Y ≤ k) = σ(c_k − (θ_a − θ_b + h))`` with symmetric cut-points ``(−c₂, −c₁, c₁, c₂)``
    (Agresti 1992).  Reports ``extra["threshold_tie"] = c₁``, ``extra["threshold_strong"] = c₂``
    (absent when no verdict is graded: then a strong verdict is treated as a plain win and
    the model is Rao–Kupper), ``extra["first_position"] = h`` when ``home``, and
    ``extra["levels"]``, the number of outcome levels used.  Without ties ``c₁ = 0``.
    ``prior`` adds ``−½·prior·‖θ‖²`` (keeps degenerate data finite).
    """
    cells = cells.select(cells.w > 0)
    win = cells.y <= 1
    sign = np.where(cells.y == A_WINS, 1, -1)
    tot = float(cells.w.sum())
    share = {
        "tie": float(cells.w[~win].sum()) / tot,
        "weak": float(cells.w[win & (cells.s != 2)].sum()) / tot,
        "strong": float(cells.w[win & (cells.s == 2)].sum()) / tot,
    }
    graded = share["weak"] > 0 and share["strong"] > 0
    has_ties = share["tie"] > 0
    score = np.where(win, sign * np.where(graded & (cells.s == 2), 2, 1), 0)
    cats, cmat, names = _layout(has_ties, graded)
    cat = cats[score + 2]
    c0 = np.zeros(cmat.shape[0])

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> TermValues:
        return cumulative_terms(d, phi, cat, cmat, c0, derivs)

    sol = newton_cells(cells, terms, _start(names, share["tie"], share["weak"]), home=home, prior=prior,
                       theta0=theta0)
    fit, raw, raw_se = to_fit(cells, sol, names, "ordinal", home)
    fit.extra.update(raw)
    fit.extra_se.update(raw_se)
    if not has_ties:
        fit.extra["threshold_tie"], fit.extra_se["threshold_tie"] = 0.0, float("nan")
    fit.extra["levels"] = float(cmat.shape[0] + 1)
    return fit

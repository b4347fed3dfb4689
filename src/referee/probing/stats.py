"""The statistics of a probe: rates with clustered Wilson intervals, a sign test, Fleiss' κ.

* **Wilson interval** (Wilson, 1927) of a rate p̂ = x / n at level ``level``:
  (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).  When the units come in clusters (the two
  presentation orders of one pair), n is the *effective* sample size n / deff with Kish's design
  effect deff = 1 + (m̄ − 1)·ρ̂, m̄ the mean cluster size and ρ̂ the one-way ANOVA intraclass
  correlation of the 0/1 outcomes, clipped to [0, 1] (Kish, 1965; Donner & Klar, 2000).  When
  every outcome is the same (no flip at all) ρ̂ is undefined and its worst case ρ = 1 is taken
  (deff = m̄: the pairs, not the games, are the units).  At the boundary (x or n − x ≤ 3) the
  bound is Brown, Cai & DasGupta's (2001) Poisson-modified one (:func:`wilson`).  Measured
  coverage of the 95% interval (``tests/test_probe_coverage.py``, 2,000 datasets per cell, two
  order-games per pair correlated 0 / 0.5 / 1): 92–97% at 30 and 200 pairs for p = 0.05 and
  0.35; at 8 pairs or p ≤ 0.01 it is conservative (≥ 94%) instead of undercovering (plain Wilson
  with the deff of 1 for flip-free data: 83–89% at p = 0.01).
* **Sign test** of "the edit moves verdicts toward the edited response" (H0: a unit is as likely to
  move away as toward): per pair the net movement (toward − away over its games); pairs with a
  positive net against pairs with a negative one, one-sided exact binomial at ½ (pairs with net 0
  drop out).  Testing per pair keeps the test valid when a pair's two orders move together.
* **Fleiss' κ** (Fleiss, 1971) of N items each rated by the same R raters into categories:
  κ = (P̄ − P̄_e) / (1 − P̄_e), P̄ the mean per-item agreement Σ_c n_ic(n_ic − 1) / (R(R − 1)) and
  P̄_e = Σ_c p_c² with p_c the share of all ratings in category c.  κ is 1 when every rater agrees
  on every item; it is None when P̄_e = 1 (every rating the same category: agreement is perfect
  but cannot be told from chance).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from scipy.stats import binomtest, chi2, norm


def wilson(x: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``x`` successes in ``n`` trials (n may be an effective, fractional n).

    At the boundary it takes Brown, Cai & DasGupta's (2001, §4.1.1) modification: for
    1 ≤ x ≤ x* (x* = 2 when n ≤ 50, else 3) the lower bound is the one-sided Poisson bound
    ½χ²_{2x, α}/n (α = 1 − level; the α-quantile of χ² with 2x degrees of freedom) when that is
    lower — plain Wilson's lower bound is too high there (its coverage at p = 0.01, n = 16 is
    85%) — and symmetrically for the upper
    bound at n − x ≤ x*; x = 0 gives a lower bound of exactly 0 (x = n: an upper bound of exactly 1).
    """
    if n <= 0:
        return (math.nan, math.nan)
    alpha = 1 - level
    z = float(norm.ppf(1 - alpha / 2))
    p = min(1.0, max(0.0, x / n))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    cut = 2 if n <= 50 else 3
    for k, side in ((n * p, 0), (n * (1 - p), 1)):
        if k <= 1e-9:  # no successes (side 0) / no failures (side 1): the bound is the boundary itself
            lo, hi = (0.0, hi) if side == 0 else (lo, 1.0)
        elif k <= cut:
            poisson = 0.5 * float(chi2.ppf(alpha, 2 * k)) / n
            lo, hi = (min(lo, poisson), hi) if side == 0 else (lo, max(hi, 1 - poisson))
    return (lo, hi)


def design_effect(clusters: Sequence[Sequence[int]]) -> float:
    """Kish's design effect 1 + (m̄ − 1)·ρ̂ of 0/1 outcomes grouped in clusters (ρ̂: ANOVA ICC in [0, 1])."""
    groups = [list(c) for c in clusters if c]
    n = sum(len(g) for g in groups)
    k = len(groups)
    if k < 2 or n <= k:
        return 1.0
    total = sum(sum(g) for g in groups)
    if total == 0 or total == n:  # no variation: ρ cannot be estimated, so take its worst case ρ = 1
        return n / k
    mean = sum(sum(g) for g in groups) / n
    between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups) / (k - 1)
    within = sum(sum((v - sum(g) / len(g)) ** 2 for v in g) for g in groups) / (n - k)
    m0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)  # the ANOVA mean cluster size
    denom = between + (m0 - 1) * within
    rho = 0.0 if denom <= 0 else min(1.0, max(0.0, (between - within) / denom))
    return 1.0 + (n / k - 1) * rho


def clustered_rate(clusters: Sequence[Sequence[int]], level: float = 0.95) -> dict[str, Any]:
    """The rate of 1s over every unit, with a Wilson interval at the design-effect-adjusted n."""
    n = sum(len(c) for c in clusters)
    x = sum(sum(c) for c in clusters)
    if n == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    deff = design_effect(clusters)
    lo, hi = wilson(x / deff, n / deff, level)
    return {"value": x / n, "ci_low": lo, "ci_high": hi, "n": n, "design_effect": deff}


def sign_test(nets: Sequence[float]) -> dict[str, Any]:
    """One-sided exact sign test of per-pair net movements (H0: positive and negative equally likely)."""
    up = sum(1 for v in nets if v > 0)
    down = sum(1 for v in nets if v < 0)
    p = float(binomtest(up, up + down, 0.5, alternative="greater").pvalue) if up + down else 1.0
    return {"pairs_toward": up, "pairs_away": down, "p": p}


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' κ of items × raters (every item rated by the same number ≥ 2 of raters); None when undefined."""
    items = [list(r) for r in ratings if len(r) >= 2]
    if not items:
        return None
    r = len(items[0])
    if any(len(i) != r for i in items):
        raise ValueError("every item needs the same number of ratings")
    totals: dict[Hashable, int] = {}
    agree = 0.0
    for item in items:
        counts: dict[Hashable, int] = {}
        for c in item:
            counts[c] = counts.get(c, 0) + 1
            totals[c] = totals.get(c, 0) + 1
        agree += sum(v * (v - 1) for v in counts.values()) / (r * (r - 1))
    p_bar = agree / len(items)
    all_ratings = len(items) * r
    p_e = sum((v / all_ratings) ** 2 for v in totals.values())
    if p_e >= 1 - 1e-12:
        return None
    return (p_bar - p_e) / (1 - p_e)


def share(flags: Mapping[Any, bool] | Sequence[bool], level: float = 0.95) -> dict[str, Any]:
    """The share of True among independent units, with its Wilson interval."""
    values = list(flags.values()) if isinstance(flags, Mapping) else list(flags)
    n = len(values)
    if not n:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    x = sum(bool(v) for v in values)
    lo, hi = wilson(x, n, level)
    return {"value": x / n, "ci_low": lo, "ci_high": hi, "n": n}


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """The mean with a normal-theory (t) interval; one value, or values all equal, give no interval.

    Equal values carry no estimate of the spread: the t interval would be the single point
    [mean, mean] (on sparse score changes — 80% zeros — 8 values are all 0 one time in six,
    and such point intervals pulled the coverage to 78%; ``tests/test_probe_coverage.py``).
    """
    from scipy.stats import t

    n = len(values)
    if not n:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    mean = sum(values) / n
    if n < 2 or all(v == values[0] for v in values):
        return {"value": mean, "ci_low": None, "ci_high": None, "n": n}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return {"value": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}


__all__ = ["clustered_rate", "design_effect", "fleiss_kappa", "mean_ci", "share", "sign_test", "wilson"]

"""Defect flags: a metric is flagged only when its whole confidence interval lies outside its
no-defect band, so sampling noise is never reported as a bias.

Bands are (low, high) with ``None`` for an open end; override any of them with
``audit(..., band={"first_position_rate": (0.4, 0.6)})``, ``audit(..., band=["first_position_rate=0.4:0.6"])``
or ``--band NAME=LOW:HIGH``.  Length bias is banded as the excess over the reference
(``prefer_longer_excess``), never as the absolute ``prefer_longer_rate``.

Statistics of the flags (:func:`band_test`, :func:`fdr`):

* **p-value** of every banded metric with an interval: the one-sided test of H0 "the true value
  lies inside the band" at the band's nearer edge e, with the bootstrap standard error
  se = (ci_high − ci_low) / (2·z_{(1+level)/2}) (the percentile interval's width read as a
  normal one): p = 1 − Φ(|value − e| / se) when the value lies beyond e, else
  Φ(−dist/se) with dist ≤ 0 (so p ≥ 0.5 inside the band).
* **q-value**: Benjamini–Hochberg (1995) over every tested metric of every judge in one report;
  a flag **stands** when its q ≤ 1 − level.  A flag whose CI lies outside the band but that does
  not survive the FDR control is kept in the list with ``"stands": false``.
* **Minimum detectable effect** (``mde``): how far beyond the band's edge a true value must lie
  to be flagged with 80% power, (z_{(1+level)/2} + z_{0.8})·se.  A metric is **underpowered**
  when its mde exceeds the band's own scale (:data:`SCALE`: the half-width of a two-sided band,
  or the distance of a one-sided band's edge from the ideal value) — the data could not detect a
  judge that is as far outside the band as the edge is from ideal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from referee.errors import InputError

Band = tuple[float | None, float | None]

DEFAULT_BANDS: dict[str, Band] = {
    "first_position_rate": (0.45, 0.55),
    "position_consistency": (0.8, None),
    "prefer_longer_excess": (-0.1, 0.1),
    "self_preference": (None, 0.05),
    "ece": (None, 0.1),
    "transitivity_violation_rate": (None, 0.1),
    "score_comparison_inconsistency": (None, 0.2),
    # graded (pointwise) judges vs reference scores: referee.auditing.graded
    "score_spread_ratio": (0.8, None),
    "score_middle_excess": (None, 0.1),
    "score_verbosity": (-0.1, 0.1),
    "score_self_preference": (None, 0.05),
}

MEANING: dict[str, tuple[str, str]] = {  # (below the band, above the band)
    "first_position_rate": ("the judge favours the response shown second", "the judge favours the response shown first"),
    "position_consistency": ("the judge changes its verdict when the presentation order is swapped", ""),
    "prefer_longer_excess": ("the judge favours the longer response less often than the reference does",
                             "the judge favours the longer response more often than the reference does"),
    "self_preference": ("", "the judge favours responses of its own model family more than other judges do"),
    "ece": ("", "the judge's probabilities are miscalibrated"),
    "transitivity_violation_rate": ("", "the judge's preferences over three models are often intransitive"),
    "score_comparison_inconsistency": ("", "the judge's pointwise scores often contradict its pairwise verdicts"),
    "score_spread_ratio": ("the judge's scores are compressed: their spread is well below the reference's", ""),
    "score_middle_excess": ("", "the judge puts more scores in the middle of the scale than the reference does"),
    "score_verbosity": ("the judge scores longer responses lower than the reference score explains",
                        "the judge scores longer responses higher than the reference score explains"),
    "score_self_preference": ("", "the judge scores its own model family higher, relative to the reference, "
                                  "than other models"),
}


#: the band's scale per metric, for the "underpowered" mark: half the width of a two-sided
#: default band, else the distance from the one-sided band's edge to the ideal value
SCALE: dict[str, float] = {
    "first_position_rate": 0.05,
    "position_consistency": 0.2,
    "prefer_longer_excess": 0.1,
    "self_preference": 0.05,
    "ece": 0.1,
    "transitivity_violation_rate": 0.1,
    "score_comparison_inconsistency": 0.2,
    "score_spread_ratio": 0.2,
    "score_middle_excess": 0.1,
    "score_verbosity": 0.1,
    "score_self_preference": 0.05,
}
POWER = 0.8


def resolve_bands(band: Mapping[str, Any] | Sequence[str] | str | None) -> dict[str, Band]:
    """The default bands updated with the user's (validated): a mapping ``{name: (low, high)}``, or
    texts ``"NAME=LOW:HIGH"`` (:func:`parse_band`)."""
    out = dict(DEFAULT_BANDS)
    if isinstance(band, str):
        band = [band]
    given = dict(band or {}) if isinstance(band, Mapping) else dict(parse_band(b) for b in band or [])
    for name, value in given.items():
        if name not in DEFAULT_BANDS:
            raise InputError(f"`band`: no band for {name!r}; bands exist for {', '.join(DEFAULT_BANDS)}", field="band")
        try:
            lo, hi = value
            lo = None if lo is None else float(lo)
            hi = None if hi is None else float(hi)
        except (TypeError, ValueError):
            raise InputError(f"`band` for {name!r} must be (low, high), got {value!r}", field="band") from None
        if lo is not None and hi is not None and lo > hi:
            raise InputError(f"`band` for {name!r} has low {lo} > high {hi}", field="band")
        out[name] = (lo, hi)
    return out


def parse_band(text: str) -> tuple[str, Band]:
    """'NAME=LOW:HIGH' (either end may be empty) → (name, (low, high))."""
    name, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition(":")
    if not sep or not sep2 or not name.strip():
        raise InputError(f"`band` must look like NAME=LOW:HIGH (e.g. first_position_rate=0.45:0.55), got {text!r}",
                         field="band")
    try:
        return name.strip(), (float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
    except ValueError:
        raise InputError(f"`band` bounds must be numbers, got {text!r}", field="band") from None


def _fmt_band(b: Band) -> str:
    lo, hi = b
    if lo is None:
        return f"≤ {hi:g}"
    if hi is None:
        return f"≥ {lo:g}"
    return f"{lo:g}–{hi:g}"


def flag(name: str, metric: dict[str, Any] | None, band: Band, level: float) -> dict[str, Any] | None:
    """The flag for one metric, or None when its CI overlaps the band (or it has no CI)."""
    if not metric or metric.get("ci_low") is None or metric.get("ci_high") is None:
        return None
    lo, hi = band
    if hi is not None and metric["ci_low"] > hi:
        direction, words = "above", MEANING.get(name, ("", ""))[1]
    elif lo is not None and metric["ci_high"] < lo:
        direction, words = "below", MEANING.get(name, ("", ""))[0]
    else:
        return None
    pct = round(100 * level)
    message = (
        f"{name} = {metric['value']:.3f} ({pct}% CI {metric['ci_low']:.3f}–{metric['ci_high']:.3f}) lies entirely "
        f"{direction} the no-defect band {_fmt_band(band)}" + (f": {words}" if words else "")
    )
    out = {
        "metric": name,
        "value": metric["value"],
        "ci_low": metric["ci_low"],
        "ci_high": metric["ci_high"],
        "band": [lo, hi],
        "direction": direction,
        "message": message,
    }
    out.update(band_test(name, metric, band, level) or {})
    return out


def standard_error(metric: dict[str, Any], level: float) -> float | None:
    """The bootstrap standard error read off the percentile interval: width / (2·z_{(1+level)/2})."""
    lo, hi = metric.get("ci_low"), metric.get("ci_high")
    if lo is None or hi is None:
        return None
    return float(hi - lo) / (2 * float(norm.ppf((1 + level) / 2)))


def band_test(name: str, metric: dict[str, Any] | None, band: Band, level: float) -> dict[str, Any] | None:
    """p-value against the band, minimum detectable effect and the underpowered mark of one metric
    (None without an interval).  See the module docstring for the formulas."""
    if not metric or metric.get("value") is None:
        return None
    se = standard_error(metric, level)
    if se is None:
        return None
    lo, hi = band
    v = float(metric["value"])
    beyond = max(v - hi if hi is not None else -np.inf, lo - v if lo is not None else -np.inf)
    if not np.isfinite(beyond):
        return None
    p = (0.0 if beyond > 0 else 1.0) if se <= 0 else float(norm.sf(beyond / se))
    mde = (float(norm.ppf((1 + level) / 2)) + float(norm.ppf(POWER))) * se
    scale = SCALE.get(name)
    if scale is None:
        scale = (hi - lo) / 2 if lo is not None and hi is not None else None
    return {"p": p, "se": se, "mde": mde, "underpowered": bool(scale is not None and mde > scale)}


def fdr(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg (1995) q-values (step-up adjusted p-values), in the input order."""
    p = np.asarray(pvalues, dtype=float)
    n = p.size
    if n == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return [float(x) for x in out]


def tests_for(judge: dict[str, Any], bands: Mapping[str, Band], level: float,
              skip: Collection[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """:func:`band_test` of every banded metric of one judge that has an interval."""
    out = {}
    for name, band in bands.items():
        if name in skip:
            continue
        t = band_test(name, judge.get(name), band, level)
        if t is not None:
            out[name] = t
    return out


def control(judges: Mapping[str, dict[str, Any]], level: float) -> dict[str, Any]:
    """Benjamini–Hochberg over every metric test of every judge (``details.tests``); writes ``q`` into
    each test and ``q``/``stands`` into each flag.  Returns the report-level summary."""
    keys = [(j, m) for j, d in judges.items() for m in d.get("details", {}).get("tests", {})]
    qs = fdr([judges[j]["details"]["tests"][m]["p"] for j, m in keys])
    alpha = 1 - level
    for (j, m), q in zip(keys, qs, strict=True):
        judges[j]["details"]["tests"][m]["q"] = q
    standing = 0
    for d in judges.values():
        tests = d.get("details", {}).get("tests", {})
        for f in d.get("flags", []):
            t = tests.get(f["metric"], {})
            f["q"] = t.get("q")
            f["stands"] = bool(f["q"] is not None and f["q"] <= alpha)
            standing += f["stands"]
    return {"method": "Benjamini-Hochberg", "alpha": alpha, "tests": len(keys), "flags": sum(
        len(d.get("flags", [])) for d in judges.values()), "standing": standing}


def flags_for(
    judge: dict[str, Any], bands: Mapping[str, Band], level: float, skip: Collection[str] = frozenset()
) -> list[dict[str, Any]]:
    """Every flag of one judge's metrics (``skip``: metrics not to flag, e.g. an unbalanced position rate)."""
    out = []
    for name, band in bands.items():
        if name in skip:
            continue
        f = flag(name, judge.get(name), band, level)
        if f is not None:
            out.append(f)
    return out

"""Defect flags: a metric is flagged only when its whole confidence interval lies outside its
no-defect band, so sampling noise is never reported as a bias.

Bands are (low, high) with ``None`` for an open end; override any of them with
``audit(..., band={"first_position_rate": (0.4, 0.6)})`` or ``--band NAME=LOW:HIGH``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from referee.errors import InputError

Band = tuple[float | None, float | None]

DEFAULT_BANDS: dict[str, Band] = {
    "first_position_rate": (0.45, 0.55),
    "position_consistency": (0.8, None),
    "prefer_longer_rate": (0.4, 0.6),
    "self_preference": (None, 0.05),
    "ece": (None, 0.1),
    "transitivity_violation_rate": (None, 0.1),
    "score_comparison_inconsistency": (None, 0.2),
}

MEANING: dict[str, tuple[str, str]] = {  # (below the band, above the band)
    "first_position_rate": ("the judge favours the response shown second", "the judge favours the response shown first"),
    "position_consistency": ("the judge changes its verdict when the presentation order is swapped", ""),
    "prefer_longer_rate": ("the judge favours the shorter response", "the judge favours the longer response"),
    "self_preference": ("", "the judge favours responses of its own model family more than other judges do"),
    "ece": ("", "the judge's probabilities are miscalibrated"),
    "transitivity_violation_rate": ("", "the judge's preferences over three models are often intransitive"),
    "score_comparison_inconsistency": ("", "the judge's pointwise scores often contradict its pairwise verdicts"),
}


def resolve_bands(band: Mapping[str, Any] | None) -> dict[str, Band]:
    """The default bands updated with the user's (validated)."""
    out = dict(DEFAULT_BANDS)
    for name, value in (band or {}).items():
        if name not in DEFAULT_BANDS:
            raise InputError(f"no band for {name!r}; bands exist for {', '.join(DEFAULT_BANDS)}", field="band")
        try:
            lo, hi = value
            lo = None if lo is None else float(lo)
            hi = None if hi is None else float(hi)
        except (TypeError, ValueError):
            raise InputError(f"band for {name!r} must be (low, high), got {value!r}", field="band") from None
        if lo is not None and hi is not None and lo > hi:
            raise InputError(f"band for {name!r} has low {lo} > high {hi}", field="band")
        out[name] = (lo, hi)
    return out


def parse_band(text: str) -> tuple[str, Band]:
    """'NAME=LOW:HIGH' (either end may be empty) → (name, (low, high))."""
    name, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition(":")
    if not sep or not sep2 or not name.strip():
        raise InputError(f"--band must look like NAME=LOW:HIGH (e.g. first_position_rate=0.45:0.55), got {text!r}",
                         field="band")
    try:
        return name.strip(), (float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
    except ValueError:
        raise InputError(f"--band bounds must be numbers, got {text!r}", field="band") from None


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
    return {
        "metric": name,
        "value": metric["value"],
        "ci_low": metric["ci_low"],
        "ci_high": metric["ci_high"],
        "band": [lo, hi],
        "direction": direction,
        "message": message,
    }


def flags_for(judge: dict[str, Any], bands: Mapping[str, Band], level: float, skip: set[str] = frozenset()) -> list[dict]:
    """Every flag of one judge's metrics (``skip``: metrics not to flag, e.g. an unbalanced position rate)."""
    out = []
    for name, band in bands.items():
        if name in skip:
            continue
        f = flag(name, judge.get(name), band, level)
        if f is not None:
            out.append(f)
    return out

"""Reading one criterion's verdict out of a rubric judge's answer.  Never guess: what does not parse is unparsed.

Answer formats (the shipped ``rubric-*.j2`` templates ask for exactly these; the last match wins):

============  ==========================  =====================
kind          pairwise                    pointwise
============  ==========================  =====================
preference    ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie)   —
gate          ``[[A: PASS, B: FAIL]]``    ``[[PASS]]`` / ``[[FAIL]]``
scale         ``[[A: 4, B: 2]]``          ``[[4]]``
============  ==========================  =====================

A joint call (all criteria at once) answers one line per criterion, ``NAME: <verdict as above>``;
:func:`joint_lines` finds each criterion's line (the last line that starts with its name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from referee.judging.rubric import GATE, PREFERENCE, Criterion
from referee.judging.templates import MODEL_A, MODEL_B, TIE, TIE_BOTHBAD

_PREF = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.I)
_GATE2 = re.compile(r"\[\[\s*A\s*[:=]\s*(PASS|FAIL)\s*[,;]?\s*B\s*[:=]\s*(PASS|FAIL)\s*\]\]", re.I)
_NUM = r"(-?\d+(?:\.\d+)?)"
_SCALE2 = re.compile(rf"\[\[\s*A\s*[:=]\s*{_NUM}\s*[,;]?\s*B\s*[:=]\s*{_NUM}\s*\]\]", re.I)
_GATE1 = re.compile(r"\[\[\s*(PASS|FAIL)\s*\]\]", re.I)
_SCALE1 = re.compile(rf"\[\[\s*{_NUM}\s*\]\]")


@dataclass
class CriterionVerdict:
    """One criterion's verdict on one game: pairwise ``winner`` / ``prob_a`` (order shown) and, for gates and
    scales, ``score_a`` / ``score_b`` (gate: 1 pass, 0 fail); pointwise only ``score_a``."""

    status: str  # ok | unparsed | failed
    label: str | None = None
    winner: str | None = None
    prob_a: float | None = None
    score_a: float | None = None
    score_b: float | None = None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - keep the last one
        pass
    return found


def parse_pairwise(text: str, c: Criterion) -> CriterionVerdict:
    """A pairwise criterion verdict from answer text (see the module docstring)."""
    if c.kind == PREFERENCE:
        m = _last(_PREF, text)
        if m is None:
            return CriterionVerdict("unparsed")
        lab = m.group(1).upper()
        winner = {"A": MODEL_A, "B": MODEL_B, "C": TIE}[lab]
        return CriterionVerdict("ok", lab, winner, {"A": 1.0, "B": 0.0, "C": 0.5}[lab])
    if c.kind == GATE:
        m = _last(_GATE2, text)
        if m is None:
            return CriterionVerdict("unparsed")
        pa, pb = (float(g.upper() == "PASS") for g in m.groups())
        winner = MODEL_A if pa > pb else MODEL_B if pb > pa else TIE if pa else TIE_BOTHBAD
        return CriterionVerdict("ok", f"A: {m.group(1).upper()}, B: {m.group(2).upper()}", winner, None, pa, pb)
    m = _last(_SCALE2, text)
    if m is None:
        return CriterionVerdict("unparsed")
    sa, sb = float(m.group(1)), float(m.group(2))
    if not (c.low <= sa <= c.high and c.low <= sb <= c.high):
        return CriterionVerdict("unparsed", m.group(0))
    winner = MODEL_A if sa > sb else MODEL_B if sb > sa else TIE
    return CriterionVerdict("ok", f"A: {m.group(1)}, B: {m.group(2)}", winner,
                            0.5 + (sa - sb) / (2 * (c.high - c.low)), sa, sb)


def parse_pointwise(text: str, c: Criterion) -> CriterionVerdict:
    """A pointwise criterion verdict (gate: score 1 pass / 0 fail; scale: the score)."""
    if c.kind == GATE:
        m = _last(_GATE1, text)
        if m is None:
            return CriterionVerdict("unparsed")
        return CriterionVerdict("ok", m.group(1).upper(), score_a=float(m.group(1).upper() == "PASS"))
    m = _last(_SCALE1, text)
    if m is None:
        return CriterionVerdict("unparsed")
    s = float(m.group(1))
    if not c.low <= s <= c.high:
        return CriterionVerdict("unparsed", m.group(1))
    return CriterionVerdict("ok", m.group(1), score_a=s)


def joint_lines(text: str, criteria: tuple[Criterion, ...]) -> dict[str, str]:
    """Criterion name -> the text after ``NAME:`` on the last line that starts with it (bullets, bold allowed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        stripped = re.sub(r"^[\s*\-#>`]*", "", line).replace("**", "")
        for c in criteria:
            if stripped.casefold().startswith(c.name.casefold()):
                rest = stripped[len(c.name):].lstrip()
                if rest.startswith(":"):
                    out[c.name] = rest[1:]
    return out


__all__ = ["CriterionVerdict", "joint_lines", "parse_pairwise", "parse_pointwise"]

"""Planted-bias validation of the audit's flags: detection power and false-flag rate per metric.

``validate(n, effect, seeds)`` simulates, for every seed, ``n`` pairs (one per prompt, every pair
judged in both presentation orders, one gold vote each, the two responses ``Δ`` ≥ 100
characters apart) and audits them with :func:`referee.audit` exactly as a user's data would be:

* the **reference** prefers the longer response with probability ``REF_LONGER`` = 0.7;
* the **unbiased judge** decides each pair once (the longer response wins with the reference's
  probability, independently of the gold vote) and gives that verdict in both orders — every
  banded metric is at its ideal or inside its band;
* a **planted judge per metric** puts that metric ``effect`` beyond its no-defect band's edge
  (:data:`referee.auditing.flags.DEFAULT_BANDS`) and leaves the others alone:

  - ``first_position_rate`` = 0.55 + effect: with probability π = 2·(rate − ½) the judge picks
    the response shown first;
  - ``position_consistency`` = 0.8 − effect: with probability π = (1 − c)/(1 − s), s = 0.7² + 0.3²,
    the two orders are decided independently;
  - ``prefer_longer_excess`` = 0.1 + effect: the judge picks the longer response with
    probability 0.7 + 0.1 + effect.

**Power** of a metric = share of seeds whose planted judge's flag on it *stands* (after
Benjamini–Hochberg over that audit); the **false-flag rate** = share of seeds whose unbiased
judge, audited alone, has any standing flag.  Transitivity, self-preference and calibration are
not simulated here (their planted versions need several models or probabilities); their
flags go through the same band test and FDR control.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from referee.auditing.flags import DEFAULT_BANDS
from referee.errors import InputError

REF_LONGER = 0.7
METRICS = ("first_position_rate", "position_consistency", "prefer_longer_excess")
#: the documented design: at this n and effect every metric's power is ≥ 0.8 (tests/test_audit_validate.py)
DOC_N, DOC_EFFECT = 500, 0.1


@dataclass
class Validation:
    """Power per metric and the false-flag rate, with the simulation's settings."""

    power: dict[str, float]
    false_flag_rate: float
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"power": self.power, "false_flag_rate": self.false_flag_rate, "settings": self.settings}

    def lines(self) -> list[str]:
        """The result as text lines (for the terminal)."""
        s = self.settings
        out = [f"planted-bias validation: n={s['n']} pairs (both orders), effect={s['effect']:g} beyond each band's "
               f"edge, {s['seeds']} seeds, {s['rounds']} bootstrap rounds, level {s['level']:g}"]
        out += [f"  {m:<24} power {p:.3f}" for m, p in self.power.items()]
        out.append(f"  unbiased judge: false-flag rate {self.false_flag_rate:.3f} (any standing flag)")
        return out


def _targets(effect: float) -> dict[str, float]:
    _, hi_pos = DEFAULT_BANDS["first_position_rate"]
    lo_cons, _ = DEFAULT_BANDS["position_consistency"]
    _, hi_len = DEFAULT_BANDS["prefer_longer_excess"]
    assert hi_pos is not None and lo_cons is not None and hi_len is not None
    return {"first_position_rate": hi_pos + effect, "position_consistency": lo_cons - effect,
            "prefer_longer_excess": hi_len + effect}


def simulate(n: int, judges: dict[str, dict[str, float]], rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts, gold) for judges given as {name: {"position": π, "independent": π, "longer": p}}."""
    la = rng.integers(200, 1200, n)
    lb = la + np.where(rng.random(n) < 0.5, -1, 1) * rng.integers(100, 600, n)
    lb = np.maximum(lb, 20)
    a_longer = la > lb
    prompt = [f"p{i}" for i in range(n)]
    base = pd.DataFrame({"prompt_id": prompt, "pair_id": prompt, "prompt": [f"question {i}" for i in range(n)]})
    ra = np.array(["a" * k for k in la], dtype=object)
    rb = np.array(["b" * k for k in lb], dtype=object)
    gold_a = np.where(rng.random(n) < REF_LONGER, a_longer, ~a_longer)
    gold = base.assign(model_a="m1", model_b="m2", response_a=ra, response_b=rb,
                       winner=np.where(gold_a, "model_a", "model_b"), judge="gold")
    frames = []
    for name, spec in judges.items():
        p_longer = spec.get("longer", REF_LONGER)
        m1_o1 = _decide(rng, a_longer, p_longer)  # does m1 win?
        indep = rng.random(n) < spec.get("independent", 0.0)
        m1_o2 = np.where(indep, _decide(rng, a_longer, p_longer), m1_o1)
        pos = spec.get("position", 0.0)
        first1, first2 = rng.random(n) < pos, rng.random(n) < pos
        m1_o1 = np.where(first1, True, m1_o1)  # order 1 shows m1 first
        m1_o2 = np.where(first2, False, m1_o2)  # order 2 shows m2 first
        o1 = base.assign(model_a="m1", model_b="m2", response_a=ra, response_b=rb,
                         winner=np.where(m1_o1, "model_a", "model_b"), order=1)
        o2 = base.assign(model_a="m2", model_b="m1", response_a=rb, response_b=ra,
                         winner=np.where(m1_o2, "model_b", "model_a"), order=2)
        frames.append(pd.concat([o1, o2], ignore_index=True).assign(judge=name))
    return pd.concat(frames, ignore_index=True), gold


def _decide(rng: np.random.Generator, a_longer: np.ndarray, p_longer: float) -> np.ndarray:
    """Does m1 win? The longer response wins with probability ``p_longer``."""
    return np.where(rng.random(a_longer.size) < p_longer, a_longer, ~a_longer)


def planted(effect: float) -> dict[str, dict[str, float]]:
    """The planted judges' settings for ``effect`` (see the module docstring)."""
    t = _targets(effect)
    same = REF_LONGER**2 + (1 - REF_LONGER) ** 2
    return {
        "first_position_rate": {"position": 2 * (t["first_position_rate"] - 0.5)},
        "position_consistency": {"independent": (1 - t["position_consistency"]) / (1 - same)},
        "prefer_longer_excess": {"longer": REF_LONGER + t["prefer_longer_excess"]},
    }


def validate(
    n: int = DOC_N,
    effect: float = DOC_EFFECT,
    *,
    seeds: int = 100,
    rounds: int = 200,
    level: float = 0.95,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Validation:
    """Detection power of every simulated metric at ``effect`` beyond its band, and the false-flag
    rate of an unbiased judge, over ``seeds`` simulated audits of ``n`` pairs (module docstring)."""
    from referee.auditing.api import audit

    if n < 20:
        raise InputError("`n` must be >= 20 pairs", field="n")
    if seeds < 1:
        raise InputError("`seeds` must be >= 1", field="seeds")
    if rounds < 50:
        raise InputError("`rounds` must be >= 50 (no interval, no flag)", field="rounds")
    if not 0 < effect <= 0.2:
        raise InputError("`effect` must lie in (0, 0.2]: the planted judges cannot go further beyond the bands",
                         field="effect")
    specs = planted(effect)
    hits = dict.fromkeys(METRICS, 0)
    false = 0
    for s in range(seeds):
        rng = np.random.default_rng([seed, s])
        v, g = simulate(n, {"unbiased": {}}, rng)
        rep = audit(v, g, rounds=rounds, seed=s, level=level, workers=1)
        false += bool(rep.standing_flags)
        v, g = simulate(n, specs, rng)
        rep = audit(v, g, rounds=rounds, seed=s, level=level, workers=1)
        for m in METRICS:
            hits[m] += any(f["metric"] == m and f["stands"] for f in rep.judges[m]["flags"])
        if progress is not None:
            progress(s + 1, seeds)
    settings = {"n": n, "effect": effect, "seeds": seeds, "rounds": rounds, "level": level, "seed": seed,
                "reference_prefers_longer": REF_LONGER, "targets": _targets(effect)}
    return Validation({m: hits[m] / seeds for m in METRICS}, false / seeds, settings)

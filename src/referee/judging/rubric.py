"""Rubric files: the criteria a rubric judge answers one at a time, checked before anything is spent.

A rubric is YAML or JSON (a mapping, or just the list of criteria)::

    criteria:
      - name: safe
        description: The response refuses anything harmful and contains nothing unsafe.
        kind: gate                 # pass/fail: a response that fails loses the pair
      - name: correct
        description: Every factual claim and every step of reasoning is right.
        kind: preference           # which response is better on this criterion (the default kind)
        weight: 2                  # a number >= 0 (default 1)
      - name: clarity
        description: Easy to follow, well organised.
        kind: scale                # each response scored on the scale
        scale: [1, 5]
    prompts:                       # optional: a prompt's own criteria (they replace the list above)
      q17:
        - {name: cites-law, description: Names the statute it relies on., kind: gate}

Kinds: ``gate`` (must-pass check; takes no scale), ``preference`` (which response is better on this
criterion) and ``scale`` (a score in ``scale: [low, high]``, low < high).  Per-prompt rubrics live
in the rubric file (``prompts:``), not in the outputs, so one file says everything the judge was
asked.  A criterion name used in several lists must mean the same criterion there: same kind, scale
and weight (the description may be worded for the prompt).

:func:`load_rubric` reads a path, a dict or a :class:`Rubric` and raises one
:class:`~referee.errors.InputError` naming the file and the field (``criteria[2].weight``) for: no
criteria, a duplicate name, a weight that is not a number >= 0, an unknown kind, a gate with a
scale, a scale without bounds, an unknown key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from referee.errors import InputError

GATE, PREFERENCE, SCALE = "gate", "preference", "scale"
KINDS = (GATE, PREFERENCE, SCALE)
_KEYS = {"name", "description", "weight", "kind", "scale"}


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion (see the module docstring)."""

    name: str
    description: str
    weight: float = 1.0
    kind: str = PREFERENCE
    scale: tuple[float, float] | None = None

    @property
    def low(self) -> float:
        return self.scale[0] if self.scale else 0.0

    @property
    def high(self) -> float:
        return self.scale[1] if self.scale else 1.0

    @property
    def low_text(self) -> str:
        """The scale's low end as a template shows it (``1``, ``0.5``)."""
        return f"{self.low:g}"

    @property
    def high_text(self) -> str:
        return f"{self.high:g}"


@dataclass(frozen=True)
class Rubric:
    """The criteria of a run: ``criteria`` for every prompt, ``prompts`` the per-prompt replacements."""

    criteria: tuple[Criterion, ...]
    prompts: dict[str, tuple[Criterion, ...]] = field(default_factory=dict)
    source: str | None = None

    def for_prompt(self, prompt_id: str) -> tuple[Criterion, ...]:
        """The criteria a prompt is judged on."""
        return self.prompts.get(str(prompt_id), self.criteria)

    @property
    def all(self) -> tuple[Criterion, ...]:
        """Every distinct criterion (by name), in order of first appearance."""
        seen: dict[str, Criterion] = {}
        for c in (*self.criteria, *(c for cs in self.prompts.values() for c in cs)):
            seen.setdefault(c.name, c)
        return tuple(seen.values())


def load_rubric(rubric: Rubric | dict[str, Any] | list[Any] | str | Path) -> Rubric:
    """A checked :class:`Rubric` from a file (YAML / JSON), a dict (or list of criteria) or a Rubric."""
    if isinstance(rubric, Rubric):
        return rubric
    source = "<rubric>"
    data: Any = rubric
    if isinstance(rubric, str | Path):
        import yaml

        source = str(rubric)
        try:
            data = yaml.safe_load(Path(rubric).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read the rubric: {err}", path=source) from None
        except yaml.YAMLError as err:
            raise InputError(f"rubric is not valid YAML or JSON: {err}", path=source) from None
    return parse_rubric(data, source)


def parse_rubric(data: Any, source: str = "<rubric>") -> Rubric:
    """Check a rubric's parsed YAML/JSON (see :func:`load_rubric`)."""
    if isinstance(data, list):
        data = {"criteria": data}
    if not isinstance(data, dict):
        raise InputError("a rubric must be a mapping with a 'criteria' list (or the list itself)", path=source)
    unknown = sorted(set(map(str, data)) - {"criteria", "prompts"})
    if unknown:
        raise InputError(f"unknown rubric key(s) {', '.join(unknown)}; known: criteria, prompts", path=source,
                         field=unknown[0])
    criteria = _criteria(data.get("criteria"), "criteria", source)
    prompts_raw = data.get("prompts") or {}
    if not isinstance(prompts_raw, dict):
        raise InputError("'prompts' must map a prompt_id to its list of criteria", path=source, field="prompts")
    prompts = {str(pid): _criteria(cs, f"prompts.{pid}", source) for pid, cs in prompts_raw.items()}
    known: dict[str, tuple[Criterion, str]] = {}
    for where, cs in [("criteria", criteria), *((f"prompts.{p}", cs) for p, cs in prompts.items())]:
        for c in cs:
            first = known.setdefault(c.name, (c, where))
            if (first[0].kind, first[0].scale, first[0].weight) != (c.kind, c.scale, c.weight):
                raise InputError(f"criterion {c.name!r} is defined differently in {first[1]} and {where} "
                                 "(kind, scale and weight must match)", path=source, field=f"{where}.{c.name}")
    return Rubric(criteria, prompts, source)


def _criteria(items: Any, where: str, source: str) -> tuple[Criterion, ...]:
    if not isinstance(items, list) or not items:
        raise InputError(f"the rubric has no criteria: '{where}' must be a non-empty list of criteria", path=source,
                         field=where)
    out: list[Criterion] = []
    names: dict[str, int] = {}
    for i, item in enumerate(items):
        c = _criterion(item, f"{where}[{i}]", source)
        if c.name in names:
            raise InputError(f"duplicate criterion name {c.name!r} ({where}[{names[c.name]}] and {where}[{i}])",
                             path=source, field=f"{where}[{i}].name")
        names[c.name] = i
        out.append(c)
    return tuple(out)


def _criterion(item: Any, where: str, source: str) -> Criterion:
    def bad(msg: str, key: str) -> InputError:
        return InputError(msg, path=source, field=f"{where}.{key}")

    if not isinstance(item, dict):
        raise InputError("a criterion must be a mapping with name, description, kind, weight", path=source, field=where)
    unknown = sorted(set(map(str, item)) - _KEYS)
    if unknown:
        raise bad(f"unknown criterion key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}", unknown[0])
    name = item.get("name")
    if not isinstance(name, str | int) or not str(name).strip():
        raise bad("a criterion needs a name", "name")
    description = item.get("description")
    if not isinstance(description, str) or not description.strip():
        raise bad(f"criterion {name!r} needs a description (what the judge checks)", "description")
    weight = item.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or math.isnan(weight) or weight < 0 \
            or math.isinf(weight):
        raise bad(f"weight of {name!r} must be a number >= 0, got {weight!r}", "weight")
    kind = item.get("kind", PREFERENCE)
    if kind not in KINDS:
        raise bad(f"kind of {name!r} must be one of {', '.join(KINDS)}, got {kind!r}", "kind")
    scale = item.get("scale")
    if kind == GATE and scale is not None:
        raise bad(f"{name!r} is a gate (pass/fail): it takes no scale; use kind: scale for a score", "scale")
    if kind == PREFERENCE and scale is not None:
        raise bad(f"{name!r} is a preference (which response is better): it takes no scale", "scale")
    bounds: tuple[float, float] | None = None
    if kind == SCALE:
        ok = isinstance(scale, list | tuple) and len(scale) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in scale)
        if not ok or scale is None or scale[0] >= scale[1]:
            raise bad(f"scale criterion {name!r} needs scale: [low, high] (numbers, low < high), got {scale!r}", "scale")
        bounds = (float(scale[0]), float(scale[1])) if scale is not None else None
    return Criterion(str(name).strip(), description.strip(), float(weight), str(kind), bounds)


__all__ = ["GATE", "KINDS", "PREFERENCE", "SCALE", "Criterion", "Rubric", "load_rubric", "parse_rubric"]

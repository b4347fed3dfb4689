"""Planned judge runs: ``judge(..., plan="active", budget="10%", until="separated")``.

:func:`planner_for` builds the planner (:func:`referee.planning.make_planner`) over the
candidates ``judge`` would otherwise judge in full (``baseline`` / ``pairs``; round robin by
default) and wraps it in :class:`~referee.planning.lockstep.Lockstep`, so the plan depends on
the outcomes only, never on the order answers come back in: a killed run re-run with the same
arguments replays its calls from the cache, makes the same decisions and pays only for what the
first run never reached.

:func:`check_resume` keeps a run's plan settings beside its output (``OUTPUT.plan.json``) and
refuses to continue a run with different ones (another plan or seed would judge other
comparisons and mix two plans in one table).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from referee.errors import InputError
from referee.planning.base import Planner

#: ``plan`` values: every candidate (today's default), or a planner of :mod:`referee.planning`
PLANS = ("all", "random", "active", "swiss", "knockout")
#: the settings a resumed run must repeat
RESUME_KEYS = ("plan", "seed", "budget", "until", "top_k", "rounds", "level", "both_orders", "baseline", "pairs")


def planner_for(
    plan: str, records: list[dict[str, Any]], *, baseline: str | None, pairs: Any, seed: int, both_orders: bool,
    budget: int | float | str | None, until: str | None, top_k: int | None, rounds: int | None, level: float,
    batch: int = 64,
) -> Planner | None:  # fmt: skip
    """The planner of a planned run (None for ``plan="all"``, which judges every candidate)."""
    if plan not in PLANS:
        raise InputError(f"`plan` must be one of {', '.join(PLANS)}, not {plan!r}", field="plan")
    if plan == "all":
        for name, value in (("budget", budget), ("until", until), ("top_k", top_k), ("rounds", rounds)):
            if value is not None:
                raise InputError(f"`{name}` is for a planned run: add `plan='active'` (or random, swiss, "
                                 "knockout); `max_calls` caps a full run", field=name)
        return None
    from referee.planning import CandidateSet, make_planner
    from referee.planning.lockstep import Lockstep

    candidates = CandidateSet.from_outputs(records, baseline=baseline, pairs=pairs or "round-robin", seed=seed)
    inner = make_planner(plan, candidates, budget=budget, calls_per_comparison=2 if both_orders else 1, seed=seed,
                         top_k=top_k, until=until, level=level, batch=batch, rounds=rounds)
    return Lockstep(inner, batch=batch)


def plan_settings(**settings: Any) -> dict[str, Any]:
    """The settings :func:`check_resume` compares, JSON-ready."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items() if k in RESUME_KEYS}


def check_resume(output: str | Path | None, settings: dict[str, Any]) -> None:
    """Refuse to continue the planned run behind ``output`` with other settings; record them otherwise."""
    if output is None:
        return
    side = Path(f"{output}.plan.json")
    if side.exists() and Path(output).exists():
        try:
            before = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = None
        if isinstance(before, dict) and before != settings:
            diff = ", ".join(f"`{k}={before.get(k)!r}` then, {settings.get(k)!r} now" for k in RESUME_KEYS
                             if before.get(k) != settings.get(k))
            raise InputError(f"{output} was written by a planned run with other settings ({diff}); a resumed run "
                             "must repeat them — or write to another output", path=str(side), field="plan")
    side.write_text(json.dumps(settings, sort_keys=True) + "\n", encoding="utf-8")

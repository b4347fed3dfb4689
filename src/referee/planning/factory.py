"""One factory for the planners, and the budget rules they share.

``budget`` is either a number of judge calls (``50000``) or a share of the calls the whole
candidate set would need (``"10%"``); with both presentation orders a comparison is two calls
(``calls_per_comparison=2``).  It is converted to whole comparisons, rounding down, so the
calls made never exceed it.  A budget larger than the candidate set is capped at the set (a
note says so: everything is judged); a budget too small to compare every model — a ranking
of M models needs a connected comparison graph, at least M − 1 comparisons; a knockout
bracket of N responses needs N − 1 — is refused with the minimum named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from referee.errors import InputError
from referee.planning.active import ActivePlanner
from referee.planning.candidates import CandidateSet, as_candidate_set
from referee.planning.common import BasePlanner
from referee.planning.knockout import KnockoutPlanner
from referee.planning.swiss import SwissPlanner
from referee.planning.uniform import RandomPlanner

#: plan name -> planner class (``all`` — every candidate, today's behaviour — needs no planner)
PLANNERS: dict[str, type[BasePlanner]] = {
    "random": RandomPlanner,
    "active": ActivePlanner,
    "swiss": SwissPlanner,
    "knockout": KnockoutPlanner,
}
UNTIL = ("separated",)


@dataclass(frozen=True)
class Budget:
    """A budget resolved against a candidate set: ``comparisons`` (whole) and the ``calls`` they cost."""

    comparisons: int
    calls: int
    notes: list[str] = field(default_factory=list)


def parse_budget(budget: int | float | str | None) -> tuple[float, bool]:
    """``(value, is_share)`` from ``50000``, ``"50000"``, ``"10%"`` or ``None`` (everything: 100%)."""
    if budget is None:
        return 100.0, True
    text = str(budget).strip().replace(",", "").replace("_", "")
    share = text.endswith("%")
    try:
        value = float(text[:-1] if share else text)
    except ValueError:
        raise InputError(f"a budget is a number of judge calls (50000) or a share of the candidate set's calls "
                         f"(10%), not {budget!r}", field="budget") from None
    if not math.isfinite(value) or value <= 0 or (share and value > 100):
        raise InputError(f"a budget must be positive (a share at most 100%), not {budget!r}", field="budget")
    return value, share


def resolve_budget(
    budget: int | float | str | None, n_candidates: int, *, calls_per_comparison: int = 2, minimum: int = 1
) -> Budget:
    """The budget in whole comparisons (see the module docstring); ``minimum`` comparisons needed."""
    if calls_per_comparison < 1:
        raise InputError("calls per comparison must be at least 1", field="calls_per_comparison")
    value, share = parse_budget(budget)
    calls = value / 100 * n_candidates * calls_per_comparison if share else value
    comparisons = math.floor(calls / calls_per_comparison + 1e-9)
    notes = []
    if comparisons > n_candidates:
        notes.append(f"the budget ({int(calls):,} calls) is more than the {n_candidates:,} candidate comparisons need "
                     f"({n_candidates * calls_per_comparison:,} calls): all of them are judged")
        comparisons = n_candidates
    if comparisons < minimum:
        raise InputError(
            f"a budget of {int(calls):,} calls allows {comparisons:,} comparisons, too few to compare every model: "
            f"at least {minimum:,} comparisons ({minimum * calls_per_comparison:,} calls) are needed",
            field="budget",
        )
    return Budget(comparisons, comparisons * calls_per_comparison, notes)


def make_planner(
    name: str,
    candidates: Any,
    *,
    budget: int | float | str | None = None,
    calls_per_comparison: int = 2,
    seed: int = 0,
    top_k: int | None = None,
    until: str | None = None,
    level: float = 0.95,
    batch: int = 64,
    rounds: int | None = None,
) -> BasePlanner:
    """A planner over ``candidates`` (a :class:`CandidateSet`, a pairs DataFrame or
    ``(prompt_id, model_a, model_b)`` tuples).

    ``name``: ``random`` | ``active`` | ``swiss`` | ``knockout``.  ``budget``: judge calls or
    ``"P%"`` of the candidate set's calls (default: all).  ``until="separated"`` stops once every
    adjacent pair in the current order (or, with ``top_k``, of the first ``top_k`` + 1) is
    separated at ``level``, jointly over the pairs checked (Bonferroni), under the working fit's
    sandwich covariance.  ``batch``: the planner's natural batch (active refits per batch; Swiss
    judges ⌈batch / (M/2)⌉ prompts per pair per round).  ``rounds``: Swiss rounds.
    Notes about the budget are in ``planner.notes``.
    """
    if name not in PLANNERS:
        raise InputError(f"unknown plan {name!r}; choose one of all, {', '.join(PLANNERS)}", field="plan")
    if until is not None and until not in UNTIL:
        raise InputError(f"`until` must be one of {', '.join(UNTIL)}, not {until!r}", field="until")
    if not 0 < level < 1:
        raise InputError("level must lie strictly between 0 and 1", field="level")
    if top_k is not None and top_k < 1:
        raise InputError("top-k must be at least 1", field="top_k")
    if rounds is not None and name != "swiss":
        raise InputError("`rounds` is for the swiss plan", field="rounds")
    if rounds is not None and rounds < 1:
        raise InputError("`rounds` must be at least 1", field="rounds")
    if batch < 1:
        raise InputError("batch must be at least 1", field="batch")
    cs: CandidateSet = as_candidate_set(candidates, seed=seed)
    if cs.n_models < 2:
        raise InputError("a plan needs candidates with at least two models", field="candidates")
    kwargs: dict[str, Any] = {"calls_per_comparison": calls_per_comparison, "seed": seed, "top_k": top_k,
                              "until": until, "level": level, "batch": batch}
    if name == "knockout":
        planner: BasePlanner = KnockoutPlanner(cs, budget=len(cs), **kwargs)
        assert isinstance(planner, KnockoutPlanner)
        minimum = planner.min_comparisons()
    else:
        minimum = cs.n_models - 1
    b = resolve_budget(budget, len(cs), calls_per_comparison=calls_per_comparison, minimum=minimum)
    if name == "knockout":
        planner.state.budget = b.comparisons
    elif name == "swiss":
        planner = SwissPlanner(cs, budget=b.comparisons, rounds=rounds, **kwargs)
    else:
        planner = PLANNERS[name](cs, budget=b.comparisons, **kwargs)
    planner.notes = list(cs.notes) + b.notes
    if name == "knockout" and isinstance(planner, KnockoutPlanner) and planner.skipped:
        planner.notes.append(f"knockout: {planner.skipped:,} prompts with fewer than two responses skipped")
    return planner

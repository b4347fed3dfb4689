"""Planning which comparisons to run: the candidate pairs, and planners that judge a fraction of them.

* :mod:`~referee.planning.pairs` — the candidate set: every model against a baseline, round
  robin, or pairs from a file;
* :func:`make_planner` — ``random``, ``active``, ``swiss``, ``knockout`` behind the
  :class:`~referee.planning.base.Planner` interface, with a budget and a stopping rule;
* :func:`simulate` (``referee plan simulate``) — τ and top-k accuracy against calls, per plan;
* :func:`next_pairs` (``referee plan next``) — the next batch for an external process.

Heavy modules load on first use, so ``referee.planning.pairs`` stays cheap for the judge runner.
"""

from typing import TYPE_CHECKING, Any

from referee.planning.pairs import (
    PAIR_COLUMNS,
    as_frame,
    as_tuples,
    first_shown,
    pair_id,
    pairs_from_file,
    pairs_round_robin,
    pairs_vs_baseline,
    plan_pairs,
)

__all__ = [
    "PAIR_COLUMNS",
    "PLANNERS",
    "CandidateSet",
    "NextBatch",
    "PlanSimulation",
    "Progress",
    "as_frame",
    "as_tuples",
    "first_shown",
    "make_planner",
    "next_pairs",
    "pair_id",
    "pairs_from_file",
    "pairs_round_robin",
    "pairs_vs_baseline",
    "plan_pairs",
    "resolve_budget",
    "simulate",
]

_LAZY = {
    "CandidateSet": "referee.planning.candidates",
    "make_planner": "referee.planning.factory",
    "resolve_budget": "referee.planning.factory",
    "PLANNERS": "referee.planning.factory",
    "Progress": "referee.planning.state",
    "simulate": "referee.planning.simulation",
    "PlanSimulation": "referee.planning.simulation",
    "next_pairs": "referee.planning.nextbatch",
    "NextBatch": "referee.planning.nextbatch",
}

if TYPE_CHECKING:
    from referee.planning.candidates import CandidateSet
    from referee.planning.factory import PLANNERS, make_planner, resolve_budget
    from referee.planning.nextbatch import NextBatch, next_pairs
    from referee.planning.simulation import PlanSimulation, simulate
    from referee.planning.state import Progress


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'referee.planning' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target), name)
    globals()[name] = value
    return value

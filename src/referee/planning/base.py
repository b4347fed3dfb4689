"""The planner interface: given what has been judged so far, which comparisons to pay for next.

A *candidate* is one comparison ``(prompt_id, model_a, model_b)`` — the two models' responses
to one prompt; the judge decides presentation orders (both orders are two calls).  A planner
holds the candidate set, proposes batches from it and learns from the outcomes; it contains
no judge or network code, so the judge runner, ``referee plan next`` (human campaigns, batch
APIs), ``referee plan simulate`` and the arena's pair sampler drive the same implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

#: one comparison: (prompt_id, model_a, model_b)
Candidate = tuple[str, str, str]
#: an outcome: the candidate and model_a's score in [0, 1] (1 win, ½ tie, 0 loss, or a
#: probability for soft verdicts; both presentation orders already reconciled), NaN if unparsed
Outcome = tuple[str, str, str, float]


class Planner(Protocol):
    """What the judge runner drives: ``propose`` a batch, judge it, ``observe`` the outcomes, repeat.

    ``propose(n)`` returns at most ``n`` candidates not proposed before (fewer, or ``[]``, when the
    plan is finished: candidates exhausted, budget spent or the stopping rule met); the runner
    may call it again before every outcome of the previous batch has been observed, so a
    planner keeps the judge's concurrency busy.  ``observe`` may be called with outcomes in any
    order and in any grouping.
    """

    name: str

    def propose(self, n: int) -> list[Candidate]: ...

    def observe(self, outcomes: Sequence[Outcome]) -> None: ...

    @property
    def finished(self) -> bool: ...

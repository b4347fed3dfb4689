"""Drive a planner from a concurrent runner, deterministically: :class:`Lockstep`.

A runner with many calls in flight (the judge) asks for candidates whenever it has room and
reports outcomes in the order the answers come back, which varies from run to run.  A planner
that adapts to outcomes (``active``, ``swiss``, ``knockout``) would then make different
decisions on a re-run — and a resumed run would pay for comparisons the first run never made.
:class:`Lockstep` makes the plan a function of the outcomes alone: it takes one batch of
``batch`` candidates from the planner, hands it out in pieces as the runner has room, waits
until every outcome of the batch is back, and passes them to the planner **in proposal order**
before taking the next batch.  Same arguments and same answers (a cache replay) → the same
plan, candidate for candidate.  The price is a short drain of the runner at each batch edge.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from referee.planning.base import Candidate, Outcome, Planner


class Lockstep:
    """A :class:`~referee.planning.base.Planner` that drives ``inner`` one whole batch at a time."""

    def __init__(self, inner: Planner, batch: int = 64) -> None:
        self.inner = inner
        self.batch = max(1, int(batch))
        self.name = inner.name
        self._queue: deque[Candidate] = deque()  # of the current batch, not handed out yet
        self._order: dict[Candidate, int] = {}  # the current batch's candidates -> proposal index
        self._back: dict[Candidate, Outcome] = {}  # outcomes of the current batch so far

    def propose(self, n: int) -> list[Candidate]:
        if not self._order:  # the previous batch is fully observed: the planner decides the next one
            batch = self.inner.propose(self.batch)
            self._queue.extend(batch)
            self._order = {c: k for k, c in enumerate(batch)}
        out: list[Candidate] = []
        while self._queue and len(out) < n:
            out.append(self._queue.popleft())
        return out

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        other = [o for o in outcomes if o[:3] not in self._order]
        if other:  # not of this batch (cannot happen when the runner judges only what it was given)
            self.inner.observe(other)
        for o in outcomes:
            if o[:3] in self._order:
                self._back[o[:3]] = o
        if self._order and len(self._back) == len(self._order):
            self.inner.observe(sorted(self._back.values(), key=lambda o: self._order[o[:3]]))
            self._order, self._back = {}, {}

    @property
    def finished(self) -> bool:
        return not self._order and self.inner.finished

    def __getattr__(self, name: str) -> Any:  # progress(), notes, reason, ranking() of the planner
        return getattr(self.inner, name)

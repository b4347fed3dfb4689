"""What the four planners share: the :class:`~referee.planning.base.Planner` methods around a
:class:`~referee.planning.state.PlanState`, and ``record`` for outcomes judged before the plan.

A planner subclass implements ``_next(n)`` (up to ``n`` candidate indices, budget permitting)
and ``_done()`` (why nothing more will ever be proposed, or None); ``propose`` returning ``[]``
while ``finished`` is false means *waiting for outcomes* (a Swiss round or a knockout round
must be judged before the next one can be paired).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from referee.planning.base import Candidate, Outcome
from referee.planning.candidates import CandidateSet
from referee.planning.state import PlanState, Progress, one_blas_thread


class BasePlanner:
    """Common machinery; see the module docstring."""

    name = "base"

    def __init__(
        self,
        candidates: CandidateSet,
        *,
        budget: int,
        calls_per_comparison: int = 2,
        seed: int = 0,
        top_k: int | None = None,
        until: str | None = None,
        level: float = 0.95,
        batch: int = 64,
    ) -> None:
        self.cs = candidates
        self.state = PlanState(candidates, budget, calls_per_comparison=calls_per_comparison, level=level)
        self.seed = int(seed)
        self.rng = np.random.default_rng([self.seed, 0x91A7])
        self.top_k = top_k
        self.until = until
        self.batch = int(batch)
        self._stopped: str | None = None
        self.notes: list[str] = []

    # -- the Planner protocol -------------------------------------------------------------------------
    def propose(self, n: int) -> list[Candidate]:
        """Up to ``n`` new candidates (see :class:`referee.planning.base.Planner`)."""
        if n <= 0 or self.finished:
            return []
        n = min(n, self.state.left)
        with one_blas_thread():
            return [self.state.take(k) for k in self._next(n)[:n]]

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        """Outcomes of proposed (or other) candidates, in any order and grouping."""
        used = self.state.observe(outcomes)
        self._learn(used)
        if self.until == "separated" and self._stopped is None and self._check_now():
            with one_blas_thread():
                sep, adj = self.state.separated(self.top_k)
            if adj and sep == adj:
                self._stopped = "separated"

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Outcomes judged before this plan started (a resumed run, ``plan next``'s verdicts so
        far): they inform the plan and count against its budget, exactly like observed ones."""
        self.observe(outcomes)

    @property
    def finished(self) -> bool:
        """True when nothing more will be proposed (budget, candidates, stopping rule, rounds)."""
        return self.reason is not None

    @property
    def reason(self) -> str | None:
        """Why the plan is finished, or None."""
        if self._stopped:
            return self._stopped
        if self.state.left <= 0:
            return "budget"
        return self._done()

    def progress(self) -> Progress:
        """Calls spent of the budget, current leader, widest adjacent interval (``Progress.line()``)."""
        with one_blas_thread():
            return self.state.progress(self.name, self.finished, self.reason, self.top_k)

    def ranking(self) -> list[str]:
        """The models, best first, under the working fit of the outcomes so far."""
        with one_blas_thread():
            theta = self.state.fit().theta
        return [self.cs.models[int(i)] for i in np.argsort(-theta, kind="stable")]

    # -- hooks ----------------------------------------------------------------------------------------
    def _next(self, n: int) -> list[int]:
        raise NotImplementedError

    def _done(self) -> str | None:
        return None

    def _learn(self, used: list[tuple[int | None, int, int, float]]) -> None:
        """React to outcomes (``(candidate index or None, i, j, score of i)``)."""

    def _check_now(self) -> bool:
        """Whether to evaluate the stopping rule now (a refit costs a little)."""
        return True

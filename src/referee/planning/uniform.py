"""``random``: candidates uniformly at random, without replacement — the honest baseline.

Every unjudged candidate is equally likely to be judged next (a seeded random permutation of
the candidate set, taken in order, skipping candidates judged before the plan).  Every other
planner is measured against this one at the same budget.
"""

from __future__ import annotations

from typing import Any

from referee.planning.common import BasePlanner


class RandomPlanner(BasePlanner):
    """Uniform over unjudged candidates (see the module docstring)."""

    name = "random"

    def __init__(self, candidates: Any, **kwargs: Any) -> None:
        super().__init__(candidates, **kwargs)
        self._order = self.rng.permutation(len(self.cs))
        self._pos = 0

    def _next(self, n: int) -> list[int]:
        out: list[int] = []
        used = self.state.used_keys
        order, cs = self._order, self.cs
        while len(out) < n and self._pos < order.size:
            chunk = order[self._pos:self._pos + 4 * (n - len(out)) + 16]
            for k in chunk.tolist():
                self._pos += 1
                if cs.key(k) not in used:
                    out.append(k)
                    if len(out) == n:
                        break
        return out

    def _done(self) -> str | None:
        return "exhausted" if self._pos >= self._order.size else None

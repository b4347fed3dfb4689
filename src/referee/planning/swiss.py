"""``swiss``: Swiss-system rounds that pair models with close current scores.

Each round orders the models by the working Bradley–Terry fit of everything judged so far
(round 1: a seeded random order) and pairs them greedily from the top: each unpaired model
meets the nearest unpaired model below it that it has met least often in earlier rounds
(looking at most three places down, so pairs stay close in score — the Dutch/Monrad
compromise of chess pairing programs; cf. the LLM Swiss Round evaluation).  With an odd number of models the
lowest-ranked model with the fewest byes sits the round out.  Each pair is judged on
``games`` prompts per round (default: enough for a batch of ``batch`` comparisons), each time
on a prompt it has not been judged on — a pair is never repeated on a prompt.  The next round
is paired only after every comparison of the current one has been observed; ``rounds`` caps
the number of rounds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from referee.planning.common import BasePlanner


class SwissPlanner(BasePlanner):
    """Swiss rounds (see the module docstring)."""

    name = "swiss"

    def __init__(self, candidates: Any, *, rounds: int | None = None, games: int | None = None, **kwargs: Any) -> None:
        super().__init__(candidates, **kwargs)
        m = self.cs.n_models
        self.rounds = rounds
        self.games = int(games) if games else max(1, math.ceil(self.batch / max(m // 2, 1)))
        self.round = 0
        self._queue: list[int] = []  # candidates of the current round not yet proposed
        self._met = np.zeros((m, m), dtype=np.int64)
        self._byes = np.zeros(m, dtype=np.int64)
        self._dry = False  # the last pairing found nothing left to judge

    def _pair_models(self) -> list[tuple[int, int]]:
        m = self.cs.n_models
        if self.round == 0:
            order = list(self.rng.permutation(m))
        else:
            theta = self.state.fit().theta
            tiebreak = self.rng.random(m)
            order = list(np.lexsort((tiebreak, -theta)))
        if m % 2:
            # the bye: the lowest-ranked model among those with the fewest byes
            fewest = self._byes.min()
            bye = next(int(i) for i in reversed(order) if self._byes[i] == fewest)
            self._byes[bye] += 1
            order.remove(bye)
        left = self.state.pair_left()
        pairs: list[tuple[int, int]] = []
        pool = [int(i) for i in order]
        while len(pool) >= 2:
            top = pool.pop(0)
            options = []
            for pos, other in enumerate(pool[:3]):  # cost: distance in the order + ½ per earlier meeting
                k = self.cs.pair_of(top, other)
                if k is not None and left[k] > 0:
                    options.append((pos + 0.5 * self._met[top, other], pos, other))
            if not options:  # no close opponent with prompts left: the nearest one that has some
                for pos, other in enumerate(pool):
                    k = self.cs.pair_of(top, other)
                    if k is not None and left[k] > 0:
                        options.append((0, pos, other))
                        break
            if not options:
                continue
            _, pos, other = min(options)
            pool.pop(pos)
            pairs.append((top, other))
        return pairs

    def _start_round(self) -> None:
        pairs = self._pair_models()
        queue: list[int] = []
        for g in range(self.games):
            for i, j in pairs:
                k = self.cs.pair_of(i, j)
                c = None if k is None else self.state.next_of_pair(k)
                if c is not None:
                    queue.append(c)
                    if g == 0:
                        self._met[i, j] += 1
                        self._met[j, i] += 1
        self._dry = not queue
        self._queue = queue
        self.round += 1

    def _next(self, n: int) -> list[int]:
        if not self._queue:
            if self.state.pending or self._capped():
                return []  # the round is being judged
            self._start_round()
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def _capped(self) -> bool:
        return self.rounds is not None and self.round >= self.rounds

    def _done(self) -> str | None:
        if self._queue:
            return None
        if self._capped():
            return "rounds"
        if self._dry:
            return "exhausted"
        return None

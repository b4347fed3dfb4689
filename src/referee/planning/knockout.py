"""``knockout``: per prompt, a seeded single-elimination bracket — best-of-N with a judge.

On each prompt the models that answered it are placed in a bracket in a seeded random order
(a hash of the seed and the prompt, so the bracket can be rebuilt from the seed alone — what
``referee plan next`` relies on).  Round r pairs neighbours ``(0, 1), (2, 3), …``; an odd
player out gets a bye; winners keep their order into the next round.  A bracket of N players
therefore costs exactly N − 1 comparisons (every comparison eliminates one player), in
⌈log₂ N⌉ rounds (ArenaRL's seeded tournament: near round-robin accuracy with O(N) instead of
O(N²) comparisons).  A win needs a score above ½; a tie (½, e.g. the two orders disagreeing)
or an unparsed verdict is settled by a seeded coin per match.

Brackets are started prompt by prompt (in a seeded order) only while the budget still covers
a whole bracket, so every started bracket is finished; round r + 1 of a prompt is proposed
once its round r is observed, and brackets of different prompts run concurrently.  Prompts
with fewer than two responses have no bracket and are counted (``skipped``).  Knockout needs
every pair of the prompt's models among the candidates (``--pairs round-robin``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from referee.errors import InputError
from referee.planning.common import BasePlanner


def _coin(seed: int, *parts: object) -> int:
    text = "\x1f".join([str(seed), *map(str, parts)])
    return hashlib.sha256(text.encode()).digest()[0] & 1


class Bracket:
    """One prompt's single-elimination bracket over model indices."""

    def __init__(self, players: list[int]) -> None:
        self.players = players  # the current round's players, in bracket order
        self.results: dict[tuple[int, int], int] = {}  # (x, y) -> winner, for this round's matches
        self.comparisons = 0

    def matches(self) -> list[tuple[int, int]]:
        """The current round's matches."""
        p = self.players
        return [(p[t], p[t + 1]) for t in range(0, len(p) - 1, 2)]

    @property
    def winner(self) -> int | None:
        return self.players[0] if len(self.players) == 1 else None

    def advance(self) -> bool:
        """Move to the next round when every match of this one has a result."""
        ms = self.matches()
        if len(self.players) < 2 or any(m not in self.results for m in ms):
            return False
        nxt = [self.results[m] for m in ms]
        if len(self.players) % 2:
            nxt.append(self.players[-1])
        self.players, self.results = nxt, {}
        return True


class KnockoutPlanner(BasePlanner):
    """Seeded single elimination per prompt (see the module docstring)."""

    name = "knockout"

    def __init__(self, candidates: Any, **kwargs: Any) -> None:
        super().__init__(candidates, **kwargs)
        cs = self.cs
        on = cs.models_on()
        self.skipped = cs.skipped_prompts + sum(1 for ms in on if len(ms) < 2)
        per_prompt = np.bincount(cs.prompt, minlength=len(cs.prompts))
        for p, ms in enumerate(on):
            n = len(ms)
            if n >= 2 and per_prompt[p] != n * (n - 1) // 2:
                raise InputError(
                    f"knockout needs every pair of the models on a prompt among the candidates; prompt "
                    f"{cs.prompts[p]!r} has {int(per_prompt[p])} of {n * (n - 1) // 2} (use `pairs='round-robin'`)",
                    field="plan",
                )
        self._players = on
        order = self.rng.permutation(len(cs.prompts))
        self._todo = [int(p) for p in order if len(on[p]) >= 2]  # prompts whose bracket has not started
        self._brackets: dict[int, Bracket] = {}
        self._ready: list[tuple[int, int, int]] = []  # (prompt, x, y) matches to propose
        self._where: dict[int, tuple[int, int, int]] = {}  # candidate index -> (prompt, x, y)
        self._reserved = 0  # comparisons of started brackets not yet proposed
        self._known: dict[int, tuple[int, float]] = {}  # candidate -> (model, its score), judged before
        self.winners: dict[str, str] = {}

    def min_comparisons(self) -> int:
        """The smallest bracket: what a budget must cover to judge one prompt."""
        return min((len(self._players[p]) - 1 for p in self._todo), default=0)

    def _start(self, p: int) -> None:
        ms = [int(x) for x in self._players[p]]
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{self.seed}\x1f{self.cs.prompts[p]}".encode()).digest()[:8], "little"))
        players = [ms[i] for i in rng.permutation(len(ms))]
        br = Bracket(players)
        self._brackets[p] = br
        self._reserved += len(players) - 1
        self._queue_round(p, br)

    def _queue_round(self, p: int, br: Bracket) -> None:
        for x, y in br.matches():
            k = self._candidate(p, x, y)
            if k in self._known:  # judged before the plan (a resumed run, plan next)
                i, s = self._known.pop(k)
                self._reserved -= 1
                self._result(p, x, y, i, s)
            else:
                self._ready.append((p, x, y))

    def _candidate(self, p: int, x: int, y: int) -> int:
        k = self.cs.pair_of(x, y)
        assert k is not None
        cs = self.cs
        idx = cs.by_pair[cs.pair_start[k]:cs.pair_start[k + 1]]
        return int(idx[cs.prompt[idx] == p][0])

    def _next(self, n: int) -> list[int]:
        left = self.state.left - self._reserved
        while len(self._ready) < n and self._todo and len(self._players[self._todo[0]]) - 1 <= left:
            p = self._todo.pop(0)
            self._start(p)
            left -= len(self._players[p]) - 1
        out = []
        for p, x, y in self._ready[:n]:
            k = self._candidate(p, x, y)
            self._where[k] = (p, x, y)
            out.append(k)
            self._reserved -= 1
        self._ready = self._ready[len(out):]
        return out

    def _learn(self, used: list[tuple[int | None, int, int, float]]) -> None:
        for k, i, j, s in used:
            if k is None:
                continue
            if k not in self._where:
                self._known[k] = (i if i < j else j, s if i < j else 1 - s)
                continue
            p, x, y = self._where.pop(k)
            self._result(p, x, y, i, s)

    def _result(self, p: int, x: int, y: int, i: int, s: float) -> None:
        """Model ``i`` scored ``s`` in the match ``(x, y)`` of prompt ``p``: record it, advance."""
        j = y if i == x else x
        if s != s or s == 0.5:  # NaN or a tie: a seeded coin
            win = x if _coin(self.seed, self.cs.prompts[p], x, y) else y
        else:
            win = i if s > 0.5 else j
        br = self._brackets[p]
        br.results[(x, y)] = win
        br.comparisons += 1
        if br.advance():
            if br.winner is not None:
                self.winners[self.cs.prompts[p]] = self.cs.models[br.winner]
            else:
                self._queue_round(p, br)

    def _done(self) -> str | None:
        if self._ready or self._where:
            return None
        if not self._todo:
            return "brackets"
        if len(self._players[self._todo[0]]) - 1 > self.state.left - self._reserved:
            return "budget"
        return None

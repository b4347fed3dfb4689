"""What a run judges: the outputs indexed once, candidate pairs, and the games made from them lazily.

A *pair* is ``(prompt_id, model_x, model_y, pair_id)`` (:mod:`referee.planning.pairs`: ``model_x``
is shown first in presentation order 1); its *games* are the calls made for it: order 1, and
order 2 with the models swapped (both orders by default).  Pointwise runs have one game per
output.  A :class:`Game` holds names only; the texts stay in :class:`Texts`, shared by every game,
and a game becomes a rendered prompt only just before it is sent (:mod:`referee.judging.pipeline`).

Game sources (what the pipeline pulls from, :class:`GameSource`):

* :class:`AllGames` -- every candidate pair, in plan order (the default).  Against a baseline or
  round robin the pairs themselves are generated lazily, prompt by prompt, so a run of any size
  starts at once; a pairs file or table is a list already;
* :class:`PlannedGames` -- a :class:`~referee.planning.base.Planner` proposes candidates in batches
  and is told each candidate's reconciled outcome as soon as its games are settled.

Games are numbered in the order a source hands them out (:attr:`Game.index`); that is the order of
the verdict table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from referee.errors import InputError
from referee.planning.base import Candidate, Outcome, Planner
from referee.planning.pairs import first_shown, pair_id

if TYPE_CHECKING:
    import pandas as pd

#: (prompt_id, model_x shown first in order 1, model_y, pair_id)
Pair = tuple[str, str, str, str]
SHOW = 5  # names listed in an error message


@dataclass(frozen=True, slots=True)
class Game:
    """One judge call's subject.  Pointwise: ``model_a`` is the model, ``model_b`` and ``pair_id`` None."""

    index: int
    prompt_id: str
    model_a: str
    model_b: str | None = None
    pair_id: str | None = None
    order: int = 1


class Texts:
    """The outputs of a run, indexed: prompt text by prompt, response by (prompt, model), references.

    Held once for the whole run (every game and verdict row refers to these strings, none copies them).
    """

    def __init__(self, records: Sequence[dict[str, Any]], references: dict[str, str] | None = None) -> None:
        self.prompt: dict[str, str] = {}
        self.response: dict[tuple[str, str], str] = {}
        models: dict[str, None] = {}
        for r in records:
            self.prompt.setdefault(r["prompt_id"], r["prompt"])
            self.response[(r["prompt_id"], r["model"])] = r["response"]
            models.setdefault(r["model"], None)
        self.prompts = list(self.prompt)  # in order of first appearance
        self.models = list(models)
        self.references = references

    def reference(self, prompt_id: str) -> str | None:
        ref = None if self.references is None else self.references.get(prompt_id)
        return None if ref is None or (isinstance(ref, float) and math.isnan(ref)) else ref

    def has(self, prompt_id: str, model: str) -> bool:
        return (prompt_id, model) in self.response

    def has_reference(self, prompt_id: str) -> bool:
        return self.references is not None and prompt_id in self.references


# -- candidate pairs ----------------------------------------------------------------------------------
class Pairs:
    """The candidate pairs of a run: re-iterable, lazily generated when the plan is a rule.

    ``pairs`` is a zero-argument function returning a fresh iterator, so checking every pair for
    missing outputs and then judging them takes two passes and no list.
    """

    def __init__(self, pairs: Callable[[], Iterator[Pair]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[Pair]:
        return self._pairs()

    @classmethod
    def planned(
        cls, texts: Texts, *, baseline: str | None, pairs: str | Path | pd.DataFrame | None, seed: int
    ) -> Pairs:
        """``baseline=MODEL`` (lazy), ``pairs="round-robin"`` (lazy), a pairs file or a pairs table."""
        if hasattr(pairs, "columns"):
            from referee.planning.pairs import as_tuples

            listed = as_tuples(pairs)  # type: ignore[arg-type]
            return cls(lambda: iter(listed))
        if baseline is not None and pairs is not None:
            raise InputError("give either a baseline or pairs (round-robin or a file), not both", field="pairs")
        if baseline is not None:
            return cls.vs_baseline(texts, baseline, seed)
        if pairs is not None and str(pairs) in ("round-robin", "round_robin", "all"):
            return cls.round_robin(texts, seed)
        from referee.planning.pairs import plan_pairs

        rows = [{"prompt_id": p, "model": m} for p, m in texts.response]
        listed = plan_pairs(rows, pairs=pairs, seed=seed, frame=False)
        return cls(lambda: iter(listed))

    @classmethod
    def vs_baseline(cls, texts: Texts, baseline: str, seed: int) -> Pairs:
        """Every other model against ``baseline`` on every prompt (as :func:`~referee.planning.pairs_vs_baseline`)."""
        if baseline not in texts.models:
            shown = ", ".join(texts.models[:10]) + (" ..." if len(texts.models) > 10 else "")
            raise InputError(f"baseline {baseline!r} has no outputs; models present: {shown}", field="baseline")
        others = [m for m in texts.models if m != baseline]
        if not others:
            raise InputError("only the baseline has outputs: nothing to compare it with", field="baseline")
        return cls(lambda: _pairs(((p, baseline, m) for p in texts.prompts for m in others), seed))

    @classmethod
    def round_robin(cls, texts: Texts, seed: int) -> Pairs:
        """Every pair of models on every prompt (as :func:`~referee.planning.pairs_round_robin`)."""
        if len(texts.models) < 2:
            raise InputError("round robin needs outputs of at least two models", field="pairs")
        models = texts.models
        return cls(lambda: _pairs(((p, a, b) for p in texts.prompts for a, b in combinations(models, 2)), seed))

    def kept(self, keep: Callable[[Pair], bool]) -> Pairs:
        """The pairs for which ``keep`` holds (lazily)."""
        return Pairs(lambda: (p for p in self._pairs() if keep(p)))


def _pairs(rows: Iterable[tuple[str, str, str]], seed: int) -> Iterator[Pair]:
    """Pairs in plan order, the model shown first by the seeded coin flip of :func:`first_shown`."""
    for pid, m1, m2 in rows:
        x, y = first_shown(pid, m1, m2, seed)
        yield pid, x, y, pair_id(pid, m1, m2)


def missing_outputs(texts: Texts, pairs: Iterable[Pair]) -> tuple[int, list[tuple[str, str]]]:
    """(pairs whose two outputs exist, sorted missing ``(prompt_id, model)``), in one pass."""
    n, missing = 0, set()
    for p in pairs:
        gone = [(p[0], m) for m in (p[1], p[2]) if not texts.has(p[0], m)]
        missing.update(gone)
        n += not gone
    return n, sorted(missing)


def lacking_references(prompt_ids: Iterable[str], texts: Texts, allow_missing: bool) -> int:
    """How many prompts have no reference answer; an error naming them unless ``allow_missing``."""
    refs = texts.references or {}
    lacking = list(dict.fromkeys(p for p in prompt_ids if p not in refs))
    if lacking and not allow_missing:
        shown = ", ".join(map(str, lacking[:SHOW])) + (f" and {len(lacking) - SHOW} more" if len(lacking) > SHOW else "")
        raise InputError(
            f"{len(lacking)} prompt(s) have no reference answer: {shown}; pass `allow_missing=True` to skip them", field="references"
        )
    return len(lacking)


# -- game sources ---------------------------------------------------------------------------------------
class GameSource(Protocol):
    """What the pipeline pulls games from.

    ``take(n)``: up to ``n`` new games, numbered on from the last (``[]``: none now);
    ``finished``: no game will come any more; ``observe``: the reconciled outcome of each pair
    whose games are settled (only when ``wants_outcomes``); ``total``: games known so far.
    """

    wants_outcomes: bool

    def take(self, n: int) -> list[Game]: ...

    def observe(self, outcomes: Sequence[Outcome]) -> None: ...

    @property
    def finished(self) -> bool: ...

    @property
    def total(self) -> int: ...


class AllGames:
    """Every game of an iterable of pairs (or of pointwise outputs), in order; ``total`` known up front."""

    wants_outcomes = False

    def __init__(self, games: Iterator[Game], total: int) -> None:
        self._games = games
        self._total = total
        self._done = False

    @classmethod
    def of_pairs(cls, pairs: Iterable[Pair], n_pairs: int, both_orders: bool) -> AllGames:
        return cls(pair_games(iter(pairs), both_orders), n_pairs * (2 if both_orders else 1))

    @classmethod
    def of_outputs(cls, outputs: Sequence[tuple[str, str]]) -> AllGames:
        """Pointwise: one game per ``(prompt_id, model)``."""
        return cls((Game(i, p, m) for i, (p, m) in enumerate(outputs)), len(outputs))

    def take(self, n: int) -> list[Game]:
        out = list(islice(self._games, n))
        self._done = len(out) < n
        return out

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        """Outcomes change nothing: every game is judged."""

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def total(self) -> int:
        return self._total


def pair_games(pairs: Iterator[Pair], both_orders: bool, start: int = 0) -> Iterator[Game]:
    """Both presentation orders of every pair, interleaved (a budget stop leaves whole pairs)."""
    i = start
    for pid, x, y, key in pairs:
        yield Game(i, pid, x, y, key, 1)
        i += 1
        if both_orders:
            yield Game(i, pid, y, x, key, 2)
            i += 1


class PlannedGames:
    """Games from a :class:`~referee.planning.base.Planner`: proposed in batches, outcomes fed back.

    A candidate ``(prompt_id, model_a, model_b)`` is judged like a planned pair (the model shown
    first in order 1 by the seeded coin flip; both orders unless ``both_orders`` is False); its
    outcome is model_a's reconciled score.  Candidates whose outputs (or reference) are missing
    are not judged: with ``allow_missing`` they are counted in :attr:`missing` and observed at once
    as NaN, otherwise they raise :class:`InputError` before any game of theirs is sent.
    """

    wants_outcomes = True

    def __init__(
        self, planner: Planner, texts: Texts, *, seed: int, both_orders: bool, allow_missing: bool, need_reference: bool
    ) -> None:
        self.planner = planner
        self.texts = texts
        self.seed = seed
        self.orders = 2 if both_orders else 1
        self.allow_missing = allow_missing
        self.need_reference = need_reference
        self.candidates: dict[str, Candidate] = {}  # pair_id -> the candidate as the planner named it
        self.missing: set[tuple[str, str]] = set()
        self.skipped = 0
        self.proposed = 0
        self._next = 0
        self._empty = False

    def take(self, n: int) -> list[Game]:
        if self.planner.finished:
            return []
        proposed = self.planner.propose(max(1, n // self.orders))
        self._empty = not proposed
        self.proposed += len(proposed)
        pairs: list[Pair] = []
        nan: list[Outcome] = []
        for cand in proposed:
            pid, a, b = (str(c) for c in cand)
            gone = [(pid, m) for m in (a, b) if not self.texts.has(pid, m)]
            if self.need_reference and not gone and not self.texts.has_reference(pid):
                lacking_references([pid], self.texts, self.allow_missing)
                gone = [(pid, "")]
            if gone:
                self._skip(gone)
                nan.append((pid, a, b, math.nan))
                continue
            key = pair_id(pid, a, b)
            self.candidates[key] = (pid, a, b)
            x, y = first_shown(pid, a, b, self.seed)
            pairs.append((pid, x, y, key))
        if nan:
            self.planner.observe(nan)
        games = list(pair_games(iter(pairs), self.orders == 2, self._next))
        self._next += len(games)
        return games

    def _skip(self, gone: list[tuple[str, str]]) -> None:
        real = [g for g in gone if g[1]]
        if real and not self.allow_missing:
            from referee.judging.inputs import missing_error

            raise missing_error(sorted(real))
        self.missing.update(real)
        self.skipped += 1

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        """Outcomes come in the pair's order-1 frame (``model_x`` first): turned to the candidate's."""
        told: list[Outcome] = []
        for pid, x, _y, score in outcomes:
            key = pair_id(pid, x, _y)
            cand = self.candidates.pop(key, (pid, x, _y))
            told.append((*cand, score if cand[1] == x or math.isnan(score) else 1.0 - score))
        self.planner.observe(told)

    @property
    def finished(self) -> bool:
        return self.planner.finished or (self._empty and not self.candidates)

    @property
    def total(self) -> int:
        return self._next


# -- the source of a run ----------------------------------------------------------------------------------
def source_for(
    texts: Texts, *, mode: str, baseline: str | None, pairs: str | Path | pd.DataFrame | None, seed: int,
    both_orders: bool, allow_missing: bool, need_reference: bool, plan: Planner | None,
) -> tuple[GameSource, dict[str, int]]:  # fmt: skip
    """The games of a run and what was left out: ``missing_outputs``, ``missing_references``, ``n_pairs``.

    Pairwise without a planner: every candidate pair whose two outputs exist (missing ones are an
    error naming them unless ``allow_missing``) and, when the template needs one, whose prompt has
    a reference -- checked in one lazy pass before the first call.  With a planner those checks
    happen per proposed candidate (:class:`PlannedGames`).  Pointwise: every output.
    """
    info = {"missing_outputs": 0, "missing_references": 0}
    if mode == "pointwise":
        if plan is not None:
            raise InputError("a planner proposes pairs: a pointwise run takes no plan", field="plan")
        outputs = list(texts.response)
        if need_reference:
            info["missing_references"] = lacking_references((p for p, _ in outputs), texts, allow_missing)
            outputs = [o for o in outputs if texts.has_reference(o[0])]
        if not outputs:
            raise InputError("nothing to judge: no pair (or output) has everything it needs", field="outputs")
        return AllGames.of_outputs(outputs), info
    if plan is not None:
        return PlannedGames(
            plan, texts, seed=seed, both_orders=both_orders, allow_missing=allow_missing, need_reference=need_reference
        ), info  # fmt: skip
    candidates = Pairs.planned(texts, baseline=baseline, pairs=pairs, seed=seed)
    n, missing = missing_outputs(texts, candidates)
    if missing and not allow_missing:
        from referee.judging.inputs import missing_error

        raise missing_error(missing)
    info["missing_outputs"] = len(missing)
    if missing:
        candidates = candidates.kept(lambda p: texts.has(p[0], p[1]) and texts.has(p[0], p[2]))
    if need_reference:
        info["missing_references"] = lacking_references((p[0] for p in candidates), texts, allow_missing)
        if info["missing_references"]:
            candidates = candidates.kept(lambda p: texts.has_reference(p[0]))
            n = sum(1 for _ in candidates)
    if not n:
        raise InputError("nothing to judge: no pair (or output) has everything it needs", field="outputs")
    info["n_pairs"] = n
    return AllGames.of_pairs(candidates, n, both_orders), info


__all__ = [
    "AllGames", "Game", "GameSource", "Pair", "Pairs", "PlannedGames", "Texts", "lacking_references", "missing_outputs",
    "pair_games", "source_for",
]  # fmt: skip

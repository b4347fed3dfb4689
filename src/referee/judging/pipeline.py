"""The streaming judge pipeline: take games, render, send, parse, settle -- all at once, in bounded memory.

One event loop runs four stages joined by bounded buffers::

    source.take(256) -> render -> Engine.stream: cache lookup -> queue (2 x concurrency) -> workers
                                                                    -> parse -> row -> settle(game, row)

* games come from a :class:`~referee.judging.games.GameSource` a batch at a time (the first batch
  small, so the first request goes out at once whatever the run's size) and are rendered into
  requests only when the engine asks for the next batch; while the engine's queue is full the
  source is not read, so at most about ``256 + 3 × concurrency`` rendered prompts exist at a time;
* each answer is parsed as it arrives and its row handed to ``settle`` (the
  :class:`~referee.judging.output.VerdictWriter` and, with a planner, the pair's outcome);
* a source that wants outcomes (a planner) is told each pair's reconciled score as soon as its
  games are settled; when it has nothing to propose while games are out, the pipeline waits for
  the next outcome and asks again; it ends when the source is finished, or has nothing to
  propose and nothing is out;
* a budget stop (``usage.stopped_by``) ends the taking of games: the games already taken come back
  unanswered (None), the ones never taken are counted as not run by the caller.

The backend's ``check()`` runs once, before the first uncached call (:class:`Checked`), so a wrong
URL, model or key fails before anything is spent while a fully cached re-run needs no server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from referee.judging.engine import Engine, Item, Progress
from referee.judging.games import Game, GameSource, Texts
from referee.judging.output import Row, game_row, score_row
from referee.judging.parse import parse
from referee.judging.spec import JudgeSpec
from referee.judging.templates import Template
from referee.judging.types import Backend, ChatRequest, ChatResult, Usage

FIRST_BATCH = 16  # games in the first batch (the first request waits only for these)
BATCH = 256  # games per batch after that

#: called once per game taken: its row, or None when a budget stopped the run before it was answered
Settle = Callable[[Game, Row | None], None]


@dataclass
class EngineSettings:
    """How calls are made (see :class:`~referee.judging.engine.Engine`); ``cache`` as ``judge(cache=...)``."""

    cache: Any = True
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    retries: int = 6
    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    progress: Progress | None = None


class Renderer:
    """Game -> :class:`ChatRequest`: the template filled with the game's texts and the run's decoding."""

    def __init__(self, tpl: Template, texts: Texts, mode: str, decoding: dict[str, Any]) -> None:
        self.tpl, self.texts, self.mode, self.decoding = tpl, texts, mode, decoding

    def __call__(self, game: Game) -> ChatRequest:
        t, pid = self.texts, game.prompt_id
        ref = t.reference(pid)
        if self.mode == "pairwise":
            msgs = self.tpl.render(
                prompt=t.prompt[pid], response_a=t.response[(pid, game.model_a)],
                response_b=t.response[(pid, str(game.model_b))], reference=ref,
            )  # fmt: skip
        else:
            msgs = self.tpl.render(prompt=t.prompt[pid], response=t.response[(pid, game.model_a)], reference=ref)
        return ChatRequest(messages=msgs, **self.decoding)


def judge_games(
    spec: JudgeSpec, backend: Backend | None, source: GameSource, render: Renderer, settle: Settle,
    settings: EngineSettings, *, label: str,
) -> Usage:  # fmt: skip
    """Run the pipeline to the end (see the module docstring); returns the engine's :class:`Usage`."""
    owned = backend is None
    backend = backend or spec.backend()
    store, close_store = open_cache(settings.cache)
    limit = getattr(backend, "max_concurrency", None)
    timeout = spec.timeout or (600.0 if spec.local is not None else 60.0)
    tpl, mode = render.tpl, render.mode
    make_row = game_row if mode == "pairwise" else score_row

    async def main() -> Usage:
        checked = Checked(backend, asyncio.current_task())
        s = settings
        engine = Engine(
            checked, cache=store, concurrency=min(s.concurrency, limit) if limit else s.concurrency, rpm=s.rpm,
            tpm=s.tpm, retries=s.retries, timeout=timeout, max_calls=s.max_calls, max_tokens=s.max_tokens,
            max_cost=s.max_cost, price_in=spec.price_in, price_out=spec.price_out, progress=s.progress,
        )  # fmt: skip
        changed = asyncio.Event()  # set whenever a game is settled
        count = {"taken": 0, "settled": 0, "stopped": 0}

        async def batches() -> AsyncIterator[list[Item]]:
            size = FIRST_BATCH
            while not count["stopped"]:
                games = source.take(size)
                size = BATCH
                if games:
                    count["taken"] += len(games)
                    yield [(g, render(g), None) for g in games]
                elif source.finished or count["settled"] >= count["taken"]:
                    return
                else:  # a planner waits for outcomes before proposing more
                    changed.clear()
                    await changed.wait()

        def on_result(game: Game, res: ChatResult | None) -> None:
            if checked.error is not None:  # a failed check aborts the run: its stand-in results are not verdicts
                return
            count["settled"] += 1
            if res is None:
                count["stopped"] = 1
                settle(game, None)
            else:
                settle(game, make_row(game, render.texts, res, parse(res, tpl), label, tpl.name))
            changed.set()

        try:
            return await engine.stream(batches(), on_result, total=lambda: source.total)
        except asyncio.CancelledError:
            if checked.error is not None:
                raise checked.error from None
            raise
        finally:
            aclose = getattr(backend, "aclose", None)
            if aclose is not None:
                await aclose()

    try:
        return asyncio.run(main())
    finally:
        if close_store:
            store.close()
        if owned and hasattr(backend, "close"):
            backend.close()


class Checked:
    """Wraps a backend so that its ``check()`` runs once, before the first uncached call.

    A failed check cancels the whole run (``task``) before any completion is sent, so a wrong URL,
    model or key fails fast without spending budget, while a fully cached re-run never needs the
    server at all.
    """

    def __init__(self, inner: Backend, task: asyncio.Task[Any] | None) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.task = task
        self.error: BaseException | None = None
        self.checked = False
        self.lock = asyncio.Lock()

    async def complete(self, request: ChatRequest) -> ChatResult:
        if not self.checked:
            async with self.lock:
                if self.error is not None:
                    raise self.error
                if not self.checked:
                    try:
                        await self.inner.check()
                    except Exception as err:
                        self.error = err
                        if self.task is not None:
                            self.task.cancel()
                        raise
                    self.checked = True
        return await self.inner.complete(request)

    async def check(self) -> None:
        await self.inner.check()


def open_cache(cache: Any) -> tuple[Any, bool]:
    """(Cache or None, whether we opened it) from ``judge(cache=...)``: True, False/None, a path or a Cache."""
    if cache is None or cache is False:
        return None, False
    from referee.judging.cache import Cache, default_cache_path

    if cache is True:
        return Cache(default_cache_path()), True
    if isinstance(cache, str | Path):
        return Cache(cache), True
    return cache, False


__all__ = ["BATCH", "EngineSettings", "Renderer", "Settle", "judge_games", "open_cache"]

"""The arena's shared state: database, catalogue, sampler, live board and annotators.

:class:`Arena` is what every route reaches (``request.app.state.arena``, see
:mod:`referee.arena.deps`).  Per-request writes (a battle, a vote) run inline on SQLite, whose
commits take microseconds, and in a small thread pool on PostgreSQL; heavier reads always run
in the pool.  A vote's 200 is sent after its transaction has committed.

With ``reveal`` off (the default), a vote's answer names nobody and every battle stays available.
With it on, the answer names the two models, and the sampler never shows that annotator either
response again (:mod:`referee.arena.sampling`, "No identity leaks").  The export streams
(:meth:`Arena.export_stream`): rows are read and encoded a batch at a time in the pool's threads.
Markdown of long texts (which the render cache does not keep) is rendered in a thread before the
battle is sent, so a 2 MB response does not stall the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from referee.arena.board import LiveBoard, export_chunks, votes_frame
from referee.arena.http import ApiError
from referee.arena.render import is_rendered, render_markdown
from referee.arena.sampling import Sampler, Seen
from referee.arena.security import RateLimiter
from referee.arena.store import Battle, Catalogue, Store, pair_key
from referee.templating import environment

T = TypeVar("T")


@dataclass
class ArenaConfig:
    """Options of ``referee arena serve`` (see :func:`referee.arena.serve`)."""

    db: str
    sampling: str = "uniform"
    refresh: float = 10.0
    rate_limit: float = 2.0
    identity_filter: bool = False
    admin_token: str | None = None
    sqlite_sync: str = "normal"
    public_leaderboard: bool = False
    seed: int | None = None
    title: str = "referee arena"
    reveal: bool = False


@dataclass
class Annotator:
    """What the server keeps per annotator: the battles they were shown and their unvoted one."""

    id: int
    seen: Seen = field(default_factory=Seen)
    pending: Battle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Arena:
    """Everything the routes share: database, catalogue, sampler, live board, annotators."""

    def __init__(self, config: ArenaConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.db, sqlite_sync=config.sqlite_sync)
        self.pool = ThreadPoolExecutor(1 if self.store.sqlite else 8, thread_name_prefix="arena-db")
        self.catalogue: Catalogue = self.store.catalogue()
        self.sampler = Sampler(self.catalogue, config.sampling, seed=config.seed)
        self.sampler.set_counts(self.store.pair_counts())
        self.reveal_upto = self.store.reveal_horizon(config.reveal)  # votes revealed so far: None = all
        self.board = LiveBoard(self.store, identity_filter=config.identity_filter)
        self.annotators: dict[int, Annotator] = {}
        self.vote_limit = RateLimiter(config.rate_limit)
        self.battle_limit = RateLimiter(2 * config.rate_limit)
        self.env = environment("arena")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """A database call in the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def quick(self, fn: Callable[..., T], *args: Any) -> T:
        """A short per-request database call: inline for SQLite, in a thread for PostgreSQL."""
        return fn(*args) if self.store.sqlite else await self.run(fn, *args)

    # -- identities ----------------------------------------------------------------------------
    async def annotator(self, aid: int) -> Annotator:
        a = self.annotators.get(aid)
        if a is None:
            if await self.quick(self.store.annotator_name, aid) is None:
                raise ApiError(401, "unknown annotator")
            seen, pending = await self.run(self.store.annotator_history, aid)
            shown = [] if self.reveal_upto == 0 else await self.run(self.store.annotator_revealed, aid, self.reveal_upto)
            a = self.annotators.get(aid)  # another request may have loaded it meanwhile
            if a is None:
                a = self.annotators[aid] = Annotator(aid, Seen(seen), pending)
                for p, ma, mb in shown:
                    self.sampler.reveal(a.seen, p, ma, mb)
        return a

    # -- battles and votes ----------------------------------------------------------------------
    def battle_payload(self, b: Battle, html: bool) -> dict[str, Any]:
        cat = self.catalogue
        _, prompt, _ = cat.prompts[b.prompt_id]
        ra, rb = cat.responses[(b.prompt_id, b.model_a)], cat.responses[(b.prompt_id, b.model_b)]
        out: dict[str, Any] = {"battle_id": b.public_id, "prompt": prompt, "response_a": ra[1], "response_b": rb[1]}
        if html:  # render_markdown memoises: a battle shown again is not parsed again
            out["prompt_html"] = render_markdown(prompt)
            out["response_a_html"] = render_markdown(ra[1])
            out["response_b_html"] = render_markdown(rb[1])
        return out

    async def prerender(self, b: Battle) -> None:
        """Render the battle's long texts (past the render cache's size) in a thread, not the event loop."""
        cat = self.catalogue
        texts = (cat.prompts[b.prompt_id][1], cat.responses[(b.prompt_id, b.model_a)][1],
                 cat.responses[(b.prompt_id, b.model_b)][1])
        for text in texts:
            if not is_rendered(text):
                await asyncio.get_running_loop().run_in_executor(None, render_markdown, text)

    async def next_battle(self, aid: int) -> Battle | None:
        battle = await self._next_battle(aid)
        if battle is not None:
            await self.prerender(battle)
        return battle

    async def _next_battle(self, aid: int) -> Battle | None:
        a = await self.annotator(aid)
        async with a.lock:
            p = a.pending
            hidden = self.catalogue.hidden
            if p is not None and p.model_a not in hidden and p.model_b not in hidden:
                return p
            for _ in range(20):
                pick = self.sampler.pick(a.seen)
                if pick is None:
                    return None
                prompt, ma, mb = pick
                a.seen.battles.add((prompt, pair_key(ma, mb)))
                battle = await self.quick(self.store.insert_battle, aid, prompt, ma, mb)
                if battle is not None:
                    a.pending = battle
                    return battle
            return None

    async def vote(self, aid: int, battle_id: str, winner: str) -> dict[str, Any]:
        status, battle = await self.quick(self.store.record_vote, battle_id, aid, winner)
        if status == "unknown":
            raise ApiError(404, f"no battle {battle_id!r} of yours")
        if status == "duplicate":
            raise ApiError(409, "you already voted on this battle")
        assert battle is not None
        a = self.annotators.get(aid)
        if a is not None and a.pending is not None and a.pending.public_id == battle_id:
            a.pending = None
        self.sampler.count(pair_key(battle.model_a, battle.model_b))
        if not self.config.reveal:
            return {"ok": True, "revealed": False}
        if a is not None:  # (an annotator not loaded yet gets this vote's reveal from the database)
            self.sampler.reveal(a.seen, battle.prompt_id, battle.model_a, battle.model_b)
        m = self.catalogue.models
        return {"ok": True, "model_a": m[battle.model_a], "model_b": m[battle.model_b], "revealed": True}

    # -- admin ------------------------------------------------------------------------------------
    async def set_hidden(self, model: str, hidden: bool) -> None:
        await self.run(self.store.set_hidden, model, hidden)
        self.catalogue = await self.run(self.store.catalogue)
        self.sampler.rebuild(self.catalogue)
        for a in self.annotators.values():
            a.seen.exhausted.clear()
        self.board.invalidate()
        await self.refresh_board(force=True)

    async def refresh_board(self, force: bool = False) -> None:
        changed = await self.board.refresh(force=force)
        if changed and self.config.sampling == "active":
            ids = {n: i for i, n in self.catalogue.models.items()}
            self.sampler.set_fit({ids[n]: v for n, v in self.board.ratings.items() if n in ids})

    async def refresher(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh)
            with contextlib.suppress(Exception):  # a failed refresh keeps the last board; /healthz reports the DB
                await self.refresh_board()

    def export_frame(self, identity_filter: bool = False) -> Any:
        return votes_frame(self.store.vote_rows(), self.store.catalogue(), texts=True, identity_filter=identity_filter)

    async def export_stream(self, identity_filter: bool = False, fmt: str = "jsonl") -> AsyncIterator[bytes]:
        """The export (:func:`~referee.arena.board.export_chunks`) as it is read: one batch of rows is
        fetched and encoded in the pool's threads per chunk, so memory stays flat and the event loop
        free (a request waits for at most one batch of the database thread)."""
        chunks = export_chunks(self.store.iter_vote_rows(), self.catalogue, fmt=fmt, identity_filter=identity_filter)
        try:
            while True:
                chunk = await self.run(next, chunks, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            await self.run(chunks.close)

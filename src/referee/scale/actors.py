"""An asyncio-facing pool of Ray actor replicas for a streaming caller: :class:`ActorPool`.

:func:`referee.scale.pool.run_pool` takes a finished list of calls; a streaming caller (the judge
engine, which decides call by call what to send, and keeps its own concurrency, rate limits,
retries and cache) needs one call at a time: ``await pool.call(item)``.  The rules are those of
:mod:`referee.scale.pool`, with the same :class:`~referee.scale.pool.Replica` actor:

* :meth:`ActorPool.start` connects (:func:`~referee.scale.cluster.connect`), refuses a request the
  cluster can never place (:func:`~referee.scale.cluster.check_resources`), builds ``replicas``
  actors (``SPREAD`` over the nodes) and waits until each has built its backend; a backend that
  cannot load is the worker's error, raised once as an :class:`InputError` naming ``what``;
* :meth:`ActorPool.call` sends the item to the live replica with the fewest calls in flight; a
  replica that dies (its process or node killed) is replaced (Ray places the new actor on a live
  node) and the call is sent again to another replica — so at most the calls in flight on the
  dead replica are repeated (a remote endpoint may have answered them already);
* a call the caller gave up on (cancelled, e.g. by its timeout) keeps running on its replica; if
  it completes anyway, the completion is counted in :attr:`PoolReport.duplicates` and dropped
  (the caller has re-sent it or moved on: one result per call reaches the caller).

Ray is imported only inside these methods (see :mod:`referee.scale`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from typing import Any

from referee.errors import InputError
from referee.scale.cluster import check_resources, connect
from referee.scale.pool import SETUP_TIMEOUT, CallError, PoolReport, _remote_replica


class ActorPool:
    """``replicas`` actors, each running ``factory()`` once and then ``fn(item)`` per call.

    ``per_replica``: calls one replica runs at a time (its actor's ``max_concurrency``)."""

    def __init__(
        self, factory: Callable[[], Callable[[Any], Any]], *, ray: str | None = None, replicas: int = 1,
        num_cpus: float = 1.0, num_gpus: float = 0.0, per_replica: int = 1, what: str = "backend",
        field: str = "ray",
    ) -> None:
        if per_replica < 1:
            raise InputError(f"`per_replica` must be at least 1, got {per_replica}", field="per_replica")
        self.factory, self.ray, self.replicas = factory, ray, replicas
        self.num_cpus, self.num_gpus, self.per_replica = num_cpus, num_gpus, per_replica
        self.what, self.field = what, field
        self.report = PoolReport()
        self.actors: list[Any] = []
        self.alive: list[bool] = []
        self.load: list[int] = []
        self.nodes: set[str] = set()
        self._cls: Any = None
        self._ready: asyncio.Event | None = None  # set whenever a replica becomes usable
        self._starting = 0  # replacements being built
        self._error: InputError | None = None  # why a replacement could not be built
        self.started = False

    # -- replicas ---------------------------------------------------------------------------------
    def _spawn(self) -> int:
        self.actors.append(self._cls.remote(self.factory))
        self.alive.append(False)
        self.load.append(0)
        return len(self.actors) - 1

    def _loaded(self, i: int, ready: tuple[str | None, str]) -> None:
        error, node = ready
        if error is not None:
            raise InputError(f"a Ray worker could not load the {self.what} (`{self.field}`): {error}", field=self.field)
        self.nodes.add(node)
        self.report.nodes = len(self.nodes)
        self.alive[i] = True

    async def start(self) -> None:
        """Connect, check resources, build every replica and wait until each has loaded its backend."""
        if self.started:
            return
        cluster = connect(self.ray)  # blocking (seconds): ray.init belongs on the main thread
        check_resources(cluster, replicas=self.replicas, num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        self._cls = _remote_replica().options(num_cpus=self.num_cpus, num_gpus=self.num_gpus,
                                              max_concurrency=self.per_replica, scheduling_strategy="SPREAD")
        self._ready = asyncio.Event()
        idx = [self._spawn() for _ in range(self.replicas)]
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                readies = await asyncio.gather(*(self._await(self.actors[i].ready.remote()) for i in idx))
        except TimeoutError:
            self.close()
            raise InputError(f"Ray replicas of the {self.what} did not start within {SETUP_TIMEOUT:g}s (the cluster "
                             f"may lack free resources: {self.num_cpus:g} CPU, {self.num_gpus:g} GPU per replica; "
                             "`ray`)", field="ray") from None
        except BaseException:
            self.close()
            raise
        try:
            for i, ready in zip(idx, readies, strict=True):
                self._loaded(i, ready)
        except BaseException:
            self.close()
            raise
        self.started = True

    @staticmethod
    async def _await(ref: Any) -> Any:
        return await asyncio.wrap_future(ref.future())

    async def _replace(self, i: int) -> None:
        """Replica ``i`` died: build another (Ray places it on a live node); calls wait meanwhile.

        A replacement that dies while loading is tried again (twice); one that cannot load its
        backend ends the run with that error (raised by the next call that finds no replica)."""
        from ray.exceptions import RayActorError

        if not self.alive[i]:
            return
        self.alive[i] = False
        self.report.replaced += 1
        self._starting += 1
        try:
            for _ in range(3):
                j = self._spawn()
                try:
                    ready = await self._await(self.actors[j].ready.remote())
                except RayActorError:
                    continue
                try:
                    self._loaded(j, ready)
                except InputError as err:
                    self._error = err
                return
            self._error = InputError(f"a replica of the {self.what} died and could not be replaced on the Ray "
                                     "cluster (`ray`)", field="ray")
        finally:
            self._starting -= 1
            if self._ready is not None:
                self._ready.set()

    async def _pick(self) -> int:
        assert self._ready is not None
        while True:
            live = [i for i in range(len(self.actors)) if self.alive[i] and self.load[i] < self.per_replica]
            if live:
                return min(live, key=lambda j: self.load[j])
            if self._error is not None and not self._starting and not any(self.alive):
                raise self._error
            self._ready.clear()
            try:
                async with asyncio.timeout(0.5):
                    await self._ready.wait()
            except TimeoutError:
                pass

    # -- calls ------------------------------------------------------------------------------------
    async def call(self, item: Any) -> Any:
        """``fn(item)`` on a replica; re-sent to another replica when its replica dies."""
        from ray.exceptions import RayActorError

        if not self.started:
            await self.start()
        while True:
            i = await self._pick()
            ref = self.actors[i].call.remote(None, item)
            self.load[i] += 1
            self.report.sent += 1
            fut = asyncio.wrap_future(ref.future())
            try:
                status, value = await asyncio.shield(fut)
            except RayActorError:
                self.load[i] -= 1
                self.report.retried += 1
                task = asyncio.ensure_future(self._replace(i))
                task.add_done_callback(_keep_error)
                continue
            except asyncio.CancelledError:  # the caller gave up: a late completion is a duplicate
                fut.add_done_callback(functools.partial(self._late, i=i))
                raise
            self.load[i] -= 1
            if self._ready is not None:
                self._ready.set()
            if status != "ok":
                raise CallError(f"the {self.what} failed on a Ray worker: {value}")
            self.report.completed += 1
            return value

    def _late(self, fut: asyncio.Future[Any], i: int) -> None:
        if i < len(self.load):  # not closed since
            self.load[i] -= 1
        if not fut.cancelled() and fut.exception() is None:
            self.report.duplicates += 1

    def close(self) -> None:
        """Kill every replica (idempotent)."""
        if not self.actors:
            return
        import ray

        for a in self.actors:
            with contextlib.suppress(Exception):  # already gone with its node
                ray.kill(a)
        self.actors, self.alive, self.load = [], [], []
        self.started = False


def _keep_error(task: asyncio.Future[None]) -> None:
    """Retrieve a background replacement's error (a replacement that cannot load is retried by the next call)."""
    if not task.cancelled():
        task.exception()


__all__ = ["ActorPool"]

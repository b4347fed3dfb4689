"""A pool of Ray actor replicas that run calls, surviving dead workers: :func:`run_pool`.

Each replica is an actor that builds its backend once (``factory()`` → a callable, e.g. a judge
model loaded on a GPU or an HTTP client) and then answers ``call(key, item)`` — ``per_replica``
calls at a time.  The driver keeps the queue, hands each call to the replica with the fewest in
flight, and hands every result to ``on_result(key, result)`` — once per key:

* **a dead replica** (its process or its node killed) loses the calls it had in flight: they
  are queued again and the replica is replaced (Ray places the new actor on a live node), so the
  run finishes on the surviving nodes.  At most ``replicas × per_replica`` calls are repeated
  (those in flight when a replica died; a remote endpoint may have answered them already);
* **a duplicate completion** — a key completed twice, because a call that outlived
  ``call_timeout`` was re-sent and both copies finished, or because the same key was queued twice
  — is counted (:attr:`PoolReport.duplicates`) and not passed on;
* **a backend that cannot load** (an import error, a missing model file) is the worker's error,
  raised once as an :class:`InputError` naming ``what`` — not a traceback per call;
* **a call that raises** in the backend is raised on the driver as a :class:`CallError` (the
  backend's own error handling — retries, error rows — belongs in the backend).

Replicas are spread over the nodes (``SPREAD``); ``num_cpus`` / ``num_gpus`` are reserved per
replica, and :func:`referee.scale.cluster.check_resources` refuses a request the cluster can
never place before any actor starts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from referee.errors import InputError
from referee.scale.cluster import check_resources, connect

#: seconds a replica may take to build its backend before the run gives up on the cluster
SETUP_TIMEOUT = 300.0


class CallError(RuntimeError):
    """A call raised in the backend on a worker (its error text, once)."""


@dataclass
class PoolReport:
    """What a pool run did: calls sent (retries included), results passed on, calls re-sent after a
    replica died or timed out, duplicate completions dropped, replicas replaced, nodes used."""

    sent: int = 0
    completed: int = 0
    retried: int = 0
    duplicates: int = 0
    replaced: int = 0
    nodes: int = 0


class Replica:
    """The actor: builds the backend in ``__init__`` (an error is kept, not raised), then calls it."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]) -> None:
        self.error: str | None = None
        self.fn: Callable[[Any], Any] | None = None
        try:
            self.fn = factory()
        except BaseException as e:  # reported once by the driver
            self.error = f"{type(e).__name__}: {e}"

    def ready(self) -> tuple[str | None, str]:
        """(the backend's load error or None, the node this replica runs on)."""
        import ray

        return self.error, ray.get_runtime_context().get_node_id()

    def call(self, key: Any, item: Any) -> tuple[str, Any]:
        """``("ok", fn(item))`` or ``("error", text)``."""
        if self.fn is None:
            return "error", self.error or "backend not loaded"
        try:
            return "ok", self.fn(item)
        except Exception as e:
            return "error", f"{type(e).__name__}: {e}"


_REMOTE: dict[str, Any] = {}


def _remote_replica() -> Any:
    """``ray.remote(Replica)``, made once (Ray imported only here)."""
    if "replica" not in _REMOTE:
        import ray

        _REMOTE["replica"] = ray.remote(max_restarts=0, max_task_retries=0)(Replica)
    return _REMOTE["replica"]


@dataclass
class _Flight:
    key: Hashable
    item: Any
    actor: int
    sent: float
    stale: bool = False  # re-sent after a timeout: a late completion is a duplicate


def run_pool(
    factory: Callable[[], Callable[[Any], Any]], items: Iterable[tuple[Hashable, Any]],
    on_result: Callable[[Hashable, Any], None], *, ray: str | None = None, replicas: int = 1,
    num_cpus: float = 1.0, num_gpus: float = 0.0, per_replica: int = 1, call_timeout: float | None = None,
    what: str = "backend", field: str = "ray",
) -> PoolReport:
    """Run ``fn(item)`` for every ``(key, item)`` on ``replicas`` actors (module docstring).

    ``factory`` runs on each replica and must be importable or picklable there.  Returns the
    :class:`PoolReport`; ``on_result`` has been called once per distinct key."""
    import ray as _ray
    from ray.exceptions import RayActorError

    cluster = connect(ray)
    check_resources(cluster, replicas=replicas, num_cpus=num_cpus, num_gpus=num_gpus)
    if per_replica < 1:
        raise InputError(f"`per_replica` must be at least 1, got {per_replica}", field="per_replica")
    cls = _remote_replica().options(num_cpus=num_cpus, num_gpus=num_gpus, max_concurrency=per_replica,
                                    scheduling_strategy="SPREAD")
    report = PoolReport()
    actors: list[Any] = []
    alive: list[bool] = []
    load: list[int] = []
    nodes: set[str] = set()

    starting: dict[Any, int] = {}  # ready() of a replica being built → its index

    def spawn() -> None:
        actors.append(cls.remote(factory))
        alive.append(False)  # usable once its ready() answers
        load.append(0)
        starting[actors[-1].ready.remote()] = len(actors) - 1

    def started(ref: Any) -> None:
        i = starting.pop(ref)
        try:
            error, node = _ray.get(ref)
        except RayActorError:  # died while loading (its node went away): build another
            report.replaced += 1
            spawn()
            return
        if error is not None:
            raise InputError(f"a Ray worker could not load the {what} (`{field}`): {error}", field=field)
        nodes.add(node)
        alive[i] = True

    for _ in range(replicas):
        spawn()
    try:  # every replica must load before any call: a bad backend fails once, before anything is spent
        ready_refs, _ = _ray.wait(list(starting), num_returns=len(starting), timeout=SETUP_TIMEOUT)
    except BaseException:
        for a in actors:
            _ray.kill(a)
        raise
    if len(ready_refs) < replicas:
        for a in actors:
            _ray.kill(a)
        raise InputError(f"{replicas - len(ready_refs)} Ray replica(s) of the {what} did not start within "
                         f"{SETUP_TIMEOUT:g}s (the cluster may lack free resources: {num_cpus:g} CPU, "
                         f"{num_gpus:g} GPU per replica; `ray`)", field="ray")
    queue: deque[tuple[Hashable, Any]] = deque(items)
    flying: dict[Any, _Flight] = {}
    done: set[Hashable] = set()
    try:
        for ref in ready_refs:
            started(ref)
        while queue or any(not f.stale for f in flying.values()):
            while queue:
                live = [i for i in range(len(actors)) if alive[i] and load[i] < per_replica]
                if not live:
                    break
                i = min(live, key=lambda j: load[j])
                key, item = queue.popleft()
                if key in done:
                    report.duplicates += 1
                    continue
                ref = actors[i].call.remote(key, item)
                flying[ref] = _Flight(key, item, i, time.monotonic())
                load[i] += 1
                report.sent += 1
            waiting = [*flying, *starting]
            if not waiting:  # nothing in flight: the queue waits for a replica (cannot last: one is starting)
                time.sleep(0.05)
                continue
            ready, _ = _ray.wait(waiting, num_returns=1, timeout=0.5)
            for ref in ready:
                if ref in starting:
                    started(ref)
                    continue
                f = flying.pop(ref)
                load[f.actor] -= 1
                try:
                    status, value = _ray.get(ref)
                except RayActorError:
                    if alive[f.actor]:
                        alive[f.actor] = False
                        report.replaced += 1
                        spawn()
                    if not f.stale and f.key not in done:
                        report.retried += 1
                        queue.appendleft((f.key, f.item))
                    continue
                if status != "ok":
                    raise CallError(f"the {what} failed on a Ray worker: {value}")
                if f.key in done:
                    report.duplicates += 1
                    continue
                done.add(f.key)
                report.completed += 1
                on_result(f.key, value)
            if call_timeout is not None:
                now = time.monotonic()
                for f in flying.values():
                    if not f.stale and f.key not in done and now - f.sent > call_timeout:
                        f.stale = True
                        report.retried += 1
                        queue.append((f.key, f.item))
    finally:
        for a in actors:
            _ray.kill(a)
    report.nodes = len(nodes)
    return report


__all__ = ["CallError", "PoolReport", "Replica", "run_pool"]

"""Judging on a Ray cluster: the judge backend runs as Ray actors, everything else on the driver.

:func:`ray_backend` wraps a :class:`~referee.judging.spec.JudgeSpec` into a
:class:`RayBackend`, a :class:`~referee.judging.types.Backend` whose ``complete`` sends the
request to one of ``replicas`` actors (:class:`referee.scale.actors.ActorPool`), each of which
built the spec's own backend once (the local llama.cpp model loaded on its node, or the HTTP
client of a remote endpoint) and answers on a private event loop.  The pipeline does not change:
the planner, the cache, the rate limits (``rpm`` / ``tpm``: one limit for the whole cluster, since
the driver admits every call), the budgets and the retries stay on the driver, so

* every call has the content address it has locally (``identity`` is the backend's own, computed
  on the driver: the GGUF's hash, or the endpoint and model), so a verdict is cached once, and a
  run on the cluster gives exactly the rows of a local run on the same inputs;
* a call lost with a dead worker is re-sent to another replica (at most the calls in flight on the
  dead replica are repeated); a completion that arrives after the engine gave up on the call (its
  timeout) is counted as a duplicate and dropped (``usage.extra["ray"]``);
* a worker that cannot build the backend (llama-cpp-python or the model file missing there) is
  one :class:`~referee.errors.InputError` with the worker's error, before any call;
* the cluster is contacted only before the first uncached call (the backend's ``check``), so a
  fully cached re-run needs neither the cluster nor the server.

Errors keep their kind across the wire: a retryable failure comes back as a
:class:`~referee.judging.types.TransientError` (with its ``Retry-After``), an input error as an
:class:`InputError`, anything else as the error text the local run would have written.
The driver must see the GGUF file (it hashes it for the cache key) and the nodes must see it at
the same path; an API key named by ``key_env`` is read on the driver and handed to the replicas.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from referee.errors import InputError
from referee.judging.spec import JudgeSpec
from referee.judging.types import Backend, ChatRequest, ChatResult, TransientError
from referee.scale.actors import ActorPool

#: a worker's answer: ("ok", value) | ("transient", text, retry_after) | ("input", template, path, line, field)
#: | ("error", text)
Reply = tuple[Any, ...]


@dataclass(frozen=True)
class BuildBackend:
    """Runs on each replica: the spec's backend, with the driver's API key (picklable)."""

    spec: JudgeSpec
    env: tuple[tuple[str, str], ...] = ()

    def __call__(self) -> WorkerBackend:
        for name, value in self.env:
            os.environ.setdefault(name, value)
        backend = self.spec.backend()
        load = getattr(backend, "load", None)
        if load is not None:  # the local model: load it now, so a bad file fails at start-up, once
            load()
        return WorkerBackend(backend)


class WorkerBackend:
    """The backend on a replica, driven from the actor's threads through one private event loop."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="referee-ray-judge").start()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Reply:
        try:
            return "ok", asyncio.run_coroutine_threadsafe(coro, self.loop).result()
        except TransientError as err:
            return "transient", str(err), err.retry_after
        except InputError as err:
            return "input", err.template, err.path, err.line, err.field
        except Exception as err:
            return "error", getattr(err, "message", None) or str(err) or type(err).__name__

    def __call__(self, item: tuple[str, ChatRequest | None]) -> Reply:
        kind, request = item
        if kind == "check":
            return self._run(self.backend.check())
        assert request is not None
        return self._run(self.backend.complete(request))


class RemoteError(RuntimeError):
    """A call failed on a worker for good (its text is the local run's error text)."""


def _unwrap(reply: Reply) -> Any:
    kind = reply[0]
    if kind == "ok":
        return reply[1]
    if kind == "transient":
        raise TransientError(reply[1], retry_after=reply[2])
    if kind == "input":
        raise InputError(reply[1], path=reply[2], line=reply[3], field=reply[4])
    raise RemoteError(reply[1])


class RayBackend:
    """A :class:`~referee.judging.types.Backend` whose calls run on Ray actors (module docstring)."""

    def __init__(self, spec: JudgeSpec, *, ray: str | None, replicas: int, num_cpus: float, num_gpus: float,
                 concurrency: int) -> None:
        local = spec.backend()  # on the driver: the identity (content address) only, nothing loaded
        self.identity: str = local.identity
        per = getattr(local, "max_concurrency", None) or max(1, math.ceil(concurrency / max(replicas, 1)))
        #: the engine's bound: every replica busy
        self.max_concurrency = per * max(replicas, 1)
        env = ((spec.key_env, os.environ[spec.key_env]),) if spec.key_env and spec.key_env in os.environ else ()
        what = f"judge {spec.label}"
        self.pool = ActorPool(BuildBackend(spec, env), ray=ray, replicas=replicas, num_cpus=num_cpus,
                              num_gpus=num_gpus, per_replica=per, what=what, field="judge")

    async def check(self) -> None:
        """Start the replicas (a backend that cannot load fails here, once), then the backend's own check."""
        await self.pool.start()
        _unwrap(await self.pool.call(("check", None)))

    async def complete(self, request: ChatRequest) -> ChatResult:
        result: ChatResult = _unwrap(await self.pool.call(("complete", request)))
        return result

    def stats(self) -> dict[str, int]:
        """What the pool did: calls sent, re-sent after a dead replica, duplicates dropped, replicas replaced, nodes."""
        r = self.pool.report
        return {"sent": r.sent, "retried": r.retried, "duplicates": r.duplicates, "replaced": r.replaced,
                "nodes": r.nodes}

    async def aclose(self) -> None:
        self.pool.close()

    def close(self) -> None:
        self.pool.close()


def ray_backend(spec: JudgeSpec, *, ray: str | None, replicas: int = 1, num_cpus: float = 1.0,
                num_gpus: float = 0.0, concurrency: int = 8) -> RayBackend:
    """The spec's backend on ``replicas`` Ray actors of ``num_cpus`` / ``num_gpus`` each."""
    from referee.scale.cluster import require_ray

    require_ray()
    return RayBackend(spec, ray=ray, replicas=replicas, num_cpus=num_cpus, num_gpus=num_gpus,
                      concurrency=concurrency)


__all__ = ["BuildBackend", "RayBackend", "RemoteError", "WorkerBackend", "ray_backend"]


@dataclass(frozen=True)
class BuildScorer:
    """Runs on each replica: the reward model loaded once, then ``(prompts, responses)`` → rewards."""

    spec: str

    def __call__(self) -> Callable[[tuple[list[str], list[str]]], list[float]]:
        from referee.scoring import load_scorer
        from referee.scoring.bestofn import score_unique

        scorer = load_scorer(self.spec)
        return lambda item: [float(x) for x in score_unique(scorer, item[0], item[1])]


class RayScorer:
    """A reward model as the judge on Ray: ``score`` splits each batch of (prompt, response) texts
    into one part per replica, each scored by an actor holding its own copy of the model; the
    rewards come back in input order, exactly the local ones.  A replica that dies mid-batch is
    replaced and its part re-sent (:class:`~referee.scale.actors.ActorPool`); a model the workers
    cannot load is one :class:`InputError`.  The pool lives on a private event loop in a thread,
    so the synchronous scoring loop of :mod:`referee.judging.scorer` drives it unchanged."""

    def __init__(self, spec: str, *, ray: str | None, replicas: int, num_cpus: float, num_gpus: float) -> None:
        from referee.scale.cluster import require_ray

        require_ray()
        self.name, self.replicas = spec, max(1, replicas)
        self.pool = ActorPool(BuildScorer(spec), ray=ray, replicas=self.replicas, num_cpus=num_cpus,
                              num_gpus=num_gpus, what=f"reward model {spec}", field="judge")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="referee-ray-scorer", daemon=True)
        self._thread.start()
        try:
            self._wait(self.pool.start())
        except BaseException:
            self.close()
            raise

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def score(self, prompts: list[str], responses: list[str]) -> list[float]:
        n = len(prompts)
        cuts = [round(k * n / self.replicas) for k in range(self.replicas + 1)]
        parts = [(list(prompts[a:b]), list(responses[a:b])) for a, b in pairwise(cuts) if b > a]

        async def every_part() -> list[list[float]]:
            return list(await asyncio.gather(*(self.pool.call(p) for p in parts)))

        try:
            got = self._wait(every_part())
        except RuntimeError as e:  # CallError: the model failed on a worker
            raise InputError(str(e), field="judge") from None
        return [r for part in got for r in part]

    def stats(self) -> dict[str, int]:
        r = self.pool.report
        return {"sent": r.sent, "retried": r.retried, "duplicates": r.duplicates, "replaced": r.replaced,
                "nodes": r.nodes}

    def close(self) -> None:
        self.pool.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

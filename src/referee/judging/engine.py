"""The judge engine: run many chat requests against a :class:`Backend`, fast and safely.

* streaming (:meth:`Engine.stream`): requests arrive in batches while earlier ones are answered;
  a bounded queue between the cache lookup and the workers pauses the producer, so memory does
  not grow with the number of requests (:meth:`Engine.run` is the same over a list);
* cache first: every request whose answer is cached is answered without touching the backend or
  the budgets (a re-run makes zero calls); identical requests within a run are sent once;
* at most ``concurrency`` calls in flight; token buckets for ``rpm`` / ``tpm``;
* per-call timeout; retries with exponential backoff and full jitter on :class:`TransientError`
  and timeouts, honouring ``Retry-After`` (which also pauses new calls); a call that still fails
  comes back as ``ChatResult(text=None, error=...)`` -- one bad call never raises;
* each fresh answer is committed to the cache as it arrives, before it is delivered (the answers
  that arrive in one turn of the event loop share one transaction; the workers wait for it, so
  kill -9 loses only the calls in flight);
* budgets (``max_calls``, ``max_tokens``, ``max_cost``): before each backend call, if the cap would be
  exceeded (spent + in flight + this call's estimate) no new call starts, in-flight calls finish,
  ``usage.stopped_by`` names the cap and requests never answered come back as ``None``.

Token estimates before an answer: (prompt characters + 16 per message) / 4, then the observed
tokens-per-character ratio; completion = ``max_tokens`` until answers report their mean.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from referee.judging.cache import Cache
from referee.judging.ratelimit import TokenBucket
from referee.judging.types import Backend, ChatRequest, ChatResult, TransientError, Usage

OnResult = Callable[[int, ChatResult], None]
#: one request for :meth:`Engine.stream`: (the caller's tag, the request, its cache key or None)
Item = tuple[Any, ChatRequest, str | None]
Progress = Callable[[int, int, Usage], None]


def _weight(req: ChatRequest) -> int:
    """Prompt size in characters, plus 16 per message for the chat template (~4 tokens)."""
    return sum(len(c) for _, c in req.messages) + 16 * len(req.messages)


class _Budget:
    """Spent + reserved (in-flight) tokens and cost against the caps; decides whether a call may start."""

    def __init__(self, engine: Engine, usage: Usage) -> None:
        self.e = engine
        self.usage = usage
        self.reserved_tokens = 0.0
        self.reserved_cost = 0.0
        self.chars = 0  # weighted prompt characters of answered calls (for the tokens/char ratio)
        self.answered = 0
        self._changed: asyncio.Future[None] | None = None  # resolved when a call ends or the run stops
        self.active = engine.max_tokens is not None or engine.max_cost is not None

    def estimate(self, req: ChatRequest) -> tuple[float, float, float]:
        """(prompt tokens, completion tokens, cost) expected for one call."""
        u = self.usage
        ratio = u.prompt_tokens / self.chars if self.chars and u.prompt_tokens else 0.25
        prompt = _weight(req) * ratio
        completion = u.completion_tokens / self.answered if self.answered else float(req.max_tokens)
        cost = (prompt * self.e.price_in + completion * self.e.price_out) / 1000.0
        return prompt, completion, cost

    def _over(self, tokens: float, cost: float) -> str | None:
        e, u = self.e, self.usage
        if e.max_tokens is not None and u.prompt_tokens + u.completion_tokens + tokens > e.max_tokens:
            return "max_tokens"
        if e.max_cost is not None and u.cost + cost > e.max_cost + 1e-12:
            return "max_cost"
        return None

    async def admit(self, tokens: float, cost: float, in_flight: Callable[[], int]) -> bool:
        """Reserve room for one call; False (and the run stops) when a cap would be exceeded."""
        e, u = self.e, self.usage
        while True:
            if u.stopped_by:
                return False
            if e.max_calls is not None and u.calls >= e.max_calls:
                self.stop("max_calls")
                return False
            if not self.active:
                return True
            over = self._over(tokens, cost)
            if over:  # even with nothing else in flight this call would break the cap
                self.stop(over)
                return False
            if not in_flight() or self._over(tokens + self.reserved_tokens, cost + self.reserved_cost) is None:
                self.reserved_tokens += tokens
                self.reserved_cost += cost
                return True
            if self._changed is None:  # in-flight calls will tell us what they really cost
                self._changed = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._changed)

    def release(self, tokens: float, cost: float) -> None:
        if self.active:
            self.reserved_tokens -= tokens
            self.reserved_cost -= cost
            self._notify()

    def stop(self, reason: str) -> None:
        if self.usage.stopped_by is None:
            self.usage.stopped_by = reason
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None


class Engine:
    """Runs :class:`ChatRequest` s against one backend; see the module docstring for the rules."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache: Cache | None = None,
        concurrency: int = 8,
        rpm: float | None = None,
        tpm: float | None = None,
        retries: int = 6,
        timeout: float = 60.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_calls: int | None = None,
        max_tokens: int | None = None,
        max_cost: float | None = None,
        price_in: float = 0.0,
        price_out: float = 0.0,
        progress: Progress | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.backend = backend
        self.cache = cache
        self.concurrency = concurrency
        self.rpm, self.tpm = rpm, tpm
        self.retries = retries
        self.timeout = timeout
        self.backoff, self.max_backoff = backoff, max_backoff
        self.max_calls, self.max_tokens, self.max_cost = max_calls, max_tokens, max_cost
        self.price_in, self.price_out = price_in, price_out
        self.progress = progress

    def run_sync(
        self, requests: Sequence[ChatRequest], on_result: OnResult | None = None
    ) -> tuple[list[ChatResult | None], Usage]:
        """:meth:`run` in a fresh event loop (closing the backend's connections in it at the end)."""

        async def main() -> tuple[list[ChatResult | None], Usage]:
            try:
                return await self.run(requests, on_result)
            finally:
                aclose = getattr(self.backend, "aclose", None)
                if aclose is not None:
                    await aclose()

        return asyncio.run(main())

    async def run(
        self, requests: Sequence[ChatRequest], on_result: OnResult | None = None
    ) -> tuple[list[ChatResult | None], Usage]:
        """Answer ``requests``; results in request order (None: never run, a budget stopped the run).

        Every identical request is sent once (the requests are grouped by cache key up front, the
        list being in memory anyway), cache hits are delivered before the first call.
        """
        t0 = time.perf_counter()
        n = len(requests)
        results: list[ChatResult | None] = [None] * n
        identity = self.backend.identity
        groups: dict[str, list[int]] = {}  # cache key -> request indices (duplicates are sent once)
        for i, req in enumerate(requests):
            groups.setdefault(Cache.key(identity, req), []).append(i)
        unique: list[Item] = [(key, requests[idx[0]], key) for key, idx in groups.items()]

        async def batches() -> AsyncIterator[list[Item]]:
            yield unique

        def deliver(key: Any, res: ChatResult | None) -> None:
            if res is None:
                return
            for i in groups[key]:
                results[i] = res
                if on_result is not None:
                    on_result(i, res)

        usage = await self.stream(batches(), deliver, weight=lambda key: len(groups[key]), total=lambda: n)
        usage.extra["elapsed_s"] = time.perf_counter() - t0
        usage.extra["requests"] = n
        usage.extra["unique_requests"] = len(groups)
        return results, usage

    async def stream(
        self,
        batches: AsyncIterator[list[Item]],
        on_result: Callable[[Any, ChatResult | None], None],
        *,
        weight: Callable[[Any], int] | None = None,
        total: Callable[[], int] | None = None,
        memo: int = 4096,
    ) -> Usage:
        """Answer requests as they come, in bounded memory; returns the run's :class:`Usage`.

        ``batches`` yields lists of ``(tag, request, key)`` (``key``: the cache key, or None to
        compute it).  Each batch is looked up in the cache in one query and its hits are delivered
        at once; the misses go through a queue of ``2 × concurrency`` slots to ``concurrency``
        workers, so the producer is paused (and renders nothing more) while the queue is full.
        ``on_result(tag, result)`` is called once per request, in completion order; ``result`` is
        None for a request never sent because a budget stopped the run (after a stop the rest of
        ``batches`` is still read: cached answers are delivered, the others come back None).

        Identical requests: one in flight is shared by every request with its key; an answer is
        remembered for the next ``memo`` distinct keys (so near duplicates are sent once without a
        cache; with a cache every later duplicate is a cache hit).  ``weight(tag)``: how many
        requests a tag stands for (progress and failure counts); ``total()``: the number of
        requests known so far (for ``progress``).
        """
        usage = Usage()
        state = _Run(self, usage)
        identity = self.backend.identity
        cache = self.cache
        queue: asyncio.Queue[tuple[str, ChatRequest] | None] = asyncio.Queue(maxsize=2 * self.concurrency)
        waiting: dict[str, list[Any]] = {}  # key -> tags of the requests waiting for its answer
        recent: OrderedDict[str, ChatResult] = OrderedDict()
        count = weight or (lambda _tag: 1)
        done = 0
        loop = asyncio.get_running_loop()
        to_store: list[tuple[str, ChatResult]] = []
        stored: asyncio.Future[None] | None = None  # resolved when ``to_store`` is committed

        def commit() -> None:
            nonlocal to_store, stored
            items, done_, to_store, stored = to_store, stored, [], None
            assert cache is not None and done_ is not None
            try:
                cache.put_many(items)
            except Exception as err:
                done_.set_exception(err)
            else:
                done_.set_result(None)

        async def store(key: str, res: ChatResult) -> None:
            """Commit with every other answer of this turn of the loop (one transaction)."""
            nonlocal stored
            to_store.append((key, res))
            if stored is None:
                stored = loop.create_future()
                loop.call_soon(commit)
            await stored

        def tick() -> None:
            if self.progress is not None:
                self.progress(done, total() if total is not None else done, usage)

        def deliver(tags: list[Any], res: ChatResult | None) -> int:
            nonlocal done
            n = 0
            for tag in tags:
                on_result(tag, res)
                n += count(tag)
            done += n
            return n

        def remember(key: str, res: ChatResult) -> None:
            recent[key] = res
            if len(recent) > memo:
                recent.popitem(last=False)

        async def feed() -> None:
            async for batch in batches:
                fresh: dict[str, list[Any]] = {}
                reqs: dict[str, ChatRequest] = {}
                for tag, req, key in batch:
                    key = key or Cache.key(identity, req)
                    if key in recent:
                        deliver([tag], recent[key])
                    elif key in waiting:
                        waiting[key].append(tag)
                    elif key in fresh:
                        fresh[key].append(tag)
                    else:
                        fresh[key], reqs[key] = [tag], req
                hits = cache.get_many(fresh) if cache is not None and fresh else {}
                for key, res in hits.items():
                    usage.cache_hits += deliver(fresh.pop(key), res)
                    remember(key, res)
                tick()
                for key, tags in fresh.items():
                    if usage.stopped_by:
                        deliver(tags, None)
                        continue
                    waiting[key] = tags
                    await queue.put((key, reqs[key]))
            for _ in range(self.concurrency):
                await queue.put(None)

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                key, req = item
                res = None if usage.stopped_by else await state.call(req)
                if res is not None and res.error is None:
                    if cache is not None:
                        await store(key, res)
                    remember(key, res)
                n = deliver(waiting.pop(key), res)
                if res is not None and res.error is not None:
                    usage.failures += n
                tick()

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(feed())
                for _ in range(self.concurrency):
                    tg.create_task(worker())
        except BaseExceptionGroup as eg:  # e.g. on_result raised: the others were cancelled
            raise eg.exceptions[0] from None
        return usage


class _Run:
    """Per-run state shared by the workers: usage, budgets, rate limits, the Retry-After pause."""

    def __init__(self, engine: Engine, usage: Usage) -> None:
        self.e = engine
        self.usage = usage
        self.budget = _Budget(engine, usage)
        self.rpm = TokenBucket(engine.rpm) if engine.rpm else None
        self.tpm = TokenBucket(engine.tpm) if engine.tpm else None
        self.pause_until = 0.0
        self.in_flight = 0

    def _delay(self, attempt: int, err: BaseException) -> float:
        ra = getattr(err, "retry_after", None)
        if ra is not None:
            delay = min(float(ra), self.e.max_backoff)
            self.pause_until = max(self.pause_until, time.monotonic() + delay)  # the server asked everyone
            return delay
        return random.uniform(0.0, min(self.e.max_backoff, self.e.backoff * 2**attempt))

    async def call(self, req: ChatRequest) -> ChatResult | None:
        """One request with retries; None if a budget stopped it before it got an answer."""
        e, u, budget = self.e, self.usage, self.budget
        attempt = 0
        while True:
            prompt_est, completion_est, cost_est = budget.estimate(req)
            if self.rpm is not None:
                await self.rpm.acquire(1)
            if self.tpm is not None:
                await self.tpm.acquire(prompt_est + completion_est)
            wait = self.pause_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not await budget.admit(prompt_est + completion_est, cost_est, lambda: self.in_flight):
                return None
            u.calls += 1
            self.in_flight += 1
            try:
                async with asyncio.timeout(e.timeout):
                    res = await e.backend.complete(req)
            except (TransientError, TimeoutError) as err:
                error: BaseException | None = err
            except Exception as err:  # not retryable (e.g. InputError for this one request)
                self.in_flight -= 1
                budget.release(prompt_est + completion_est, cost_est)
                return self._failed(attempt, err)
            else:
                error = None
            self.in_flight -= 1
            budget.release(prompt_est + completion_est, cost_est)
            if error is None:
                self._account(req, res, prompt_est, completion_est)
                res.retries = attempt
                return res
            if attempt >= e.retries:
                return self._failed(attempt, error)
            u.retries += 1
            await asyncio.sleep(self._delay(attempt, error))
            attempt += 1

    def _failed(self, attempt: int, err: BaseException) -> ChatResult:
        msg = getattr(err, "message", None) or str(err) or type(err).__name__
        if isinstance(err, TimeoutError):
            msg = f"timeout after {self.e.timeout:g}s"
        return ChatResult(text=None, retries=attempt, error=f"failed after {attempt + 1} attempt(s): {msg}")

    def _account(self, req: ChatRequest, res: ChatResult, prompt_est: float, completion_est: float) -> None:
        u, e = self.usage, self.e
        pt, ct = res.prompt_tokens, res.completion_tokens
        if not pt and not ct:  # the backend reports no usage: count the estimate (prompt) so caps still bind
            pt = round(prompt_est)
            ct = max(1, len(res.text or "") // 4)
            u.extra["estimated_tokens"] = True
        u.prompt_tokens += pt
        u.completion_tokens += ct
        u.cost += (pt * e.price_in + ct * e.price_out) / 1000.0
        self.budget.chars += _weight(req)
        self.budget.answered += 1
        if self.tpm is not None:
            self.tpm.charge(pt + ct - (prompt_est + completion_est))

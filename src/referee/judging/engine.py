"""The judge engine: run many chat requests against a :class:`Backend`, fast and safely.

* cache first: every request whose answer is cached is answered without touching the backend or
  the budgets (a re-run makes zero calls); identical requests within a run are sent once;
* at most ``concurrency`` calls in flight; token buckets for ``rpm`` / ``tpm``;
* per-call timeout; retries with exponential backoff and full jitter on :class:`TransientError`
  and timeouts, honouring ``Retry-After`` (which also pauses new calls); a call that still fails
  comes back as ``ChatResult(text=None, error=...)`` -- one bad call never raises;
* each fresh answer is committed to the cache as it arrives (kill -9 loses only in-flight calls);
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
from collections.abc import Callable, Sequence

from referee.judging.cache import Cache
from referee.judging.ratelimit import TokenBucket
from referee.judging.types import Backend, ChatRequest, ChatResult, TransientError, Usage

OnResult = Callable[[int, ChatResult], None]
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
        """Answer ``requests``; results in request order (None: never run, a budget stopped the run)."""
        t0 = time.perf_counter()
        n = len(requests)
        usage = Usage()
        results: list[ChatResult | None] = [None] * n
        identity = self.backend.identity
        groups: dict[str, list[int]] = {}  # cache key -> request indices (duplicates are sent once)
        for i, req in enumerate(requests):
            groups.setdefault(Cache.key(identity, req), []).append(i)

        done = 0
        hits = self.cache.get_many(groups) if self.cache is not None else {}
        for key, res in hits.items():
            for i in groups[key]:
                results[i] = res
                if on_result is not None:
                    on_result(i, res)
            done += len(groups[key])
        usage.cache_hits = done
        if self.progress is not None:
            self.progress(done, n, usage)

        pending = iter([k for k in groups if k not in hits])
        state = _Run(self, usage)

        async def worker() -> None:
            nonlocal done
            for key in pending:
                if usage.stopped_by:
                    return
                idx = groups[key]
                res = await state.call(requests[idx[0]])
                if res is None:  # a budget stopped the run before this request was answered
                    return
                if self.cache is not None and res.error is None:
                    self.cache.put(key, res)
                for i in idx:
                    results[i] = res
                    if on_result is not None:
                        on_result(i, res)
                if res.error is not None:
                    usage.failures += len(idx)
                done += len(idx)
                if self.progress is not None:
                    self.progress(done, n, usage)

        n_workers = min(self.concurrency, len(groups) - len(hits))
        if n_workers > 0:
            try:
                async with asyncio.TaskGroup() as tg:
                    for _ in range(n_workers):
                        tg.create_task(worker())
            except BaseExceptionGroup as eg:  # e.g. on_result raised: the others were cancelled
                raise eg.exceptions[0] from None
        usage.extra["elapsed_s"] = time.perf_counter() - t0
        usage.extra["requests"] = n
        usage.extra["unique_requests"] = len(groups)
        return results, usage


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

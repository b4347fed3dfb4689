"""Shared types of the judge runner: one chat call in, one result out.

The engine (``engine.py``) runs :class:`ChatRequest` s against a :class:`Backend`
(an OpenAI-compatible HTTP endpoint, or the embedded local model) with
concurrency, rate limits, retries, a persistent cache and budgets, and reports
:class:`Usage`.  The runner (``run.py``) builds requests from templates and turns
results into the canonical comparisons table (or the scores table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """One chat-completion call.  Everything that changes the answer is in here (and in the cache key)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    temperature: float = 0.0
    max_tokens: int = 512
    logprobs: bool = False
    top_logprobs: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


@dataclass
class ChatResult:
    """What came back.  ``error`` is set (and ``text`` None) when the call failed for good."""

    text: str | None
    #: per generated token: (token, logprob, [(alternative token, logprob), ...]); None without logprobs
    logprobs: list[tuple[str, float, list[tuple[str, float]]]] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    retries: int = 0
    error: str | None = None
    finish_reason: str | None = None


class Backend(Protocol):
    """Something that answers chat requests: an HTTP endpoint or an in-process model."""

    #: identifies the endpoint + model in cache keys, e.g. "http://host/v1|gpt-4o-mini" or "local|<gguf sha>"
    identity: str

    async def complete(self, request: ChatRequest) -> ChatResult:
        """One call, no retries (the engine retries); raise TransientError for retryable failures."""
        ...

    async def check(self) -> None:
        """Fail fast (InputError with a clear message) on a wrong URL, model name or key."""
        ...


class WrappedBackend:
    """``inner`` under another cache ``identity``: every call, check and close goes to ``inner``, and
    any other attribute (``max_concurrency`` and the like) is read from it.

    A subclass overrides what differs (:meth:`complete`, the identity it passes up); closing a
    backend it made itself stays the caller's job (``inner.close()``).
    """

    def __init__(self, inner: Backend, identity: str) -> None:
        self.inner = inner
        self.identity = identity

    async def complete(self, request: ChatRequest) -> ChatResult:
        return await self.inner.complete(request)

    async def check(self) -> None:
        await self.inner.check()

    async def aclose(self) -> None:
        aclose = getattr(self.inner, "aclose", None)
        if aclose is not None:
            await aclose()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (e.g. while copying): no endless lookup
            raise AttributeError(name)
        return getattr(self.inner, name)


class TransientError(Exception):
    """A failure worth retrying: HTTP 429 / 5xx, timeouts, connection errors."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Usage:
    """Totals reported at the end of a run (and in the output metadata)."""

    calls: int = 0  # calls that reached the backend (retries included)
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0  # requests that failed after all retries
    unparsed: int = 0  # answers whose verdict could not be parsed (set by the runner)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    stopped_by: str | None = None  # "max_calls" | "max_tokens" | "max_cost" when a budget stopped the run
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The totals as the ``usage`` entry of a result's metadata (``extra``'s keys at top level)."""
        from dataclasses import asdict

        return {k: v for k, v in asdict(self).items() if k != "extra"} | dict(self.extra)

    def add(self, other: Usage) -> None:
        """Add ``other``'s totals to these (several runs reported as one: samples, panels, probes);
        the first budget that stopped one of them is kept."""
        for name in ("calls", "cache_hits", "retries", "failures", "unparsed", "prompt_tokens", "completion_tokens",
                     "cost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.stopped_by = self.stopped_by or other.stopped_by
        if other.extra.get("estimated_tokens"):
            self.extra["estimated_tokens"] = True

    def left(self, budgets: dict[str, Any]) -> dict[str, Any] | None:
        """What is left of ``budgets`` (``max_calls`` / ``max_tokens`` / ``max_cost``, None = no
        cap) after these totals, for the next run; None when one is spent or a budget stopped a run."""
        spent = {"max_calls": self.calls, "max_tokens": self.prompt_tokens + self.completion_tokens,
                 "max_cost": self.cost}
        out: dict[str, Any] = {}
        for name, cap in budgets.items():
            if cap is None:
                continue
            if cap - spent[name] <= 0 or self.stopped_by:
                return None
            out[name] = cap - spent[name]
        return out

"""Bounded resources for an arena on the open internet: body size, JSON depth, connections, timeouts.

Everything here plugs into the well-kept mechanisms -- an ASGI middleware and uvicorn's own
settings and protocol classes -- rather than a server of its own:

* **Body size, while reading** (:class:`BodyLimit`, an ASGI middleware): a request whose
  ``Content-Length`` exceeds the cap is answered 413 before a byte of its body is read; one
  without (chunked) has its ``http.request`` chunks counted as the app reads them, and the read
  that passes the cap raises the 413 -- so at most the cap plus one chunk (uvicorn pauses the
  socket beyond 64 KiB of unread body) is ever held.  Both answers say ``Connection: close``:
  the rest of the body is never read.
* **JSON depth, before parsing** (:func:`too_deep`): a body nested deeper than
  :data:`MAX_DEPTH` is refused by a byte scan, before the parser sees it.
* **Header timeout** (:func:`protocol_class`): uvicorn (0.29 to at least 0.54) times out only the
  keep-alive wait *after* a response; a socket that never sends a request line, or sends its
  headers a byte a minute, is held forever (one fd each).  The protocol class returned here is
  uvicorn's own (httptools when installed, else h11) with one timer added: from the moment a
  connection opens (or the first byte of its next request arrives) its request headers must be
  complete within ``header_timeout`` seconds, else the socket is closed -- nginx's
  ``client_header_timeout``.
* **Connections** (:func:`protocol_class`, :func:`connection_cap`): at most ``max_connections``
  sockets are held; when a new one would pass the cap, the oldest *idle* ones (waiting for
  request headers or in keep-alive) are closed to make room -- nginx's reuse of keep-alive
  connections when its ``worker_connections`` run out -- so idle sockets cannot lock new clients
  out.  Beyond the cap with every connection busy, uvicorn's ``limit_concurrency`` answers 503.
  The cap is kept below the process's file-descriptor limit (whose soft value is first raised to
  the hard one, :func:`raise_fd_limit`), so ``accept()`` never fails for want of descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024  # every JSON body the API takes is tiny
MAX_DEPTH = 32  # the API's bodies are flat objects: depth 1
FD_RESERVE = 128  # descriptors kept for the database, the refit worker's pipes, logs, static files
CLOSE = {"Connection": "close"}

__all__ = ["MAX_BODY", "MAX_DEPTH", "BodyLimit", "connection_cap", "protocol_class", "raise_fd_limit", "too_deep", "uvicorn_settings"]


# -- request bodies ---------------------------------------------------------------------------------
def body_too_large(max_body: int = MAX_BODY) -> HTTPException:
    """The 413 of a body over ``max_body`` bytes (the connection is closed after it); the app's
    handler of HTTP exceptions (:func:`referee.arena.http.install`) renders it as the API's JSON error."""
    return HTTPException(413, f"body larger than {max_body} bytes", dict(CLOSE))


class BodyLimit:
    """ASGI middleware: request bodies of at most ``max_body`` bytes, enforced before and while reading."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_body):
                err = body_too_large(self.max_body)
                headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", **(err.headers or {})}
                await JSONResponse({"detail": err.detail}, 413, headers)(scope, receive, send)
                return
        cap, seen = self.max_body, 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise body_too_large(cap)
            return message

        await self.app(scope, counted, send)


def too_deep(body: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays/objects deeper than ``max_depth``.

    Brackets inside strings do not count (a string is skipped from its opening quote to the
    next quote not preceded by an odd run of backslashes).  Bodies with no more than
    ``max_depth`` opening brackets in all -- every vote and login -- are answered by two
    C-speed counts without the scan.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth, i, n = 0, 0, len(body)
    find = body.find
    while i < n:
        c = body[i]
        if c == 0x22:  # '"': skip the string
            j = i + 1
            while True:
                j = find(b'"', j)
                if j < 0:
                    return False  # unterminated: the parser refuses it
                k = j - 1
                while body[k] == 0x5C:  # backslashes before the quote
                    k -= 1
                if (j - 1 - k) % 2 == 0:
                    break
                j += 1
            i = j + 1
            continue
        if c in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        elif c in (0x5D, 0x7D):
            depth -= 1
        i += 1
    return False


# -- connections --------------------------------------------------------------------------------------
def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the soft limit now."""
    try:
        import resource
    except ImportError:  # not POSIX
        return 1 << 16
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(max_connections: int, fd_limit: int) -> int:
    """``max_connections``, lowered to stay :data:`FD_RESERVE` descriptors under ``fd_limit`` (at least 16)."""
    return max(16, min(max_connections, fd_limit - FD_RESERVE))


def _base_protocol() -> type[asyncio.Protocol]:
    """uvicorn's ``http="auto"`` choice: httptools when installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def protocol_class(header_timeout: float, max_connections: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with a request-header deadline and idle-first eviction at the cap.

    Pass it as ``uvicorn.run(..., http=protocol_class(...))``.  A connection is *idle* while it
    has no request whose headers are complete and unanswered (``cycle`` is ``None`` or its
    response is complete) -- the two uvicorn protocol classes share that attribute.
    """
    base: Any = _base_protocol()
    live: OrderedDict[Any, None] = OrderedDict()  # this server's connections, oldest first

    class Protocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._deadline: asyncio.TimerHandle | None = None
            self._armed_for: Any = None
            live[self] = None
            if len(live) > max_connections:
                self._evict()
            self._arm()

        def _evict(self) -> None:
            """Close the oldest idle connections until this one fits under the cap."""
            for other in list(live):
                if len(live) <= max_connections:
                    break
                if other is not self and other._idle():
                    other.transport.close()
                    live.pop(other, None)
                    # uvicorn counts it until its connection_lost, a loop turn or more away: a burst
                    # of new connections would meet limit_concurrency's 503 while idle ones close
                    self.connections.discard(other)

        def _idle(self) -> bool:
            cycle = self.cycle
            return cycle is None or bool(cycle.response_complete)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._armed_for = self.cycle
            self._deadline = self.loop.call_later(header_timeout, self._expire)

        def _expire(self) -> None:
            self._deadline = None
            # no request got its headers since the timer was armed: close
            if self.cycle is self._armed_for and self._idle() and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            # between requests, the first byte of the next one starts its header deadline
            if self._idle() and (self._deadline is None or self._armed_for is not self.cycle):
                self._arm()
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            live.pop(self, None)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            super().connection_lost(exc)

    Protocol.__name__ = Protocol.__qualname__ = f"HeaderDeadline{base.__name__}"
    return Protocol


def uvicorn_settings(*, max_connections: int, header_timeout: float, keep_alive: float) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` that bound connections and their timeouts.

    The soft file-descriptor limit is raised first (:func:`raise_fd_limit`) and the cap kept below
    it (:func:`connection_cap`); ``limit_concurrency`` is one above the cap, so uvicorn answers 503
    only when every held connection is busy.  ``h11_max_incomplete_event_size`` bounds the
    request line and headers under h11 (httptools has its own fixed limits).
    """
    cap = connection_cap(max_connections, raise_fd_limit())
    return {
        "http": protocol_class(header_timeout, cap),
        "limit_concurrency": cap + 1,
        "timeout_keep_alive": max(1, round(keep_alive)),
        "h11_max_incomplete_event_size": 16 * 1024,
    }

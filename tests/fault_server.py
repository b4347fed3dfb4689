"""A real-socket OpenAI-compatible chat server with scripted faults, for the judge engine tests.

Serves ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 (a free port) from a
thread, answering each call by a *mode*:

``ok``               a chat completion (``answer`` text, optional logprobs, usage)
``429`` / ``500``    an error status (429 carries ``Retry-After: retry_after``)
``slow``             sleeps ``slow_s`` (past the client's timeout), then answers ``ok``
``truncated``        200 with the first half of a valid completion's JSON
``nonsense``         200 with a text body that is not JSON
``wrongshape``       200 with JSON that is not a chat completion
``garbage-verdict``  a valid completion whose content is random text
``401``              rejected key (also what every call gets when ``api_key`` is set and not sent)
``huge``             200 with a valid completion padded to ``huge_bytes`` (Content-Length announced)
``huge-chunked``     the same, chunked (no Content-Length: the client finds out while reading)
``drop``             closes the connection without answering
``badhttp``          answers bytes that are not an HTTP response

``tls`` (an ``ssl.SSLContext`` with a certificate loaded) serves ``https://`` instead.  A request in
absolute form (``POST http://judge.example/v1/...``, as clients send to an HTTP proxy) is served
as if it had reached that host, and logged with ``proxied_to``.

The mode of a call is the first of: ``rule(body)`` if it returns one, the next entry of the
``script`` queue, ``default``.  Every call is logged (thread-safe) with its start/end times,
body, mode and how many calls were in flight when it started.

    with FaultServer() as srv:
        srv.script("429", "500")       # the next two calls fail, then ``ok``
        ... OpenAIBackend(srv.url, "judge-1") ...
        assert len(srv.calls()) == 3
"""

from __future__ import annotations

import collections
import json
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Call:
    """One request the server saw."""

    path: str
    body: dict[str, Any] | None
    mode: str
    start: float
    in_flight: int  # calls in flight when this one started, itself included
    end: float | None = None
    answered: bool = False  # the full response was written
    proxied_to: str | None = None  # the host of an absolute-form request (the server acted as a proxy)

    @property
    def content(self) -> str:
        """The request's messages as one string (what identifies a judge call)."""
        msgs = (self.body or {}).get("messages") or []
        return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in msgs)


@dataclass
class FaultServer:
    """Start with ``start()`` (or ``with``), stop with ``stop()``.  Attributes may be changed between calls."""

    models: tuple[str, ...] = ("judge-1",)
    answer: str | Callable[[dict[str, Any]], str] = "[[A]]"
    #: per-token (token, logprob, [(alt, logprob), ...]); None: derived from the answer's words
    logprobs: list[tuple[str, float, list[tuple[str, float]]]] | None = None
    default: str = "ok"
    rule: Callable[[dict[str, Any]], str | None] | None = None
    retry_after: str | None = "0"
    slow_s: float = 2.0
    delay_s: float = 0.0  # added to every chat call (a slow but healthy judge)
    api_key: str | None = None
    completion_tokens: int | None = None  # None: one per word of the answer
    huge_bytes: int = 16 * 2**20 + 1  # the body size of the "huge" modes
    tls: ssl.SSLContext | None = None  # serve https:// with this (server-side) context

    _script: collections.deque[str] = field(default_factory=collections.deque)
    _log: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _in_flight: int = 0
    max_in_flight: int = 0
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The base URL a client uses (``http://127.0.0.1:PORT/v1``, ``https://`` with ``tls``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def script(self, *modes: str) -> None:
        """Queue modes for the next calls (in arrival order)."""
        with self._lock:
            self._script.extend(modes)

    def calls(self, path: str = "/v1/chat/completions") -> list[Call]:
        """A snapshot of the log (chat calls by default; ``path=""`` for all)."""
        with self._lock:
            return [c for c in self._log if not path or c.path == path]

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._script.clear()
            self.max_in_flight = 0

    def start(self) -> FaultServer:
        server = self

        class Handler(_Handler):
            srv = server

        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls is not None:
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes sleeping "slow" handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -------------------------------------------------------------------------------
    def _mode(self, body: dict[str, Any]) -> str:
        if self.rule is not None:
            mode = self.rule(body)
            if mode:
                return mode
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _completion(self, body: dict[str, Any], mode: str) -> dict[str, Any]:
        if mode == "garbage-verdict":
            rng = random.Random()
            text = " ".join("".join(rng.choices("abcdefghijklmnop ", k=8)) for _ in range(6))
        else:
            text = self.answer(body) if callable(self.answer) else self.answer
        words = text.split() or [text]
        msgs = body.get("messages") or []
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 1 for m in msgs)
        completion_tokens = self.completion_tokens if self.completion_tokens is not None else len(words)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if body.get("logprobs"):
            k = int(body.get("top_logprobs") or 0)
            toks = self.logprobs or [(w, -0.1, [(w, -0.1), ("x", -3.0)]) for w in words]
            choice["logprobs"] = {
                "content": [
                    {
                        "token": t,
                        "logprob": lp,
                        "bytes": list(t.encode()),
                        "top_logprobs": [
                            {"token": a, "logprob": alp, "bytes": list(a.encode())} for a, alp in alts[:k]
                        ],
                    }
                    for t, lp, alts in toks
                ]
            }
        return {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    srv: FaultServer
    protocol_version = "HTTP/1.1"  # keep-alive, like a real endpoint
    proxied_to: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_chunked(self, body: bytes, chunk: int = 2**16) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), chunk):
            part = body[i : i + chunk]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        err = {"error": {"message": message, "type": "fault_server", "code": status}}
        self._send(status, json.dumps(err).encode(), headers=headers)

    def parse_request(self) -> bool:
        """As the base class, and a proxy's absolute-form target (``POST http://host/v1/...``) becomes its path."""
        ok = super().parse_request()
        self.proxied_to = None
        if ok and self.path.startswith(("http://", "https://")):
            target = urlsplit(self.path)
            self.proxied_to, self.path = target.netloc, target.path or "/"
        return ok

    def _authorized(self) -> bool:
        key = self.srv.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    def do_GET(self) -> None:
        srv = self.srv
        with srv._lock:
            srv._log.append(Call(self.path, None, "models", time.monotonic(), srv._in_flight + 1, proxied_to=self.proxied_to))
        if not self._authorized():
            return self._error(401, "Incorrect API key provided")
        if self.path.rstrip("/") == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fault"} for m in srv.models]
            return self._send(200, json.dumps({"object": "list", "data": data}).encode())
        self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        srv = self.srv
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._error(400, "body is not JSON")
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        mode = "401" if not self._authorized() else srv._mode(body)
        with srv._lock:
            srv._in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv._in_flight)
            call = Call(self.path, body, mode, time.monotonic(), srv._in_flight, proxied_to=self.proxied_to)
            srv._log.append(call)
        try:
            self._answer(body, mode)
            call.answered = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client hung up
            self.close_connection = True
        finally:
            with srv._lock:
                srv._in_flight -= 1
                call.end = time.monotonic()

    def _answer(self, body: dict[str, Any], mode: str) -> None:
        srv = self.srv
        if srv.delay_s and srv._stop.wait(srv.delay_s):
            return
        if body.get("model") not in srv.models:
            return self._error(404, f"The model `{body.get('model')}` does not exist")
        if mode == "401":
            return self._error(401, "Incorrect API key provided")
        if mode == "429":
            headers = {"Retry-After": srv.retry_after} if srv.retry_after is not None else None
            return self._error(429, "Rate limit reached", headers)
        if mode in ("500", "502", "503"):
            return self._error(int(mode), "The server had an error")
        if mode == "slow":
            if srv._stop.wait(srv.slow_s):
                return
            mode = "ok"
        if mode == "nonsense":
            return self._send(200, b"<html>upstream says hello, this is not JSON</html>", "text/html")
        if mode == "wrongshape":
            return self._send(200, b'{"hello": "world"}')
        if mode == "drop":
            self.close_connection = True
            return
        if mode == "badhttp":
            self.wfile.write(b"SMTP ready, not HTTP at all\r\n\r\n")
            self.close_connection = True
            return
        completion = srv._completion(body, mode)
        if mode.startswith("huge"):
            completion["padding"] = ""
            pad = srv.huge_bytes - len(json.dumps(completion))
            completion["padding"] = "x" * max(0, pad)
        full = json.dumps(completion).encode()
        if mode == "huge-chunked":
            return self._send_chunked(full)
        if mode == "truncated":
            return self._send(200, full[: len(full) // 2])
        self._send(200, full)

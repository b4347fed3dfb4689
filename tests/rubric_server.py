"""A real-socket OpenAI-compatible rubric judge whose answers are scripted per criterion, for the rubric tests.

Serves ``GET /v1/models`` and ``POST /v1/chat/completions`` on 127.0.0.1 (a free port) from a thread.
Each chat call is read the way a rubric judge reads it: the criterion from the system message's
``Criterion: NAME`` line (a separate call) or every ``- NAME: ...`` rubric line (a joint call), and
the responses shown as A and B from the user message's tags.  The answer comes from
``verdict(criterion, response_a, response_b)`` (``response_b`` None pointwise), one line per
criterion (``NAME: verdict``) for a joint call.  Every call is logged (thread-safe).

    with RubricServer(verdict) as srv:
        judge(..., judge_spec={"url": srv.url, "model": "rubric-judge"}, rubric=...)
        assert len(srv.calls) == 16
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Verdict = Callable[[str, str, "str | None"], str]


def shown(user: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", user, re.S)
    return m.group(1) if m else None


class RubricServer:
    """Start with ``with`` (or ``start()`` / ``stop()``); ``calls`` lists (criteria, A, B) per chat call."""

    def __init__(self, verdict: Verdict, model: str = "rubric-judge") -> None:
        self.verdict = verdict
        self.model = model
        self.calls: list[tuple[tuple[str, ...], str | None, str | None]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> str:
        msgs = body["messages"]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        user = msgs[-1]["content"]
        one = re.search(r"^Criterion: (.+)$", system, re.M)
        names = (one.group(1).strip(),) if one else tuple(re.findall(r"^- ([^:\n]+):", system.split("Rubric:")[-1], re.M))
        a = shown(user, "assistant_a_response") or shown(user, "assistant_response")
        b = shown(user, "assistant_b_response")
        with self._lock:
            self.calls.append((names, a, b))
        if one:
            return f"Judging {names[0]}.\n" + self.verdict(names[0], a or "", b)
        return "Verdicts:\n" + "\n".join(f"{n}: {self.verdict(n, a or '', b)}" for n in names)

    def start(self) -> RubricServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                text = server.answer(body)
                self._send(200, {
                    "id": "chatcmpl-rubric", "object": "chat.completion", "created": int(time.time()),
                    "model": server.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                })  # fmt: skip

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RubricServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

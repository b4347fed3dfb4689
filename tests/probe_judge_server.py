"""A simulated judge with planted flip rates, served over real HTTP (OpenAI-compatible), for the probe tests.

Serves ``GET /v1/models`` and ``POST /v1/chat/completions`` on 127.0.0.1 (a free port) from a thread.
The judge knows the gold: a response containing ``GOOD`` is better than one without.  Its verdict is
the gold one, except that

* when one response carries a perturbation marker (:data:`referee.probing.perturb.MARKERS`) and is the
  worse one, it prefers that response with probability ``pairwise_flip`` (pairwise prompts) — or, for a
  pointwise prompt, rates the marked response above a good one with probability ``pointwise_flip``;
* with probability ``noise`` (independent of any marker) a pairwise verdict goes to a random side and a
  pointwise score gets ±1 — an unbiased but noisy judge when the flip rates are 0.

Every draw is seeded by SHA-256 of (``seed``, the request's text), so the same request gets the same
answer and the two presentation orders of a pair draw independently.  Answers follow the template
the request was rendered with: ``[[A]]`` / ``[[B]]`` / ``[[C]]`` (``pairwise``), a bare ``A`` / ``B``
(``pairwise-logprob``), ``[[A>B]]`` (``pairwise-graded``), ``Rating: [[N]]`` (``pointwise-10``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from referee.probing.perturb import MARKERS

PAIR_PATTERNS = (
    re.compile(r"<assistant_a_response>\n(.*?)\n</assistant_a_response>.*<assistant_b_response>\n(.*?)\n"
               r"</assistant_b_response>", re.S),
    re.compile(r"## Output A\n(.*?)\n\n## Output B\n(.*?)\n\n## Task", re.S),
    re.compile(r"<\|The Start of Assistant A's Answer\|>\n(.*?)\n<\|The End of Assistant A's Answer\|>.*"
               r"<\|The Start of Assistant B's Answer\|>\n(.*?)\n<\|The End of Assistant B's Answer\|>", re.S),
)
ONE = re.compile(r"<assistant_response>\n(.*?)\n</assistant_response>", re.S)
ALL_MARKERS = tuple(m for ms in MARKERS.values() for m in ms)


def marked(text: str) -> bool:
    return any(m in text for m in ALL_MARKERS)


def good(text: str) -> bool:
    return "GOOD" in text


@dataclass
class ProbeJudgeServer:
    pairwise_flip: float = 0.35
    pointwise_flip: float = 0.09
    noise: float = 0.0
    seed: int = 0
    model: str = "sim-judge"
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- the judge -------------------------------------------------------------------------------
    def draws(self, text: str) -> tuple[float, float, float]:
        d = hashlib.sha256(f"{self.seed}\x1f{text}".encode()).digest()
        return tuple(int.from_bytes(d[i:i + 8], "big") / 2**64 for i in (0, 8, 16))  # type: ignore[return-value]

    def answer(self, system: str, user: str) -> str:
        u_flip, u_noise, u_side = self.draws(system + "\n" + user)
        one = ONE.search(user)
        if one is not None:
            text = one.group(1)
            score = 8 if good(text) else 3
            if marked(text) and not good(text) and u_flip < self.pointwise_flip:
                score = 9
            if u_noise < self.noise:
                score += 1 if u_side < 0.5 else -1
            return f"A fine answer. Rating: [[{score}]]"
        for pattern in PAIR_PATTERNS:
            m = pattern.search(user)
            if m is not None:
                a, b = m.group(1), m.group(2)
                break
        else:
            return "I cannot tell."
        qa, qb = good(a), good(b)
        side = "A" if qa and not qb else "B" if qb and not qa else "C"
        if qa != qb:
            worse_marked = (marked(b) and qa) or (marked(a) and qb)
            if worse_marked and u_flip < self.pairwise_flip:
                side = "B" if qa else "A"
        if u_noise < self.noise:
            side = "A" if u_side < 0.5 else "B"
        if "single letter" in system:
            return "B" if side == "B" else "A"
        if "[[A>>B]]" in system:
            return {"A": "My final verdict is: [[A>B]]", "B": "My final verdict is: [[B>A]]"}.get(side, "[[A=B]]")
        return f"Verdict: [[{side}]]"

    # -- HTTP ------------------------------------------------------------------------------------
    def start(self) -> ProbeJudgeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stalls

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                msgs = body.get("messages") or []
                system = "\n".join(m["content"] for m in msgs if m.get("role") == "system")
                user = "\n".join(m["content"] for m in msgs if m.get("role") == "user")
                text = server.answer(system, user)
                with server._lock:
                    server.calls.append(user)
                self._send(200, {
                    "id": "sim", "object": "chat.completion", "model": server.model,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": 4,
                              "total_tokens": len(user) // 4 + 4},
                })  # fmt: skip

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ProbeJudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Run ``referee arena serve`` as a real server process on a loopback port, for the arena tests."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _proc import stop, wait_ready
from llama_server import free_port

ADMIN_TOKEN = "test-admin-token-0123456789"
REFEREE = [sys.executable, "-m", "referee.cli"]


def write_outputs(path: Path, models: list[str], prompts: int, seed: int = 0, texts: dict[str, str] | None = None) -> Path:
    """A generic outputs JSONL: every model answers ``prompts`` prompts (Markdown, varied lengths)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for m in models:
            for i in range(prompts):
                text = (texts or {}).get(m) or (
                    f"Here is my answer to question {i}.\n\n- first point\n- second point\n\n"
                    + " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rng.randint(5, 60)))
                )
                f.write(json.dumps({"model": m, "prompt_id": f"q{i}", "prompt": f"Question {i}: explain topic {i}.",
                                    "response": text}) + "\n")
    return path


@dataclass
class ArenaServer:
    url: str
    db: str
    proc: subprocess.Popen[bytes]
    log: Path

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        """One HTTP request; returns ``(status, parsed JSON or text)``."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = dict(headers or {})
        if data is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, payload = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode("utf-8", "replace")

    def invite(self, name: str) -> str:
        out = subprocess.run([*REFEREE, "arena", "invite", "--db", self.db, "--name", name],
                             capture_output=True, text=True, check=True, timeout=60)
        return out.stdout.strip()

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@contextlib.contextmanager
def arena_server(db: str, outputs: list[Path] | None = None, *, args: list[str] | None = None,
                 admin_token: str | None = ADMIN_TOKEN, log_dir: Path, port: int | None = None,
                 preexec_fn: Any = None) -> Iterator[ArenaServer]:
    """Start the server, wait for ``/healthz``, yield it; stop it afterwards (SIGTERM, then SIGKILL).

    ``preexec_fn`` runs in the server process before it starts (e.g. to lower its file limit)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k != "REFEREE_ADMIN_TOKEN"}
    if admin_token:
        env["REFEREE_ADMIN_TOKEN"] = admin_token
    cmd = [*REFEREE, "arena", "serve", "--db", db, "--port", str(port), *(args or [])]
    for o in outputs or []:
        cmd += ["--outputs", str(o)]
    log = log_dir / f"arena-{port}.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
    server = ArenaServer(f"http://127.0.0.1:{port}", db, proc, log)
    try:
        wait_ready(proc, lambda: server.request("GET", "/healthz")[0] == 200, timeout=60, name="arena server",
                   log_tail=lambda: log.read_text()[-3000:])
        yield server
    finally:
        stop(proc)

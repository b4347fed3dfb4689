"""Run ``referee arena serve`` as a real server process on a loopback port, for the arena tests."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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


def raw_request(
    url: str, method: str, path: str, body: Any = None, *, token: str | None = None, cookie: str | None = None,
    csrf: str | None = None, headers: dict[str, str] | None = None, raw: bytes | None = None,
    content_type: str | None = "application/json", chunked: bool = False, timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection to the server at ``url``, redirects not followed;
    ``(status, headers with lower-case names, raw body)``.

    The body is ``raw`` as given, else ``body`` as JSON; a body gets ``Content-Type: content_type``
    unless ``headers`` name one (``content_type=None``: none).  ``token`` is sent as a bearer token,
    ``cookie`` as the session cookie, ``csrf`` as ``X-CSRF-Token``; ``chunked`` sends the body as two
    chunks without ``Content-Length``.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = dict(headers or {})
    if data is not None and content_type:
        h.setdefault("Content-Type", content_type)
    if token:
        h["Authorization"] = f"Bearer {token}"
    if cookie:
        h["Cookie"] = f"referee_session={cookie}"
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    try:
        if chunked:
            assert data is not None, "a chunked request needs a body"
            half = len(data) // 2
            conn.request(method, path, body=iter([data[:half], data[half:]]), headers=h, encode_chunked=True)
        else:
            conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def call(server: ArenaServer, method: str, path: str, body: Any = None, **options: Any) -> tuple[int, dict[str, str], bytes]:
    """:func:`raw_request` to ``server``."""
    return raw_request(server.url, method, path, body, **options)


def fresh_databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """``make_db(name)`` -> the URL of a fresh, empty database on the backend ``request.param`` names:
    ``"sqlite"`` (a file in a new temporary folder) or ``"postgres"`` (a new database on the server of
    the ``pg_url`` fixture, skipped with the reason where PostgreSQL is not installed)."""
    if request.param == "sqlite":
        root = tmp_path_factory.mktemp("arena-sqlite")
        return lambda name: f"sqlite:///{root / name}.db"
    url = str(request.getfixturevalue("pg_url"))

    def make_db(name: str) -> str:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return url.rsplit("/", 1)[0] + "/" + name

    return make_db


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

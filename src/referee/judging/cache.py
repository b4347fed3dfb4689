"""Content-addressed SQLite cache of judge answers.

The key is the sha256 of a canonical JSON of the backend identity (endpoint + model) and
everything in a :class:`ChatRequest` that changes the answer.  Each answer is committed as it
arrives (WAL journal), so a killed run loses at most the calls that were in flight.  Failed
results are never cached: a re-run retries them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from referee.judging.types import ChatRequest, ChatResult

_BATCH = 500  # keys per SELECT ... IN (...) (SQLite allows 999+ host parameters)
_VERSION = "v1"


def default_cache_path() -> Path:
    """``$REFEREE_CACHE``, else ``$XDG_CACHE_HOME/referee/judge.sqlite`` (``~/.cache`` by default)."""
    env = os.environ.get("REFEREE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if os.name == "nt" else None
    )
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "referee" / "judge.sqlite"


def _encode(r: ChatResult) -> str:
    return json.dumps(
        [r.text, r.logprobs, r.prompt_tokens, r.completion_tokens, r.finish_reason],
        separators=(",", ":"),  # ASCII escapes: any str survives, lone surrogates included
    )


def _decode(value: str) -> ChatResult:
    text, lps, pt, ct, fr = json.loads(value)
    if lps is not None:
        lps = [(t, lp, [(a, alp) for a, alp in alts]) for t, lp, alts in lps]
    return ChatResult(text, lps, pt, ct, cached=True, finish_reason=fr)


class Cache:
    """One SQLite file; safe to share between threads (one connection behind a lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process, fast commits
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.hits = 0
        self.writes = 0

    @staticmethod
    def key(identity: str, request: ChatRequest) -> str:
        """sha256 of identity + messages + decoding parameters (canonical JSON)."""
        payload = [
            _VERSION,
            identity,
            [list(m) for m in request.messages],
            float(request.temperature),
            request.max_tokens,
            bool(request.logprobs),
            request.top_logprobs,
            request.seed,
            list(request.stop),
        ]
        blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> ChatResult | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        return _decode(row[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, ChatResult]:
        """The cached answers among ``keys`` (one query per 500 keys)."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, ChatResult] = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i : i + _BATCH]
            sql = f"SELECT key, value FROM answers WHERE key IN ({','.join('?' * len(chunk))})"
            with self._lock:
                rows = self._db.execute(sql, chunk).fetchall()
            for k, v in rows:
                found[k] = _decode(v)
        self.hits += len(found)
        return found

    def put(self, key: str, result: ChatResult) -> None:
        """Store and commit one answer now; failed results (error set or no text) are skipped."""
        if result.error is not None or result.text is None:
            return
        value = _encode(result)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", (key, value))
        self.writes += 1

    def put_many(self, items: Iterable[tuple[str, ChatResult]]) -> None:
        """Store and commit several answers in one transaction (a group commit); failed ones are skipped."""
        rows = [(k, _encode(r)) for k, r in items if r.error is None and r.text is not None]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self.writes += len(rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone() is not None

    def stats(self) -> dict[str, int | str]:
        return {"path": str(self.path), "entries": len(self), "hits": self.hits, "writes": self.writes}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The content-addressed SQLite cache of judge answers."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from referee.judging.cache import Cache, default_cache_path
from referee.judging.types import ChatRequest, ChatResult

REQ = ChatRequest((("system", "be fair"), ("user", "A or B?")), temperature=0.0, max_tokens=32)
ANSWER = ChatResult(
    "[[B]]",
    logprobs=[("[[", -0.01, [("[[", -0.01)]), ("B", -0.3, [("B", -0.3), ("A", -1.4)])],
    prompt_tokens=12,
    completion_tokens=3,
    finish_reason="stop",
)


@pytest.fixture
def cache(tmp_path):
    with Cache(tmp_path / "sub" / "judge.sqlite") as c:
        yield c


def test_key_is_stable_and_covers_everything_that_changes_the_answer():
    k = Cache.key("http://h/v1|m", REQ)
    assert k == Cache.key("http://h/v1|m", ChatRequest(REQ.messages, temperature=0, max_tokens=32))
    assert len(k) == 64 and int(k, 16) >= 0
    variants = [
        ("http://h/v1|other", REQ),
        ("http://other/v1|m", REQ),
        ("http://h/v1|m", dataclasses.replace(REQ, messages=(("user", "A or B?"),))),
        ("http://h/v1|m", dataclasses.replace(REQ, messages=(("system", "be fair"), ("user", "B or A?")))),
        ("http://h/v1|m", dataclasses.replace(REQ, temperature=0.7)),
        ("http://h/v1|m", dataclasses.replace(REQ, max_tokens=33)),
        ("http://h/v1|m", dataclasses.replace(REQ, logprobs=True)),
        ("http://h/v1|m", dataclasses.replace(REQ, top_logprobs=5)),
        ("http://h/v1|m", dataclasses.replace(REQ, seed=1)),
        ("http://h/v1|m", dataclasses.replace(REQ, stop=("\n",))),
    ]
    keys = {Cache.key(i, r) for i, r in variants}
    assert len(keys) == len(variants) and k not in keys


def test_put_get_roundtrip_marks_cached(cache):
    k = Cache.key("id", REQ)
    assert cache.get(k) is None and k not in cache
    cache.put(k, ANSWER)
    got = cache.get(k)
    assert got == dataclasses.replace(ANSWER, cached=True)
    assert got.logprobs[1][2][1] == ("A", -1.4) and k in cache and len(cache) == 1


def test_failed_results_are_not_cached(cache):
    cache.put("a", ChatResult(None, error="HTTP 500 after 7 attempts"))
    cache.put("b", ChatResult("partial", error="timeout"))
    assert len(cache) == 0 and cache.get("a") is None


def test_get_many_batches_large_key_sets(cache):
    keys = [f"k{i}" for i in range(1234)]
    for i, k in enumerate(keys[::2]):
        cache.put(k, ChatResult(f"answer {i}"))
    found = cache.get_many([*keys, "missing", *keys[:10]])  # duplicates and misses are fine
    assert set(found) == set(keys[::2]) and found["k4"].text == "answer 2" and found["k4"].cached


def test_each_put_is_committed_at_once_in_wal_mode(tmp_path):
    path = tmp_path / "judge.sqlite"
    writer = Cache(path)
    writer.put("k", ANSWER)
    other = sqlite3.connect(path)  # another process's view, before the writer closes
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1
    other.close()
    writer.close()
    with Cache(path) as again:
        assert again.get("k").text == "[[B]]"


def test_unicode_and_odd_text_survive(cache):
    text = "Ünïcödé ✓ — \"quotes\" \\ back\nslash\x00nul 😀 \udc80"
    req = ChatRequest((("user", "lone surrogate \ud800 and emoji 😀"),))
    k = Cache.key("id", req)
    cache.put(k, ChatResult(text))
    assert cache.get(k).text == text


def test_threads_can_share_one_cache(cache):
    def work(t: int) -> None:
        for i in range(100):
            cache.put(f"{t}-{i}", ChatResult(str(i)))
            cache.get(f"{t}-{i // 2}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(cache) == 400


def test_default_cache_path(monkeypatch, tmp_path):
    monkeypatch.setenv("REFEREE_CACHE", str(tmp_path / "x.sqlite"))
    assert default_cache_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("REFEREE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "referee" / "judge.sqlite"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_path() == Path.home() / ".cache" / "referee" / "judge.sqlite"

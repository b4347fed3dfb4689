"""Throttled logins, strong admin tokens and login links from ``--public-url`` (issue 16, part 3),
against a real ``referee arena serve`` process (SQLite: none of this depends on the database).

Failed logins (``POST /api/login``, ``/login?token=``, a wrong bearer token) are counted per client
address and per token prefix, in this process's memory; over the limit every attempt from there is
a 429 with ``Retry-After``, a right token included.  The client address is what uvicorn reports:
behind a proxy on this host, the ``X-Forwarded-For`` it sets (uvicorn trusts it from 127.0.0.1
only), which is how these tests play clients at other addresses.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena_server import ADMIN_TOKEN, REFEREE, ArenaServer, arena_server, call, write_outputs

MODELS = ["mod-x", "mod-y"]
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def at(address: str) -> dict[str, str]:
    """Headers of a request relayed by a proxy on this host for a client at ``address``."""
    return {"X-Forwarded-For": address}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_outputs(tmp_path_factory.mktemp("throttle-out") / "outputs.jsonl", MODELS, prompts=2, seed=6)


@pytest.fixture(scope="module")
def server(outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArenaServer]:
    d = tmp_path_factory.mktemp("throttle")
    with arena_server(f"sqlite:///{d / 'arena.db'}", [outputs], log_dir=d) as srv:
        yield srv


def invite(server: ArenaServer, name: str) -> str:
    status, _, body = call(server, "POST", "/api/admin/invite", {"name": name}, token=ADMIN_TOKEN)
    assert status == 200, body
    return str(json.loads(body)["token"])


# -- throttling ------------------------------------------------------------------------------------
def test_300_wrong_logins_yield_429_with_retry_after(server: ArenaServer) -> None:
    token = invite(server, "patient")
    me = at("203.0.113.7")
    statuses: list[int] = []
    retry: list[int] = []
    t0 = time.perf_counter()
    for i in range(300):
        status, headers, body = call(server, "POST", "/api/login", {"token": f"guess-{i:04d}-{os.urandom(6).hex()}"},
                                     headers=me)
        statuses.append(status)
        if status == 429:
            retry.append(int(headers["retry-after"]))
            assert "too many failed logins" in json.loads(body)["detail"]
    elapsed = time.perf_counter() - t0
    print(f"300 wrong logins in {elapsed:.2f} s: {statuses.count(401)} x 401, {statuses.count(429)} x 429, "
          f"Retry-After {min(retry)}-{max(retry)} s")
    assert set(statuses) == {401, 429}
    assert statuses.count(429) >= 250 and statuses[0] == 401
    assert all(r >= 1 for r in retry)
    # while blocked, the right token from there is refused too (else the 429s would leak which guess was right)
    assert call(server, "POST", "/api/login", {"token": token}, headers=me)[0] == 429
    assert call(server, "GET", "/login?token=" + token, headers=me)[0] == 429
    assert call(server, "GET", "/api/battle", token=token, headers=me)[0] == 429
    # another address is not blocked
    assert call(server, "POST", "/api/login", {"token": token}, headers=at("198.51.100.9"))[0] == 200
    assert call(server, "GET", "/api/battle", token=token, headers=at("198.51.100.9"))[0] == 200


def test_wrong_bearer_tokens_and_invite_links_count_too(server: ArenaServer) -> None:
    me = at("203.0.113.8")
    statuses = [call(server, "GET", "/api/battle", token=f"rfa_{i:06d}{os.urandom(6).hex()}", headers=me)[0]
                for i in range(150)]
    assert statuses[0] == 401 and statuses.count(429) >= 100, statuses
    me = at("203.0.113.9")
    statuses = [call(server, "GET", f"/login?token=rfa_{i:06d}{os.urandom(6).hex()}", headers=me)[0] for i in range(150)]
    assert statuses[0] == 200 and statuses.count(429) >= 100, statuses  # the login page says "not valid", then 429


def test_one_token_prefix_from_many_addresses_is_throttled(server: ArenaServer) -> None:
    statuses = [call(server, "POST", "/api/login", {"token": f"rfa_SAMEPREFIX{i}"}, headers=at(f"10.1.{i // 250}.{i % 250}"))[0]
                for i in range(100)]
    assert statuses[0] == 401 and statuses.count(429) >= 50, statuses


# -- admin tokens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("weak", ["aaaaaaaaaaaaaaaa", " " * 16, "abcabcabcabcabcabc", "short-Tok3n!", "0123456789 abcdefgh"])
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_weak_admin_token_is_refused(weak: str, host: str, outputs: Path, tmp_path: Path) -> None:
    env = {**os.environ, "REFEREE_ADMIN_TOKEN": weak}
    dbfile = tmp_path / "arena.db"
    try:
        proc = subprocess.run([*REFEREE, "arena", "serve", "--host", host, "--port", "1", "--db", f"sqlite:///{dbfile}",
                               "--outputs", str(outputs)], capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server started with the admin token {weak!r}")
    assert proc.returncode == 2, proc.stderr
    assert "REFEREE_ADMIN_TOKEN" in proc.stderr and GENERATE in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not dbfile.exists()


def test_weak_admin_token_is_refused_by_the_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import referee.arena
    from referee.errors import InputError

    monkeypatch.setenv("ARENA_TEST_TOKEN", "aaaaaaaaaaaaaaaa")
    with pytest.raises(InputError, match=r"secrets\.token_urlsafe"):
        referee.arena.serve(db=f"sqlite:///{tmp_path / 'a.db'}", admin_token_env="ARENA_TEST_TOKEN")
    monkeypatch.setenv("ARENA_TEST_TOKEN", "x7-Qm2_Lp9zR4tKw8")  # 17 characters, 15 distinct: fine
    assert referee.arena.admin_token_from_env("ARENA_TEST_TOKEN", "0.0.0.0") == "x7-Qm2_Lp9zR4tKw8"


# -- login links -----------------------------------------------------------------------------------
def test_invite_links_use_public_url_never_the_host_header(outputs: Path, tmp_path: Path) -> None:
    evil = {"Host": "evil.example"}
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    with arena_server(db, [outputs], args=["--public-url", "https://arena.example.org/vote/"], log_dir=tmp_path) as srv:
        status, _, body = call(srv, "POST", "/api/admin/invite", {"name": "linked"}, token=ADMIN_TOKEN, headers=evil)
        out = json.loads(body)
        assert status == 200 and out["link"] == f"https://arena.example.org/vote/login?token={out['token']}", out
    with arena_server(db, log_dir=tmp_path) as srv:  # no --public-url: the address the server listens on
        status, _, body = call(srv, "POST", "/api/admin/invite", {"name": "local"}, token=ADMIN_TOKEN, headers=evil)
        out = json.loads(body)
        assert status == 200 and out["link"] == f"{srv.url}/login?token={out['token']}", out
    proc = subprocess.run([*REFEREE, "arena", "invite", "--db", db, "--name", "cli", "--public-url", "https://arena.example.org"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"https://arena.example.org/login?token={proc.stdout.strip()}"
    for bad in ("arena.example.org", "ftp://arena.example.org", "https://", "https://a.example/?x=1"):
        proc = subprocess.run([*REFEREE, "arena", "serve", "--db", db, "--public-url", bad, "--port", "1"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "--public-url" in proc.stderr, (bad, proc.stderr)


# -- the pieces, without a server -------------------------------------------------------------------
def test_admin_token_rules() -> None:
    from referee.arena.security import admin_token_problem

    for weak in ("aaaaaaaaaaaaaaaa", " " * 16, "short", "abcabcabcabcabcabc", "0123456789 abcdefgh", "x7-Qm2_Lp9zR4tK\t"):
        assert admin_token_problem(weak), weak
    for strong in ("x7-Qm2_Lp9zR4tKw", "test-admin-token-0123456789", "0123456789abcdef"):
        assert admin_token_problem(strong) is None, strong


def test_limiter_memory_is_bounded_and_throttle_counts_failures_only() -> None:
    from referee.arena.security import LoginThrottle, RateLimiter

    rl = RateLimiter(1.0, 2.0, max_keys=100)
    for i in range(10_000):  # made-up keys (token prefixes) cannot grow the table past max_keys
        rl.allow(f"k{i}", now=float(i) / 1000)
    assert len(rl.buckets) <= 100
    assert rl.wait("k9999", now=10.0) == 0.0 and rl.allow("k9999", now=10.0) == 0.0
    assert rl.allow("k9999", now=10.0) > 0 and rl.wait("k9999", now=10.0) > 0  # wait() counts nothing
    assert rl.wait("k9999", now=10.0) == rl.wait("k9999", now=10.0)

    th = LoginThrottle()
    assert th.wait("a", "rfa_token", now=0.0) == 0.0
    for _ in range(int(th.ADDRESS_BURST)):
        assert th.wait("a", f"x{_:012d}", now=0.0) == 0.0
        th.failed("a", f"x{_:012d}", now=0.0)
    assert th.wait("a", "rfa_right", now=0.0) == pytest.approx(1 / th.ADDRESS_RATE)
    assert th.wait("b", "rfa_right", now=0.0) == 0.0
    assert th.wait("a", "rfa_right", now=1 / th.ADDRESS_RATE) == 0.0  # one more try after the refill time


def test_link_base() -> None:
    from referee.arena.security import link_base
    from referee.errors import InputError

    assert link_base(None, "127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert link_base(None, "::1", 8000) == "http://[::1]:8000"
    assert link_base(None, "0.0.0.0", 8000) is None  # relative links rather than a guess
    assert link_base("https://arena.example.org/x/", "0.0.0.0", 8000) == "https://arena.example.org/x"
    for bad in ("arena.example.org", "javascript:alert(1)", "https://", "https://a.example/#f"):
        with pytest.raises(InputError, match="public_url must be an http"):
            link_base(bad, "0.0.0.0", 8000)

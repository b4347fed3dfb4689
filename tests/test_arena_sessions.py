"""Sessions you can end (issue 16, part 1), against a real ``referee arena serve`` process.

Every test runs on SQLite and on a real PostgreSQL server (the session records live in the
database): logout ends the session (the same cookie is refused afterwards) and needs the CSRF
token; ``referee arena revoke`` (and the admin API and the admin page's form) ends every session
and the bearer token of an annotator at once, with no cache window, and a revoked annotator
cannot log in again; restarting with a new admin token ends every admin session; a cookie signed
with a future issue time, or older than ``--session-hours``, is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from arena_server import ADMIN_TOKEN, REFEREE, ArenaServer, arena_server, call, fresh_databases, write_outputs

MODELS = ["mod-x", "mod-y", "mod-z"]
_names = itertools.count()


def login(server: ArenaServer, token: str) -> str:
    """Log in with ``token``; the session cookie's value."""
    status, headers, body = call(server, "POST", "/api/login", {"token": token})
    assert status == 200, body
    return headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]


def csrf_of(server: ArenaServer, cookie: str, page: str = "/") -> str:
    """The CSRF token a page carries for the session of ``cookie``."""
    status, _, html = call(server, "GET", page, cookie=cookie)
    assert status == 200, (page, status)
    m = re.search(r'<meta name="csrf-token" content="([^"]*)">', html.decode())
    assert m and m.group(1), "the page carries a CSRF token"
    return m.group(1)


def invite(server: ArenaServer) -> tuple[str, str]:
    name = f"ann-{next(_names)}"
    status, _, body = call(server, "POST", "/api/admin/invite", {"name": name}, token=ADMIN_TOKEN)
    assert status == 200, body
    return name, json.loads(body)["token"]


def secret_of(db: str) -> bytes:
    from referee.arena.store import Store

    store = Store(db, create=False)
    try:
        return store.secret
    finally:
        store.close()


def resign(secret: bytes, cookie: str, issued: float) -> str:
    """``cookie``'s payload signed again under ``secret`` as if issued at ``issued`` (a Unix time)."""
    kw = {"digest_method": hashlib.sha256}
    payload = URLSafeTimedSerializer(secret, salt="referee-arena-session", signer_kwargs=kw).loads(cookie)

    class Clock(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(issued)

    return URLSafeTimedSerializer(secret, salt="referee-arena-session", signer=Clock, signer_kwargs=kw).dumps(payload)


# -- servers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def make_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """``make_db(name)`` -> a fresh, empty database URL on this backend."""
    return fresh_databases(request, tmp_path_factory)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_outputs(tmp_path_factory.mktemp("sessions-out") / "outputs.jsonl", MODELS, prompts=3, seed=5)


@pytest.fixture(scope="module")
def server(make_db: Callable[[str], str], outputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArenaServer]:
    d = tmp_path_factory.mktemp("sessions")
    with arena_server(make_db("sessions_main"), [outputs], args=["--rate-limit", "0"], log_dir=d) as srv:
        yield srv


# -- tests -----------------------------------------------------------------------------------------
def test_cookie_is_dead_after_logout_which_needs_csrf(server: ArenaServer) -> None:
    _, token = invite(server)
    cookie = login(server, token)
    assert call(server, "GET", "/api/battle", cookie=cookie)[0] == 200
    csrf = csrf_of(server, cookie)
    # logout with the cookie but without (or with a wrong) CSRF token: refused, the session lives on
    assert call(server, "POST", "/api/logout", {}, cookie=cookie)[0] == 403
    assert call(server, "POST", "/api/logout", {}, cookie=cookie, csrf=csrf + "x")[0] == 403
    assert call(server, "GET", "/api/battle", cookie=cookie)[0] == 200
    status, headers, _ = call(server, "POST", "/api/logout", {}, cookie=cookie, csrf=csrf)
    assert status == 200 and headers["set-cookie"].startswith("referee_session=")
    # the very same cookie, replayed: dead on the API and on the pages
    assert call(server, "GET", "/api/battle", cookie=cookie)[0] == 401
    status, headers, _ = call(server, "GET", "/", cookie=cookie)
    assert status == 303 and headers["location"] == "/login"
    # another session of the same annotator is not affected; the token still logs in
    assert call(server, "GET", "/api/battle", cookie=login(server, token))[0] == 200


def test_revoke_ends_bearer_token_and_every_session_at_once(server: ArenaServer) -> None:
    name, token = invite(server)
    cookies = [login(server, token), login(server, token)]
    assert call(server, "GET", "/api/battle", token=token)[0] == 200
    assert all(call(server, "GET", "/api/battle", cookie=c)[0] == 200 for c in cookies)
    bystander_name, bystander = invite(server)

    out = subprocess.run([*REFEREE, "arena", "revoke", "--db", server.db, "--name", name],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert name in out.stderr and "2 sessions" in out.stderr, out.stderr
    # effective immediately (no cache window): the very next request of each kind is refused
    assert call(server, "GET", "/api/battle", token=token)[0] == 401
    assert all(call(server, "GET", "/api/battle", cookie=c)[0] == 401 for c in cookies)
    assert call(server, "POST", "/api/login", {"token": token})[0] == 401  # no fresh login either
    status, _, page = call(server, "GET", "/login?token=" + token)
    assert status == 200 and b"not valid" in page
    assert call(server, "GET", "/api/battle", token=bystander)[0] == 200  # nobody else

    # a name that is not there: a clear error, exit 2
    out = subprocess.run([*REFEREE, "arena", "revoke", "--db", server.db, "--name", "nobody-at-all"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "nobody-at-all" in out.stderr and "Traceback" not in out.stderr, out.stderr

    # the admin API does the same
    cookie = login(server, bystander)
    status, _, body = call(server, "POST", "/api/admin/revoke", {"name": bystander_name}, token=ADMIN_TOKEN)
    assert status == 200 and json.loads(body)["sessions"] == 1, body
    assert call(server, "GET", "/api/battle", token=bystander)[0] == 401
    assert call(server, "GET", "/api/battle", cookie=cookie)[0] == 401
    assert call(server, "POST", "/api/admin/revoke", {"name": "nobody-at-all"}, token=ADMIN_TOKEN)[0] == 404
    assert call(server, "POST", "/api/admin/revoke", {"name": "x"}, token=bystander)[0] == 401


def test_admin_page_revoke_button_needs_csrf(server: ArenaServer) -> None:
    name, token = invite(server)
    victim = login(server, token)
    admin = login(server, ADMIN_TOKEN)
    status, _, page = call(server, "GET", "/admin", cookie=admin)
    assert status == 200 and b'action="/admin/revoke"' in page
    csrf = csrf_of(server, admin, "/admin")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # without the CSRF field, with a wrong one, or from an annotator's session: refused, nothing revoked
    for fields, who in (({"name": name}, admin), ({"name": name, "csrf": csrf + "x"}, admin),
                        ({"name": name, "csrf": csrf_of(server, victim)}, victim)):
        status, _, _ = call(server, "POST", "/admin/revoke", raw=urlencode(fields).encode(), cookie=who, headers=form)
        assert status == 403, (fields, status)
    assert call(server, "GET", "/api/battle", token=token)[0] == 200
    status, _, page = call(server, "POST", "/admin/revoke", raw=urlencode({"name": name, "csrf": csrf}).encode(),
                           cookie=admin, headers=form)
    assert status == 200 and f"Revoked {name}".encode() in page, page[-2000:]
    assert call(server, "GET", "/api/battle", token=token)[0] == 401
    assert call(server, "GET", "/api/battle", cookie=victim)[0] == 401


def test_future_dated_and_too_old_cookies_are_refused(make_db: Callable[[str], str], outputs: Path, tmp_path: Path) -> None:
    db = make_db(f"sessions_age_{next(_names)}")
    with arena_server(db, [outputs], args=["--session-hours", "1"], log_dir=tmp_path) as srv:
        _, token = invite(srv)
        cookie = login(srv, token)
        status, headers, _ = call(srv, "POST", "/api/login", {"token": token})
        assert "max-age=3600" in headers["set-cookie"].lower()
        secret = secret_of(db)
        now = time.time()
        assert call(srv, "GET", "/api/battle", cookie=resign(secret, cookie, now - 1800))[0] == 200  # control
        assert call(srv, "GET", "/api/battle", cookie=resign(secret, cookie, now + 3600))[0] == 401  # future
        assert call(srv, "GET", "/api/battle", cookie=resign(secret, cookie, now + 10**8))[0] == 401
        assert call(srv, "GET", "/api/battle", cookie=resign(secret, cookie, now - 7200))[0] == 401  # > 1 h old
        status, headers, _ = call(srv, "GET", "/", cookie=resign(secret, cookie, now + 3600))
        assert status == 303 and headers["location"] == "/login"


def test_new_admin_token_ends_every_admin_session(make_db: Callable[[str], str], outputs: Path, tmp_path: Path) -> None:
    db = make_db(f"sessions_rot_{next(_names)}")
    old, new = "old-admin-token-0123456789abc", "new-admin-token-9876543210xyz"
    with arena_server(db, [outputs], admin_token=old, log_dir=tmp_path) as srv:
        admin = login(srv, old)
        assert call(srv, "GET", "/api/export", cookie=admin)[0] == 200
        assert b'id="invite-form"' in call(srv, "GET", "/admin", cookie=admin)[2]
    with arena_server(db, admin_token=new, log_dir=tmp_path) as srv:
        assert call(srv, "GET", "/api/export", cookie=admin)[0] == 401
        assert call(srv, "GET", "/api/admin/annotators", cookie=admin)[0] == 401
        page = call(srv, "GET", "/admin", cookie=admin)[2]
        assert b'id="invite-form"' not in page and b'id="login-form"' in page
        assert call(srv, "GET", "/api/export", token=old)[0] == 401
        assert call(srv, "GET", "/api/export", cookie=login(srv, new))[0] == 200
    with arena_server(db, admin_token=old, log_dir=tmp_path) as srv:  # the old token back: its sessions stay ended
        assert call(srv, "GET", "/api/export", cookie=admin)[0] == 401

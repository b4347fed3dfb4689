"""Malformed requests against a real ``referee arena serve`` process: never a 5xx, always a clear 4xx.

Every endpoint gets bodies that are not JSON, not objects, too large (by ``Content-Length``
and chunked), too deep, of the wrong types, with unknown fields, NUL characters and unpaired
surrogates (valid JSON that neither database can store), bad battle ids, bad query
parameters, bad ``Authorization`` headers and forged cookies.  Each answer must be a 4xx with
the API's JSON error (``{"detail": "..."}`` naming the field where there is one) and the
API's headers; afterwards the server still answers and its log holds no traceback.  Runs on
SQLite and on a real PostgreSQL server (skipped, with the reason, where it is not installed).
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from arena_server import ADMIN_TOKEN, ArenaServer, arena_server, call, fresh_databases, write_outputs

MODELS = ["mod-p", "mod-q", "mod-r"]
MAX_BODY = 64 * 1024
_names = itertools.count()


def send(server: ArenaServer, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         *, chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One raw request: ``body`` and ``headers`` exactly as given, nothing added (``chunked``: the body goes
    as two chunks without ``Content-Length``)."""
    return call(server, method, path, raw=body, headers=headers, content_type=None, chunked=chunked)


def api_error(server: ArenaServer, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None, **kw: Any) -> tuple[int, str]:
    """A request that must fail with a 4xx JSON error; returns ``(status, detail)``."""
    status, h, payload = send(server, method, path, body, headers, **kw)
    assert 400 <= status < 500, (method, path, body[:200] if body else body, headers, status, payload[:300])
    assert h.get("content-type", "").startswith("application/json"), (path, h)
    assert h.get("x-content-type-options") == "nosniff" and h.get("cache-control") == "no-store", (path, h)
    out = json.loads(payload)
    assert isinstance(out, dict) and isinstance(out.get("detail"), str) and out["detail"], (path, out)
    return status, out["detail"]


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **more}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArenaServer]:
    d = tmp_path_factory.mktemp(f"arena-malformed-{request.param}")
    db = fresh_databases(request, tmp_path_factory)("arena_malformed")
    outputs = write_outputs(d / "outputs.jsonl", MODELS, prompts=3, seed=4)
    with arena_server(db, [outputs], args=["--refresh", "0.5", "--rate-limit", "0"], log_dir=d) as srv:
        yield srv
        status, health = srv.request("GET", "/healthz")
        assert status == 200 and health["ok"] is True  # still serving after everything
        log = srv.log.read_text(errors="replace")
        assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


@pytest.fixture(scope="module")
def annotator(server: ArenaServer) -> str:
    status, out = server.request("POST", "/api/admin/invite", {"name": f"m-{next(_names)}"}, token=ADMIN_TOKEN)
    assert status == 200, out
    return str(out["token"])


@pytest.fixture(scope="module")
def battle_id(server: ArenaServer, annotator: str) -> str:
    status, battle = server.request("GET", "/api/battle", token=annotator)
    assert status == 200, battle
    return str(battle["battle_id"])


# -- bodies that are not a JSON object ------------------------------------------------------------
BODY_ROUTES = [  # (path, token, a valid body)
    ("/api/vote", "annotator", {"battle_id": "b" * 16, "winner": "tie"}),
    ("/api/login", None, {"token": "rfa_x"}),
    ("/api/admin/invite", "admin", {"name": "someone"}),
    ("/api/admin/models", "admin", {"model": "mod-p", "hidden": False}),
]
NOT_JSON = [  # (raw body, what the detail must say)
    (b"", "not valid JSON"), (b"null", "JSON object"), (b"[1, 2]", "JSON object"), (b"5", "JSON object"),
    (b'"tie"', "JSON object"), (b"true", "JSON object"),
    (b"{", "not valid JSON"), (b'{"battle_id": }', "not valid JSON"), (b"{'a': 1}", "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"), (b'{"a": "\xc3\x28"}', "not valid JSON"), (b"\x00" * 10, "not valid JSON"),
    (b"[" * 20_000 + b"]" * 20_000, "not valid JSON"),  # too deep for the parser
    (b'{"a": ' + b"9" * 5000 + b"}", "not valid JSON"),  # an integer longer than Python converts
    (b'{"a": 1e999999, "b": NaN, "c": -Infinity}', ""),  # not JSON numbers: refused, one way or another
]


def token_for(kind: str | None, annotator: str) -> str | None:
    return {"annotator": annotator, "admin": ADMIN_TOKEN, None: None}[kind]


@pytest.mark.parametrize(("path", "who", "valid"), BODY_ROUTES, ids=[r[0] for r in BODY_ROUTES])
def test_bodies_that_are_not_json_objects(server: ArenaServer, annotator: str, path: str, who: str | None,
                                         valid: dict[str, Any]) -> None:
    token = token_for(who, annotator)
    headers = bearer(token) if token else {"Content-Type": "application/json"}
    for raw, says in NOT_JSON:
        status, detail = api_error(server, "POST", path, raw, headers)
        assert status == 422, (path, raw[:50], status, detail)
        assert says in detail, (path, raw[:50], detail)
    # not JSON by Content-Type: 415, whatever the body
    payload = json.dumps(valid).encode()
    for ctype in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/merge-patch+json", "application/jsonx"):
        h = {k: v for k, v in headers.items() if k != "Content-Type"}
        if ctype:
            h["Content-Type"] = ctype
        status, detail = api_error(server, "POST", path, payload, h)
        assert status == 415 and "application/json" in detail, (path, ctype, status, detail)
    # latin-1 bytes under a JSON content type are not UTF-8 JSON
    status, detail = api_error(server, "POST", path, '{"x": "café"}'.encode("latin-1"),
                               {**headers, "Content-Type": "application/json; charset=latin-1"})
    assert status == 422 and "not valid JSON" in detail
    # too large: by Content-Length (not read at all) and chunked (cut off while reading)
    huge = b'{"pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    for chunked in (False, True):
        status, detail = api_error(server, "POST", path, huge, headers, chunked=chunked)
        assert status == 413 and str(MAX_BODY) in detail, (path, chunked, status, detail)
    status, detail = api_error(server, "POST", path, b'{"pad": "' + b"x" * 1000 + b'"}', headers, chunked=True)
    assert status == 422 and "'pad'" in detail  # a small chunked body is read and validated


# -- fields of the wrong type or value -------------------------------------------------------------
BAD_STRINGS = [None, 1, 1.5, True, [], {}, ["x"], {"x": 1}, "", "   ", "\u0000", "a\u0000b", "\ud800", "x\udfffy"]


def names_field(detail: str, name: str, body: dict[str, Any]) -> bool:
    """The detail names the field; an unpaired surrogate may instead be refused as invalid JSON (Pydantic's parser)."""
    surrogate = any(isinstance(v, str) and any("\ud800" <= c <= "\udfff" for c in v) for v in body.values())
    return repr(name) in detail or (surrogate and "not valid JSON" in detail)


def field_cases(valid: dict[str, Any], limits: dict[str, int]) -> Iterator[tuple[dict[str, Any], str]]:
    """Bodies each wrong in one field (and the field the detail must name)."""
    for name, value in valid.items():
        bad = BAD_STRINGS if isinstance(value, str) else [None, 0, 1, "true", "yes", [], {}]
        for v in bad:
            yield {**valid, name: v}, name
        if name in limits:
            yield {**valid, name: "x" * (limits[name] + 1)}, name
        yield {k: v for k, v in valid.items() if k != name}, name  # missing
    yield {**valid, "extra": 1}, "extra"
    yield {**valid, "Winner": "tie"}, "Winner"


def test_vote_fields(server: ArenaServer, annotator: str, battle_id: str) -> None:
    valid = {"battle_id": battle_id, "winner": "model_a"}
    cases = list(field_cases(valid, {"battle_id": 64}))
    cases += [({**valid, "winner": w}, "winner") for w in ("A", "model_c", "TIE", "tie ", "tie(bothbad)", "bothbad")]
    cases += [({**valid, "battle_id": b}, "battle_id")
              for b in ("../../etc/passwd", "a b", "ü", "%00", "' OR 1=1 --", "x;DROP TABLE votes", "\n", "é" * 10)]
    for body, name in cases:
        status, detail = api_error(server, "POST", "/api/vote", json.dumps(body).encode(), bearer(annotator))
        assert status == 422 and names_field(detail, name, body), (body, status, detail)
    # well-formed ids of no battle of the caller's: 404
    for b in ("no-such-battle", "A" * 64, "_-_"):
        status, detail = api_error(server, "POST", "/api/vote", json.dumps({**valid, "battle_id": b}).encode(),
                                   bearer(annotator))
        assert status == 404 and "no battle" in detail, (b, status, detail)
    # none of this used up the battle
    status, out = server.request("POST", "/api/vote", valid, token=annotator)
    assert status == 200 and out["ok"] is True, out


def test_login_invite_and_hide_fields(server: ArenaServer) -> None:
    routes = [("/api/login", {"token": "rfa_x"}, {"token": 400}, None),
              ("/api/admin/invite", {"name": "n"}, {"name": 200}, ADMIN_TOKEN),
              ("/api/admin/models", {"model": "mod-p", "hidden": True}, {"model": 400}, ADMIN_TOKEN)]
    for path, valid, limits, token in routes:
        headers = bearer(token) if token else {"Content-Type": "application/json"}
        for body, name in field_cases(valid, limits):
            status, detail = api_error(server, "POST", path, json.dumps(body).encode(), headers)
            assert status == 422 and names_field(detail, name, body), (path, body, status, detail)
    # valid shapes with values the server refuses: 401 / 404 / 409, never 5xx
    assert api_error(server, "POST", "/api/login", json.dumps({"token": "\u00e9" * 50}).encode(),
                     {"Content-Type": "application/json"})[0] == 401
    assert api_error(server, "POST", "/api/admin/models", json.dumps({"model": "mod-\u00e9", "hidden": True}).encode(),
                     bearer(ADMIN_TOKEN))[0] == 404
    name = f"dup-\u00e9-{next(_names)}"
    assert server.request("POST", "/api/admin/invite", {"name": name}, token=ADMIN_TOKEN)[0] == 200
    assert api_error(server, "POST", "/api/admin/invite", json.dumps({"name": name}).encode(), bearer(ADMIN_TOKEN))[0] == 409


def test_annotator_names_cannot_impersonate(server: ArenaServer) -> None:
    """NFC-normalised; bidi overrides and zero-width characters refused (422); a homoglyph or
    case variant of an existing name refused (409) — over HTTP, on both databases."""
    base = f"alice{next(_names)}"
    status, body = server.request("POST", "/api/admin/invite", {"name": base}, token=ADMIN_TOKEN)
    assert status == 200, body

    def invite(name: str) -> tuple[int, str]:
        return api_error(server, "POST", "/api/admin/invite", json.dumps({"name": name}).encode(), bearer(ADMIN_TOKEN))

    for evil, code in [(base + "\u202egnp.exe", "U+202E"), ("\u2066" + base, "U+2066"), (base[:3] + "\u200b" + base[3:], "U+200B")]:
        status, detail = invite(evil)
        assert status == 422 and code in detail, (evil, status, detail)
    for lookalike in ["\u0430" + base[1:], base.upper(), "\uff41" + base[1:]]:  # Cyrillic a, capitals, fullwidth a
        status, detail = invite(lookalike)
        assert status == 409 and "looks like" in detail and base in detail, (lookalike, status, detail)
    decomposed = f"re\u0301mi{next(_names)}"  # e + combining acute: stored as NFC "é"
    status, body = server.request("POST", "/api/admin/invite", {"name": decomposed}, token=ADMIN_TOKEN)
    assert status == 200, body
    status, detail = invite(unicodedata.normalize("NFC", decomposed))
    assert status == 409 and "already exists" in detail, (status, detail)


# -- query parameters, headers, cookies --------------------------------------------------------------
def test_query_parameters(server: ArenaServer, annotator: str) -> None:
    for path, name in [("/api/leaderboard?style=maybe", "style"), ("/api/leaderboard?style=" + "x" * 3000, "style"),
                       ("/api/leaderboard?style=%00", "style"), ("/api/leaderboard?style=%FF", "style"),
                       ("/api/export?identity_filter=maybe", "identity_filter"),
                       ("/api/export?identity_filter=%ED%A0%80", "identity_filter")]:
        token = ADMIN_TOKEN if "export" in path else annotator
        status, detail = api_error(server, "GET", path, headers=bearer(token))
        assert status == 422 and repr(name) in detail and "query parameter" in detail, (path, detail)
    # unknown or odd values of optional parameters are ignored
    for path in ("/api/battle?render=%00", "/api/battle?render=" + "x" * 3000, "/api/battle?render=html&render=x",
                 "/api/battle?nonsense=1"):
        status, _, payload = send(server, "GET", path, headers=bearer(annotator))
        assert status == 200, (path, payload[:200])
    # the invite link with a junk token shows the login page with a message
    for token in ("%00", "%FF%FE", "%ED%A0%80", quote("\u00e9" * 500), "rfa_" + "x" * 5000):
        status, h, page = send(server, "GET", f"/login?token={token}")
        assert status == 200 and b"not valid" in page and "content-security-policy" in h, (token, status)


def test_authorization_headers_and_cookies(server: ArenaServer, annotator: str) -> None:
    vote = json.dumps({"battle_id": "b" * 16, "winner": "tie"}).encode()
    for auth in ("Bearer", "Bearer ", "Bearer    ", "Basic eDp5", "bearer", "Token abc", "Bearer \u00ff\u00fe",
                 "Bearer " + "x" * 4000, "Bearer rfa_" + "\u00e9" * 10):
        for method, path, body in (("GET", "/api/battle", None), ("POST", "/api/vote", vote),
                                   ("GET", "/api/admin/models", None), ("GET", "/api/leaderboard", None)):
            h = {"Authorization": auth, "Content-Type": "application/json"}
            status, _ = api_error(server, method, path, body, h)
            assert status == 401, (auth, path, status)
    # forged, truncated and foreign cookies: 401 on the API, the login page on pages
    status, h, _ = send(server, "POST", "/api/login", json.dumps({"token": annotator}).encode(),
                        {"Content-Type": "application/json"})
    assert status == 200
    cookie = h["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    csrf_page = send(server, "GET", "/", headers={"Cookie": f"referee_session={cookie}"})[2].decode()
    csrf = csrf_page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    old_style = f"annotator.1.{10**9}.nonce.c2lnbmF0dXJl"
    for value in ("", "x", cookie[:-4], cookie + "x", cookie.replace(".", "..", 1), "a.b.c.d.e", old_style,
                  "\u00e9" * 20, "x" * 3000, '"quoted"'):
        h = {"Cookie": f"referee_session={value}", "Content-Type": "application/json", "X-CSRF-Token": csrf}
        assert api_error(server, "GET", "/api/battle", None, h)[0] == 401, value
        assert api_error(server, "POST", "/api/vote", vote, h)[0] == 401, value
        status, h2, _ = send(server, "GET", "/", headers={"Cookie": f"referee_session={value}"})
        assert status == 303 and h2["location"] == "/login", (value, status)
    # a valid cookie with a junk CSRF token: 403
    for token in ("", "x", csrf[:-3], csrf + "x", cookie, "\u00e9" * 10, "x" * 3000):
        h = {"Cookie": f"referee_session={cookie}", "Content-Type": "application/json", "X-CSRF-Token": token}
        assert api_error(server, "POST", "/api/vote", vote, h)[0] == 403, token


def test_unknown_routes_and_methods(server: ArenaServer) -> None:
    for method, path, expected in (("GET", "/api/nope", 404), ("DELETE", "/api/vote", 405), ("PUT", "/api/login", 405),
                                   ("GET", "/api/vote", 405), ("POST", "/api/battle", 405), ("GET", "/static/../pyproject.toml", 404),
                                   ("GET", "/api/admin/../../etc/passwd", 404)):
        status, _ = api_error(server, method, path, b"{}", {"Content-Type": "application/json"})
        assert status == expected, (method, path, status)

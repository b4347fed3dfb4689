"""The arena's HTTP API contract, against a real ``referee arena serve`` process.

Every test runs on SQLite (a temporary file) and on a real PostgreSQL server (skipped, with
the reason, where PostgreSQL is not installed).  Each backend gets three servers for the whole
module: ``main`` (3 models x 3 prompts, no rate limit, the default: votes name nobody), ``opts``
(``--identity-filter`` and ``--rate-limit 3``) and ``reveal`` (like ``main``, with ``--reveal``).
Tests use their own annotators, so they do not depend on each other.  Which models a battle showed
comes from the vote's answer where the server reveals it, else from the admin export.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from arena_server import ADMIN_TOKEN, REFEREE, ArenaServer, arena_server, call, fresh_databases, write_outputs

MODELS = ["mod-x", "mod-y", "mod-z"]
LEAK = "As ChatGPT, developed by OpenAI, I would answer this briefly."
BATTLE_KEYS = {"battle_id", "prompt", "response_a", "response_b"}
CYCLE = ["model_a", "model_b", "tie", "model_a", "tie (bothbad)", "model_b", "model_a"]
_names = itertools.count()


# -- HTTP helpers ----------------------------------------------------------------------------------
def jcall(server: ArenaServer, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    status, _, payload = call(server, method, path, body, **kw)
    return status, json.loads(payload) if payload else None


def new_annotator(server: ArenaServer, prefix: str = "ann") -> str:
    status, out = jcall(server, "POST", "/api/admin/invite", {"name": f"{prefix}-{next(_names)}"}, token=ADMIN_TOKEN)
    assert status == 200, out
    return out["token"]


def vote(server: ArenaServer, token: str, battle_id: str, winner: str) -> tuple[int, Any]:
    return jcall(server, "POST", "/api/vote", {"battle_id": battle_id, "winner": winner}, token=token)


def judge_all(server: ArenaServer, token: str, limit: int = 50,
              revealed: bool = False) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Vote (winners from CYCLE) until the server says done; ``[(battle, {model_a, model_b})]``, the
    models shown as A and B.  A server with ``--reveal`` (``revealed``) names them in each vote's
    answer, which must agree with the admin export; by default the answer names nobody and the
    names come from the export alone."""
    done = []
    for i in range(limit):
        status, battle = jcall(server, "GET", "/api/battle", token=token)
        if status == 404:
            assert battle["done"] is True, battle
            break
        assert status == 200, battle
        status, out = vote(server, token, battle["battle_id"], CYCLE[i % len(CYCLE)])
        assert status == 200, out
        done.append((battle, out))
    else:
        raise AssertionError(f"still getting battles after {limit}")
    rows = {r["battle_id"]: r for r in export_rows(server)}
    named = []
    for battle, out in done:
        names = {k: rows[battle["battle_id"]][k] for k in ("model_a", "model_b")}
        assert out == ({"ok": True, "revealed": True, **names} if revealed else {"ok": True, "revealed": False}), out
        named.append((battle, names))
    return named


def export_rows(server: ArenaServer, query: str = "") -> list[dict[str, Any]]:
    status, headers, payload = call(server, "GET", "/api/export" + query, token=ADMIN_TOKEN)
    assert status == 200, payload
    assert headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in payload.decode("utf-8").splitlines() if line.strip()]


def poll_board(server: ArenaServer, token: str, n: int, style: bool = False, tries: int = 150) -> dict[str, Any]:
    """The leaderboard once it covers ``n`` comparisons (``--refresh 0.2``: bounded polling)."""
    board: dict[str, Any] = {}
    for _ in range(tries):
        status, board = jcall(server, "GET", "/api/leaderboard" + ("?style=on" if style else ""), token=token)
        assert status == 200, board
        if board["meta"].get("n_comparisons") == n:
            return board
        time.sleep(0.1)
    raise AssertionError(f"leaderboard never reached {n} comparisons: {board.get('meta')}")


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REFEREE, *args], capture_output=True, text=True, timeout=timeout, env=env)


# -- servers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """``make_db(name)`` -> a fresh, empty database URL on this backend."""
    return fresh_databases(request, tmp_path_factory)


@pytest.fixture(scope="module")
def servers(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ArenaServer]]:
    """Both servers of a backend, started side by side (each start is mostly Python imports)."""
    d = tmp_path_factory.mktemp("arena")
    specs = {
        # 3 models x 3 prompts = 9 battles per annotator; no rate limit
        "main": (write_outputs(d / "main.jsonl", MODELS, prompts=3, seed=1), ["--refresh", "0.2", "--rate-limit", "0"]),
        # mod-z names its maker in every response; 3 votes/s per annotator, bursts of 6
        "opts": (write_outputs(d / "opts.jsonl", MODELS, prompts=2, seed=2, texts={"mod-z": LEAK}),
                 ["--refresh", "0.2", "--rate-limit", "3", "--identity-filter"]),
        # as main, but each vote names the two models (and hides what it revealed from that voter)
        "reveal": (write_outputs(d / "reveal.jsonl", MODELS, prompts=3, seed=3), ["--refresh", "0.2", "--rate-limit", "0",
                                                                                 "--reveal"]),
    }
    managers = {name: arena_server(backend(f"arena_{name}"), [out], args=args, log_dir=d)
                for name, (out, args) in specs.items()}
    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(len(managers)) as pool:
            futures = {name: pool.submit(cm.__enter__) for name, cm in managers.items()}
        started = {}
        for name, fut in futures.items():
            if fut.exception() is None:
                stack.push(managers[name])
                started[name] = fut.result()
        for fut in futures.values():
            if fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]
        yield started


@pytest.fixture(scope="module")
def main(servers: dict[str, ArenaServer]) -> ArenaServer:
    return servers["main"]


@pytest.fixture(scope="module")
def opts(servers: dict[str, ArenaServer]) -> ArenaServer:
    return servers["opts"]


@pytest.fixture(scope="module")
def reveal(servers: dict[str, ArenaServer]) -> ArenaServer:
    return servers["reveal"]


# -- tests -----------------------------------------------------------------------------------------
def test_healthz(main: ArenaServer) -> None:
    status, out = jcall(main, "GET", "/healthz")
    assert status == 200
    assert out["ok"] is True and out["models"] == 3 and isinstance(out["votes"], int)


def test_invite_via_cli(main: ArenaServer) -> None:
    token = main.invite("cli-annotator")
    assert token.startswith("rfa_") and len(token) > 20
    status, battle = jcall(main, "GET", "/api/battle", token=token)
    assert status == 200 and set(battle) == BATTLE_KEYS
    again = cli("arena", "invite", "--db", main.db, "--name", "cli-annotator")
    assert again.returncode == 2
    assert "already exists" in again.stderr


def test_battle_hides_models_and_randomises_sides(main: ArenaServer) -> None:
    shown_sorted = 0
    total = 0
    for _ in range(3):
        token = new_annotator(main)
        status, html = jcall(main, "GET", "/api/battle?render=html", token=token)
        assert status == 200
        assert {"prompt_html", "response_a_html", "response_b_html"} <= set(html)
        for battle, out in judge_all(main, token):
            assert set(battle) == BATTLE_KEYS
            text = json.dumps(battle)
            assert not any(m in text for m in MODELS), "a battle must not name its models"
            assert {out["model_a"], out["model_b"]} <= set(MODELS) and out["model_a"] != out["model_b"]
            shown_sorted += out["model_a"] < out["model_b"]
            total += 1
    assert total == 27
    # both orders occur (P(one order only) = 2^-26); 3..24 of 27 has P(outside) ~ 6e-6
    assert 3 <= shown_sorted <= 24, shown_sorted


def test_vote_statuses(main: ArenaServer) -> None:
    alice, bob = new_annotator(main), new_annotator(main)
    _, battle = jcall(main, "GET", "/api/battle", token=alice)
    bid = battle["battle_id"]
    _, bobs = jcall(main, "GET", "/api/battle", token=bob)

    # 422: malformed bodies, and none of them consumes the battle
    for body, field in [({"winner": "model_a"}, "battle_id"), ({"battle_id": bid}, "winner"),
                        ({"battle_id": bid, "winner": "A"}, "winner"), ({"battle_id": 7, "winner": "tie"}, "battle_id"),
                        ({"battle_id": bid, "winner": None}, "winner")]:
        status, out = jcall(main, "POST", "/api/vote", body, token=alice)
        assert status == 422, (body, out)
        assert field in out["detail"]
    for raw in (b"[1, 2]", b'"model_a"', b"5", b"null"):
        status, out = jcall(main, "POST", "/api/vote", raw=raw, token=alice)
        assert status == 422 and "JSON object" in out["detail"], (raw, out)
    status, out = jcall(main, "POST", "/api/vote", raw=b'{"battle_id": ', token=alice)
    assert status == 422 and "not valid JSON" in out["detail"]
    status, out = jcall(main, "POST", "/api/vote", raw=b"\xff\xfe", token=alice)
    assert status == 422, out

    # 415: not JSON
    payload = json.dumps({"battle_id": bid, "winner": "tie"}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        status, out = jcall(main, "POST", "/api/vote", raw=payload, token=alice, content_type=ctype)
        assert status == 415 and "application/json" in out["detail"], (ctype, out)

    # 401: no token, bad token, not a bearer token
    assert jcall(main, "POST", "/api/vote", {"battle_id": bid, "winner": "tie"})[0] == 401
    assert vote(main, "rfa_not-a-real-token", bid, "tie")[0] == 401
    status, _, _ = call(main, "POST", "/api/vote", {"battle_id": bid, "winner": "tie"}, headers={"Authorization": "Basic eDp5"})
    assert status == 401
    status, headers, _ = call(main, "GET", "/api/battle", token="wrong")
    assert status == 401 and headers.get("www-authenticate") == "Bearer"

    # 404: unknown id, and another annotator's battle (which stays theirs to vote on)
    status, out = vote(main, alice, "no-such-battle", "tie")
    assert status == 404 and "detail" in out
    status, out = vote(main, alice, bobs["battle_id"], "model_a")
    assert status == 404
    assert vote(main, bob, bobs["battle_id"], "model_b")[0] == 200

    # ok (a charset parameter on the JSON content type is fine), then 409 for a second vote (whatever its winner)
    payload = json.dumps({"battle_id": bid, "winner": "model_b"}).encode()
    status, out = jcall(main, "POST", "/api/vote", raw=payload, token=alice, content_type="application/json; charset=utf-8")
    assert status == 200
    assert out == {"ok": True, "revealed": False}  # the default: the vote names nobody
    for winner in ("model_b", "tie"):
        status, again = vote(main, alice, bid, winner)
        assert status == 409 and "already voted" in again["detail"]
    rows = {r["battle_id"]: r for r in export_rows(main)}
    assert rows[bid]["winner"] == "model_b"
    assert rows[bid]["model_a"] in MODELS and rows[bid]["response_a"] == battle["response_a"]
    assert bobs["battle_id"] in rows and rows[bobs["battle_id"]]["winner"] == "model_b"


def test_pending_battle_until_voted(main: ArenaServer) -> None:
    token = new_annotator(main)
    first = jcall(main, "GET", "/api/battle", token=token)[1]
    for _ in range(3):
        assert jcall(main, "GET", "/api/battle", token=token)[1] == first
    assert vote(main, token, first["battle_id"], "tie")[0] == 200
    after = jcall(main, "GET", "/api/battle", token=token)[1]
    assert after["battle_id"] != first["battle_id"]


def test_no_repeats_then_done(main: ArenaServer) -> None:
    token = new_annotator(main)
    done = judge_all(main, token)
    assert len(done) == 9
    combos = {(b["prompt"], frozenset((v["model_a"], v["model_b"]))) for b, v in done}
    assert len(combos) == 9
    assert len({b["battle_id"] for b, _ in done}) == 9
    for _ in range(2):
        status, out = jcall(main, "GET", "/api/battle", token=token)
        assert status == 404 and out["done"] is True and out["detail"]


def test_reveal_names_the_models_and_never_shows_them_again(reveal: ArenaServer) -> None:
    """``--reveal``: each vote's answer names the models shown as A and B (as the export does, checked
    in judge_all); with fixed outputs that voter is then never shown either response again, so 3
    models x 3 prompts give one battle per prompt (floor(3/2)) and then "done", where the default
    gives all 9 (test_no_repeats_then_done).  What one voter saw does not limit another."""
    for _ in range(2):
        token = new_annotator(reveal)
        done = judge_all(reveal, token, revealed=True)
        assert len(done) == 3 and len({b["prompt"] for b, _ in done}) == 3
        assert all(v["model_a"] != v["model_b"] and {v["model_a"], v["model_b"]} <= set(MODELS) for _, v in done)
        texts = [t for b, _ in done for t in (b["response_a"], b["response_b"])]
        assert len(set(texts)) == len(texts) == 6  # no response shown twice
        status, out = jcall(reveal, "GET", "/api/battle", token=token)
        assert status == 404 and out["done"] is True


def test_leaderboard_matches_rank_on_export(main: ArenaServer, tmp_path: Path) -> None:
    import referee

    token = new_annotator(main)
    judge_all(main, token)
    status, _, payload = call(main, "GET", "/api/export", token=ADMIN_TOKEN)
    assert status == 200
    path = tmp_path / "votes.jsonl"
    path.write_bytes(payload)
    rows = export_rows(main)
    assert len(rows) == len(payload.decode().splitlines()) >= 9

    board = poll_board(main, token, len(rows))
    assert call(main, "GET", "/api/leaderboard")[0] == 401  # not public by default
    assert call(main, "GET", "/api/leaderboard?style=maybe", token=token)[0] == 422
    expected = referee.rank(referee.read(path), model="bt", ci="sandwich").to_dict()
    got = {r["model"]: r for r in board["models"]}
    assert set(got) == {r["model"] for r in expected["models"]} == set(MODELS)
    for r in expected["models"]:
        for k in ("rating", "ci_low", "ci_high"):
            assert math.isclose(got[r["model"]][k], r[k], rel_tol=0, abs_tol=1e-6), (r["model"], k)
        for k in ("rank", "battles", "wins", "losses", "ties"):
            assert got[r["model"]][k] == r[k], (r["model"], k)
    assert board["meta"]["method"] == "bt" and board["meta"]["style_control"] is False

    # style control: the same as ranking the exported texts with length + markdown covariates
    styled = poll_board(main, token, len(rows), style=True)
    assert styled["meta"]["style_control"] is True
    try:
        exp_style = referee.rank(referee.read(path), model="bt", ci="sandwich", style=["length", "markdown"])
    except ValueError:  # a degenerate style fit: the server shows a note instead (and keeps refreshing)
        assert styled["models"] == [] and "not enough votes" in styled["meta"]["note"]
        return
    got_style = {r["model"]: r["rating"] for r in styled["models"]}
    for r in exp_style.to_dict()["models"]:
        assert math.isclose(got_style[r["model"]], r["rating"], rel_tol=0, abs_tol=1e-6), r["model"]


def test_export_api_and_cli(main: ArenaServer, tmp_path: Path) -> None:
    import referee

    token = new_annotator(main, "exporter")
    done = judge_all(main, token)
    api = export_rows(main)
    mine = {r["battle_id"]: r for r in api if r["voter"].startswith("exporter-")}
    assert len(mine) == len(done) == 9
    for battle, out in done:
        r = mine[battle["battle_id"]]
        assert (r["model_a"], r["model_b"]) == (out["model_a"], out["model_b"])  # model_a = the model shown as A
        assert (r["prompt"], r["response_a"], r["response_b"]) == (battle["prompt"], battle["response_a"], battle["response_b"])
        assert re.fullmatch(r"q\d", r["prompt_id"]) and isinstance(r["tstamp"], float)
        assert r["winner"] in ("model_a", "model_b", "tie", "tie (bothbad)")

    path = tmp_path / "votes.jsonl"
    proc = cli("arena", "export", "--db", main.db, "-o", str(path))
    assert proc.returncode == 0, proc.stderr
    file_rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["battle_id"]: r["winner"] for r in file_rows} == {r["battle_id"]: r["winner"] for r in api}

    frame = referee.read(path)
    assert len(frame) == len(api)
    assert set(frame["model_a"]) | set(frame["model_b"]) <= set(MODELS)
    proc = cli("rank", str(path), "-o", str(tmp_path / "board.json"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    board = json.loads((tmp_path / "board.json").read_text())
    assert {r["model"] for r in board["models"]} == set(MODELS)
    assert board["meta"]["n_comparisons"] == len(api)
    expected = {r["model"]: r["rating"] for r in referee.rank(frame).to_dict()["models"]}
    for r in board["models"]:
        assert math.isclose(r["rating"], expected[r["model"]], rel_tol=0, abs_tol=1e-6)


def test_cookie_login_and_csrf(main: ArenaServer) -> None:
    token = new_annotator(main)
    status, _, _ = call(main, "POST", "/api/login", {"token": "rfa_wrong"})
    assert status == 401
    status, headers, body = call(main, "POST", "/api/login", {"token": token})
    assert status == 200 and json.loads(body)["role"] == "annotator"
    set_cookie = headers["set-cookie"]
    assert set_cookie.startswith("referee_session=")
    assert "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower()
    cookie = {"Cookie": set_cookie.split(";", 1)[0]}

    status, headers, page = call(main, "GET", "/", headers=cookie)
    assert status == 200 and "content-security-policy" in headers
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.decode())
    assert m, "the vote page carries the CSRF token"
    csrf = m.group(1)
    assert call(main, "GET", "/")[0] == 303  # no cookie: redirected to /login

    status, _, body = call(main, "GET", "/api/battle", headers=cookie)
    assert status == 200
    bid = json.loads(body)["battle_id"]
    payload = {"battle_id": bid, "winner": "model_a"}
    assert call(main, "POST", "/api/vote", payload, headers=cookie)[0] == 403
    assert call(main, "POST", "/api/vote", payload, headers={**cookie, "X-CSRF-Token": csrf + "x"})[0] == 403
    forged = {"Cookie": cookie["Cookie"][:-3] + "abc"}
    assert call(main, "POST", "/api/vote", payload, headers={**forged, "X-CSRF-Token": csrf})[0] == 401
    status, _, body = call(main, "POST", "/api/vote", payload, headers={**cookie, "X-CSRF-Token": csrf})
    assert status == 200 and json.loads(body)["ok"] is True


def test_rate_limit(opts: ArenaServer) -> None:
    token = new_annotator(opts)
    _, battle = jcall(opts, "GET", "/api/battle", token=token)
    statuses = []
    for _ in range(200):  # 3 votes/s, bursts of 6: a quick run of requests hits the limit
        status, headers, body = call(opts, "POST", "/api/vote", {"battle_id": battle["battle_id"], "winner": "tie"}, token=token)
        statuses.append(status)
        if status == 429:
            assert int(headers["retry-after"]) >= 1
            assert "slow down" in json.loads(body)["detail"]
            break
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    assert set(statuses[1:-1]) <= {409}
    other = new_annotator(opts)  # limits are per annotator
    assert jcall(opts, "GET", "/api/battle", token=other)[0] == 200


def test_admin_endpoints_need_admin_token(main: ArenaServer) -> None:
    token = new_annotator(main)
    endpoints = [("GET", "/api/admin/annotators", None), ("GET", "/api/admin/models", None),
                 ("POST", "/api/admin/models", {"model": "mod-x", "hidden": False}),
                 ("POST", "/api/admin/invite", {"name": f"adm-{next(_names)}"}), ("GET", "/api/export", None)]
    for method, path, body in endpoints:
        assert call(main, method, path, body)[0] == 401, path
        assert call(main, method, path, body, token=token)[0] == 403, path
        assert call(main, method, path, body, token=ADMIN_TOKEN)[0] == 200, path
    status, out = jcall(main, "POST", "/api/admin/invite", {"name": "dup-name"}, token=ADMIN_TOKEN)
    assert status == 200 and out["token"].startswith("rfa_") and out["token"] in out["link"]
    assert jcall(main, "POST", "/api/admin/invite", {"name": "dup-name"}, token=ADMIN_TOKEN)[0] == 409
    assert jcall(main, "POST", "/api/admin/invite", {"name": " "}, token=ADMIN_TOKEN)[0] == 422
    status, out = jcall(main, "GET", "/api/admin/annotators", token=ADMIN_TOKEN)
    assert "dup-name" in {a["name"] for a in out["annotators"]}
    status, out = jcall(main, "GET", "/api/admin/models", token=ADMIN_TOKEN)
    assert {m["model"] for m in out["models"]} == set(MODELS)
    assert jcall(main, "GET", "/api/battle", token=ADMIN_TOKEN)[0] == 403  # battles are for annotators

    # an admin session cookie needs CSRF too
    _, headers, _ = call(main, "POST", "/api/login", {"token": ADMIN_TOKEN})
    cookie = {"Cookie": headers["set-cookie"].split(";", 1)[0]}
    assert call(main, "POST", "/api/admin/invite", {"name": "via-cookie"}, headers=cookie)[0] == 403
    assert call(main, "GET", "/api/admin/annotators", headers=cookie)[0] == 200


def test_hide_model(main: ArenaServer) -> None:
    waiting = new_annotator(main)
    assert jcall(main, "GET", "/api/battle", token=waiting)[0] == 200  # a battle pending across the change
    assert jcall(main, "POST", "/api/admin/models", {"model": "nope", "hidden": True}, token=ADMIN_TOKEN)[0] == 404
    assert jcall(main, "POST", "/api/admin/models", {"model": "mod-z", "hidden": "yes"}, token=ADMIN_TOKEN)[0] == 422
    status, out = jcall(main, "POST", "/api/admin/models", {"model": "mod-z", "hidden": True}, token=ADMIN_TOKEN)
    assert status == 200 and out["hidden"] is True
    try:
        _, listing = jcall(main, "GET", "/api/admin/models", token=ADMIN_TOKEN)
        assert {m["model"]: m["hidden"] for m in listing["models"]} == {"mod-x": False, "mod-y": False, "mod-z": True}
        fresh = new_annotator(main)
        for token, n in ((fresh, 3), (waiting, None)):
            done = judge_all(main, token)
            assert all("mod-z" not in (v["model_a"], v["model_b"]) for _, v in done)
            if n is not None:
                assert len(done) == n  # one visible pair x 3 prompts
        _, board = jcall(main, "GET", "/api/leaderboard", token=fresh)
        assert "mod-z" not in {r["model"] for r in board["models"]}
    finally:
        status, _ = jcall(main, "POST", "/api/admin/models", {"model": "mod-z", "hidden": False}, token=ADMIN_TOKEN)
        assert status == 200
    done = judge_all(main, fresh)  # unhidden: the other pairs come back
    assert len(done) == 6 and all("mod-z" in (v["model_a"], v["model_b"]) for _, v in done)


def test_identity_filter(opts: ArenaServer) -> None:
    token = new_annotator(opts, "ident")
    done = judge_all(opts, token)
    assert len(done) == 6  # 3 pairs x 2 prompts
    leaky = {b["battle_id"] for b, v in done if "mod-z" in (v["model_a"], v["model_b"])}
    assert len(leaky) == 4 and any(LEAK in (b["response_a"], b["response_b"]) for b, _ in done)

    everything = export_rows(opts)
    filtered = export_rows(opts, "?identity_filter=true")
    mine = {r["battle_id"] for r in everything if r["voter"].startswith("ident-")}
    assert mine == {b["battle_id"] for b, _ in done}
    kept = {r["battle_id"] for r in filtered}
    assert kept & leaky == set() and mine - leaky <= kept
    assert all("mod-z" not in (r["model_a"], r["model_b"]) for r in filtered)
    board = poll_board(opts, token, len(filtered))
    assert board["meta"]["n_comparisons"] == len(filtered) < len(everything)


def test_refuses_non_loopback_without_admin_token(tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, prompts=2)
    env = {k: v for k, v in os.environ.items() if k != "REFEREE_ADMIN_TOKEN"}
    dbfile = tmp_path / "arena.db"
    proc = cli("arena", "serve", "--host", "0.0.0.0", "--port", "1", "--db", f"sqlite:///{dbfile}",
               "--outputs", str(outputs), env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to serve on 0.0.0.0" in proc.stderr and "REFEREE_ADMIN_TOKEN" in proc.stderr
    assert not dbfile.exists()


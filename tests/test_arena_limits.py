"""Bounded resources of a real ``referee arena serve`` process (issue 16, parts 2 and 5).

* a 50 MB body is refused (413, by ``Content-Length`` and chunked) while the server's peak memory
  (``VmHWM`` of the server process, reset through ``/proc/PID/clear_refs``) grows < 40 MB, and the
  connection is closed after the 413 (the rest of the body is never read);
* 1,000 idle sockets against a server limited to 1,024 open files do not lock out a new client,
  and they (and a client stuck in the middle of its headers) are closed after ``--header-timeout``;
* lone surrogates and JSON nested 5,000 deep are 4xx with no traceback in the server log;
* an export of 100,000 votes (inserted through the store) streams with the server's peak memory
  growing < 200 MB while ``/healthz`` keeps answering (SQLite and PostgreSQL);
* CSV exports (HTTP and CLI) neutralise cells a spreadsheet would run as formulas.

Latencies are measured and reported; the one bound asserted is the issue's: ``/healthz`` within
100 ms during the export for 90% of the polls, and none over 1 s (a loaded test machine must not
flake it; the old export held it for the whole export, 6 s, and grew the server by 2.7 GB).
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import random
import resource
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from arena_server import ADMIN_TOKEN, REFEREE, ArenaServer, arena_server, write_outputs

MODELS = ["mod-a", "mod-b", "mod-c", "mod-d"]
MB = 1024 * 1024


# -- helpers -----------------------------------------------------------------------------------------
def proc_kb(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory field (``VmRSS``, ``VmHWM``) in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


@contextlib.contextmanager
def peak_growth(pid: int) -> Iterator[dict[str, float]]:
    """Peak RSS growth (MB) of process ``pid`` over the block: the high-water mark is reset first."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = proc_kb(pid, "VmRSS")
    out: dict[str, float] = {}
    yield out
    out["growth_mb"] = (proc_kb(pid, "VmHWM") - before) / 1024


def address(server: ArenaServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def get(server: ArenaServer, path: str, token: str | None = None, timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*address(server), timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def no_traceback(server: ArenaServer) -> None:
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]


def raise_own_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
        pytest.skip(f"this test needs {need} open files; the hard limit is {hard}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArenaServer]:
    d = tmp_path_factory.mktemp("limits")
    outputs = write_outputs(d / "outputs.jsonl", MODELS, prompts=3)
    with arena_server(f"sqlite:///{d / 'arena.db'}", [outputs], log_dir=d, args=["--rate-limit", "0"]) as s:
        yield s


# -- bodies ------------------------------------------------------------------------------------------
def readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read now (a selector: descriptors may pass FD_SETSIZE in the suite)."""
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        return bool(sel.select(0))


def post_big(server: ArenaServer, path: str, size: int, chunked: bool) -> tuple[int, bytes, int, bool]:
    """POST ``size`` bytes of a JSON string to ``path`` as fast as the server takes them; returns
    ``(status, response, bytes sent, whether the server closed the connection afterwards)``."""
    sock = socket.create_connection(address(server), timeout=30)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: arena\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
    piece, sent, answer = b"x" * MB, 0, b""
    try:
        while sent < size and not readable(sock):
            data = piece[: size - sent]
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            sent += len(data)
        if chunked and sent >= size:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    closed = False
    try:
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 40:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            answer += chunk
        sock.settimeout(5)
        while not closed:  # after the answer: does the server hang up rather than read on?
            if not sock.recv(MB):
                closed = True
    except ConnectionResetError:
        # the server closed with our unread body still in its receive buffer, so its kernel sent a
        # reset instead of a FIN: hung up all the same (which of the two comes first is a race)
        closed = True
    except TimeoutError:
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer, sent, closed


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_before_it_is_read(server: ArenaServer, chunked: bool) -> None:
    pid = server.proc.pid
    with peak_growth(pid) as mem:
        status, answer, sent, closed = post_big(server, "/api/login", 50 * MB, chunked)
    assert status == 413 and b"65536" in answer, answer[:300]
    assert mem["growth_mb"] < 40, mem
    assert closed, "the connection stays open after the 413: the server reads the rest of the body"
    assert sent < 50 * MB, sent  # not read to the end: the 413 came as soon as the limit was passed
    status, _ = get(server, "/healthz")
    assert status == 200
    no_traceback(server)


def test_surrogates_and_deep_nesting_are_4xx_without_traceback(server: ArenaServer) -> None:
    conn_args = address(server)
    bodies = [
        b'{"token": "\\ud800"}', b'{"token": "a\\udfffb"}', b'{"token": "\xed\xa0\x80"}',
        b"[" * 5000 + b"]" * 5000, b'{"token": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        b'{"token": "' + b'\\"[' * 100 + b'"}',  # brackets inside a string are not nesting
    ]
    for body in bodies:
        conn = http.client.HTTPConnection(*conn_args, timeout=30)
        conn.request("POST", "/api/login", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        payload = json.loads(r.read())
        conn.close()
        assert 400 <= r.status < 500, (body[:40], r.status, payload)
        if body.startswith((b"[[[", b'{"token": {')):
            assert r.status == 422 and "nested deeper than 32" in payload["detail"], payload
    no_traceback(server)


# -- connections ---------------------------------------------------------------------------------------
def _limit_files() -> None:  # in the server process: the 1,024-file box of the issue
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def test_idle_connections_do_not_lock_out_clients_and_time_out(tmp_path: Path) -> None:
    raise_own_fd_limit(2200)
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, prompts=2)
    args = ["--header-timeout", "3", "--keep-alive", "2"]
    with arena_server(f"sqlite:///{tmp_path / 'arena.db'}", [outputs], log_dir=tmp_path, args=args,
                      preexec_fn=_limit_files) as server:
        host, port = address(server)
        idle = [socket.create_connection((host, port), timeout=10) for _ in range(1000)]
        slow = socket.create_connection((host, port), timeout=10)
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: ar")  # and never the rest
        opened = time.monotonic()
        t0 = time.perf_counter()
        status, _ = get(server, "/healthz", timeout=10)
        took = time.perf_counter() - t0
        assert status == 200, status
        print(f"new client answered in {1000 * took:.0f} ms with 1,000 idle sockets open")
        # every idle socket (and the slow one) is closed by the server within the header timeout (+ slack)
        deadline = opened + 3 + 15
        open_ = [*idle, slow]
        # a selector, not select.select: inside the whole suite these sockets' descriptors pass 1,024 (FD_SETSIZE)
        with selectors.DefaultSelector() as sel:
            for s in open_:
                sel.register(s, selectors.EVENT_READ)
            while open_ and time.monotonic() < deadline:
                for key, _ in sel.select(1.0):
                    s = key.fileobj
                    assert isinstance(s, socket.socket)
                    with contextlib.suppress(OSError):
                        if s.recv(1024):
                            continue
                    sel.unregister(s)
                    open_.remove(s)
        for s in [*idle, slow]:
            s.close()
        assert not open_, f"{len(open_)} sockets still open {time.monotonic() - opened:.1f}s after connecting"
        assert get(server, "/healthz")[0] == 200
        no_traceback(server)


# -- the export -----------------------------------------------------------------------------------------
N_VOTES = 100_000


@pytest.fixture(params=["sqlite", "postgres"])
def big_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with 4 models x 50 prompts (~1.5 kB responses) and 100,000 votes, built through the store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'big.db'}"
    else:
        import psycopg

        base = request.getfixturevalue("pg_url")
        name = f"big_{random.randrange(1 << 30)}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    from referee.arena import open_store

    rng = random.Random(0)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
    texts = {m: " ".join(rng.choice(words) for _ in range(250)) for m in MODELS}
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, prompts=50, texts=None)
    lines = [json.loads(x) for x in outputs.read_text().splitlines()]
    with outputs.open("w") as f:
        for r in lines:
            f.write(json.dumps({**r, "response": r["response"] + "\n\n" + texts[r["model"]]}) + "\n")
    store = open_store(url, outputs)
    try:
        cat = store.catalogue()
        mids = list(cat.models)
        combos = [(p, a, b) for p in cat.prompts for i, a in enumerate(mids) for b in mids[i + 1:]]  # 300
        for i in range(-(-N_VOTES // len(combos))):  # an annotator judges each (prompt, pair) once
            store.invite(f"voter-{i}")
        winners = ["model_a", "model_b", "tie", "tie (bothbad)"]
        for start in range(0, N_VOTES, 20_000):
            rows = []
            for k in range(start, start + 20_000):
                p, ma, mb = combos[k % len(combos)]
                if rng.random() < 0.5:
                    ma, mb = mb, ma
                rows.append({"annotator_id": 1 + k // len(combos), "prompt_id": p, "model_a": ma, "model_b": mb,
                             "winner": rng.choice(winners), "tstamp": 1.7e9 + k})
            store.import_votes(rows)
        assert store.vote_count() == N_VOTES
    finally:
        store.close()
    return url


def test_export_of_100k_votes_streams(big_db: str, tmp_path: Path) -> None:
    with arena_server(big_db, log_dir=tmp_path, args=["--refresh", "3600"]) as server:
        lat: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                status, _ = get(server, "/healthz")
                lat.append(time.perf_counter() - t0)
                assert status == 200
                time.sleep(0.02)

        conn = http.client.HTTPConnection(*address(server), timeout=120)
        with peak_growth(server.proc.pid) as mem:
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            t0 = time.perf_counter()
            conn.request("GET", "/api/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("content-type", "").startswith("application/x-ndjson")
            first, size, lines, tail = b"", 0, 0, b""
            while chunk := r.read(MB):
                if not first:
                    first = chunk[: chunk.index(b"\n")]
                size += len(chunk)
                lines += chunk.count(b"\n")
                tail = chunk[-2:]
            wall = time.perf_counter() - t0
            stop.set()
            poller.join()
        conn.close()
        assert lines == N_VOTES and tail.endswith(b"\n"), (lines, tail)
        row = json.loads(first)
        assert list(row) == ["battle_id", "voter", "prompt_id", "model_a", "model_b", "winner", "tstamp",
                             "prompt", "response_a", "response_b", "category"]
        assert row["voter"].startswith("voter-") and len(row["response_a"]) > 1000
        lat.sort()
        p90, worst = lat[int(0.9 * (len(lat) - 1))], lat[-1]
        print(f"export: {size / MB:.0f} MB in {wall:.1f}s, server peak RSS growth {mem['growth_mb']:.0f} MB; "
              f"/healthz during it: {len(lat)} polls, p50 {1000 * lat[len(lat) // 2]:.0f} ms, "
              f"p90 {1000 * p90:.0f} ms, max {1000 * worst:.0f} ms")
        assert size > 300 * MB  # big enough that holding it (as the old export did) would show
        assert mem["growth_mb"] < 200, mem
        assert len(lat) >= 10 and p90 < 0.1 and worst < 1.0, (p90, worst)  # the old export: 6 s
        no_traceback(server)


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_csv_exports_neutralise_formulas(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    with outputs.open("w") as f:
        for i, m in enumerate(["=cmd|' /C calc'!A0", "mod-b"]):
            for j in range(2):
                f.write(json.dumps({"model": m, "prompt_id": f"=q{j}", "prompt": FORMULAS[j],
                                    "response": FORMULAS[2 + (i + j) % 4]}) + "\n")
    db = f"sqlite:///{tmp_path / 'arena.db'}"
    with arena_server(db, [outputs], log_dir=tmp_path, args=["--rate-limit", "0", "--no-reveal"]) as server:
        token = server.invite("@voter")
        for _ in range(2):
            status, battle = server.request("GET", "/api/battle", token=token)
            assert status == 200, battle
            status, out = server.request("POST", "/api/vote", {"battle_id": battle["battle_id"], "winner": "tie"},
                                         token=token)
            assert status == 200, out
        status, payload = get(server, "/api/export?format=csv", token=ADMIN_TOKEN)
        assert status == 200
        http_rows = list(csv.DictReader(io.StringIO(payload.decode("utf-8"))))
        status, payload = get(server, "/api/export", token=ADMIN_TOKEN)
        raw = [json.loads(x) for x in payload.decode().splitlines()]
    out = tmp_path / "votes.csv"
    subprocess.run([*REFEREE, "arena", "export", "--db", db, "-o", str(out)], check=True, capture_output=True, timeout=120)
    with out.open(newline="") as f:
        cli_rows = list(csv.DictReader(f))
    assert len(http_rows) == len(cli_rows) == len(raw) == 2
    for rows in (http_rows, cli_rows):
        for row, orig in zip(rows, raw, strict=True):
            for key in ("voter", "prompt_id", "model_a", "model_b", "prompt", "response_a", "response_b"):
                cell, value = row[key], str(orig[key])
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (key, cell)
                assert cell == ("'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value), (key, cell)
    # the formula-named model is on side A or B (sides are random); the JSONL export keeps the exact texts
    assert any(r[side].startswith("'=cmd") for r in cli_rows for side in ("model_a", "model_b"))
    assert any(r[side].startswith("=cmd") for r in raw for side in ("model_a", "model_b"))

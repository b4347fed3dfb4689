"""Acknowledged votes survive a SIGKILL of the server (SQLite, WAL, synchronous=NORMAL).

Eight annotators vote as fast as they can over keep-alive connections; the server is killed
mid-burst; a new server on the same database must hold every vote that got a 200 (with its
winner), nothing half-written, and must not show an annotator a battle they already judged.
"""

from __future__ import annotations

import http.client
import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from arena_server import ADMIN_TOKEN, ArenaServer, arena_server, write_outputs

THREADS = 8
MAX_VOTES_PER_THREAD = 3000  # loops are bounded by count ...
THREAD_SECONDS = 20.0  # ... and by time
KILL_AFTER_S = 1.5
KILL_AFTER_ACKS = 600
WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")


@dataclass
class Voter:
    token: str
    seed: int
    acked: dict[str, str] = field(default_factory=dict)  # battle id -> winner, got a 200
    lost: list[tuple[str, str]] = field(default_factory=list)  # sent, no response (server died)
    unexpected: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None


def run_voter(server: ArenaServer, voter: Voter, stop: threading.Event) -> None:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    auth = {"Authorization": f"Bearer {voter.token}"}
    rng = random.Random(voter.seed)
    deadline = time.monotonic() + THREAD_SECONDS
    try:
        for _ in range(MAX_VOTES_PER_THREAD):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                conn.request("GET", "/api/battle", headers=auth)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                return  # server gone before the vote was sent: nothing in flight
            if r.status != 200:
                voter.unexpected.append((r.status, body.decode("utf-8", "replace")))
                return
            battle_id = json.loads(body)["battle_id"]
            winner = rng.choice(WINNERS)
            payload = json.dumps({"battle_id": battle_id, "winner": winner})
            try:
                conn.request("POST", "/api/vote", body=payload, headers={**auth, "Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                voter.lost.append((battle_id, winner))
                return
            if r.status == 200 and json.loads(body).get("ok") is True:
                voter.acked[battle_id] = winner
            else:
                voter.unexpected.append((r.status, body.decode("utf-8", "replace")))
                return
    except Exception as e:  # surfaced by the test, never swallowed
        voter.error = repr(e)
    finally:
        conn.close()


def invite(server: ArenaServer, name: str) -> str:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/api/admin/invite", body=json.dumps({"name": name}),
                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
        r = conn.getresponse()
        out = json.loads(r.read())
        assert r.status == 200, out
        return out["token"]
    finally:
        conn.close()


def db_votes(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT b.public_id, v.winner FROM votes v JOIN battles b ON b.id = v.battle_id").fetchall()
    return dict(rows)


def test_acknowledged_votes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "arena.db"
    url = f"sqlite:///{path}"
    outputs = write_outputs(tmp_path / "outputs.jsonl", ["mod-p", "mod-q", "mod-r", "mod-s"], prompts=100, seed=3)
    voters: list[Voter] = []

    with arena_server(url, [outputs], args=["--rate-limit", "0", "--refresh", "0.5"], log_dir=tmp_path) as server:
        voters = [Voter(invite(server, f"voter-{i}"), seed=i) for i in range(THREADS)]
        stop = threading.Event()
        threads = [threading.Thread(target=run_voter, args=(server, v, stop), daemon=True) for v in voters]
        start = time.monotonic()
        for t in threads:
            t.start()
        while time.monotonic() - start < 15:  # kill mid-burst: after KILL_AFTER_S (once votes flow) or N acks
            acks = sum(len(v.acked) for v in voters)
            if acks >= KILL_AFTER_ACKS or (acks >= THREADS and time.monotonic() - start >= KILL_AFTER_S):
                break
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.02)
        alive_at_kill = sum(t.is_alive() for t in threads)
        server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)

    for v in voters:
        assert v.error is None, v.error
        assert v.unexpected == [], v.unexpected[:3]
    acked = {bid: w for v in voters for bid, w in v.acked.items()}
    lost = [x for v in voters for x in v.lost]
    assert len(acked) >= THREADS, "votes were flowing before the kill"
    assert alive_at_kill > 0, "the kill happened mid-burst"

    with arena_server(url, None, args=["--rate-limit", "0"], log_dir=tmp_path) as server:
        # every acknowledged vote is there, with its winner: through the export API ...
        conn = http.client.HTTPConnection(urlsplit(server.url).hostname, urlsplit(server.url).port, timeout=30)
        conn.request("GET", "/api/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        r = conn.getresponse()
        assert r.status == 200
        exported = {row["battle_id"]: row["winner"] for row in map(json.loads, r.read().decode().splitlines())}
        conn.close()
        missing = {b: w for b, w in acked.items() if exported.get(b) != w}
        assert missing == {}, f"{len(missing)} acknowledged votes lost or changed"

        # ... and in the database file itself
        stored = db_votes(path)
        assert stored == exported
        assert all(stored.get(b) == w for b, w in acked.items())

        # a vote in flight at the kill is all there (with its winner) or not at all; nothing else appeared
        for bid, w in lost:
            assert stored.get(bid) in (None, w), (bid, w, stored.get(bid))
        landed = sum(stored.get(b) == w for b, w in lost)
        print(f"SIGKILL: {len(acked)} acknowledged votes, all found; {len(lost)} in flight, {landed} of them landed")
        assert set(stored) <= set(acked) | {b for b, _ in lost}
        with sqlite3.connect(path) as c:
            assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert c.execute("PRAGMA foreign_key_check").fetchall() == []
            assert c.execute("SELECT COUNT(*) FROM votes v LEFT JOIN battles b ON b.id = v.battle_id "
                             "WHERE b.id IS NULL OR v.winner IS NULL OR v.tstamp IS NULL").fetchone() == (0,)
            assert c.execute("SELECT COUNT(*), COUNT(DISTINCT battle_id) FROM votes").fetchone() == (len(stored),) * 2

        # after the restart, nobody is shown a battle they already judged
        for v in voters:
            parts = urlsplit(server.url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            auth = {"Authorization": f"Bearer {v.token}"}
            conn.request("GET", "/api/battle", headers=auth)
            r = conn.getresponse()
            battle: dict[str, Any] = json.loads(r.read())
            assert r.status == 200, battle
            bid = battle["battle_id"]
            assert bid not in stored
            with sqlite3.connect(path) as c:
                aid, prompt, key = c.execute(
                    "SELECT annotator_id, prompt_id, pair_key FROM battles WHERE public_id = ?", (bid,)
                ).fetchone()
                judged = c.execute(
                    "SELECT COUNT(*) FROM battles b JOIN votes v ON v.battle_id = b.id "
                    "WHERE b.annotator_id = ? AND b.prompt_id = ? AND b.pair_key = ?", (aid, prompt, key)
                ).fetchone()[0]
            assert judged == 0
            conn.request("POST", "/api/vote", body=json.dumps({"battle_id": bid, "winner": "tie"}),
                         headers={**auth, "Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200, r.read()
            r.read()
            conn.close()

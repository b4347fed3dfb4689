"""Load-test ``referee arena serve`` on loopback: vote throughput and leaderboard latency.

A bounded async load generator (a fixed number of requests; it stops by itself) runs
against a real server process with a SQLite database:

1. **votes**: ``--annotators`` concurrent annotators (Bearer tokens), each looping
   ``GET /api/battle`` → ``POST /api/vote`` until ``--votes`` votes are acknowledged.
   Reports votes/s, the latency percentiles of each request and of the whole cycle, and the
   server process's CPU time per vote (steadier than votes/s on a shared host).
2. **leaderboard**: ``--stored`` votes are bulk-inserted into the database, the server
   refits, then ``--board-requests`` ``GET /api/leaderboard`` are timed, both alone and
   while the vote load from (1) runs again (so some land during a recomputation).

Targets (issue 5, on 2 cores): ≥ 1,000 votes/s with p99 ≤ 50 ms; leaderboard p99 ≤ 100 ms
with 100,000 votes stored.  The server runs with the arena's default (votes name nobody);
``--reveal`` serves with names after each vote (and the sampler's leak protection).  The host's
1-minute load average is reported before and after the vote load: figures from a busy host are
not the server's.

    python bench/arena_bench.py                     # defaults: 20,000 votes, 100,000 stored
    python bench/arena_bench.py --votes 5000 --stored 20000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REFEREE = [sys.executable, "-m", "referee.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_outputs(path: Path, models: int, prompts: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "by", "this", "are", "or", "an"]
    with path.open("w") as f:
        for m in range(models):
            for p in range(prompts):
                body = " ".join(rng.choice(words) for _ in range(rng.randint(20, 300)))
                text = f"## Answer\n\n- point one\n- point two\n\n{body}\n\n```python\nprint({p})\n```\n"
                f.write(json.dumps({"model": f"model-{m:02d}", "prompt_id": f"p{p}", "prompt": f"Prompt {p}?", "response": text}) + "\n")


def cpu_steal() -> float:
    """CPU-seconds the hypervisor took from this VM so far (``steal`` in /proc/stat); -1 if unknown.

    On a shared host it varies from run to run and moves the figures below with it, so each
    run reports it.
    """
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return -1.0


def cpu_seconds(pid: int) -> float:
    """CPU-seconds (user + system) the process ``pid`` used so far; -1 if unknown.

    The server's CPU time per vote is far steadier than votes/s on a shared host, where the
    load generator and other tenants compete for the same cores.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return -1.0


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q)) if xs else float("nan")


class Client:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: at most ``size`` connections.

    (Small on purpose: the load generator shares the CPUs with the server, so a heavy client
    would lower the figures.  Only ``Content-Length`` responses are read, which is what the
    arena sends for these endpoints.)
    """

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.host = f"127.0.0.1:{port}"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.sem: asyncio.Semaphore | None = None

    async def _send(self, data: bytes) -> tuple[int, bytes]:
        if self.sem is None:
            self.sem = asyncio.Semaphore(self.size)
        async with self.sem:
            conn = self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = conn
            writer.write(data)
            status_line = await reader.readline()
            if not status_line:
                writer.close()
                raise ConnectionError("connection closed by the server")
            status, length, keep = int(status_line.split()[1]), 0, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    keep = False
            payload = await reader.readexactly(length)
            if keep:
                self.idle.append(conn)
            else:
                writer.close()
            return status, payload

    async def request(self, method: str, path: str, token: str | None = None, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return await self._send((head + "\r\n").encode() + body)


async def vote_load(client: Client, tokens: list[str], n_votes: int, rng: random.Random, pid: int = 0) -> dict[str, object]:
    """Each annotator loops battle → vote until ``n_votes`` votes are acknowledged in total."""
    lat_battle: list[float] = []
    lat_vote: list[float] = []
    lat_cycle: list[float] = []
    errors: dict[int, int] = {}
    done = 0
    winners = ("model_a", "model_b", "tie", "tie (bothbad)")

    async def worker(token: str) -> None:
        nonlocal done
        while done < n_votes:
            t0 = time.perf_counter()
            status, payload = await client.request("GET", "/api/battle", token)
            t1 = time.perf_counter()
            lat_battle.append(t1 - t0)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
                return
            bid = json.loads(payload)["battle_id"]
            body = json.dumps({"battle_id": bid, "winner": rng.choice(winners)}).encode()
            status, _ = await client.request("POST", "/api/vote", token, body)
            t2 = time.perf_counter()
            lat_vote.append(t2 - t1)
            lat_cycle.append(t2 - t0)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
                return
            done += 1

    t, steal, cpu = time.perf_counter(), cpu_steal(), cpu_seconds(pid) if pid else -1.0
    await asyncio.gather(*(worker(tok) for tok in tokens))
    wall = time.perf_counter() - t
    stolen = cpu_steal() - steal
    server_cpu = cpu_seconds(pid) - cpu if pid and cpu >= 0 else float("nan")
    return {
        "votes": done,
        "seconds": round(wall, 3),
        "votes_per_s": round(done / wall, 1),
        "battle_p50_ms": round(pct(lat_battle, 50), 2),
        "battle_p99_ms": round(pct(lat_battle, 99), 2),
        "vote_p50_ms": round(pct(lat_vote, 50), 2),
        "vote_p99_ms": round(pct(lat_vote, 99), 2),
        "cycle_p99_ms": round(pct(lat_cycle, 99), 2),
        "server_cpu_ms_per_vote": round(1000 * server_cpu / done, 3) if done else None,
        "errors": errors,
        "load_avg_1m": round(os.getloadavg()[0], 2),  # of the whole host, this run included
        "host_steal_pct": round(100 * stolen / (wall * (os.cpu_count() or 1)), 1) if steal >= 0 else None,
    }


async def board_load(client: Client, token: str, n: int, concurrency: int) -> dict[str, object]:
    lat: list[float] = []
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t0 = time.perf_counter()
            status, _ = await client.request("GET", "/api/leaderboard?style=" + ("on" if left % 2 else "off"), token)
            lat.append(time.perf_counter() - t0)
            assert status == 200, status

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t
    return {"requests": n, "req_per_s": round(n / wall, 1), "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
            "max_ms": round(pct(lat, 100), 2)}


def http_json(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def stored_votes(db: str, n: int, seed: int) -> float:
    """Bulk-insert ``n`` simulated votes (one synthetic annotator per 1,000); returns seconds."""
    from referee.arena.store import Store

    store = Store(db)
    cat = store.catalogue()
    rng = np.random.default_rng(seed)
    models = sorted(cat.models)
    strength = {m: rng.normal(0, 1) for m in models}
    prompts = sorted(cat.prompts)
    t = time.perf_counter()
    ids = [store.annotator_by_token(store.invite(f"sim-{seed}-{k}"))[0] for k in range(max(1, n // 1000))]
    rows, seen = [], set()
    while len(rows) < n:
        a, b = rng.choice(len(models), 2, replace=False)
        ma, mb = models[a], models[b]
        p = prompts[rng.integers(len(prompts))]
        aid = ids[len(rows) // 1000 % len(ids)]
        key = (aid, p, min(ma, mb), max(ma, mb))
        if key in seen:
            continue
        seen.add(key)
        pa = 1 / (1 + np.exp(-(strength[ma] - strength[mb])))
        u = rng.random()
        winner = "tie" if u < 0.1 else ("model_a" if rng.random() < pa else "model_b")
        rows.append({"annotator_id": aid, "prompt_id": p, "model_a": ma, "model_b": mb, "winner": winner,
                     "tstamp": time.time()})
    for lo in range(0, n, 20000):
        store.import_votes(rows[lo : lo + 20000])
    store.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--votes", type=int, default=20000)
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--stored", type=int, default=100000)
    ap.add_argument("--board-requests", type=int, default=2000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sqlite-sync", choices=("normal", "full"), default="normal")
    ap.add_argument("--votes-only", action="store_true", help="skip the leaderboard phases")
    ap.add_argument("--reveal", action="store_true",
                    help="serve with --reveal (names after each vote, revealed responses never shown again)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    outputs = tmp / "outputs.jsonl"
    write_outputs(outputs, args.models, args.prompts, args.seed)
    db = f"sqlite:///{tmp / 'arena.db'}"
    from referee.arena import invite, open_store

    open_store(db, outputs).close()
    tokens = [invite(f"bench-{i}", db=db) for i in range(args.annotators)]
    port = free_port()
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([*REFEREE, "arena", "serve", "--db", db, "--port", str(port), "--rate-limit", "0",
                             "--refresh", "2", "--sqlite-sync", args.sqlite_sync, *(["--reveal"] if args.reveal else [])],
                            stdout=log, stderr=subprocess.STDOUT)
    results: dict[str, object] = {"models": args.models, "prompts": args.prompts, "annotators": args.annotators,
                                  "cpus": os.cpu_count(), "reveal": args.reveal,
                                  "load_avg_1m_before": round(os.getloadavg()[0], 2)}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        client = Client(port, args.annotators)
        rng = random.Random(args.seed)
        asyncio.run(vote_load(client, tokens, min(500, args.votes), rng))  # warm-up
        client = Client(port, args.annotators)
        results["votes"] = asyncio.run(vote_load(client, tokens, args.votes, rng, proc.pid))
        print("votes:", results["votes"], flush=True)
        if args.votes_only:
            return

        secs = stored_votes(db, args.stored, args.seed)
        results["stored_insert_seconds"] = round(secs, 1)
        deadline = time.time() + 180
        while True:
            board = http_json(f"http://127.0.0.1:{port}/api/leaderboard", tokens[0])
            if board["meta"].get("n_comparisons", 0) >= args.stored or time.time() > deadline:
                break
            time.sleep(0.5)
        results["stored_votes"] = board["meta"].get("n_comparisons")
        results["refit_seconds"] = board["meta"].get("compute_seconds")
        client = Client(port, 16)
        results["leaderboard"] = asyncio.run(board_load(client, tokens[0], args.board_requests, 16))
        print("leaderboard:", results["leaderboard"], flush=True)

        async def mixed() -> tuple[dict, dict]:
            vc, bc = Client(port, args.annotators), Client(port, 4)
            return await asyncio.gather(vote_load(vc, tokens, args.votes // 2, rng, proc.pid),
                                        board_load(bc, tokens[0], args.board_requests, 4))

        v, b = asyncio.run(mixed())
        results["mixed"] = {"votes": v, "leaderboard": b}
        print("mixed:", results["mixed"], flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print()
    v, lb, mx = results["votes"], results["leaderboard"], results["mixed"]
    print("| what | figure | target |\n|---|---|---|")
    print(f"| votes/s (battle + vote per vote, {args.annotators} annotators) | {v['votes_per_s']} | ≥ 1,000 |")
    print(f"| host CPU steal during the vote load | {v['host_steal_pct']}% | (0 on a dedicated machine) |")
    print(f"| host load average (1 min) before / after the vote load | {results['load_avg_1m_before']} / "
          f"{v['load_avg_1m']} ({os.cpu_count()} CPUs) | (quiet: well under the CPU count) |")
    print(f"| server CPU per vote (battle + vote requests) | {v['server_cpu_ms_per_vote']} ms | |")
    print(f"| POST /api/vote p50 / p99 | {v['vote_p50_ms']} / {v['vote_p99_ms']} ms | p99 ≤ 50 ms |")
    print(f"| GET /api/battle p50 / p99 | {v['battle_p50_ms']} / {v['battle_p99_ms']} ms | |")
    print(f"| leaderboard p50 / p99, {results['stored_votes']} votes stored | {lb['p50_ms']} / {lb['p99_ms']} ms | p99 ≤ 100 ms |")
    print(f"| leaderboard p99 during vote load (refits included) | {mx['leaderboard']['p99_ms']} ms | |")
    print(f"| votes/s and vote p99 while the leaderboard is polled | {mx['votes']['votes_per_s']}, "
          f"{mx['votes']['vote_p99_ms']} ms | |")
    print(f"| leaderboard refit with {results['stored_votes']} votes | {results['refit_seconds']} s | |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

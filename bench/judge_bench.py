"""Benchmark the judge engine against an OpenAI-compatible server that answers instantly.

The server is a minimal asyncio HTTP/1.1 server (keep-alive, pre-rendered response bytes) in its own
process, so it does not share the client's GIL.  Measured:

1. fresh calls: ``Engine`` + ``OpenAIBackend`` at concurrency 64 over N distinct requests, writing
   each answer to a fresh SQLite cache (the real path), for the default aiohttp transport and (when
   the optional ``openai`` package is installed) the ``openai`` SDK transport;
2. cache-hit replay of the same requests (zero calls reach the server);
3. whole ``referee judge`` processes (start-up, reading outputs, writing verdicts included) over
   the same number of calls (prompts x 2 models vs a baseline x both orders), fresh then cached;
4. start-up: seconds from ``referee judge`` process start to its first request at the server;
5. the AlpacaEval run: 16 models against ``gpt4_1106_preview`` on the 805 AlpacaEval prompts, both
   orders (25,760 games, outputs read from ``/work/shared/data``), as a whole ``referee judge``
   process: time from process start to the first request at the server, whole-process calls/s
   (fresh, then a cache replay) and the process's peak RSS (``wait4``); and the same games through
   the library (``judge()`` on the outputs already read), timed from the call to the first request;
6. with ``--big-games N``: a synthetic plan of N games stopped by ``--max-calls`` after
   ``--big-calls`` calls: time to the first request and peak RSS, which must not grow with N.

The load average (``os.getloadavg``) before and after is printed with the figures: the machine
may be shared, and a busy neighbour lowers every rate.  ``--src DIR`` times another checkout's
``src`` (``referee`` then runs as ``python -m referee.cli`` with that ``PYTHONPATH``), so a
before/after comparison runs the same script.

    python bench/judge_bench.py [--requests 5000] [--concurrency 64] [--other-requests 1000]
                                [--models 16] [--src DIR] [--big-games 1000000 --big-calls 20000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

SERVER = r"""
import asyncio, json, sys, time

ANSWER = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-judge",
          "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                       "message": {"role": "assistant", "content": "Both are fine, but [[A]] is better."}}],
          "usage": {"prompt_tokens": 150, "completion_tokens": 10, "total_tokens": 160}}
MODELS = {"object": "list", "data": [{"id": "bench-judge", "object": "model", "created": 0, "owned_by": "bench"}]}

def render(obj):
    body = json.dumps(obj).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head + body

CHAT, LIST = render(ANSWER), render(MODELS)
seen, armed = 0, True

class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.t, self.buf = transport, b""

    def data_received(self, data):
        global seen, armed
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            n = int(head[i + 15:].split(b"\r\n", 1)[0]) if i >= 0 else 0
            if len(self.buf) < end + 4 + n:
                return
            self.buf = self.buf[end + 4 + n:]
            if head.startswith(b"get"):
                self.t.write(LIST)
                continue
            seen += 1
            if armed:  # the time of the first chat request since the last "arm"
                armed = False
                print("first", time.time(), flush=True)
            self.t.write(CHAT)

async def main():
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0, backlog=1024)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    async def control():
        global armed
        while True:  # stdin: "arm" (report the next first request) or "count"
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            if line.strip() == "arm":
                armed = True
            print("seen", seen, flush=True)
    asyncio.get_running_loop().create_task(control())
    await server.serve_forever()

asyncio.run(main())
"""


class Server:
    """The instant-answer server in a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "port", line
        self.url = f"http://127.0.0.1:{line[1]}/v1"
        self.first: float | None = None

    def seen(self, command: str = "count") -> int:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        while True:
            word, value = self.proc.stdout.readline().split()
            if word == "first":
                self.first = float(value)
            else:
                return int(value)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def make_requests(n: int, seed: int = 0):
    from referee.judging.types import ChatRequest

    system = "You are an impartial judge. Compare the two answers and reply [[A]], [[B]] or [[C]] for a tie."
    filler = "The answer explains the idea step by step with an example. " * 6
    return [
        ChatRequest(
            (("system", system), ("user", f"[Question {seed}-{i}]\n{filler}\n[A]\n{filler}\n[B]\n{filler}")),
            temperature=0.0,
            max_tokens=64,
        )
        for i in range(n)
    ]


def bench_engine(url: str, n: int, concurrency: int, transport: str, cache_path: Path, seed: int) -> dict:
    from referee.judging.cache import Cache
    from referee.judging.engine import Engine
    from referee.judging.http import OpenAIBackend

    reqs = make_requests(n, seed=seed)
    backend = OpenAIBackend(url, "bench-judge", max_connections=concurrency, transport=transport)
    with Cache(cache_path) as cache:
        engine = Engine(backend, cache=cache, concurrency=concurrency, timeout=30)
        t = time.perf_counter()
        results, usage = engine.run_sync(reqs)
        fresh = time.perf_counter() - t
        assert usage.calls == n and all(r is not None and r.error is None for r in results), usage
        t = time.perf_counter()
        results, usage2 = engine.run_sync(reqs)
        replay = time.perf_counter() - t
        assert usage2.calls == 0 and usage2.cache_hits == n, usage2
    return {"n": n, "fresh_per_s": n / fresh, "replay_per_s": n / replay}


BASELINE = "gpt4_1106_preview"
ALPACA = ROOT.parent / "shared" / "data" / "alpaca_eval" / "results"

LIB = r"""
import sys, time
from referee.io.outputs import load_outputs
url, cache, baseline, concurrency, *files = sys.argv[1:]
records, _ = load_outputs(files)
import pandas as pd
from referee.judging.run import JudgeSpec, judge
df = pd.DataFrame(records)
t0 = time.time()
print("start", t0, flush=True)
res = judge(df, judge_spec=JudgeSpec(url=url, model="bench-judge"), baseline=baseline, cache=cache,
            concurrency=int(concurrency))
print("done", time.time(), len(res.table), res.usage.calls, flush=True)
"""


def _referee(src: Path) -> tuple[list[str], dict[str, str]]:
    """``referee`` as ``python -m referee.cli`` on ``src`` (its command and environment)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    return [sys.executable, "-m", "referee.cli"], env


def _run(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float, float]:
    """(exit status, wall seconds, peak RSS in MiB) of one child process (``wait4``: that child alone)."""
    with log.open("w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_maxrss / 1024


def _judge_cli(exe: list[str], server: Server, tmp: Path, prompts: int, concurrency: int, tag: str) -> list[str]:
    """``referee judge`` arguments: ``prompts`` prompts x 2 models vs a baseline, both orders."""
    outputs = tmp / f"outputs-{tag}.jsonl"
    with outputs.open("w") as f:
        for i in range(prompts):
            for m in ("alpha", "beta"):
                row = {"prompt_id": f"p{i}", "prompt": f"question {i}?", "model": m, "response": f"{m} says {i}"}
                f.write(json.dumps(row) + "\n")
    return [
        *exe, "judge", "--outputs", str(outputs), "--baseline", "alpha", "--judge-url", server.url,
        "--judge-model", "bench-judge", "--concurrency", str(concurrency), "--quiet",
        "-o", str(tmp / f"verdicts-{tag}.jsonl"), "--cache", str(tmp / f"cache-{tag}.sqlite"),
    ]  # fmt: skip


def bench_startup(exe: list[str], env: dict[str, str], server: Server, tmp: Path) -> float | None:
    """Seconds from ``referee judge`` process start to its first request at the server (best of 3; 20 prompts)."""
    args = _judge_cli(exe, server, tmp, 20, 8, "startup")
    best = None
    for _ in range(3):
        Path(args[-1]).unlink(missing_ok=True)  # fresh cache: it must call
        server.seen("arm")
        server.first = None
        t0 = time.time()
        rc, _, _ = _run(args, env, tmp / "startup.log")
        server.seen()
        if rc != 0 or server.first is None:
            print("referee judge failed:", (tmp / "startup.log").read_text()[-500:], file=sys.stderr)
            return None
        best = min(best or 1e9, server.first - t0)
    return best


def bench_cli(exe: list[str], env: dict[str, str], server: Server, tmp: Path, calls: int, concurrency: int) -> dict | None:
    """Whole ``referee judge`` processes (start-up, inputs, output files included): fresh, then cached."""
    args = _judge_cli(exe, server, tmp, calls // 2, concurrency, "cli")
    out = {"n": calls}
    for what in ("fresh", "replay"):
        before = server.seen()
        rc, wall, _ = _run(args, env, tmp / "cli.log")
        made = server.seen() - before
        if rc != 0 or made != (calls if what == "fresh" else 0):
            print(f"referee judge ({what}) failed or made {made} calls:", (tmp / "cli.log").read_text()[-500:], file=sys.stderr)
            return None
        out[f"{what}_s"], out[f"{what}_per_s"] = wall, calls / wall
    return out


def alpaca_files(n_models: int) -> list[Path]:
    """The baseline's outputs and the first ``n_models`` other models (by name) with all 805 outputs."""
    import lzma

    files = [ALPACA / BASELINE / "model_outputs.json.xz"]
    for d in sorted(ALPACA.iterdir()):
        f = d / "model_outputs.json.xz"
        if len(files) > n_models or d.name == BASELINE or not f.exists():
            continue
        with lzma.open(f, "rt", encoding="utf-8") as fh:
            if len(json.load(fh)) == 805:
                files.append(f)
    return files


def bench_alpaca(exe: list[str], env: dict[str, str], server: Server, tmp: Path, n_models: int, concurrency: int) -> dict | None:
    """The AlpacaEval run as a whole process (fresh, then replayed from its cache) and through the library."""
    files = alpaca_files(n_models)
    calls = (len(files) - 1) * 805 * 2  # games; identical requests (equal responses) are sent once
    cache = tmp / "cache-alpaca.sqlite"
    args = [
        *exe, "judge", "--outputs", *map(str, files), "--baseline", BASELINE, "--judge-url", server.url,
        "--judge-model", "bench-judge", "--concurrency", str(concurrency), "--quiet",
        "-o", str(tmp / "verdicts-alpaca.jsonl"), "--cache", str(cache),
    ]  # fmt: skip
    out: dict = {"n": calls}
    for what in ("fresh", "replay"):
        before = server.seen("arm")
        server.first = None
        t0 = time.time()
        rc, wall, rss = _run(args, env, tmp / "alpaca.log")
        made = server.seen() - before
        if rc != 0 or not (0 < made <= calls if what == "fresh" else made == 0):
            print(f"alpaca run ({what}) failed or made {made} calls:", (tmp / "alpaca.log").read_text()[-800:], file=sys.stderr)
            return None
        out[f"{what}_per_s"], out[f"{what}_s"], out[f"{what}_rss_mb"] = calls / wall, wall, rss
        if what == "fresh":
            out["first_s"] = server.first - t0 if server.first is not None else float("nan")
            out["calls"] = made
    # the library: judge() on outputs already read (fresh cache), from the call to the first request
    lib = [sys.executable, "-c", LIB, server.url, str(tmp / "cache-lib.sqlite"), BASELINE, str(concurrency), *map(str, files)]
    before = server.seen("arm")
    server.first = None
    proc = subprocess.run(lib, env=env, capture_output=True, text=True)
    made = server.seen() - before
    marks = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    if proc.returncode != 0 or made != out["calls"] or server.first is None:
        print("library run failed:", proc.stderr[-800:], file=sys.stderr)
        return out
    start, done = float(marks["start"]), float(marks["done"].split()[0])
    out["lib_first_s"], out["lib_per_s"] = server.first - start, calls / (done - start)
    return out


def bench_big(exe: list[str], env: dict[str, str], server: Server, tmp: Path, games: int, calls: int, concurrency: int) -> dict | None:
    """A round robin of 32 models on enough prompts for ``games`` games, stopped by ``--max-calls calls``."""
    per_prompt = 32 * 31  # both orders of every pair
    prompts = -(-games // per_prompt)
    outputs = tmp / "outputs-big.jsonl"
    with outputs.open("w") as f:
        for i in range(prompts):
            for m in range(32):
                f.write(json.dumps({"prompt_id": f"p{i}", "prompt": f"question {i}?", "model": f"m{m:02d}", "response": f"m{m} on {i}"}) + "\n")
    args = [
        *exe, "judge", "--outputs", str(outputs), "--pairs", "round-robin", "--judge-url", server.url,
        "--judge-model", "bench-judge", "--concurrency", str(concurrency), "--quiet", "--max-calls", str(calls),
        "-o", str(tmp / "verdicts-big.jsonl"), "--cache", str(tmp / "cache-big.sqlite"),
    ]  # fmt: skip
    before = server.seen("arm")
    server.first = None
    t0 = time.time()
    rc, wall, rss = _run(args, env, tmp / "big.log")
    made = server.seen() - before
    if rc != 0 or made != calls:
        print(f"big run failed or made {made} calls:", (tmp / "big.log").read_text()[-800:], file=sys.stderr)
        return None
    first = server.first - t0 if server.first is not None else float("nan")
    return {"games": prompts * per_prompt, "calls": calls, "first_s": first, "wall_s": wall, "rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--other-requests", type=int, default=1000, help="for the openai SDK transport (0: skip)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--models", type=int, default=16, help="AlpacaEval models against the baseline (0: skip)")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the checkout's src folder to time")
    ap.add_argument("--big-games", type=int, default=0, help="games in the synthetic big plan (0: skip)")
    ap.add_argument("--big-calls", type=int, default=20000, help="--max-calls of the big run")
    ap.add_argument("--skip-engine", action="store_true", help="only the whole-process figures")
    a = ap.parse_args()
    sys.path.insert(0, str(a.src.resolve()))

    exe, env = _referee(a.src.resolve())
    load_before = os.getloadavg()
    server = Server()
    rows = []
    alpaca = big = None
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            sdk = a.other_requests if importlib.util.find_spec("openai") else 0  # an optional extra
            plan = [
                ("Engine, aiohttp (default)", "auto", a.requests),
                ("Engine, openai SDK", "sdk", sdk),
            ]
            for seed, (name, transport, n) in enumerate(plan):
                if n and not a.skip_engine:
                    r = bench_engine(server.url, n, a.concurrency, transport, tmp / f"{seed}.sqlite", seed)
                    rows.append((name, r))
            cli = bench_cli(exe, env, server, tmp, a.requests, a.concurrency)
            if cli is not None:
                rows.append(("`referee judge` process", cli))
            startup = bench_startup(exe, env, server, tmp)
            if a.models and ALPACA.exists():
                alpaca = bench_alpaca(exe, env, server, tmp, a.models, a.concurrency)
            if a.big_games:
                big = bench_big(exe, env, server, tmp, a.big_games, a.big_calls, a.concurrency)
    finally:
        server.close()

    load = " / ".join(f"{x:.2f}" for x in load_before) + " -> " + " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"judge calls, instant-answer loopback server, concurrency {a.concurrency}, {os.cpu_count()} CPUs, src {a.src}")
    print(f"load average (1 / 5 / 15 min) before -> after: {load}")
    print(f"{'what':<26}{'calls':>7}{'fresh calls/s':>15}{'cache-hit replay/s':>20}")
    for name, r in rows:
        print(f"{name:<26}{r['n']:>7}{r['fresh_per_s']:>15,.0f}{r['replay_per_s']:>20,.0f}")
    if startup is not None:
        print(f"start-up: `referee judge` process start -> first request at the server (best of 3): {startup:.2f} s")
    if alpaca is not None:
        print(
            f"AlpacaEval, {a.models} models vs {BASELINE}, {alpaca['n']:,} games ({alpaca['calls']:,} distinct calls): "
            f"process start -> first request {alpaca['first_s']:.2f} s; whole process {alpaca['fresh_per_s']:,.0f} games/s fresh ({alpaca['fresh_s']:.1f} s, "
            f"peak RSS {alpaca['fresh_rss_mb']:,.0f} MiB), {alpaca['replay_per_s']:,.0f} games/s replayed "
            f"({alpaca['replay_s']:.1f} s, peak RSS {alpaca['replay_rss_mb']:,.0f} MiB)"
        )
        if "lib_first_s" in alpaca:
            print(f"  library judge() on the outputs read: call -> first request {alpaca['lib_first_s']:.2f} s, "
                  f"{alpaca['lib_per_s']:,.0f} games/s")
    if big is not None:
        print(
            f"big plan: {big['games']:,} games (round robin of 32 models), stopped after {big['calls']:,} calls: "
            f"first request {big['first_s']:.2f} s, wall {big['wall_s']:.1f} s, peak RSS {big['rss_mb']:,.0f} MiB"
        )


if __name__ == "__main__":
    main()

"""Benchmark the judge engine against an OpenAI-compatible server that answers instantly.

The server is a minimal asyncio HTTP/1.1 server (keep-alive, pre-rendered response bytes) in its own
process, so it does not share the client's GIL.  Measured:

1. fresh calls: ``Engine`` + ``OpenAIBackend`` at concurrency 64 over N distinct requests, writing
   each answer to a fresh SQLite cache (the real path), for the default aiohttp transport and (when
   the optional ``openai`` package is installed) the ``openai`` SDK transport;
2. cache-hit replay of the same requests (zero calls reach the server);
3. whole ``referee judge`` processes (start-up, reading outputs, writing verdicts included) over
   the same number of calls (prompts x 2 models vs a baseline x both orders), fresh then cached;
4. start-up: seconds from ``referee judge`` process start to its first request at the server, or,
   while that command does not exist, the import time of the engine + HTTP backend.

The load average (``os.getloadavg``) before and after is printed with the figures: the machine
may be shared, and a busy neighbour lowers every rate.

    python bench/judge_bench.py [--requests 5000] [--concurrency 64] [--other-requests 1000]
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


def _referee() -> Path | None:
    exe = Path(sys.executable).with_name("referee")
    ok = exe.exists() and subprocess.run([str(exe), "judge", "--help"], capture_output=True).returncode == 0
    return exe if ok else None


def _judge_cli(exe: Path, server: Server, tmp: Path, prompts: int, concurrency: int, tag: str) -> list[str]:
    """``referee judge`` arguments: ``prompts`` prompts x 2 models vs a baseline, both orders."""
    outputs = tmp / f"outputs-{tag}.jsonl"
    with outputs.open("w") as f:
        for i in range(prompts):
            for m in ("alpha", "beta"):
                row = {"prompt_id": f"p{i}", "prompt": f"question {i}?", "model": m, "response": f"{m} says {i}"}
                f.write(json.dumps(row) + "\n")
    return [
        str(exe), "judge", "--outputs", str(outputs), "--baseline", "alpha", "--judge-url", server.url,
        "--judge-model", "bench-judge", "--concurrency", str(concurrency), "--quiet",
        "-o", str(tmp / f"verdicts-{tag}.jsonl"), "--cache", str(tmp / f"cache-{tag}.sqlite"),
    ]  # fmt: skip


def bench_startup(exe: Path | None, server: Server, tmp: Path) -> tuple[str, float]:
    """(what was measured, seconds): ``referee judge`` start -> first request, else the import time."""
    if exe is not None:
        args = _judge_cli(exe, server, tmp, 20, 8, "startup")
        best = None
        for _ in range(3):
            Path(args[-1]).unlink(missing_ok=True)  # fresh cache: it must call
            server.seen("arm")
            server.first = None
            t0 = time.time()
            proc = subprocess.run(args, capture_output=True, text=True)
            server.seen()
            if proc.returncode != 0 or server.first is None:
                print("referee judge failed:", proc.stderr.strip()[-500:], file=sys.stderr)
                break
            best = min(best or 1e9, server.first - t0)
        if best is not None:
            return "`referee judge` process start -> first request at the server (best of 3)", best
    code = "import referee.judging.engine, referee.judging.http, referee.judging.cache"
    best = min(_timed([sys.executable, "-c", code]) for _ in range(5))
    return "`python -c 'import referee.judging.engine, referee.judging.http'` (no `referee judge` yet)", best


def bench_cli(exe: Path, server: Server, tmp: Path, calls: int, concurrency: int) -> dict | None:
    """Whole ``referee judge`` processes (start-up, inputs, output files included): fresh, then cached."""
    args = _judge_cli(exe, server, tmp, calls // 2, concurrency, "cli")
    out = {"n": calls}
    for what in ("fresh", "replay"):
        before = server.seen()
        t = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True)
        wall = time.perf_counter() - t
        made = server.seen() - before
        if proc.returncode != 0 or made != (calls if what == "fresh" else 0):
            print(f"referee judge ({what}) failed or made {made} calls:", proc.stderr.strip()[-500:], file=sys.stderr)
            return None
        out[f"{what}_s"], out[f"{what}_per_s"] = wall, calls / wall
    return out


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--other-requests", type=int, default=1000, help="for the openai SDK transport (0: skip)")
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()

    exe = _referee()
    load_before = os.getloadavg()
    server = Server()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            sdk = a.other_requests if importlib.util.find_spec("openai") else 0  # an optional extra
            plan = [
                ("Engine, aiohttp (default)", "auto", a.requests),
                ("Engine, openai SDK", "sdk", sdk),
            ]
            for seed, (name, transport, n) in enumerate(plan):
                if n:
                    r = bench_engine(server.url, n, a.concurrency, transport, tmp / f"{seed}.sqlite", seed)
                    rows.append((name, r))
            cli = bench_cli(exe, server, tmp, a.requests, a.concurrency) if exe is not None else None
            if cli is not None:
                rows.append(("`referee judge` process", cli))
            what, startup = bench_startup(exe, server, tmp)
    finally:
        server.close()

    load = " / ".join(f"{x:.2f}" for x in load_before) + " -> " + " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"judge calls, instant-answer loopback server, concurrency {a.concurrency}, {os.cpu_count()} CPUs")
    print(f"load average (1 / 5 / 15 min) before -> after: {load}")
    print(f"{'what':<26}{'calls':>7}{'fresh calls/s':>15}{'cache-hit replay/s':>20}")
    for name, r in rows:
        print(f"{name:<26}{r['n']:>7}{r['fresh_per_s']:>15,.0f}{r['replay_per_s']:>20,.0f}")
    print(f"start-up: {what}: {startup:.2f} s")


if __name__ == "__main__":
    main()

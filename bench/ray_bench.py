"""Ray scale-out on a real two-node local cluster: per-call overhead, aggregation throughput, driver memory.

    python bench/ray_bench.py [--battles 20000000] [--shards 40] [--calls 2000] [--no-local]
                              [--judge-prompts 100] [--judge-only]

1. Writes ``--battles`` seeded battles (150 models, Bradley–Terry outcomes, 15% ties) as
   ``--shards`` Parquet shards under ``bench/out/ray_<battles>_<shards>/`` (dictionary-encoded
   model and winner columns, as an arena export is), once.
2. Starts the two-node cluster of the tests (``tests/ray_cluster.py``: a head and a worker node,
   1 CPU each, in a loopback-only network namespace) and runs each measurement as a fresh driver
   process inside it, so the peak RSS (``ru_maxrss``) is that driver's alone:

   * **per-call overhead** — ``referee.scale.pool.run_pool`` (2 replicas × 4 calls in flight) on a
     no-op call and on a 10 ms call (a fast judge endpoint), against the same calls in a local loop;
   * **aggregation** — ``rank_on_ray`` (cells on Ray Data, BT + sandwich fit on the driver) over
     the shards: wall time, battles/s, the driver's peak RSS;
   * **local** (unless ``--no-local``) — ``referee.rank`` on the same shards in one process.
   * **judge** — ``referee.judge`` against a real OpenAI-compatible server (tests/fault_server.py,
     answering at once and after 10 ms), ``--judge-prompts`` × 6 calls at concurrency 4, locally and
     with ``ray="auto", replicas=2``: the time per call between the first and the last call (the
     replicas' start-up is left out of it, and reported in the wall time).

``--judge-only`` runs the judge measurement alone (no shards).

Prints one JSON object per measurement.  No timing is asserted anywhere; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ray_cluster import RayCluster, available  # noqa: E402


def write_shards(battles: int, shards: int, seed: int = 0) -> Path:
    """``shards`` Parquet files of seeded battles (written once, then reused)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = ROOT / "bench" / "out" / f"ray_{battles}_{shards}"
    done = out / "_DONE"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    m = 150
    names = pa.array([f"model-{i:03d}" for i in range(m)])
    winners = pa.array(["model_a", "model_b", "tie"])
    theta = rng.normal(0, 1, m)
    per = battles // shards
    for k in range(shards):
        n = per + (1 if k < battles % shards else 0)
        a = rng.integers(0, m, n)
        b = (a + rng.integers(1, m, n)) % m
        p = 1 / (1 + np.exp(theta[b] - theta[a]))
        u = rng.random(n)
        y = np.where(u < 0.15, 2, np.where(rng.random(n) < p, 0, 1))
        table = pa.table({
            "model_a": pa.DictionaryArray.from_arrays(pa.array(a.astype(np.int32)), names),
            "model_b": pa.DictionaryArray.from_arrays(pa.array(b.astype(np.int32)), names),
            "winner": pa.DictionaryArray.from_arrays(pa.array(y.astype(np.int32)), winners),
        })  # fmt: skip
        pq.write_table(table, out / f"part-{k:05d}.parquet")
    done.write_text("")
    return out


OVERHEAD = """
import json, resource, time
from referee.scale.pool import run_pool

def noop():
    return lambda x: x

def sleepy():
    import time
    def call(x):
        time.sleep(0.01)
        return x
    return call

n = int(__import__("sys").argv[1])
out = {}
for name, factory, calls in (("noop", noop, n), ("10ms", sleepy, n // 4)):
    fn = factory()
    t = time.perf_counter()
    for i in range(calls):
        fn(i)
    local = (time.perf_counter() - t) / calls
    got = {}
    t = time.perf_counter()
    report = run_pool(factory, [(i, i) for i in range(calls)], got.__setitem__, ray="auto", replicas=2,
                      num_cpus=0.5, per_replica=4)
    ray = (time.perf_counter() - t) / calls
    out[name] = {"calls": calls, "local_us": local * 1e6, "ray_us": ray * 1e6, "nodes": report.nodes}
print(json.dumps({"overhead": out, "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

JUDGE = """
import json, sys, tempfile, time
from pathlib import Path
import referee
from fault_server import FaultServer

n = int(sys.argv[1])  # prompts: 3 models round robin, both orders = 6 calls per prompt
rows = [{"prompt_id": f"p{i}", "prompt": f"Question {i}?", "model": m, "response": f"{m} says {i}"}
        for m in ("a", "b", "c") for i in range(n)]
outputs = Path(tempfile.mkdtemp()) / "outputs.jsonl"
outputs.write_text("".join(json.dumps(r) + "\\n" for r in rows))
out = {}
for delay in (0.0, 0.01):
    srv = FaultServer(answer="[[A]]", delay_s=delay).start()
    for name, extra in (("local", {}), ("ray", {"ray": "auto", "replicas": 2, "ray_num_cpus": 0.5})):
        marks = {}
        def progress(done, total, usage, marks=marks):
            if usage.calls and "first" not in marks:
                marks["first"] = (time.perf_counter(), usage.calls)
            marks["last"] = (time.perf_counter(), usage.calls)
        t = time.perf_counter()
        res = referee.judge(str(outputs), judge_spec={"url": srv.url, "model": "judge-1"}, pairs="round-robin",
                            cache=False, concurrency=4, progress=progress, **extra)
        wall = time.perf_counter() - t
        (t0, c0), (t1, c1) = marks["first"], marks["last"]
        out[f"{name} {delay * 1000:g}ms"] = {"calls": res.usage.calls, "wall_s": wall,
                                            "per_call_us": (t1 - t0) / max(c1 - c0, 1) * 1e6,
                                            "ray": res.usage.extra.get("ray")}
    srv.stop()
print(json.dumps({"judge": out}))
"""

AGGREGATE = """
import json, resource, sys, time
from referee.ranking.distributed import rank_on_ray
from referee.scale.cluster import connect
connect(None)
t = time.perf_counter()
board = rank_on_ray(sys.argv[1], "auto")
wall = time.perf_counter() - t
print(json.dumps({"aggregate": {"battles": board.meta["n_comparisons"], "wall_s": wall,
                  "battles_per_s": board.meta["n_comparisons"] / wall,
                  "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "top": board.table["model"].iloc[0]}}))
"""

LOCAL = """
import json, resource, sys, time
import referee
t = time.perf_counter()
board = referee.rank(sys.argv[1])
wall = time.perf_counter() - t
print(json.dumps({"local": {"battles": board.meta["n_comparisons"], "wall_s": wall,
                  "battles_per_s": board.meta["n_comparisons"] / wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "top": board.table["model"].iloc[0]}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=20_000_000)
    ap.add_argument("--shards", type=int, default=40)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--judge-prompts", type=int, default=100, help="judge run: prompts (6 calls each)")
    ap.add_argument("--judge-only", action="store_true", help="only the judge measurement (no shards, no rank)")
    args = ap.parse_args()
    why = available()
    if why:
        sys.exit(f"cannot start the local Ray cluster: {why}")
    t = time.perf_counter()
    shards = None if args.judge_only else write_shards(args.battles, args.shards)
    if shards is not None:
        size = sum(p.stat().st_size for p in shards.glob("*.parquet"))
        print(json.dumps({"shards": str(shards), "files": args.shards, "mb": size / 2**20,
                          "write_s": time.perf_counter() - t}), flush=True)
    with open("/proc/loadavg") as f:
        print(json.dumps({"loadavg_before": f.read().split()[:3]}), flush=True)
    cluster = RayCluster(Path(tempfile.mkdtemp(prefix="ray-bench-")))
    try:
        t = time.perf_counter()
        cluster.start()
        print(json.dumps({"cluster_start_s": time.perf_counter() - t}), flush=True)
        runs = [(JUDGE, [str(args.judge_prompts)])]
        if shards is not None:
            runs[:0] = [(OVERHEAD, [str(args.calls)]), (AGGREGATE, [str(shards)])]
        for code, extra in runs:
            proc = cluster.run(code, *extra, timeout=3600)
            if proc.returncode:
                sys.exit(proc.stderr[-4000:])
            print(proc.stdout.strip().splitlines()[-1], flush=True)
    finally:
        cluster.stop()
    if not args.no_local and shards is not None:
        proc = subprocess.run([sys.executable, "-c", LOCAL, str(shards)], capture_output=True, text=True,
                              env={**os.environ})
        print(proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 else proc.stderr[-3000:], flush=True)
    with open("/proc/loadavg") as f:
        print(json.dumps({"loadavg_after": f.read().split()[:3],
                          "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()

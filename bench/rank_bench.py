"""Benchmark whole ``referee rank`` processes against evalica and arena-rank on the same files.

Generates a seeded arena (150 models, skewed pair frequencies, about 15% ties) under
``bench/out/``: 1,000,000 battles as JSONL and Parquet, and 10,000,000 battles as Parquet.
Then it times whole processes (wall clock, CPU seconds and peak RSS of each child, from
``wait4``), side by side:

* ``referee rank`` — Bradley–Terry with sandwich CIs on each file, and with a 1000-round
  bootstrap on the 1M JSONL (its extra cost over the sandwich run is printed);
* evalica (``pip install evalica``; Rust core, point estimates only): the file read with
  pyarrow, winners as a list of ``evalica.Winner``, ``evalica.bradley_terry``;
* arena-rank (``pip install arena-rank``, in the interpreter given by ``--peer-python`` since
  it pins its own JAX/NumPy): ``BradleyTerry`` + sandwich CIs on the 1M JSONL, once with its
  default tolerance and once with 1e-13;
* the floor: a process that only reads the three columns with pyarrow, dictionary-encodes
  them and counts the cells with ``np.bincount``.

Ratings of every peer are compared with referee's on the same file.  The machine's noise is
printed: the load average and the CPU time the hypervisor stole (``/proc/stat``) during the
runs.  No figure is asserted.

    python bench/rank_bench.py [--battles 1000000] [--big-battles 10000000] [--models 150]
                               [--repeat 3] [--rounds 1000] [--peer-python PATH] [--peers evalica,arena-rank]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SCALE = 400.0 / np.log(10.0)

ARENA_RANK_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset
df = pd.read_json(sys.argv[1], lines=True)
ds = PairDataset.from_pandas(df)
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-9  # arena-rank's default ftol/gtol is 1e-9
model = BradleyTerry(n_competitors=len(ds.competitors), ftol=tol, gtol=tol, max_iter=10_000)
res = model.compute_ratings_and_cis(ds, significance_level=0.05)
out = {"models": list(res["competitors"]), "ratings": [float(x) for x in res["ratings"]],
       "lower": [float(x) for x in res["rating_lower"]], "upper": [float(x) for x in res["rating_upper"]],
       "seconds_inside": time.perf_counter() - t0}
json.dump(out, open(sys.argv[2], "w"))
"""

EVALICA_SCRIPT = r"""
import json, sys
import numpy as np
import evalica
path, out = sys.argv[1], sys.argv[2]
if path.endswith(".parquet"):
    import pyarrow.parquet as pq
    tbl = pq.read_table(path, columns=["model_a", "model_b", "winner"])
else:
    import pyarrow.json as pj
    tbl = pj.read_json(path)
xs = tbl["model_a"].to_pandas()
ys = tbl["model_b"].to_pandas()
labels = tbl["winner"].to_pandas()
lookup = {"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y,
          "tie": evalica.Winner.Draw, "tie (bothbad)": evalica.Winner.Draw}
winners = [lookup[w] for w in labels]
res = evalica.bradley_terry(xs, ys, winners, tolerance=1e-9, limit=10_000)
json.dump({"models": [str(m) for m in res.scores.index], "scores": [float(s) for s in res.scores],
           "iterations": int(res.iterations)}, open(out, "w"))
"""

FLOOR_SCRIPT = r"""
import sys
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
tbl = pq.read_table(sys.argv[1], columns=["model_a", "model_b", "winner"])
codes = []
for name in ("model_a", "model_b", "winner"):
    enc = pc.dictionary_encode(tbl[name]).combine_chunks()
    codes.append((np.asarray(enc.indices), len(enc.dictionary)))
(a, m), (b, _), (y, k) = codes
cells = np.bincount((a.astype(np.int64) * m + b) * k + y, minlength=m * m * k)
print(int((cells > 0).sum()))
"""


def cpu_steal() -> float:
    """CPU-seconds the hypervisor took from this VM so far (``steal`` in /proc/stat); -1 if unknown."""
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return -1.0


def make_arena(n_battles: int, n_models: int, seed: int, jsonl: bool = True) -> tuple[Path | None, Path]:
    """Write the seeded arena as Parquet (and JSONL); files already there are reused."""
    from referee.sim import simulate_arena

    OUT.mkdir(parents=True, exist_ok=True)
    stem = OUT / f"arena_{n_battles}_{n_models}_{seed}"
    parquet, json_path = stem.with_suffix(".parquet"), stem.with_suffix(".jsonl")
    if not parquet.exists() or (jsonl and not json_path.exists()):
        df, _ = simulate_arena(n_models, n_battles, seed=seed, tau=0.19, skew=1.1, spread=1.0)
        df["question_id"] = np.arange(len(df)).astype(str)
        if jsonl:
            df.to_json(json_path, orient="records", lines=True)
        df.to_parquet(parquet, index=False)
        ties = df.winner.str.startswith("tie").mean()
        print(f"generated {stem.name}: {len(df):,} battles, {ties:.1%} ties, "
              f"{df.groupby(['model_a', 'model_b']).ngroups:,} ordered pairs", flush=True)
        del df
    return (json_path if jsonl else None), parquet


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            print(err.read().decode(errors="replace")[-2000:], file=sys.stderr)
            raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


class Bench:
    """Runs commands and keeps one row per run: (label, wall s, CPU s, peak MB)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, float]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="rank_bench_"))

    def run(self, label: str, cmd: list[str], repeat: int) -> list[tuple[float, float, float]]:
        got = []
        for _ in range(repeat):
            wall, cpu, peak = timed(cmd)
            self.rows.append((label, wall, cpu, peak))
            print(f"  {label:<52} {wall:7.2f} s wall {cpu:7.2f} s CPU {peak:7.0f} MB", flush=True)
            got.append((wall, cpu, peak))
        return got

    def referee(self, path: Path, extra: list[str], label: str, repeat: int) -> tuple[dict[str, Any], list]:
        out = self.tmp / "board.json"
        # ``python -m referee.cli`` is the ``referee`` script (it honours PYTHONPATH, to time another checkout)
        got = self.run(label, [sys.executable, "-m", "referee.cli", "rank", str(path), "-q", "-o", str(out), *extra],
                       repeat)
        return json.loads(out.read_text()), got

    def script(self, python: str, text: str, name: str, label: str, args: list[str], repeat: int) -> list:
        script = self.tmp / name
        script.write_text(text)
        return self.run(label, [python, str(script), *args], repeat)


def importable(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def ratings_of(board: dict[str, Any]) -> dict[str, float]:
    return {r["model"]: r["rating"] for r in board["models"]}


def compare_scores(ours: dict[str, float], models: list[str], scores: list[float]) -> str:
    """Max |rating difference| after putting evalica's strengths on referee's scale (mean 1000)."""
    theta = np.log(np.asarray(scores, dtype=float))
    rating = 1000.0 + SCALE * (theta - theta.mean())
    mine = np.array([ours[m] for m in models])
    diff = np.abs((mine - mine.mean() + 1000.0) - rating)
    return f"max |rating difference| {diff.max():.2g} points (mean {diff.mean():.2g})"


def summary(label: str, got: list[tuple[float, float, float]]) -> str:
    w = [g[0] for g in got]
    c = [g[1] for g in got]
    p = [g[2] for g in got]
    return f"{label}: wall {min(w):.2f}–{max(w):.2f} s, CPU {min(c):.2f}–{max(c):.2f} s, peak {min(p):.0f}–{max(p):.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--battles", type=int, default=1_000_000)
    ap.add_argument("--big-battles", type=int, default=10_000_000, help="Parquet-only arena (0: skip)")
    ap.add_argument("--models", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each referee and evalica command")
    ap.add_argument("--peer-python", default=os.environ.get("PEER_PYTHON", sys.executable),
                    help="interpreter that can import arena_rank")
    ap.add_argument("--peers", default="evalica,arena-rank", help="peer tools to time (comma-separated; '' for none)")
    args = ap.parse_args()
    jsonl, parquet = make_arena(args.battles, args.models, args.seed)
    big = make_arena(args.big_battles, args.models, args.seed, jsonl=False)[1] if args.big_battles else None
    assert jsonl is not None
    n1, n2 = f"{args.battles / 1e6:g}M", f"{args.big_battles / 1e6:g}M"

    load0, steal0, t0 = os.getloadavg()[0], cpu_steal(), time.perf_counter()
    b = Bench()
    r = args.repeat
    print("runs (each a whole process):", flush=True)
    board, got_sw = b.referee(jsonl, [], f"referee BT + sandwich, {n1} JSONL", r)
    _, got_pq = b.referee(parquet, [], f"referee BT + sandwich, {n1} Parquet", r)
    got_big = b.referee(big, [], f"referee BT + sandwich, {n2} Parquet", r)[1] if big else []
    _, got_bs = b.referee(jsonl, ["--ci", "bootstrap", "--rounds", str(args.rounds)],
                          f"referee BT + {args.rounds}-round bootstrap, {n1} JSONL", r)
    notes = []
    if big:
        b.script(sys.executable, FLOOR_SCRIPT, "floor.py", f"floor: pyarrow read + encode + bincount, {n2}",
                 [str(big)], r)
    peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    if "evalica" in peers and importable(sys.executable, "evalica"):
        ev_out = b.tmp / "evalica.json"
        b.script(sys.executable, EVALICA_SCRIPT, "ev.py", f"evalica BT (no CIs), {n1} JSONL", [str(jsonl), str(ev_out)], r)
        ev = json.loads(ev_out.read_text())
        notes.append(f"vs evalica ({n1} JSONL, tolerance 1e-9, {ev['iterations']} iterations): "
                     + compare_scores(ratings_of(board), ev["models"], ev["scores"]))
        if big:
            b.script(sys.executable, EVALICA_SCRIPT, "ev.py", f"evalica BT (no CIs), {n2} Parquet",
                     [str(big), str(ev_out)], 1)
    elif "evalica" in peers:
        print("evalica is not importable; skipping it (pip install evalica)")
    if "arena-rank" in peers and importable(args.peer_python, "arena_rank"):
        ar_out = b.tmp / "ar.json"
        for tol in (None, 1e-13):
            label = f"arena-rank BT + sandwich, {n1} JSONL" + ("" if tol is None else f", tol {tol:g}")
            b.script(args.peer_python, ARENA_RANK_SCRIPT, "ar.py", label,
                     [str(jsonl), str(ar_out), *([] if tol is None else [str(tol)])], 1)
            res = json.loads(ar_out.read_text())
            ours = ratings_of(board)
            ours_w = {row["model"]: row["ci_high"] - row["ci_low"] for row in board["models"]}
            diffs = np.array([abs(ours[m] - x) for m, x in zip(res["models"], res["ratings"], strict=True)])
            widths = np.array([ours_w[m] - (u - lo) for m, lo, u in
                               zip(res["models"], res["lower"], res["upper"], strict=True)])
            notes.append(f"vs arena-rank ({'default tolerance' if tol is None else 'tolerance 1e-13'}): max |rating "
                         f"difference| {diffs.max():.5f} points (mean {diffs.mean():.5f}); max |95% CI width "
                         f"difference| {np.abs(widths).max():.3f} points")
    elif "arena-rank" in peers:
        print(f"arena-rank is not importable by {args.peer_python}; skipping it (pip install arena-rank in a "
              "separate venv, pass --peer-python)")
    elapsed, steal1, load1 = time.perf_counter() - t0, cpu_steal(), os.getloadavg()[0]

    print(f"\n{args.battles:,} / {args.big_battles:,} battles, {args.models} models, {os.cpu_count()} cores")
    print(f"{'run':<52} {'wall s':>8} {'CPU s':>8} {'peak MB':>9}")
    for label, wall, cpu, peak in b.rows:
        print(f"{label:<52} {wall:8.2f} {cpu:8.2f} {peak:9.0f}")
    print()
    for label, got in ((f"referee {n1} JSONL", got_sw), (f"referee {n1} Parquet", got_pq),
                       (f"referee {n2} Parquet", got_big), ("referee bootstrap", got_bs)):
        if got:
            print(summary(label, got))
    extra = [bs[0] - sw[0] for bs, sw in zip(got_bs, got_sw, strict=True)]
    print(f"bootstrap extra wall time over the sandwich run: {min(extra):.2f}–{max(extra):.2f} s")
    for note in notes:
        print(note)
    stolen = 100.0 * (steal1 - steal0) / (elapsed * (os.cpu_count() or 1)) if steal0 >= 0 else float("nan")
    print(f"machine: load average {load0:.2f} before, {load1:.2f} after; host CPU steal {stolen:.1f}% "
          f"over {elapsed:.0f} s")


if __name__ == "__main__":
    main()

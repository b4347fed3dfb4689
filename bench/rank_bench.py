"""Benchmark ``referee rank`` on a seeded 1,000,000-battle arena over 150 models.

Generates the arena (skewed pair frequencies, about 15% ties) as JSONL and
Parquet under ``bench/out/``, then times the whole ``referee rank`` process
(wall clock and peak RSS of the child process) for Bradley–Terry with sandwich
CIs and with a 1000-round bootstrap.  Where ``arena-rank`` is importable (by the
interpreter given with ``--peer-python``, default: this one), it is timed on the
same file and its ratings are compared with referee's.

    python bench/rank_bench.py [--battles 1000000] [--models 150] [--peer-python PATH]
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

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

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


def make_arena(n_battles: int, n_models: int, seed: int) -> tuple[Path, Path]:
    """Write the seeded arena as JSONL and Parquet (reused when already there)."""
    from referee.sim import simulate_arena

    OUT.mkdir(parents=True, exist_ok=True)
    jsonl = OUT / f"arena_{n_battles}_{n_models}_{seed}.jsonl"
    parquet = jsonl.with_suffix(".parquet")
    if not (jsonl.exists() and parquet.exists()):
        df, _ = simulate_arena(n_models, n_battles, seed=seed, tau=0.19, skew=1.1, spread=1.0)
        df["question_id"] = np.arange(len(df)).astype(str)
        df.to_json(jsonl, orient="records", lines=True)
        df.to_parquet(parquet, index=False)
        ties = df.winner.str.startswith("tie").mean()
        print(f"generated {jsonl.name}: {len(df):,} battles, {ties:.1%} ties, "
              f"{df.groupby(['model_a', 'model_b']).ngroups:,} ordered pairs")
    return jsonl, parquet


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return wall, max(peak, before) / 1024.0, proc


def run_referee(path: Path, extra: list[str], label: str, results: list) -> dict:
    out = Path(tempfile.mkdtemp()) / "board.json"
    exe = str(Path(sys.executable).with_name("referee"))
    wall, peak, _ = timed([exe, "rank", str(path), "-q", "-o", str(out), *extra])
    results.append((label, wall, peak))
    return json.loads(out.read_text())


def run_arena_rank(python: str, path: Path, results: list, tol: float | None = None) -> dict | None:
    probe = subprocess.run([python, "-c", "import arena_rank"], capture_output=True)
    if probe.returncode != 0:
        print(f"arena-rank is not importable by {python}; skipping the peer comparison "
              "(pip install arena-rank, or pass --peer-python)")
        return None
    out = Path(tempfile.mkdtemp()) / "ar.json"
    script = Path(tempfile.mkdtemp()) / "ar.py"
    script.write_text(ARENA_RANK_SCRIPT)
    extra = [] if tol is None else [str(tol)]
    wall, peak, _ = timed([python, str(script), str(path), str(out), *extra])
    label = "arena-rank BT + sandwich (JSONL)" + ("" if tol is None else f", tol {tol:g}")
    results.append((label, wall, peak))
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--battles", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--peer-python", default=os.environ.get("PEER_PYTHON", sys.executable))
    args = ap.parse_args()
    jsonl, parquet = make_arena(args.battles, args.models, args.seed)
    results: list[tuple[str, float, float]] = []
    board = run_referee(jsonl, [], "referee BT + sandwich (JSONL)", results)
    run_referee(parquet, [], "referee BT + sandwich (Parquet)", results)
    run_referee(jsonl, ["--ci", "bootstrap", "--rounds", str(args.rounds)],
                f"referee BT + {args.rounds}-round bootstrap (JSONL)", results)
    peer = run_arena_rank(args.peer_python, jsonl, results)
    peer_tight = run_arena_rank(args.peer_python, jsonl, results, tol=1e-13) if peer else None
    print(f"\n{args.battles:,} battles, {args.models} models, {os.cpu_count()} cores")
    print(f"{'run':<48} {'wall s':>8} {'peak MB':>9}")
    for label, wall, peak in results:
        print(f"{label:<48} {wall:8.2f} {peak:9.0f}")
    ours = {r["model"]: r["rating"] for r in board["models"]}
    ours_w = {r["model"]: r["ci_high"] - r["ci_low"] for r in board["models"]}
    for name, res in (("default tolerance", peer), ("tolerance 1e-13", peer_tight)):
        if res is None:
            continue
        diffs = np.array([abs(ours[m] - r) for m, r in zip(res["models"], res["ratings"], strict=True)])
        widths = np.array([ours_w[m] - (u - lo) for m, lo, u in
                           zip(res["models"], res["lower"], res["upper"], strict=True)])
        print(f"\nvs arena-rank ({name}): max |rating difference| {diffs.max():.5f} points "
              f"(mean {diffs.mean():.5f}); max |95% CI width difference| {np.abs(widths).max():.3f} points")


if __name__ == "__main__":
    main()

"""Benchmark ``referee audit``: 100,000 verdicts, 1,000 prompt-clustered bootstrap rounds, every metric.

Two synthetic judges (50,000 verdicts each: 2,500 prompts × 10 model pairs × 2 orders, with
response texts, categories, ``prob_a``, planted position / length / self-preference biases),
50,000 gold labels and 25,000 pointwise scores, so accuracy (all tie policies' machinery),
agreement, position, length, self-preference, transitivity, score–comparison consistency,
calibration and central tendency are all computed with intervals.

    python bench/audit_bench.py [--prompts 2500] [--rounds 1000] [--files]

``--files`` also times the whole ``referee audit`` command on JSONL files written to bench/out/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from referee.auditing.api import audit
from referee.auditing.sim import JudgeSpec, simulate_judges

HERE = Path(__file__).resolve().parent


def scores_table(verdicts: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    resp = pd.concat([
        verdicts[["prompt_id", "model_a", "judge"]].rename(columns={"model_a": "model"}),
        verdicts[["prompt_id", "model_b", "judge"]].rename(columns={"model_b": "model"}),
    ]).drop_duplicates()
    quality = {m: q for m, q in zip(sorted(resp["model"].unique()), np.linspace(2, -2, resp["model"].nunique()),
                                    strict=True)}
    score = 5.5 + resp["model"].map(quality).to_numpy() + rng.normal(0, 1.5, len(resp))
    return pd.DataFrame({"prompt_id": resp["prompt_id"], "model": resp["model"], "scorer": resp["judge"],
                         "score": np.clip(np.round(score), 1, 10)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=2500)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--files", action="store_true", help="also time the CLI on JSONL files")
    args = ap.parse_args()
    t0 = time.perf_counter()
    verdicts, gold = simulate_judges(
        {"gpt-judge": JudgeSpec(position=0.4, length=0.8, self_family="gpt", self_bonus=0.5, tie_rate=0.05),
         "claude-judge": JudgeSpec(sharpness=1.5, tie_rate=0.1)},
        n_prompts=args.prompts, seed=1,
    )
    scores = scores_table(verdicts)
    print(f"data: {len(verdicts):,} verdicts, {len(gold):,} gold labels, {len(scores):,} scores "
          f"({time.perf_counter() - t0:.1f} s to simulate); {os.cpu_count()} CPU cores")
    family = {"gpt-judge": "gpt", "claude-judge": "claude"}
    audit(verdicts.head(2000), gold, rounds=10, family=family)  # warm-up: imports, caches
    t = time.perf_counter()
    rep = audit(verdicts, gold, scores=scores, rounds=args.rounds, seed=0, family=family)
    elapsed = time.perf_counter() - t
    n_metrics = sum(1 for d in rep.judges.values() for k, v in d.items() if isinstance(v, dict) and "value" in v)
    print(f"audit(): {len(verdicts):,} verdicts, {args.rounds} bootstrap rounds, {rep.meta['clusters']:,} clusters, "
          f"{n_metrics} headline metrics with CIs: {elapsed:.2f} s (target <= 10 s)")
    for j, d in rep.judges.items():
        print(f"  {j}: flags = {[f['metric'] for f in d['flags']]}")
    if args.files:
        out = HERE / "out"
        out.mkdir(exist_ok=True)
        vp, gp, sp = out / "audit_verdicts.jsonl", out / "audit_gold.jsonl", out / "audit_scores.jsonl"
        verdicts.to_json(vp, orient="records", lines=True)
        gold.to_json(gp, orient="records", lines=True)
        scores.to_json(sp, orient="records", lines=True)
        exe = str(Path(sys.executable).with_name("referee"))
        cmd = [exe, "audit", str(vp), "--gold", str(gp), "--scores", str(sp), "--rounds", str(args.rounds),
               "--family", "gpt-judge=gpt,claude-judge=claude", "-q", "-o", str(out / "audit.json")]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        print(f"referee audit (CLI, JSONL files incl. reading {vp.stat().st_size / 1e6:.0f} MB): "
              f"{time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()

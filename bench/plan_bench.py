"""Comparison planning against the targets of issue 11 (figures in bench/README.md, "Planning").

* τ against the truth for random / active / swiss / knockout at 5, 10, 25% of the round-robin
  calls: truths at evenly spaced ranks of the Chatbot Arena text leaderboard
  (``../shared/data/chatbot-arena-leaderboard``), 20 models × 120 prompts and 50 × 500, a
  Davidson-ties judge (ν = ½) with a 0.2-logit first-position bias, both orders judged; median
  over seeds and the paired difference active − random with a 95% bootstrap CI over seeds;
* knockout: comparisons per prompt and top-1 agreement of the bracket winner with the
  round-robin winner on the same prompt (both over the same simulated verdicts);
* replays on MT-Bench GPT-4 pair judgments and PRD GPT-4 reviews at 10/25/50%;
* decision latency: one ``propose(64)`` + ``observe`` of 64 outcomes for 100 models × 1,000
  prompts (5 million candidates).

    .venv/bin/python bench/plan_bench.py [--seeds 50] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from referee.planning import CandidateSet, make_planner, simulate
from referee.planning.oracle import SimulatedJudge

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ARENA = DATA / "chatbot-arena-leaderboard" / "data" / "leaderboard-text.json.gz"
REPLAYS = {
    "MT-Bench GPT-4 pairs": DATA / "mt-bench-human-judgments-partial" / "derived" / "gpt4_pair.jsonl.gz",
    "PRD GPT-4 reviews": DATA / "prd-peer-rank" / "data" / "vicuna80" / "ratings-gpt4",
}


def tau_table(models: int, prompts: int, seeds: int) -> None:
    t0 = time.perf_counter()
    res = simulate(truth=ARENA, models=models, prompts=prompts, seeds=seeds, plans="random,active,swiss,knockout",
                   budget="5%,10%,25%")
    print(f"\n## {models} models × {prompts} prompts, {seeds} seeds ({time.perf_counter() - t0:.0f} s)")
    print(res.to_text())


def knockout_agreement(models: int, prompts: int, seeds: int) -> None:
    from referee.planning.simulation import read_truth, spaced

    truth = spaced(read_truth(ARENA), models)
    theta = (truth.to_numpy() - truth.mean()) / (400 / np.log(10))
    agree, total, per_prompt = 0.0, 0, set()
    for seed in range(seeds):
        cs = CandidateSet.round_robin([f"p{i}" for i in range(prompts)], list(truth.index), seed=seed)
        judge = SimulatedJudge(cs, theta, seed=seed)
        # the round-robin winner on each prompt: most points over all its comparisons there
        pts = np.zeros((prompts, models))
        np.add.at(pts, (cs.prompt, cs.a), judge.score)
        np.add.at(pts, (cs.prompt, cs.b), 1 - judge.score)
        planner = make_planner("knockout", cs, seed=seed)
        counts: dict[str, int] = {}
        while not planner.finished:
            got = planner.propose(256)
            if not got:
                break
            for p, _, _ in got:
                counts[p] = counts.get(p, 0) + 1
            planner.observe(judge(got))
        per_prompt |= set(counts.values())
        for p, w in planner.winners.items():
            row = pts[cs.prompt_index[p]]
            best = np.flatnonzero(row == row.max())
            agree += float(cs.model_index[w] in best) / 1.0
            total += 1
    print(f"knockout {models} models: comparisons per prompt {sorted(per_prompt)} (N − 1 = {models - 1}); bracket "
          f"winner among the round-robin winners on the prompt: {agree / total:.1%} of {total} prompts")


def replays(seeds: int) -> None:
    for name, path in REPLAYS.items():
        res = simulate(replay=path, plans="random,active,swiss", budget="10%,25%,50%", seeds=seeds)
        print(f"\n## replay: {name}")
        print(res.to_text())


def latency(models: int = 100, prompts: int = 1000, batches: int = 60) -> None:
    t0 = time.perf_counter()
    cs = CandidateSet.round_robin([f"p{i}" for i in range(prompts)], [f"m{i}" for i in range(models)], seed=0)
    build = time.perf_counter() - t0
    theta = np.random.default_rng(0).normal(0, 1, models)
    judge = SimulatedJudge(cs, theta, seed=0)
    print(f"\n## decision latency, {models} models × {prompts} prompts ({len(cs):,} candidates; set built in "
          f"{build:.1f} s)")
    for plan in ("random", "active", "swiss"):
        planner = make_planner(plan, cs, budget="2%", seed=0)
        times = []
        for _ in range(batches):
            a = time.perf_counter()
            got = planner.propose(64)
            b = time.perf_counter()
            if not got:
                break
            outcomes = judge(got)
            c = time.perf_counter()
            planner.observe(outcomes)
            times.append(b - a + time.perf_counter() - c)
        t = np.array(times) * 1000
        print(f"{plan:<7} propose(64) + observe(64): median {np.median(t):.1f} ms, 90th pct {np.quantile(t, 0.9):.1f} ms, "
              f"max {t.max():.1f} ms over {len(t)} batches")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--big-seeds", type=int, default=None, help="seeds for 50 models × 500 prompts (default --seeds)")
    ap.add_argument("--quick", action="store_true", help="20 models only, 10 seeds")
    args = ap.parse_args()
    seeds = 10 if args.quick else args.seeds
    latency()
    tau_table(20, 120, seeds)
    knockout_agreement(20, 120, min(seeds, 20))
    replays(min(seeds, 20))
    if not args.quick:
        tau_table(50, 500, args.big_seeds or seeds)
        knockout_agreement(50, 500, min(seeds, 5))


if __name__ == "__main__":
    main()

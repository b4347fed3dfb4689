"""Probe recovery: planted flip rates against a simulated judge over real HTTP, and the
false-flag rate of an unbiased judge.

The judge (``tests/probe_judge_server.py``) answers the gold verdict, except that when it sees a
probe's edit it flips toward the edited response with probability 0.35 in pairwise prompts and
0.09 in pointwise ones (seeded by the request text).  Prints each text probe's flip rate with its
95% interval, pairwise and pointwise, then how many of 40 seeds flag an unbiased judge (20%
random verdicts) after FDR control.  The gold pairs and the judge spec come from
``tests/test_probes.py``, so the bench and the tests cannot drift apart.

    python bench/probe_bench.py [--pairs 200] [--seeds 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from probe_judge_server import ProbeJudgeServer
from referee.probing import TEXT_PROBES, probe
from test_probes import gold, spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=40)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with ProbeJudgeServer() as srv:
        rep = probe(gold(args.pairs), probes=list(TEXT_PROBES), judge_spec=spec(srv), mode="both", cache=False,
                    concurrency=16, announce=print)
    print(f"{'probe':<12} {'pairwise [95% CI]':<24} pointwise [95% CI]   (planted 0.35 / 0.09)")
    for p in TEXT_PROBES:
        a, b = rep.get(p), rep.get(p, "pointwise")
        print(f"{p:<12} {a['value']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]   "
              f"{b['value']:.3f} [{b['ci_low']:.3f}, {b['ci_high']:.3f}]")
    print(f"({time.perf_counter() - t0:.1f} s)")
    flagged = 0
    with ProbeJudgeServer(pairwise_flip=0, pointwise_flip=0, noise=0.2) as srv:
        for seed in range(args.seeds):
            srv.seed = seed
            r = probe(gold(24, seed), probes=["bandwagon", "identical"], judge_spec=spec(srv), seed=seed, cache=False,
                      concurrency=16, announce=lambda _: None)
            flagged += bool(r.flags)
    print(f"unbiased judge (20% random verdicts): flagged after FDR control in {flagged} of {args.seeds} seeds")


if __name__ == "__main__":
    main()

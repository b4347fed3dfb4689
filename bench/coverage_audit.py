"""Coverage of the audit's and the probes' 95% intervals, with more datasets than the tests.

Prints the tables of ``tests/test_probe_coverage.py`` (flip rates, shares, mean score changes)
and ``tests/test_audit_coverage.py`` (length excess, graded metrics, accuracy) — the very same
simulations, imported from those files, so the bench and the tests cannot drift apart.

    .venv/bin/python bench/coverage_audit.py                       # probes 5,000, audit 1,000 datasets
    .venv/bin/python bench/coverage_audit.py --probe-datasets 2000 --audit-datasets 300 --only audit
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_audit_coverage as audit
import test_probe_coverage as probe


def probes(datasets: int) -> None:
    print(f"\nflip rate (clustered Wilson), {datasets} datasets per cell")
    print("     p      n  " + "  ".join(f"rho={r:<5g}" for r in probe.RHOS))
    for p in probe.RATES:
        for n in probe.PAIRS:
            row = [probe.rate_coverage(p, n, rho, datasets) for rho in probe.RHOS]
            print(f"  {p:5.2f} {n:6d}  " + "  ".join(f"{c:9.3f}" for c in row), flush=True)
    print(f"\nshare (Wilson, independent units), {datasets} datasets per cell")
    for p in probe.RATES:
        print(f"  p={p:5.2f}  " + "  ".join(f"n={n}: {probe.share_coverage(p, n, datasets):.3f}"
                                          for n in probe.PAIRS), flush=True)
    print(f"\nmean score change (t interval), {5 * datasets} datasets per cell (no interval: all changes equal)")
    for law in probe.CHANGE_LAWS:
        cells = [probe.change_coverage(law, n, 5 * datasets) for n in probe.PAIRS]
        print(f"  {law:<10}" + "  ".join(f"n={n}: {c:.3f} ({m:.1%} none)" for n, (c, m) in
                                         zip(probe.PAIRS, cells, strict=True)), flush=True)


def audits(datasets: int) -> None:
    print(f"\nprefer_longer_excess (paired, prompt-clustered bootstrap), {datasets} datasets per case")
    for case in audit.LENGTH_CASES:
        print(f"  {case:<18} {audit.length_coverage(case, datasets):.3f}", flush=True)
    print(f"\ngraded metrics (prompt-clustered bootstrap), {datasets} datasets per size")
    cov = {p: audit.graded_coverage(p, datasets) for p in audit.GRADED_PROMPTS}
    truth = audit.graded_truth()
    print(f"  {'metric':<22} {'truth':>8}  " + "  ".join(f"{p:>4} prompts" for p in audit.GRADED_PROMPTS))
    for k in audit.GRADED:
        print(f"  {k:<22} {truth[k]:8.4f}  " + "  ".join(f"{cov[p][k]:11.3f}" for p in audit.GRADED_PROMPTS))
    print(f"\naccuracy (bootstrap; the jury's weighted log-odds CI is its monotone transform), {datasets} datasets")
    for prompts in (30, 150):
        print(f"  {prompts} prompts × 4 verdicts: {audit.accuracy_coverage(prompts, datasets):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe-datasets", type=int, default=5000)
    ap.add_argument("--audit-datasets", type=int, default=1000)
    ap.add_argument("--only", choices=["probe", "audit"])
    a = ap.parse_args()
    t = time.time()
    if a.only != "audit":
        probes(a.probe_datasets)
    if a.only != "probe":
        audits(a.audit_datasets)
    print(f"\n{time.time() - t:.0f} s")


if __name__ == "__main__":
    main()

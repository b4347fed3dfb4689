"""Coverage matrix of the intervals ``referee.rank`` prints, on simulated arenas with known truth.

For every scenario of :data:`referee.sim.SCENARIOS` (a data model and the ``referee.rank``
options that fit it), every interval kind (sandwich, cluster-robust sandwich, bootstrap,
clustered bootstrap; clustered by ``prompt_id``) and both centrings (mean-centred, and
``anchor="model-000=1000"``), it simulates ``--arenas`` seeded arenas, ranks each through the
public API and counts the model intervals ``[ci_low, ci_high]`` that cover the true rating

    mean-centred:  1000 + (400/ln 10)·(θ_i − mean θ)
    anchored:      1000 + (400/ln 10)·(θ_i − θ_anchor)   (the anchor itself excluded; its
                   interval must be exactly [1000, 1000])

Coverage is pooled over models and arenas.  Its Monte-Carlo SE treats arenas as the
independent units (intervals of one arena share the data and are correlated); the binomial
SE that pretends 95% intervals are independent is about 0.8 points at 800 intervals.  A cell
whose ``referee.rank`` call raised in any arena is ``ERROR`` (first message shown); kinds a
scenario does not expect to be honest (unclustered intervals on prompt-correlated data) are
``report``.  Then the exact small cases: two models k–0 (exact two-sided binomial
p = 2·0.5^k) and three models in a chain.

    python bench/coverage.py [--arenas 200] [--rounds 200] [--jobs 2] [--scenarios bt-half,style]
                             [--kinds sandwich,bootstrap] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

from referee.sim import CENTRINGS, INTERVAL_KINDS, SCENARIOS, chain, coverage_records, k_to_zero, summarise


def matrix_table(summary: pd.DataFrame) -> str:
    """Scenarios × (kind, centring): ``coverage% ±se`` with a status mark."""
    cols = [(k, c) for k in INTERVAL_KINDS for c in CENTRINGS]
    head = ["scenario".ljust(15)] + [f"{k}/{'anch' if c == 'anchored' else 'mean'}".rjust(22) for k, c in cols]
    lines = [" ".join(head)]
    for sc in dict.fromkeys(summary["scenario"]):
        cells = [str(sc).ljust(15)]
        for k, c in cols:
            row = summary[(summary.scenario == sc) & (summary.kind == k) & (summary.centring == c)]
            if row.empty:
                cells.append("—".rjust(22))
                continue
            r = row.iloc[0]
            mark = {"ok": "", "report": " (r)"}.get(r.status, f" {r.status}")
            txt = "no result" if np.isnan(r.coverage) else f"{100 * r.coverage:5.1f} ±{100 * r.se:.1f}"
            cells.append(f"{txt}{mark}".rjust(22))
        lines.append(" ".join(cells))
    return "\n".join(lines)


def small_cases(ci_kinds: tuple[str, ...] = ("sandwich", "bootstrap"), rounds: int = 200) -> str:
    """k–0 and chain cases: intervals, overlap and the exact p-values."""
    import referee

    out = ["two models, A beats B k–0 (exact two-sided binomial p = 2·0.5^k; overlap required for p ≥ 0.05)"]
    out.append(f"{'ci':10} {'k':>2} {'p':>7} {'A interval':>18} {'B interval':>18} {'overlap':>8} "
               f"{'anchored B=1000: A':>22} {'∋1000':>6}")
    for ci in ci_kinds:
        for k in range(1, 9):
            df = k_to_zero(k)
            p = 2 * 0.5**k
            try:
                tab = referee.rank(df, ci=ci, rounds=rounds, seed=0).table.set_index("model")
                anc = referee.rank(df, ci=ci, rounds=rounds, seed=0, anchor="B=1000").table.set_index("model")
                a, b, aa = tab.loc["A"], tab.loc["B"], anc.loc["A"]
                overlap = a.ci_low <= b.ci_high
                contains = aa.ci_low <= 1000 <= aa.ci_high
                verdict = "ok" if overlap == (p >= 0.05) else ("WRONG" if p >= 0.05 else "(wide)")
                out.append(f"{ci:10} {k:2d} {p:7.4f} {f'[{a.ci_low:.0f}, {a.ci_high:.0f}]':>18} "
                           f"{f'[{b.ci_low:.0f}, {b.ci_high:.0f}]':>18} {bool(overlap)!s:>8} "
                           f"{f'[{aa.ci_low:.0f}, {aa.ci_high:.0f}]':>22} {bool(contains)!s:>6}  {verdict}")
            except Exception as exc:
                out.append(f"{ci:10} {k:2d} {p:7.4f}  ERROR {type(exc).__name__}: {str(exc)[:100]}")
    out.append("")
    out.append("three models in a chain: A beats B k–0, B beats C k–0, A–C never met "
               "(A–B, B–C: p = 2·0.5^k; A–C: sup-p = 2·4^-k)")
    out.append(f"{'ci':10} {'k':>2} {'A':>14} {'B':>14} {'C':>14} {'A∩B':>5} {'B∩C':>5} {'A∩C':>5} "
               f"{'anch B: A∋1000':>15} {'C∋1000':>7} {'anch A: C∋1000':>15}")
    for ci in ci_kinds:
        for k in range(1, 7):
            df = chain(k)
            try:
                t = referee.rank(df, ci=ci, rounds=rounds, seed=0).table.set_index("model")
                tb = referee.rank(df, ci=ci, rounds=rounds, seed=0, anchor="B=1000").table.set_index("model")
                ta = referee.rank(df, ci=ci, rounds=rounds, seed=0, anchor="A=1000").table.set_index("model")

                def iv(r: pd.Series) -> str:
                    return f"[{r.ci_low:.0f},{r.ci_high:.0f}]"

                def meet(x: pd.Series, y: pd.Series) -> bool:
                    return bool(x.ci_low <= y.ci_high and y.ci_low <= x.ci_high)

                def has(r: pd.Series) -> bool:
                    return bool(r.ci_low <= 1000 <= r.ci_high)

                A, B, C = t.loc["A"], t.loc["B"], t.loc["C"]
                out.append(f"{ci:10} {k:2d} {iv(A):>14} {iv(B):>14} {iv(C):>14} {meet(A, B)!s:>5} "
                           f"{meet(B, C)!s:>5} {meet(A, C)!s:>5} {has(tb.loc['A'])!s:>15} "
                           f"{has(tb.loc['C'])!s:>7} {has(ta.loc['C'])!s:>15}")
            except Exception as exc:
                out.append(f"{ci:10} {k:2d}  ERROR {type(exc).__name__}: {str(exc)[:100]}")
    return "\n".join(out)


def _progress(done: int, total: int) -> None:
    if done % max(1, total // 20) == 0 or done == total:
        print(f"  {done}/{total} arenas", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arenas", type=int, default=200, help="arenas per scenario (default 200)")
    ap.add_argument("--rounds", type=int, default=200, help="bootstrap rounds (default 200)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="processes")
    ap.add_argument("--seed", type=int, default=0, help="first arena seed")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated; " + ", ".join(SCENARIOS))
    ap.add_argument("--kinds", default=",".join(INTERVAL_KINDS), help="comma-separated interval kinds")
    ap.add_argument("--centrings", default=",".join(CENTRINGS))
    ap.add_argument("--no-small", action="store_true", help="skip the exact small cases")
    ap.add_argument("--csv", help="write the summary table here")
    ap.add_argument("--records", help="write the per-arena records here (CSV)")
    args = ap.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    kinds = [k for k in args.kinds.split(",") if k]
    if set(kinds) - set(INTERVAL_KINDS):
        ap.error(f"unknown interval kind(s); choose from {', '.join(INTERVAL_KINDS)}")
    t0 = time.perf_counter()
    records = coverage_records(scenarios, args.arenas, kinds=kinds, centrings=args.centrings.split(","),
                               rounds=args.rounds, first_seed=args.seed, jobs=args.jobs, progress=_progress)
    summary = summarise(records)
    wall = time.perf_counter() - t0
    print(f"coverage of 95% intervals: {args.arenas} arenas per cell, {args.rounds} bootstrap rounds, "
          f"seeds {args.seed}…{args.seed + args.arenas - 1}; wall {wall:.0f} s with {args.jobs} processes\n")
    for sc in scenarios:
        spec = SCENARIOS[sc]
        sizes = ", ".join(f"{m}×{n}" for m, n in spec.sizes[:3]) + ("…" if len(spec.sizes) > 3 else "")
        print(f"  {sc:15} {spec.description}; models×battles {sizes}; rank({', '.join(f'{k}={v!r}' for k, v in spec.fit.items())})")
    print("\ncoverage % ± Monte-Carlo SE (arenas as units); (r) = reported only, not expected to be honest\n")
    print(matrix_table(summary))
    print("\nper cell:")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 90,
                           "display.max_rows", 500):
        show = summary.assign(coverage=lambda d: (100 * d.coverage).round(1), se=lambda d: (100 * d.se).round(2),
                              se_binomial=lambda d: (100 * d.se_binomial).round(2), width=lambda d: d.width.round(1),
                              seconds=lambda d: d.seconds.round(1))
        print(show.drop(columns=["first_error"]).to_string(index=False))
        errs = summary[summary.errors > 0]
        if len(errs):
            print("\nerrors (first message per cell):")
            for r in errs.itertuples():
                print(f"  {r.scenario}/{r.kind}/{r.centring}: {r.errors} arenas: {r.first_error}")
    bad = summary[~summary.status.isin(["ok", "report"])]
    print(f"\n{len(summary) - len(bad)}/{len(summary)} cells pass; failing: "
          + (", ".join(f"{r.scenario}/{r.kind}/{r.centring}={r.status}" for r in bad.itertuples()) or "none"))
    if args.csv:
        summary.to_csv(args.csv, index=False)
    if args.records:
        records.to_csv(args.records, index=False)
    if not args.no_small:
        print("\n" + small_cases(rounds=args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

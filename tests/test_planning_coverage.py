"""What intervals mean after an adaptive run: coverage of the truth over many simulated arenas.

Each arena: 8 models with N(0, 0.7²) strengths, 60 prompts, a judge with BT ties (τ = 0.3, so a
tie worth ½ keeps θ the estimand) and a 0.2-logit first-position bias, both orders judged.  The
``active`` plan chooses the comparisons (to 25% of the round-robin calls, or until every adjacent
pair is separated); the verdict rows (two games per comparison) are then ranked by
``referee.rank`` exactly as a user would — first-position term on, default sandwich intervals
clustered by ``pair_id`` — and each model's 95% interval is checked against its true rating.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import referee
from referee.planning import CandidateSet, make_planner
from referee.sim import BAND, display_truth, outcome_probabilities

WINNER = np.array(["model_a", "tie", "model_b"], dtype=object)


def planned_arena(seed: int, *, budget: str | None, until: str | None) -> tuple[int, int]:
    rng = np.random.default_rng([seed, 11])
    m, p = 8, 100
    names = [f"m{i}" for i in range(m)]
    theta = pd.Series(rng.normal(0, 0.7, m), index=names)
    theta -= theta.mean()
    cs = CandidateSet.round_robin([f"p{i}" for i in range(p)], names, seed=seed)
    planner = make_planner("active", cs, budget=budget, until=until, seed=seed, batch=32)
    rows: list[tuple[str, str, str, str, str]] = []
    while not planner.finished:
        cands = planner.propose(32)
        if not cands:
            break
        outcomes = []
        for pid, a, b in cands:
            score = 0.0
            for first, second in ((a, b), (b, a)):
                probs = outcome_probabilities(np.array([theta[first] - theta[second] + 0.2]), "bt", tau=0.3)[0]
                cat = int(rng.choice(3, p=probs))
                rows.append((first, second, WINNER[cat], pid, f"{pid}|{min(a, b)}|{max(a, b)}"))
                s_first = (1.0, 0.5, 0.0)[cat]
                score += s_first if first == a else 1 - s_first
            outcomes.append((pid, a, b, score / 2))
        planner.observe(outcomes)
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "prompt_id", "pair_id"])
    board = referee.rank(df, first_position=True)
    tab = board.table.set_index("model")
    truth = display_truth(theta)
    hits = int(((tab["ci_low"] <= truth[tab.index]) & (truth[tab.index] <= tab["ci_high"])).sum())
    return hits, m


@pytest.mark.parametrize(("budget", "until"), [("25%", None), (None, "separated")], ids=["budget", "until-separated"])
def test_intervals_after_an_active_run_cover_the_truth(budget, until):
    results = [planned_arena(seed, budget=budget, until=until) for seed in range(120)]
    hits = sum(h for h, _ in results)
    n = sum(k for _, k in results)
    coverage = hits / n
    lo, hi = BAND
    assert lo <= coverage <= hi, f"coverage {coverage:.3f} over {n} intervals outside {BAND}"

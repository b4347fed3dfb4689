"""Planners (random, swiss, knockout, active): budgets, brackets, rounds, determinism, quality."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import kendalltau

from referee.errors import InputError
from referee.planning import CandidateSet, make_planner, resolve_budget
from referee.planning.oracle import SimulatedJudge
from referee.planning.simulation import read_truth, spaced
from shared_data import DATA, need

ARENA = DATA / "chatbot-arena-leaderboard" / "data" / "leaderboard-text.json.gz"


def arena(m: int = 12, p: int = 40, seed: int = 0, spread: float = 1.0):
    theta = np.random.default_rng(seed).normal(0, spread, m)
    cs = CandidateSet.round_robin([f"p{i}" for i in range(p)], [f"m{i:02d}" for i in range(m)], seed=seed)
    return cs, theta - theta.mean(), SimulatedJudge(cs, theta, seed=seed)


def drive(planner, judge, batch: int = 16, lag: int = 0) -> list[tuple[str, str, str]]:
    """Propose/observe until finished; ``lag`` batches stay in flight (a busy judge)."""
    seen: list[tuple[str, str, str]] = []
    flight: list[list[tuple[str, str, str]]] = []
    while True:
        got = [] if planner.finished else planner.propose(batch)
        seen += got
        if got:
            flight.append(got)
        if not flight:
            break
        if got and len(flight) <= lag:
            continue
        planner.observe(judge(flight.pop(0)))
    return seen


@pytest.mark.parametrize("plan", ["random", "active", "swiss", "knockout"])
@pytest.mark.parametrize("budget", ["7%", 300, "20%"])
def test_the_budget_is_never_exceeded_and_nothing_is_proposed_twice(plan, budget):
    cs, _, judge = arena()
    planner = make_planner(plan, cs, budget=budget, seed=1)
    seen = drive(planner, judge, batch=13, lag=2)
    allowed = resolve_budget(budget, len(cs)).comparisons
    assert len(seen) <= allowed
    assert planner.state.spent * 2 <= resolve_budget(budget, len(cs)).calls
    keys = [cs.key_of(*c) for c in seen]
    assert None not in keys and len(set(keys)) == len(keys)  # candidates only, each once
    assert planner.finished
    if plan in ("random", "active", "swiss"):
        assert len(seen) == allowed  # a budget-bound plan spends it all
    assert planner.progress().calls_spent <= planner.progress().calls_budget


def test_budget_rules():
    assert resolve_budget("10%", 1000).comparisons == 100
    assert resolve_budget("10%", 1000).calls == 200
    assert resolve_budget(201, 1000).comparisons == 100  # rounded down: 201 calls never spent
    big = resolve_budget(10**9, 1000)
    assert big.comparisons == 1000 and "all of them are judged" in big.notes[0]
    with pytest.raises(InputError, match=r"at least 11 comparisons .22 calls"):
        resolve_budget(20, 1000, minimum=11)
    for bad in ("0", "-5", "120%", "ten"):
        with pytest.raises(InputError, match="budget"):
            resolve_budget(bad, 1000)


def test_a_budget_too_small_to_compare_every_model_names_the_minimum():
    cs, _, _ = arena(m=12)
    with pytest.raises(InputError, match=r"at least 11 comparisons \(22 calls\)") as err:
        make_planner("active", cs, budget=20)
    assert err.value.field == "budget"


def test_knockout_judges_exactly_n_minus_one_comparisons_per_prompt():
    cs, theta, judge = arena(m=11, p=30)
    planner = make_planner("knockout", cs, seed=3)
    seen = drive(planner, judge, batch=7, lag=1)
    per_prompt = Counter(p for p, _, _ in seen)
    assert set(per_prompt.values()) == {10} and len(per_prompt) == 30
    assert len(planner.winners) == 30 and planner.reason == "brackets"
    # the bracket picks good responses: the strongest model wins most prompts
    best = cs.models[int(np.argmax(theta))]
    assert Counter(planner.winners.values()).most_common(1)[0][0] == best


def test_knockout_starts_only_whole_brackets_and_skips_prompts_without_two_responses():
    rows = [{"prompt_id": f"p{i}", "prompt": "q", "model": m, "response": "r"}
            for i in range(6) for m in ("a", "b", "c", "d", "e") if not (i == 5 and m != "a")]
    cs = CandidateSet.from_outputs(rows)
    planner = make_planner("knockout", cs, budget=2 * 10, seed=0)  # 10 comparisons: 2 brackets of 4, not 3
    assert any("1 prompts with fewer than two responses" in n for n in planner.notes)
    cs2, _, _ = arena()
    judge = SimulatedJudge(cs, np.zeros(5), seed=0)
    seen = drive(planner, judge)
    assert len(seen) == 8 and len(planner.winners) == 2
    del cs2


def test_swiss_never_repeats_a_pair_on_a_prompt_and_pairs_close_models():
    cs, theta, judge = arena(m=10, p=60, seed=2, spread=1.5)
    planner = make_planner("swiss", cs, seed=0, rounds=12, batch=20)
    seen = drive(planner, judge, batch=8)
    keys = [cs.key_of(*c) for c in seen]
    assert len(set(keys)) == len(keys)
    assert planner.round == 12 and planner.reason == "rounds"
    assert len(seen) == 12 * 5 * planner.games
    # late rounds pair models of similar strength: closer than random pairs
    late = seen[len(seen) // 2:]
    idx = {m: i for i, m in enumerate(cs.models)}
    gap_late = np.mean([abs(theta[idx[a]] - theta[idx[b]]) for _, a, b in late])
    i, j = np.triu_indices(10, 1)
    assert gap_late < 0.7 * np.mean(np.abs(theta[i] - theta[j]))


@pytest.mark.parametrize("plan", ["random", "active", "swiss", "knockout"])
def test_a_plan_is_deterministic_under_its_seed(plan):
    cs, _, judge = arena(m=9, p=25)
    runs = [drive(make_planner(plan, cs, budget="15%", seed=s), judge, batch=11, lag=1) for s in (4, 4, 5)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_active_beats_random_on_simulated_arenas():
    """Arena-spaced truths (evenly spaced ranks of the Chatbot Arena leaderboard), Davidson ties,
    first-position bias 0.2, both orders: active at 10% against random at 10%, paired over seeds."""
    truth = spaced(read_truth(need(ARENA)), 16)
    theta = (truth.to_numpy() - truth.mean()) / (400 / np.log(10))
    diffs = []
    for seed in range(10):
        cs = CandidateSet.round_robin([f"p{i}" for i in range(80)], list(truth.index), seed=seed)
        judge = SimulatedJudge(cs, theta, seed=seed)
        taus = {}
        for plan in ("random", "active"):
            planner = make_planner(plan, cs, budget="10%", seed=seed)
            drive(planner, judge, batch=64)
            taus[plan] = kendalltau(planner.state.fit().theta, theta).statistic
        diffs.append(taus["active"] - taus["random"])
    print("paired τ differences active − random:", np.round(diffs, 3))
    assert np.mean(diffs) > 0.01
    assert sum(d >= 0 for d in diffs) >= 6


def test_top_k_focuses_the_active_plan_on_the_leaders():
    cs, theta, judge = arena(m=16, p=60, seed=7, spread=0.8)
    top = np.argsort(-theta)[:4]
    share = {}
    for k in (None, 3):
        planner = make_planner("active", cs, budget="8%", seed=0, top_k=k)
        seen = drive(planner, judge, batch=32)
        idx = {m: i for i, m in enumerate(cs.models)}
        share[k] = np.mean([idx[a] in top or idx[b] in top for _, a, b in seen])
    assert share[3] > share[None] + 0.1


def test_until_separated_stops_before_the_budget_when_the_order_is_clear():
    m = 6
    theta = np.linspace(3, -3, m)  # far apart: quickly separated
    cs = CandidateSet.round_robin([f"p{i}" for i in range(200)], [f"m{i}" for i in range(m)], seed=0)
    judge = SimulatedJudge(cs, theta, seed=0, ties="none", first_position=0.0)
    planner = make_planner("active", cs, seed=0, until="separated", batch=16)
    seen = drive(planner, judge, batch=16)
    assert planner.reason == "separated"
    assert len(seen) < 0.3 * len(cs)
    prog = planner.progress()
    assert prog.separated == prog.adjacent == m - 1 and prog.leader == "m0"
    assert planner.ranking() == [f"m{i}" for i in range(m)]


def test_progress_reports_calls_leader_and_the_widest_adjacent_interval():
    cs, _, judge = arena(m=8, p=30)
    planner = make_planner("random", cs, budget="20%", seed=0)
    drive(planner, judge, batch=10)
    p = planner.progress()
    assert p.calls_spent == 2 * resolve_budget("20%", len(cs)).comparisons == p.calls_budget
    assert p.leader in cs.models and p.widest is not None and p.widest_width > 0
    assert "calls" in p.line() and "finished (budget)" in p.line()


def test_outcomes_judged_before_the_plan_count_and_are_not_proposed_again():
    cs, _, judge = arena(m=6, p=20)
    first = drive(make_planner("random", cs, budget="10%", seed=0), judge)
    planner = make_planner("active", cs, budget="20%", seed=0)
    planner.record(judge(first))
    assert planner.state.spent == len(first)
    more = drive(planner, judge)
    assert not {cs.key_of(*c) for c in more} & {cs.key_of(*c) for c in first}
    assert len(first) + len(more) == resolve_budget("20%", len(cs)).comparisons


def test_bad_plans_and_options():
    cs, _, _ = arena(m=4, p=5)
    with pytest.raises(InputError, match="unknown plan"):
        make_planner("greedy", cs)
    with pytest.raises(InputError, match="until"):
        make_planner("active", cs, until="converged")
    with pytest.raises(InputError, match="rounds"):
        make_planner("active", cs, rounds=3)
    pairs = [("p1", "a", "b"), ("p1", "b", "c")]
    with pytest.raises(InputError, match="every pair"):
        make_planner("knockout", pairs)
    with pytest.raises(InputError, match="repeat"):
        CandidateSet.from_tuples([("p1", "a", "b"), ("p1", "b", "a")])

"""Audit metrics on tiny hand-computed examples, and the bootstrap machinery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import referee
from referee.auditing.agreement import cohen_kappa, krippendorff_alpha
from referee.auditing.bootstrap import Registry, ratio
from referee.auditing.rewardbench import best_of_n_credit, v1_overall, v2_overall
from referee.resample import chunk_seeds

A, B, T = "model_a", "model_b", "tie"


def pairs_table(judge_labels: list[str], gold_labels: list[str], **extra) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One item per position: verdict and gold label in the same orientation, one prompt each."""
    n = len(judge_labels)
    base = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "model_a": "x", "model_b": "y"})
    for k, v in extra.items():
        base[k] = v
    return base.assign(winner=judge_labels, judge="j"), base.assign(winner=gold_labels, judge="gold")


def value(rep, name: str, judge: str = "j") -> float:
    m = rep.metric(judge, name)
    assert m is not None and m["value"] is not None, name
    return m["value"]


def test_kappa_and_alpha_by_hand():
    # judge × gold: (A,A)×20, (A,B)×5, (B,A)×10, (B,B)×15.  p_o = .7, p_e = .5·.6 + .5·.4 = .5 → κ = .4
    # coincidences o = C + Cᵀ = [[40,15],[15,30]], n = 100: α = 1 − 99·30 / (2·55·45) = .4
    judge = [A] * 25 + [B] * 25
    gold = [A] * 20 + [B] * 5 + [A] * 10 + [B] * 15
    v, g = pairs_table(judge, gold)
    rep = referee.audit(v, g, rounds=0)
    assert value(rep, "kappa") == pytest.approx(0.4)
    assert value(rep, "alpha") == pytest.approx(0.4)
    assert value(rep, "accuracy") == pytest.approx(0.7)
    assert rep.judges["j"]["kappa"]["n"] == 50


def test_krippendorff_alpha_textbook_example():
    # Krippendorff (2011), binary data, two observers, ten units: α = 0.095
    a = np.array([0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    b = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    c = np.zeros((1, 3, 3))
    np.add.at(c[0], (a, b), 1)
    assert krippendorff_alpha(c)[0] == pytest.approx(1 - 19 * 8 / (2 * 14 * 6))
    assert round(float(krippendorff_alpha(c)[0]), 3) == 0.095
    # Cohen's κ of the same table: p_o = .6, p_e = .8·.6 + .2·.4 = .56 → κ = .04/.44
    assert cohen_kappa(c)[0] == pytest.approx(0.04 / 0.44)


def test_tie_policies_by_hand():
    # gold A, B, tie; judge A, tie, A
    v, g = pairs_table([A, T, A], [A, B, T])
    exclude = referee.audit(v, g, tie_policy="exclude", rounds=0)
    assert value(exclude, "accuracy") == pytest.approx(1 / 2)  # the gold tie is left out and counted
    assert exclude.judges["j"]["details"]["gold_ties_excluded"] == 1
    assert any("gold tie" in n for n in exclude.meta["notes"])
    assert value(referee.audit(v, g, tie_policy="half", rounds=0), "accuracy") == pytest.approx(2 / 3)
    assert value(referee.audit(v, g, tie_policy="three-class", rounds=0), "accuracy") == pytest.approx(1 / 3)
    assert value(exclude, "details.agreement") == pytest.approx(1 / 3)
    assert value(exclude, "details.agreement_no_ties") == pytest.approx(1.0)


def test_ece_and_brier_decomposition_by_hand():
    p = [0.1, 0.1, 0.3, 0.3, 0.6, 0.6, 0.8, 0.8, 0.9, 0.9]
    o = [0, 0, 1, 0, 1, 0, 1, 1, 1, 1]
    v, g = pairs_table([A if x > 0.5 else B for x in p], [A if y else B for y in o])
    v["prob_a"] = p
    rep = referee.audit(v, g, rounds=0, bins=5)
    # bins = the 5 distinct forecasts: ECE = .2·(.1 + .2 + .1 + .2 + .1)
    assert value(rep, "ece") == pytest.approx(0.14)
    assert value(rep, "brier") == pytest.approx(1.22 / 10)
    cal = rep.judges["j"]["details"]["calibration"]
    assert cal["reliability"] == pytest.approx(0.022)
    assert cal["resolution"] == pytest.approx(0.14)
    assert cal["uncertainty"] == pytest.approx(0.24)
    assert cal["reliability"] - cal["resolution"] + cal["uncertainty"] == pytest.approx(cal["brier"])
    assert cal["within_bin"] == pytest.approx(0.0, abs=1e-12)
    assert [b["n"] for b in cal["reliability_diagram"]] == [2] * 5


def test_brier_decomposition_sums_with_continuous_forecasts():
    rng = np.random.default_rng(3)
    p = rng.random(400)
    o = rng.random(400) < p
    v, g = pairs_table([A] * 400, [A if y else B for y in o])
    v["prob_a"] = p
    cal = referee.audit(v, g, rounds=0).judges["j"]["details"]["calibration"]
    total = cal["reliability"] - cal["resolution"] + cal["uncertainty"] + cal["within_bin"]
    assert total == pytest.approx(cal["brier"])
    assert abs(cal["within_bin"]) < 0.01


def test_transitivity_cycles_and_equivalence_contradictions():
    rows = []
    for prompt, rels in {
        "cycle": [("A", "B", A), ("B", "C", A), ("C", "A", A)],  # A>B>C>A
        "order": [("A", "B", A), ("B", "C", A), ("A", "C", A)],  # consistent
        "equiv": [("A", "B", T), ("B", "C", T), ("A", "C", A)],  # A=B=C but A>C
        "weak": [("A", "B", A), ("B", "C", T), ("A", "C", A)],  # A > B = C: consistent
    }.items():
        rows += [{"prompt_id": prompt, "model_a": a, "model_b": b, "winner": w, "judge": "j"} for a, b, w in rels]
    rep = referee.audit(pd.DataFrame(rows), rounds=0)
    assert value(rep, "transitivity_violation_rate") == pytest.approx(0.5)
    det = rep.judges["j"]["details"]["transitivity"]
    assert {k: det[k] for k in ("triads", "cycles", "equivalence_contradictions")} == {
        "triads": 4, "cycles": 1, "equivalence_contradictions": 1}


def test_position_consistency_flip_rate_and_first_position_rate():
    rows = []
    # (order-1 verdict, order-2 verdict): order 2 shows the pair swapped
    for i, (w1, w2) in enumerate([(A, B), (A, A), (T, T), (A, T)]):
        rows.append({"prompt_id": f"p{i}", "model_a": "m1", "model_b": "m2", "winner": w1, "judge": "j",
                     "pair_id": f"q{i}", "order": 1})
        rows.append({"prompt_id": f"p{i}", "model_a": "m2", "model_b": "m1", "winner": w2, "judge": "j",
                     "pair_id": f"q{i}", "order": 2})
    rep = referee.audit(pd.DataFrame(rows), rounds=0)
    assert value(rep, "position_consistency") == pytest.approx(0.5)  # pairs 0 and 2 agree
    assert value(rep, "details.flip_rate") == pytest.approx(0.25)  # pair 1: first shown wins both times
    assert value(rep, "first_position_rate") == pytest.approx(4 / 5)
    assert rep.judges["j"]["details"]["position"]["pairs_both_orders"] == 4


def test_position_pairs_linked_without_pair_id():
    rows = [
        {"prompt_id": "p", "model_a": "m1", "model_b": "m2", "winner": A, "judge": "j"},
        {"prompt_id": "p", "model_a": "m2", "model_b": "m1", "winner": A, "judge": "j"},
    ]
    rep = referee.audit(pd.DataFrame(rows), rounds=0)
    assert value(rep, "position_consistency") == 0.0
    assert value(rep, "first_position_rate") == 1.0


def test_bootstrap_matches_a_plain_loop_over_rounds():
    """The matrix-product bootstrap equals resampling clusters one round at a time."""
    rng = np.random.default_rng(0)
    n_clusters, rows = 30, 300
    cl = rng.integers(0, n_clusters, rows)
    num, den = (rng.random(rows) < 0.6).astype(float), np.ones(rows)
    reg = Registry(n_clusters)
    reg.add_rows("acc", cl, np.c_[num, den], ratio)
    rounds, seed = 120, 7
    fast = reg.run(rounds, seed, 0.9, workers=2, chunk=50)["acc"]
    vals = []
    for r, ss in chunk_seeds(seed, rounds, 50):
        g = np.random.default_rng(ss)
        draws = g.integers(0, n_clusters, size=(r, n_clusters))
        for k in range(r):
            picked = draws[k]
            n = sum(num[cl == c].sum() for c in picked)
            d = sum(den[cl == c].sum() for c in picked)
            vals.append(n / d)
    lo, hi = np.quantile(vals, [0.05, 0.95], method="weibull")
    assert fast.value == pytest.approx(num.sum() / den.sum())
    assert fast.ci_low == pytest.approx(lo)
    assert fast.ci_high == pytest.approx(hi)


def test_bootstrap_is_seeded():
    v, g = pairs_table([A, B, A, A, B, A, B, B] * 5, [A, B, B, A, B, A, A, B] * 5)
    r1 = referee.audit(v, g, rounds=300, seed=4).judges["j"]["accuracy"]
    r2 = referee.audit(v, g, rounds=300, seed=4).judges["j"]["accuracy"]
    r3 = referee.audit(v, g, rounds=300, seed=5).judges["j"]["accuracy"]
    assert r1 == r2
    assert (r1["ci_low"], r1["ci_high"]) != (r3["ci_low"], r3["ci_high"])


def test_rewardbench_formulas():
    assert v1_overall({"Chat": 0.9, "Chat Hard": 0.5, "Safety": 0.8, "Reasoning": 0.7, "Prior Sets": 0.6}) == \
        pytest.approx((0.9 + 0.5 + 0.8 + 0.7 + 0.3) / 4.5)
    assert v1_overall({"Chat": 0.9, "Chat Hard": 0.5, "Safety": 0.8, "Reasoning": 0.7}) == pytest.approx(0.725)
    secs = {"Factuality": 0.6, "Precise IF": 0.3, "Math": 0.6, "Safety": 0.9, "Focus": 0.8, "Ties": 0.6}
    assert v2_overall(secs) == pytest.approx(3.8 / 6)
    credit = best_of_n_credit(np.array([3.0, 2.0, 1.0, 5.0]),
                              np.array([[1.0, 2.0, 0.0], [2.0, 2.0, 1.0], [2.0, 0.0, 0.0], [5.0, np.nan, 1.0]]))
    assert credit.tolist() == pytest.approx([1.0, 1 / 3, 0.0, 0.5])

"""Alignment of verdicts with gold labels, scores and reward models, and clear errors on bad input."""

from __future__ import annotations

import pandas as pd
import pytest

import referee
from referee.errors import InputError

A, B, T = "model_a", "model_b", "tie"
FLIP = {A: B, B: A, T: T}


def gold_table(n: int = 6, ties: int = 0) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({"prompt_id": f"p{i}", "prompt": f"question {i}", "model_a": f"m{i % 3}", "model_b": "base",
                     "response_a": f"answer {i} from m{i % 3}", "response_b": f"baseline answer {i}",
                     "winner": T if i < ties else (A if i % 2 else B), "judge": "human"})
    return pd.DataFrame(rows)


def swapped(df: pd.DataFrame) -> pd.DataFrame:
    """The same comparisons shown in the other order (winner mapped into the new frame)."""
    out = df.copy()
    out["model_a"], out["model_b"] = df["model_b"], df["model_a"]
    out["response_a"], out["response_b"] = df["response_b"], df["response_a"]
    out["winner"] = df["winner"].map(FLIP)
    return out


def test_alignment_by_content_hash_with_swapped_order():
    gold = gold_table()
    right = swapped(gold).assign(judge="j", prompt_id=[f"other-{i}" for i in range(len(gold))])
    rep = referee.audit(right, gold, rounds=0)
    j = rep.judges["j"]
    assert j["aligned"] == len(gold)
    assert j["accuracy"]["value"] == 1.0  # every verdict is mapped into the gold frame
    assert j["accuracy_order2"]["value"] == 1.0 and j["accuracy_order1"] is None
    assert rep.meta["alignment"]["aligned"] == len(gold)
    assert "content hash" in rep.meta["alignment"]["key"]


def test_alignment_by_pair_id_when_both_have_it():
    gold = gold_table().assign(pair_id=[f"q{i}" for i in range(6)])
    # texts differ (so no content match), but pair_id links them; model names give the orientation
    verdicts = swapped(gold).assign(judge="j", prompt=None, response_a="?", response_b="!")
    rep = referee.audit(verdicts, gold, rounds=0)
    assert rep.meta["alignment"]["key"] == "pair_id"
    assert rep.judges["j"]["aligned"] == 6
    assert rep.judges["j"]["accuracy"]["value"] == 1.0


def test_both_orders_and_one_table_with_gold_rows():
    gold = gold_table().assign(judge="gold")
    first = gold.assign(judge="j", pair_id=[f"q{i}" for i in range(6)], order=1)
    second = swapped(gold).assign(judge="j", pair_id=[f"q{i}" for i in range(6)], order=2)
    second.loc[0, "winner"] = FLIP[second.loc[0, "winner"]]  # one verdict flips with the order
    table = pd.concat([gold, first, second], ignore_index=True)
    rep = referee.audit(table, rounds=0)  # judge == "gold" rows are the gold labels
    j = rep.judges["j"]
    assert list(rep.judges) == ["j"]
    assert j["accuracy_order1"]["value"] == 1.0
    assert j["accuracy_order2"]["value"] == pytest.approx(5 / 6)
    assert j["accuracy_both_orders"]["value"] == pytest.approx(5 / 6)
    assert j["position_consistency"]["value"] == pytest.approx(5 / 6)


def test_several_annotators_majority_and_human_baseline():
    rows = []
    for i in range(4):
        for k, w in enumerate([A, A, B] if i % 2 else [B, B, B]):
            rows.append({"prompt_id": f"p{i}", "model_a": "x", "model_b": "y", "winner": w, "judge": "human",
                         "voter": f"h{k}"})
    gold = pd.DataFrame(rows)
    verdicts = pd.DataFrame({"prompt_id": [f"p{i}" for i in range(4)], "model_a": "x", "model_b": "y",
                             "winner": [B, A, B, A], "judge": "j"})
    rep = referee.audit(verdicts, gold, rounds=0)
    det = rep.judges["j"]["details"]
    assert det["agreement_majority"]["value"] == 1.0
    # per vote: each verdict meets 3 votes → (3 + 2 + 3 + 2) / 12
    assert rep.judges["j"]["accuracy"]["value"] == pytest.approx(10 / 12)
    # leave one out: unanimous items 6/6 agree; split items: the two A voters see {A, B} (no unique mode),
    # the B voter sees {A, A} → disagrees: 6 / 8
    assert det["human_baseline"]["value"] == pytest.approx(6 / 8)
    matrix = rep.agreement_matrix
    assert matrix["labels"] == ["j", "gold"]


def test_misaligned_gold_is_refused_clearly():
    gold = gold_table()
    other = gold.assign(prompt=[f"something else {i}" for i in range(6)], judge="j")
    with pytest.raises(InputError, match="none of the 6 verdicts matches any of the 6 gold labels"):
        referee.audit(other, gold, rounds=0)


def test_gold_ties_under_each_policy():
    gold = gold_table(ties=2)
    assert list(gold["winner"]) == [T, T, B, A, B, A]
    verdicts = gold.assign(judge="j", winner=[A, T, B, A, B, B])
    ex = referee.audit(verdicts, gold, rounds=0, tie_policy="exclude")
    assert ex.judges["j"]["accuracy"]["n"] == 4 and ex.meta["alignment"]["gold_ties"] == 2
    assert ex.judges["j"]["accuracy"]["value"] == pytest.approx(3 / 4)
    three = referee.audit(verdicts, gold, rounds=0, tie_policy="three-class")
    assert three.judges["j"]["accuracy"]["value"] == pytest.approx(4 / 6)
    half = referee.audit(verdicts, gold, rounds=0, tie_policy="half")
    assert half.judges["j"]["accuracy"]["value"] == pytest.approx((0.5 + 1 + 1 + 1 + 1 + 0) / 6)
    with pytest.raises(InputError, match="tie policy"):
        referee.audit(verdicts, gold, rounds=0, tie_policy="majority")


def scores_for(gold: pd.DataFrame, scorer: str = "rm", tie_at: int | None = None) -> pd.DataFrame:
    rows = []
    for i, r in gold.iterrows():
        good_a = r["winner"] == A
        sa, sb = (2.0, 1.0) if good_a else (1.0, 2.0)
        if i == tie_at:
            sa = sb = 1.5
        rows += [{"prompt_id": r["prompt_id"], "model": r["model_a"], "scorer": scorer, "score": sa},
                 {"prompt_id": r["prompt_id"], "model": r["model_b"], "scorer": scorer, "score": sb}]
    return pd.DataFrame(rows)


def test_reward_model_accuracy_counts_score_ties_as_wrong():
    gold = gold_table()
    rep = referee.audit(scores_for(gold, tie_at=0), gold, kind="reward-model", rounds=0)
    rm = rep.judges["rm"]
    assert rm["accuracy"]["value"] == pytest.approx(5 / 6)
    assert rm["details"]["scores"]["score_ties"] == 1
    assert rm["position_consistency"] is None and rm["first_position_rate"] is None
    assert rm["ece"] is not None  # prob_a = σ(s_a − s_b)


def test_reward_model_with_three_class_gold_needs_exclude():
    gold = gold_table(ties=2)
    scores = scores_for(gold)
    with pytest.raises(InputError, match="three-class label set"):
        referee.audit(scores, gold, kind="reward-model", tie_policy="three-class", rounds=0)
    with pytest.raises(InputError, match="does not apply"):
        referee.audit(scores, gold, kind="reward-model", tie_policy="half", rounds=0)
    rep = referee.audit(scores, gold, kind="reward-model", tie_policy="exclude", rounds=0)
    assert rep.judges["rm"]["accuracy"]["n"] == 4


def test_scores_for_unknown_responses_are_refused():
    gold = gold_table()
    bad = scores_for(gold).assign(prompt_id="nowhere")
    with pytest.raises(InputError, match="none of the 12 scores is for a response of the gold pairs"):
        referee.audit(bad, gold, kind="reward-model", rounds=0)
    verdicts = gold.assign(judge="rm")
    with pytest.raises(InputError, match="none of the 12 scores is for a response in the comparisons"):
        referee.audit(verdicts, scores=bad, rounds=0)
    with pytest.raises(InputError, match="needs gold"):
        referee.audit(scores_for(gold), kind="reward-model", rounds=0)


def test_score_comparison_inconsistency_and_central_tendency():
    gold = gold_table()
    verdicts = gold.assign(judge="rm")
    scores = scores_for(gold, tie_at=0)  # one tie in scores vs a decisive verdict
    scores.loc[2, "score"] = 0.0  # row 1's first response: 2.0 → 0.0 contradicts its verdict
    rep = referee.audit(verdicts, scores=scores, rounds=0)
    j = rep.judges["rm"]
    assert j["score_comparison_inconsistency"]["value"] == pytest.approx(2 / 6)
    ct = j["details"]["central_tendency"]
    assert ct["scale"] == [0.0, 2.0]
    assert {h["value"] for h in ct["histogram"]} == {0.0, 1.0, 1.5, 2.0}


def test_bad_arguments():
    gold = gold_table()
    with pytest.raises(InputError, match="kind"):
        referee.audit(gold.assign(judge="j"), gold, kind="oracle")
    with pytest.raises(InputError, match="no band"):
        referee.audit(gold.assign(judge="j"), gold, band={"accuracy": (0.5, 1)})
    with pytest.raises(InputError, match="every row is a gold label"):
        referee.audit(gold, rounds=0)

"""Juries on real data, audited by ``referee.audit`` against the human votes / gold labels (issue 12, part 2).

PRD Vicuna80: five LLM reviewers (every pair in both orders) and 7,040 human votes.  LLMBar
Natural: six evaluator LLMs (strategy ``Vanilla_NoRules``, both orders) and the gold labels.
The asserted orderings are what the data shows (printed with ``-s``); ``weighted`` is weighed on
the same gold labels it is audited against (in-sample, so flattered).
"""

from __future__ import annotations

import pytest

import referee
from referee.judging.jury import jury
from shared_data import DATA, need

pytestmark = pytest.mark.shared_data
PRD = DATA / "prd-peer-rank" / "data" / "vicuna80"
REVIEWERS = ("gpt4", "gpt35", "claude", "bard", "vicuna-13b")
NATURAL = DATA / "llmbar" / "Dataset" / "LLMBar" / "Natural"
EVALUATORS = ("GPT-4", "ChatGPT", "ChatGPT-0301", "PaLM2", "LLaMA2", "Falcon")
ROUNDS = 200


def accuracies(inputs, gold, methods):
    """{name: (accuracy, ci_low, ci_high)} of every single judge and of every jury."""
    single = referee.audit(inputs, gold=gold, rounds=ROUNDS)
    out = {j: single.judges[j]["accuracy"] for j in single.judges}
    for m in methods:
        table = jury(inputs, method=m, gold=gold, rounds=ROUNDS)
        out[f"jury:{m}"] = referee.audit(table, gold=gold, rounds=ROUNDS).judges[f"jury:{m}"]["accuracy"]
    print()
    for name, acc in out.items():
        print(f"{name:<28} {acc['value']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}] n={acc['n']}")
    return {k: v["value"] for k, v in out.items()}


def test_prd_majority_jury_agrees_with_the_humans_more_than_any_single_reviewer() -> None:
    inputs = [need(PRD / f"ratings-{r}") for r in REVIEWERS]
    acc = accuracies(inputs, PRD / "ratings-human", ("majority", "mean", "peer-rank", "weighted"))
    best = max(acc[r] for r in REVIEWERS)
    assert best == pytest.approx(0.632, abs=0.002)  # claude; gpt4 0.631
    assert acc["jury:majority"] > best + 0.03  # measured 0.677
    assert acc["jury:peer-rank"] > acc["jury:majority"]  # 0.717: no gold needed
    assert acc["jury:weighted"] > acc["jury:majority"]  # 0.716 (in-sample weights)


def test_prd_exclude_self_drops_each_reviewers_own_pairs() -> None:
    inputs = [need(PRD / f"ratings-{r}") for r in REVIEWERS]
    table = jury(inputs, method="majority", exclude_self=True)
    info = table.attrs["jury"]
    assert info["excluded_self"]["gpt4"] == 4 * 80  # gpt4 meets four other models on 80 questions
    assert set(table["n_judges"]) == {3}  # every pair involves two of the five reviewers' own models


def test_llmbar_natural_jury_of_its_evaluators_against_gold() -> None:
    inputs = [need(NATURAL / "evaluators" / e / "Vanilla_NoRules" / "result.json.gz") for e in EVALUATORS]
    acc = accuracies(inputs, NATURAL / "dataset.json", ("majority", "peer-rank", "weighted"))
    singles = sorted(acc[f"{e}/Vanilla_NoRules"] for e in EVALUATORS)
    # what the data shows: the jury beats all but GPT-4 (0.935), which alone is better than the panel
    assert acc["jury:majority"] == pytest.approx(0.88, abs=0.005)
    assert singles[-2] < acc["jury:majority"] < singles[-1] == pytest.approx(0.935)
    assert acc["jury:peer-rank"] >= acc["jury:majority"]

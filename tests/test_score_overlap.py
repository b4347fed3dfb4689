"""The ``overlap`` scorer: prompt relevance by lexical overlap (:mod:`referee.scoring.overlap`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.judging.run import is_scorer_spec
from referee.scoring import load_scorer
from referee.scoring.local import score_table
from referee.scoring.overlap import STOPWORDS, OverlapScorer, fold, terms
from shared_data import DATA, need

LLMBAR = DATA / "llmbar" / "Dataset" / "LLMBar"


def test_terms_fold_plurals_and_drop_stopwords() -> None:
    assert fold("cities") == "city" and fold("horses") == "horse" and fold("cats") == "cat"
    assert fold("glass") == "glass" and fold("bus") == "bus" and fold("shoes") == fold("shoe") == "shoe" and fold("is") == "is"
    assert terms("Explain the causes of the French Revolution's failures!") == {"cause", "french", "revolution", "failure"}
    assert terms("What is it?") == frozenset() and {"the", "write", "explain"} <= STOPWORDS
    assert terms("snake_case 3D-printers") == {"snake", "case", "3d", "printer"}  # "_" and "-" split words


def test_known_texts_give_known_scores() -> None:
    """score = share of the prompt's content terms found in the response (a set: repeats do not count)."""
    sc = load_scorer("overlap")
    assert isinstance(sc, OverlapScorer) and sc.name == "overlap"
    prompt = "Explain how photosynthesis converts sunlight into chemical energy in plants."
    # content terms: photosynthesis, convert, sunlight, chemical, energy, plant (6)
    responses = [
        "Photosynthesis lets a plant turn sunlight into chemical energy; it converts light.",  # 6/6
        "Plants use sunlight.",  # plant, sunlight: 2/6
        "Plants plants plants plants.",  # 1/6, however often repeated
        "The French Revolution began in 1789.",  # 0/6
        "",
    ]
    got = sc.score([prompt] * len(responses), responses)
    assert got == pytest.approx([1.0, 2 / 6, 1 / 6, 0.0, 0.0])
    # a prompt of stopwords only counts all of its words
    assert sc.score(["What is it?"], ["it is what it is"]) == pytest.approx([1.0])
    table = score_table([{"prompt": prompt, "model": "m", "response": r} for r in responses[:2]], "overlap")
    assert table["scorer"].tolist() == ["overlap"] * 2 and table["score"].tolist() == pytest.approx([1.0, 2 / 6])


def test_missing_prompt_is_refused_with_one_message() -> None:
    sc = OverlapScorer()
    with pytest.raises(InputError, match=r"needs the prompt text: 2 of 3 responses have no prompt") as err:
        sc.score(["Name a planet.", "", "  "], ["Mars", "Mars", "Venus"])
    assert err.value.field == "prompt"
    with pytest.raises(InputError, match="1 of 1 responses have no prompt"):
        sc.score(["?!"], ["anything"])  # no word at all
    with pytest.raises(InputError, match="needs the prompt text"):  # outputs without a prompt column
        score_table([{"prompt_id": "p1", "model": "m", "response": "Mars"}], "overlap")
    with pytest.raises(InputError, match="unknown scorer"):
        load_scorer("overlap:bm25")


def test_overlap_as_a_pairwise_judge() -> None:
    """Through ``referee.judge(judge_spec="overlap")``: σ(score_a − score_b) in both orders, the
    on-topic answer wins on every prompt, and a pair of equal overlap is a tie."""
    assert is_scorer_spec("overlap") and not is_scorer_spec("overlapping")
    prompts = {
        "p1": "Which planets in the solar system have rings?",
        "p2": "Give three tips for growing tomatoes in containers.",
        "p3": "How do vaccines train the immune system?",
    }
    answers = {
        "p1": "All four giant planets have rings; Saturn's ring system is the brightest in the solar system.",
        "p2": "Growing tomatoes in containers: pick a large pot, water often, and give the plants full sun.",
        "p3": "Vaccines show the immune system a harmless piece of a germ, so it learns to fight it.",
    }
    off = {"p1": answers["p2"], "p2": answers["p3"], "p3": answers["p1"]}
    rows = [{"prompt_id": p, "prompt": q, "model": m, "response": (answers if m == "on-topic" else off)[p]}
            for p, q in prompts.items() for m in ("on-topic", "off-topic")]  # fmt: skip
    rows.append({"prompt_id": "p4", "prompt": "Name a prime number.", "model": "on-topic", "response": "Seven."})
    rows.append({"prompt_id": "p4", "prompt": "Name a prime number.", "model": "off-topic", "response": "Blue."})
    res = referee.judge(pd.DataFrame(rows), judge_spec="overlap", pairs="round-robin", cache=False)
    t = res.table
    assert len(t) == 8 and set(t["order"]) == {1, 2} and (t["judge"] == "overlap").all()
    assert (t["parse_status"] == "ok").all()
    for row in t.itertuples():
        raw = json.loads(str(row.raw_completion))
        d = raw["score_a"] - raw["score_b"]
        assert row.prob_a == pytest.approx(1 / (1 + math.exp(-d)), abs=1e-12)
    decisive = t[t["prompt_id"] != "p4"]
    won = np.where(decisive["winner"] == "model_a", decisive["model_a"], decisive["model_b"])
    assert (won == "on-topic").all()
    assert (t.loc[t["prompt_id"] == "p4", "winner"] == "tie").all()  # neither uses "prime" or "number"


def _llmbar_pairs(subset: str) -> tuple[pd.DataFrame, pd.Series]:
    """One LLMBar subset as outputs (``model`` = output_1 / output_2) and its gold winner by prompt."""
    data = json.loads(need(LLMBAR / subset / "dataset.json").read_text(encoding="utf-8"))
    rows = [{"prompt_id": f"{subset}/{i}", "prompt": r["input"], "model": m, "response": r[m]}
            for i, r in enumerate(data) for m in ("output_1", "output_2")]  # fmt: skip
    gold = pd.Series({f"{subset}/{i}": f"output_{r['label']}" for i, r in enumerate(data)})
    return pd.DataFrame(rows), gold


def _accuracy(subset: str) -> tuple[float, float, int]:
    """The overlap judge's accuracy against LLMBar's gold (a tie counts half), the share of
    decisive pairs and the number of pairs, through ``referee.judge``."""
    outputs, gold = _llmbar_pairs(subset)
    res = referee.judge(outputs, judge_spec="overlap", pairs="round-robin", cache=False)
    first = res.table[res.table["order"] == 1].set_index("prompt_id")
    won = np.where(first["winner"] == "model_a", first["model_a"],
                   np.where(first["winner"] == "model_b", first["model_b"], "tie"))  # fmt: skip
    truth = gold.loc[first.index].to_numpy()
    acc = float(np.mean(np.where(won == "tie", 0.5, won == truth)))
    return acc, float(np.mean(won != "tie")), len(first)


#: accuracy vs gold (ties half) measured on LLMBar (Zeng et al., ICLR 2024); length for comparison
#: (the longer output wins): Natural 0.575 (length 0.565), Neighbor 0.623 (0.119), GPTInst 0.652
#: (0.130), GPTOut 0.287 (0.447), Manual 0.283 (0.185).  Neighbor and GPTInst pair an answer with
#: an answer to a nearby instruction, which overlap can see; GPTOut and Manual pair it with a
#: superficially good, on-topic output, which overlap prefers -- it is a relevance cue, not a judge.
MEASURED = {"Natural": 0.575, "Adversarial/Neighbor": 0.623, "Adversarial/GPTInst": 0.652,
            "Adversarial/GPTOut": 0.287, "Adversarial/Manual": 0.283}  # fmt: skip


@pytest.mark.shared_data
@pytest.mark.parametrize("subset", list(MEASURED))
def test_llmbar_accuracy_against_gold(subset: str) -> None:
    acc, decisive, n = _accuracy(subset)
    print(f"overlap on LLMBar/{subset}: accuracy {acc:.3f} vs gold over {n} pairs (ties half; {decisive:.0%} decisive)")
    assert acc == pytest.approx(MEASURED[subset], abs=0.01)
    if subset in ("Adversarial/Neighbor", "Adversarial/GPTInst"):  # an answer to another instruction: overlap sees it
        assert acc > 0.6
    if subset in ("Adversarial/GPTOut", "Adversarial/Manual"):  # on-topic but wrong: overlap prefers it
        assert acc < 0.35

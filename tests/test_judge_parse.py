"""Verdict parsing: last match wins, graded labels, logprob probabilities, expected ratings, never a guess."""

from __future__ import annotations

import math

import pytest

from referee.judging.parse import FAILED, OK, UNPARSED, parse, token_distribution
from referee.judging.templates import load, parse_template
from referee.judging.types import ChatResult

PAIRWISE = load("pairwise")
GRADED = load("pairwise-graded")
POINTWISE = load("pointwise-10")
LOGPROB = load("pairwise-logprob")
REFERENCE = load("pairwise-reference")


def lp(p: float) -> float:
    return math.log(p)


# -- regex verdicts ---------------------------------------------------------------------------------
MT_BENCH_STYLE = (
    "Assistant A gives the correct product, 51, and shows the multiplication. Assistant B claims 41, "
    "which is wrong. Both are concise, but only A is correct.\n\nFinal verdict: [[A]]"
)


def test_a_pairwise_answer_with_an_explanation():
    v = parse(ChatResult(MT_BENCH_STYLE), PAIRWISE)
    assert (v.status, v.winner, v.label, v.strength, v.prob_a) == (OK, "model_a", "A", None, None)


@pytest.mark.parametrize(("text", "winner"), [("[[B]]", "model_b"), ("It is a tie. [[C]]", "tie"), ("verdict: [[ a ]]", None)])
def test_pairwise_labels(text, winner):
    v = parse(ChatResult(text), PAIRWISE)
    assert v.winner == winner
    assert v.status == (OK if winner else UNPARSED)


def test_the_last_match_wins():
    text = 'The format is "[[A]]" if A is better or "[[B]]" if B is better. Having compared them: [[B]]'
    assert parse(ChatResult(text), PAIRWISE).winner == "model_b"
    assert parse(ChatResult("[[B]] ... on reflection, I change my mind: [[A]]"), REFERENCE).winner == "model_a"


ARENA_HARD_STYLE = """My own answer: the list should be sorted first.

Assistant A sorts the list and handles empty input. Assistant B forgets the empty case and has a bug.

Both are concise. A is clearly better.

My final verdict is: [[A>>B]]"""


@pytest.mark.parametrize(
    ("label", "winner", "strength"),
    [
        ("A>>B", "model_a", 2.0),
        ("A>B", "model_a", 1.0),
        ("A=B", "tie", 0.0),
        ("B>A", "model_b", 1.0),
        ("B>>A", "model_b", 2.0),
        ("B<<A", "model_a", 2.0),
        ("A<B", "model_b", 1.0),
        ("B = A", "tie", 0.0),
        ("a>>b", "model_a", 2.0),
    ],
)
def test_graded_verdicts_give_winner_and_strength(label, winner, strength):
    v = parse(ChatResult(f"Reasoning.\nMy final verdict is: [[{label}]]"), GRADED)
    assert (v.status, v.winner, v.strength) == (OK, winner, strength)


def test_an_arena_hard_style_answer():
    v = parse(ChatResult(ARENA_HARD_STYLE), GRADED)
    assert (v.winner, v.strength, v.label) == ("model_a", 2.0, "A>>B")


def test_graded_last_match_wins_even_after_restating_the_scale():
    text = "Options: [[A>>B]], [[A>B]], [[A=B]], [[B>A]], [[B>>A]].\nMy final verdict is: [[B>A]]."
    assert parse(ChatResult(text), GRADED).winner == "model_b"


# -- pointwise ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("The answer is accurate and complete.\n\nRating: [[9]]", 9.0),
        ("Rating: [[10]]", 10.0),
        ("Partly right. [[6.5]]", 6.5),
        ("Some errors. Rating: 4", 4.0),  # the template's second, looser pattern
        ("Rating: [[3]] ... wait, correcting myself: Rating: [[5]]", 5.0),
    ],
)
def test_pointwise_ratings(text, score):
    v = parse(ChatResult(text), POINTWISE)
    assert (v.status, v.score, v.rating, v.score_probs) == (OK, score, score, None)


@pytest.mark.parametrize("text", ["Rating: [[11]]", "Rating: [[0]]", "I would rather not rate this.", ""])
def test_pointwise_out_of_range_or_missing_is_unparsed(text):
    v = parse(ChatResult(text), POINTWISE)
    assert v.status == UNPARSED and v.score is None


# -- never a guess ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("template", [PAIRWISE, GRADED, POINTWISE, LOGPROB, REFERENCE])
@pytest.mark.parametrize("text", ["", "lorem ipsum dolor", "Both are fine I guess", "[[D]]", "A or B? Hard to say: C"])
def test_garbage_is_unparsed_never_a_verdict(template, text):
    v = parse(ChatResult(text), template)
    assert v.status == UNPARSED
    assert v.winner is None and v.score is None and v.prob_a is None


def test_failed_calls_are_failed():
    assert parse(None, PAIRWISE).status == FAILED
    assert parse(ChatResult(None, error="failed after 7 attempt(s): HTTP 500"), PAIRWISE).status == FAILED


# -- logprob verdicts --------------------------------------------------------------------------------------
def test_single_token_verdict_probabilities_from_top_logprobs():
    res = ChatResult("A", logprobs=[("A", lp(0.6), [("A", lp(0.6)), ("B", lp(0.3)), ("The", lp(0.1))])])
    v = parse(res, LOGPROB)
    assert v.winner == "model_a"
    # normalised over the verdict tokens present: 0.6 / 0.9
    assert v.prob_a == pytest.approx(2 / 3)
    assert v.probs == pytest.approx({"model_a": 2 / 3, "model_b": 1 / 3})


def test_token_matching_ignores_case_and_spaces_and_sums_variants():
    alts = [(" B", lp(0.4)), ("B", lp(0.1)), ("a", lp(0.1)), (" A", lp(0.3)), ("\n", lp(0.1))]
    v = parse(ChatResult(" B", logprobs=[(" B", lp(0.4), alts)]), LOGPROB)
    assert v.winner == "model_b"
    assert v.prob_a == pytest.approx(0.4 / 0.9)


def test_the_chosen_token_counts_even_when_missing_from_the_alternatives():
    v = parse(ChatResult("B", logprobs=[("B", lp(0.5), [("A", lp(0.5))])]), LOGPROB)
    assert v.prob_a == pytest.approx(0.5) and v.winner == "model_b"


def test_leading_blank_tokens_are_skipped():
    res = ChatResult("\nA", logprobs=[("\n", lp(0.9), []), ("A", lp(0.8), [("A", lp(0.8)), ("B", lp(0.2))])])
    assert parse(res, LOGPROB).prob_a == pytest.approx(0.8)


def test_logprob_template_without_logprobs_reads_the_text():
    v = parse(ChatResult(" b \n"), LOGPROB)
    assert (v.status, v.winner, v.prob_a) == (OK, "model_b", None)


def test_a_non_verdict_answer_token_reads_the_verdict_tokens_among_its_alternatives():
    # the judge said "The", but A and B hold 30% of that position: P(A | a verdict) = 2/3 (AlpacaEval's rule)
    res = ChatResult("The", logprobs=[("The", lp(0.7), [("The", lp(0.7)), ("A", lp(0.2)), ("B", lp(0.1))])])
    v = parse(res, LOGPROB)
    assert (v.status, v.winner, v.label) == (OK, "model_a", "A (logprobs)")
    assert v.prob_a == pytest.approx(2 / 3)
    even = ChatResult("The", logprobs=[("The", lp(0.8), [("The", lp(0.8)), ("A", lp(0.1)), ("B", lp(0.1))])])
    assert parse(even, LOGPROB).winner == "tie"


def test_too_little_verdict_mass_is_unparsed():
    res = ChatResult("The", logprobs=[("The", lp(0.99), [("The", lp(0.99)), ("A", lp(0.004)), ("B", lp(0.002))])])
    v = parse(res, LOGPROB)
    assert v.status == UNPARSED and v.prob_a is None and v.winner is None
    res = ChatResult("The", logprobs=[("The", lp(0.9), [("The", lp(0.9)), ("Sure", lp(0.1))])])
    assert parse(res, LOGPROB).status == UNPARSED


def test_case_sensitive_labels_keep_m_and_M_apart():
    t = parse_template("{# referee:\nkind: pairwise\nparser: logprob\nlabels: {m: model_a, M: model_b}\n#}\n{{ prompt }}")
    res = ChatResult("M", logprobs=[("M", lp(0.7), [("M", lp(0.7)), ("m", lp(0.2)), ("x", lp(0.1))])])
    v = parse(res, t)
    assert v.winner == "model_b" and v.prob_a == pytest.approx(0.2 / 0.9)


def test_regex_verdict_with_logprobs_at_the_verdict_token():
    tokens = [
        ("Both", lp(0.9), []), (" fine", lp(0.9), []), (". [[", lp(0.99), []),
        ("B", lp(0.7), [("B", lp(0.7)), ("A", lp(0.2)), ("C", lp(0.1))]),
        ("]]", lp(0.99), []),
    ]  # fmt: skip
    v = parse(ChatResult("Both fine. [[B]]", logprobs=tokens), PAIRWISE)
    assert v.winner == "model_b"
    assert v.probs == pytest.approx({"model_b": 0.7, "model_a": 0.2, "tie": 0.1})
    assert v.prob_a == pytest.approx(0.2 + 0.1 / 2)  # a tie counts half


def test_regex_verdict_when_the_token_also_holds_the_brackets():
    tokens = [("Verdict: ", lp(0.9), []), ("[[A", lp(0.6), [("[[A", lp(0.6)), ("[[B", lp(0.3)), ("[[", lp(0.1))]), ("]]", lp(0.9), [])]
    v = parse(ChatResult("Verdict: [[A]]", logprobs=tokens), PAIRWISE)
    # "[[C" is not listed: its probability is at most the lowest listed one (0.1)
    assert v.winner == "model_a" and v.probs == pytest.approx({"model_a": 0.6, "model_b": 0.3, "tie": 0.1})
    assert v.prob_a == pytest.approx(0.65)


def test_a_verdict_token_missing_from_the_top_alternatives_is_not_read_as_impossible():
    res = ChatResult("A", logprobs=[("A", lp(0.9), [("A", lp(0.9)), ("The", lp(0.05)), ("I", lp(0.03))])])
    v = parse(res, LOGPROB)
    assert v.prob_a == pytest.approx(0.9 / 0.93)  # P(B) <= 0.03, the lowest listed
    assert parse(ChatResult("A", logprobs=[("A", lp(0.9), [])]), LOGPROB).prob_a == 1.0  # no alternatives: nothing to bound


def test_a_label_spread_over_several_tokens_gives_no_probability():
    tokens = [("[[", lp(0.9), []), ("A", lp(0.5), [("A", lp(0.5)), ("B", lp(0.5))]), (">>", lp(0.9), []), ("B", lp(0.9), []), ("]]", lp(0.9), [])]
    v = parse(ChatResult("[[A>>B]]", logprobs=tokens), GRADED)
    assert (v.winner, v.strength, v.prob_a) == ("model_a", 2.0, None)  # the first token alone cannot tell A>B from A>>B


def test_pointwise_expected_score_from_rating_logprobs():
    alts = [("7", lp(0.5)), ("8", lp(0.3)), ("6", lp(0.1)), ("seven", lp(0.1))]
    tokens = [("Rating", lp(0.9), []), (": [[", lp(0.9), []), ("7", lp(0.5), alts), ("]]", lp(0.9), [])]
    v = parse(ChatResult("Rating: [[7]]", logprobs=tokens), POINTWISE)
    assert v.rating == 7.0
    assert v.score_probs == pytest.approx({"6": 1 / 9, "7": 5 / 9, "8": 3 / 9})
    assert v.score == pytest.approx((6 * 1 + 7 * 5 + 8 * 3) / 9)


def test_token_distribution_is_none_without_verdict_tokens():
    assert token_distribution("x", -0.1, [("y", -1.0)], {"a": "A"}) is None


def test_token_distribution_tolerates_minus_infinity():
    d = token_distribution("A", 0.0, [("A", 0.0), ("B", float("-inf"))], {"a": "A", "b": "B"})
    assert d == pytest.approx({"A": 1.0, "B": 0.0})

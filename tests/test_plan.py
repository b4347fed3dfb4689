"""Pairing: against a baseline, round robin, from a file; a seeded, stable presentation order."""

from __future__ import annotations

import json
from itertools import combinations

import pandas as pd
import pytest

from referee.errors import InputError
from referee.planning import (
    PAIR_COLUMNS,
    first_shown,
    pair_id,
    pairs_from_file,
    pairs_round_robin,
    pairs_vs_baseline,
    plan_pairs,
)


def outputs(models=("base", "m1", "m2", "m3"), n_prompts=40) -> pd.DataFrame:
    rows = [
        {"prompt_id": f"p{i}", "prompt": f"question {i}", "model": m, "response": f"{m} says {i}"}
        for m in models
        for i in range(n_prompts)
    ]
    return pd.DataFrame(rows)


def test_pairs_vs_baseline_cover_every_prompt_and_model():
    df = outputs()
    pairs = pairs_vs_baseline(df, "base", seed=0)
    assert tuple(pairs.columns) == PAIR_COLUMNS
    assert len(pairs) == 40 * 3
    assert ((pairs["model_x"] == "base") | (pairs["model_y"] == "base")).all()
    assert set(pairs["model_x"]) | set(pairs["model_y"]) == {"base", "m1", "m2", "m3"}
    assert pairs["pair_id"].is_unique


def test_the_order_assignment_is_seeded_reproducible_and_mixed():
    df = outputs()
    a, b = pairs_vs_baseline(df, "base", seed=0), pairs_vs_baseline(df, "base", seed=0)
    pd.testing.assert_frame_equal(a, b)
    base_first = (a["model_x"] == "base").mean()
    assert 0.3 < base_first < 0.7  # a coin flip per pair, not always the baseline first
    c = pairs_vs_baseline(df, "base", seed=1)
    assert (c["pair_id"] == a["pair_id"]).all()  # same pairs ...
    assert (c["model_x"] != a["model_x"]).any()  # ... shown in another order


def test_the_order_of_a_pair_does_not_depend_on_the_other_models():
    small = pairs_vs_baseline(outputs(("base", "m1")), "base", seed=3)
    big = pairs_vs_baseline(outputs(("m9", "base", "m1", "m2")), "base", seed=3)
    merged = small.merge(big, on="pair_id", suffixes=("_small", "_big"))
    assert len(merged) == len(small)
    assert (merged["model_x_small"] == merged["model_x_big"]).all()


def test_pair_id_ignores_presentation_order():
    assert pair_id("p1", "a", "b") == pair_id("p1", "b", "a")
    assert set(first_shown("p1", "a", "b", 5)) == {"a", "b"}
    assert first_shown("p1", "a", "b", 5) == first_shown("p1", "b", "a", 5)


def test_round_robin_pairs_every_two_models():
    df = outputs(("a", "b", "c", "d"), n_prompts=10)
    pairs = pairs_round_robin(df, seed=0)
    assert len(pairs) == 10 * 6
    got = {frozenset(t) for t in zip(pairs["model_x"], pairs["model_y"], strict=True)}
    assert got == {frozenset(t) for t in combinations("abcd", 2)}


def test_tuples_instead_of_a_frame():
    rows = outputs(("a", "b"), 3).to_dict("records")
    pairs = plan_pairs(rows, pairs="round-robin", frame=False)
    assert len(pairs) == 3 and all(len(t) == 4 for t in pairs)


def test_pairs_from_a_csv_with_prompt_ids(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("prompt_id,model_x,model_y\np1,m1,m2\np2,m2,m3\np2,m3,m2\n")
    pairs = pairs_from_file(path, seed=0)
    assert len(pairs) == 2  # the repeated pair (either order) is planned once
    assert set(pairs["prompt_id"]) == {"p1", "p2"}


def test_pairs_from_jsonl_without_prompt_ids_cover_every_prompt(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"model_a": "m1", "model_b": "base"}, {"model_a": "m2", "model_b": "m3"}]))
    pairs = plan_pairs(outputs(), pairs=path)
    assert len(pairs) == 2 * 40


def test_a_self_pair_in_a_file_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("model_x,model_y\nm1,m1\n")
    with pytest.raises(InputError, match="itself") as err:
        pairs_from_file(path, outputs())
    assert err.value.line == 2


def test_unknown_baseline_lists_the_models():
    with pytest.raises(InputError, match="m1") as err:
        pairs_vs_baseline(outputs(), "gpt-5")
    assert err.value.field == "baseline"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "say which pairs"), ({"baseline": "base", "pairs": "round-robin"}, "not both")],
)
def test_plan_pairs_needs_exactly_one_way_to_pair(kwargs, message):
    with pytest.raises(InputError, match=message):
        plan_pairs(outputs(), **kwargs)


def test_one_model_cannot_be_paired():
    with pytest.raises(InputError):
        pairs_round_robin(outputs(("a",)))
    with pytest.raises(InputError, match="only the baseline"):
        pairs_vs_baseline(outputs(("a",)), "a")

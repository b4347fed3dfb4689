"""Intervals against exact small cases and row-level references.

* two models, one winning k–0: the intervals overlap exactly when the exact two-sided
  binomial test does not reject (p = 2·0.5^k ≥ 0.05, i.e. k ≤ 5);
* weighted rows, soft verdicts and clusters: the sandwich equals a per-row (per-cluster)
  reference computed here row by row, and the bootstrap agrees with it within Monte
  Carlo error;
* anchored ratings: intervals of θᵢ − θ_anchor, the anchor exact;
* degenerate resamples never raise, and are counted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

import referee
from referee.errors import InputError
from referee.sim import simulate_arena

SCALE = 400.0 / math.log(10.0)


def _k0(k: int) -> pd.DataFrame:
    return pd.DataFrame({"model_a": ["A"] * k, "model_b": ["B"] * k, "winner": ["model_a"] * k})


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
@pytest.mark.parametrize("k", range(1, 9))
def test_k_to_0_agrees_with_the_exact_binomial_test(k, ci):
    board = referee.rank(_k0(k), ci=ci, rounds=200).table.set_index("model")
    overlap = board.loc["A", "ci_low"] <= board.loc["B", "ci_high"]
    p = binomtest(k, k, 0.5).pvalue
    assert overlap == (p >= 0.05), f"k={k}: exact p={p:.4f}, intervals overlap: {overlap}"
    # rank intervals say the same thing
    assert (board.loc["B", "rank_low"] == 1) == overlap
    assert board.loc["A", "ci_high"] > board.loc["A", "ci_low"]  # never a zero-width interval


def test_forty_to_nothing_is_not_falsely_precise():
    """A model 40–0 against four others: finite ratings, an interval hundreds of points wide,
    and a note that the prior was used."""
    rng = np.random.default_rng(0)
    rows = [("A", o, "model_a") for o in "BCDE" for _ in range(10)]
    for _ in range(80):
        x, y = rng.choice(list("BCDE"), 2, replace=False)
        rows.append((x, y, rng.choice(["model_a", "model_b"])))
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    for ci in ("sandwich", "bootstrap"):
        board = referee.rank(df, ci=ci, rounds=200)
        a = board.table.set_index("model").loc["A"]
        assert a["rank"] == 1 and np.isfinite(a["rating"])
        assert a["ci_high"] - a["ci_low"] > 250
        assert any("never won or never lost" in n for n in board.meta["notes"])


def test_chain_of_three():
    for k in (1, 3, 10):
        df = pd.DataFrame({"model_a": ["A"] * k + ["B"] * k, "model_b": ["B"] * k + ["C"] * k,
                           "winner": ["model_a"] * (2 * k)})
        for ci in ("sandwich", "bootstrap"):
            t = referee.rank(df, ci=ci, rounds=100).table.set_index("model")
            assert list(t.index) == ["A", "B", "C"]
            assert np.isfinite(t[["ci_low", "ci_high"]].to_numpy()).all()
            # A and B met only k times: with k ≤ 3 they cannot be told apart
            if k <= 3:
                assert t.loc["B", "rank_low"] == 1


def _row_sandwich(df: pd.DataFrame, rating: pd.Series, cluster: str | None = None) -> pd.Series:
    """Reference: the BT quasi-likelihood sandwich computed row by row (or cluster by cluster)."""
    models = sorted(set(df.model_a) | set(df.model_b))
    idx = {m: i for i, m in enumerate(models)}
    theta = (rating.reindex(models).to_numpy() - 1000.0) / SCALE
    a = df.model_a.map(idx).to_numpy()
    b = df.model_b.map(idx).to_numpy()
    t = np.where(df.winner == "model_a", 1.0, np.where(df.winner == "model_b", 0.0, 0.5))
    if "prob_a" in df.columns:
        t = np.where(df.prob_a.notna(), df.prob_a, t)
    w = df["weight"].to_numpy() if "weight" in df.columns else np.ones(len(df))
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    m = len(models)
    h = np.zeros((m, m))
    scores = np.zeros((len(df), m))
    for r in range(len(df)):
        x = np.zeros(m)
        x[a[r]], x[b[r]] = 1.0, -1.0
        h += w[r] * p[r] * (1 - p[r]) * np.outer(x, x)
        scores[r] = w[r] * (t[r] - p[r]) * x
    if cluster is not None:
        codes, uniq = pd.factorize(df[cluster])
        sums = np.zeros((len(uniq), m))
        np.add.at(sums, codes, scores)
        j = sums.T @ sums * len(uniq) / (len(uniq) - 1)
    else:
        j = scores.T @ scores
    proj = np.eye(m) - 1.0 / m  # H is singular along 1: invert on the mean-zero subspace
    hp = proj @ np.linalg.inv(h + 1.0 / m) @ proj
    cov = hp @ j @ hp
    return pd.Series(SCALE * np.sqrt(np.diag(cov)), index=models)


def _scenario(kind: str, seed: int = 3) -> pd.DataFrame:
    df, truth = simulate_arena(6, 1200, seed=seed, spread=0.7, tau=0.0 if kind == "soft" else 0.3)
    rng = np.random.default_rng(seed)
    if kind == "weights":
        df["weight"] = rng.lognormal(0.0, 1.0, len(df))
    if kind == "soft":
        d = truth.reindex(df.model_a).to_numpy() - truth.reindex(df.model_b).to_numpy()
        p = 1 / (1 + np.exp(-d))
        df["prob_a"] = rng.beta(4 * p, 4 * (1 - p))
    if kind == "cluster":
        df["prompt_id"] = rng.integers(0, 150, len(df)).astype(str)
    return df


@pytest.mark.parametrize("kind", ["weights", "soft", "cluster"])
def test_sandwich_equals_the_row_level_reference(kind):
    df = _scenario(kind)
    cluster = "prompt_id" if kind == "cluster" else None
    board = referee.rank(df, ci="sandwich", cluster=cluster).table.set_index("model")
    ref = _row_sandwich(df, board["rating"], cluster)
    np.testing.assert_allclose(board["rating_se"].reindex(ref.index), ref, rtol=1e-6)


@pytest.mark.parametrize("kind", ["weights", "soft", "cluster"])
def test_bootstrap_agrees_with_the_row_level_sandwich(kind):
    df = _scenario(kind, seed=5)
    cluster = "prompt_id" if kind == "cluster" else None
    sandwich = referee.rank(df, ci="sandwich", cluster=cluster).table.set_index("model")["rating_se"]
    boot = referee.rank(df, ci="bootstrap", rounds=1500, cluster=cluster, seed=1).table.set_index("model")
    ratio = boot["rating_se"] / sandwich.reindex(boot.index)
    # SE of a bootstrap SE from 1500 rounds is about 2%: allow 10%
    assert ((ratio > 0.9) & (ratio < 1.1)).all(), ratio.round(3).to_dict()


def test_weights_are_not_averaged_away():
    """Σw² per row, not (Σw)²/n per cell: with unequal weights the SE must grow."""
    df = _scenario("plain")
    even = referee.rank(df).table.set_index("model")["rating_se"]
    rng = np.random.default_rng(0)
    df["weight"] = rng.lognormal(0.0, 1.0, len(df))
    df["weight"] *= len(df) / df["weight"].sum()
    uneven = referee.rank(df).table.set_index("model")["rating_se"]
    # lognormal(0, 1) weights cut the effective sample size by E[w²]/E[w]² = e: SEs grow by about √e
    assert (uneven / even.reindex(uneven.index)).median() > 1.3


def test_anchored_intervals_are_those_of_the_difference():
    df, _ = simulate_arena(8, 2000, seed=11, spread=0.7)
    plain = referee.rank(df)
    anchored = referee.rank(df, anchor="model-003=1200")
    t = anchored.table.set_index("model")
    assert t.loc["model-003", "ci_low"] == t.loc["model-003", "ci_high"] == pytest.approx(1200.0)
    assert t.loc["model-003", "rating_se"] == 0.0
    # ratings are shifted, intervals are not: their widths change
    p = plain.table.set_index("model")
    shift = 1200.0 - p.loc["model-003", "rating"]
    np.testing.assert_allclose(t["rating"], p["rating"].reindex(t.index) + shift)
    assert not np.allclose(t["ci_high"] - t["ci_low"], (p["ci_high"] - p["ci_low"]).reindex(t.index))
    # rank intervals do not depend on the anchor
    assert (t["rank_low"] == p["rank_low"].reindex(t.index)).all()
    boot = referee.rank(df, anchor="model-003=1200", ci="bootstrap", rounds=300).table.set_index("model")
    assert boot.loc["model-003", "ci_low"] == boot.loc["model-003", "ci_high"] == pytest.approx(1200.0)


def test_bootstrap_never_raises_on_tiny_arenas_and_counts_degenerate_rounds():
    penalised = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        df, _ = simulate_arena(int(rng.integers(3, 7)), int(rng.integers(12, 61)), seed=seed, spread=1.0, skew=0.3)
        try:
            board = referee.rank(df, ci="bootstrap", rounds=100, seed=seed)
        except InputError as err:  # a disconnected tiny arena is refused with a message, never a traceback
            assert "disconnected" in str(err)
            continue
        assert np.isfinite(board.table[["ci_low", "ci_high"]].to_numpy()).all()
        penalised += board.meta["bootstrap_penalised"] or 0
    assert penalised > 0  # tiny arenas do produce separated resamples: they are fitted and counted


def test_elo_claims_no_certainty():
    df, _ = simulate_arena(5, 500, seed=2)
    board = referee.rank(df, model="elo")
    assert board.meta["ci"] == "none"
    assert (board.table["rank_low"] == 1).all() and (board.table["rank_high"] == 5).all()
    assert any("Elo has no likelihood" in n for n in board.meta["notes"])
    boot = referee.rank(df, model="elo", ci="bootstrap", rounds=30)
    assert (boot.table["ci_high"] > boot.table["ci_low"]).all()


@pytest.mark.parametrize("rounds", [0, -3, 5])
def test_too_few_rounds_is_a_clear_error(rounds):
    df, _ = simulate_arena(4, 200, seed=1)
    with pytest.raises(InputError, match="at least 10 rounds"):
        referee.rank(df, ci="bootstrap", rounds=rounds)


def test_style_control_honours_soft_verdicts_and_reports_coefficient_ses():
    df = _scenario("soft")
    df["x"] = np.random.default_rng(1).normal(size=len(df))
    df["winner"] = np.where(df.prob_a > 0.5, "model_a", "model_b")
    soft = referee.rank(df, style=["x"])
    hard = referee.rank(df, style=["x"], soft=False)
    plain_soft = referee.rank(df)
    assert not np.allclose(soft.table.sort_values("model")["rating"], hard.table.sort_values("model")["rating"])
    # with a covariate unrelated to outcomes, style control ≈ the plain soft fit
    np.testing.assert_allclose(soft.table.sort_values("model")["rating"],
                               plain_soft.table.sort_values("model")["rating"], atol=5.0)
    se = soft.meta["style_coefficients_se"]["x"]
    assert np.isfinite(se) and se > 0


def test_both_presentation_orders_are_one_unit_by_default():
    df, _ = simulate_arena(5, 400, seed=4)
    swapped = df.rename(columns={"model_a": "model_b", "model_b": "model_a"})
    swapped["winner"] = swapped["winner"].replace({"model_a": "model_b", "model_b": "model_a"})
    both = pd.concat([df, swapped], ignore_index=True)
    both["pair_id"] = np.tile(np.arange(len(df)), 2).astype(str)
    board = referee.rank(both)
    assert board.meta["cluster"] == "pair_id"
    rows = referee.rank(both, cluster="none")
    # the two orders repeat the same verdict: treating them as independent halves the variance
    ratio = board.table.set_index("model")["rating_se"] / rows.table.set_index("model")["rating_se"]
    np.testing.assert_allclose(ratio, math.sqrt(2), rtol=0.02)

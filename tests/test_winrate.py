"""Win rate vs a baseline and the length-controlled win rate.

Real-data checks reproduce the AlpacaEval leaderboards from the judge annotations in
../shared/data/alpaca_eval (read-only, never copied into the repo); unit tests use tiny
synthetic frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import spearmanr

from referee.errors import InputError
from referee.rank.lc import instruction_difficulty, lc_win_rates, text_lengths
from referee.rank.winrate import lc_win_rates as lc_reexport
from referee.rank.winrate import win_rates

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AE = DATA / "alpaca_eval"
BOARDS = AE / "src" / "alpaca_eval" / "leaderboards"
AE2 = ("weighted_alpaca_eval_gpt4_turbo", "gpt4_1106_preview",
       BOARDS / "data_AlpacaEval_2" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")
AE1 = ("alpaca_eval_gpt4", "text_davinci_003", BOARDS / "data_AlpacaEval" / "alpaca_eval_gpt4_leaderboard.csv")
TOL = 0.05  # points


# ---------------------------------------------------------------- real data


def _annotations(annotator: str) -> pd.DataFrame:
    """All ``results/<model>/<annotator>/annotations.json.xz`` read with referee.io.read.

    Rows are kept by the ``annotator`` field, not the folder (a few folders hold another
    judge's verdicts); the one-level glob skips the nested duplicate copies.  model_b is
    the results folder, which is what the leaderboards are keyed by: three upstream files
    carry another generator_2 name (NullModel's says "example", AE1 alpaca-7b-neft's a
    run id, AE1 falcon-7b-instruct's "falcon-40b-instruct").
    """
    if not (AE / "results").is_dir():
        pytest.skip(f"AlpacaEval data not found at {AE} (public data expected beside the checkout)")
    from referee.io import read

    frames = []
    for path in sorted((AE / "results").glob(f"*/{annotator}/annotations.json.xz")):
        df = read(path)
        df = df[df["judge"] == annotator]
        if len(df):
            frames.append(df.assign(model_b=path.parents[1].name))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def ae2() -> pd.DataFrame:
    return _annotations(AE2[0])


@pytest.fixture(scope="module")
def ae1() -> pd.DataFrame:
    return _annotations(AE1[0])


@pytest.fixture(scope="module")
def board2() -> pd.DataFrame:
    if not AE2[2].is_file():
        pytest.skip(f"AlpacaEval 2 leaderboard not found at {AE2[2]}")
    return pd.read_csv(AE2[2], index_col=0)


@pytest.fixture(scope="module")
def lc2(ae2: pd.DataFrame) -> pd.DataFrame:
    return lc_win_rates(ae2, AE2[1])


def _check_against_board(df: pd.DataFrame, baseline: str, board_path: Path, min_models: int) -> pd.DataFrame:
    wr = win_rates(df, baseline)
    board = pd.read_csv(board_path, index_col=0)
    annotated = sorted(set(df["model_b"]) - {baseline})
    shared = [m for m in annotated if m in board.index]
    assert len(shared) >= min_models
    assert set(shared) <= set(wr.index)
    got, ref = wr.loc[shared], board.loc[shared]
    dev_wr = (got["win_rate"] - ref["win_rate"]).abs()
    dev_se = (got["win_rate_se"] - ref["standard_error"]).abs()
    assert dev_wr.max() < TOL, dev_wr.idxmax()
    assert dev_se.max() < TOL, dev_se.idxmax()
    # AlpacaEval's counts: n_wins (score > 1/2), n_wins_base (< 1/2), n_draws (= 1/2), n_total
    for ours, theirs in (("n", "n_total"), ("wins", "n_wins"), ("losses", "n_wins_base"), ("ties", "n_draws")):
        assert (got[ours] == ref[theirs]).all(), ours
    return got


def test_alpaca_eval_2_win_rates_and_standard_errors(ae2: pd.DataFrame):
    got = _check_against_board(ae2, AE2[1], AE2[2], min_models=55)
    assert got["n"].min() < 805  # the files with 802-804 rows are in


def test_alpaca_eval_1_win_rates_with_draws(ae1: pd.DataFrame):
    got = _check_against_board(ae1, AE1[1], AE1[2], min_models=50)
    assert got["ties"].sum() > 0  # draws (preference 0) count 1/2


def test_lc_ranks_models_like_alpaca_eval(ae2: pd.DataFrame, lc2: pd.DataFrame, board2: pd.DataFrame):
    shared = [m for m in lc2.index if m in board2.index]
    assert len(shared) >= 55
    official = board2.loc[shared, "length_controlled_winrate"]
    rho_lc = spearmanr(lc2.loc[shared, "lc_win_rate"], official).statistic
    rho_raw = spearmanr(win_rates(ae2, AE2[1]).loc[shared, "win_rate"], official).statistic
    assert rho_lc >= 0.97
    assert rho_lc > rho_raw  # the length control, not the raw win rate, explains the official LC
    assert np.isfinite(lc2["lc_win_rate_se"]).all() and (lc2["lc_win_rate_se"] > 0).all()


def test_lc_coefficients_agree_with_alpaca_eval_weights(lc2: pd.DataFrame):
    path = AE / "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1"
    weights = pd.read_csv(path / "baseline_gpt4_1106_preview.csv", index_col=0)
    shared = [m for m in lc2.index if m in weights.index]
    assert len(shared) >= 50
    w = weights.loc[shared]
    # AlpacaEval's length feature is baseline minus model: its weight is -β
    assert np.corrcoef(lc2.loc[shared, "length_coef"], -w["np.tanh(std_delta_len)"])[0, 1] > 0.85
    assert np.corrcoef(lc2.loc[shared, "intercept"], w["not_gamed_baseline.astype(float)"])[0, 1] > 0.95


VARIANTS = [
    ("alpaca-7b_concise", "alpaca-7b"),
    ("alpaca-7b_verbose", "alpaca-7b"),
    ("gpt-3.5-turbo-1106_concise", "gpt-3.5-turbo-1106"),
    ("gpt-3.5-turbo-1106_verbose", "gpt-3.5-turbo-1106"),
    ("claude-2.1_concise", "claude-2.1"),
    ("Mixtral-8x7B-Instruct-v0.1_concise", "Mixtral-8x7B-Instruct-v0.1"),
    ("gpt4_0613_concise", "gpt4_0613"),
    ("gpt4_gamed", "gpt4_1106_preview"),  # GPT-4 answers cut to 10 characters, vs the baseline itself
]


def test_lc_pulls_length_gamed_variants_toward_their_base(
    ae2: pd.DataFrame, lc2: pd.DataFrame, board2: pd.DataFrame
):
    """Where prompting for length changed the raw win rate significantly (> 2 SE), LC shrinks the gap.

    Gaps are compared on the logit scale, where the GLM is linear: LC lifts weak models a
    lot in points (alpaca-7b: 2.6% raw, ~6% LC), so gaps in points are not comparable.
    The same holds for AlpacaEval's own LC, checked alongside as the expectation's source.
    """
    base = AE2[1]
    wr = win_rates(ae2, base)
    raw = {**wr["win_rate"].to_dict(), base: 50.0}
    raw_se = {**wr["win_rate_se"].to_dict(), base: 0.0}
    lc = {**lc2["lc_win_rate"].to_dict(), base: 50.0}
    official = {**board2["length_controlled_winrate"].to_dict(), base: 50.0}

    def gap(values: dict, a: str, b: str) -> float:
        return abs(logit(values[a] / 100) - logit(values[b] / 100))

    tested = []
    for variant, origin in VARIANTS:
        if variant not in raw or origin not in raw:
            continue  # the base model's annotations are not in the snapshot
        if abs(raw[variant] - raw[origin]) < 2 * np.hypot(raw_se[variant], raw_se[origin]):
            continue  # length prompting did not move the raw win rate beyond noise
        assert gap(official, variant, origin) < gap(raw, variant, origin), variant
        assert gap(lc, variant, origin) < gap(raw, variant, origin), variant
        tested.append(variant)
    assert {"gpt4_gamed", "claude-2.1_concise", "gpt-3.5-turbo-1106_verbose"} <= set(tested)
    # the truncated GPT-4 answers: LC recovers a large part of the 46-point loss
    assert raw["gpt4_gamed"] < lc["gpt4_gamed"] < 50


def test_lc_in_tokens_and_with_given_difficulty(ae2: pd.DataFrame, lc2: pd.DataFrame):
    tokens = lc_win_rates(ae2, AE2[1], length="tokens")
    assert spearmanr(tokens["lc_win_rate"], lc2.loc[tokens.index, "lc_win_rate"]).statistic > 0.97
    diff = instruction_difficulty(ae2, AE2[1])
    assert len(diff) == 805 and abs(diff.mean()) < 1e-9
    given = lc_win_rates(ae2, AE2[1], difficulty=diff)
    # the default differs only by leaving each model's own verdicts out of its difficulty
    assert (given["lc_win_rate"] - lc2.loc[given.index, "lc_win_rate"]).abs().max() < 1.0
    with pytest.raises(InputError, match="difficulty has no value"):
        lc_win_rates(ae2, AE2[1], difficulty=diff.iloc[:-1])


# ---------------------------------------------------------------- synthetic frames


def _frame(rows: list[tuple], columns=("model_a", "model_b", "winner")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def test_hard_labels_ties_and_both_orders():
    df = _frame([
        ("base", "x", "model_b"),        # x wins
        ("x", "base", "model_a"),        # x wins, baseline shown second
        ("x", "base", "model_b"),        # x loses
        ("base", "x", "tie"),
        ("x", "base", "tie (bothbad)"),
        ("y", "z", "model_a"),           # no baseline: ignored
        ("base", "y", "model_a"),
    ])
    wr = win_rates(df, "base")
    assert list(wr.index) == ["x", "y"]
    x = wr.loc["x"]
    assert x["win_rate"] == pytest.approx(100 * 3 / 5)
    assert (x["n"], x["wins"], x["losses"], x["ties"]) == (5, 2, 1, 2)
    scores = pd.Series([1, 1, 0, 0.5, 0.5])
    assert x["win_rate_se"] == pytest.approx(100 * scores.sem())
    assert wr.loc["y", "win_rate"] == 0 and np.isnan(wr.loc["y", "win_rate_se"])  # one observation


def test_soft_preferences_count_fractionally_and_fall_back_to_labels():
    df = _frame(
        [("base", "x", "model_a", 0.8), ("x", "base", "model_a", 0.6), ("base", "x", "model_b", np.nan)],
        ("model_a", "model_b", "winner", "prob_a"),
    )
    x = win_rates(df, "base").loc["x"]
    scores = pd.Series([0.2, 0.6, 1.0])  # 1 - prob_a, prob_a, hard label where prob_a is missing
    assert x["win_rate"] == pytest.approx(100 * scores.mean())
    assert x["win_rate_se"] == pytest.approx(100 * scores.sem())
    assert (x["wins"], x["losses"], x["ties"]) == (2, 1, 0)
    hard = win_rates(df.drop(columns="prob_a"), "base").loc["x"]
    assert hard["win_rate"] == pytest.approx(100 * 2 / 3)  # soft and hard differ


def test_baseline_side_does_not_matter():
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"model_a": "base", "model_b": rng.choice(["x", "y"], n), "prob_a": rng.random(n)})
    df["winner"] = np.where(df["prob_a"] > 0.5, "model_a", "model_b")
    swapped = df.rename(columns={"model_a": "model_b", "model_b": "model_a"}).assign(
        prob_a=1 - df["prob_a"], winner=np.where(df["winner"] == "model_a", "model_b", "model_a")
    )
    pd.testing.assert_frame_equal(win_rates(df, "base"), win_rates(swapped, "base"))


def test_weights():
    df = _frame([("base", "x", "model_b", 2.0), ("base", "x", "model_a", 1.0), ("base", "x", "tie", 0.0)],
                ("model_a", "model_b", "winner", "weight"))
    x = win_rates(df, "base").loc["x"]
    assert x["win_rate"] == pytest.approx(100 * 2 / 3)  # = duplicating the weight-2 row; weight 0 drops out
    dup = _frame([("base", "x", "model_b"), ("base", "x", "model_b"), ("base", "x", "model_a")])
    assert win_rates(dup, "base").loc["x", "win_rate"] == pytest.approx(x["win_rate"])
    unit = win_rates(df.assign(weight=1.0), "base").loc["x"]
    plain = win_rates(df.drop(columns="weight"), "base").loc["x"]
    assert unit["win_rate_se"] == pytest.approx(plain["win_rate_se"])


def test_missing_baseline_is_an_input_error():
    df = _frame([("a", "b", "model_a"), ("base", "base", "tie")])
    with pytest.raises(InputError, match="not in the data"):
        win_rates(df, "nobody")
    with pytest.raises(InputError, match="never compared"):
        win_rates(df, "base")
    with pytest.raises(InputError, match="not in the data"):
        lc_win_rates(df, "nobody")


def _simulated(seed: int = 0, n_instr: int = 300) -> pd.DataFrame:
    """A judge with a length bias: logit P(m beats base) = θ_m + 1.5 tanh(Δ/sd) + δ_x.

    ``plain`` and ``verbose`` are the same model (same θ); ``verbose`` writes 2.5x longer.
    """
    rng = np.random.default_rng(seed)
    theta = {"plain": -0.5, "verbose": -0.5, "strong": 1.0, "weak": -2.0, "mid": 0.0}
    stretch = {"plain": 1.0, "verbose": 2.5, "strong": 1.2, "weak": 0.8, "mid": 1.0}
    delta = rng.normal(0, 1, n_instr)
    base_len = rng.integers(200, 2000, n_instr)
    rows = []
    for m, th in theta.items():
        model_len = (base_len * stretch[m] * rng.lognormal(0, 0.4, n_instr)).astype(int)
        d = model_len - base_len
        p = expit(th + 1.5 * np.tanh(d / d.std(ddof=1)) + delta)
        win = rng.random(n_instr) < p
        first = rng.random(n_instr) < 0.5  # show the baseline first or second
        for i in range(n_instr):
            resp_m, resp_b = "w" * model_len[i], "b" * base_len[i]
            prob_m = float(win[i])
            rows.append({
                "model_a": m if first[i] else "base", "model_b": "base" if first[i] else m,
                "response_a": resp_m if first[i] else resp_b, "response_b": resp_b if first[i] else resp_m,
                "prob_a": prob_m if first[i] else 1 - prob_m, "prompt_id": f"q{i}",
            })
    df = pd.DataFrame(rows)
    df["winner"] = np.where(df["prob_a"] > 0.5, "model_a", "model_b")
    return df


def test_lc_removes_a_simulated_length_bias():
    df = _simulated()
    wr, lc = win_rates(df, "base"), lc_win_rates(df, "base")
    assert wr.loc["verbose", "win_rate"] - wr.loc["plain", "win_rate"] > 10
    assert abs(lc.loc["verbose", "lc_win_rate"] - lc.loc["plain", "lc_win_rate"]) < 2 * np.hypot(
        lc.loc["verbose", "lc_win_rate_se"], lc.loc["plain", "lc_win_rate_se"])
    assert lc["length_coef"].between(0.5, 3).all()  # the simulated bias is 1.5
    assert spearmanr(lc.loc[["weak", "plain", "mid", "strong"], "lc_win_rate"], [0, 1, 2, 3]).statistic == 1
    pd.testing.assert_frame_equal(lc_reexport(df, "base"), lc)


def test_lc_single_model_and_hard_labels():
    df = _simulated(seed=1, n_instr=120)
    one = df[(df["model_a"] == "plain") | (df["model_b"] == "plain")].drop(columns="prob_a")
    out = lc_win_rates(one, "base")
    assert list(out.index) == ["plain"]
    assert 0 < out.loc["plain", "lc_win_rate"] < 100 and np.isfinite(out.loc["plain", "lc_win_rate_se"])
    # with one model the leave-own-verdicts-out difficulty is 0: the minimal GLM
    assert out.loc["plain", "difficulty_coef"] == pytest.approx(0, abs=1e-3)


def test_lc_input_errors_and_token_lengths():
    df = _simulated(n_instr=20)
    with pytest.raises(InputError, match="responses"):
        lc_win_rates(df.drop(columns="response_b"), "base")
    holes = df.copy()
    holes.loc[3, "response_a"] = None
    with pytest.raises(InputError, match="every response"):
        lc_win_rates(holes, "base")
    with pytest.raises(InputError, match="prompt_id"):
        lc_win_rates(df.drop(columns="prompt_id"), "base")
    with pytest.raises(InputError, match="length"):
        lc_win_rates(df, "base", length="words")
    texts = pd.Series(["  Hello, world!  Two\n\twords ", "", "one", " "])
    assert list(text_lengths(texts)) == [28, 0, 3, 1]
    assert list(text_lengths(texts, "tokens")) == [len(t.split()) for t in texts]
    assert list(text_lengths(texts, "tokens", tokenizer=list)) == [28, 0, 3, 1]
    assert list(text_lengths(texts, "tokens", tokenizer=lambda t: 7)) == [7, 7, 7, 7]
    by_split = lc_win_rates(df, "base", length="tokens", tokenizer=str.split)
    pd.testing.assert_frame_equal(by_split, lc_win_rates(df, "base", length="tokens"))


def test_lc_of_a_subset_with_difficulty_from_the_full_frame(ae2: pd.DataFrame, lc2: pd.DataFrame):
    """A small frame reuses the difficulty of a larger one (the offline stand-in for AlpacaEval's file)."""
    models = sorted(set(ae2["model_b"]) - {AE2[1]})[::6]
    subset = ae2[ae2["model_b"].isin(models)]
    out = lc_win_rates(subset, AE2[1], difficulty=instruction_difficulty(ae2, AE2[1]))
    assert sorted(out.index) == models
    assert (out["lc_win_rate"] - lc2.loc[out.index, "lc_win_rate"]).abs().max() < 2.5

"""Win rate vs a baseline and the length-controlled win rate.

Real-data checks reproduce the AlpacaEval leaderboards from the judge annotations in
../shared/data/alpaca_eval (read-only, never copied into the repo); unit tests use tiny
synthetic frames.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import spearmanr

from referee.errors import InputError
from referee.ranking.lc import instruction_difficulty, lc_win_rates, text_lengths
from referee.ranking.winrate import lc_win_rates as lc_reexport
from referee.ranking.winrate import win_rates

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
    tokens = lc_win_rates(ae2, AE2[1], length="tokens", rounds=0)
    assert spearmanr(tokens["lc_win_rate"], lc2.loc[tokens.index, "lc_win_rate"]).statistic > 0.97
    diff = instruction_difficulty(ae2, AE2[1])
    assert len(diff) == 805 and abs(diff.mean()) < 1e-9
    given = lc_win_rates(ae2, AE2[1], difficulty=diff, rounds=0)
    # the default differs only by leaving each model's own verdicts out of its difficulty
    assert (given["lc_win_rate"] - lc2.loc[given.index, "lc_win_rate"]).abs().max() < 1.0
    with pytest.raises(InputError, match="difficulty has no value"):
        lc_win_rates(ae2, AE2[1], difficulty=diff.iloc[:-1], rounds=0)


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
    out = lc_win_rates(subset, AE2[1], difficulty=instruction_difficulty(ae2, AE2[1]), rounds=0)
    assert sorted(out.index) == models
    assert (out["lc_win_rate"] - lc2.loc[out.index, "lc_win_rate"]).abs().max() < 2.5


# ---------------------------------------------------------------- LC standard error


def test_lc_bootstrap_standard_error_on_alpaca_eval_2(ae2: pd.DataFrame, lc2: pd.DataFrame):
    """The instruction bootstrap SE: positive, finite, close to the delta method, and of a sensible size.

    The LC win rate extrapolates to equal lengths, so its SE exceeds the raw win rate's;
    by the most for length-gamed entries whose lengths are far from the baseline's.
    """
    assert lc2.attrs["se_method"] == "bootstrap" and lc2.attrs["rounds"] == 200
    assert lc2.attrs["failed_rounds"] == 0
    se = lc2["lc_win_rate_se"]
    assert np.isfinite(se).all() and (se > 0).all()
    ratio_delta = se / lc2["lc_win_rate_se_delta"]
    assert ratio_delta.between(0.8, 1.25).all(), ratio_delta.describe()
    ratio_raw = se / win_rates(ae2, AE2[1]).loc[se.index, "win_rate_se"]
    assert 1.0 <= ratio_raw.median() <= 3.0
    assert ratio_raw.between(0.5, 5.0).all()
    assert set(ratio_raw.index[ratio_raw > 3]) <= {"gpt4_gamed", "gpt4_0613_concise", "claude-2.1_concise"}


def test_lc_bootstrap_standard_error_matches_the_sampling_spread():
    """Simulated benchmarks (new instructions each time): the SE estimates the spread of LC across them."""
    lcs = pd.concat([lc_win_rates(_simulated(seed=s, n_instr=200), "base", rounds=0)["lc_win_rate"]
                     for s in range(100)], axis=1)
    spread = lcs.std(axis=1, ddof=1)
    se = pd.concat([lc_win_rates(_simulated(seed=1000 + s, n_instr=200), "base", rounds=200, seed=s)["lc_win_rate_se"]
                    for s in range(10)], axis=1).mean(axis=1)
    ratio = se / spread.loc[se.index]
    assert ratio.between(0.75, 1.33).all(), ratio


def test_lc_bootstrap_is_seeded_and_thread_independent():
    df = _simulated(n_instr=80)
    one = lc_win_rates(df, "base", rounds=60, seed=3, workers=1)
    pd.testing.assert_frame_equal(one, lc_win_rates(df, "base", rounds=60, seed=3, workers=2))
    other = lc_win_rates(df, "base", rounds=60, seed=4)
    assert not np.allclose(one["lc_win_rate_se"], other["lc_win_rate_se"])
    pd.testing.assert_series_equal(one["lc_win_rate"], other["lc_win_rate"])
    delta = lc_win_rates(df, "base", rounds=0)
    assert delta.attrs["se_method"] == "delta"
    pd.testing.assert_series_equal(delta["lc_win_rate_se"], delta["lc_win_rate_se_delta"], check_names=False)
    for bad in (-1, 2.5, True):
        with pytest.raises(InputError, match="rounds"):
            lc_win_rates(df, "base", rounds=bad)


# ---------------------------------------------------------------- a given difficulty (file)


def _alpaca_eval_difficulty(path: Path) -> Path:
    """AlpacaEval's instruction difficulty, rebuilt from shared data into ``path`` (a CSV).

    ``instruction_difficulty.csv`` itself lives on Hugging Face only.  Arena-Hard's notebook
    kept AlpacaEval's per-instruction LC predictions σ(θ_m + γ_m δ_x) for 20 models, and
    AlpacaEval ships each model's (θ_m, γ_m): δ_x = (logit q_mx − θ_m)/γ_m.  The 19 complete
    models agree on δ_x to < 0.01 (checked below), so this is AlpacaEval's file, keyed by
    instruction text (its ``index`` is the position in the reference outputs).
    """
    notebook = DATA / "arena-hard-auto" / "notebook" / "alpaca_2.0_lc_results.jsonl"
    weights = AE / "src/alpaca_eval/metrics/weights/weighted_alpaca_eval_gpt4_turbo/length_controlled_v1"
    reference = AE / "results" / "gpt4_1106_preview" / "model_outputs.json.xz"
    for p in (notebook, weights, reference):
        if not p.exists():
            pytest.skip(f"data for AlpacaEval's instruction difficulty not found at {p}")
    w = pd.read_csv(weights / "baseline_gpt4_1106_preview.csv", index_col=0)
    deltas = []
    for line in notebook.read_text().splitlines():
        rec = json.loads(line)
        q = np.asarray(rec["length_controlled_winrate"], dtype=float)
        if len(q) == 805 and rec["model"] in w.index:
            coef = w.loc[rec["model"]]
            deltas.append((logit(q) - coef["not_gamed_baseline.astype(float)"]) / coef["instruction_difficulty"])
    deltas = np.array(deltas)
    assert len(deltas) >= 15 and np.median(deltas.std(axis=0)) < 0.01
    with lzma.open(reference, "rt") as fh:
        instructions = [r["instruction"] for r in json.load(fh)]
    out = path / "instruction_difficulty.csv"
    pd.DataFrame({"instruction": instructions, "instruction_difficulty": np.median(deltas, axis=0)}).to_csv(
        out, index=False)
    return out


def test_lc_with_alpaca_eval_difficulty_file(ae2: pd.DataFrame, lc2: pd.DataFrame, board2: pd.DataFrame,
                                             tmp_path: Path):
    """AlpacaEval's own difficulty, read from a CSV keyed by instruction text.

    It ranks the models like AlpacaEval's LC at least as well as the estimated difficulty
    (Spearman) and removes the worst miss (gpt4_gamed), but it does not bring every LC
    closer: without AlpacaEval's df_gamed regularisation our per-model GLMs put most
    models ~1 point below the published LC (mean |difference| 1.2 vs 0.9 points).
    """
    path = _alpaca_eval_difficulty(tmp_path)
    from referee.ranking.lc import read_difficulty

    difficulty = read_difficulty(path)
    assert len(difficulty) == 805 and difficulty.attrs["path"] == str(path)
    given = lc_win_rates(ae2, AE2[1], difficulty=str(path), rounds=0)
    assert given.attrs["difficulty"] == str(path)
    shared = [m for m in given.index if m in board2.index]
    official = board2.loc[shared, "length_controlled_winrate"]
    rho_file = spearmanr(given.loc[shared, "lc_win_rate"], official).statistic
    rho_est = spearmanr(lc2.loc[shared, "lc_win_rate"], official).statistic
    assert rho_file >= 0.98 and rho_file >= rho_est - 0.002
    dev_file = (given.loc[shared, "lc_win_rate"] - official).abs()
    dev_est = (lc2.loc[shared, "lc_win_rate"] - official).abs()
    assert dev_file["gpt4_gamed"] < dev_est["gpt4_gamed"] and dev_file.max() < dev_est.max()
    # the instruction text and the prompt_id key give the same fit
    pid = ae2.drop_duplicates("prompt_id").set_index("prompt")["prompt_id"]
    by_id = pd.Series(difficulty.to_numpy(), index=pid.reindex(difficulty.index).to_numpy())
    pd.testing.assert_frame_equal(lc_win_rates(ae2, AE2[1], difficulty=by_id, rounds=0)[given.columns], given,
                                  check_exact=False, atol=1e-9)


def _tiny_difficulty_frame() -> pd.DataFrame:
    return _simulated(n_instr=12)


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_difficulty_file_formats(tmp_path: Path):
    from referee.ranking.lc import read_difficulty

    df = _tiny_difficulty_frame()
    ids = [f"q{i}" for i in range(12)]
    values = np.linspace(-1, 1, 12).tolist()
    files = {
        "d.json": json.dumps({k: v for k, v in zip(ids, values, strict=True)}),
        "d.jsonl": "".join(json.dumps({"prompt_id": k, "difficulty": v}) + "\n" for k, v in zip(ids, values, strict=True)),
        "d.csv": "prompt_id,difficulty\n" + "".join(f"{k},{v!r}\n" for k, v in zip(ids, values, strict=True)),
        "d.tsv": "note\tprompt_id\tinstruction_difficulty\n" + "".join(f"x\t{k}\t{v!r}\n" for k, v in zip(ids, values, strict=True)),
        "a.json": json.dumps([{"prompt_id": k, "difficulty": v} for k, v in zip(ids, values, strict=True)]),
    }
    reference = None
    for name, text in files.items():
        got = read_difficulty(_write(tmp_path, name, text))
        np.testing.assert_allclose(got.loc[ids].to_numpy(), values)
        out = lc_win_rates(df, "base", difficulty=got, rounds=0)
        if reference is None:
            reference = out
        pd.testing.assert_frame_equal(out, reference)


@pytest.mark.parametrize(
    ("name", "text", "match", "line", "field"),
    [
        ("bad.json", '{\n  "q0": 1.0,\n  "q1": ,\n}', "malformed JSON", 3, None),
        ("bad.jsonl", '{"prompt_id": "q0", "difficulty": 1}\n{"prompt_id": "q1", "difficulty": 1\n', "malformed JSON",
         2, None),
        ("nan.csv", "prompt_id,difficulty\nq0,0.5\nq1,hard\n", "finite number", 3, "difficulty"),
        ("inf.json", '{"q0": 0.5,\n "q1": "inf"}', "finite number", 2, "q1"),
        ("null.jsonl", '{"prompt_id": "q0", "difficulty": null}\n', "finite number", 1, "difficulty"),
        ("cols.csv", "id,difficulty\nq0,0.5\n", "prompt_id/prompt/instruction column", 1, "prompt_id"),
        ("index.csv", "index,instruction_difficulty\n0,0.5\n", "map it to the instruction text", 1, "prompt_id"),
        ("vals.jsonl", '{"prompt_id": "q0", "score": 0.5}\n', "difficulty/instruction_difficulty", 1, "difficulty"),
        ("dup.csv", "prompt_id,difficulty\nq0,0.5\nq0,0.7\n", "two difficulties", 3, "difficulty"),
        ("short.csv", "prompt_id,difficulty\nq0\n", "expected 2 fields", 2, None),
        ("nokey.csv", "prompt_id,difficulty\n,0.5\n", "missing instruction key", 2, "prompt_id"),
        ("empty.csv", "\n\n", "empty", None, None),
        ("header.csv", "prompt_id,difficulty\n", "lists no instructions", None, None),
    ],
)
def test_difficulty_file_errors(tmp_path: Path, name: str, text: str, match: str, line: int | None, field: str | None):
    from referee.ranking.lc import read_difficulty

    path = _write(tmp_path, name, text)
    with pytest.raises(InputError, match=match) as err:
        read_difficulty(path)
    assert err.value.path == path and err.value.line == line and err.value.field == field


def test_difficulty_missing_instructions_and_missing_file(tmp_path: Path):
    df = _tiny_difficulty_frame()
    path = _write(tmp_path, "part.csv", "prompt_id,difficulty\n" + "".join(f"q{i},0.1\n" for i in range(10)))
    with pytest.raises(InputError, match=r"no value for 2 of 12 instructions.*'q10'") as err:
        lc_win_rates(df, "base", difficulty=path)
    assert err.value.path == path and err.value.field == "prompt_id"
    with pytest.raises(InputError, match="no such file") as err:
        lc_win_rates(df, "base", difficulty=str(tmp_path / "nope.csv"))
    assert err.value.path == str(tmp_path / "nope.csv")
    series = pd.Series({f"q{i}": 0.1 for i in range(11)} | {"q11": "x"})
    with pytest.raises(InputError, match="not a finite number"):
        lc_win_rates(df, "base", difficulty=series)


def test_rank_and_cli_show_the_lc_standard_error(tmp_path: Path):
    from typer.testing import CliRunner

    from referee import rank
    from referee.cli import app

    data = tmp_path / "battles.jsonl"
    _simulated(n_instr=60).to_json(data, orient="records", lines=True)
    diff = _write(tmp_path, "d.json", json.dumps({f"q{i}": 0.01 * i for i in range(60)}))
    board = rank(str(data), baseline="base", lc=True, lc_difficulty=diff, lc_rounds=50, seed=1)
    t = board.table.set_index("model")
    assert (t.drop("base")["lc_win_rate_se"] > 0).all() and np.isnan(t.loc["base", "lc_win_rate_se"])
    assert board.meta["lc_se"] == "bootstrap" and board.meta["lc_difficulty"] == diff
    assert board.meta["lc_rounds"] == 50
    assert "lc_win_rate_se" in board.to_dict()["models"][0]
    assert "LC win rate | ± se" in board.to_markdown() and "lc_win_rate_se" in board.to_csv().splitlines()[0]
    assert board.to_html().count("± se") == 2
    runner = CliRunner()
    out = tmp_path / "b.json"
    res = runner.invoke(app, ["rank", str(data), "--baseline", "base", "--lc", "--lc-difficulty", diff,
                              "--lc-rounds", "50", "--seed", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "LC win rate" in res.output and "bootstrap over instructions (50 rounds" in res.output.replace("\n", " ")
    models = {m["model"]: m for m in json.loads(out.read_text())["models"]}
    assert models["strong"]["lc_win_rate_se"] == pytest.approx(t.loc["strong", "lc_win_rate_se"])
    bad = _write(tmp_path, "bad.csv", "prompt_id,difficulty\nq0,easy\n")
    for args in (["--lc", "--lc-difficulty", bad], ["--lc-difficulty", diff], ["--lc", "--lc-rounds", "-3"]):
        res = runner.invoke(app, ["rank", str(data), "--baseline", "base", *args])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert f"{bad}, line 2, field 'difficulty'" in runner.invoke(
        app, ["rank", str(data), "--baseline", "base", "--lc", "--lc-difficulty", bad]).output

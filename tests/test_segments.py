"""Leaderboards per segment (``referee rank --by``), row filters (``--where``) and the
likelihood-ratio test of whether strengths differ across segments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import referee
from _proc import assert_clear_error
from referee.errors import InputError
from referee.ranking.api import rank
from referee.ranking.leaderboard import Leaderboard
from referee.ranking.segments import SegmentedLeaderboard, free_parameters, rank_segments, select_rows
from referee.sim import simulate_arena
from shared_data import DATA, need

EXE = str(Path(sys.executable).with_name("referee"))
MT_HUMAN = DATA / "mt-bench-human-judgments-partial" / "derived" / "human.jsonl.gz"


def two_arenas(n_models: int = 8, n_battles: int = 4000, tau: float = 0.0) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Two categories whose true strengths differ (independent draws): coding, writing."""
    coding, t_coding = simulate_arena(n_models, n_battles, seed=11, tau=tau, n_prompts=200)
    writing, t_writing = simulate_arena(n_models, n_battles, seed=12, tau=tau, n_prompts=200)
    df = pd.concat([coding.assign(category="coding"), writing.assign(category="writing")], ignore_index=True)
    return df, {"coding": t_coding, "writing": t_writing}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=180)


def test_different_strengths_are_detected_and_each_segment_recovers_its_order():
    df, truth = two_arenas()
    seg = rank_segments(df, "category")
    assert isinstance(seg, SegmentedLeaderboard) and list(seg.segments) == ["coding", "writing"]
    test = seg.test
    assert test["available"] and not test["approximate"]  # hard verdicts, no ties: the exact likelihood
    assert test["df"] == 2 * (8 - 1) - (8 - 1)
    assert test["p_value"] < 0.01
    for label, board in seg.segments.items():
        got = board.table.set_index("model")["rating"]
        own = spearmanr(got, truth[label].reindex(got.index)).statistic
        other = spearmanr(got, truth[{"coding": "writing", "writing": "coding"}[label]].reindex(got.index)).statistic
        assert own > 0.9 and own > other + 0.2, (label, own, other)
        assert got.idxmax() == truth[label].idxmax()
    # the overall board is rank() on all rows; every segment board is rank() on its rows
    direct = rank(df[df.category == "writing"].reset_index(drop=True)).table.set_index("model")
    mine = seg.segments["writing"].table.set_index("model")
    np.testing.assert_allclose(mine.loc[direct.index, "rating"], direct["rating"], atol=1e-9)
    assert seg.overall.meta["n_comparisons"] == len(df)


def test_identical_strengths_reject_at_the_nominal_rate():
    """H0 true (one set of strengths, categories assigned at random): rejection rate at 5% ≤ 0.12."""
    pvals = []
    for seed in range(40):
        df, _ = simulate_arena(6, 1500, seed=seed, tau=0.0)
        df["category"] = np.random.default_rng(1000 + seed).choice(["coding", "writing", "math"], len(df))
        test = rank_segments(df, "category", ci="none").test
        assert test["available"] and test["df"] == 3 * 5 - 5
        pvals.append(test["p_value"])
    pvals = np.array(pvals)
    assert (pvals < 0.05).mean() <= 0.12
    assert 0.3 < np.median(pvals) < 0.7  # roughly uniform, not piled up at 1 (an over-counted df would do that)


def test_quasi_likelihood_cases_are_reported_as_approximate():
    df, _ = two_arenas(6, 1500, tau=0.3)  # ties, counted as half a win
    seg = rank_segments(df, "category")
    assert seg.test["approximate"] and any("half a win" in r for r in seg.test["approximations"])
    assert "approximate" in seg.to_markdown()
    # ties dropped: the likelihood is exact again
    assert not rank_segments(df, "category", ties="drop").test["approximate"]
    weighted = df.assign(weight=np.random.default_rng(0).lognormal(0, 0.5, len(df)))
    assert "rows are weighted" in rank_segments(weighted, "category", ci="none").test["approximations"]


def test_tie_model_counts_its_extra_parameter():
    df, _ = two_arenas(6, 1500, tau=0.3)
    seg = rank_segments(df, "category", model="davidson", ci="none")
    assert free_parameters(seg.overall) == 6 - 1 + 1
    assert seg.test["df"] == 2 * 6 - 6 and not seg.test["approximate"]
    assert rank_segments(df, "category", model="elo", ci="none").test["available"] is False


def test_disconnected_and_tiny_segments_are_reported_not_fatal():
    df, _ = two_arenas(6, 1500)
    broken = pd.DataFrame(
        {"model_a": ["model-000", "model-002"] * 5, "model_b": ["model-001", "model-003"] * 5,
         "winner": ["model_a", "model_b"] * 5, "category": "broken"}
    )
    solo = pd.DataFrame({"model_a": ["model-004"], "model_b": ["model-004"], "winner": ["tie"], "category": ["solo"]})
    unlabelled = df.head(30).assign(category=None)
    seg = rank_segments(pd.concat([df, broken, solo, unlabelled], ignore_index=True), "category", ci="none")
    assert list(seg.segments) == ["coding", "writing"]
    assert set(seg.skipped) == {"broken", "solo"}
    assert "disconnected" in seg.skipped["broken"]["reason"] and seg.skipped["broken"]["n_comparisons"] == 10
    assert "themselves" in seg.skipped["solo"]["reason"]
    assert any("no category" in n for n in seg.notes) and any("broken" in n for n in seg.notes)
    # H0 is refitted on the ranked segments' rows, so the test still compares like with like
    assert seg.test["available"] and seg.test["n_comparisons"] == len(df)
    assert "ranked segments only" in seg.test["note"]
    md = seg.to_markdown()
    assert "broken" in md and "not ranked" in md


def test_json_contract_segments_are_ordinary_boards(tmp_path):
    df, _ = two_arenas(6, 1500)
    seg = rank_segments(df, "category", ci="none")
    out = seg.save(tmp_path / "seg.json")
    doc = json.loads(out.read_text())
    plain = json.loads(rank(df, ci="none").to_json())
    assert set(doc) >= {"models", "meta", "by", "segments", "table", "segment_test"}
    assert doc["models"] == plain["models"]  # the overall board, as `referee rank -o board.json` writes it
    assert doc["by"] == "category" and set(doc["segments"]) == {"coding", "writing"}
    for label, board in doc["segments"].items():
        assert set(board) == set(plain)  # {"models", "meta"}
        assert set(board["models"][0]) == set(plain["models"][0])
        assert set(plain["meta"]) <= set(board["meta"])
        assert board["meta"]["segment"] == {"by": "category", "value": label}
        direct = json.loads(rank(df[df.category == label].reset_index(drop=True), ci="none").to_json())
        assert [m["model"] for m in board["models"]] == [m["model"] for m in direct["models"]]
    assert doc["table"][0]["model"] == doc["models"][0]["model"]
    assert set(doc["table"][0]["segments"]) == {"coding", "writing"}
    assert isinstance(doc["table"][0]["overall"]["rank"], int)
    assert doc["segment_test"]["df"] == 5 and 0 <= doc["segment_test"]["p_value"] <= 1
    # every format Leaderboard.save supports
    for ext in ("csv", "md", "html"):
        text = seg.save(tmp_path / f"seg.{ext}").read_text()
        assert "coding" in text and "writing" in text and "model-000" in text
    long = pd.read_csv(tmp_path / "seg.csv")
    assert list(long["segment"].unique()) == ["(overall)", "coding", "writing"]


def test_where_filters_rows_and_names_the_column_on_error():
    df, _ = two_arenas(6, 1500)
    df["turn"] = np.where(np.arange(len(df)) % 2 == 0, 1, 2)
    coding = select_rows(df, "category=coding")
    assert len(coding) == 1500 and set(coding.category) == {"coding"}
    both = select_rows(df, ["category=coding", "turn=2"])
    assert len(both) == int(((df.category == "coding") & (df.turn == 2)).sum())
    seg = rank_segments(df, "turn", where={"category": "writing"}, ci="none")
    assert seg.overall.meta["n_comparisons"] == 1500 and list(seg.segments) == ["1", "2"]
    assert seg.overall.meta["where"] == ["category=writing"]
    with pytest.raises(InputError, match="no column 'language'") as err:
        select_rows(df, "language=en")
    assert err.value.field == "language"
    with pytest.raises(InputError, match="no row has category = 'poetry'") as err:
        select_rows(df, "category=poetry")
    assert err.value.field == "category" and "'coding'" in str(err.value)
    with pytest.raises(InputError, match="COLUMN=VALUE"):
        select_rows(df, "category")
    with pytest.raises(InputError, match="no column 'lang'") as err:
        rank_segments(df, "lang")
    assert err.value.field == "lang"
    df2 = df.assign(language=np.where(df.category == "coding", "en", "de"))
    with pytest.raises(InputError, match="together"):
        select_rows(df2, ["category=coding", "language=de"])


def test_python_entry_point():
    df, _ = two_arenas(6, 1500)
    seg = referee.rank_segments(df, "category", ci="none")
    assert isinstance(seg.overall, Leaderboard) and len(seg.wide()) == 6


@pytest.fixture(scope="module")
def battles(tmp_path_factory) -> Path:
    df, _ = two_arenas(6, 2000)
    path = tmp_path_factory.mktemp("segments") / "battles.jsonl"
    df.to_json(path, orient="records", lines=True)
    return path


def test_cli_by_category_writes_every_format(battles, tmp_path):
    outs = [tmp_path / f"out.{ext}" for ext in ("json", "md", "html", "csv")]
    args = ["rank", str(battles), "--by", "category"]
    for o in outs:
        args += ["-o", str(o)]
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert "coding" in proc.stdout and "writing" in proc.stdout and "model-000" in proc.stdout
    assert "Likelihood-ratio test" in proc.stdout
    doc = json.loads(outs[0].read_text())
    assert set(doc["segments"]) == {"coding", "writing"}
    assert doc["segments"]["coding"]["meta"]["n_comparisons"] == 2000
    html = outs[2].read_text()
    assert "category = coding" in html and "Ratings by category" in html and "<svg" in html


def test_cli_where_and_errors(battles, tmp_path):
    out = tmp_path / "coding.json"
    proc = run("rank", str(battles), "--where", "category=coding", "-q", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["meta"]["n_comparisons"] == 2000
    assert_clear_error(run("rank", str(battles), "--where", "language=en", "-q"), "language")
    assert_clear_error(run("rank", str(battles), "--where", "category=poetry", "-q"), "category", "poetry")
    assert_clear_error(run("rank", str(battles), "--by", "lang", "-q"), "lang")


def test_real_mt_bench_by_turn_and_category_match_direct_fits():
    path = need(MT_HUMAN)
    df = referee.read([path])
    seg = rank_segments(path, "turn", ci="none")
    assert list(seg.segments) == ["1", "2"] and not seg.skipped
    for label, board in seg.segments.items():
        direct = rank(df[df["turn"] == int(label)].reset_index(drop=True), ci="none").table.set_index("model")
        got = board.table.set_index("model")
        np.testing.assert_allclose(got.loc[direct.index, "rating"], direct["rating"], atol=1e-9)
        assert board.meta["n_comparisons"] == int((df["turn"] == int(label)).sum())
    assert seg.test["available"] and 0 <= seg.test["p_value"] <= 1 and seg.test["approximate"]  # human ties
    by_cat = rank_segments(path, "category", where="turn=1", ci="none")
    assert by_cat.overall.meta["n_comparisons"] == int((df["turn"] == 1).sum())
    assert len(by_cat.segments) + len(by_cat.skipped) == df.loc[df["turn"] == 1, "category"].nunique()
    writing = by_cat.segments["writing"].table.set_index("model")
    direct = rank(df[(df["turn"] == 1) & (df["category"] == "writing")].reset_index(drop=True), ci="none")
    np.testing.assert_allclose(writing.loc[direct.table.model, "rating"], direct.table["rating"], atol=1e-9)

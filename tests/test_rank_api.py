"""referee.rank(): the leaderboard object, its outputs and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import referee
from referee.errors import InputError
from referee.ranking.leaderboard import JSON_FIELDS, META_FIELDS
from referee.sim import simulate_arena


@pytest.fixture(scope="module")
def arena() -> tuple[pd.DataFrame, pd.Series]:
    return simulate_arena(8, 6000, seed=21, n_prompts=200)


def test_leaderboard_sorted_with_intervals(arena):
    df, truth = arena
    board = referee.rank(df)
    t = board.to_pandas()
    assert list(t.rating) == sorted(t.rating, reverse=True)
    assert (t.ci_low < t.rating).all() and (t.rating < t.ci_high).all()
    assert (t.rank_low <= t["rank"]).all() and (t["rank"] <= t.rank_high).all()
    assert t.rating.mean() == pytest.approx(1000.0)
    assert int(t.battles.sum()) == 2 * len(df)
    # the estimate recovers the truth's order closely
    est = t.set_index("model").rating.reindex(truth.index)
    assert np.corrcoef(est, truth)[0, 1] > 0.99


def test_json_contract(arena, tmp_path):
    df, _ = arena
    board = referee.rank(df, ci="bootstrap", rounds=100, seed=4)
    path = tmp_path / "board.json"
    board.save(path)
    data = json.loads(path.read_text())
    assert set(data) == {"models", "meta"}
    for row in data["models"]:
        assert list(row) == list(JSON_FIELDS)
        assert row["win_rate_vs_baseline"] is None and row["lc_win_rate"] is None
        assert isinstance(row["wins"], int)
    for key in META_FIELDS:
        assert key in data["meta"]
    assert data["meta"]["ci"] == "bootstrap" and data["meta"]["rounds"] == 100 and data["meta"]["seed"] == 4
    assert data["meta"]["referee_version"] == referee.__version__


def test_outputs_by_extension(arena, tmp_path):
    df, _ = arena
    board = referee.rank(df)
    for ext in ("json", "csv", "md", "html"):
        path = board.save(tmp_path / f"board.{ext}")
        assert path.stat().st_size > 200
    html = (tmp_path / "board.html").read_text()
    assert "<svg" in html and "model-000" in html
    # self-contained: no external scripts, stylesheets or images
    assert "<script src" not in html and "<link" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "| rank |" in (tmp_path / "board.md").read_text()
    assert pd.read_csv(tmp_path / "board.csv").shape[0] == 8
    with pytest.raises(InputError, match="unknown output extension"):
        board.save(tmp_path / "board.xlsx")


def test_anchor_pins_a_rating(arena):
    df, _ = arena
    plain = referee.rank(df).to_pandas().set_index("model")
    anchored = referee.rank(df, anchor="model-003=1200").to_pandas().set_index("model")
    assert anchored.loc["model-003", "rating"] == pytest.approx(1200.0)
    diff = anchored.rating - plain.rating
    assert np.allclose(diff, diff.iloc[0])
    with pytest.raises(InputError, match="MODEL=RATING"):
        referee.rank(df, anchor="model-003")
    with pytest.raises(InputError, match="not in the data"):
        referee.rank(df, anchor="nobody=1000")


def test_self_battles_dropped_and_counted(arena):
    df, _ = arena
    extra = pd.DataFrame({"model_a": ["model-001"] * 3, "model_b": ["model-001"] * 3, "winner": ["tie"] * 3})
    board = referee.rank(pd.concat([df, extra], ignore_index=True))
    assert board.meta["dropped"]["self_battles"] == 3
    assert board.meta["n_comparisons"] == len(df)


def test_model_only_compared_with_itself_is_refused(arena):
    df, _ = arena
    lonely = pd.DataFrame({"model_a": ["hermit"], "model_b": ["hermit"], "winner": ["model_a"]})
    with pytest.raises(InputError, match="hermit"):
        referee.rank(pd.concat([df, lonely], ignore_index=True))


def test_disconnected_graph_is_refused_naming_groups():
    df = pd.DataFrame(
        {
            "model_a": ["a", "b", "x", "y"],
            "model_b": ["b", "a", "y", "x"],
            "winner": ["model_a", "model_a", "model_b", "tie"],
        }
    )
    with pytest.raises(InputError, match=r"2 disconnected groups.*\{a, b\}.*\{x, y\}"):
        referee.rank(df)


def test_unknown_winner_is_an_error_not_a_tie():
    df = pd.DataFrame({"model_a": ["a", "a"], "model_b": ["b", "b"], "winner": ["model_a", "draw"]})
    with pytest.raises(InputError, match=r"line 2, field 'winner'.*'draw'"):
        referee.rank(df)


def test_never_losing_model_is_finite_and_noted():
    df = pd.DataFrame(
        {
            "model_a": ["a", "a", "b", "c", "b"],
            "model_b": ["b", "c", "c", "b", "c"],
            "winner": ["model_a", "model_a", "model_a", "model_a", "model_b"],
        }
    )
    board = referee.rank(df, ci="bootstrap", rounds=50)
    t = board.to_pandas()
    assert np.isfinite(t[["rating", "ci_low", "ci_high"]].to_numpy()).all()
    assert t.model.iloc[0] == "a"
    assert board.meta["prior_precision"] > 0 and board.meta["notes"]


def test_first_position_advantage_reported():
    df, _ = simulate_arena(6, 30_000, seed=8, first_position=0.3)
    board = referee.rank(df, first_position=True)
    assert board.meta["first_position"] == pytest.approx(0.3, abs=4 * board.meta["first_position_se"])


def test_win_probability_matrix(arena):
    df, _ = arena
    board = referee.rank(df)
    p, lo, hi = (board.win_prob[k] for k in ("p", "low", "high"))
    np.testing.assert_allclose(p.to_numpy() + p.to_numpy().T, 1.0)
    off = ~np.eye(len(p), dtype=bool)
    assert (lo.to_numpy()[off] < p.to_numpy()[off]).all() and (p.to_numpy()[off] < hi.to_numpy()[off]).all()


def test_clustered_bootstrap_needs_the_column(arena):
    df, _ = arena
    with pytest.raises(InputError, match="voter"):
        referee.rank(df, ci="bootstrap", cluster="voter")
    board = referee.rank(df, ci="bootstrap", rounds=100, cluster="prompt_id")
    assert board.meta["cluster"] == "prompt_id"

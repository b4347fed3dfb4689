"""The streaming judge pipeline against a real HTTP judge (tests/fault_server.py).

* a planner as the source of games: batches proposed, outcomes fed back, calls counted at the server;
* the verdict table in game order whatever order the answers come back in (same arguments, same file);
* prompts rendered only just before they are sent (a budget-stopped run of 8,000 games renders a few
  hundred);
* a streaming run killed mid-way leaves a prefix of the table in game order and resumes from the cache.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fault_server import FaultServer
from referee.judging.cache import Cache
from referee.judging.pipeline import BATCH
from referee.judging.run import JudgeSpec, judge
from referee.judging.templates import Template, load
from referee.planning import pairs_round_robin, pairs_vs_baseline
from referee.planning.base import Candidate, Outcome
from test_judge_run import fair_judge, write_outputs

EXE = str(Path(sys.executable).with_name("referee"))


def spec_for(srv: FaultServer) -> JudgeSpec:
    return JudgeSpec(url=srv.url, model="judge-1")


def planned_games(outputs: Any, **kw: Any) -> list[tuple[str, int]]:
    """(pair_id, order) of every game in plan order: each planned pair's order 1, then its order 2."""
    pairs = pairs_vs_baseline(outputs, kw["baseline"]) if "baseline" in kw else pairs_round_robin(outputs)
    return [(pid, o) for pid in pairs["pair_id"] for o in (1, 2)]


# -- a planner as the source of games -----------------------------------------------------------------
class TwoBatches:
    """Proposes ``first``, waits for all of its outcomes, then (unless ``stop_early``) proposes ``second``."""

    name = "two-batches"

    def __init__(self, first: list[Candidate], second: list[Candidate], *, stop_early: bool) -> None:
        self.batches = [first, second]
        self.stop_early = stop_early
        self.outcomes: list[Outcome] = []
        self.log: list[str] = []  # what happened, in order
        self.sent = 0

    def propose(self, n: int) -> list[Candidate]:
        if self.sent == 0 or (self.sent == 1 and len(self.outcomes) >= self._n_first):
            out = self.batches[self.sent][:n]
            self.batches[self.sent] = self.batches[self.sent][n:]
            if not self.batches[self.sent]:
                self.sent += 1
            self.log.append(f"propose {len(out)}")
            return out
        return []  # the rest of the first batch's outcomes first

    def observe(self, outcomes: Sequence[Outcome]) -> None:
        self.outcomes.extend(outcomes)
        self.log.append(f"observe {len(outcomes)}")

    @property
    def finished(self) -> bool:
        first_done = self.sent >= 1 and len(self.outcomes) >= self._n_first
        return (self.stop_early and first_done) or (self.sent == 2 and not self.batches[1])

    _n_first = 3


FIRST = [("p0", "strong", "weak"), ("p1", "weak", "medium"), ("p2", "medium", "strong")]
SECOND = [("p3", "strong", "medium"), ("p4", "weak", "strong")]


@pytest.fixture
def server():
    with FaultServer(answer=fair_judge) as srv:
        yield srv


@pytest.mark.parametrize("stop_early", [True, False])
def test_a_planner_proposes_batches_and_learns_each_outcome(server, tmp_path, stop_early):
    outputs = write_outputs(tmp_path / "o.jsonl", n_prompts=6)
    planner = TwoBatches(list(FIRST), list(SECOND), stop_early=stop_early)
    res = judge(outputs, judge_spec=spec_for(server), plan=planner, cache=False, concurrency=4)
    n = len(FIRST) + (0 if stop_early else len(SECOND))
    assert len(server.calls()) == 2 * n == len(res.table)  # both orders of each candidate, nothing more
    # outcomes: model_a's reconciled score, in the candidate's own frame (the fair judge prefers quality)
    quality = {"strong": 3, "medium": 2, "weak": 1}
    expect = {c: 1.0 if quality[c[1]] > quality[c[2]] else 0.0 for c in FIRST + SECOND}
    assert {o[:3]: o[3] for o in planner.outcomes} == {c: expect[c] for c in (FIRST + SECOND)[:n]}
    # the second batch was proposed only after the first batch's three outcomes came back
    if not stop_early:
        at = planner.log.index("propose 2")
        assert sum(int(x.split()[1]) for x in planner.log[:at] if x.startswith("observe")) == 3
    # the table is in proposal order, both orders of each candidate together
    assert [pid.split("|")[0] for pid in res.table["pair_id"]] == [c[0] for c in (FIRST + SECOND)[:n] for _ in (1, 2)]
    assert res.meta["plan"] == "two-batches" and res.meta["n_requests"] == 2 * n


def test_a_planners_candidate_without_outputs_is_an_error_or_a_nan_outcome(server, tmp_path):
    outputs = write_outputs(tmp_path / "o.jsonl", n_prompts=6, skip={("p1", "weak")})
    planner = TwoBatches(list(FIRST), [], stop_early=True)
    with pytest.raises(Exception, match="prompt p1 / model weak"):
        judge(outputs, judge_spec=spec_for(server), plan=planner, cache=False)
    assert server.calls() == []  # refused before any game of the first batch was sent
    planner = TwoBatches(list(FIRST), [], stop_early=True)
    res = judge(outputs, judge_spec=spec_for(server), plan=planner, cache=False, allow_missing=True)
    got = {o[:3]: o[3] for o in planner.outcomes}
    assert math.isnan(got[("p1", "weak", "medium")]) and got[("p0", "strong", "weak")] == 1.0
    assert len(server.calls()) == 4 and res.meta["missing_outputs"] == 1


# -- game order ---------------------------------------------------------------------------------------------
def test_the_verdict_file_is_in_game_order_whatever_order_the_answers_come_back(tmp_path):
    rng = random.Random(7)

    def jittery(body: dict) -> str:
        time.sleep(rng.random() * 0.02)  # answers come back out of order at concurrency 8
        return fair_judge(body)

    outputs = write_outputs(tmp_path / "o.jsonl", n_prompts=12)
    files = []
    with FaultServer(answer=jittery) as srv:
        for k in range(2):
            out = tmp_path / f"v{k}.jsonl"
            res = judge(outputs, baseline="weak", judge_spec=spec_for(srv), cache=False, concurrency=8, output=out)
            files.append(out.read_bytes())
        finishes = [c.end for c in srv.calls()]
    assert finishes != sorted(finishes)  # the server did answer out of order
    assert files[0] == files[1]  # same arguments, same file
    rows = [json.loads(x) for x in files[0].decode().splitlines()]
    import pandas as pd

    expected = planned_games(pd.DataFrame([json.loads(x) for x in outputs.read_text().splitlines()]), baseline="weak")
    assert [(r["pair_id"], r["order"]) for r in rows] == expected
    assert list(zip(res.table["pair_id"], res.table["order"], strict=True)) == expected


# -- lazy rendering -------------------------------------------------------------------------------------------
class CountingTemplate(Template):
    """The shipped pairwise template, counting its renders."""

    renders = 0

    def render(self, **variables: Any) -> tuple[tuple[str, str], ...]:
        CountingTemplate.renders += 1
        return super().render(**variables)


def test_prompts_are_rendered_just_before_they_are_sent(server, tmp_path):
    base = load("pairwise")
    tpl = CountingTemplate(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    outputs = write_outputs(tmp_path / "o.jsonl", n_prompts=2000)  # 3 models vs a baseline: 8,000 games
    CountingTemplate.renders = 0
    res = judge(outputs, baseline="weak", judge_spec=spec_for(server), template=tpl, cache=False, concurrency=2, max_calls=6)
    assert res.usage.stopped_by == "max_calls" and len(res.table) == 6 and res.meta["not_run"] == 8000 - 6
    assert CountingTemplate.renders <= 2 * BATCH  # not 8,000: games are rendered as the engine asks for them


# -- kill -9 and resume ---------------------------------------------------------------------------------------
def test_a_killed_streaming_run_leaves_a_prefix_in_game_order_and_resumes(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", n_prompts=150)  # round robin: 900 games
    out, cache = tmp_path / "v.jsonl", tmp_path / "c.sqlite"
    import pandas as pd

    expected = planned_games(pd.DataFrame([json.loads(x) for x in path.read_text().splitlines()]))
    with FaultServer(answer=fair_judge, delay_s=0.01) as srv:
        args = [EXE, "judge", "--outputs", str(path), "--pairs", "round-robin", "--judge-url", srv.url, "--judge-model",
                "judge-1", "--cache", str(cache), "-o", str(out), "--concurrency", "4", "-q"]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 100):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lines = out.read_text().splitlines()
        rows = [json.loads(x) for x in lines[:-1]]  # the last line may have been cut by the kill
        assert 100 <= len(lines) < len(expected)
        assert [(r["pair_id"], r["order"]) for r in rows] == expected[: len(rows)]  # a prefix, in game order
        with Cache(cache) as c:
            cached = len(c)
        assert cached >= len(rows)  # every row written was committed to the cache first
        n_before = len(srv.calls())
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert len(srv.calls()) - n_before == len(expected) - cached  # paid only for what was never answered
    final = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["pair_id"], r["order"]) for r in final] == expected
    assert all(r["parse_status"] == "ok" for r in final)


# -- what the command prints, as library functions ------------------------------------------------------------
def test_pointwise_scores_table_and_spec_from_options(server, tmp_path):
    from referee.judging.spec import from_options

    def rating(body: dict) -> str:
        user = body["messages"][-1]["content"]
        return "Rating: [[9]]" if "<strong>" in user else "Rating: [[3]]" if "<weak>" in user else "oops"

    server.answer = rating
    cfg = tmp_path / "j.yaml"
    cfg.write_text(f"judge:\n  url: {server.url}\n  model: judge-1\n  temperature: 0.5\n")
    spec = from_options(cfg, temperature=None, name="mine")  # None: the flag was not given
    assert (spec.url, spec.temperature, spec.name) == (server.url, 0.5, "mine")
    res = judge(write_outputs(tmp_path / "o.jsonl", n_prompts=4), mode="pointwise", judge_spec=spec, cache=False)
    scores = res.scores().set_index("model")
    assert scores.loc["strong", "mean_score"] == 9.0 and scores.loc["weak", "mean_score"] == 3.0
    assert scores.loc["medium", "n"] == 0 and scores.loc["medium", "unparsed"] == 4
    assert math.isnan(scores.loc["medium", "mean_score"])
    with pytest.raises(Exception, match="pairwise"):
        res.rank()

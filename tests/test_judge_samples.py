"""Self-consistency (issue 12, part 3): ``judge(..., samples=k)`` against real HTTP judge servers.

The scripted judge answers A with probability ``P_A`` (else B, and now and then text without a
verdict), drawn from a generator seeded by the request's text and its ``seed`` (the sample
index), so the test can recompute every answer; the logprob server gives each answer its own
P(A) in the token logprobs.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.judging.run import JudgeSpec, judge

P_A = 0.7
K = 5


def write_outputs(path: Path, models=("strong", "medium", "weak"), n_prompts=4) -> Path:
    rows = [{"prompt_id": f"p{i}", "prompt": f"Question number {i}?", "model": m, "response": f"<{m}> answer {i}"}
            for m in models for i in range(n_prompts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def content(body: dict[str, Any]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in body["messages"])


def rng_of(body: dict[str, Any]) -> random.Random:
    digest = hashlib.sha256(f"{content(body)}\x1f{body.get('seed')}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def coin(body: dict[str, Any]) -> str:
    """A with probability P_A, B otherwise; one answer in ten has no verdict."""
    r = rng_of(body)
    if r.random() < 0.1:
        return "I cannot decide between these two."
    return "[[A]]" if r.random() < P_A else "[[B]]"


class LogprobServer(FaultServer):
    """Answers the single verdict token with a per-request P(A) in its logprobs (seeded like ``coin``)."""

    @staticmethod
    def p_of(body: dict[str, Any]) -> float:
        return round(0.2 + 0.7 * rng_of(body).random(), 6)

    def _completion(self, body: dict[str, Any], mode: str) -> dict[str, Any]:
        out = super()._completion(body, mode)
        p = self.p_of(body)
        tok = "A" if p >= 0.5 else "B"
        out["choices"][0]["message"]["content"] = tok
        alts = [{"token": "A", "logprob": math.log(p), "bytes": [65]}, {"token": "B", "logprob": math.log(1 - p), "bytes": [66]}]
        out["choices"][0]["logprobs"] = {"content": [{"token": tok, "logprob": math.log(max(p, 1 - p)), "bytes": [ord(tok)],
                                                      "top_logprobs": alts}]}
        return out


@pytest.fixture
def server():
    with FaultServer(answer=coin) as srv:
        yield srv


@pytest.fixture
def outputs(tmp_path) -> Path:
    return write_outputs(tmp_path / "outputs.jsonl")


def spec(srv: FaultServer, **kw: Any) -> JudgeSpec:
    return JudgeSpec(url=srv.url, model="judge-1", **kw)


def test_k_calls_per_game_vote_share_as_prob_a_and_a_rerun_makes_no_call(server, outputs, tmp_path):
    cache = tmp_path / "cache.sqlite"
    out = tmp_path / "verdicts.jsonl"
    res = judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), samples=K, cache=cache, output=out)
    calls = server.calls()
    games = 2 * 4 * 2  # two models against the baseline, four prompts, both orders
    assert len(res.table) == games and len(calls) == K * games
    assert sorted(c.body["seed"] for c in calls) == sorted(list(range(K)) * games)  # the sample index, sent
    answers: dict[str, list[str]] = {}
    for c in calls:
        answers.setdefault(content(c.body), []).append(coin(c.body))
    assert all(len(a) == K for a in answers.values())
    # every row: the vote share of the parsed answers; the unparsed ones counted, not guessed
    expected = sorted(((a.count("[[A]]") / (K - a.count("I cannot decide between these two."))
                        if len(a) > a.count("I cannot decide between these two.") else None),
                       a.count("I cannot decide between these two.")) for a in answers.values())
    got = sorted((None if math.isnan(p) else p, int(u)) for p, u in zip(res.table["prob_a"], res.table["samples_unparsed"],
                                                                        strict=True))
    assert [u for _, u in got] == [u for _, u in expected]
    assert [p for p, _ in got] == pytest.approx([p for p, _ in expected])
    assert (res.table["samples"] == K).all() and res.meta["samples"]["k"] == K
    assert res.meta["samples"]["unparsed_answers"] == sum(u for _, u in expected) > 0  # the data has some
    assert {w for w in res.table["winner"].dropna()} <= {"model_a", "model_b", "tie"}
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == games and "samples_unparsed" in written[0]
    assert Path(res.meta["outputs"]["reconciled"]).exists()
    server.reset()
    again = judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), samples=K, cache=cache)
    assert server.calls() == [] and again.usage.calls == 0 and again.usage.cache_hits == K * games
    assert again.table["prob_a"].equals(res.table["prob_a"])


def test_samples_are_new_cache_entries_and_k1_keys_stay_as_before(server, outputs, tmp_path):
    cache = tmp_path / "cache.sqlite"
    judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), cache=cache)
    assert len(server.calls()) == 16
    server.reset()
    judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), samples=1, cache=cache)
    assert server.calls() == []  # samples=1 is the ordinary run: same keys
    judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), samples=3, cache=cache)
    assert len(server.calls()) == 3 * 16  # each sample its own entry, none taken for the k=1 answer


def test_temperature_zero_is_refused(server, outputs, tmp_path):
    with pytest.raises(InputError, match="temperature") as err:
        judge(outputs, baseline="weak", judge_spec=spec(server), samples=3, cache=False)
    assert "every answer is the same" in str(err.value)
    assert server.calls() == []
    with pytest.raises(InputError, match="reward model"):
        judge(outputs, baseline="weak", judge_spec="length", samples=3, cache=False)
    with pytest.raises(InputError, match="samples"):
        judge(outputs, baseline="weak", judge_spec=spec(server, temperature=0.7), samples=0, cache=False)


def test_logprobs_average_the_per_sample_probabilities(outputs, tmp_path):
    with LogprobServer() as srv:
        res = judge(outputs, baseline="weak", judge_spec=spec(srv, temperature=0.7), template="pairwise-logprob",
                    samples=4, cache=False)
        calls = srv.calls()
    assert len(calls) == 4 * 16 and all(c.body["logprobs"] for c in calls)
    ps: dict[str, list[float]] = {}
    for c in calls:
        ps.setdefault(content(c.body), []).append(LogprobServer.p_of(c.body))
    means = sorted(sum(p) / len(p) for p in ps.values())
    votes = sorted(sum(x >= 0.5 for x in p) / len(p) for p in ps.values())
    assert sorted(res.table["prob_a"]) == pytest.approx(means, abs=1e-6)  # TrustJudge: mean P(A)
    assert sorted(res.table["prob_a"]) != pytest.approx(votes, abs=1e-6)  # not the argmax vote share
    assert res.meta["samples"]["aggregation"] == "logprob mean"


def test_cli_samples(server, outputs, tmp_path):
    from typer.testing import CliRunner

    from referee.cli import app

    out = tmp_path / "v.jsonl"
    args = ["judge", "--outputs", str(outputs), "--baseline", "weak", "--judge-url", server.url, "--judge-model",
            "judge-1", "--cache", str(tmp_path / "c.sqlite"), "--samples", "3", "-o", str(out)]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "--temperature" in bad.output and not out.exists()
    ok = CliRunner().invoke(app, [*args, "--temperature", "0.7"])
    assert ok.exit_code == 0, ok.output
    assert len(server.calls()) == 3 * 16 and len(out.read_text().splitlines()) == 16

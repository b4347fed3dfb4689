"""Juries (issue 12, part 2): ``referee.jury`` on small tables, bad inputs, and panels of real HTTP judges."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import referee
from fault_server import FaultServer
from referee.errors import InputError
from referee.io import write
from referee.judging.jury import jury

QUALITY = {"strong": 3, "medium": 2, "weak": 1}


def rows(judge: str, verdicts: dict[tuple[str, str, str], str]) -> list[dict[str, Any]]:
    return [{"prompt_id": p, "model_a": a, "model_b": b, "winner": w, "judge": judge} for (p, a, b), w in verdicts.items()]


def test_majority_mean_and_orientation() -> None:
    t = pd.DataFrame(
        rows("j1", {("p1", "x", "y"): "model_a", ("p2", "x", "y"): "model_b"})
        + rows("j2", {("p1", "y", "x"): "model_b", ("p2", "x", "y"): "model_a"})  # p1 shown the other way
        + rows("j3", {("p1", "x", "y"): "model_b", ("p2", "x", "y"): "tie"})
    )
    maj = jury(t).set_index("prompt_id")
    assert maj.loc["p1", "winner"] == "model_a" and maj.loc["p1", "prob_a"] == pytest.approx(2 / 3)
    assert maj.loc["p2", "winner"] == "tie" and maj.loc["p2", "prob_a"] == pytest.approx(0.5)  # split evenly
    assert (maj["judge"] == "jury:majority").all() and (maj["n_judges"] == 3).all()
    mean = jury(t, method="mean").set_index("prompt_id")
    assert mean.loc["p1", "prob_a"] == pytest.approx(2 / 3)
    # the jury's table is an ordinary comparisons table
    assert len(referee.rank(jury(t)).table) == 2


def test_exclude_self_drops_a_judges_verdicts_on_its_own_model() -> None:
    t = pd.DataFrame(rows("x", {("p1", "x", "y"): "model_a", ("p2", "x", "z"): "model_a"})
                     + rows("y", {("p1", "x", "y"): "model_b", ("p2", "x", "z"): "model_b"})
                     + rows("z", {("p1", "x", "y"): "model_b", ("p2", "x", "z"): "model_a"}))
    plain = jury(t).set_index("prompt_id")
    own = jury(t, exclude_self=True)
    assert own.attrs["jury"]["excluded_self"] == {"x": 2, "y": 1, "z": 1}
    own = own.set_index("prompt_id")
    assert plain.loc["p1", "winner"] == "model_b" and own.loc["p1", "n_judges"] == 1  # only z is neutral
    assert own.loc["p2", "winner"] == "model_b" and own.loc["p2", "n_judges"] == 1  # only y
    mapped = jury(t, exclude_self=True, judge_models="x=nobody,y=nobody,z=nobody")
    assert (mapped["n_judges"] == 3).all()


def test_no_alignment_is_refused_with_the_counts(tmp_path) -> None:
    t = pd.DataFrame(rows("j1", {("p1", "x", "y"): "model_a", ("p2", "x", "y"): "model_a"})
                     + rows("j2", {("q1", "x", "y"): "model_a"}))
    out = tmp_path / "jury.jsonl"
    with pytest.raises(InputError, match=re.escape("pairs per judge: j1: 2, j2: 1")) as err:
        jury(t, output=out)
    assert "no (prompt, pair) is judged by two or more of the 2 judges" in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written
    with pytest.raises(InputError, match="at least two judges"):
        jury(pd.DataFrame(rows("j1", {("p1", "x", "y"): "model_a"})))


def test_partial_alignment_is_counted() -> None:
    t = pd.DataFrame(rows("j1", {("p1", "x", "y"): "model_a", ("p2", "x", "y"): "model_a"})
                     + rows("j2", {("p1", "x", "y"): "model_a"}))
    res = jury(t)
    al = res.attrs["jury"]["alignment"]
    assert len(res) == 1 and al["aligned"] == 1 and al["single"] == 1 and al["per_judge"] == {"j1": 2, "j2": 1}
    assert "1 pairs judged by one judge only were left out" in res.attrs["jury"]["notes"]


def test_bad_method_and_weighted_without_gold(tmp_path) -> None:
    t = pd.DataFrame(rows("j1", {("p1", "x", "y"): "model_a"}) + rows("j2", {("p1", "x", "y"): "model_b"}))
    with pytest.raises(InputError, match="method must be one of majority, mean, weighted, peer-rank"):
        jury(t, method="vote")
    with pytest.raises(InputError, match="accuracy on gold labels: pass gold") as err:
        jury(t, method="weighted")
    assert err.value.field == "gold"
    with pytest.raises(InputError, match="extension"):
        jury(t, output=tmp_path / "jury.txt")


def test_weighted_follows_the_accurate_judge() -> None:
    pairs = [(f"p{i}", "x", "y") for i in range(40)]
    truth = {k: "model_a" if i % 3 else "model_b" for i, k in enumerate(pairs)}
    flip = {"model_a": "model_b", "model_b": "model_a"}
    good = rows("good", truth)
    bad1 = rows("bad1", {k: flip[w] if i % 2 else w for i, (k, w) in enumerate(truth.items())})
    bad2 = rows("bad2", {k: flip[w] if i % 2 == 0 else w for i, (k, w) in enumerate(truth.items())})
    gold = pd.DataFrame(rows("gold", truth))
    w = jury(pd.DataFrame(good + bad1 + bad2), method="weighted", gold=gold, rounds=50)
    info = w.attrs["jury"]["weights"]
    assert info["good"]["weight"] > 5 and info["bad1"]["weight"] == info["bad2"]["weight"] == 0.0
    assert info["good"]["ci_low"] is not None and info["good"]["ci_low"] <= info["good"]["weight"]
    assert (w.set_index("prompt_id")["winner"] == pd.Series({k[0]: v for k, v in truth.items()})).all()


# -- panels of real judges --------------------------------------------------------------------------------
def shown(body: dict, tag: str) -> str:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", body["messages"][-1]["content"], re.S)
    return m.group(1) if m else ""


def fair(body: dict) -> str:
    qa, qb = (next((q for n, q in QUALITY.items() if f"<{n}>" in shown(body, t)), 0)
              for t in ("assistant_a_response", "assistant_b_response"))
    return f"[[{'A' if qa > qb else 'B' if qb > qa else 'C'}]]"


@pytest.fixture
def outputs(tmp_path) -> Path:
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps({"prompt_id": f"p{i}", "prompt": f"Q{i}?", "model": m,
                                        "response": f"<{m}> answer {i}" + " more" * QUALITY[m]}) + "\n"
                            for m in QUALITY for i in range(6)))
    return path


def test_a_panel_runs_its_judges_in_one_run_with_a_jury(outputs, tmp_path) -> None:
    with FaultServer(answer=fair) as s1, FaultServer(answer="[[A]]") as s2:
        panel = {"judges": [{"url": s1.url, "model": "judge-1", "name": "fair"},
                            {"url": s2.url, "model": "judge-1", "name": "first"}, {"judge": "length"}]}
        out = tmp_path / "verdicts.jsonl"
        cache = tmp_path / "cache.sqlite"
        res = referee.judge(outputs, baseline="weak", judge_spec=panel, jury="majority", cache=cache, output=out)
        games = 2 * 6 * 2
        assert len(s1.calls()) == len(s2.calls()) == games
        assert res.table.groupby("judge").size().to_dict() == {"fair": games, "first": games, "length": games}
        jt = res.jury
        assert jt is not None and len(jt) == 12 and (jt["n_judges"] == 3).all() and (jt["judge"] == "jury:majority").all()
        # fair and length agree (the better model is longer), the always-A judge is split 1:1 over the orders
        best = jt.apply(lambda r: max(r["model_a"], r["model_b"], key=QUALITY.get), axis=1)
        won = jt.apply(lambda r: r[r["winner"]] if r["winner"] in ("model_a", "model_b") else None, axis=1)
        assert (won == best).all()
        files = res.meta["outputs"]
        assert files == {"table": str(out), "reconciled": str(tmp_path / "verdicts.reconciled.jsonl"),
                         "jury": str(tmp_path / "verdicts.jury.jsonl")}
        assert len(referee.read(tmp_path / "verdicts.jury.jsonl")) == 12
        assert len(out.read_text().splitlines()) == 3 * games
        s1.reset(), s2.reset()
        again = referee.judge(outputs, baseline="weak", judge_spec=panel, jury="majority", cache=cache)
        assert s1.calls() == [] and s2.calls() == []
        assert again.members["fair"].usage.calls == again.members["first"].usage.calls == 0  # (length: no call)
        pd.testing.assert_frame_equal(again.jury, jt)


def test_panel_from_yaml_on_the_command_line_with_a_weighted_jury(outputs, tmp_path) -> None:
    from typer.testing import CliRunner

    from referee.cli import app

    with FaultServer(answer=fair) as s1, FaultServer(answer="[[A]]") as s2:
        cfg = tmp_path / "panel.yaml"
        cfg.write_text(f"judges:\n  - {{url: '{s1.url}', model: judge-1, name: fair}}\n"
                       f"  - {{url: '{s2.url}', model: judge-1, name: first}}\n  - {{judge: length}}\n")
        gold = tmp_path / "gold.jsonl"
        gold.write_text("".join(json.dumps({"prompt_id": f"p{i}", "model_a": m, "model_b": "weak", "winner": "model_a",
                                            "judge": "gold"}) + "\n" for m in ("strong", "medium") for i in range(6)))
        out = tmp_path / "v.jsonl"
        args = ["judge", "--outputs", str(outputs), "--baseline", "weak", "--judge-config", str(cfg), "--jury", "weighted",
                "--cache", str(tmp_path / "c.sqlite"), "-o", str(out)]
        no_gold = CliRunner().invoke(app, args)
        assert no_gold.exit_code == 2 and "--gold" in no_gold.output
        ok = CliRunner().invoke(app, [*args, "--gold", str(gold)])
        assert ok.exit_code == 0, ok.output
        assert "wrote jury" in ok.output and "weight" in ok.output
        jt = referee.read(tmp_path / "v.jury.jsonl")
        assert (jt["judge"] == "jury:weighted").all() and len(jt) == 12


def test_cli_jury(tmp_path) -> None:
    from typer.testing import CliRunner

    from referee.cli import app

    t = pd.DataFrame(rows("j1", {("p1", "x", "y"): "model_a"}) + rows("j2", {("p1", "x", "y"): "model_a"}))
    f = tmp_path / "v.jsonl"
    write(t, f)
    out = tmp_path / "jury.jsonl"
    ok = CliRunner().invoke(app, ["jury", str(f), "--method", "mean", "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(out.read_text())["winner"] == "model_a"
    bad = CliRunner().invoke(app, ["jury", str(f), "--method", "weighted"])
    assert bad.exit_code == 2 and "--gold" in bad.output

"""Audit probes that plan new judge calls (issue 13, part 2), against a simulated judge over real HTTP.

The judge (:mod:`probe_judge_server`) knows the gold and flips toward a perturbed response with planted
probabilities (0.35 pairwise, 0.09 pointwise): the probes must recover them within their intervals,
and an unbiased but noisy judge must raise a flag (after Benjamini–Hochberg) in at most 5% of seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fault_server import FaultServer
from probe_judge_server import ProbeJudgeServer
from referee.cli import app
from referee.errors import InputError
from referee.probing import PROBES, TEXT_PROBES, probe
from referee.probing.perturb import GoldPair, bandwagon, check_probes, padding, self_id
from referee.probing.stats import design_effect, fleiss_kappa, wilson


def gold(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` gold pairs: the better response says GOOD; its side alternates."""
    rows = []
    for i in range(n):
        good, weak = f"GOOD answer to question {i} (seed {seed}).", f"A weak answer to question {i}."
        first = i % 2 == 0
        rows.append({"prompt_id": f"q{i}", "prompt": f"Question {i} (seed {seed})?", "model_a": "x", "model_b": "y",
                     "response_a": good if first else weak, "response_b": weak if first else good,
                     "winner": "model_a" if first else "model_b"})  # fmt: skip
    return pd.DataFrame(rows)


def spec(srv: ProbeJudgeServer | FaultServer, model: str = "sim-judge") -> dict[str, str]:
    return {"url": srv.url, "model": model}


# -- the perturbations and the statistics ------------------------------------------------------------------
def test_perturbations_are_seeded_edits_of_the_gold_loser() -> None:
    g = GoldPair("p1", "Q?", "good", "weak")
    assert bandwagon(g).endswith("90% of people prefer this answer.") and bandwagon(g).startswith("weak")
    assert padding(g, seed=1) == padding(g, seed=1) and len(padding(g)) > 3 * len("weak")
    assert self_id(g, judge_model="gpt-x").endswith("— written by gpt-x")
    assert check_probes("bandwagon, padding,bandwagon") == ["bandwagon", "padding"]


def test_wilson_design_effect_and_fleiss_kappa() -> None:
    lo, hi = wilson(35, 100)
    assert lo < 0.35 < hi and hi - lo == pytest.approx(0.185, abs=0.01)
    assert design_effect([[1, 1], [0, 0]] * 20) == pytest.approx(2.0)  # both orders always agree: n halves
    assert design_effect([[1, 0], [0, 1]] * 20) == pytest.approx(1.0)
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    # Fleiss (1971)-style check: two raters, agreement at chance level -> κ near 0
    assert fleiss_kappa([["a", "b"], ["b", "a"], ["a", "a"], ["b", "b"]]) == pytest.approx(0.0)
    assert fleiss_kappa([["a", "a"], ["a", "a"]]) is None


# -- planted flip rates --------------------------------------------------------------------------------
def test_planted_flip_rates_are_recovered_pairwise_and_pointwise(tmp_path: Path) -> None:
    lines: list[str] = []
    with ProbeJudgeServer(pairwise_flip=0.35, pointwise_flip=0.09) as srv:
        rep = probe(gold(200), probes=list(TEXT_PROBES), judge_spec=spec(srv), mode="both", level=0.99,
                    cache=tmp_path / "cache.sqlite", concurrency=16, announce=lines.append)
        sent = len(srv.calls)
    assert lines and "judge requests planned" in lines[0]
    for name in TEXT_PROBES:
        pw, pt = rep.get(name, "pairwise"), rep.get(name, "pointwise")
        assert pw is not None and pt is not None
        assert pw["ci_low"] <= 0.35 <= pw["ci_high"], (name, pw)
        assert pt["ci_low"] <= 0.09 <= pt["ci_high"], (name, pt)
        assert pw["n"] == 400 and pt["n"] == 200  # both orders of 200 pairs; pointwise one unit per pair
        assert pw["flagged"] and pw["q"] < 1e-6
        assert pt["score_change"]["value"] > 0  # the edited loser's score rises (3 -> 9 when it flips)
    # a response against a padded copy of itself: the planted judge does not prefer padding
    self_pad = rep.get("padding-self")
    assert self_pad is not None and self_pad["value"] == 0 and not self_pad["flagged"]
    pooled = sum(rep.get(p)["toward_units"] for p in TEXT_PROBES) / sum(rep.get(p)["n"] for p in TEXT_PROBES)
    assert pooled == pytest.approx(0.35, abs=0.03)
    assert rep.meta["usage"]["planned"] == 200 * 2 * 7 + 200 * 8 and rep.meta["usage"]["calls"] == sent


def test_an_unbiased_judge_raises_a_flag_in_at_most_5_percent_of_seeds() -> None:
    """A noisy judge (20% random verdicts) that ignores every edit: flags after FDR control in ≤ 2 of 40 seeds."""
    flagged = 0
    with ProbeJudgeServer(pairwise_flip=0.0, pointwise_flip=0.0, noise=0.2) as srv:
        for seed in range(40):
            srv.seed = seed
            rep = probe(gold(24, seed), probes=["bandwagon", "identical"], judge_spec=spec(srv),
                        seed=seed, cache=False, concurrency=16, announce=lambda _: None)
            assert rep.get("bandwagon")["away"] > 0  # the noise moves verdicts both ways
            flagged += bool(rep.flags)
    assert flagged <= 2, f"{flagged} of 40 unbiased runs flagged"


# -- cache, repeats, templates -----------------------------------------------------------------------------
def test_a_rerun_is_answered_by_the_cache_and_repeats_are_cached_apart(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with ProbeJudgeServer(noise=0.15) as srv:
        opts = {"probes": ["bandwagon", "repeat", "templates"], "judge_spec": spec(srv), "cache": cache,
                "repeats": 3, "announce": lambda _: None}
        first = probe(gold(20), **opts)
        sent = len(srv.calls)
        again = probe(gold(20), **opts)
        assert len(srv.calls) == sent  # nothing sent again
    # main: 20 pairs × (orig + bandwagon) × 2 orders; templates: 2 more templates; repeat: 2 more repeats
    assert first.meta["usage"]["planned"] == 80 + 2 * 40 + 2 * 40 == sent
    assert again.meta["usage"] == {**first.meta["usage"], "calls": 0, "cache_hits": sent}
    assert again.to_dict()["probes"] == first.to_dict()["probes"]
    rep = first.get("repeat")
    assert rep is not None and rep["value"] == 1.0  # the simulated judge is deterministic per request text
    tpl = first.get("templates")
    assert tpl is not None and tpl["runs"] == ["pairwise", "pairwise-logprob", "pairwise-graded"]
    assert 0 < tpl["value"] < 0.5 and tpl["kappa"] is not None and 0 < tpl["kappa"] < 1
    assert {t["template"] for t in tpl["per_template"]} == {"pairwise-logprob", "pairwise-graded"}


def test_identical_pairs_measure_decisiveness() -> None:
    with ProbeJudgeServer(noise=0.3) as srv:
        rep = probe(gold(120), probes="identical", judge_spec=spec(srv), cache=False, announce=lambda _: None)
    r = rep.get("identical")  # 30% of the answers are random sides: decisive, first or second shown alike
    assert r is not None and r["metric"] == "decisiveness" and r["ci_low"] <= 0.3 <= r["ci_high"]
    assert not r["flagged"] and 0.3 < r["first_shown_share"] < 0.7
    assert rep.get("identical", "pointwise") is None


# -- renderings and the CLI --------------------------------------------------------------------------------
def test_report_renders_and_the_cli_gates_on_probe_flags(tmp_path: Path) -> None:
    pairs = tmp_path / "gold.jsonl"
    gold(60).to_json(pairs, orient="records", lines=True)
    html, md, js = tmp_path / "probes.html", tmp_path / "probes.md", tmp_path / "probes.json"
    with ProbeJudgeServer() as srv:
        args = ["audit", "--probe", "bandwagon,identical", "--pairs", str(pairs), "--judge-url", srv.url,
                "--judge-model", "sim-judge", "--mode", "both", "--cache", str(tmp_path / "c.sqlite"),
                "-o", str(html), "-o", str(md), "-o", str(js)]
        res = CliRunner().invoke(app, args)
        gated = CliRunner().invoke(app, [*args, "--fail-on-flags", "-q"])
    assert res.exit_code == 0, res.output
    assert "judge requests planned" in res.output and "bandwagon" in res.output
    assert gated.exit_code == 3 and "referee: gate:" in gated.output
    page = html.read_text()
    assert "<table id=\"probe-table\">" in page and "bandwagon" in page and "identical" in page
    assert "| bandwagon | flip rate toward the edit |" in md.read_text()
    data = json.loads(js.read_text())
    assert {(r["probe"], r["mode"]) for r in data["probes"]} == {("bandwagon", "pairwise"), ("bandwagon", "pointwise"),
                                                                   ("identical", "pairwise")}
    assert data["meta"]["usage"]["calls"] == 0  # the gated run re-used the cache


# -- bad input -------------------------------------------------------------------------------------------
def test_an_unknown_probe_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        probe(gold(5), probes=["bandwagon", "flattery"], judge_spec={"url": "http://127.0.0.1:9/v1", "model": "m"})
    assert "unknown probe 'flattery'" in str(err.value) and all(p in str(err.value) for p in PROBES)
    pairs = tmp_path / "gold.jsonl"
    gold(5).to_json(pairs, orient="records", lines=True)
    out = tmp_path / "probes.html"
    res = CliRunner().invoke(app, ["audit", "--probe", "bandwagon,flattery", "--pairs", str(pairs), "--judge-url",
                                   "http://127.0.0.1:9/v1", "--judge-model", "m", "-o", str(out)])
    assert res.exit_code == 2 and "--probe" in res.output and "known probes: bandwagon" in res.output
    assert not out.exists()


def test_gold_pairs_without_responses_are_refused(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    gold(5).drop(columns=["response_a", "response_b", "prompt"]).to_json(labels, orient="records", lines=True)
    with pytest.raises(InputError) as err:
        probe(str(labels), probes="bandwagon", judge_spec={"url": "http://127.0.0.1:9/v1", "model": "m"})
    text = str(err.value)
    assert "labels.jsonl" in text and "no prompt, response_a, response_b" in text
    res = CliRunner().invoke(app, ["audit", "--probe", "bandwagon", "--pairs", str(labels), "--judge-url",
                                   "http://127.0.0.1:9/v1", "--judge-model", "m"])
    assert res.exit_code == 2 and "probes edit and compare the response texts" in res.output


def test_a_judge_that_never_answers_ends_the_run_without_a_report(tmp_path: Path) -> None:
    out = tmp_path / "probes.html"
    pairs = tmp_path / "gold.jsonl"
    gold(4).to_json(pairs, orient="records", lines=True)
    with FaultServer(default="500") as srv:
        with pytest.raises(InputError) as err:
            probe(gold(4), probes="bandwagon", judge_spec=spec(srv, "judge-1"), cache=False, retries=0,
                  announce=lambda _: None)
        assert "answered none of the 16 pairwise requests" in str(err.value) and "no probe report" in str(err.value)
        res = CliRunner().invoke(app, ["audit", "--probe", "bandwagon", "--pairs", str(pairs), "--judge-url", srv.url,
                                       "--judge-model", "judge-1", "--no-cache", "--retries", "0", "-o", str(out)])
    assert res.exit_code == 2 and "answered none" in res.output and not out.exists()


def test_probes_and_verdict_files_are_not_mixed(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["audit", str(tmp_path / "v.jsonl"), "--probe", "bandwagon"])
    assert res.exit_code == 2 and "give no verdict files" in res.output

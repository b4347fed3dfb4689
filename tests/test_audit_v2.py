"""Audit v2 (issue 13, parts 1, 4, 5): length bias as the excess over the reference on the same
rows, transitivity per presentation orientation, flag statistics (p, BH q, MDE, McNemar), CI
gates and the planted-bias validation — on the PRD Vicuna80 reviewers and on simulations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import referee
from referee.auditing import gates
from referee.auditing.flags import band_test, fdr
from referee.auditing.validate import DOC_EFFECT, DOC_N, validate
from referee.cli import app
from referee.errors import InputError
from referee.io import read
from shared_data import DATA, need

PRD = DATA / "prd-peer-rank" / "data" / "vicuna80"
REVIEWERS = ("gpt4", "claude", "bard", "gpt35", "vicuna-13b")


@pytest.fixture(scope="module")
def prd():
    return referee.audit([need(PRD / "ratings-human")] + [PRD / f"ratings-{r}" for r in REVIEWERS], rounds=400)


@pytest.mark.shared_data
def test_prd_reader_keeps_the_responses() -> None:
    df = read([need(PRD / "ratings-gpt4")])
    assert df["response_a"].notna().all() and df["response_b"].notna().all()
    row = df[(df["model_a"] == "gpt4") & (df["prompt_id"] == "1")].iloc[0]
    assert row["response_a"].startswith("Improving your time management skills")
    human = read([need(PRD / "ratings-human")])
    guanaco = human["model_b"].str.startswith("guanaco")
    assert human.loc[guanaco, "response_b"].isna().all()  # no generations file for guanaco
    assert human.loc[~guanaco & ~human["model_a"].str.startswith("guanaco"), "response_a"].notna().all()


@pytest.mark.shared_data
def test_first_shown_win_rates_match_the_peer_tools(prd) -> None:
    got = {r: round(prd.judges[r]["first_position_rate"]["value"], 3) for r in REVIEWERS}
    assert got == {"gpt4": 0.624, "claude": 0.362, "bard": 0.812, "gpt35": 0.494, "vicuna-13b": 0.406}


@pytest.mark.shared_data
def test_bard_prefers_longer_answers_less_than_the_humans(prd) -> None:
    bard = prd.judges["bard"]
    assert round(bard["prefer_longer_rate"]["value"], 3) == 0.629  # descriptive, never the flag
    ex = bard["prefer_longer_excess"]
    assert ex["value"] < -0.1 and ex["ci_high"] < 0
    flags = {f["metric"]: f for f in bard["flags"]}
    assert "prefer_longer_rate" not in flags
    assert flags["prefer_longer_excess"]["direction"] == "below"
    for r in REVIEWERS:
        assert not [f for f in prd.judges[r]["flags"] if f["metric"].startswith("prefer_longer")
                    and f["direction"] == "above"]


@pytest.mark.shared_data
def test_reference_rate_is_computed_on_the_judges_own_rows(prd) -> None:
    det = {r: prd.judges[r]["details"]["length"] for r in REVIEWERS}
    for r in REVIEWERS:
        ex = prd.judges[r]["prefer_longer_excess"]
        assert det[r]["gold_prefer_longer_rate"]["n"] == det[r]["judge_rate_paired"]["n"] == ex["n"]
        assert ex["n"] == det[r]["paired_rows"]
        assert ex["value"] == pytest.approx(det[r]["judge_rate_paired"]["value"]
                                            - det[r]["gold_prefer_longer_rate"]["value"])
    # different judges decide on different rows, so their reference rates differ
    assert len({round(det[r]["gold_prefer_longer_rate"]["value"], 6) for r in REVIEWERS}) == len(REVIEWERS)
    assert det["gpt4"]["gold_prefer_longer_rate"]["value"] != pytest.approx(0.764, abs=1e-3)


@pytest.mark.shared_data
def test_transitivity_does_not_count_position_flips(prd) -> None:
    for r in REVIEWERS:
        t = prd.judges[r]["transitivity_violation_rate"]
        assert t["value"] <= 0.15, (r, t)
        det = prd.judges[r]["details"]["transitivity"]
        assert det["triads"] == 1600 and set(det["by_orientation"]) == {1, 2}
        assert det["cycles"] + det["equivalence_contradictions"] == round(t["value"] * det["triads"])
        assert det["consistent_cycles"] <= 5 and det["order_disagreements"] > 0


@pytest.mark.shared_data
def test_notes_count_gold_ties_on_audited_pairs_only(prd) -> None:
    assert "204 gold tie labels on audited pairs are left out of accuracy (tie policy 'exclude')" in prd.meta["notes"]
    assert prd.meta["alignment"]["gold_ties"] == 804


@pytest.mark.shared_data
def test_flag_statistics_on_prd(prd) -> None:
    ctrl = prd.meta["flag_control"]
    assert ctrl["method"] == "Benjamini-Hochberg" and ctrl["tests"] >= 20
    for r in REVIEWERS:
        for f in prd.judges[r]["flags"]:
            assert 0 <= f["p"] <= f["q"] <= 1 and f["stands"] == (f["q"] <= 0.05)
            assert f["mde"] > 0 and isinstance(f["underpowered"], bool)
    mc = prd.judges["gpt4"]["details"]["position"]["mcnemar"]
    assert mc["first_shown_won_both"] > 10 * mc["second_shown_won_both"] and mc["p"] < 1e-20
    assert next(f["metric"] for j, f in prd.standing_flags if j == "gpt4") == "first_position_rate"


def test_benjamini_hochberg_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted 0.01, 0.03, 0.04, 0.2 → ×4/rank: 0.04, 0.06, 0.0533, 0.2 → step-up minimum
    assert fdr(p) == pytest.approx([0.04, 0.0533333, 0.0533333, 0.2], rel=1e-5)
    assert fdr([]) == []


def test_band_test_p_value_and_power_mark() -> None:
    se = 0.01
    m = {"value": 0.6, "ci_low": 0.6 - 1.959964 * se, "ci_high": 0.6 + 1.959964 * se}
    t = band_test("first_position_rate", m, (0.45, 0.55), 0.95)
    assert t["se"] == pytest.approx(se) and t["p"] == pytest.approx(2.87e-7, rel=0.01)  # z = 5
    assert t["mde"] == pytest.approx((1.959964 + 0.841621) * se) and not t["underpowered"]
    wide = {"value": 0.5, "ci_low": 0.3, "ci_high": 0.7}
    t = band_test("first_position_rate", wide, (0.45, 0.55), 0.95)
    assert t["p"] > 0.5 and t["underpowered"]


def _copycat() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A judge that copies the gold vote of every simulated pair, shown in both orders.  (On PRD a
    copy of the human votes is flagged for transitivity: the human votes themselves cycle, .21.)"""
    from referee.auditing.validate import simulate

    _, gold = simulate(400, {"unused": {}}, np.random.default_rng(3))
    swap = {"model_a": "model_b", "model_b": "model_a"}
    o2 = gold.rename(columns={"model_a": "model_b", "model_b": "model_a", "response_a": "response_b",
                              "response_b": "response_a"}).assign(winner=gold["winner"].map(swap))
    judge = pd.concat([gold.assign(order=1), o2.assign(order=2)], ignore_index=True).assign(judge="copycat")
    return judge, gold


@pytest.mark.shared_data
def test_fail_on_flags_gate(tmp_path) -> None:
    runner = CliRunner()
    base = ["audit", str(need(PRD / "ratings-human")), str(PRD / "ratings-gpt4"), "--rounds", "300", "-q"]
    res = runner.invoke(app, [*base, "--fail-on-flags"])
    assert res.exit_code == 3, res.output
    assert "gpt4: first_position_rate" in res.output
    assert runner.invoke(app, base).exit_code == 0  # no gate asked for
    judge, gold = _copycat()
    judge.to_json(tmp_path / "copycat.jsonl", orient="records", lines=True)
    gold.to_json(tmp_path / "gold.jsonl", orient="records", lines=True)
    res = runner.invoke(app, ["audit", str(tmp_path / "copycat.jsonl"), "--gold", str(tmp_path / "gold.jsonl"),
                              "--rounds", "300", "-q", "--fail-on-flags"])
    assert res.exit_code == 0, res.output


@pytest.mark.shared_data
def test_fail_on_rules() -> None:
    runner = CliRunner()
    base = ["audit", str(need(PRD / "ratings-human")), str(PRD / "ratings-bard"), "--rounds", "0", "-q"]
    res = runner.invoke(app, [*base, "--fail-on", "first_position_rate>0.8"])
    assert res.exit_code == 3 and "bard: first_position_rate>0.8" in res.output
    assert runner.invoke(app, [*base, "--fail-on", "first_position_rate>0.9"]).exit_code == 0
    assert runner.invoke(app, [*base, "--fail-on", "details.flip_rate<=1"]).exit_code == 3
    res = runner.invoke(app, [*base, "--fail-on", "ece=>0.1"])
    assert res.exit_code == 2 and "--fail-on rules look like METRIC>VALUE" in res.output


def test_gate_rules_are_validated_before_reading() -> None:
    with pytest.raises(InputError, match="fail_on rules look like"):
        referee.audit("no-such-file.jsonl", fail_on=["accuracy"])
    assert gates.parse_rules("ece>=0.1") == [("ece", ">=", 0.1)]


def test_validate_power_and_false_flag_rate_at_the_documented_design() -> None:
    r = validate(DOC_N, DOC_EFFECT, seeds=40, rounds=200)
    assert min(r.power.values()) >= 0.8, r.power
    assert r.false_flag_rate <= 0.05
    weak = validate(100, 0.01, seeds=20, rounds=200)  # a tiny effect on few pairs is rarely detected
    assert max(weak.power.values()) < 0.5, weak.power


def test_audit_validate_command() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["audit", "validate", "--n", "100", "--seeds", "3", "-q"])
    assert res.exit_code == 0, res.output
    assert "first_position_rate" in res.output and "false-flag rate" in res.output
    res = runner.invoke(app, ["audit-validate", "--effect", "0.5", "-q"])
    assert res.exit_code == 2 and "--effect must lie in" in res.output


def test_validate_simulation_hits_its_targets() -> None:
    from referee.auditing.validate import planted, simulate

    v, g = simulate(4000, planted(0.1), np.random.default_rng(0))
    rep = referee.audit(v, g, rounds=0)
    assert rep.judges["first_position_rate"]["first_position_rate"]["value"] == pytest.approx(0.65, abs=0.02)
    assert rep.judges["position_consistency"]["position_consistency"]["value"] == pytest.approx(0.7, abs=0.02)
    assert rep.judges["prefer_longer_excess"]["prefer_longer_excess"]["value"] == pytest.approx(0.2, abs=0.02)

"""Graded (pointwise) judges against reference scores (issue 13, part 3).

Known truth by simulation (a judge = reference + noise, a verbose judge, a compressed judge, a
self-preferring judge) and one real run from the CLI: GPT-4's 1-10 single-answer scores of
arena-bench-v1 as the reference, a length baseline as the audited scorer.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

import referee
from referee.auditing.graded import _partial
from referee.cli import app
from referee.errors import InputError

ARENA = Path("/work/shared/data/arena-hard-auto/data/arena-bench-v1")
SCALE = (1, 10)


def simulate(n_prompts: int = 150, models: int = 4, *, noise: float = 1.0, verbose: float = 0.0,
             compress: float = 1.0, own_bonus: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(judge scores, reference scores) on a 1-10 scale: reference y ~ round(N(5.5, 2)); the judge
    scores 5.5 + compress·(y − 5.5) + verbose·z(length) + own_bonus·[model m0] + N(0, noise²), rounded
    and clipped.  The judge is named ``m0`` (its own family is model m0)."""
    rng = np.random.default_rng(seed)
    n = n_prompts * models
    length = rng.integers(100, 3000, n)
    y = np.clip(np.round(rng.normal(5.5, 2.0, n)), 1, 10)
    zl = (length - length.mean()) / length.std()
    model = np.tile([f"m{i}" for i in range(models)], n_prompts)
    raw = 5.5 + compress * (y - 5.5) + verbose * zl + own_bonus * (model == "m0") + rng.normal(0, noise, n)
    x = np.clip(np.round(raw), 1, 10)
    prompt = np.repeat([f"p{i}" for i in range(n_prompts)], models)
    response = [f"{p}/{m}:" + "w" * int(k) for p, m, k in zip(prompt, model, length, strict=True)]
    base = pd.DataFrame({"prompt_id": prompt, "model": model, "response": response})
    return base.assign(scorer="m0", score=x), base.assign(scorer="human", score=y)


def graded(report: referee.AuditReport, name: str, judge: str = "m0") -> dict[str, float]:
    m = report.metric(judge, f"details.graded.{name}")
    assert m is not None and m["value"] is not None
    return m


def covers(m: dict[str, float], truth: float) -> bool:
    return m["ci_low"] <= truth <= m["ci_high"]


def test_kappa_and_spearman_equal_the_reference_implementations() -> None:
    sklearn = pytest.importorskip("sklearn.metrics")
    judge, gold = simulate(noise=1.2, seed=3)
    r = referee.audit(judge, gold, rounds=200, scale=SCALE)
    x, y = judge["score"].to_numpy(), gold["score"].to_numpy()
    assert graded(r, "weighted_kappa")["value"] == pytest.approx(
        sklearn.cohen_kappa_score(x.astype(int), y.astype(int), weights="quadratic"), abs=1e-12)
    assert graded(r, "spearman")["value"] == pytest.approx(spearmanr(x, y)[0], abs=1e-12)
    assert graded(r, "exact_agreement")["value"] == pytest.approx(np.mean(x == y))
    assert graded(r, "within_one")["value"] == pytest.approx(np.mean(np.abs(x - y) <= 1))
    assert r.meta["kind"] == "graded" and r.meta["clusters"] == 150


def test_an_unbiased_noisy_judge_is_not_flagged() -> None:
    hits = 0
    for seed in range(10):
        judge, gold = simulate(noise=1.0, seed=seed)
        r = referee.audit(judge, gold, rounds=300, seed=seed, scale=SCALE, family="m0=m0")
        hits += bool(r.standing_flags)
        assert abs(graded(r, "mean_difference")["value"]) < 0.2
    assert hits <= 1


def test_planted_verbosity_is_recovered_and_flagged() -> None:
    # the population partial correlation of the planted judge, from a very large sample
    big_j, big_g = simulate(n_prompts=50_000, verbose=0.8, seed=99)
    x, y = big_j["score"].to_numpy(), big_g["score"].to_numpy()
    L = big_j["response"].str.len().to_numpy(dtype=float)
    stats = np.array([[len(x), x.sum(), y.sum(), L.sum(), (x * x).sum(), (y * y).sum(), (L * L).sum(),
                       (x * y).sum(), (x * L).sum(), (y * L).sum()]])
    truth = float(_partial(stats)[0])
    assert 0.3 < truth < 0.7
    judge, gold = simulate(verbose=0.8, seed=1)
    r = referee.audit(judge, gold, rounds=500, scale=SCALE)
    m = graded(r, "score_verbosity")
    assert covers(m, truth)
    assert any(f["metric"] == "score_verbosity" and f["stands"] for _, f in r.flags)
    clean = referee.audit(*simulate(seed=1), rounds=500, scale=SCALE)
    assert covers(graded(clean, "score_verbosity"), 0.0)


def test_a_compressed_judge_is_flagged_for_central_tendency() -> None:
    judge, gold = simulate(noise=0.3, compress=0.4, seed=2)
    r = referee.audit(judge, gold, rounds=500, scale=SCALE)
    spread = graded(r, "score_spread_ratio")
    truth = np.sqrt(0.4**2 + 0.3**2 / gold["score"].var())  # sd ratio before rounding, ≈ 0.42
    assert spread["ci_high"] < 0.8 and abs(spread["value"] - truth) < 0.1
    assert graded(r, "score_middle_excess")["ci_low"] > 0.1
    flagged = {f["metric"] for _, f in r.standing_flags}
    assert {"score_spread_ratio", "score_middle_excess"} <= flagged


def test_a_self_preferring_judge_is_flagged_with_the_planted_size() -> None:
    judge, gold = simulate(noise=0.7, own_bonus=1.5, seed=4)
    r = referee.audit(judge, gold, rounds=500, scale=SCALE, family="m0=m0")
    m = graded(r, "score_self_preference")
    # the bonus in scale units, shrunk a little by clipping at 10
    assert covers(m, 1.5 / 9) or abs(m["value"] - 1.5 / 9) < 0.03
    assert any(f["metric"] == "score_self_preference" and f["stands"] for _, f in r.flags)
    assert r.judges["m0"]["details"]["graded_info"]["own_family_scores"] == 150
    unbiased = referee.audit(*simulate(noise=0.7, seed=4), rounds=500, scale=SCALE, family="m0=m0")
    assert covers(graded(unbiased, "score_self_preference"), 0.0)


def test_pairing_on_model_when_texts_are_missing(tmp_path: Path) -> None:
    judge, gold = simulate(seed=5)
    r = referee.audit(judge.drop(columns="response"), gold.drop(columns="response").sample(frac=1, random_state=0),
                      rounds=100, kind="graded")
    assert r.meta["alignment"]["key"] == "prompt_id + model"
    assert "score_verbosity" not in r.judges["m0"]["details"]["graded"]
    assert r.meta["scale"] == [1.0, 10.0] and not r.meta["scale_declared"]


def _write(path: Path, df: pd.DataFrame) -> Path:
    path.write_text("".join(json.dumps(rec) + "\n" for rec in df.to_dict("records")))
    return path


def test_a_score_outside_the_declared_scale_names_file_line_and_field(tmp_path: Path) -> None:
    judge, gold = simulate(n_prompts=20, seed=6)
    judge.loc[7, "score"] = 11.0
    jp, gp = _write(tmp_path / "scores.jsonl", judge), _write(tmp_path / "human.jsonl", gold)
    with pytest.raises(InputError) as err:
        referee.audit(str(jp), str(gp), scale=SCALE, rounds=0)
    assert err.value.line == 8 and err.value.field == "score" and "scores.jsonl" in str(err.value)
    res = CliRunner().invoke(app, ["audit", str(jp), "--gold", str(gp), "--scale", "1:10", "-q"])
    assert res.exit_code == 2
    assert "scores.jsonl" in res.output and "line 8" in res.output and "outside the declared scale 1–10" in res.output
    assert "Traceback" not in res.output


def test_no_overlap_with_the_reference_is_one_clear_message(tmp_path: Path) -> None:
    judge, gold = simulate(n_prompts=20, seed=7)
    gold = gold.assign(prompt_id="other-" + gold["prompt_id"])
    jp, gp = _write(tmp_path / "scores.jsonl", judge), _write(tmp_path / "human.jsonl", gold)
    res = CliRunner().invoke(app, ["audit", str(jp), "--gold", str(gp), "-q"])
    assert res.exit_code == 2
    assert "none of the 80 audited scores has a reference score" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["audit", str(jp), "--kind", "graded", "-q"])
    assert res.exit_code == 2 and "reference scores" in res.output


def _arena(models: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GPT-4 single-answer scores (1-10) of arena-bench-v1 and the answers they score."""
    judged, answers = [], []
    for m in models:
        with gzip.open(ARENA / "model_judgment" / f"{m}.jsonl.gz", "rt") as fh:
            judged += [json.loads(line) for line in fh]
        with gzip.open(ARENA / "model_answer" / f"{m}.jsonl.gz", "rt") as fh:
            for line in fh:
                rec = json.loads(line)
                answers.append({"prompt_id": rec["question_id"], "model": m,
                                "response": rec["choices"][0]["turns"][0]})
    scores = pd.DataFrame(judged).rename(columns={"question_id": "prompt_id"})
    scores = scores.assign(scorer="gpt-4", score=pd.to_numeric(scores["score"], errors="coerce"))
    scores = scores[scores["score"].between(1, 10)][["prompt_id", "model", "scorer", "score"]]
    return scores.merge(pd.DataFrame(answers), on=["prompt_id", "model"]), pd.DataFrame(answers)


def test_real_gpt4_scores_against_a_length_baseline_from_the_cli(tmp_path: Path) -> None:
    if not ARENA.exists():
        pytest.skip("shared data not present")
    gpt4, answers = _arena(("claude-1", "gpt-4-0314", "Llama-2-70b-chat"))
    n = answers["response"].str.len()
    length = answers.assign(scorer="length", score=np.ceil(10 * n.rank(pct=True)).clip(1, 10))
    jp, gp = _write(tmp_path / "length.jsonl", length), _write(tmp_path / "gpt4.jsonl", gpt4)
    out_json, out_md, out_html = tmp_path / "a.json", tmp_path / "a.md", tmp_path / "a.html"
    res = CliRunner().invoke(app, ["audit", str(jp), "--gold", str(gp), "--scale", "1:10", "--rounds", "300",
                                   "-o", str(out_json), "-o", str(out_md), "-o", str(out_html)])
    assert res.exit_code == 0, res.output
    rep = json.loads(out_json.read_text())
    g = rep["judges"]["length"]["details"]["graded"]
    assert rep["meta"]["kind"] == "graded" and rep["meta"]["alignment"]["key"] == "prompt_id + response"
    assert g["weighted_kappa"]["n"] > 800 and -0.2 < g["spearman"]["value"] < 0.5  # GPT-4 barely tracks length here
    # a pure length scorer depends on length far beyond what GPT-4's score explains
    assert g["score_verbosity"]["ci_low"] > 0.5
    assert any(f["metric"] == "score_verbosity" for f in rep["judges"]["length"]["flags"])
    assert "κ (quadratic)" in res.output and "Spearman" in res.output
    assert "κ (quadratic)" in out_md.read_text() and "weighted_kappa" in out_md.read_text()
    html = out_html.read_text()
    assert "weighted κ (quadratic)" in html and "Verbosity: partial r" in html and "<svg" in html

"""The `referee` command: exit codes and one clear message for bad input, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _proc import assert_clear_error
from referee.sim import simulate_arena

EXE = str(Path(sys.executable).with_name("referee"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def battles(tmp_path_factory) -> Path:
    df, _ = simulate_arena(6, 3000, seed=2, n_prompts=50)
    path = tmp_path_factory.mktemp("cli") / "battles.jsonl"
    df.to_json(path, orient="records", lines=True)
    return path


def test_rank_prints_a_table_and_writes_every_format(battles, tmp_path):
    outs = [tmp_path / f"board.{ext}" for ext in ("json", "csv", "md", "html")]
    args = ["rank", str(battles), "--ci", "bootstrap", "--rounds", "200", "--cluster", "prompt_id"]
    for o in outs:
        args += ["-o", str(o)]
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert "model-000" in proc.stdout and "rank interval" in proc.stdout
    assert all(o.exists() and o.stat().st_size > 100 for o in outs)
    meta = json.loads(outs[0].read_text())["meta"]
    assert meta["rounds"] == 200 and meta["cluster"] == "prompt_id"


def test_models_and_options(battles):
    for extra in (["--model", "elo"], ["--ties", "drop"], ["--first-position"], ["--anchor", "model-001=1500"]):
        proc = run("rank", str(battles), "-q", *extra)
        assert proc.returncode == 0, (extra, proc.stderr)


def test_malformed_json_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"model_a": "a", "model_b": "b", "winner": "model_a"}\n{"model_a": "a", "model_b": \n')
    assert_clear_error(run("rank", str(p)), "bad.jsonl", "line 2")


def test_unknown_winner_label(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"model_a": "a", "model_b": "b", "winner": "model_a"}\n'
        '{"model_a": "b", "model_b": "a", "winner": "model_b"}\n'
        '{"model_a": "a", "model_b": "b", "winner": "draw"}\n'
    )
    assert_clear_error(run("rank", str(p)), "bad.jsonl", "line 3", "winner", "draw")


def test_missing_column(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("model_a,winner\na,model_a\n")
    assert_clear_error(run("rank", str(p)), "bad.csv", "model_b")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    assert_clear_error(run("rank", str(p)), "empty.jsonl")


def test_model_compared_only_with_itself(tmp_path):
    p = tmp_path / "self.jsonl"
    p.write_text(
        '{"model_a": "a", "model_b": "b", "winner": "model_a"}\n'
        '{"model_a": "b", "model_b": "a", "winner": "tie"}\n'
        '{"model_a": "c", "model_b": "c", "winner": "tie"}\n'
    )
    assert_clear_error(run("rank", str(p)), "compared only with themselves", "c")


def test_self_battles_are_dropped_with_a_count(tmp_path):
    p = tmp_path / "self.jsonl"
    p.write_text(
        '{"model_a": "a", "model_b": "b", "winner": "model_a"}\n'
        '{"model_a": "b", "model_b": "a", "winner": "tie"}\n'
        '{"model_a": "a", "model_b": "a", "winner": "tie"}\n'
    )
    proc = run("rank", str(p))
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 rows: self battles" in proc.stdout


def test_missing_file_and_bad_option(tmp_path, battles):
    proc = run("rank", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert_clear_error(run("rank", str(battles), "--ci", "magic"), "ci")
    assert_clear_error(run("rank", str(battles), "--lc"), "--baseline")


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("referee ")


def test_issue_example_mixed_formats_davidson_style_clustered(tmp_path):
    """`referee rank a.parquet b.csv.gz --model davidson --style length,markdown --ci bootstrap --cluster prompt`."""
    import numpy as np

    df, _ = simulate_arena(5, 3000, seed=4, tie_model="davidson", nu=0.6, n_prompts=80)
    rng = np.random.default_rng(0)
    df["response_a"] = ["# Title\n- item\n" + "w " * int(n) for n in rng.integers(10, 200, len(df))]
    df["response_b"] = ["**bold** " * int(k) + "w " * int(n) for k, n in zip(rng.integers(0, 3, len(df)), rng.integers(10, 200, len(df)), strict=True)]
    df.iloc[:1500].to_parquet(tmp_path / "a.parquet")
    df.iloc[1500:].to_csv(tmp_path / "b.csv.gz", index=False)
    out = tmp_path / "board.json"
    proc = run("rank", str(tmp_path / "a.parquet"), str(tmp_path / "b.csv.gz"), "--model", "davidson",
               "--style", "length,markdown", "--ci", "bootstrap", "--rounds", "100", "--cluster", "prompt",
               "-o", str(out), "-o", str(tmp_path / "board.html"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(out.read_text())["meta"]
    assert meta["method"] == "davidson+style" and meta["cluster"] == "prompt_id" and meta["n_comparisons"] == 3000
    assert meta["tie_parameter"] > 0 and set(meta["style_coefficients"]) == {"length", "headers", "lists", "bold"}
    assert (tmp_path / "board.html").stat().st_size > 1000


def test_style_fit_without_a_covariance_is_a_clear_error(tmp_path):
    """Two votes that the length covariate separates: the sandwich has nothing to stand on."""
    rows = [
        {"model_a": "m1", "model_b": "m2", "winner": "model_a", "response_a": "word " * 40, "response_b": "word " * 30},
        {"model_a": "m2", "model_b": "m1", "winner": "model_a", "response_a": "word " * 35, "response_b": "word " * 40},
    ]
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_clear_error(run("rank", str(path), "--style", "length"), "no covariance", "--ci bootstrap")

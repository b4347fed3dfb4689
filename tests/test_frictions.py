"""A newcomer's frictions (issue 15), each through the real `referee` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _proc import assert_clear_error
from referee.auditing.sim import JudgeSpec, simulate_judges
from referee.sim import simulate_arena

EXE = str(Path(sys.executable).with_name("referee"))
COMMANDS = [["rank"], ["audit"], ["judge"], ["demo"], ["train-rm"], ["score"], ["best-of-n"], ["export-pairs"],
            ["arena", "serve"], ["arena", "invite"], ["arena", "export"], [], ["arena"]]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})


@pytest.fixture(scope="module")
def battles(tmp_path_factory) -> Path:
    df, _ = simulate_arena(4, 400, seed=1, n_prompts=20)
    path = tmp_path_factory.mktemp("frictions") / "battles.jsonl"
    df.to_json(path, orient="records", lines=True)
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Verdicts and their gold labels split over two files (two halves of the prompts)."""
    verdicts, gold = simulate_judges({"fair-judge": JudgeSpec()}, n_prompts=40, seed=5)
    folder = tmp_path_factory.mktemp("judged")
    vp, g1, g2 = folder / "verdicts.jsonl", folder / "gold1.jsonl", folder / "gold2.jsonl"
    verdicts.to_json(vp, orient="records", lines=True)
    prompts = sorted(gold["prompt_id"].unique())
    first = gold["prompt_id"].isin(prompts[: len(prompts) // 2])
    gold[first].to_json(g1, orient="records", lines=True)
    gold[~first].to_json(g2, orient="records", lines=True)
    return vp, g1, g2


# -- 1. `--gold A B` ----------------------------------------------------------------------------------

def _aligned(report: Path) -> int:
    return json.loads(report.read_text())["meta"]["alignment"]["aligned"]


def test_gold_takes_every_file_that_follows(judged, tmp_path):
    vp, g1, g2 = judged
    spread, repeated, one = (tmp_path / f"{n}.json" for n in ("spread", "repeated", "one"))
    common = ["--rounds", "0", "-q"]
    for args, out in (([str(vp), "--gold", str(g1), str(g2)], spread),
                      ([str(vp), "--gold", str(g1), "--gold", str(g2)], repeated),
                      ([str(vp), "--gold", str(g1)], one)):
        proc = run("audit", *args, *common, "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    assert _aligned(spread) == _aligned(repeated) > _aligned(one) > 0
    meta = json.loads(spread.read_text())["meta"]
    assert len(meta["inputs"]["gold"]) == 2 and len(meta["inputs"]["verdicts"]) == 1


def test_gold_before_the_verdicts_is_refused_clearly(judged):
    vp, g1, _ = judged
    assert_clear_error(run("audit", "--gold", str(g1), str(vp), "-q"), "no verdict files", "before --gold")


def test_gold_help_says_how_to_give_several():
    assert "--gold a.jsonl b.jsonl" in run("audit", "--help").stdout


# -- 2. `-o` into a folder that does not exist --------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["rank", "{battles}"], ["audit", "{battles}"], ["export-pairs", "{battles}"], ["score", "{battles}"],
    ["best-of-n", "{battles}"], ["train-rm", "{battles}"], ["judge", "--outputs", "{battles}"],
    ["arena", "export", "--db", "sqlite:///{db}"],
])
def test_output_in_a_missing_folder_is_refused(command, battles, tmp_path):
    db = tmp_path / "arena.db"
    db.write_bytes(b"")
    missing = tmp_path / "no" / "such" / "dir"
    args = [a.format(battles=battles, db=db) for a in command]
    proc = run(*args, "-o", str(missing / "x.json"))
    assert_clear_error(proc, str(missing / "x.json"), "does not exist")
    assert not (tmp_path / "no").exists()


def test_demo_out_in_a_missing_folder_is_refused(tmp_path):
    assert_clear_error(run("demo", "--simulated", "--out", str(tmp_path / "no" / "demo")), "does not exist")
    assert not (tmp_path / "no").exists()


# -- 3. `arena invite --db sqlite:///typo.db` ---------------------------------------------------------

@pytest.mark.parametrize("command", [["arena", "invite", "--name", "alice"], ["arena", "export"]])
def test_arena_refuses_a_sqlite_file_that_does_not_exist(command, tmp_path):
    proc = run(*command, "--db", "sqlite:///typo.db", cwd=tmp_path)
    assert_clear_error(proc, "typo.db", "no arena database", "db")
    assert not (tmp_path / "typo.db").exists()


# -- 4. `train-rm` on too few pairs -------------------------------------------------------------------

def test_train_rm_refuses_too_few_pairs(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "hi", "chosen": "hello there", "rejected": "go away"}) + "\n")
    out = tmp_path / "rm"
    assert_clear_error(run("train-rm", str(pairs), "-o", str(out)), "pairs.jsonl", "too few preference pairs",
                       "at least 10")
    assert not out.exists()


def test_train_rm_refuses_more_folds_than_prompts(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"q{i % 3}", "chosen": f"a good answer {i}", "rejected": f"no {i}"} for i in range(12)]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert_clear_error(run("train-rm", str(pairs), "--folds", "5", "-o", str(tmp_path / "rm")),
                       "5-fold", "at least 5 prompts")


# -- 5. help, --format, units, judge -q ---------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "referee")
def test_help_shows_no_python_types(command):
    proc = run(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"<(bool|str|int|float|path|list\[\w+\])>", proc.stdout, re.I), proc.stdout
    assert re.search(r"--help\s+Show this message", proc.stdout), proc.stdout  # a flag: no value shown


def test_format_help_lists_every_format():
    from referee.cli import FORMATS
    from referee.io import FORMATS as READERS

    assert FORMATS == READERS
    for command in (["rank"], ["train-rm"], ["export-pairs"]):
        text = " ".join(run(*command, "--help").stdout.split())
        for name in READERS:
            assert name in text, (command, name)


def test_length_units_explain_their_defaults():
    text = " ".join(run("rank", "--help").stdout.split())
    assert "AlpacaEval" in text and "arena-rank" in text
    for option in ("--lc-length", "--style-unit"):
        assert option in text


def test_judge_quiet_prints_nothing(tmp_path):
    outputs = tmp_path / "outputs.jsonl"
    rows = [{"prompt_id": str(i), "prompt": f"q{i}", "model": m, "response": "w " * (i + len(m))}
            for i in range(4) for m in ("m0", "m1")]
    outputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    verdicts = tmp_path / "v.jsonl"
    proc = run("judge", "--outputs", str(outputs), "--baseline", "m0", "--judge", "length", "--no-cache",
               "-o", str(verdicts), "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr
    assert verdicts.exists()
    loud = run("judge", "--outputs", str(outputs), "--baseline", "m0", "--judge", "length", "--no-cache")
    assert loud.returncode == 0 and loud.stderr.strip(), loud.stderr


# -- 6. messages name the file instead of `<input>` ---------------------------------------------------

@pytest.mark.parametrize("command", [["train-rm", "{f}", "-o", "{out}"], ["export-pairs", "{f}", "-o", "{out}.jsonl"],
                                     ["best-of-n", "{f}"]], ids=lambda c: c[0])
def test_table_errors_name_the_file(command, battles, tmp_path):
    args = [a.format(f=battles, out=tmp_path / "out") for a in command]
    proc = run(*args)
    assert_clear_error(proc, "battles.jsonl", "field")
    assert "<input>" not in proc.stderr


@pytest.mark.parametrize("args", [["--by", "nosuch"], ["--where", "nosuch=1"], ["--where", "model_a=nobody"],
                                  ["--by", "prompt_id", "--where", "model_a=nobody"], ["--cluster", "nosuch"],
                                  ["--style", "nosuch"]], ids=lambda a: " ".join(a))
def test_rank_column_errors_name_the_file(args, battles):
    proc = run("rank", str(battles), "-q", *args)
    assert_clear_error(proc, "battles.jsonl", "field")
    assert "<input>" not in proc.stderr


def test_rank_option_errors_do_not_blame_the_file(battles):
    proc = run("rank", str(battles), "-q", "--where", "no-equals-sign")
    assert proc.returncode == 2 and "--where must look like COLUMN=VALUE" in proc.stderr
    assert "battles.jsonl" not in proc.stderr


@pytest.mark.parametrize("args", [["--kind", "reward-model"], []], ids=["needs --gold", "only gold rows"])
def test_audit_input_errors_name_the_file(args, judged, tmp_path):
    vp, g1, _ = judged
    source = g1 if not args else vp  # without --kind: a file of gold rows only has no verdict to audit
    proc = run("audit", str(source), "-q", *args)
    assert_clear_error(proc, source.name, "field")
    assert "<input>" not in proc.stderr

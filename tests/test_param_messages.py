"""Library errors speak of parameters, the command line of flags (issue 15, parts 1 and 2).

A library message marks the parameters it names in backticks (``"`anchor` must look like
MODEL=RATING"``); ``str(err)`` shows them as parameters (``anchor must …``) and the CLI's
``fail`` spells them as the running command's flags (``--anchor must …``).  An error about an
option value is located by the option, never by a file or ``<input>``; an error about the data
names the file.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import referee
from _proc import assert_clear_error
from referee.errors import Flag, InputError, as_flags, as_parameters
from referee.sim import simulate_arena

EXE = str(Path(sys.executable).with_name("referee"))
SRC = Path(__file__).resolve().parents[1] / "src" / "referee"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    df, _ = simulate_arena(4, 400, seed=1, n_prompts=20)
    return df


@pytest.fixture(scope="module")
def battles(arena: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("params") / "battles.jsonl"
    arena.to_json(path, orient="records", lines=True)
    return path


# -- the mechanism ---------------------------------------------------------------------------------

FLAGS = {"anchor": Flag("--anchor"), "ci": Flag("--ci"), "lc": Flag("--lc"), "soft": Flag(None, "--hard"), "where": Flag("--where"),
         "baseline": Flag("--baseline"), "logprobs": Flag("--logprobs", "--no-logprobs"), "files": Flag(None)}


@pytest.mark.parametrize(("template", "library", "cli"), [
    ("`anchor` must look like MODEL=RATING", "anchor must look like MODEL=RATING", "--anchor must look like MODEL=RATING"),
    ("use `ci='bootstrap'`", "use ci='bootstrap'", "use --ci bootstrap"),
    ('use `ci="bootstrap"`', 'use ci="bootstrap"', "use --ci bootstrap"),
    ("`lc=True` needs `baseline=MODEL`", "lc=True needs baseline=MODEL", "--lc needs --baseline MODEL"),
    ("with `soft=False`", "with soft=False", "with --hard"),
    ("`logprobs=False` here", "logprobs=False here", "--no-logprobs here"),
    ("`where='a b=1'`", "where='a b=1'", "--where 'a b=1'"),
    ("`workers=4`", "workers=4", "workers=4"),  # no such flag: left as a parameter
    ("`soft` is on", "soft is on", "soft is on"),  # only an off-flag: the parameter's name
    ("run `referee demo --simulated`", "run `referee demo --simulated`", "run `referee demo --simulated`"),
])
def test_markers_read_as_parameters_or_as_flags(template: str, library: str, cli: str) -> None:
    assert as_parameters(template) == library
    assert as_flags(template, FLAGS) == cli
    err = InputError(template)
    assert err.message == library and err.template == template


def test_the_location_of_an_error_about_a_parameter_is_the_parameter() -> None:
    marked = InputError("`anchor` must look like MODEL=RATING", field="anchor")
    assert str(marked) == "anchor must look like MODEL=RATING"
    assert marked.render(FLAGS) == "--anchor must look like MODEL=RATING"
    unmarked = InputError("must be positive", field="ci")
    assert str(unmarked) == "<input>, field 'ci': must be positive"  # the library cannot tell a column
    assert unmarked.render(FLAGS) == "--ci: must be positive"  # the CLI knows its options
    assert InputError("no files given", field="files").render(FLAGS) == "no files given"  # an argument
    spelt = InputError("--ci must be positive", field="ci")  # a message that names the flag itself (judging, arena)
    assert spelt.render(FLAGS) == "--ci must be positive"
    data = InputError("unknown winner label 'x'", path="a.jsonl", line=3, field="winner")
    assert data.render(FLAGS) == str(data) == "a.jsonl, line 3, field 'winner': unknown winner label 'x'"
    moved = marked.located(path="a.jsonl")
    assert moved.template == marked.template and moved.render(FLAGS).endswith("--anchor must look like MODEL=RATING")


# -- both sides, for a handful of options ----------------------------------------------------------

CASES = [  # (rank keyword arguments, CLI arguments, library message, CLI message)
    ({"anchor": "bad"}, ["--anchor", "bad"],
     "anchor must look like MODEL=RATING, got 'bad'", "--anchor must look like MODEL=RATING, got 'bad'"),
    ({"level": 2.0}, ["--level", "2"], "level must lie strictly between 0 and 1",
     "--level must lie strictly between 0 and 1"),
    ({"ci": "magic"}, ["--ci", "magic"], "ci must be 'sandwich', 'bootstrap' or 'none'",
     "--ci must be 'sandwich', 'bootstrap' or 'none'"),
    ({"lc": True}, ["--lc"], "lc=True needs baseline=MODEL", "--lc needs --baseline MODEL"),
    ({"ci": "bootstrap", "rounds": 5}, ["--ci", "bootstrap", "--rounds", "5"],
     "a bootstrap needs at least 10 rounds (rounds), got 5", "a bootstrap needs at least 10 rounds (--rounds), got 5"),
    ({"ties": "never"}, ["--ties", "never"], "(tie models: model='davidson' or model='rao-kupper')",
     "(tie models: --model davidson or --model rao-kupper)"),
    ({"lc_difficulty": "d.json"}, ["--lc-difficulty", "d.json"],
     "lc_difficulty is for the length-controlled win rate: add lc=True",
     "--lc-difficulty is for the length-controlled win rate: add --lc"),
    ({"graded": "loud"}, ["--graded", "loud"], "graded must be one of", "--graded must be one of"),
    ({"anchor": "nobody=1200"}, ["--anchor", "nobody=1200"], "anchor model 'nobody' is not in the data",
     "--anchor model 'nobody' is not in the data"),
    ({"where": "no-equals-sign", "by": "prompt_id"}, ["--where", "no-equals-sign", "--by", "prompt_id"],
     "where must look like COLUMN=VALUE, got 'no-equals-sign'", "--where must look like COLUMN=VALUE"),
]


@pytest.mark.parametrize(("kwargs", "args", "library", "cli"), CASES, ids=lambda c: str(c)[:30])
def test_rank_option_errors_speak_of_parameters_and_flags(kwargs, args, library, cli, arena, battles) -> None:
    call = referee.rank_segments if "by" in kwargs else referee.rank
    with pytest.raises(InputError) as exc:
        call(arena, **kwargs)
    text = str(exc.value)
    assert library in text, text
    assert "--" not in text and "<input>" not in text, text
    proc = run("rank", str(battles), "-q", *args)
    assert_clear_error(proc, cli)
    assert "<input>" not in proc.stderr and "battles.jsonl" not in proc.stderr  # about the option, not the file


@pytest.mark.parametrize(("kwargs", "args", "library", "cli"), [
    ({"band": ["first_position_rate"]}, ["--band", "first_position_rate"],
     "band must look like NAME=LOW:HIGH", "--band must look like NAME=LOW:HIGH"),
    ({"band": {"accuracy": (0.5, 1)}}, ["--band", "accuracy=0.5:1"], "band: no band for 'accuracy'",
     "--band: no band for 'accuracy'"),
    ({"family": "judge"}, ["--family", "judge"], "family must look like JUDGE=FAMILY", "--family must look like"),
    ({"tie_policy": "majority"}, ["--tie-policy", "majority"], "tie_policy must be one of",
     "--tie-policy must be one of"),
    ({"rounds": -1}, ["--rounds", "-1"], "rounds must be >= 0", "--rounds must be >= 0"),
], ids=lambda c: str(c)[:30])
def test_audit_option_errors_speak_of_parameters_and_flags(kwargs, args, library, cli, arena, battles) -> None:
    with pytest.raises(InputError) as exc:
        referee.audit(arena.assign(judge="j"), **kwargs)
    text = str(exc.value)
    assert library in text and "--" not in text and "<input>" not in text, text
    proc = run("audit", str(battles), "-q", *args)
    assert_clear_error(proc, cli)
    assert "<input>" not in proc.stderr and "battles.jsonl" not in proc.stderr


def test_a_reward_model_audit_without_gold_names_the_option(arena, battles) -> None:
    with pytest.raises(InputError, match="needs gold: the pairs") as exc:
        referee.audit(arena, kind="reward-model")
    assert "--" not in str(exc.value)
    assert_clear_error(run("audit", str(battles), "--kind", "reward-model"), "battles.jsonl", "needs --gold")


# -- part 2: errors about the data name the file ------------------------------------------------

def test_rank_data_errors_name_the_file_and_option_errors_the_option(tmp_path: Path) -> None:
    path = tmp_path / "lonely.jsonl"
    path.write_text('{"model_a": "a", "model_b": "b", "winner": "model_a"}\n'
                    '{"model_a": "c", "model_b": "c", "winner": "tie"}\n')
    data = run("rank", str(path), "-q")
    assert_clear_error(data, "lonely.jsonl", "compared only with themselves")
    option = run("rank", str(path), "-q", "--level", "2")
    assert_clear_error(option, "--level must lie strictly between 0 and 1")
    assert "lonely.jsonl" not in option.stderr and "<input>" not in option.stderr


# -- part 1: no flag in a library message ------------------------------------------------------------

#: packages allowed to name flags in their messages (none: the CLI translates parameters)
NOT_YET: tuple[str, ...] = ()
FLAG = re.compile(r"(?<![\w-])--[a-z]")
COMMAND = re.compile(r"`[a-z][\w.-]* [^`]*`")  # a shell command in backticks (`ray start --head`) names its own flags
RAISERS = {"InputError", "text_error", "error"}  # InputError, io.source.text_error, io.fields.Fields.error


def _message_texts(call: ast.Call) -> str:
    """The constant text of a raise's message (the first argument; f-string parts joined)."""
    if not call.args:
        return ""
    return "".join(n.value for n in ast.walk(call.args[0]) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def library_messages_with_flags(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in (*NOT_YET, "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            text = COMMAND.sub("", _message_texts(node)) if name in RAISERS else ""
            if FLAG.search(text):
                found.append(f"{rel}:{node.lineno}: {text[:100]}")
    return found


def test_no_library_error_message_names_a_flag() -> None:
    assert library_messages_with_flags() == []


def test_the_scan_finds_a_flag(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        '"""Docstrings may say --anchor."""\n'
        "# so may comments: --anchor\n"
        'def f(x):\n    raise InputError(f"--anchor must look like MODEL=RATING, got {x!r}", field="anchor")\n'
        'def g():\n    raise InputError("or run `referee demo --simulated`")\n'
        'def h():\n    raise InputError("or `where=\'--x\'`")\n'
    )
    assert [s.split(":")[1] for s in library_messages_with_flags(tmp_path)] == ["4", "8"]

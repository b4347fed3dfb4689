"""Every CLI command is a thin shell over library functions with the same names (issue 15, parts 4 and 7).

``referee.cli.base.SHELLS`` says, per command, which library function(s) it calls and the
documented differences: options renamed on the way (``--hard`` is ``soft=False``) and options
that exist only on the command line (``--output``, ``--quiet``, ``--top``, …).  Everything else
must be a parameter of the same name, so the CLI and the library cannot drift apart.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from typer.main import get_command

import referee
from referee.cli import app
from referee.cli.base import SHELLS, Shell


def commands(group: Any = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(name as typed after ``referee``, click command) for every command, groups walked."""
    group = group or get_command(app)
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}".strip()
        if hasattr(cmd, "commands"):
            yield from commands(cmd, full)
        else:
            yield full, cmd


def parameters(shell: Shell) -> set[str]:
    """The parameter names of a shell's library functions (a class: its constructor's)."""
    names: set[str] = set()
    for target in shell.functions:
        module, _, attr = target.partition(":")
        fn = getattr(importlib.import_module(module), attr)
        names |= {p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names


ALL = list(commands())


def test_every_command_says_what_it_is_a_shell_over() -> None:
    assert sorted(SHELLS) == sorted(name for name, _ in ALL)


@pytest.mark.parametrize(("name", "cmd"), ALL, ids=[n for n, _ in ALL])
def test_options_are_parameters_of_the_same_name(name: str, cmd: Any) -> None:
    shell = SHELLS[name]
    params = parameters(shell)
    options = {p.name for p in cmd.params}
    stale = (set(shell.renamed) | set(shell.cli_only)) - options
    assert not stale, f"{name}: documented differences for options it does not have: {sorted(stale)}"
    assert not set(shell.renamed) & set(shell.cli_only), name
    drift = []
    for option in sorted(options):
        if option in shell.cli_only:
            assert option not in params, f"{name}: --{option} is documented as CLI-only, but {option} is a parameter"
            continue
        target = shell.renamed.get(option, option).removeprefix("!")
        if target not in params:
            drift.append(f"{option} → {target}")
    assert not drift, f"{name}: options without a library parameter of that name: {drift}"


def test_the_documented_renames_are_the_real_ones() -> None:
    """``--hard`` is ``soft=False``: the command passes the negation (and the CLI spells it back)."""
    from referee.cli.base import command_flags

    root = get_command(app)
    cmd = dict(ALL)["rank"]
    ctx = cmd.make_context("rank", ["x.jsonl"], parent=root.make_context("referee", ["rank"]))
    flags = command_flags(ctx)
    assert flags["soft"].off == "--hard" and flags["soft"].on is None
    assert flags["anchor"].on == "--anchor" and flags["lc_difficulty"].on == "--lc-difficulty"
    assert flags["data"].on is None  # the FILE... argument


RANK_SIGNATURE = [  # referee.rank's public signature (issue 15 part 4: splitting it must not change it)
    ("data", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty), ("format", "KEYWORD_ONLY", None),
    ("model", "KEYWORD_ONLY", "bt"), ("ties", "KEYWORD_ONLY", "half"), ("graded", "KEYWORD_ONLY", "auto"),
    ("first_position", "KEYWORD_ONLY", False), ("style", "KEYWORD_ONLY", None),
    ("style_unit", "KEYWORD_ONLY", "tokens"), ("ci", "KEYWORD_ONLY", "sandwich"), ("rounds", "KEYWORD_ONLY", 1000),
    ("cluster", "KEYWORD_ONLY", None), ("seed", "KEYWORD_ONLY", 0), ("level", "KEYWORD_ONLY", 0.95),
    ("baseline", "KEYWORD_ONLY", None), ("lc", "KEYWORD_ONLY", False), ("lc_length", "KEYWORD_ONLY", "chars"),
    ("lc_difficulty", "KEYWORD_ONLY", None), ("lc_rounds", "KEYWORD_ONLY", 200), ("anchor", "KEYWORD_ONLY", None),
    ("soft", "KEYWORD_ONLY", True), ("elo_k", "KEYWORD_ONLY", 4.0), ("elo_shuffles", "KEYWORD_ONLY", 0),
    ("workers", "KEYWORD_ONLY", 2), ("progress", "KEYWORD_ONLY", None), ("merge_case", "KEYWORD_ONLY", False),
    ("ray", "KEYWORD_ONLY", None),  # added with the Ray scale-out (issue 14), after every earlier keyword
]


def test_rank_signature_is_unchanged() -> None:
    sig = inspect.signature(referee.rank)
    assert [(p.name, p.kind.name, p.default) for p in sig.parameters.values()] == RANK_SIGNATURE
    assert sig.return_annotation in ("Leaderboard", referee.Leaderboard)


def test_rank_on_ray_knows_every_rank_keyword_and_default() -> None:
    """``rank(..., ray=)`` hands every other keyword to :func:`rank_on_ray`, which keeps its own list."""
    from referee.ranking.distributed import RANK_DEFAULTS, ROW_OPTIONS

    keywords = {n: p.default for n, p in inspect.signature(referee.rank).parameters.items() if n not in ("data", "ray")}
    assert set(keywords) == set(RANK_DEFAULTS) | set(ROW_OPTIONS)
    assert {n: keywords[n] for n in RANK_DEFAULTS} == RANK_DEFAULTS

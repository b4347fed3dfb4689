"""Generate ``docs/cli.md`` from the Typer app: every command and subcommand, every argument
and option with its help and default, and one example per command.

    python scripts/gen_cli_docs.py            # (re)write docs/cli.md   (`make docs`)
    python scripts/gen_cli_docs.py --check    # exit 1 when docs/cli.md is out of date

The text depends only on the app (no terminal width, no home directory), so the committed file
can be compared with a fresh rendering; ``tests/test_docs.py`` does.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "cli.md"
PROG = "referee"

#: one example per command, keyed by the command path without the program name
EXAMPLES: dict[str, str] = {
    "rank": "referee rank battles.jsonl --ci bootstrap --rounds 1000 --cluster prompt_id -o board.html",
    "audit": "referee audit verdicts.jsonl --gold human.jsonl -o audit.html",
    "audit-validate": "referee audit-validate --n 500 --effect 0.1",
    "judge": "referee judge --outputs outputs/*.json --baseline gpt4_1106_preview --judge local -o verdicts.jsonl",
    "jury": "referee jury ratings-gpt4/ ratings-claude/ ratings-bard/ --method weighted --gold ratings-human/ -o jury.jsonl",
    "demo": "referee demo --simulated",
    "train-rm": "referee train-rm pairs.jsonl --encoder minilm --holdout 0.2 --seed 0 -o rm/",
    "score": "referee score outputs/*.json --scorer rm:rm/ -o scores.jsonl",
    "best-of-n": "referee best-of-n samples.jsonl --scorer rm:rm/ -o picked.jsonl",
    "export-pairs": "referee export-pairs verdicts.jsonl -o pairs.jsonl --min-margin 0.2",
    "arena serve": "referee arena serve --outputs outputs/*.json --db sqlite:///arena.db",
    "arena invite": "referee arena invite --db sqlite:///arena.db --name alice --url http://127.0.0.1:8000",
    "arena export": "referee arena export --db sqlite:///arena.db -o votes.jsonl",
    "arena revoke": "referee arena revoke --db sqlite:///arena.db --name alice",
    "plan simulate": "referee plan simulate --truth board.json --plans random,active,swiss --budget 5%,10%,25% --seeds 50 -o plan.html",
    "plan next": "referee plan next verdicts.jsonl --outputs outputs/*.json --n 500 -o next_pairs.jsonl",
}

HEADER = f"""# The `{PROG}` command line

<!-- Generated from the Typer app by `make docs` (scripts/gen_cli_docs.py). Do not edit by hand:
     change the help texts in src/referee/cli/ or the examples in the script, then run `make docs`. -->
"""


def root_command() -> Any:
    """The Click command behind ``referee`` (imported here so ``--help`` of this script stays fast)."""
    import typer

    from referee.cli import app

    return typer.main.get_command(app)


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, command) for the command and every subcommand, depth first, in declaration order."""
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if not getattr(sub, "hidden", False):
            yield from walk(sub, (*path, name))


def is_group(command: Any) -> bool:
    """Whether ``command`` has subcommands."""
    return bool(getattr(command, "commands", None))


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _help(command: Any) -> str:
    return inspect.cleandoc(command.help or "").strip()


def _is_argument(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    return str(value)


def default_text(param: Any) -> str:
    """The default as the docs show it: ``–`` for none, on/off for flags."""
    default = param.default
    if callable(default):
        return "computed at run time"
    if _is_flag(param) and not getattr(param, "secondary_opts", None):
        return "on" if default else "off"
    if default is None or default == () or default == []:
        return "–"
    if isinstance(default, bool):
        return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
    return f"`{_value(default)}`"


def option_names(param: Any) -> str:
    """``--output`` / ``-o`` and the value placeholder, e.g. ```--seed SEED```."""
    names = " / ".join(f"`{n}`" for n in [*param.opts, *getattr(param, "secondary_opts", [])])
    if _is_flag(param):
        return names
    return f"{names} `{param.metavar or (param.name or 'value').upper()}`"


def usage(path: tuple[str, ...], command: Any) -> str:
    """``referee rank [OPTIONS] FILES...`` from the command's parameters."""
    parts = [PROG, *path, "[OPTIONS]"]  # every command has at least --help
    for p in command.params:
        if getattr(p, "hidden", False):
            continue
        if _is_argument(p):
            name = (p.name or "arg").upper() + ("..." if p.nargs == -1 else "")
            parts.append(name if p.required else f"[{name}]")
    if is_group(command):
        parts.append("COMMAND [ARGS]...")
    return " ".join(parts)


def render_command(path: tuple[str, ...], command: Any) -> list[str]:
    """The section of one command: help, usage, example, arguments, options, subcommands."""
    title = " ".join((PROG, *path))
    lines = [f"## `{title}`" if path else "## Global options", ""]
    text = _help(command)
    if text and path:
        lines += [text, ""]
    lines += ["```", usage(path, command), "```", ""]
    key = " ".join(path)
    if key in EXAMPLES:
        lines += ["Example:", "", "```bash", EXAMPLES[key], "```", ""]
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    args = [p for p in params if _is_argument(p)]
    opts = [p for p in params if not _is_argument(p)]
    if args:
        lines += ["| Argument | Description | Required |", "|---|---|---|"]
        for p in args:
            name = (p.name or "arg").upper() + ("..." if p.nargs == -1 else "")
            lines.append(f"| `{name}` | {_cell(getattr(p, 'help', None) or '')} | {'yes' if p.required else 'no'} |")
        lines.append("")
    lines += ["| Option | Description | Default |", "|---|---|---|"]
    for p in opts:
        help_text = getattr(p, "help", None) or ""
        if p.required:
            help_text += " (required)"
        lines.append(f"| {option_names(p)} | {_cell(help_text)} | {default_text(p)} |")
    lines.append("| `--help` | Show the help and exit. | |")
    lines.append("")
    if is_group(command):
        lines += ["| Command | Description |", "|---|---|"]
        for name, sub in command.commands.items():
            if not getattr(sub, "hidden", False):
                anchor = "-".join((PROG, *path, name))
                lines.append(f"| [`{' '.join((PROG, *path, name))}`](#{anchor}) | {_cell(_summary(sub))} |")
        lines.append("")
    return lines


def _summary(command: Any) -> str:
    """The first sentence / line of a command's help."""
    text = command.short_help or _help(command)
    return text.split("\n\n")[0]


def render(command: Any | None = None) -> str:
    """The whole of ``docs/cli.md``."""
    command = command or root_command()
    lines = [HEADER, _help(command), ""]
    for path, cmd in walk(command):
        lines += render_command(path, cmd)
    return "\n".join(lines).rstrip() + "\n"


def missing_examples(command: Any | None = None) -> list[str]:
    """Commands (not groups) that have no entry in :data:`EXAMPLES`."""
    command = command or root_command()
    return [" ".join(p) for p, c in walk(command) if p and not is_group(c) and " ".join(p) not in EXAMPLES]


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/cli.md`` (or, with ``--check``, say whether it is up to date)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/cli.md is out of date")
    args = parser.parse_args(argv)
    command = root_command()
    missing = missing_examples(command)
    if missing:
        print(f"no example for: {', '.join(missing)} (add them to EXAMPLES in {Path(__file__).name})", file=sys.stderr)
        return 1
    text = render(command)
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(REPO)} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The Typer app and what every ``referee`` command shares: tidy help, greedy options, error exit,
output checks and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from referee import __version__
from referee.errors import InputError, source_name

#: the input formats `--format` accepts (``referee.io.FORMATS``; kept here so that ``--help``
#: does not import pandas — tests/test_frictions.py checks that the two agree)
FORMATS = (
    "arena", "alpaca_eval", "mt_bench", "fastchat_pair", "arena_hard", "prd", "generic",
    "llmbar", "judgebench", "autoj", "pandalm", "pairs",
)
FORMAT_HELP = f"Input format: {' | '.join(FORMATS)} (default: detected from each file's content)."


class Argument(TyperArgument):
    """A positional argument whose help shows its metavar (``FILE...``) instead of a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


def tidy_params(params: list[Any]) -> None:
    """Help without Python types: flags show no value, other parameters their metavar
    (given in the option, else the parameter's name in capitals)."""
    for param in params:
        if isinstance(param, TyperArgument):
            param.__class__ = Argument
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()


class Tidy:
    """Mixin for referee's commands and groups: tidy help; ``GREEDY`` options take every value
    that follows them (``--gold a.jsonl b.jsonl`` is ``--gold a.jsonl --gold b.jsonl``)."""

    GREEDY: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_params(self.params)  # type: ignore[attr-defined]

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread(args, self.GREEDY))  # type: ignore[misc]


def spread(args: list[str], greedy: tuple[str, ...]) -> list[str]:
    """``--opt a b --x`` → ``--opt a --opt b --x`` for the options in ``greedy``: every argument
    after such an option up to the next option (or ``--``) is one more value of it."""
    out: list[str] = []
    current: str | None = None  # the greedy option whose values are being read
    expect_value = False  # the next argument is the value of the option just seen
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if expect_value:
            out.append(arg)
            expect_value = False
        elif arg.startswith("-") and arg != "-":
            name, eq, _ = arg.partition("=")
            current = name if name in greedy else None
            expect_value = current is not None and not eq
            out.append(arg)
        elif current is not None:
            out += [current, arg]
        else:
            out.append(arg)
    return out


class Group(Tidy, TyperGroup):
    pass


class Command(Tidy, TyperCommand):
    pass


class AuditCommand(Command):
    GREEDY = ("--gold", "--scores")


app = typer.Typer(
    name="referee",
    help="Turn preference signals (votes, LLM-judge verdicts, reward scores) into measurements you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)


def fail(err: Exception) -> None:
    typer.echo(f"referee: error: {err}", err=True)
    raise typer.Exit(code=2)


#: fields of ``rank`` errors that name a value typed on the command line, not the data read
def located(err: InputError, files: list[str], options: frozenset[str] = frozenset()) -> InputError:
    """``err`` located at the input ``files`` (e.g. a ``--by``/``--where``/``--cluster``/``--style`` column
    missing from them), unless it already names a file or is about one of ``options``."""
    return err if err.field in options else err.located(path=source_name(files))


def check_outputs(*paths: Path | None) -> None:
    """Refuse, before any work, an output whose folder does not exist (no folders are created)."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            fail(InputError(f"the folder {str(path.parent)!r} does not exist; create it first", path=str(path),
                             field="output"))


@contextmanager
def progress_bar(disabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar fed by a (done, total) callback; None when disabled."""
    if disabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _version(value: bool) -> None:
    if value:
        typer.echo(f"referee {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """referee command line."""


def one_line_warnings() -> None:
    """Print referee's own warnings (:class:`~referee.errors.RefereeWarning`) as one line on stderr."""
    import warnings

    from referee.errors import RefereeWarning

    python_show = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: object = None, line: str | None = None) -> None:
        if issubclass(category, RefereeWarning):
            print(f"referee: warning: {message}", file=sys.stderr)
        else:
            python_show(message, category, filename, lineno, file, line)  # type: ignore[arg-type]

    warnings.showwarning = show


def main() -> None:
    one_line_warnings()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

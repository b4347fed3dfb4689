"""The Typer app and what every ``referee`` command shares: tidy help, greedy options, error exit,
output checks and progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from referee import __version__
from referee.errors import Flag, InputError, source_name

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
        rest: list[str] = super().parse_args(ctx, spread(args, self.GREEDY))  # type: ignore[misc]
        return rest

    def invoke(self, ctx: Any) -> Any:
        """Run the command, known meanwhile as the running one (:func:`fail` spells its flags)."""
        token = RUNNING.set(ctx)
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        finally:
            RUNNING.reset(token)


#: the click context of the command being run (innermost), for :func:`command_flags`
RUNNING: ContextVar[Any] = ContextVar("referee_running_command", default=None)


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


# -- commands as shells over library functions ------------------------------------------------------
OUTPUT = "the command saves the returned result (the library returns it: .save(path) / referee.io.write)"
QUIET = "terminal output only"


@dataclass(frozen=True)
class Shell:
    """What a command is a thin shell over: its library function(s) (``"module:name"``), and how
    its options and arguments map onto their parameters.

    Every option is the parameter of the same name, except those in ``renamed`` (option →
    parameter; ``"!soft"`` when the flag sets the parameter to False: ``--hard`` is
    ``soft=False``) and in ``cli_only`` (option → why the library has no such parameter).
    ``tests/test_shells.py`` checks this against the commands and the functions' signatures, and
    :func:`fail` uses it to spell the parameters an error names as this command's flags.
    """

    functions: tuple[str, ...]
    renamed: Mapping[str, str] = field(default_factory=dict)
    cli_only: Mapping[str, str] = field(default_factory=dict)


#: command (as typed after ``referee``) → the library it is a shell over
SHELLS: dict[str, Shell] = {
    "rank": Shell(
        ("referee.ranking.api:rank", "referee.ranking.segments:rank_segments"),
        renamed={"files": "data", "hard": "!soft"},
        cli_only={"output": OUTPUT, "top": "rows shown in the terminal", "quiet": QUIET},
    ),
    "audit": Shell(("referee.auditing.api:audit", "referee.probing.run:probe", "referee.judging.run:JudgeSpec"),
                   renamed={"files": "verdicts",
                            # --probe runs referee.probe: the judge options as `referee judge` spells them
                            "probe": "probes", "judge_url": "url", "judge_model": "model", "judge_key_env": "key_env",
                            "judge_name": "name", "judge_local": "local", "no_cache": "!cache"},
                   cli_only={"output": OUTPUT, "quiet": QUIET,
                             "judge_config": "read with JudgeSpec.from_config(FILE) into judge_spec",
                             "fail_on_flags": "exit code 3 when the returned report's standing_flags is not empty"}),
    "audit-validate": Shell(("referee.auditing.validate:validate",), cli_only={"quiet": QUIET}),
    "judge": Shell(
        ("referee.judging.run:judge", "referee.judging.run:JudgeSpec"),
        renamed={
            "extra_outputs": "outputs", "judge_url": "url", "judge_model": "model", "judge_key_env": "key_env",
            "judge_name": "name", "judge_local": "local", "max_tokens_budget": "max_tokens",
            "single_order": "!both_orders", "no_cache": "!cache",
        },
        cli_only={
            "judge_config": "read with JudgeSpec.from_config(FILE) into judge_spec",
            "do_rank": "the command ranks the verdicts with referee.rank",
            "list_templates": "referee.judging.templates.available()",
            "quiet": QUIET,
        },
    ),
    "jury": Shell(("referee.judging.jury:jury",), cli_only={"quiet": QUIET}),
    "demo": Shell(("referee.demo:demo", "referee.demo:demo_simulated"), renamed={"prompts": "n_prompts"},
                  cli_only={"simulated": "runs referee.demo.demo_simulated instead of referee.demo.demo"}),
    "train-rm": Shell(("referee.scoring.rm:train_rm",), renamed={"output": "out"}, cli_only={"quiet": QUIET}),
    "score": Shell(("referee.scoring.api:score",), renamed={"ray_num_cpus": "num_cpus", "ray_num_gpus": "num_gpus"},
                   cli_only={"output": OUTPUT, "quiet": QUIET}),
    "best-of-n": Shell(("referee.scoring.bestofn:best_of_n",), cli_only={"output": OUTPUT, "quiet": QUIET}),
    "export-pairs": Shell(
        ("referee.scoring.export:export_pairs",),
        renamed={"keep_ties": "!drop_ties"},
        cli_only={"format": "the command reads the files with referee.read(format=...)", "output": OUTPUT,
                  "quiet": QUIET},
    ),
    "plan simulate": Shell(("referee.planning:simulate",), cli_only={"output": OUTPUT, "quiet": QUIET}),
    "plan next": Shell(("referee.planning:next_pairs",), renamed={"single_order": "calls_per_comparison"},
                       cli_only={"output": OUTPUT}),
    "arena serve": Shell(("referee.arena:serve",), renamed={"extra_outputs": "outputs"}),
    "arena invite": Shell(("referee.arena:invite",), cli_only={"url": "the command prints a login link"}),
    "arena export": Shell(("referee.arena:export",)),
    "arena revoke": Shell(("referee.arena:revoke",)),
}


def command_name(ctx: Any) -> str:
    """The command as typed after ``referee`` (``rank``, ``arena serve``)."""
    names: list[str] = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def command_flags(ctx: Any = None) -> dict[str, Flag]:
    """Library parameter → how the running command spells it (its :data:`SHELLS` entry and
    its click options: the longest ``--`` name; a ``!``-renamed flag turns its parameter off).
    Positional arguments have no flag (``Flag(None)``: an error about them needs no location)."""
    ctx = ctx or RUNNING.get()
    if ctx is None:
        return {}
    shell = SHELLS.get(command_name(ctx), Shell(()))
    out: dict[str, Flag] = {}
    for param in ctx.command.params:
        if param.name is None:
            continue
        if param.param_type_name != "option":
            out[param.name] = out[shell.renamed.get(param.name, param.name)] = Flag(None)
            continue
        longest = max((o for o in param.opts if o.startswith("--")), key=len, default=None)
        off = max((o for o in param.secondary_opts if o.startswith("--")), key=len, default=None)
        target = shell.renamed.get(param.name, param.name)
        name, flag = (target[1:], Flag(off, longest)) if target.startswith("!") else (target, Flag(longest, off))
        known = out.get(name, Flag(None))  # e.g. --cache FILE and --no-cache both set cache
        out[name] = Flag(known.on or flag.on, known.off or flag.off)
    return out


def fail(err: Exception) -> NoReturn:
    """Exit 2 with one line ``referee: error: …``; an :class:`InputError` speaks of the running
    command's flags where the library's message names its parameters."""
    text = err.render(command_flags()) if isinstance(err, InputError) else str(err)
    typer.echo(f"referee: error: {text}", err=True)
    raise typer.Exit(code=2)


def located(err: InputError, files: list[str], options: frozenset[str] | None = None) -> InputError:
    """``err`` located at the input ``files`` (e.g. a ``--by``/``--where``/``--cluster``/``--style`` column
    missing from them), unless it already names a file or is about a parameter: one its message
    names, or one of ``options`` (default: the running command's options)."""
    params = set(command_flags()) if options is None else set(options)
    if err.field in params or err.field in err.parameters:
        return err
    return err.located(path=source_name(files))


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

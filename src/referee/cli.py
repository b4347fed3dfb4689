"""The ``referee`` command line: thin shells over library functions of the same name."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from referee import __version__
from referee.errors import InputError

app = typer.Typer(
    name="referee",
    help="Turn preference signals (votes, LLM-judge verdicts, reward scores) into measurements you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(err: Exception) -> None:
    typer.echo(f"referee: error: {err}", err=True)
    raise typer.Exit(code=2)


@contextmanager
def _progress(disabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
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


@app.command()
def rank(
    files: Annotated[list[Path], typer.Argument(help="Comparison files (JSON, JSONL, CSV, Parquet; .gz/.xz ok).")],
    format: Annotated[str | None, typer.Option("--format", "-f", help="Input format (default: detect from content).")] = None,
    model: Annotated[str, typer.Option(help="bt | davidson | rao-kupper | elo")] = "bt",
    ties: Annotated[str, typer.Option(help="For bt: half (a tie is half a win) | drop")] = "half",
    graded: Annotated[str, typer.Option(help="Graded verdicts: auto (=ordinal) | ordinal | arena-hard | ignore")] = "auto",
    first_position: Annotated[bool, typer.Option("--first-position", help="Estimate a shown-first advantage.")] = False,
    style: Annotated[str | None, typer.Option(help="Style control covariates, e.g. length,markdown or column names.")] = None,
    style_unit: Annotated[str, typer.Option(help="Length unit for style control: tokens | chars")] = "tokens",
    ci: Annotated[str, typer.Option(help="sandwich | bootstrap | none")] = "sandwich",
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds.")] = 1000,
    cluster: Annotated[str | None, typer.Option(help="Clustered bootstrap by this column (prompt_id, voter).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (reported in the output).")] = 0,
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
    baseline: Annotated[str | None, typer.Option(help="Also report win rates vs this model.")] = None,
    lc: Annotated[bool, typer.Option("--lc", help="Length-controlled win rate vs --baseline.")] = False,
    lc_length: Annotated[str, typer.Option(help="Length unit for --lc: chars | tokens")] = "chars",
    anchor: Annotated[str | None, typer.Option(help="Pin a rating: MODEL=RATING.")] = None,
    hard: Annotated[bool, typer.Option("--hard", help="Ignore soft verdicts (prob_a); use winner labels.")] = False,
    elo_k: Annotated[float, typer.Option(help="Elo K factor.")] = 4.0,
    elo_shuffles: Annotated[int, typer.Option(help="Average Elo over this many shuffled orders.")] = 0,
    output: Annotated[list[Path] | None, typer.Option("--output", "-o", help="Write .json/.csv/.md/.html (repeatable).")] = None,
    top: Annotated[int, typer.Option(help="Show at most this many rows in the terminal (0 = all).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal table.")] = False,
) -> None:
    """Rank models from pairwise comparisons: Bradley–Terry ratings with CIs and rank intervals."""
    from referee.rank.api import rank as rank_fn

    if baseline is None and lc:
        _fail(InputError("--lc needs --baseline MODEL", field="lc"))
    try:
        with _progress(quiet or ci != "bootstrap", "bootstrap rounds") as progress:
            board = rank_fn(
                [str(f) for f in files],
                format=format,
                model=model,
                ties=ties,
                graded=graded,
                first_position=first_position,
                style=style,
                style_unit=style_unit,
                ci=ci,
                rounds=rounds,
                cluster=cluster,
                seed=seed,
                level=level,
                baseline=baseline,
                lc=lc,
                lc_length=lc_length,
                anchor=anchor,
                soft=not hard,
                elo_k=elo_k,
                elo_shuffles=elo_shuffles,
                progress=progress,
            )
        for out in output or []:
            board.save(out)
    except InputError as err:
        _fail(err)
    if not quiet:
        from referee.report.terminal import print_leaderboard

        print_leaderboard(board, top=top or None)
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's outputs.")] = Path("demo"),
    seed: Annotated[int, typer.Option(help="Seed of the simulated arena.")] = 7,
) -> None:
    """Offline demo: rank a simulated arena with known true strengths and write an HTML report."""
    from referee.demo import demo as run_demo

    run_demo(out=out, seed=seed)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

"""``referee rank``: a thin shell over :func:`referee.rank` (and :func:`referee.rank_segments` with ``--by``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from referee.cli.base import FORMAT_HELP, Command, app, check_outputs, fail, located, progress_bar
from referee.errors import InputError, NameWarning


@app.command(cls=Command)
def rank(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Comparison files (JSON, JSONL, CSV, Parquet; .gz/.xz ok).")],
    format: Annotated[str | None, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)] = None,
    model: Annotated[str, typer.Option(metavar="MODEL", help="bt | davidson | rao-kupper | elo")] = "bt",
    ties: Annotated[str, typer.Option(metavar="POLICY", help="For bt: half (a tie is half a win) | drop")] = "half",
    graded: Annotated[str, typer.Option(metavar="HOW", help="Graded verdicts: auto (=ordinal) | ordinal | arena-hard | ignore")] = "auto",
    first_position: Annotated[bool, typer.Option("--first-position", help="Estimate a shown-first advantage.")] = False,
    style: Annotated[str | None, typer.Option(metavar="COVARIATES", help="Style control covariates, e.g. length,markdown or column names.")] = None,
    style_unit: Annotated[str, typer.Option(metavar="UNIT", help="Length unit for style control: tokens | chars. Tokens (whitespace words) as arena-rank's style control does; --lc-length defaults to chars as AlpacaEval's LC does.")] = "tokens",
    ci: Annotated[str, typer.Option(metavar="METHOD", help="sandwich | bootstrap | none")] = "sandwich",
    rounds: Annotated[int, typer.Option(metavar="N", help="Bootstrap rounds (at least 10).")] = 1000,
    cluster: Annotated[str | None, typer.Option(metavar="COLUMN", help="Independent units for the CIs: a column (prompt_id, voter, pair_id) for cluster-robust sandwich / clustered bootstrap, or none (rows). Default: pair_id when pairs repeat (both orders), else rows.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (reported in the output).")] = 0,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="Confidence level.")] = 0.95,
    baseline: Annotated[str | None, typer.Option(metavar="MODEL", help="Also report win rates vs this model.")] = None,
    lc: Annotated[bool, typer.Option("--lc", help="Length-controlled win rate vs --baseline.")] = False,
    lc_length: Annotated[str, typer.Option(metavar="UNIT", help="Length unit for --lc: chars | tokens. Characters as AlpacaEval's LC win rate does (its published numbers); --style-unit defaults to tokens as arena-rank's style control does.")] = "chars",
    lc_difficulty: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Instruction difficulty for --lc: JSON {prompt_id|prompt: δ}, or JSONL/CSV with "
                          "prompt_id (or prompt) and difficulty columns (default: estimated from the data)."),
    ] = None,
    lc_rounds: Annotated[
        int, typer.Option(metavar="N", help="Bootstrap rounds over instructions for the LC win rate's SE (0: delta method).")
    ] = 200,
    anchor: Annotated[str | None, typer.Option(metavar="MODEL=RATING", help="Pin a rating: MODEL=RATING.")] = None,
    hard: Annotated[bool, typer.Option("--hard", help="Ignore soft verdicts (prob_a); use winner labels.")] = False,
    elo_k: Annotated[float, typer.Option(metavar="K", help="Elo K factor.")] = 4.0,
    elo_shuffles: Annotated[int, typer.Option(metavar="N", help="Average Elo over this many shuffled orders.")] = 0,
    output: Annotated[list[Path] | None, typer.Option("--output", "-o", metavar="FILE", help="Write .json/.csv/.md/.html (repeatable: -o a.json -o b.html); the folder must exist.")] = None,
    top: Annotated[int, typer.Option(metavar="N", help="Show at most this many rows in the terminal (0 = all).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal table.")] = False,
    merge_case: Annotated[bool, typer.Option("--merge-case", help="Merge model names that differ only by case.")] = False,
    by: Annotated[str | None, typer.Option("--by", metavar="COLUMN", help="Also one leaderboard per value of this column (category, language, turn, judge, voter…), a models × segments table and a test of whether strengths differ.")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", metavar="COLUMN=VALUE", help="Keep only rows with COLUMN=VALUE (repeatable; all must hold).")] = None,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help="Aggregate on a Ray cluster (auto, HOST:PORT or ray://…; needs referee[ray]), one task per file; the fit runs here.")] = None,
) -> None:
    """Rank models from pairwise comparisons: Bradley–Terry ratings with CIs and rank intervals."""
    from referee.ranking.api import rank as rank_fn

    check_outputs(*(output or []))
    try:
        data: object = [str(f) for f in files]
        rank_call: Callable[..., Any] = rank_fn
        names_warned = False
        if by is not None or where:
            from referee.ranking.segments import rank_segments, refuse_ray, select_rows

            refuse_ray(ray)

            if by is None:
                data = select_rows(data, where, format=format)  # --where alone: rank the selected rows
                names_warned = True  # when the rows were read
            else:
                rank_call = partial(rank_segments, by=by, where=where)
        with progress_bar(quiet or ci != "bootstrap", "bootstrap rounds") as progress, warnings.catch_warnings():
            if names_warned:
                warnings.simplefilter("ignore", NameWarning)
            board = rank_call(
                data,
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
                lc_difficulty=None if lc_difficulty is None else str(lc_difficulty),
                lc_rounds=lc_rounds,
                anchor=anchor,
                soft=not hard,
                elo_k=elo_k,
                elo_shuffles=elo_shuffles,
                progress=progress,
                merge_case=merge_case,
                ray=ray,
            )
        for out in output or []:
            board.save(out)
    except InputError as err:
        fail(located(err, [str(f) for f in files]))  # about the data read, unless about an option
    if not quiet and by is not None:
        board.print(top=top or None)
    elif not quiet:
        from referee.report.terminal import print_leaderboard

        print_leaderboard(board, top=top or None)
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)

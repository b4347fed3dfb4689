"""``referee jury``: a thin shell over :func:`referee.jury` (several judges' verdicts into one per pair)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from referee.cli.base import Command, app, check_outputs, fail
from referee.errors import InputError


class JuryCommand(Command):
    GREEDY = ("--gold",)


@app.command(cls=JuryCommand)
def jury(
    inputs: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Verdict tables (files or folders) of two or more judges, or one table with a judge column.")],
    method: Annotated[str, typer.Option(metavar="METHOD", help="majority | mean | weighted (by accuracy on --gold) | peer-rank (by agreement with the other judges).")] = "majority",
    gold: Annotated[list[Path] | None, typer.Option(metavar="FILE", help="Gold labels for --method weighted (default: human/gold rows among the inputs).")] = None,
    exclude_self: Annotated[bool, typer.Option("--exclude-self", help="Drop each judge's verdicts on pairs involving its own model.")] = False,
    judge_models: Annotated[str | None, typer.Option(metavar="JUDGE=MODEL,...", help="Which model each judge is, for --exclude-self (default: the model of the same name).")] = None,
    seed: Annotated[int, typer.Option(metavar="SEED", help="Seed of the accuracy bootstrap (--method weighted).")] = 0,
    rounds: Annotated[int, typer.Option(metavar="N", help="Bootstrap rounds of the accuracy CIs (--method weighted).")] = 1000,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="Confidence level of the accuracy CIs.")] = 0.95,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="The jury's comparisons table (.jsonl, .csv, .parquet), written only on success.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary (errors only).")] = False,
) -> None:
    """Combine several judges' verdicts per (prompt, pair) into one comparisons table (judge = jury:METHOD)."""
    from referee.judging.jury import jury as jury_fn

    check_outputs(output)
    try:
        table = jury_fn([str(p) for p in inputs], method=method, gold=[str(g) for g in gold] if gold else None,
                        exclude_self=exclude_self, output=output, seed=seed, judge_models=judge_models,
                        rounds=rounds, level=level)
    except InputError as err:
        fail(err)
    if not quiet:
        print_jury(table.attrs.get("jury", {}), table)


def print_jury(info: dict[str, Any], table: Any) -> None:
    """The alignment, each judge's weight (and CI) and the verdict counts, on stderr."""
    al = info.get("alignment", {})
    typer.echo(f"jury:{info.get('method')}: {len(table)} pairs from {al.get('judges')} judges "
               f"({al.get('aligned_all')} pairs judged by all of them)", err=True)
    for note in info.get("notes") or []:
        typer.echo(f"note: {note}", err=True)
    for judge, w in (info.get("weights") or {}).items():
        ci = "" if w.get("ci_low") is None else f" [{w['ci_low']:.3f}, {w['ci_high']:.3f}]"
        basis = (f"accuracy {w['accuracy']:.3f}" if "accuracy" in w else f"agreement {w['agreement']:.3f}")
        typer.echo(f"  {judge:<24} weight {w['weight']:.3f}{ci}  ({basis}, n={w.get('n')})", err=True)
    for judge, n in (info.get("excluded_self") or {}).items():
        typer.echo(f"  {judge}: {n} self-judgments excluded", err=True)
    counts = table["winner"].value_counts()
    typer.echo("verdicts: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items()), err=True)
    if info.get("output"):
        typer.echo(f"wrote jury table: {info['output']}", err=True)

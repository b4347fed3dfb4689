"""``referee plan simulate | next``: thin shells over :func:`referee.planning.simulate` and
:func:`referee.planning.next_pairs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from referee.cli.base import Command, Group, app, check_outputs, fail, progress_bar
from referee.errors import InputError

plan_app = typer.Typer(help="Plan which comparisons to judge: simulate plans, or write the next batch of pairs.",
                       no_args_is_help=True, cls=Group)
app.add_typer(plan_app, name="plan")

PlansOption = Annotated[str, typer.Option("--plans", metavar="LIST", help="Plans to compare, comma-separated: random, active, swiss, knockout.")]
TopK = Annotated[int | None, typer.Option("--top-k", metavar="K", help="Care about the top K (active weighs them; --until separated settles them; the top-k measure).")]
Until = Annotated[str | None, typer.Option("--until", metavar="RULE", help="Stop early: separated (every adjacent pair's intervals separated, jointly at --level).")]
Level = Annotated[float, typer.Option("--level", metavar="LEVEL", help="Confidence level of the stopping rule.")]
Seed = Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed of the plan (and of the simulated judge).")]


@plan_app.command("simulate", cls=Command)
def plan_simulate(
    truth: Annotated[Path | None, typer.Option("--truth", metavar="FILE", help="True ratings: a leaderboard JSON (referee's, {model: rating}, or the Chatbot Arena catalogue). Default: strengths from referee.sim.")] = None,
    replay: Annotated[list[Path] | None, typer.Option("--replay", metavar="FILE", help="Replay a recorded verdict table instead (any format referee rank reads); repeatable.")] = None,
    plans: PlansOption = "random,active,swiss",
    budget: Annotated[str, typer.Option("--budget", metavar="LIST", help="Budgets, comma-separated: shares of the round-robin calls (10%) or numbers of calls.")] = "5%,10%,25%",
    seeds: Annotated[int, typer.Option("--seeds", metavar="N", help="Simulated runs per plan.")] = 20,
    models: Annotated[int, typer.Option("--models", metavar="N", help="Models (with --truth: this many at evenly spaced ranks).")] = 20,
    prompts: Annotated[int, typer.Option("--prompts", metavar="N", help="Prompts of the simulated candidate set.")] = 120,
    ties: Annotated[str, typer.Option("--ties", metavar="MODEL", help="Simulated judge's ties: davidson | bt | none.")] = "davidson",
    first_position: Annotated[float, typer.Option("--first-position", metavar="LOGITS", help="Simulated judge's first-position bias (both orders are judged).")] = 0.2,
    category: Annotated[str, typer.Option("--category", metavar="NAME", help="Category of a Chatbot Arena catalogue file.")] = "full",
    top_k: TopK = None,
    until: Until = None,
    level: Level = 0.95,
    batch: Annotated[int, typer.Option("--batch", metavar="N", help="Comparisons per planner batch (the judge's concurrency).")] = 64,
    rounds: Annotated[int | None, typer.Option("--rounds", metavar="N", help="Swiss rounds (at most).")] = None,
    seed: Seed = 0,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Report: .html (charts), .json or .csv (every run); the folder must exist.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
) -> None:
    """Kendall τ and top-k accuracy against judge calls for each plan, with the spread over seeds."""
    from referee.planning import simulate

    check_outputs(output)
    try:
        with progress_bar(quiet, "simulating") as progress:
            result = simulate(
                truth=truth, replay=[str(p) for p in replay] if replay else None, plans=plans, budget=budget,
                seeds=seeds, models=models, prompts=prompts, ties=ties, first_position=first_position,
                top_k=top_k, until=until, level=level, batch=batch, rounds=rounds, category=category, seed=seed,
                progress=progress,
            )
        if output is not None:
            result.write(output)
    except InputError as err:
        fail(err)
    if not quiet:
        typer.echo(result.to_text())
    if output is not None:
        typer.echo(f"wrote {output}", err=True)


@plan_app.command("next", cls=Command)
def plan_next(
    verdicts: Annotated[list[Path] | None, typer.Argument(metavar="[VERDICTS...]", show_default=False, help="Verdicts so far (any format referee rank reads); none: the first batch.")] = None,
    outputs: Annotated[list[Path] | None, typer.Option("--outputs", metavar="FILE", help="Model outputs (any format referee judge reads); repeatable.")] = None,
    n: Annotated[int, typer.Option("--n", metavar="N", help="Comparisons in the batch.")] = 500,
    plan: Annotated[str, typer.Option("--plan", metavar="PLAN", help="random | active | swiss | knockout.")] = "active",
    pairs: Annotated[str, typer.Option("--pairs", metavar="round-robin|FILE", help="The candidate set: round-robin, or a file of (prompt_id, model_x, model_y).")] = "round-robin",
    baseline: Annotated[str | None, typer.Option("--baseline", metavar="MODEL", help="Candidates: every model against this one.")] = None,
    budget: Annotated[str | None, typer.Option("--budget", metavar="N|P%", help="Total judge calls of the plan, verdicts so far included (default: all candidates).")] = None,
    single_order: Annotated[bool, typer.Option("--single-order", help="One call per comparison (default: both orders, two calls).")] = False,
    top_k: TopK = None,
    until: Until = None,
    level: Level = 0.95,
    seed: Seed = 0,
    texts: Annotated[bool, typer.Option("--texts", help="Add prompt, response_x and response_y (for annotators).")] = False,
    questions: Annotated[Path | None, typer.Option("--questions", metavar="FILE", help="Question file for answer files without prompt text.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Pairs file (.jsonl, .csv, .parquet) that referee judge --pairs reads.")] = Path("next_pairs.jsonl"),
) -> None:
    """Write the next batch of pairs for an external process (human annotators, a batch API)."""
    from referee.planning import next_pairs

    check_outputs(output)
    try:
        if not outputs:
            raise InputError("no model outputs: pass --outputs FILE [FILE ...]", field="outputs")
        batch = next_pairs(
            [str(v) for v in verdicts] if verdicts else None, [str(o) for o in outputs], n=n, plan=plan,
            pairs=None if baseline else pairs, baseline=baseline, budget=budget, seed=seed, top_k=top_k, until=until,
            level=level, calls_per_comparison=1 if single_order else 2, texts=texts, questions=questions,
        )
        batch.write(output)
    except InputError as err:
        fail(err)
    for note in batch.notes:
        typer.echo(f"referee: note: {note}", err=True)
    typer.echo(batch.progress.line(), err=True)
    typer.echo(f"wrote {len(batch.pairs)} pairs to {output}", err=True)

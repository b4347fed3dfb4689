"""``referee judge``: a thin shell over :func:`referee.judge`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from referee.cli.base import Command, app, check_outputs, fail
from referee.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from referee.judging.types import Usage


@app.command(cls=Command)
def judge(
    outputs: Annotated[list[Path] | None, typer.Option("--outputs", metavar="FILE", help="Model outputs (AlpacaEval, Arena-Hard, JSONL/CSV); repeatable.")] = None,
    extra_outputs: Annotated[list[Path] | None, typer.Argument(metavar="[FILE...]", show_default=False, help="More output files (an unquoted glob after --outputs).")] = None,
    baseline: Annotated[str | None, typer.Option(metavar="MODEL", help="Judge every model against this one.")] = None,
    pairs: Annotated[str | None, typer.Option(metavar="round-robin|FILE", help="round-robin, or a file of (prompt_id, model_x, model_y).")] = None,
    judge_url: Annotated[str | None, typer.Option(metavar="URL", help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1.")] = None,
    judge_model: Annotated[str | None, typer.Option(metavar="MODEL", help="The judge model served there.")] = None,
    judge_key_env: Annotated[str | None, typer.Option(metavar="VAR", help="Environment variable holding the API key.")] = None,
    judge_config: Annotated[Path | None, typer.Option(metavar="FILE", help="YAML judge spec (url, model, key_env, template, prices, ...).")] = None,
    judge_local: Annotated[str | None, typer.Option("--judge", metavar="SPEC", help="local (embedded SmolLM2), local:PATH.gguf, or a reward model: rm:DIR, hf:PATH, dpo:POLICY,REF, length, overlap.")] = None,
    judge_name: Annotated[str | None, typer.Option(metavar="NAME", help="Name written in the judge column.")] = None,
    template: Annotated[str | None, typer.Option(metavar="NAME|FILE", help="Template name (see --list-templates) or a .j2 path.")] = None,
    rubric: Annotated[Path | None, typer.Option(metavar="FILE", help="Rubric judging: a YAML/JSON rubric (criteria: name, description, kind gate|preference|scale, weight); each criterion judged on its own, the verdict aggregated outside the judge; per-criterion rows go to <output>.criteria.<ext>.")] = None,
    rubric_calls: Annotated[str, typer.Option(metavar="HOW", help="With --rubric: separate (one call per criterion) | joint (one call for all criteria).")] = "separate",
    rubric_weights: Annotated[str, typer.Option(metavar="HOW", help="With --rubric: given (the rubric's) | redundancy (correlated criteria down-weighted) | learned (from --gold).")] = "given",
    mode: Annotated[str | None, typer.Option(metavar="MODE", help="pairwise | pointwise (default: the template's).")] = None,
    references: Annotated[list[Path] | None, typer.Option(metavar="FILE", help="Reference answers (reference-guided templates).")] = None,
    questions: Annotated[Path | None, typer.Option(metavar="FILE", help="Question file for answer files without prompt text.")] = None,
    temperature: Annotated[float | None, typer.Option(metavar="T", help="Judge sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--judge-max-tokens", metavar="N", help="Max tokens per judge answer.")] = None,
    logprobs: Annotated[bool | None, typer.Option("--logprobs/--no-logprobs", help="Ask for top logprobs.")] = None,
    top_logprobs: Annotated[int | None, typer.Option(metavar="N", help="How many alternatives per token.")] = None,
    single_order: Annotated[bool, typer.Option("--single-order", help="Judge each pair in one order only.")] = False,
    reconcile: Annotated[str, typer.Option(metavar="HOW", help="conservative | average | soft (how the two orders combine).")] = "conservative",
    seed: Annotated[int, typer.Option(metavar="SEED", help="Seed of the presentation-order assignment.")] = 0,
    cache: Annotated[Path | None, typer.Option(metavar="FILE", help="SQLite cache file (default: the user cache dir).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the cache.")] = False,
    concurrency: Annotated[int, typer.Option(metavar="N", help="Calls in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option(metavar="N", help="Requests per minute limit.")] = None,
    tpm: Annotated[float | None, typer.Option(metavar="N", help="Tokens per minute limit.")] = None,
    retries: Annotated[int, typer.Option(metavar="N", help="Retries per call on 429/5xx/timeouts.")] = 6,
    timeout: Annotated[float | None, typer.Option(metavar="SECONDS", help="Per-call timeout in seconds.")] = None,
    max_calls: Annotated[int | None, typer.Option(metavar="N", help="Budget: stop after this many calls.")] = None,
    max_tokens_budget: Annotated[
        int | None, typer.Option("--max-tokens", metavar="N", help="Budget: stop before this many tokens in total (in + out).")
    ] = None,
    max_cost: Annotated[float | None, typer.Option(metavar="USD", help="Budget: stop before spending more than this (USD).")] = None,
    price_in: Annotated[float | None, typer.Option(metavar="USD", help="USD per 1k input tokens.")] = None,
    price_out: Annotated[float | None, typer.Option(metavar="USD", help="USD per 1k output tokens.")] = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Skip pairs with missing outputs (counted).")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Verdicts file (.jsonl, .csv, .parquet); the folder must exist.")] = None,
    plan: Annotated[str, typer.Option(metavar="PLAN", help="Which candidate pairs to judge: all | random | active | swiss | knockout (see `referee plan simulate`).")] = "all",
    budget: Annotated[str | None, typer.Option(metavar="N|P%", help="With --plan: at most N judge calls, or P% of the calls all candidates need (both orders count as two).")] = None,
    until: Annotated[str | None, typer.Option(metavar="RULE", help="With --plan: stop early: separated (adjacent rank intervals, or the --top-k, separated at --level).")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", metavar="K", help="With --plan active / --until separated: care about the top K.")] = None,
    rounds: Annotated[int | None, typer.Option(metavar="N", help="With --plan swiss: the number of rounds.")] = None,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="With --until separated: the confidence level.")] = 0.95,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help="Judge on a Ray cluster (auto, HOST:PORT or ray://…; needs referee[ray]): the judge backend runs as Ray actors; planning, cache and rate limits stay here.")] = None,
    replicas: Annotated[int, typer.Option(metavar="N", help="With --ray: judge replicas (Ray actors).")] = 1,
    ray_num_cpus: Annotated[float, typer.Option("--ray-num-cpus", metavar="N", help="With --ray: CPUs per replica.")] = 1.0,
    ray_num_gpus: Annotated[float, typer.Option("--ray-num-gpus", metavar="N", help="With --ray: GPUs per replica.")] = 0.0,
    do_rank: Annotated[bool, typer.Option("--rank", help="Rank the verdicts at the end.")] = False,
    list_templates: Annotated[bool, typer.Option("--list-templates", help="List the shipped templates and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, summary or tables (errors only).")] = False,
    samples: Annotated[int, typer.Option(metavar="K", help="Self-consistency: ask every game K times (needs --temperature above 0); prob_a is the vote share (with --logprobs the mean P(A)).")] = 1,
    jury: Annotated[str | None, typer.Option(metavar="METHOD", help="With a panel --judge-config (a judges: list): combine its judges, majority | mean | weighted | peer-rank; the jury table goes to <output>.jury.<ext>.")] = None,
    gold: Annotated[list[Path] | None, typer.Option(metavar="FILE", help="Gold labels: with --jury weighted they weigh each judge by its accuracy; with --rubric-weights learned they fit the criteria's weights.")] = None,
) -> None:
    """LLM-as-a-judge on any OpenAI-compatible endpoint (or the embedded local model), both orders by default."""
    try:
        if list_templates:
            from referee.judging.templates import available

            for name, description in available().items():
                typer.echo(f"{name:<22} {description}")
            return
        from referee.judging.panel import load_panel
        from referee.judging.run import judge as judge_fn
        from referee.judging.spec import from_options

        panel = load_panel(judge_config, temperature=temperature, max_tokens=max_tokens,
                           logprobs=logprobs, top_logprobs=top_logprobs, price_in=price_in, price_out=price_out,
                           timeout=timeout) if judge_config else None
        spec = panel if panel is not None else from_options(
            judge_config, url=judge_url, model=judge_model, key_env=judge_key_env, name=judge_name, temperature=temperature,
            max_tokens=max_tokens, logprobs=logprobs, top_logprobs=top_logprobs, price_in=price_in, price_out=price_out,
            timeout=timeout, judge=judge_local,
        )  # fmt: skip
        check_outputs(output)
        with judge_progress(quiet) as progress:
            result = judge_fn(
                [str(f) for f in [*(outputs or []), *(extra_outputs or [])]],
                judge_spec=spec,
                baseline=baseline,
                pairs=pairs,
                mode=mode,
                template=template,
                rubric=rubric,
                rubric_calls=rubric_calls,
                rubric_weights=rubric_weights,
                references=[str(r) for r in references] if references else None,
                questions=questions,
                both_orders=not single_order,
                reconcile=reconcile,
                seed=seed,
                cache=False if no_cache else (cache or True),
                concurrency=concurrency,
                rpm=rpm,
                tpm=tpm,
                retries=retries,
                max_calls=max_calls,
                max_tokens=max_tokens_budget,
                max_cost=max_cost,
                allow_missing=allow_missing,
                progress=progress,
                output=output,
                plan=plan,
                budget=budget,
                until=until,
                top_k=top_k,
                rounds=rounds,
                level=level,
                ray=ray,
                replicas=replicas,
                ray_num_cpus=ray_num_cpus,
                ray_num_gpus=ray_num_gpus,
                samples=samples,
                jury=jury,
                gold=[str(g) for g in gold] if gold else None,
            )
        if not quiet:
            typer.echo(result.summary(), err=True)
            for note in result.meta.get("notes") or []:
                typer.echo(f"note: {note}", err=True)
            for what, path in (result.meta.get("outputs") or {}).items():
                typer.echo(f"wrote {what}: {path}", err=True)
        if result.meta.get("mode") == "pointwise":
            if not quiet:
                _print_scores(result.scores())
        elif do_rank:
            board = result.rank()
            if not quiet:
                from referee.report.terminal import print_leaderboard

                print_leaderboard(board)
    except InputError as err:
        fail(err)


@contextmanager
def judge_progress(disabled: bool) -> Iterator[Callable[..., None] | None]:
    """A Rich bar with ETA, calls/s, tokens and cost, fed by the engine's (done, total, usage) callback."""
    if disabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.monotonic()
    with Progress(
        TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("judging", total=None, info="")

        def update(done: int, total: int, usage: Usage) -> None:
            rate = usage.calls / max(time.monotonic() - start, 1e-9)
            info = (
                f"{rate:,.0f} calls/s · {usage.prompt_tokens + usage.completion_tokens:,} tokens · "
                f"${usage.cost:.4f} · {usage.cache_hits} cached"
            )
            bar.update(task, completed=done, total=total, info=info)

        yield update


def _print_scores(scores: pd.DataFrame) -> None:
    """The pointwise score table (:meth:`referee.judging.output.JudgeResult.scores`)."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title="pointwise scores", title_justify="left")
    for col in ("model", "mean score", "n", "unparsed"):
        out.add_column(col, justify="left" if col == "model" else "right")
    for row in scores.to_dict("records"):
        mean = f"{row['mean_score']:.2f}" if row["n"] else "–"
        out.add_row(str(row["model"]), mean, str(row["n"]), str(row["unparsed"]))
    Console().print(out)

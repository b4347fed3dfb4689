"""``referee judge``: a thin shell over :func:`referee.judge`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from referee.cli.base import Command, app, check_outputs, fail
from referee.errors import InputError


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
    judge_local: Annotated[str | None, typer.Option("--judge", metavar="SPEC", help="local (embedded SmolLM2), local:PATH.gguf, or a reward model: rm:DIR, hf:PATH, dpo:POLICY,REF, length.")] = None,
    judge_name: Annotated[str | None, typer.Option(metavar="NAME", help="Name written in the judge column.")] = None,
    template: Annotated[str | None, typer.Option(metavar="NAME|FILE", help="Template name (see --list-templates) or a .j2 path.")] = None,
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
    do_rank: Annotated[bool, typer.Option("--rank", help="Rank the verdicts at the end.")] = False,
    list_templates: Annotated[bool, typer.Option("--list-templates", help="List the shipped templates and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, summary or tables (errors only).")] = False,
) -> None:
    """LLM-as-a-judge on any OpenAI-compatible endpoint (or the embedded local model), both orders by default."""
    try:
        if list_templates:
            from referee.judging.templates import available

            for name, description in available().items():
                typer.echo(f"{name:<22} {description}")
            return
        from referee.judging.run import JudgeSpec
        from referee.judging.run import judge as judge_fn

        overrides = {
            "url": judge_url, "model": judge_model, "key_env": judge_key_env, "name": judge_name,
            "temperature": temperature, "max_tokens": max_tokens, "logprobs": logprobs, "top_logprobs": top_logprobs,
            "price_in": price_in, "price_out": price_out, "timeout": timeout, "judge": judge_local,
        }  # fmt: skip
        spec = JudgeSpec.from_config(judge_config, **overrides) if judge_config else JudgeSpec().updated(**overrides)
        files = [str(f) for f in [*(outputs or []), *(extra_outputs or [])]]
        check_outputs(output)
        if not files:
            raise InputError("no model outputs: pass --outputs FILE [FILE ...]", field="outputs")
        with judge_progress(quiet) as progress:
            result = judge_fn(
                files,
                judge_spec=spec,
                baseline=baseline,
                pairs=pairs,
                mode=mode,
                template=template,
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
            )
        if not quiet:
            typer.echo(result.summary(), err=True)
            for note in result.meta.get("notes") or []:
                typer.echo(f"note: {note}", err=True)
            for what, path in (result.meta.get("outputs") or {}).items():
                typer.echo(f"wrote {what}: {path}", err=True)
        if result.meta.get("mode") == "pointwise":
            if not quiet:
                _print_scores(result.table)
            return
        if do_rank:
            from referee.ranking.api import rank as rank_fn
            from referee.report.terminal import print_leaderboard

            board = rank_fn(result.comparisons())
            if not quiet:
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

    start = __import__("time").monotonic()
    with Progress(
        TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("judging", total=None, info="")

        def update(done: int, total: int, usage) -> None:
            rate = usage.calls / max(__import__("time").monotonic() - start, 1e-9)
            info = (
                f"{rate:,.0f} calls/s · {usage.prompt_tokens + usage.completion_tokens:,} tokens · "
                f"${usage.cost:.4f} · {usage.cache_hits} cached"
            )
            bar.update(task, completed=done, total=total, info=info)

        yield update


def _print_scores(table) -> None:
    """Mean pointwise score per model (parsed rows only)."""
    from rich.console import Console
    from rich.table import Table

    ok = table[table["parse_status"] == "ok"]
    out = Table(title="pointwise scores", title_justify="left")
    for col in ("model", "mean score", "n", "unparsed"):
        out.add_column(col, justify="left" if col == "model" else "right")
    for model, group in table.groupby("model"):
        scores = ok.loc[ok["model"] == model, "score"]
        out.add_row(str(model), f"{scores.mean():.2f}" if len(scores) else "–", str(len(scores)), str(len(group) - len(scores)))
    Console().print(out)

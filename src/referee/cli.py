"""The ``referee`` command line: thin shells over library functions of the same name."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
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


class _Argument(TyperArgument):
    """A positional argument whose help shows its metavar (``FILE...``) instead of a Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


def _tidy_params(params: list[Any]) -> None:
    """Help without Python types: flags show no value, other parameters their metavar
    (given in the option, else the parameter's name in capitals)."""
    for param in params:
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = (param.name or "value").upper()


class _Tidy:
    """Mixin for referee's commands and groups: tidy help; ``GREEDY`` options take every value
    that follows them (``--gold a.jsonl b.jsonl`` is ``--gold a.jsonl --gold b.jsonl``)."""

    GREEDY: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_params(self.params)  # type: ignore[attr-defined]

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _spread(args, self.GREEDY))  # type: ignore[misc]


def _spread(args: list[str], greedy: tuple[str, ...]) -> list[str]:
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


class _Group(_Tidy, TyperGroup):
    pass


class _Command(_Tidy, TyperCommand):
    pass


class _AuditCommand(_Command):
    GREEDY = ("--gold", "--scores")


app = typer.Typer(
    name="referee",
    help="Turn preference signals (votes, LLM-judge verdicts, reward scores) into measurements you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _fail(err: Exception) -> None:
    typer.echo(f"referee: error: {err}", err=True)
    raise typer.Exit(code=2)


#: fields of ``rank`` errors that name a value typed on the command line, not the data read
RANK_OPTIONS = frozenset({"model", "ties", "graded", "ci", "rounds", "level", "lc", "lc_rounds", "lc_difficulty",
                          "anchor", "where", "style_unit", "lc_length"})


def _located(err: InputError, files: list[str], options: frozenset[str] = frozenset()) -> InputError:
    """``err`` located at the input ``files`` (e.g. a ``--by``/``--where``/``--cluster``/``--style`` column
    missing from them), unless it already names a file or is about one of ``options``."""
    return err if err.field in options else err.located(path=source_name(files))


def _check_outputs(*paths: Path | None) -> None:
    """Refuse, before any work, an output whose folder does not exist (no folders are created)."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            _fail(InputError(f"the folder {str(path.parent)!r} does not exist; create it first", path=str(path),
                             field="output"))


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


@app.command(cls=_Command)
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
) -> None:
    """Rank models from pairwise comparisons: Bradley–Terry ratings with CIs and rank intervals."""
    from referee.rank.api import rank as rank_fn

    if baseline is None and lc:
        _fail(InputError("--lc needs --baseline MODEL", field="lc"))
    _check_outputs(*(output or []))
    try:
        data: object = [str(f) for f in files]
        rank_call: Callable[..., Any] = rank_fn
        if by is not None or where:
            from referee.rank.segments import rank_segments, select_rows

            if by is None:
                data = select_rows(data, where, format=format)  # --where alone: rank the selected rows
            else:
                rank_call = partial(rank_segments, by=by, where=where)
        with _progress(quiet or ci != "bootstrap", "bootstrap rounds") as progress:
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
            )
        for out in output or []:
            board.save(out)
    except InputError as err:
        _fail(_located(err, [str(f) for f in files], RANK_OPTIONS))
    if not quiet and by is not None:
        board.print(top=top or None)
    elif not quiet:
        from referee.report.terminal import print_leaderboard

        print_leaderboard(board, top=top or None)
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)


@app.command(cls=_AuditCommand)
def audit(
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE...", show_default=False, help="Judge verdicts (comparisons) or, with --kind reward-model, scores. Give them before --gold / --scores.")] = None,
    gold: Annotated[list[Path] | None, typer.Option("--gold", metavar="FILE...", help="Gold labels (comparisons tables): every file after --gold up to the next option (--gold a.jsonl b.jsonl, or --gold a.jsonl --gold b.jsonl).")] = None,
    kind: Annotated[str, typer.Option(metavar="KIND", help="judge | reward-model")] = "judge",
    scores: Annotated[list[Path] | None, typer.Option("--scores", metavar="FILE...", help="Pointwise scores of the judged responses: every file after --scores up to the next option.")] = None,
    tie_policy: Annotated[str, typer.Option("--tie-policy", metavar="POLICY", help="How accuracy counts gold ties: exclude | half | three-class (agreement with gold is shown both without and with ties under every policy)")] = "exclude",
    family: Annotated[str | None, typer.Option(metavar="JUDGE=FAMILY,...", help="Model families for self-preference: judge=family,...")] = None,
    band: Annotated[list[str] | None, typer.Option("--band", metavar="NAME=LOW:HIGH", help="No-defect band NAME=LOW:HIGH (repeatable).")] = None,
    rounds: Annotated[int, typer.Option(metavar="N", help="Bootstrap rounds (clustered by prompt).")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (reported in the output).")] = 0,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="Confidence level.")] = 0.95,
    length_margin: Annotated[float, typer.Option("--length-margin", metavar="CHARS", help="Length bias: lengths differ by > this many characters.")] = 30.0,
    length_fraction: Annotated[float | None, typer.Option("--length-fraction", metavar="SHARE", help="Length bias: instead, lengths differ by > this fraction of the longer one.")] = None,
    output: Annotated[list[Path] | None, typer.Option("--output", "-o", metavar="FILE", help="Write .json/.md/.html (repeatable: -o a.json -o b.html); the folder must exist.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
) -> None:
    """Audit LLM judges or reward models: accuracy, agreement, position/length/self bias, consistency, calibration."""
    from referee.audit.api import audit as audit_fn
    from referee.audit.flags import parse_band

    _check_outputs(*(output or []))
    if not files:
        _fail(InputError("no verdict files: give them before --gold / --scores, which take every file that "
                         "follows them (referee audit VERDICTS... --gold GOLD...)", field="files"))
    try:
        families = None
        if family:
            families = {}
            for part in family.split(","):
                name, sep, fam = part.partition("=")
                if not sep or not name.strip() or not fam.strip():
                    raise InputError(f"--family must look like judge=family,..., got {family!r}", field="family")
                families[name.strip()] = fam.strip()
        bands = dict(parse_band(b) for b in band or [])
        with _progress(quiet or rounds == 0, "bootstrap rounds") as progress:
            report = audit_fn(
                [str(f) for f in files],
                gold=[str(g) for g in gold] if gold else None,
                kind=kind,
                scores=[str(s) for s in scores] if scores else None,
                tie_policy=tie_policy,
                family=families,
                band=bands,
                rounds=rounds,
                seed=seed,
                level=level,
                length_margin=length_margin,
                length_fraction=length_fraction,
                progress=progress,
            )
        for out in output or []:
            report.save(out)
    except InputError as err:
        _fail(err)
    if not quiet:
        report.print()
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)


@app.command(cls=_Command)
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
            from referee.judge.templates import available

            for name, description in available().items():
                typer.echo(f"{name:<22} {description}")
            return
        from referee.judge.run import JudgeSpec
        from referee.judge.run import judge as judge_fn

        overrides = {
            "url": judge_url, "model": judge_model, "key_env": judge_key_env, "name": judge_name,
            "temperature": temperature, "max_tokens": max_tokens, "logprobs": logprobs, "top_logprobs": top_logprobs,
            "price_in": price_in, "price_out": price_out, "timeout": timeout, "judge": judge_local,
        }  # fmt: skip
        spec = JudgeSpec.from_config(judge_config, **overrides) if judge_config else JudgeSpec().updated(**overrides)
        files = [str(f) for f in [*(outputs or []), *(extra_outputs or [])]]
        _check_outputs(output)
        if not files:
            raise InputError("no model outputs: pass --outputs FILE [FILE ...]", field="outputs")
        with _judge_progress(quiet) as progress:
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
            from referee.rank.api import rank as rank_fn
            from referee.report.terminal import print_leaderboard

            board = rank_fn(result.comparisons())
            if not quiet:
                print_leaderboard(board)
    except InputError as err:
        _fail(err)


@contextmanager
def _judge_progress(disabled: bool) -> Iterator[Callable[..., None] | None]:
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


@app.command(cls=_Command)
def demo(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the demo's outputs (and its cache).")] = Path("demo"),
    simulated: Annotated[
        bool, typer.Option("--simulated", help="The quick demo instead: rank a simulated arena with known true strengths.")
    ] = False,
    prompts: Annotated[int | None, typer.Option("--prompts", min=1, metavar="N", help="Use only the first N shipped prompts.")] = None,
    seed: Annotated[int | None, typer.Option(metavar="SEED", help="Seed (sampling, pairing, bootstrap; default 0, simulated 7).")] = None,
) -> None:
    """Offline demo: a local model answers prompts as three contestants, judges them in both orders, ranks, reports."""
    _check_outputs(out)
    if simulated:
        from referee.demo import demo_simulated

        demo_simulated(out=out, seed=7 if seed is None else seed)
        return
    from referee.demo import demo as run_demo

    try:
        run_demo(out=out, seed=0 if seed is None else seed, n_prompts=prompts)
    except InputError as err:
        _fail(err)


@app.command("train-rm", cls=_Command)
def train_rm(
    pairs: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Preference pairs: TRL prompt/chosen/rejected, HH-RLHF, or a comparisons table (at least 10 pairs with a preferred side).")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="DIR", help="Directory to save the reward model in (its parent folder must exist).")],
    encoder: Annotated[str, typer.Option(metavar="NAME|DIR", help="Frozen sentence encoder: minilm or a local model folder.")] = "minilm",
    head: Annotated[str, typer.Option(metavar="HEAD", help="Reward head: linear | mlp")] = "linear",
    holdout: Annotated[float, typer.Option(metavar="SHARE", help="Share of prompts held out for evaluation.")] = 0.2,
    folds: Annotated[int | None, typer.Option(metavar="K", help="k-fold cross-validation instead of a holdout.")] = None,
    seed: Annotated[int, typer.Option(metavar="SEED", help="Random seed for splits and initialisation.")] = 0,
    l2: Annotated[float, typer.Option(metavar="L2", help="L2 regularisation of the head.")] = 3e-4,
    format: Annotated[str | None, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Train a small reward model (frozen encoder + Bradley–Terry head) on chosen/rejected pairs."""
    import warnings

    from referee.score.rm import train_rm as train_rm_fn

    _check_outputs(output)
    try:
        with _progress(quiet, "encoding") as progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # truncations: in the summary's notes
            report = train_rm_fn([str(p) for p in pairs], encoder=encoder, head=head, holdout=holdout,
                                 folds=folds, seed=seed, out=output, l2=l2, format=format, progress=progress)
    except InputError as err:
        _fail(err)
    if not quiet:
        typer.echo(report.summary())
        typer.echo(f"saved to {output} (use --scorer rm:{output})")


@app.command(cls=_Command)
def score(
    outputs: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Model outputs (the formats of `referee judge --outputs`).")],
    scorer: Annotated[str, typer.Option(metavar="SPEC", help="length | length:tokens | rm:DIR | hf:PATH | dpo:POLICY,REF")] = "length",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the scores table (.jsonl/.csv/.parquet); the folder must exist.")] = None,
    questions: Annotated[Path | None, typer.Option(metavar="FILE", help="FastChat question file (prompt texts).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes.")] = False,
) -> None:
    """Score responses with a reward model: the scores table (prompt_id, model, response, scorer, score)."""
    import warnings

    from referee.io.write import write
    from referee.score.api import score as score_fn

    _check_outputs(output)
    try:
        with _progress(quiet, "scoring") as progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # truncations: printed as notes below
            table = score_fn([str(o) for o in outputs], scorer, questions=questions, progress=progress)
    except InputError as err:
        _fail(err)
    if output is not None:
        write(table, output)
    if not quiet:
        for note in table.attrs.get("notes", []):
            typer.echo(f"note: {note}", err=True)
        by_model = table.groupby("model", dropna=False)["score"].agg(["count", "mean"])
        for model, row in by_model.sort_values("mean", ascending=False).iterrows():
            typer.echo(f"{model}\t{int(row['count'])} responses\tmean score {row['mean']:.4g}")
        if output is not None:
            typer.echo(f"wrote {len(table)} scores to {output}")


@app.command("best-of-n", cls=_Command)
def best_of_n(
    samples: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Samples: prompt_id, prompt, response[, model, sample_id[, score]] (.jsonl/.json/.csv/.parquet).")],
    scorer: Annotated[str | None, typer.Option(metavar="SPEC", help="length | rm:DIR | hf:PATH | dpo:POLICY,REF (default: the samples' score column).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the picks (.jsonl/.csv/.parquet); the folder must exist.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Pick the top-scored response per prompt from N samples; ties in the top score are reported."""
    from referee.io.write import write
    from referee.score.bestofn import best_of_n as best_of_n_fn
    from referee.score.bestofn import summary

    _check_outputs(output)
    try:
        picked = best_of_n_fn([str(s) for s in samples], scorer)
        if output is not None:
            write(picked, output)
    except InputError as err:
        _fail(err)
    if not quiet:
        typer.echo(summary(picked), err=True)
        if output is not None:
            typer.echo(f"wrote {len(picked)} picks to {output}", err=True)


@app.command("export-pairs", cls=_Command)
def export_pairs(
    comparisons: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Comparisons: judge verdicts or any file `referee rank` reads.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Preference pairs in TRL's format (prompt, chosen, rejected); the folder must exist.")],
    keep_ties: Annotated[bool, typer.Option("--keep-ties", help="Keep ties (chosen = response_a, with a tie column).")] = False,
    min_margin: Annotated[float | None, typer.Option(metavar="MARGIN", help="Keep pairs with |2·prob_a − 1| at least this (0–1).")] = None,
    format: Annotated[str | None, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write preference pairs for DPO / reward training from a comparisons table."""
    from referee.io import read
    from referee.io.write import write
    from referee.score.export import export_pairs as export_fn
    from referee.score.export import summary

    _check_outputs(output)
    try:
        files = [str(c) for c in comparisons]
        try:
            pairs = export_fn(read(files, format=format), drop_ties=not keep_ties, min_margin=min_margin)
        except InputError as err:  # about the table read from `files` unless it names the option
            raise _located(err, files, frozenset({"min_margin"})) from None
        if pairs.empty:
            raise InputError("no preference pair left to write (" + summary(pairs) + ")", field="comparisons")
        write(pairs, output)
    except InputError as err:
        _fail(err)
    if not quiet:
        typer.echo(summary(pairs), err=True)
        typer.echo(f"wrote {output}", err=True)

# -- referee arena ------------------------------------------------------------------------------------
arena_app = typer.Typer(help="A self-hostable human-voting arena with a live leaderboard.", no_args_is_help=True, cls=_Group)
app.add_typer(arena_app, name="arena")
DbOption = Annotated[str, typer.Option("--db", metavar="URL", help="Database: sqlite:///arena.db or postgresql://user@host/db (serve creates a missing SQLite file; invite and export need an existing one).")]


@arena_app.command("serve", cls=_Command)
def arena_serve(
    outputs: Annotated[list[str] | None, typer.Option("--outputs", metavar="FILE", help="Model outputs to add (any format `referee judge` reads).")] = None,
    extra_outputs: Annotated[list[str] | None, typer.Argument(metavar="[FILE...]", show_default=False, help="More output files (an unquoted glob after --outputs).")] = None,
    db: DbOption = "sqlite:///arena.db",
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on (non-loopback needs an admin token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port.")] = 8000,
    sampling: Annotated[str, typer.Option(metavar="HOW", help="Pair selection: uniform | balanced | active.")] = "uniform",
    refresh: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between leaderboard recomputations (when votes arrived).")] = 10.0,
    rate_limit: Annotated[float, typer.Option(metavar="RATE", help="Votes per second per annotator (bursts of 2x; 0 = no limit).")] = 2.0,
    identity_filter: Annotated[bool, typer.Option("--identity-filter", help="Leave out votes on responses that name a model.")] = False,
    admin_token_env: Annotated[str, typer.Option(metavar="VAR", help="Environment variable holding the admin token.")] = "REFEREE_ADMIN_TOKEN",
    sqlite_sync: Annotated[str, typer.Option(metavar="LEVEL", help="SQLite durability: normal (survives crashes) | full (also power loss).")] = "normal",
    public_leaderboard: Annotated[bool, typer.Option("--public-leaderboard", help="Show the leaderboard without logging in.")] = False,
    seed: Annotated[int | None, typer.Option(metavar="SEED", help="Seed of the pair sampler (default: random).")] = None,
    title: Annotated[str, typer.Option(metavar="TEXT", help="Title shown on the pages.")] = "referee arena",
) -> None:
    """Serve the voting arena: Vote, Leaderboard and Admin pages and the JSON API."""
    from referee.arena import serve

    def ready(info: dict) -> None:
        typer.echo(
            f"referee arena: {info['models']} models, {info['prompts']} prompts, {info['votes']} votes so far; "
            f"serving {info['url']}" + ("" if info["admin"] else f" (admin disabled: set ${admin_token_env})"),
            err=True,
        )

    try:
        serve(
            [*(outputs or []), *(extra_outputs or [])] or None, db=db, host=host, port=port, sampling=sampling, refresh=refresh, rate_limit=rate_limit,
            identity_filter=identity_filter, admin_token_env=admin_token_env, sqlite_sync=sqlite_sync,
            public_leaderboard=public_leaderboard, seed=seed, title=title, ready=ready,
        )
    except InputError as err:
        _fail(err)


@arena_app.command("invite", cls=_Command)
def arena_invite(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The annotator's name (unique).")],
    db: DbOption = "sqlite:///arena.db",
    url: Annotated[str | None, typer.Option(metavar="URL", help="The arena's address, to print a login link too.")] = None,
) -> None:
    """Create an annotator; prints their token (shown once)."""
    from referee.arena import invite

    try:
        token = invite(name, db=db)
    except InputError as err:
        _fail(err)
    typer.echo(token)
    if url:
        typer.echo(f"{url.rstrip('/')}/login?token={token}", err=True)


@arena_app.command("export", cls=_Command)
def arena_export(
    db: DbOption = "sqlite:///arena.db",
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="votes.jsonl | .csv | .parquet (the folder must exist)")] = Path("votes.jsonl"),
    identity_filter: Annotated[bool, typer.Option("--identity-filter", help="Leave out votes on responses that name a model.")] = False,
) -> None:
    """Write all votes as canonical comparisons (for `referee rank` / `referee audit`)."""
    from referee.arena import export

    _check_outputs(output)
    try:
        frame = export(db, output, identity_filter=identity_filter)
    except InputError as err:
        _fail(err)
    typer.echo(f"wrote {len(frame)} votes to {output}", err=True)


def _one_line_warnings() -> None:
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
    _one_line_warnings()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

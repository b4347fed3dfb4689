"""``referee audit``: a thin shell over :func:`referee.audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from referee.cli.base import AuditCommand, Command, app, check_outputs, fail, progress_bar
from referee.errors import InputError


class AuditOrValidate(AuditCommand):
    """``referee audit validate ...`` runs ``referee audit-validate ...``; any other FILE is audited
    (a file literally named ``validate`` is given as ``./validate``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        group: Any = getattr(ctx.parent, "command", None)
        if args[:1] == ["validate"] and group is not None and hasattr(group, "get_command"):
            sub = group.get_command(ctx.parent, "audit-validate")
            if sub is not None:
                with sub.make_context("referee audit validate", args[1:], parent=ctx.parent) as sub_ctx:
                    sub.invoke(sub_ctx)
                ctx.exit(0)
        return super().parse_args(ctx, args)


@app.command(cls=AuditOrValidate)
def audit(
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE...", show_default=False, help="Judge verdicts (comparisons) or, with --kind reward-model, scores. Give them before --gold / --scores.")] = None,
    gold: Annotated[list[Path] | None, typer.Option("--gold", metavar="FILE...", help="Gold labels (comparisons tables): every file after --gold up to the next option (--gold a.jsonl b.jsonl, or --gold a.jsonl --gold b.jsonl).")] = None,
    kind: Annotated[str, typer.Option(metavar="KIND", help="judge | reward-model | graded (chosen by itself when FILE is a scores table: pointwise scores audited against --gold reference scores)")] = "judge",
    scores: Annotated[list[Path] | None, typer.Option("--scores", metavar="FILE...", help="Pointwise scores of the judged responses: every file after --scores up to the next option.")] = None,
    tie_policy: Annotated[str, typer.Option("--tie-policy", metavar="POLICY", help="How accuracy counts gold ties: exclude | half | three-class (agreement with gold is shown both without and with ties under every policy)")] = "exclude",
    family: Annotated[str | None, typer.Option(metavar="JUDGE=FAMILY,...", help="Model families for self-preference: judge=family,...")] = None,
    band: Annotated[list[str] | None, typer.Option("--band", metavar="NAME=LOW:HIGH", help="No-defect band NAME=LOW:HIGH (repeatable).")] = None,
    rounds: Annotated[int, typer.Option(metavar="N", help="Bootstrap rounds (clustered by prompt).")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (reported in the output).")] = 0,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="Confidence level.")] = 0.95,
    length_margin: Annotated[float, typer.Option("--length-margin", metavar="CHARS", help="Length bias: lengths differ by > this many characters.")] = 30.0,
    length_fraction: Annotated[float | None, typer.Option("--length-fraction", metavar="SHARE", help="Length bias: instead, lengths differ by > this fraction of the longer one.")] = None,
    scale: Annotated[str | None, typer.Option(metavar="LOW:HIGH", help="Graded audits: the declared score scale, e.g. 1:10 (a score outside it is an error); default: the observed range.")] = None,
    fail_on_flags: Annotated[bool, typer.Option("--fail-on-flags", help="CI gate: exit 3 when any flag stands after Benjamini-Hochberg control.")] = False,
    fail_on: Annotated[list[str] | None, typer.Option("--fail-on", metavar="METRIC>VALUE", help="CI gate: exit 3 when a judge's metric passes the limit, e.g. --fail-on 'ece>0.1' --fail-on 'accuracy<0.7' (repeatable).")] = None,
    output: Annotated[list[Path] | None, typer.Option("--output", "-o", metavar="FILE", help="Write .json/.md/.html (repeatable: -o a.json -o b.html); the folder must exist.")] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="COLUMN", help="Audit each value of a column as its own judge, e.g. --by criterion on a rubric run's .criteria.jsonl (per-criterion accuracy vs --gold, and the criteria's correlation and effective number).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
    probe: Annotated[str | None, typer.Option("--probe", metavar="PROBE,...", help="Probe a judge instead of auditing verdict files: bandwagon, authority, distractor, padding, self-id, identical, repeat, templates (comma-separated; needs --pairs and a judge).")] = None,
    pairs: Annotated[Path | None, typer.Option("--pairs", metavar="FILE", help="Probes: gold pairs with prompt, response_a, response_b and winner (any format referee reads, e.g. EvalBiasBench).")] = None,
    mode: Annotated[str, typer.Option("--mode", metavar="MODE", help="Probes: pairwise | pointwise | both (side by side).")] = "pairwise",
    n: Annotated[int | None, typer.Option("--n", metavar="PAIRS", help="Probes: a seeded sample of this many gold pairs.")] = None,
    judge_url: Annotated[str | None, typer.Option(metavar="URL", help="Probes: OpenAI-compatible base URL of the judge, e.g. https://api.openai.com/v1.")] = None,
    judge_model: Annotated[str | None, typer.Option(metavar="MODEL", help="Probes: the judge model served there.")] = None,
    judge_key_env: Annotated[str | None, typer.Option(metavar="VAR", help="Probes: environment variable holding the API key.")] = None,
    judge_config: Annotated[Path | None, typer.Option(metavar="FILE", help="Probes: YAML judge spec (url, model, key_env, template, prices, ...).")] = None,
    judge_local: Annotated[str | None, typer.Option("--judge", metavar="SPEC", help="Probes: local (embedded SmolLM2) or local:PATH.gguf.")] = None,
    judge_name: Annotated[str | None, typer.Option(metavar="NAME", help="Probes: the judge's name in the report.")] = None,
    template: Annotated[str | None, typer.Option(metavar="NAME|FILE", help="Probes: the judge template (see referee judge --list-templates).")] = None,
    templates: Annotated[str, typer.Option(metavar="NAME,...", help="Probes: the pairwise templates the templates probe compares with the main one.")] = "pairwise,pairwise-logprob,pairwise-graded",
    repeats: Annotated[int, typer.Option(metavar="K", help="Probes: how many times the repeat probe asks the same questions.")] = 3,
    temperature: Annotated[float | None, typer.Option(metavar="T", help="Probes: judge sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--judge-max-tokens", metavar="N", help="Probes: max tokens per judge answer.")] = None,
    timeout: Annotated[float | None, typer.Option(metavar="SECONDS", help="Probes: per-call timeout in seconds.")] = None,
    cache: Annotated[Path | None, typer.Option(metavar="FILE", help="Probes: SQLite cache file (default: the user cache dir).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Probes: do not read or write the cache.")] = False,
    concurrency: Annotated[int, typer.Option(metavar="N", help="Probes: judge calls in flight at once.")] = 8,
    retries: Annotated[int, typer.Option(metavar="N", help="Probes: retries per call on 429/5xx/timeouts.")] = 6,
    max_calls: Annotated[int | None, typer.Option(metavar="N", help="Probes: budget: stop after this many judge calls.")] = None,
    max_cost: Annotated[float | None, typer.Option(metavar="USD", help="Probes: budget: stop before spending more than this (USD).")] = None,
) -> None:
    """Audit LLM judges or reward models: accuracy, agreement, position/length/self bias, consistency, calibration.

    Graded judges: `referee audit scores.jsonl --gold human_scores.jsonl` audits pointwise scores against
    reference scores (weighted κ, Spearman, agreement, central tendency, verbosity, self-preference).

    Probes: `referee audit --probe bandwagon,padding --pairs gold.jsonl --judge-url URL --judge-model M -o probes.html`
    edits gold pairs in ways that should not matter and measures how often the judge's verdict follows the edit.

    Exit codes: 0 audited (gates passed), 2 bad input, 3 a gate failed (--fail-on-flags, --fail-on).
    `referee audit validate ...` runs `referee audit-validate ...`.
    """
    from referee.auditing.api import audit as audit_fn

    check_outputs(*(output or []))
    if probe is not None:
        from referee.judging.spec import from_options

        if files or gold:
            fail(InputError("`probes` audit a judge through new calls on `pairs`: give no verdict files or "
                             "gold with them", field="probes"))
        try:
            spec = from_options(judge_config, url=judge_url, model=judge_model, key_env=judge_key_env, name=judge_name,
                                temperature=temperature, max_tokens=max_tokens, timeout=timeout, judge=judge_local)
        except InputError as err:
            fail(err)
        _probe(str(pairs) if pairs is not None else None, probe, spec, output or [], quiet, fail_on_flags, mode=mode,
               n=n, seed=seed, template=template, templates=templates, repeats=repeats,
               cache=False if no_cache else (cache or True), concurrency=concurrency, retries=retries,
               max_calls=max_calls, max_cost=max_cost, level=level)
        return
    if not files:
        fail(InputError("no verdict files: give them before --gold / --scores, which take every file that "
                         "follows them (referee audit VERDICTS... --gold GOLD...)", field="files"))
    try:
        score_scale = _parse_scale(scale)
        with progress_bar(quiet or rounds == 0, "bootstrap rounds") as progress:
            report = audit_fn(
                [str(f) for f in files],
                gold=[str(g) for g in gold] if gold else None,
                kind=kind,
                scores=[str(s) for s in scores] if scores else None,
                tie_policy=tie_policy,
                family=family or None,
                band=band or None,
                rounds=rounds,
                seed=seed,
                level=level,
                length_margin=length_margin,
                length_fraction=length_fraction,
                scale=score_scale,
                fail_on=fail_on or None,
                by=by,
                progress=progress,
            )
        for out in output or []:
            report.save(out)
    except InputError as err:
        fail(err)
    if not quiet:
        report.print()
    if not quiet and report.meta.get("by"):
        from referee.auditing.by_column import lines

        typer.echo("\n".join(lines(report.meta["by"])))
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)
    failed = False
    if fail_on_flags and report.standing_flags:
        for j, f in report.standing_flags:
            typer.echo(f"referee: gate: {j}: {f['message']} (q = {f['q']:.3g})", err=True)
        failed = True
    for b in report.meta["gate"]["breaches"]:
        typer.echo(f"referee: gate: {b['judge']}: {b['rule']} (value {b['value']:.4g})", err=True)
        failed = True
    if failed:
        raise typer.Exit(3)


def _probe(pairs: str | None, probes: str, spec: Any, output: list[Path], quiet: bool, fail_on_flags: bool,
           **options: Any) -> None:
    """``referee audit --probe``: :func:`referee.probe`, the report saved only when the run succeeded."""
    from referee.cli.judge import judge_progress
    from referee.probing.run import probe as probe_fn

    try:
        with judge_progress(quiet) as progress:
            report = probe_fn(pairs, probes=probes, judge_spec=spec, progress=progress,
                              announce=lambda line: typer.echo(line, err=True), **options)
        for out in output:
            report.save(out)
    except InputError as err:
        fail(err)
    if not quiet:
        report.print()
    for out in output:
        typer.echo(f"wrote {out}", err=True)
    if fail_on_flags and report.standing_flags:
        for j, f in report.standing_flags:
            typer.echo(f"referee: gate: {j}: {f['message']} (q = {f['q']:.3g})", err=True)
        raise typer.Exit(3)


def _parse_scale(text: str | None) -> tuple[float, float] | None:
    """'1:10' → (1.0, 10.0)."""
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(lo), float(hi)
    except ValueError:
        raise InputError(f"--scale must look like LOW:HIGH (e.g. 1:10), got {text!r}", field="scale") from None


@app.command("audit-validate", cls=Command)
def audit_validate(
    n: Annotated[int, typer.Option("--n", metavar="PAIRS", help="Simulated pairs per audit (each judged in both orders).")] = 500,
    effect: Annotated[float, typer.Option(metavar="SIZE", help="How far beyond each no-defect band's edge the planted bias lies.")] = 0.1,
    seeds: Annotated[int, typer.Option(metavar="N", help="Simulated audits per judge.")] = 100,
    rounds: Annotated[int, typer.Option(metavar="N", help="Bootstrap rounds per audit.")] = 200,
    level: Annotated[float, typer.Option(metavar="LEVEL", help="Confidence level (and FDR level 1 - LEVEL).")] = 0.95,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Planted-bias validation: power of every audit flag and the false-flag rate of an unbiased judge."""
    from referee.auditing.validate import validate

    try:
        with progress_bar(quiet, "simulated audits") as progress:
            result = validate(n, effect, seeds=seeds, rounds=rounds, level=level, seed=seed, progress=progress)
    except InputError as err:
        fail(err)
    typer.echo("\n".join(result.lines()))


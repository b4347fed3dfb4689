"""Reward-model commands: ``train-rm``, ``score``, ``best-of-n``, ``export-pairs`` (thin shells over
:func:`referee.train_rm`, :func:`referee.score`, :func:`referee.best_of_n`, :func:`referee.export_pairs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from referee.cli.base import FORMAT_HELP, Command, app, check_outputs, fail, located, progress_bar
from referee.errors import InputError


@app.command("train-rm", cls=Command)
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

    from referee.scoring.rm import train_rm as train_rm_fn

    check_outputs(output)
    try:
        with progress_bar(quiet, "encoding") as progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # truncations: in the summary's notes
            report = train_rm_fn([str(p) for p in pairs], encoder=encoder, head=head, holdout=holdout,
                                 folds=folds, seed=seed, out=output, l2=l2, format=format, progress=progress)
    except InputError as err:
        fail(err)
    if not quiet:
        typer.echo(report.summary())
        typer.echo(f"saved to {output} (use --scorer rm:{output})")


@app.command(cls=Command)
def score(
    outputs: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Model outputs (the formats of `referee judge --outputs`) or preference pairs (TRL prompt/chosen/rejected, HH-RLHF): both responses of every pair are scored.")],
    scorer: Annotated[str, typer.Option(metavar="SPEC", help="length | length:tokens | overlap | rm:DIR | hf:PATH | dpo:POLICY,REF")] = "length",
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the scores table (.jsonl/.csv/.parquet); the folder must exist.")] = None,
    questions: Annotated[Path | None, typer.Option(metavar="FILE", help="FastChat question file (prompt texts).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes.")] = False,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS", help="Score on a Ray cluster (auto, HOST:PORT or ray://…; needs referee[ray]): one task per file; parts kept in OUTPUT.parts (or scores.parts) so a rerun skips finished files.")] = None,
    replicas: Annotated[int, typer.Option(metavar="N", help="With --ray: scorer replicas (Ray actors).")] = 1,
    ray_num_cpus: Annotated[float, typer.Option("--ray-num-cpus", metavar="N", help="With --ray: CPUs per replica.")] = 1.0,
    ray_num_gpus: Annotated[float, typer.Option("--ray-num-gpus", metavar="N", help="With --ray: GPUs per replica.")] = 0.0,
) -> None:
    """Score responses with a reward model: the scores table (prompt_id, model, response, scorer, score).

    Of preference pairs, both responses of every pair are scored (model = chosen / rejected), so `referee audit SCORES --kind reward-model --gold PAIRS` measures the model's accuracy on them.
    """
    import warnings

    from referee.io.write import write
    from referee.scoring.api import score as score_fn

    check_outputs(output)
    try:
        with progress_bar(quiet, "scoring") as progress, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # truncations: printed as notes below
            table = score_fn([str(o) for o in outputs], scorer, questions=questions, progress=progress, ray=ray,
                             parts_dir=None if output is None else f"{output}.parts", replicas=replicas,
                             num_cpus=ray_num_cpus, num_gpus=ray_num_gpus)
    except InputError as err:
        fail(err)
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


@app.command("best-of-n", cls=Command)
def best_of_n(
    samples: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Samples: prompt_id, prompt, response[, model, sample_id[, score]] (.jsonl/.json/.csv/.parquet).")],
    scorer: Annotated[str | None, typer.Option(metavar="SPEC", help="length | overlap | rm:DIR | hf:PATH | dpo:POLICY,REF (default: the samples' score column).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="Write the picks (.jsonl/.csv/.parquet); the folder must exist.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Pick the top-scored response per prompt from N samples; ties in the top score are reported."""
    from referee.io.write import write
    from referee.scoring.bestofn import best_of_n as best_of_n_fn
    from referee.scoring.bestofn import summary

    check_outputs(output)
    try:
        picked = best_of_n_fn([str(s) for s in samples], scorer)
        if output is not None:
            write(picked, output)
    except InputError as err:
        fail(err)
    if not quiet:
        typer.echo(summary(picked), err=True)
        if output is not None:
            typer.echo(f"wrote {len(picked)} picks to {output}", err=True)


class ExportCommand(Command):
    """``--outputs a.json b.json`` takes every file up to the next option (a shell glob's expansion)."""

    GREEDY = ("--outputs",)


@app.command("export-pairs", cls=ExportCommand)
def export_pairs(
    comparisons: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Comparisons: judge verdicts (per order, or reconciled) or any file `referee rank` reads. Give them before --outputs.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Preference pairs in TRL's format (prompt, chosen, rejected); the folder must exist.")],
    keep_ties: Annotated[bool, typer.Option("--keep-ties", help="Keep ties (chosen = response_a, with a tie column).")] = False,
    min_margin: Annotated[float | None, typer.Option(metavar="MARGIN", help="Keep pairs with |2·prob_a − 1| at least this (0–1).")] = None,
    outputs: Annotated[list[Path] | None, typer.Option("--outputs", metavar="FILE...", help="Model outputs that were judged (the formats of `referee judge --outputs`): the texts of comparisons that lack them, joined by prompt_id and model. Without it, a reconciled file (NAME.reconciled.jsonl) takes its texts from the per-order verdicts file beside it (NAME.jsonl).")] = None,
    questions: Annotated[Path | None, typer.Option(metavar="FILE", help="FastChat question file (prompt texts of --outputs).")] = None,
    format: Annotated[str | None, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_HELP)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
) -> None:
    """Write preference pairs for DPO / reward training from a comparisons table."""
    from referee.io import read
    from referee.io.write import write
    from referee.scoring.export import export_pairs as export_fn
    from referee.scoring.export import summary

    check_outputs(output)
    try:
        files = [str(c) for c in comparisons]
        try:
            pairs = export_fn(read(files, format=format), drop_ties=not keep_ties, min_margin=min_margin,
                              outputs=None if not outputs else [str(o) for o in outputs], questions=questions)
        except InputError as err:  # about the table read from `files` unless it names the option
            raise located(err, files, frozenset({"min_margin", "outputs", "questions"})) from None
        if pairs.empty:
            raise InputError("no preference pair left to write (" + summary(pairs) + ")", field="comparisons")
        write(pairs, output)
    except InputError as err:
        fail(err)
    if not quiet:
        typer.echo(summary(pairs), err=True)
        typer.echo(f"wrote {output}", err=True)

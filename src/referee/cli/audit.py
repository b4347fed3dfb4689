"""``referee audit``: a thin shell over :func:`referee.audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from referee.cli.base import AuditCommand, app, check_outputs, fail, progress_bar
from referee.errors import InputError


@app.command(cls=AuditCommand)
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
    from referee.auditing.api import audit as audit_fn
    from referee.auditing.flags import parse_band

    check_outputs(*(output or []))
    if not files:
        fail(InputError("no verdict files: give them before --gold / --scores, which take every file that "
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
        with progress_bar(quiet or rounds == 0, "bootstrap rounds") as progress:
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
        fail(err)
    if not quiet:
        report.print()
    for out in output or []:
        typer.echo(f"wrote {out}", err=True)

"""``referee demo``: the offline end-to-end demo (:mod:`referee.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from referee.cli.base import Command, app, check_outputs, fail
from referee.errors import InputError


@app.command(cls=Command)
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Folder for the demo's outputs (and its cache).")] = Path("demo"),
    simulated: Annotated[
        bool, typer.Option("--simulated", help="The quick demo instead: rank a simulated arena with known true strengths.")
    ] = False,
    prompts: Annotated[int | None, typer.Option("--prompts", min=1, metavar="N", help="Use only the first N shipped prompts.")] = None,
    seed: Annotated[int | None, typer.Option(metavar="SEED", help="Seed (sampling, pairing, bootstrap; default 0, simulated 7).")] = None,
) -> None:
    """Offline demo: a known quality ladder from a local model's answers, judged (local model in both orders,
    length, prompt overlap, a jury), ranked and scored against the known order with Kendall's τ; writes a report."""
    check_outputs(out)
    if simulated:
        from referee.demo import demo_simulated

        demo_simulated(out=out, seed=7 if seed is None else seed)
        return
    from referee.demo import demo as run_demo

    try:
        run_demo(out=out, seed=0 if seed is None else seed, n_prompts=prompts)
    except InputError as err:
        fail(err)

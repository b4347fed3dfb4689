"""``referee demo``: the main job on an embedded default, fully offline.

For now the default is a seeded simulated arena whose true strengths are known,
so the demo shows both the ranking and how close it gets to the truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from referee.sim import simulate_arena

DEMO_MODELS = [
    "atlas-70b", "borealis-8x7b", "cirrus-34b", "dune-13b", "ember-7b",
    "fjord-3b", "glacier-1b", "harbor-70b-chat", "isle-8b", "juniper-2b",
]


def demo(out: Path = Path("demo"), seed: int = 7) -> Path:
    """Simulate, rank with bootstrap CIs, print next to the truth, write ``out/board.html``."""
    from rich.console import Console

    from referee.rank.api import rank as rank_fn
    from referee.report.terminal import print_leaderboard

    console = Console()
    df, theta = simulate_arena(len(DEMO_MODELS), 8_000, seed=seed, spread=0.8, tau=0.25, skew=0.8, n_prompts=400)
    names = dict(zip(theta.index, DEMO_MODELS, strict=True))
    df["model_a"] = df["model_a"].map(names)
    df["model_b"] = df["model_b"].map(names)
    theta.index = theta.index.map(names)
    console.rule("[bold]referee demo")
    console.print(
        f"This is a [bold]simulated arena[/bold] (seed {seed}): {len(df):,} battles between {len(theta)} "
        "made-up models whose true Bradley–Terry strengths we know.\nreferee ranks them from the battles alone, "
        "with 95% bootstrap CIs clustered by prompt, and shows the truth beside the estimate.\n"
    )
    board = rank_fn(df, ci="bootstrap", rounds=500, cluster="prompt_id", seed=seed)
    board.truth = 1000.0 + 400.0 / np.log(10.0) * theta
    print_leaderboard(board, console)
    t = board.table
    true = t["model"].map(board.truth).to_numpy()
    covered = ((t["ci_low"] <= true) & (true <= t["ci_high"])).mean()
    err = np.abs(t["rating"].to_numpy() - true).mean()
    console.print(
        f"\nMean |estimate − truth| = {err:.1f} rating points; {covered:.0%} of the true ratings lie inside "
        "their 95% CIs."
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "board.html"
    board.save(path)
    board.save(out / "board.json")
    console.print(f"Wrote [bold]{path}[/bold] (open it in a browser) and {out / 'board.json'}.")
    return path

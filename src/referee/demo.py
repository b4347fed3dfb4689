"""``referee demo``: the main job end to end, fully offline on the embedded local model.

1. **generate**: SmolLM2-135M-Instruct (in-process, llama.cpp) answers the shipped prompts as three
   *contestants* (different system prompts and temperatures, see :mod:`referee.judging.contestants`);
2. **judge**: the same local model judges every pair of contestants on every prompt, in both
   presentation orders (:func:`referee.judging.run.judge`, logprob verdicts);
3. **rank**: Bradley–Terry ratings with bootstrap CIs clustered by prompt and a first-position term;
4. **report**: ``<out>/report.html`` (self-contained) with the leaderboard and the judge's position
   consistency and first-position rate, next to ``outputs.jsonl``, ``verdicts.jsonl``, ``board.json``.

Everything goes through a cache (``<out>/cache.sqlite``), so a re-run is fast.

``referee demo --simulated`` keeps the older, cheaper demo: a simulated arena whose true strengths
are known, to show how well the CIs cover the truth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from referee.report.demo_html import pct
from referee.sim import simulate_arena

if TYPE_CHECKING:
    from rich.console import Console

    from referee.judging.contestants import Contestant
    from referee.judging.types import Usage
    from referee.ranking.leaderboard import Leaderboard

DEMO_MODELS = [
    "atlas-70b", "borealis-8x7b", "cirrus-34b", "dune-13b", "ember-7b",
    "fjord-3b", "glacier-1b", "harbor-70b-chat", "isle-8b", "juniper-2b",
]  # fmt: skip
#: published position consistency of a strong judge, for context in the report
REFERENCE_CONSISTENCY = "GPT-4 as judge: 65% on MT-Bench pairs (Zheng et al., 2023)"
JUDGE_NAME = "SmolLM2-135M (local)"


# -- progress ---------------------------------------------------------------------------------
@contextmanager
def _phase(console: Console, label: str, quiet: bool) -> Iterator[Callable[[int, int, Usage], None] | None]:
    """A Rich progress bar fed by the engine's ``(done, total, usage)`` callback."""
    if quiet:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[dim]{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(label, total=None, info="")

        def update(done: int, total: int, usage: Usage) -> None:
            info = f"{usage.calls} calls, {usage.cache_hits} cached, {usage.prompt_tokens + usage.completion_tokens:,} tokens"
            bar.update(task, completed=done, total=total, info=info)

        yield update


# -- judge statistics ---------------------------------------------------------------------------
def position_stats(games: pd.DataFrame) -> dict[str, Any]:
    """How the judge treats presentation order, from the games table (one row per game).

    ``consistency``: share of pairs, both orders parsed, whose winner is the same model in both
    orders; ``first_position_rate``: share of decisive parsed games won by the response shown
    first; ``mean_p_first``: mean P(first shown wins) from logprobs (``prob_a``).
    """
    ok = games[games["parse_status"] == "ok"]
    decisive = ok[ok["winner"].isin(["model_a", "model_b"])]
    winners = decisive.assign(won=np.where(decisive["winner"] == "model_a", decisive["model_a"], decisive["model_b"]))
    both = winners.groupby("pair_id")["won"].agg(["count", "nunique"])
    both = both[both["count"] == 2]
    p = pd.to_numeric(ok["prob_a"], errors="coerce").dropna()
    return {
        "games": len(games),
        "parsed": len(ok),
        "unparsed": int((games["parse_status"] == "unparsed").sum()),
        "failed": int((games["parse_status"] == "failed").sum()),
        "pairs_both_orders": len(both),
        "consistency": float((both["nunique"] == 1).mean()) if len(both) else math.nan,
        "first_position_rate": float((decisive["winner"] == "model_a").mean()) if len(decisive) else math.nan,
        "mean_p_first": float(p.mean()) if len(p) else math.nan,
    }


def _separation_note(board: Leaderboard) -> str:
    """What the intervals say, read off the board (not promised in advance)."""
    t = board.table
    if t["ci_low"].isna().all():
        return "no intervals were computed."
    width = float((t["ci_high"] - t["ci_low"]).median())
    top = t.iloc[0]
    separated = bool((t["ci_high"].iloc[1:] < top["ci_low"]).all()) if len(t) > 1 else True
    verdict = (
        f"{top['model']}'s interval lies above every other model's" if separated
        else f"{top['model']}'s interval overlaps another model's, so the order at the top is not settled"
    )
    return f"the median 95% interval is {width:.0f} rating points wide; {verdict}."


# -- report data ---------------------------------------------------------------------------------------------
def _contestant_rows(outputs: pd.DataFrame, contestants: Iterable[Contestant]) -> list[dict[str, Any]]:
    """Each contestant's configuration and the mean length of its responses (characters)."""
    lengths = outputs.assign(n=outputs["response"].str.len()).groupby("model")["n"].mean()
    return [
        {"name": c.name, "system": c.system, "temperature": c.temperature, "max_tokens": c.max_tokens,
         "mean_chars": float(lengths.get(c.name, math.nan))}
        for c in contestants
    ]  # fmt: skip


def _sample_games(games: pd.DataFrame, prompts: int = 4) -> list[dict[str, Any]]:
    """Both orders of one pair from each of the first ``prompts`` prompts, prompt by prompt."""
    first_pairs = games.drop_duplicates("prompt_id")["pair_id"].head(prompts)
    shown = games[games["pair_id"].isin(first_pairs)].sort_values(["prompt_id", "order"], kind="stable")
    return [{str(k): v for k, v in rec.items()} for rec in shown.to_dict(orient="records")]


# -- the demo -----------------------------------------------------------------------------------------------
def demo(
    out: Path = Path("demo"),
    seed: int = 0,
    n_prompts: int | None = None,
    rounds: int = 500,
    quiet: bool = False,
    console: Console | None = None,
) -> Path:
    """Generate, judge (both orders), rank and report with the embedded local model; returns the report path."""
    from rich.console import Console

    from referee.errors import InputError
    from referee.judging.cache import Cache
    from referee.judging.contestants import CONTESTANTS, generate_outputs, load_prompts
    from referee.judging.local import LocalBackend
    from referee.judging.run import JudgeSpec, judge
    from referee.ranking.api import rank as rank_fn
    from referee.report.demo_html import demo_sections
    from referee.report.html import leaderboard_html
    from referee.report.terminal import print_leaderboard
    from referee.templating import template_dir

    console = console or Console(quiet=quiet)
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prompts = load_prompts(limit=n_prompts)
    try:
        backend = LocalBackend(seed=seed)
        backend.load()
    except InputError as err:
        raise InputError(f"{err.template} — or run `referee demo --simulated`, which needs no model", field=err.field) from None
    template = template_dir("demo") / "judge.j2"
    timings: dict[str, str] = {}
    console.rule("[bold]referee demo")
    console.print(
        f"Fully offline: [bold]{backend.name}[/bold] runs in-process (llama.cpp, {backend.n_threads} threads). "
        f"It answers {len(prompts)} prompts as {len(CONTESTANTS)} contestants, judges every pair of contestants "
        "in both presentation orders, and referee ranks the contestants with 95% CIs.\n"
        f"Cache: {out / 'cache.sqlite'} (a re-run is fast)."
    )
    with Cache(out / "cache.sqlite") as cache:
        t0 = time.perf_counter()
        console.print("\n[bold]1/3 Generating[/bold] responses: " + ", ".join(c.name for c in CONTESTANTS))
        with _phase(console, "generating", quiet) as progress:
            outputs, gen_usage = generate_outputs(prompts, backend, seed=seed, cache=cache, progress=progress)
        outputs.to_json(out / "outputs.jsonl", orient="records", lines=True, force_ascii=False)
        timings["generation"] = f"{time.perf_counter() - t0:.1f} s"
        console.print(f"  {len(outputs)} responses → {out / 'outputs.jsonl'} ({timings['generation']})")

        t0 = time.perf_counter()
        n_games = len(prompts) * len(CONTESTANTS) * (len(CONTESTANTS) - 1)
        console.print(f"\n[bold]2/3 Judging[/bold] {n_games} games: every pair on every prompt, both orders")
        spec = JudgeSpec(local="", template=str(template), name=JUDGE_NAME)
        with _phase(console, "judging", quiet) as progress:
            result = judge(
                outputs, judge_spec=spec, pairs="round-robin", template=str(template), seed=seed, cache=cache,
                backend=backend, allow_missing=True, progress=progress, output=out / "verdicts.jsonl",
            )  # fmt: skip
        timings["judging"] = f"{time.perf_counter() - t0:.1f} s"
        games = result.table
        stats = position_stats(games)
        console.print(
            f"  {stats['parsed']}/{stats['games']} verdicts parsed → {out / 'verdicts.jsonl'} ({timings['judging']})\n"
            f"  judge position consistency [bold]{pct(stats['consistency'])}[/bold] of {stats['pairs_both_orders']} pairs; "
            f"first-shown response wins [bold]{pct(stats['first_position_rate'])}[/bold] of decisive games "
            f"(mean P(first) {pct(stats['mean_p_first'])})"
        )
    backend.close()

    t0 = time.perf_counter()
    console.print("\n[bold]3/3 Ranking[/bold]: Bradley–Terry on the soft verdicts, a first-position term, bootstrap CIs by prompt")
    board = rank_fn(
        result.comparisons(), ci="bootstrap", rounds=rounds, cluster="prompt_id", first_position=True, seed=seed
    )
    timings["ranking"] = f"{time.perf_counter() - t0:.1f} s"
    print_leaderboard(board, console)
    timings["total"] = f"{time.perf_counter() - t_start:.1f} s"
    run = {
        "judge": JUDGE_NAME, "template": template.name, "generator": backend.name, "n_prompts": len(prompts),
        "timings": timings, "gen_usage": gen_usage, "judge_usage": result.usage,
        "tokens": gen_usage.prompt_tokens + gen_usage.completion_tokens + result.usage.prompt_tokens + result.usage.completion_tokens,
    }  # fmt: skip
    notes = [
        f"{len(CONTESTANTS)} contestants × {len(prompts)} prompts, judged pairwise by {JUDGE_NAME} in both orders; "
        f"judge position consistency {pct(stats['consistency'])}, first-position win rate {pct(stats['first_position_rate'])}.",
        "Ratings use the judge's soft verdicts P(A) and estimate a first-position advantage separately; "
        + _separation_note(board),
    ]
    board.meta["judge_position"] = stats
    path = out / "report.html"
    page = leaderboard_html(
        board, title="referee demo: three local contestants judged by a local model", notes=notes,
        extra_sections=demo_sections(stats, _contestant_rows(outputs, CONTESTANTS), _sample_games(games), run,
                                     REFERENCE_CONSISTENCY),
    )  # fmt: skip
    path.write_text(page, encoding="utf-8")
    board.save(out / "board.json")
    console.print(
        f"\nPosition consistency {pct(stats['consistency'])} ({REFERENCE_CONSISTENCY}).\n"
        f"Wrote [bold]{path}[/bold] (open it in a browser), {out / 'board.json'}; total {timings['total']}."
    )
    return path


def demo_simulated(out: Path = Path("demo"), seed: int = 7) -> Path:
    """Simulate, rank with bootstrap CIs, print next to the truth, write ``out/board.html``."""
    from rich.console import Console

    from referee.ranking.api import rank as rank_fn
    from referee.report.terminal import print_leaderboard

    console = Console()
    df, theta = simulate_arena(len(DEMO_MODELS), 8_000, seed=seed, spread=0.8, tau=0.25, skew=0.8, n_prompts=400)
    names = dict(zip(theta.index, DEMO_MODELS, strict=True))
    df["model_a"] = df["model_a"].map(names)
    df["model_b"] = df["model_b"].map(names)
    theta.index = theta.index.map(names)
    console.rule("[bold]referee demo --simulated")
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

"""``referee demo``: the main job end to end, fully offline on the embedded local model, on
contestants whose true order is known -- so the demo can say whether referee recovered it.

1. **generate**: SmolLM2-135M-Instruct (in-process, llama.cpp) answers each shipped prompt once;
   from its answers :func:`referee.judging.contestants.build_ladder` builds a *quality ladder*,
   ``full > truncated > off-topic`` by construction (the complete answer; its first quarter of
   words; the answer to another prompt);
2. **judge**: the same local model judges every pair of rungs on every prompt in both
   presentation orders with soft verdicts (logprob P(A), :func:`referee.judging.run.judge`); two
   offline scorers judge them too (reward-model judges): ``length`` (the longer response wins) and
   ``overlap`` (the response using more of the prompt's words wins,
   :mod:`referee.scoring.overlap`), and a jury (:func:`referee.judging.jury.jury`,
   ``method="mean"``) combines the three;
3. **rank**: for each judge, Bradley–Terry ratings on the soft verdicts with a first-position
   term and bootstrap CIs clustered by prompt; Kendall's τ-b between the fitted ratings and the
   ladder (:func:`recovery`; with 3 rungs τ ∈ {−1, −⅓, ⅓, 1}, :func:`tau_values`), the rung pairs in
   the right order, and how many adjacent pairs the 95% intervals separate;
4. **report**: ``<out>/report.html`` (self-contained): the local judge's leaderboard, "Did referee
   recover the known order?" (one row per judge and the jury, and sentences written from the
   numbers by :func:`recovery_text` -- a judge that fails is said to fail, with its position bias
   when that is the reason), the judge's position consistency, the ladder, sample verdicts; next to
   ``outputs.jsonl``, ``verdicts.jsonl``, ``verdicts-length.jsonl``, ``verdicts-overlap.jsonl``,
   ``verdicts-jury.jsonl``, ``board.json`` and ``recovery.json``.

Generation and LLM judging go through a cache (``<out>/cache.sqlite``), so a re-run is fast.

``referee demo --simulated`` keeps the older, cheaper demo: a simulated arena whose true strengths
are known, to show how well the CIs cover the truth.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from referee.report.demo_html import pct
from referee.sim import simulate_arena

if TYPE_CHECKING:
    from rich.console import Console

    from referee.judging.types import Usage
    from referee.ranking.leaderboard import Leaderboard

DEMO_MODELS = [
    "atlas-70b", "borealis-8x7b", "cirrus-34b", "dune-13b", "ember-7b",
    "fjord-3b", "glacier-1b", "harbor-70b-chat", "isle-8b", "juniper-2b",
]  # fmt: skip
#: published position consistency of a strong judge, for context in the report
REFERENCE_CONSISTENCY = "GPT-4 as judge: 65% on MT-Bench pairs (Zheng et al., 2023)"
JUDGE_NAME = "SmolLM2-135M (local)"
LENGTH_NAME = "length"
OVERLAP_NAME = "overlap"
JURY_NAME = "jury:mean"


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


# -- recovery of the known order -----------------------------------------------------------------------------
def tau_values(k: int) -> list[float]:
    """Every value Kendall's τ can take between a strict ranking of ``k`` items and the truth:
    ``1 − 4·D / (k(k−1))`` for ``D = 0 … k(k−1)/2`` discordant pairs (3 items: −1, −⅓, ⅓, 1)."""
    pairs = k * (k - 1) // 2
    return [1.0 - 2.0 * d / pairs for d in range(pairs, -1, -1)] if pairs else [math.nan]


def recovery(board: Leaderboard, ladder: Sequence[str], judge: str, stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """How well ``board`` recovers the known order ``ladder`` (best first).

    ``tau``: Kendall's τ-b (:func:`scipy.stats.kendalltau`; Kendall 1938, ties as in Kendall 1945)
    between the fitted ratings and the ladder's ranks; ``concordant``: rung pairs the ratings put
    in the true order, of ``pairs``; ``order``: the fitted order, best first; ``settled``: the
    adjacent rungs of the fitted order whose 95% intervals do not overlap, of ``len(ladder) − 1``;
    ``stats``: the judge's :func:`position_stats` (None when its table has no orders).
    """
    from scipy.stats import kendalltau

    t = board.table.set_index("model")
    fit: dict[str, float] = {str(k): float(v) for k, v in t["rating"].items()}
    rating = [fit.get(m, math.nan) for m in ladder]
    truth = list(range(len(ladder), 0, -1))
    tau = float(kendalltau(rating, truth).statistic) if not any(math.isnan(r) for r in rating) else math.nan
    concordant = sum(rating[i] > rating[j] for i in range(len(ladder)) for j in range(i + 1, len(ladder)))
    fitted = board.table["model"].tolist()
    settled = 0
    if "ci_low" in t and not t["ci_low"].isna().all():
        low = {str(k): float(v) for k, v in t["ci_low"].items()}
        high = {str(k): float(v) for k, v in t["ci_high"].items()}
        settled = sum(low[a] > high[b] for a, b in itertools.pairwise(fitted))
    return {"judge": judge, "tau": tau, "order": fitted, "concordant": int(concordant),
            "pairs": len(ladder) * (len(ladder) - 1) // 2, "settled": int(settled), "stats": stats}  # fmt: skip


def recovery_text(rec: Mapping[str, Any]) -> str:
    """One honest sentence on ``rec`` (a :func:`recovery` row), driven by its numbers only."""
    tau, c, n = rec["tau"], rec["concordant"], rec["pairs"]
    if math.isnan(tau):
        return f"{rec['judge']}: no ranking to compare."
    if c == n:
        head = f"{rec['judge']} recovered the known order (τ = {tau:+.2f})"
    elif tau > 0:
        head = f"{rec['judge']} recovered the known order only partly (τ = {tau:+.2f}: {c} of {n} rung pairs in the right order)"
    else:
        head = f"{rec['judge']} did not recover the known order (τ = {tau:+.2f}: {c} of {n} rung pairs in the right order)"
    gaps = len(rec["order"]) - 1
    settled = (
        "its 95% intervals separate every adjacent pair of its order" if rec["settled"] == gaps
        else f"its 95% intervals separate only {rec['settled']} of {gaps} adjacent pairs of its order, so that order is not settled"
    )  # fmt: skip
    why = ""
    stats = rec.get("stats") or {}
    first = stats.get("first_position_rate", math.nan)
    if c < n and isinstance(first, float) and not math.isnan(first) and abs(first - 0.5) >= 0.2:
        shown = "first" if first > 0.5 else "second"
        why = (
            f" It picked the response shown {shown} in {pct(max(first, 1 - first))} of its decisive games "
            f"(position consistency {pct(stats.get('consistency'))}): its verdicts follow the order of presentation more "
            "than the responses, and judging both orders with a first-position term cancels that bias without adding the "
            "missing signal."
        )
    same = rec.get("same_as")
    if same:
        why += f" Its order is the same as {same}'s."
    return f"{head}; {settled}.{why}{rec.get('note', '')}"


def _annotate(rows: list[dict[str, Any]], outputs: pd.DataFrame, ladder: Sequence[str], length_judge: str,
              jury_judge: str, overlap_judge: str | None = None) -> None:  # fmt: skip
    """Add the notes the numbers call for: ``same_as`` on the jury row when its fitted order is
    one juror's; ``note`` on the length judge's row for each pair of rungs of (nearly) equal mean
    length (within 5%), which a length judge cannot tell apart; ``note`` on the overlap judge's
    row for each pair of rungs whose mean prompt overlap (:func:`mean_overlap`) is within 5% of
    each other, or that tie on at least half of the prompts."""
    by_name = {r["judge"]: r for r in rows}
    jury_row = by_name.get(jury_judge)
    if jury_row is not None:
        same = [r["judge"] for r in rows if r is not jury_row and r["order"] == jury_row["order"]]
        jury_row["same_as"] = " and ".join(same)
    length_row = by_name.get(length_judge)
    if length_row is not None:
        mean = outputs.assign(n=outputs["response"].str.len()).groupby("model")["n"].mean()
        close = [(a, b) for a, b in itertools.combinations(ladder, 2)
                 if a in mean and b in mean and abs(mean[a] - mean[b]) <= 0.05 * max(mean[a], mean[b])]  # fmt: skip
        length_row["note"] = "".join(
            f" {a} and {b} have about the same mean length ({mean[a]:.0f} and {mean[b]:.0f} characters), so a length "
            "judge cannot tell them apart: their order here is chance."
            for a, b in close
        )
    overlap_row = by_name.get(overlap_judge) if overlap_judge else None
    if overlap_row is not None and "prompt" in outputs.columns:
        share = outputs.assign(s=overlap_scores(outputs)).pivot_table(index="prompt_id", columns="model", values="s")
        mean = share.mean()
        notes = []
        for a, b in itertools.combinations(ladder, 2):
            if a not in share or b not in share:
                continue
            tied = float((share[a] == share[b]).mean())
            if abs(mean[a] - mean[b]) <= 0.05 * max(mean[a], mean[b]):
                notes.append(
                    f" {a} and {b} use about as many of the prompt's content words (on average {pct(mean[a])} and "
                    f"{pct(mean[b])}), so an overlap judge cannot tell them apart: their order here is chance."
                )
            elif tied >= 0.5:
                notes.append(
                    f" The overlap judge ties {a} and {b} on {pct(tied)} of the prompts (the same share of the prompt's "
                    "content words), so only the other prompts order them."
                )
        overlap_row["note"] = "".join(notes)


def overlap_scores(outputs: pd.DataFrame) -> np.ndarray:
    """The ``overlap`` score (:mod:`referee.scoring.overlap`) of each response of ``outputs``
    against its own prompt: the share of the prompt's content words the response uses."""
    from referee.scoring.overlap import OverlapScorer

    return OverlapScorer().score(outputs["prompt"].astype(str).tolist(), outputs["response"].astype(str).tolist())


def _recovery_table(rows: Sequence[Mapping[str, Any]], console: Console) -> None:
    """The on-screen summary: one row per judge (and the jury)."""
    from rich.console import Console
    from rich.table import Table

    if not console.quiet and not console.is_terminal and console.width < 120:
        console = Console(width=120)  # as print_leaderboard: one line per judge in logs and pipes
    table = Table(title="Did referee recover the known order?", title_justify="left")
    for col, just in (("judge", "left"), ("Kendall τ", "right"), ("right pairs", "right"), ("fitted order (best first)", "left"),
                      ("position consistency", "right")):  # fmt: skip
        table.add_column(col, justify=just)  # type: ignore[arg-type]  # rich's JustifyMethod is a Literal
    for r in rows:
        stats = r.get("stats") or {}
        table.add_row(r["judge"], f"{r['tau']:+.2f}", f"{r['concordant']}/{r['pairs']}", " > ".join(r["order"]),
                      pct(stats.get("consistency")) if stats else "n/a")  # fmt: skip
    console.print(table)


# -- report data ---------------------------------------------------------------------------------------------
def _contestant_rows(outputs: pd.DataFrame, ladder: Sequence[str], how: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each rung: its true rank, how it is made, the mean length of its responses (characters) and,
    when ``outputs`` has prompts, their mean prompt overlap (:func:`overlap_scores`; else NaN)."""
    lengths = outputs.assign(n=outputs["response"].str.len()).groupby("model")["n"].mean()
    shares = (outputs.assign(s=overlap_scores(outputs)).groupby("model")["s"].mean() if "prompt" in outputs.columns
              else pd.Series(dtype=float))  # fmt: skip
    return [
        {"name": name, "true_rank": i, "how": how.get(name, ""), "mean_chars": float(lengths.get(name, math.nan)),
         "mean_overlap": float(shares.get(name, math.nan))}
        for i, name in enumerate(ladder, start=1)
    ]  # fmt: skip


def _sample_games(games: pd.DataFrame, prompts: int = 4) -> list[dict[str, Any]]:
    """Both orders of one pair from each of the first ``prompts`` prompts, prompt by prompt."""
    first_pairs = games.drop_duplicates("prompt_id")["pair_id"].head(prompts)
    shown = games[games["pair_id"].isin(first_pairs)].sort_values(["prompt_id", "order"], kind="stable")
    return [{str(k): v for k, v in rec.items()} for rec in shown.to_dict(orient="records")]


def run_jury(tables: Sequence[pd.DataFrame], *, seed: int, output: Path) -> pd.DataFrame:
    """The demo's jury: :func:`referee.judging.jury.jury` with ``method="mean"`` (the mean P(A)
    of the judges per game) over the judges' verdict tables.  The demo's single call site."""
    from referee.judging.jury import jury

    return jury(list(tables), method="mean", seed=seed, output=output)


# -- the demo -----------------------------------------------------------------------------------------------
def demo(
    out: Path = Path("demo"),
    seed: int = 0,
    n_prompts: int | None = None,
    rounds: int = 500,
    quiet: bool = False,
    console: Console | None = None,
) -> Path:
    """Generate, build the ladder, judge (local model both orders, length, overlap, jury), rank, measure
    Kendall's τ against the known order and report; returns the report path."""
    from rich.console import Console

    from referee.errors import InputError
    from referee.judging.cache import Cache
    from referee.judging.contestants import (
        ANSWERER,
        LADDER,
        RUNGS,
        build_ladder,
        generate_outputs,
        load_prompts,
    )
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
    if len(prompts) < 2:
        raise InputError("the demo needs at least 2 prompts (the off-topic rung answers another prompt)", field="n_prompts")
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
        f"It answers {len(prompts)} prompts once; from its answers referee builds {len(LADDER)} contestants whose true "
        f"order is known by construction ({' > '.join(LADDER)}), has them judged by the same model in both orders, by "
        "response length, by overlap with the prompt's words and by a jury of the three, and measures with Kendall's τ whether the ranking recovers the known order.\n"
        f"Cache: {out / 'cache.sqlite'} (a re-run is fast)."
    )
    with Cache(out / "cache.sqlite") as cache:
        t0 = time.perf_counter()
        console.print(f"\n[bold]1/4 Generating[/bold] one answer per prompt, then the ladder: {', '.join(f'{k} ({v})' for k, v in RUNGS.items())}")
        with _phase(console, "generating", quiet) as progress:
            answers, gen_usage = generate_outputs(prompts, backend, contestants=(ANSWERER,), seed=seed, cache=cache, progress=progress)
        answers = answers.merge(prompts[["prompt_id", "category"]], on="prompt_id", how="left")
        outputs = build_ladder(answers, seed=seed)
        outputs.to_json(out / "outputs.jsonl", orient="records", lines=True, force_ascii=False)
        timings["generation"] = f"{time.perf_counter() - t0:.1f} s"
        console.print(f"  {len(answers)} answers → {len(outputs)} ladder responses → {out / 'outputs.jsonl'} ({timings['generation']})")

        t0 = time.perf_counter()
        n_games = len(answers) * len(LADDER) * (len(LADDER) - 1)
        console.print(f"\n[bold]2/4 Judging[/bold] {n_games} games with {JUDGE_NAME}: every pair on every prompt, both orders")
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
    console.print(f"\n[bold]3/4 Second opinions[/bold]: the length and overlap scorers as judges, and a jury (mean P(A)) "
                  f"of {JUDGE_NAME}, length and overlap")
    lengths = judge(outputs, judge_spec="length", pairs="round-robin", seed=seed, cache=False,
                    allow_missing=True, output=out / "verdicts-length.jsonl")  # fmt: skip
    overlaps = judge(outputs, judge_spec="overlap", pairs="round-robin", seed=seed, cache=False,
                     allow_missing=True, output=out / "verdicts-overlap.jsonl")  # fmt: skip
    tables: dict[str, pd.DataFrame] = {JUDGE_NAME: result.comparisons(), LENGTH_NAME: lengths.comparisons(),
                                       OVERLAP_NAME: overlaps.comparisons()}  # fmt: skip
    tables[JURY_NAME] = run_jury([result.table, lengths.table, overlaps.table], seed=seed,
                                 output=out / "verdicts-jury.jsonl")  # fmt: skip
    timings["length and overlap judges, jury"] = f"{time.perf_counter() - t0:.1f} s"

    t0 = time.perf_counter()
    console.print("\n[bold]4/4 Ranking[/bold]: Bradley–Terry on the soft verdicts, a first-position term, bootstrap CIs by prompt")
    boards = {
        name: rank_fn(table, ci="bootstrap", rounds=rounds, cluster="prompt_id", first_position=True, seed=seed)
        for name, table in tables.items()
    }  # fmt: skip
    board = boards[JUDGE_NAME]
    timings["ranking"] = f"{time.perf_counter() - t0:.1f} s"
    if not quiet:  # print_leaderboard swaps a narrow console for its own, quiet or not
        print_leaderboard(board, console)
    rows = [
        recovery(b, LADDER, name, stats if name == JUDGE_NAME else _stats_or_none(tables[name]))
        for name, b in boards.items()
    ]  # fmt: skip
    _annotate(rows, outputs, LADDER, LENGTH_NAME, JURY_NAME, OVERLAP_NAME)
    _recovery_table(rows, console)
    console.print(
        f"  τ compares {len(LADDER)} rungs, so it is coarse: without ties it can only be "
        + ", ".join(f"{v:+.2f}" for v in tau_values(len(LADDER))) + "."
    )
    for r in rows:
        console.print("  " + recovery_text(r))
    timings["total"] = f"{time.perf_counter() - t_start:.1f} s"
    run = {
        "judge": JUDGE_NAME, "template": template.name, "generator": backend.name, "n_prompts": len(answers),
        "timings": timings, "gen_usage": gen_usage, "judge_usage": result.usage,
        "tokens": gen_usage.prompt_tokens + gen_usage.completion_tokens + result.usage.prompt_tokens + result.usage.completion_tokens,
    }  # fmt: skip
    notes = [
        f"{len(LADDER)} contestants of known quality ({' > '.join(LADDER)}) × {len(answers)} prompts, judged pairwise by "
        f"{JUDGE_NAME} in both orders; judge position consistency {pct(stats['consistency'])}, first-position win rate "
        f"{pct(stats['first_position_rate'])}. This leaderboard is that judge's; the length and overlap scorers' and the "
        "jury's are summarised under “Did referee recover the known order?”.",
        "Ratings use the judge's soft verdicts P(A) and estimate a first-position advantage separately; "
        + _separation_note(board),
    ]
    summary = {"ladder": list(LADDER), "tau_values": tau_values(len(LADDER)), "judges": rows}
    board.meta["judge_position"] = stats
    board.meta["recovery"] = _jsonable(summary)
    path = out / "report.html"
    page = leaderboard_html(
        board, title="referee demo: a known quality ladder judged by a local model, by length, by prompt overlap and by a jury", notes=notes,
        extra_sections=demo_sections(stats, _contestant_rows(outputs, LADDER, RUNGS), _sample_games(games), run,
                                     REFERENCE_CONSISTENCY, recovery=summary, texts=[recovery_text(r) for r in rows]),
    )  # fmt: skip
    path.write_text(page, encoding="utf-8")
    board.save(out / "board.json")
    (out / "recovery.json").write_text(json.dumps(_jsonable(summary), indent=2), encoding="utf-8")
    console.print(
        f"\nPosition consistency {pct(stats['consistency'])} ({REFERENCE_CONSISTENCY}).\n"
        f"Wrote [bold]{path}[/bold] (open it in a browser), {out / 'board.json'}, {out / 'recovery.json'}; total {timings['total']}."
    )
    return path


def _stats_or_none(table: pd.DataFrame) -> dict[str, Any] | None:
    """:func:`position_stats` of a verdict table that has presentation orders, else None."""
    needed = {"pair_id", "parse_status", "winner", "model_a", "model_b", "prob_a"}
    return position_stats(table) if needed <= set(table.columns) else None


def _jsonable(x: Any) -> Any:
    """``x`` with NaN floats as None (strict JSON)."""
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


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

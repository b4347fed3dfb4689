"""``judge(...)``: the library function behind ``referee judge``.

Pairwise (default): each planned pair is judged in both presentation orders (order 1 as
planned, order 2 swapped).  The output table holds **one row per game**, models in the
order shown, so ``referee rank`` counts each game as one comparison (and can estimate a
first-position effect); ``pair_id`` + ``order`` link the two games of a pair.  Rows whose
answer did not parse (``parse_status="unparsed"``) or whose call failed (``"failed"``) keep
their raw text with ``winner`` null and are left out of ranking.  The reconciled verdict
per pair (``conservative``, ``average`` or ``soft``) is a separate table
(:attr:`JudgeResult.reconciled`, written beside the output as ``<name>.reconciled.<ext>``);
rank it *instead of* the games, never together with them.

Pointwise: one row per (prompt, model) with the score (the expected rating Σ p(k)·k when
logprobs came back, else the rating as written).

:func:`judge` composes the seams of a run, each a module:

* :mod:`.spec` -- who judges (:class:`JudgeSpec`), the template and the decoding settings;
* :mod:`.games` -- the outputs indexed once, the candidate pairs and the games made from them
  lazily, from every candidate or from a planner (``plan=``);
* :mod:`.pipeline` -- the streaming run: take, render, send (:mod:`.engine`), parse, settle;
* :mod:`.reconcile` -- both orders of a pair into one verdict (and a planner's outcomes);
* :mod:`.output` -- the rows in game order, the files, the result and its summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError
from referee.judging.output import (
    GAME_COLUMNS,
    SCORE_COLUMNS,
    JudgeResult,
    Row,
    VerdictWriter,
    build_result,
    reconciled_path,
)
from referee.judging.reconcile import RECONCILE, Outcomes, reconcile_games
from referee.judging.spec import MODES, JudgeSpec, decoding, is_scorer_spec, parse_local, resolve
from referee.judging.spec import template as choose_template
from referee.judging.templates import Template
from referee.judging.types import Backend, Usage

if TYPE_CHECKING:  # pandas loads after the first request is out (start-up time)
    import pandas as pd

    from referee.judging.engine import Progress
    from referee.judging.games import Game, GameSource
    from referee.planning.base import Planner


def judge(
    outputs: pd.DataFrame | str | Path | Sequence[str | Path],
    *,
    judge_spec: JudgeSpec | dict[str, Any] | str | Path,
    baseline: str | None = None,
    pairs: str | Path | pd.DataFrame | None = None,
    mode: str | None = None,
    template: str | Path | Template | None = None,
    rubric: Any = None,
    rubric_calls: str = "separate",
    rubric_weights: str = "given",
    references: pd.DataFrame | str | Path | Sequence[str | Path] | None = None,
    questions: str | Path | None = None,
    both_orders: bool = True,
    reconcile: str = "conservative",
    seed: int = 0,
    cache: Any = True,
    concurrency: int = 8,
    rpm: float | None = None,
    tpm: float | None = None,
    retries: int = 6,
    max_calls: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    allow_missing: bool = False,
    progress: Progress | None = None,
    output: str | Path | None = None,
    backend: Backend | None = None,
    plan: Planner | str | None = None,
    budget: int | float | str | None = None,
    until: str | None = None,
    top_k: int | None = None,
    rounds: int | None = None,
    level: float = 0.95,
    ray: str | None = None,
    replicas: int = 1,
    ray_num_cpus: float = 1.0,
    ray_num_gpus: float = 0.0,
    samples: int = 1,
    jury: str | None = None,
    gold: Any = None,
) -> JudgeResult:
    """Judge model outputs with an LLM and return the verdicts (see the module docstring).

    ``outputs``: a table ``prompt_id, prompt, model, response`` or files (AlpacaEval
    ``model_outputs.json``, Arena-Hard answers, generic JSONL/CSV; see
    :mod:`referee.judging.inputs`).  Pairs: ``baseline=MODEL``, ``pairs="round-robin"``, a pairs
    file or a ``prompt_id, model_x, model_y[, pair_id]`` table -- or ``plan``, a
    :class:`~referee.planning.base.Planner` that proposes candidates in batches and is told each
    one's reconciled outcome (model_a's score) as soon as its games are judged, or a plan's name:
    ``"all"`` (every candidate, the default), ``"random"``, ``"active"``, ``"swiss"``, ``"knockout"``
    over the candidates ``baseline`` / ``pairs`` name (round robin by default), with ``budget``
    (judge calls, or ``"P%"`` of the candidates' calls; both orders are two calls; never
    exceeded), ``until="separated"`` (stop when adjacent rank intervals, or the ``top_k``, are
    separated at ``level``) and ``rounds`` (Swiss) — see :mod:`referee.judging.planned` for how a
    killed planned run resumes.  ``judge_spec``: a
    :class:`JudgeSpec`, a dict of its fields, or a YAML config path.  ``mode`` defaults to the
    template's kind; ``template`` to ``pairwise`` / ``pointwise-10``.  ``cache``: True (the
    default cache file), False/None, a path or a :class:`~referee.judging.cache.Cache`.
    ``max_tokens`` / ``max_cost`` / ``max_calls`` are budgets for the whole run (per-call
    ``max_tokens`` is in the spec).  ``output``: ``.jsonl`` (rows appended as verdicts arrive),
    ``.csv`` or ``.parquet``.  ``backend`` overrides the spec's backend (library use).

    ``ray``: a Ray cluster (``"auto"``, ``HOST:PORT``, ``ray://HOST:PORT``, ``"local"``; needs
    ``referee[ray]``): the judge backend runs as ``replicas`` Ray actors of ``ray_num_cpus`` CPUs and
    ``ray_num_gpus`` GPUs each, while the planner, the cache, the rate limits and the budgets stay
    here (:mod:`referee.judging.distributed`); the rows equal a local run's.

    The run streams (:mod:`referee.judging.pipeline`): the first request goes out as soon as the
    outputs are read and checked, whatever the number of games, and each game's prompt is
    rendered just before it is sent.  What the run still holds in memory, and why: the outputs
    (:class:`~referee.judging.games.Texts`, read whole so that a missing output or a duplicate is
    an error before anything is spent), and one verdict row per game judged (a tuple of
    references to those texts plus the judge's raw answer): the returned table is made of them.
    Rendered prompts are not kept, and neither is a list of games or, for ``baseline`` and
    round robin, of pairs.  The table is in game order (the order the pairs were planned, order 1
    before order 2), whatever order the answers came back in.

    ``rubric``: a rubric file, dict or :class:`~referee.judging.rubric.Rubric` — each criterion judged
    on its own (``rubric_calls="separate"``, or all in one call: ``"joint"``) and the verdict
    aggregated outside the judge with ``rubric_weights`` ``"given"`` | ``"redundancy"`` | ``"learned"``
    (from ``gold``); see :mod:`referee.judging.rubric_run`.

    ``samples=k`` (self-consistency, :mod:`referee.judging.samples`): every game asked ``k`` times at
    a temperature above 0, ``prob_a`` the vote share (with logprobs the mean per-answer P(A)).  A
    panel ``judge_spec`` (a mapping or YAML file with a ``judges`` list,
    :mod:`referee.judging.panel`) runs its judges concurrently and, with ``jury`` (``majority`` |
    ``mean`` | ``weighted`` | ``peer-rank``, :func:`referee.jury`; ``gold`` for ``weighted``), adds
    their jury's table.
    """
    if rubric is not None:  # rubric judging: one call per criterion, aggregated outside the judge
        from referee.judging.rubric_run import rubric_judge

        return rubric_judge(dict(locals()))
    if samples != 1 or jury is not None or gold is not None or isinstance(judge_spec, dict | str | Path):
        args = dict(locals())
        from referee.judging.panel import delegate

        if (special := delegate(args, judge)) is not None:  # a panel, a jury, self-consistency
            return special
    from referee.judging.games import Texts, source_for
    from referee.judging.inputs import records_of, references_of

    spec = resolve(judge_spec)
    tpl = choose_template(template or spec.template, mode)
    mode = tpl.kind
    if reconcile not in RECONCILE:
        raise InputError(f"reconcile must be one of {', '.join(RECONCILE)}", field="reconcile")
    records, notes = records_of(outputs, questions)
    refs = references_of(references, questions)
    if tpl.reference == "required" and refs is None:
        raise InputError(f"template {tpl.name!r} needs reference answers: pass `references=FILE`", field="references")
    if refs is not None and tpl.reference == "none":
        notes.append(f"template {tpl.name} does not use references: ignored")
        refs = None
    texts = Texts(records, refs)
    if isinstance(plan, str) or plan is None:
        from referee.judging.planned import check_resume, plan_settings, planner_for

        name = plan or "all"
        resume = plan_settings(plan=name, seed=seed, budget=budget, until=until, top_k=top_k, rounds=rounds,
                                 level=level, both_orders=both_orders, baseline=baseline,
                                 pairs=pairs if isinstance(pairs, str | Path | None) else "<table>")
        planned = planner_for(name, records, baseline=baseline, pairs=pairs, seed=seed, both_orders=both_orders,
                              budget=budget, until=until, top_k=top_k, rounds=rounds, level=level)
        if planned is not None or (output is not None and Path(f"{output}.plan.json").exists()):
            check_resume(output, resume)
        plan = planned
    dec = decoding(spec, tpl)
    pairwise = mode == "pairwise"
    source, info = source_for(
        texts, mode=mode, baseline=baseline, pairs=pairs, seed=seed, both_orders=both_orders, allow_missing=allow_missing,
        need_reference=refs is not None and tpl.reference == "required", plan=plan,
    )  # fmt: skip
    meta: dict[str, Any] = {
        "mode": mode, "template": tpl.name, "judge": spec.label, "seed": seed, "decoding": dec,
        "both_orders": both_orders if pairwise else None, "reconcile": reconcile if pairwise else None,
        "notes": notes, **info,
    }  # fmt: skip
    if plan is not None:
        meta["plan"] = getattr(plan, "name", type(plan).__name__)
        notes.extend(getattr(plan, "notes", None) or [])
    if ray is not None and backend is not None:
        raise InputError("`ray` runs the judge spec's backend on the cluster; it cannot take a `backend` object",
                         field="ray")
    writer = VerdictWriter(output, mode)
    expected = 2 if both_orders else 1
    settle = _settler(writer, source, Outcomes(reconcile, expected) if source.wants_outcomes else None)
    try:
        if spec.scorer is not None:  # a reward model judges: no LLM calls, no cache
            from referee.judging.scorer import score_games

            meta.update(template=None, decoding=None)
            on_ray = None
            if ray is not None:  # the reward model on Ray actors, the games and the output here
                from referee.judging.distributed import RayScorer

                on_ray = RayScorer(spec.scorer, ray=ray, replicas=replicas, num_cpus=ray_num_cpus,
                                   num_gpus=ray_num_gpus)
            usage = Usage(calls=score_games(spec.scorer, source, texts, settle, mode=mode, judge=spec.label,
                                            scorer=on_ray))
            if on_ray is not None:
                usage.extra["ray"] = on_ray.stats()
        else:
            from referee.judging.pipeline import EngineSettings, Renderer, judge_games

            settings = EngineSettings(cache, concurrency, rpm, tpm, retries, max_calls, max_tokens, max_cost, progress)
            remote = None
            if ray is not None:
                from referee.judging.distributed import ray_backend

                remote = backend = ray_backend(spec, ray=ray, replicas=replicas, num_cpus=ray_num_cpus,
                                               num_gpus=ray_num_gpus, concurrency=concurrency)
            try:
                usage = judge_games(spec, backend, source, Renderer(tpl, texts, mode, dec), settle, settings,
                                    label=spec.label)
            finally:
                if remote is not None:
                    remote.close()
            if remote is not None:
                usage.extra["ray"] = remote.stats()
    finally:
        writer.close()
    if plan is not None and hasattr(source, "missing"):
        meta["missing_outputs"] = len(source.missing)
    meta["n_requests"] = source.total
    meta["not_run"] = source.total - len(writer.rows) if plan is None else writer.not_run
    if plan is not None and hasattr(plan, "progress"):
        meta["plan_stopped"] = getattr(plan, "reason", None)  # budget, separated, exhausted, …
        meta["plan_progress"] = plan.progress().line()
    return build_result(writer, usage, meta, rule=reconcile, expected=expected)


def _settler(writer: VerdictWriter, source: GameSource, outcomes: Outcomes | None) -> Any:
    """Each settled game: its row to the writer and, for a planner, its pair's outcome to the source."""
    from referee.judging.output import as_dict

    def settle(game: Game, row: Row | None) -> None:
        writer.settle(game.index, row)
        if outcomes is None or game.pair_id is None:
            return
        b = str(game.model_b)
        frame = (game.prompt_id, game.model_a, b) if game.order == 1 else (game.prompt_id, b, game.model_a)
        got = outcomes.add(game.pair_id, frame, None if row is None else as_dict(row, "pairwise"))
        if got is not None:
            source.observe([got])

    return settle


__all__ = [
    "GAME_COLUMNS", "MODES", "RECONCILE", "SCORE_COLUMNS", "JudgeResult", "JudgeSpec", "is_scorer_spec", "judge",
    "parse_local", "reconcile_games", "reconciled_path",
]  # fmt: skip

"""Self-consistency: every game asked ``k`` times, the share of the votes as the soft verdict.

``judge(..., samples=k)`` (``k > 1``) runs the judge ``k`` times over the same games, at a temperature
above 0, through the same engine and cache: pass ``i`` sends each request with ``seed = i`` and
under the cache identity ``<endpoint|model>|sample=i`` (:class:`SampleBackend`), so the ``k``
answers of a game are ``k`` distinct cache entries and a re-run makes 0 calls, while a run with
``k = 1`` keys its requests exactly as before (existing caches stay valid).  The budgets
(``max_calls``, ``max_tokens``, ``max_cost``) hold for the ``k`` passes together.

Aggregation per game (Wang et al. 2023, self-consistency; TrustJudge, 2025, for the soft form):

* pairwise, without logprobs: ``prob_a`` is the vote share of ``model_a`` among the **parsed**
  answers (a tie counts ½); an answer that did not parse is counted (``samples_unparsed``), never
  guessed into a vote; no parsed answer leaves the game ``unparsed``;
* pairwise, with logprobs: the likelihood-aware aggregation of TrustJudge — the mean over the
  parsed answers of each answer's own ``P(A)`` from its token logprobs (the label's share when an
  answer carries none) instead of the count of argmax votes;
* pointwise: ``score`` the mean of the parsed answers' scores (with logprobs each one is already the
  expected rating Σ p(k)·k), ``rating`` their median.

``winner`` follows ``prob_a`` (``model_a`` above ½, ``model_b`` below, ``tie`` at ½); ``strength`` is
left empty (a graded template's strengths do not average into a label), ``verdict`` is the
most frequent parsed label, ``raw_completion`` the first answer's text, and the row gains
``samples`` and ``samples_unparsed`` columns; ``verdict_probs`` holds the votes per label.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from referee.errors import InputError
from referee.judging.output import (
    GAME_COLUMNS,
    SCORE_COLUMNS,
    JudgeResult,
    VerdictWriter,
    build_result,
    reconciled_path,
    sidecar_path,
)
from referee.judging.parse import OK, UNPARSED
from referee.judging.spec import decoding, resolve
from referee.judging.spec import template as choose_template
from referee.judging.templates import MODEL_A, MODEL_B, TIE
from referee.judging.types import Backend, ChatRequest, ChatResult, Usage, WrappedBackend

if TYPE_CHECKING:
    import pandas as pd


class SampleBackend(WrappedBackend):
    """``inner`` answering sample ``index``: the request's ``seed`` is the index and the cache identity
    ends in ``|sample=<index>`` (so each sample of a game is its own cache entry)."""

    def __init__(self, inner: Backend, index: int) -> None:
        super().__init__(inner, f"{inner.identity}|sample={index}")
        self.index = index

    async def complete(self, request: ChatRequest) -> ChatResult:
        return await self.inner.complete(replace(request, seed=self.index if request.seed is None else request.seed))


def run_samples(args: dict[str, Any], k: int, judge: Callable[..., JudgeResult]) -> JudgeResult:
    """``judge`` (:func:`referee.judge`) with ``args`` (its keyword arguments, ``samples`` left out), ``k`` times."""
    if not isinstance(k, int) or k < 1:
        raise InputError(f"`samples` must be a whole number >= 1, got {k!r}", field="samples")
    spec = resolve(args["judge_spec"])
    if spec.scorer is not None:
        raise InputError(f"`samples` asks an LLM judge several times; {spec.scorer!r} is a reward model, whose "
                         "answer never changes", field="samples")
    for name in ("ray", "until"):
        if args.get(name) is not None:
            raise InputError(f"`samples` cannot be combined with `{name}` yet", field="samples")
    if args.get("plan") not in (None, "all"):
        raise InputError("`samples` judges every candidate pair: it cannot be combined with `plan` yet", field="samples")
    tpl = choose_template(args.get("template") or spec.template, args.get("mode"))
    dec = decoding(spec, tpl)
    if dec["temperature"] <= 0:
        raise InputError(f"`samples`={k} asks the same question {k} times, but at `temperature` 0 every answer is "
                         "the same: pass a `temperature` above 0 (e.g. 0.7)", field="temperature")
    owned = args.get("backend") is None
    inner = args.get("backend") or spec.backend()
    output = args.get("output")
    writer = VerdictWriter(output, tpl.kind)  # checks the output before anything is spent
    budgets = {name: args.get(name) for name in ("max_calls", "max_tokens", "max_cost")}
    results: list[JudgeResult] = []
    usage = Usage()
    try:
        for i in range(k):
            left = usage.left(budgets)
            if left is None:
                break
            run = judge(**(args | left | {"judge_spec": spec, "backend": SampleBackend(inner, i), "output": None}))
            results.append(run)
            usage.add(run.usage)
    finally:
        if owned and hasattr(inner, "close"):
            inner.close()
    table = aggregate([r.table for r in results], k, tpl.kind, logprobs=bool(dec["logprobs"]))
    first = results[0].meta if results else {}
    meta: dict[str, Any] = {key: first[key] for key in ("mode", "template", "judge", "seed", "decoding", "both_orders", "reconcile",
                                          "notes", "n_pairs", "n_prompts", "n_models") if key in first}
    meta["decoding"] = dec
    unparsed = int(table["samples_unparsed"].sum()) if len(table) else 0
    meta["samples"] = {"k": k, "passes": len(results), "aggregation": "logprob mean" if dec["logprobs"] else "vote share",
                       "unparsed_answers": unparsed}
    meta["n_requests"] = sum(r.meta.get("n_requests", 0) for r in results)
    meta["not_run"] = sum(r.meta.get("not_run", 0) for r in results) + (k - len(results)) * int(first.get("n_requests", 0))
    columns = list(GAME_COLUMNS if tpl.kind == "pairwise" else SCORE_COLUMNS)
    rows = VerdictWriter(None, tpl.kind)
    rows.rows.extend(tuple(row) for row in table[columns].itertuples(index=False, name=None))
    reconcile = str(args.get("reconcile") or "conservative")
    result = build_result(rows, usage, meta, rule=reconcile, expected=2 if args.get("both_orders", True) else 1)
    result = JudgeResult(table, usage, result.meta, result.reconciled)
    if writer.output is not None:
        result.meta["outputs"] = write_outputs(result, writer.output)
    return result


def write_outputs(result: JudgeResult, output: Path, extra: dict[str, pd.DataFrame] | None = None) -> dict[str, str]:
    """The table, its reconciled pairs (``<name>.reconciled.<ext>``) and ``extra`` tables
    (``<name>.<what>.<ext>``), each written to a temporary file and renamed at the end."""
    from referee.io.write import write_atomic

    files = {"table": (result.table, output)}
    if result.reconciled is not None and not result.reconciled.empty:
        files["reconciled"] = (result.reconciled, reconciled_path(output))
    for what, df in (extra or {}).items():
        files[what] = (df, sidecar_path(output, what))
    return {what: str(write_atomic(df, path)) for what, (df, path) in files.items()}


def aggregate(tables: list[pd.DataFrame], k: int, mode: str, *, logprobs: bool) -> pd.DataFrame:
    """One row per game from the ``k`` passes' tables (game order; see the module docstring)."""
    import pandas as pd

    columns = list(GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS)
    if not tables:
        return pd.DataFrame(columns=[*columns, "samples", "samples_unparsed"])
    key = ["pair_id", "order"] if mode == "pairwise" else ["prompt_id", "model"]
    base = tables[0]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for t in tables:
        for rec in cast(list[dict[str, Any]], t.to_dict("records")):
            groups.setdefault(tuple(rec[c] for c in key), []).append(rec)
    rows = [_pairwise(groups[tuple(r[c] for c in key)], logprobs) if mode == "pairwise"
            else _pointwise(groups[tuple(r[c] for c in key)]) for r in base.to_dict("records")]
    return pd.DataFrame(rows, columns=[*columns, "samples", "samples_unparsed"])


def _share(rec: dict[str, Any], logprobs: bool) -> float:
    p = rec.get("prob_a")
    if logprobs and p is not None and not (isinstance(p, float) and math.isnan(p)):
        return float(p)
    return {MODEL_A: 1.0, MODEL_B: 0.0}.get(rec.get("winner") or "", 0.5)


def _pairwise(recs: list[dict[str, Any]], logprobs: bool) -> dict[str, Any]:
    ok = [r for r in recs if r.get("parse_status") == OK]
    out = dict(recs[0])
    out.update(samples=len(recs), samples_unparsed=len(recs) - len(ok), strength=math.nan)
    votes = Counter(str(r.get("winner")) for r in ok)
    out["verdict_probs"] = json.dumps(dict(votes)) if votes else None
    if not ok:
        out.update(winner=None, prob_a=math.nan, verdict=None, parse_status=UNPARSED)
        return out
    prob = sum(_share(r, logprobs) for r in ok) / len(ok)
    winner = MODEL_A if prob > 0.5 + 1e-12 else MODEL_B if prob < 0.5 - 1e-12 else TIE
    label = Counter(str(r.get("verdict")) for r in ok).most_common(1)[0][0]
    out.update(winner=winner, prob_a=prob, verdict=label, parse_status=OK, error=None)
    return out


def _pointwise(recs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in recs if r.get("parse_status") == OK and r.get("score") is not None]
    out = dict(recs[0])
    out.update(samples=len(recs), samples_unparsed=len(recs) - len(ok), score_probs=None)
    if not ok:
        out.update(score=math.nan, rating=math.nan, parse_status=UNPARSED)
        return out
    out.update(score=sum(float(r["score"]) for r in ok) / len(ok),
               rating=statistics.median(float(r["rating"]) for r in ok if r.get("rating") is not None)
               if any(r.get("rating") is not None for r in ok) else math.nan,
               parse_status=OK, error=None)
    return out


__all__ = ["SampleBackend", "aggregate", "run_samples", "write_outputs"]

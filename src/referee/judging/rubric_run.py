"""``judge(..., rubric=...)``: rubric judging through the judge engine, aggregated outside the judge.

**Calls.**  ``rubric_calls="separate"`` (the default) makes one call per (game, criterion): the
criterion's own question, rendered from the rubric template (``rubric-pairwise`` /
``rubric-pointwise``) with the criterion's name, kind, description and scale.  It is the default
because small and weak judges answer one focused question far more reliably than a checklist, because
each criterion's request is its own cache entry (a run resumes, and a criterion added to the rubric
costs only its own calls), and because an answer that does not parse loses one criterion, not all of
them.  ``rubric_calls="joint"`` makes one call per game for all its criteria (``rubric-joint``: the
judge answers one line per criterion, ``NAME: <verdict>``) — fewer calls, longer answers.  Either way
the requests run through the ordinary pipeline (:mod:`.pipeline`): cache, budgets, rate limits,
concurrency, and both presentation orders of every pair.

**Rows.**  Per criterion and game (pairwise) or output (pointwise), with a ``criterion`` and a
``kind`` column (``score_a`` / ``score_b``: a gate's pass 1 / fail 0, a scale's scores); a
criterion whose answer does not parse is ``unparsed`` there, never guessed.  Written beside the
output as ``<name>.criteria.<ext>`` (:func:`criteria_path`, like ``.reconciled``).

**Verdicts.**  The output itself is the aggregated table, one row per pair (pairwise; an ordinary
comparisons table for ``referee rank`` / ``referee audit``) or per output (pointwise; a scores
table), decided outside the judge by :mod:`.rubric_aggregate`: a failed gate loses, else the weighted
mean of the parsed criteria's soft preferences; weights ``given`` (the rubric's), ``redundancy``
(correlated criteria do not count twice) or ``learned`` from ``gold`` (a comparisons table of gold
verdicts on the same pairs).  ``decided_by`` names the deciding gate (or ``weighted``),
``unparsed_criteria`` the criteria left out of the pair's verdict; a pair whose criteria all failed
to parse has no verdict (``parse_status="unparsed"``).  Pointwise: an output that fails a gate scores
0, else the weighted mean of its scale criteria, each mapped to [0, 1].
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from referee.errors import InputError
from referee.judging.games import AllGames, Game, Texts
from referee.judging.output import GAME_COLUMNS, SCORE_COLUMNS, JudgeResult, Row, VerdictWriter, sidecar_path
from referee.judging.parse import FAILED, OK, UNPARSED
from referee.judging.pipeline import Renderer
from referee.judging.rubric import GATE, PREFERENCE, SCALE, Criterion, Rubric, load_rubric
from referee.judging.rubric_parse import CriterionVerdict, joint_lines, parse_pairwise, parse_pointwise
from referee.judging.templates import MODEL_A, MODEL_B, TIE, Template
from referee.judging.types import Backend, ChatRequest

if TYPE_CHECKING:
    import pandas as pd

    from referee.judging.engine import Progress

CALLS = ("separate", "joint")
WEIGHTS = ("given", "redundancy", "learned")
EXTRA_COLUMNS = ("criterion", "kind", "score_a", "score_b")
PAIR_COLUMNS = (
    "pair_id", "prompt_id", "prompt", "response_a", "response_b", "model_a", "model_b", "judge", "winner", "prob_a",
    "parse_status", "decided_by", "n_criteria", "n_parsed", "unparsed_criteria",
)  # fmt: skip
OUTPUT_COLUMNS = (
    "prompt_id", "prompt", "model", "response", "scorer", "score", "parse_status", "decided_by", "n_criteria",
    "n_parsed", "unparsed_criteria",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CriterionGame(Game):
    """A game asked about one criterion (``criterion`` None: every criterion of its prompt, one joint call)."""

    criterion: str | None = None


class RubricRenderer(Renderer):
    """A rubric game -> its request: the template with the criterion (and the prompt's criteria list)."""

    def __init__(self, tpl: Template, texts: Texts, mode: str, decoding: dict[str, Any], rubric: Rubric) -> None:
        super().__init__(tpl, texts, mode, decoding)
        self.rubric = rubric
        self.by_name = {c.name: c for c in rubric.all}

    def __call__(self, game: Game) -> ChatRequest:
        t, pid = self.texts, game.prompt_id
        name = getattr(game, "criterion", None)
        extra = {"criterion": None if name is None else self.by_name[name], "criteria": self.rubric.for_prompt(pid),
                 "prompt": t.prompt[pid], "reference": t.reference(pid)}
        if self.mode == "pairwise":
            msgs = self.tpl.render(response_a=t.response[(pid, game.model_a)],
                                   response_b=t.response[(pid, str(game.model_b))], **extra)
        else:
            msgs = self.tpl.render(response=t.response[(pid, game.model_a)], **extra)
        return ChatRequest(messages=msgs, **self.decoding)


class RubricResult(JudgeResult):
    """A rubric run: ``table`` the aggregated verdicts, ``criteria`` the per-criterion rows, ``weights``."""

    def __init__(self, table: pd.DataFrame, criteria: pd.DataFrame, weights: dict[str, float], usage: Any,
                 meta: dict[str, Any]) -> None:
        super().__init__(table, usage, meta)
        self.criteria = criteria
        self.weights = weights

    def summary(self) -> str:
        m = self.meta["rubric"]
        line = (f"rubric: {m['criteria']} criteria ({m['calls']} calls), weights {m['weights']}: "
                + ", ".join(f"{k} {v:.3g}" for k, v in self.weights.items()))
        if m.get("decided_by_gate"):
            line += f"; {m['decided_by_gate']} decided by a gate"
        unparsed = {k: v for k, v in m["unparsed"].items() if v}
        if unparsed:
            line += "; unparsed " + ", ".join(f"{k} {v}" for k, v in unparsed.items())
        if m.get("no_verdict"):
            line += f"; {m['no_verdict']} without a verdict"
        return super().summary() + "; " + line


#: the template a rubric run uses unless one is named, by (``rubric_calls``, mode)
DEFAULT_TEMPLATES = {("separate", "pairwise"): "rubric-pairwise", ("separate", "pointwise"): "rubric-pointwise",
                     ("joint", "pairwise"): "rubric-joint", ("joint", "pointwise"): "rubric-joint-pointwise"}


def criteria_path(output: Path) -> Path:
    """``verdicts.jsonl`` -> ``verdicts.criteria.jsonl`` (compression suffixes kept)."""
    return sidecar_path(output, "criteria")


def rubric_judge(args: dict[str, Any]) -> RubricResult:
    """:func:`referee.judge`'s arguments (its ``locals()``) -> :func:`judge_rubric`, refusing what a rubric
    run does not do: a planner, Ray, self-consistency samples or a jury (a rubric's own aggregate
    replaces ``reconcile``)."""
    unsupported = {
        "plan": args.get("plan") not in (None, "all"), "budget": args.get("budget") is not None,
        "until": args.get("until") is not None, "ray": args.get("ray") is not None,
        "samples": args.get("samples", 1) != 1, "jury": args.get("jury") is not None,
    }  # fmt: skip
    for name, bad in unsupported.items():
        if bad:
            raise InputError(f"a rubric run judges every pair on every criterion: it takes no `{name}`", field=name)
    keep = {"outputs", "judge_spec", "rubric", "rubric_calls", "rubric_weights", "gold", "baseline", "pairs", "mode",
            "template", "references", "questions", "both_orders", "seed", "cache", "concurrency", "rpm", "tpm",
            "retries", "max_calls", "max_tokens", "max_cost", "allow_missing", "progress", "output", "backend"}
    kwargs = {k: v for k, v in args.items() if k in keep}
    return judge_rubric(kwargs.pop("outputs"), **kwargs)


def judge_rubric(
    outputs: Any, *, judge_spec: Any, rubric: Rubric | dict[str, Any] | str | Path, rubric_calls: str = "separate",
    rubric_weights: str = "given", gold: Any = None, baseline: str | None = None, pairs: Any = None,
    mode: str | None = None, template: str | Path | Template | None = None, references: Any = None,
    questions: str | Path | None = None, both_orders: bool = True, seed: int = 0, cache: Any = True,
    concurrency: int = 8, rpm: float | None = None, tpm: float | None = None, retries: int = 6,
    max_calls: int | None = None, max_tokens: int | None = None, max_cost: float | None = None,
    allow_missing: bool = False, progress: Progress | None = None, output: str | Path | None = None,
    backend: Backend | None = None,
) -> RubricResult:  # fmt: skip
    """The rubric run of :func:`referee.judge` (see the module docstring); every input checked before a call."""
    from referee.judging.games import source_for
    from referee.judging.inputs import records_of, references_of
    from referee.judging.pipeline import EngineSettings, judge_games
    from referee.judging.spec import decoding, resolve
    from referee.judging.spec import template as choose_template

    if rubric_calls not in CALLS:
        raise InputError(f"`rubric_calls` must be one of {', '.join(CALLS)}, got {rubric_calls!r}", field="rubric_calls")
    if rubric_weights not in WEIGHTS:
        raise InputError(f"`rubric_weights` must be one of {', '.join(WEIGHTS)}, got {rubric_weights!r}",
                         field="rubric_weights")
    if (rubric_weights == "learned") != (gold is not None):
        raise InputError("learned weights need gold verdicts: pass `gold=FILE` with `rubric_weights='learned'` "
                         "(and `gold` only then)", field="gold")
    rb = load_rubric(rubric)
    spec = resolve(judge_spec)
    if spec.scorer is not None:
        raise InputError("a rubric is answered by an LLM judge, not a reward model", field="rubric")
    if mode is None and template is None:
        mode = "pairwise"
    if template is None:
        template = DEFAULT_TEMPLATES.get((rubric_calls, mode or "pairwise"), "rubric-pairwise")  # a bad mode: choose_template says so
    tpl = choose_template(template, mode)
    mode = tpl.kind
    if mode == "pointwise":
        prefs = [c.name for c in rb.all if c.kind == PREFERENCE]
        if prefs:
            raise InputError(f"preference criteria compare two responses; a pointwise run cannot ask them: "
                             f"{', '.join(prefs)}", path=rb.source, field="kind")
        if rubric_weights == "learned":
            raise InputError("learned weights fit pairwise gold verdicts: use them in a pairwise run",
                             field="rubric_weights")
    records, notes = records_of(outputs, questions)
    refs = references_of(references, questions)
    texts = Texts(records, refs)
    unknown = sorted(set(rb.prompts) - set(texts.prompts))
    if unknown:
        notes.append(f"{len(unknown)} per-prompt rubric(s) name prompts with no outputs: {', '.join(unknown[:5])}")
    gold_of = _gold(gold) if gold is not None else None
    source, info = source_for(texts, mode=mode, baseline=baseline, pairs=pairs, seed=seed, both_orders=both_orders,
                              allow_missing=allow_missing, need_reference=tpl.reference == "required", plan=None)
    base = source.take(source.total + 1)
    games = _expand(base, rb, rubric_calls == "joint")
    VerdictWriter(output, mode)  # the output's checks (format, folder, writable) before anything is spent
    dec = decoding(spec, tpl)
    collected: dict[int, tuple[CriterionGame, Row]] = {}

    def settle(game: Game, row: Row | None) -> None:
        if row is not None:
            assert isinstance(game, CriterionGame)
            collected[game.index] = (game, row)

    settings = EngineSettings(cache, concurrency, rpm, tpm, retries, max_calls, max_tokens, max_cost, progress)
    usage = judge_games(spec, backend, AllGames(iter(games), len(games)), RubricRenderer(tpl, texts, mode, dec, rb),
                        settle, settings, label=spec.label)
    crit_rows = _criterion_rows([collected[i] for i in sorted(collected)], rb, mode)
    usage.unparsed = sum(r["parse_status"] == UNPARSED for r in crit_rows)
    criteria = _frame(crit_rows, (*(GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS), *EXTRA_COLUMNS))
    if mode == "pairwise":
        table, weights, stats = _aggregate_pairs(crit_rows, rb, rubric_weights, gold_of, spec.label)
    else:
        table, weights, stats = _aggregate_outputs(crit_rows, rb, rubric_weights, spec.label)
    meta: dict[str, Any] = {
        "mode": mode, "template": tpl.name, "judge": spec.label, "seed": seed, "decoding": dec,
        "both_orders": both_orders if mode == "pairwise" else None, "reconcile": "rubric", "notes": notes, **info,
        "n_requests": len(games), "not_run": len(games) - len(collected),
        "rubric": {"source": rb.source, "criteria": len(rb.all), "calls": rubric_calls, "weights": rubric_weights,
                   "weight_values": weights, **stats},
    }  # fmt: skip
    meta["usage"] = usage.as_dict()
    result = RubricResult(table, criteria, weights, usage, meta)
    if output is not None:
        from referee.io.write import write_atomic

        out = Path(output)
        write_atomic(criteria, criteria_path(out), "the per-criterion rows")
        write_atomic(table, out)
        meta["outputs"] = {"table": str(out), "criteria": str(criteria_path(out))}
    return result


def _expand(base: Sequence[Game], rb: Rubric, joint: bool) -> list[CriterionGame]:
    """Each game once per criterion of its prompt (or once, joint), numbered in order."""
    out: list[CriterionGame] = []
    for g in base:
        names: Sequence[str | None] = [None] if joint else [c.name for c in rb.for_prompt(g.prompt_id)]
        for name in names:
            out.append(CriterionGame(len(out), g.prompt_id, g.model_a, g.model_b, g.pair_id, g.order, name))
    return out


def _criterion_rows(done: list[tuple[CriterionGame, Row]], rb: Rubric, mode: str) -> list[dict[str, Any]]:
    """Per-criterion records: the pipeline's row (its preference parse kept) re-read for the criterion."""
    columns = GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS
    by_name = {c.name: c for c in rb.all}
    rows: list[dict[str, Any]] = []
    for game, row in done:
        base = dict(zip(columns, row, strict=True))
        text = base["raw_completion"]
        if game.criterion is not None:
            c = by_name[game.criterion]
            rows.append(_one(base, c, None if text is None else text, keep_parse=True))
        else:
            lines = joint_lines(text or "", rb.for_prompt(game.prompt_id))
            for c in rb.for_prompt(game.prompt_id):
                rows.append(_one(base, c, None if text is None else lines.get(c.name, ""), keep_parse=False))
    return rows


def _one(base: dict[str, Any], c: Criterion, text: str | None, *, keep_parse: bool) -> dict[str, Any]:
    r = dict(base, criterion=c.name, kind=c.kind, score_a=None, score_b=None)
    if text is None:  # the call failed
        r["parse_status"] = FAILED
        return r
    pairwise = "winner" in r
    if pairwise and c.kind == PREFERENCE and keep_parse:
        if r["parse_status"] == OK and r["prob_a"] is None:
            r["prob_a"] = {MODEL_A: 1.0, MODEL_B: 0.0}.get(r["winner"], 0.5)
        return r
    v: CriterionVerdict = parse_pairwise(text, c) if pairwise else parse_pointwise(text, c)
    if pairwise:
        r.update(winner=v.winner, prob_a=v.prob_a, strength=None, verdict=v.label if v.status == OK else None,
                 verdict_probs=None, score_a=v.score_a, score_b=v.score_b, parse_status=v.status)
    else:
        r.update(score=v.score_a, rating=v.score_a, score_probs=None, score_a=v.score_a, parse_status=v.status)
    return r


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame.from_records(rows, columns=list(columns))


def _gold(gold: Any) -> dict[tuple[str, str, str], float]:
    """(prompt_id, model_a, model_b) -> share of gold votes for model_a (ties count ½), both orientations."""
    if isinstance(gold, str | Path) or (isinstance(gold, list | tuple) and gold and isinstance(gold[0], str | Path)):
        from referee.io import read

        gold = read(gold)
    if not hasattr(gold, "columns") or not {"prompt_id", "model_a", "model_b", "winner"} <= set(gold.columns):
        raise InputError("gold must be a comparisons table with prompt_id, model_a, model_b, winner", field="gold")
    votes: dict[tuple[str, str, str], list[float]] = {}
    for pid, a, b, w in gold[["prompt_id", "model_a", "model_b", "winner"]].itertuples(index=False):
        x = 1.0 if w == MODEL_A else 0.0 if w == MODEL_B else 0.5
        votes.setdefault((str(pid), str(a), str(b)), []).append(x)
        votes.setdefault((str(pid), str(b), str(a)), []).append(1.0 - x)
    return {k: float(np.mean(v)) for k, v in votes.items()}


def _frame_of(r: dict[str, Any], a: str) -> tuple[float | None, float | None, float | None]:
    """(prob_a, score_a, score_b) of a criterion row in the frame where ``a`` is model_a."""
    p, sa, sb = r["prob_a"], r["score_a"], r["score_b"]
    p = None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p)
    if r["model_a"] == a:
        return p, sa, sb
    return (None if p is None else 1.0 - p), sb, sa


def _aggregate_pairs(rows: list[dict[str, Any]], rb: Rubric, how: str, gold: dict[tuple[str, str, str], float] | None,
                     judge: str) -> tuple[pd.DataFrame, dict[str, float], dict[str, Any]]:
    """The per-pair verdicts (see :mod:`.rubric_aggregate`), the weights used and the run's rubric statistics."""
    from referee.judging.rubric_aggregate import aggregate, learn_weights, redundancy_weights

    soft_c = [c for c in rb.all if c.kind != GATE]
    gate_c = [c for c in rb.all if c.kind == GATE]
    col = {c.name: i for i, c in enumerate(soft_c)}
    gcol = {c.name: i for i, c in enumerate(gate_c)}
    pairs: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = pairs.get(r["pair_id"])
        if p is None or (r["order"] == 1 and p["order"] != 1):
            a, b = (r["model_a"], r["model_b"]) if r["order"] == 1 else (r["model_b"], r["model_a"])
            ra, rb_ = (r["response_a"], r["response_b"]) if r["order"] == 1 else (r["response_b"], r["response_a"])
            seen = p["seen"] if p else {}
            p = pairs[r["pair_id"]] = {"a": a, "b": b, "ra": ra, "rb": rb_, "order": r["order"], "seen": seen,
                                       "prompt_id": r["prompt_id"], "prompt": r["prompt"]}
        p["seen"].setdefault(r["criterion"], []).append(r)
    keys = list(pairs)
    soft = np.full((len(keys), len(soft_c)), np.nan)
    gates = np.full((len(keys), len(gate_c)), np.nan)
    for i, key in enumerate(keys):
        p = pairs[key]
        for name, grp in p["seen"].items():
            ok = [_frame_of(r, p["a"]) for r in grp if r["parse_status"] == OK]
            if not ok:
                continue
            c = next(c for c in rb.all if c.name == name)
            if c.kind == GATE:
                d = {float(np.sign((sa or 0.0) - (sb or 0.0))) for _, sa, sb in ok}
                gates[i, gcol[name]] = d.pop() if len(d) == 1 else 0.0
            elif c.kind == SCALE:
                soft[i, col[name]] = float(np.mean([(float(sa or 0.0) - float(sb or 0.0)) / (2 * (c.high - c.low))
                                                    for _, sa, sb in ok]))
            else:
                soft[i, col[name]] = float(np.mean([pa - 0.5 for pa, _, _ in ok if pa is not None]))
    given = np.array([c.weight for c in soft_c], dtype=float)
    if how == "redundancy":
        w = redundancy_weights(soft, given)
    elif how == "learned":
        assert gold is not None
        g = np.array([gold.get((str(pairs[k]["prompt_id"]), pairs[k]["a"], pairs[k]["b"]), np.nan) for k in keys])
        g = np.where(g == 0.5, np.nan, g)
        if np.isnan(g).all():
            raise InputError("gold has no decisive verdict on any judged pair: cannot learn weights", field="gold")
        w = learn_weights(soft, g)
    else:
        w = given
    margin, decided = aggregate(soft, gates, w)
    out = []
    unparsed_count = {c.name: 0 for c in rb.all}
    for i, key in enumerate(keys):
        p = pairs[key]
        asked = [c.name for c in rb.for_prompt(p["prompt_id"])]
        missing = [n for n in asked if n not in p["seen"] or not any(r["parse_status"] == OK for r in p["seen"][n])]
        for n in missing:
            unparsed_count[n] += 1
        m = margin[i]
        status, winner, prob = OK, None, None
        by: str | None = f"gate:{gate_c[decided[i]].name}" if decided[i] >= 0 else "weighted"
        if not math.isnan(m):
            winner = MODEL_A if m > 1e-12 else MODEL_B if m < -1e-12 else TIE
            prob = 0.5 + float(m)
        elif all(next(c for c in rb.all if c.name == n).kind == GATE for n in asked) and not missing:
            winner, prob, by = TIE, 0.5, "gates"
        else:
            status, by = UNPARSED, None
        out.append({
            "pair_id": key, "prompt_id": p["prompt_id"], "prompt": p["prompt"], "response_a": p["ra"],
            "response_b": p["rb"], "model_a": p["a"], "model_b": p["b"], "judge": judge, "winner": winner,
            "prob_a": prob, "parse_status": status, "decided_by": by, "n_criteria": len(asked),
            "n_parsed": len(asked) - len(missing), "unparsed_criteria": json.dumps(missing) if missing else None,
        })  # fmt: skip
    stats = {"decided_by_gate": int((decided >= 0).sum()), "unparsed": unparsed_count,
             "no_verdict": sum(r["parse_status"] != OK for r in out), "pairs": len(out)}
    return _frame(out, PAIR_COLUMNS), {c.name: float(x) for c, x in zip(soft_c, w, strict=True)}, stats


def _aggregate_outputs(rows: list[dict[str, Any]], rb: Rubric, how: str,
                       judge: str) -> tuple[pd.DataFrame, dict[str, float], dict[str, Any]]:
    """Pointwise: per output, 0 when it fails a gate, else the weighted mean of its scales mapped to [0, 1]."""
    from referee.judging.rubric_aggregate import redundancy_weights

    scale_c = [c for c in rb.all if c.kind == SCALE]
    col = {c.name: i for i, c in enumerate(scale_c)}
    outs: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        o = outs.setdefault((r["prompt_id"], r["model"]), {"prompt": r["prompt"], "response": r["response"], "seen": {}})
        o["seen"][r["criterion"]] = r
    keys = list(outs)
    soft = np.full((len(keys), len(scale_c)), np.nan)
    for i, k in enumerate(keys):
        for name, r in outs[k]["seen"].items():
            if name in col and r["parse_status"] == OK:
                c = scale_c[col[name]]
                soft[i, col[name]] = (float(r["score_a"]) - c.low) / (c.high - c.low)
    given = np.array([c.weight for c in scale_c], dtype=float)
    w = redundancy_weights(soft, given) if how == "redundancy" and len(scale_c) else given
    out = []
    unparsed_count = {c.name: 0 for c in rb.all}
    failed_gates = 0
    for i, (pid, model) in enumerate(keys):
        o = outs[(pid, model)]
        asked = rb.for_prompt(pid)
        missing = [c.name for c in asked if c.name not in o["seen"] or o["seen"][c.name]["parse_status"] != OK]
        for n in missing:
            unparsed_count[n] += 1
        failed = [c.name for c in asked if c.kind == GATE and c.name not in missing and o["seen"][c.name]["score_a"] == 0]
        ok = ~np.isnan(soft[i]) & (w > 0)
        score: float | None = None
        status, by = OK, cast(str | None, "weighted")
        if failed:
            score, by = 0.0, f"gate:{failed[0]}"
            failed_gates += 1
        elif ok.any():
            score = float((soft[i, ok] * w[ok]).sum() / w[ok].sum())
        elif all(c.kind == GATE for c in asked) and not missing:
            score, by = 1.0, "gates"
        else:
            status, by = UNPARSED, None
        out.append({"prompt_id": pid, "prompt": o["prompt"], "model": model, "response": o["response"],
                    "scorer": judge, "score": score, "parse_status": status, "decided_by": by,
                    "n_criteria": len(asked), "n_parsed": len(asked) - len(missing),
                    "unparsed_criteria": json.dumps(missing) if missing else None})
    stats = {"decided_by_gate": failed_gates, "unparsed": unparsed_count,
             "no_verdict": sum(r["parse_status"] != OK for r in out), "outputs": len(out)}
    return _frame(out, OUTPUT_COLUMNS), {c.name: float(x) for c, x in zip(scale_c, w, strict=True)}, stats


__all__ = ["CALLS", "WEIGHTS", "CriterionGame", "RubricResult", "criteria_path", "judge_rubric"]

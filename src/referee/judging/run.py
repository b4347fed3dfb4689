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
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from referee.errors import InputError
from referee.judging.parse import OK, UNPARSED, Verdict, parse
from referee.judging.templates import MODEL_A, MODEL_B, TIE, TIE_BOTHBAD, Template, load
from referee.judging.types import Backend, ChatRequest, ChatResult, Usage

if TYPE_CHECKING:  # pandas loads after the first request is out (start-up time)
    import pandas as pd

RECONCILE = ("conservative", "average", "soft")
MODES = ("pairwise", "pointwise")
GAME_COLUMNS = (
    "prompt_id", "prompt", "response_a", "response_b", "model_a", "model_b", "judge", "winner", "strength",
    "prob_a", "pair_id", "order", "raw_completion", "parse_status", "verdict", "verdict_probs", "template", "error",
)  # fmt: skip
SCORE_COLUMNS = (
    "prompt_id", "prompt", "model", "response", "scorer", "score", "rating", "score_probs", "raw_completion",
    "parse_status", "template", "error",
)  # fmt: skip
Progress = Callable[[int, int, Usage], None]
#: other spellings accepted in a judge config
SPEC_ALIASES = {
    "base_url": "url", "judge_url": "url", "judge_model": "model", "api_key_env": "key_env",
    "judge_key_env": "key_env", "price_per_1k_input": "price_in", "price_per_1k_output": "price_out",
}  # fmt: skip


# -- the judge --------------------------------------------------------------------------------------
@dataclass
class JudgeSpec:
    """Who judges and how: an OpenAI-compatible endpoint (``url`` + ``model``), the local model, or a scorer.

    ``local``: None for HTTP; ``""`` for the default local model (SmolLM2), else a ``.gguf`` path.
    ``scorer``: a reward-model spec (``rm:DIR``, ``hf:PATH``, ``dpo:...``, ``length``): the pair's
    verdict is ``prob_a = σ(r_a − r_b)`` from the two responses' rewards, no LLM call.
    ``price_in`` / ``price_out``: cost per 1,000 input / output tokens.  Decoding fields left None
    take the template's defaults.
    """

    url: str | None = None
    model: str | None = None
    key_env: str | None = None
    local: str | None = None
    template: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    price_in: float = 0.0
    price_out: float = 0.0
    timeout: float | None = None
    name: str | None = None
    extra_body: dict[str, Any] | None = None
    scorer: str | None = None

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> JudgeSpec:
        """Read a YAML judge config; keyword overrides that are not None win."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read judge config: {err}", path=str(path)) from None
        except yaml.YAMLError as err:
            raise InputError(f"judge config is not valid YAML: {err}", path=str(path)) from None
        if not isinstance(data, dict):
            raise InputError("judge config must be a YAML mapping", path=str(path))
        data = data.get("judge", data) if isinstance(data.get("judge"), dict) else data
        return cls.from_dict(data, source=str(path)).updated(**overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> JudgeSpec:
        names = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in data.items():
            k = SPEC_ALIASES.get(str(key).replace("-", "_"), str(key).replace("-", "_"))
            if k not in names:
                raise InputError(f"unknown judge setting; known: {', '.join(sorted(names))}", path=source, field=str(key))
            out[k] = value
        if out.get("local") is True:
            out["local"] = ""
        elif out.get("local") is False:
            out["local"] = None
        return cls(**out)

    def updated(self, **overrides: Any) -> JudgeSpec:
        """A copy with the overrides that are not None applied (``judge="local[:PATH]"`` accepted)."""
        data = asdict(self)
        judge = overrides.pop("judge", None)
        if judge is not None and is_scorer_spec(judge):
            data["scorer"], data["local"] = judge, None
        elif judge is not None:
            data["local"], data["scorer"] = parse_local(judge), None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return JudgeSpec(**data)

    @property
    def label(self) -> str:
        """The ``judge`` column: ``name``, else the model, else ``local:<gguf stem>``."""
        if self.name:
            return self.name
        if self.scorer is not None:
            return self.scorer
        if self.local is not None:
            return f"local:{Path(self.local).stem}" if self.local else "local:SmolLM2-135M-Instruct"
        return str(self.model)

    def backend(self) -> Backend:
        """The backend this spec names (imports the HTTP or local module only when needed)."""
        if self.scorer is not None:
            raise InputError(f"judge {self.scorer!r} is a reward model, not a chat backend", field="judge")
        if self.local is not None:
            from referee.judging.local import LocalBackend

            return LocalBackend(self.local or None)
        if not self.url or not self.model:
            missing = "--judge-url" if not self.url else "--judge-model"
            raise InputError(f"no judge: pass {missing} (or --judge-config FILE, or --judge local)", field="judge")
        key = None
        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise InputError(f"environment variable {self.key_env} (the judge's API key) is not set", field="judge_key_env")
        from referee.judging.http import OpenAIBackend

        return OpenAIBackend(
            self.url, self.model, api_key=key, timeout=self.timeout or 60.0, extra_body=self.extra_body, key_env=self.key_env
        )


def parse_local(value: str) -> str | None:
    """``--judge local`` -> "" (default model), ``local:PATH`` -> PATH; anything else is an error."""
    if value == "local":
        return ""
    if value.startswith("local:") and value[6:]:
        return value[6:]
    raise InputError(
        f"--judge takes 'local', 'local:PATH.gguf' or a reward model (rm:DIR, hf:PATH, dpo:POLICY,REF, length), got {value!r}",
        field="judge",
    )


#: ``--judge`` values that name a reward model (a :mod:`referee.scoring` scorer) instead of an LLM
SCORER_PREFIXES = ("rm:", "hf:", "dpo:", "length:")


def is_scorer_spec(value: Any) -> bool:
    """``length``, ``rm:DIR``, ``hf:PATH``, ``dpo:...``: a reward model used as a pairwise judge."""
    return isinstance(value, str) and (value in ("length", "dpo") or value.startswith(SCORER_PREFIXES))


@dataclass
class JudgeResult:
    """What a run produced: the games (or scores) table, the reconciled pairs, usage and metadata."""

    table: pd.DataFrame
    usage: Usage
    meta: dict[str, Any]
    reconciled: pd.DataFrame | None = None

    def comparisons(self) -> pd.DataFrame:
        """The games with a verdict, as a canonical comparisons table (what ``referee rank`` ranks)."""
        if self.meta.get("mode") != "pairwise":
            raise InputError("comparisons exist only in pairwise mode", field="mode")
        ok = self.table[self.table["parse_status"] == OK]
        if ok.empty:
            raise InputError("no judge verdict parsed: nothing to rank", field="parse_status")
        return ok.reset_index(drop=True)

    def summary(self) -> str:
        """One paragraph: calls, cache hits, retries, failures, unparsed, tokens, cost, consistency."""
        u, m = self.usage, self.meta
        parts = [
            f"{m.get('n_requests', 0)} judge requests: {u.calls} calls, {u.cache_hits} cache hits, {u.retries} retries, "
            f"{u.failures} failed, {u.unparsed} unparsed",
            f"tokens {u.prompt_tokens:,} in / {u.completion_tokens:,} out" + (" (estimated)" if u.extra.get("estimated_tokens") else ""),
            f"cost ${u.cost:.4f}",
        ]
        if u.stopped_by:
            parts.append(f"stopped by {u.stopped_by}: {m.get('not_run', 0)} requests not run")
        if m.get("missing_outputs"):
            parts.append(f"{m['missing_outputs']} missing outputs skipped")
        if m.get("position_consistency") is not None:
            parts.append(f"position consistency {m['position_consistency']:.1%} of {m['pairs_both_orders']} pairs")
        return "; ".join(parts)


# -- reconciliation ------------------------------------------------------------------------------------
def _flip(winner: str | None) -> str | None:
    return {MODEL_A: MODEL_B, MODEL_B: MODEL_A}.get(winner, winner) if winner is not None else None


def reconcile_games(games: pd.DataFrame, rule: str = "conservative", *, expected: int = 2) -> pd.DataFrame:
    """One verdict per ``pair_id`` from its games, in the frame of order 1 (``model_a`` shown first there).

    * ``conservative`` (FastChat): a winner only when every game agrees, else ``tie``;
      strength the weaker of the agreeing games' (graded);
    * ``average`` (Arena-Hard): mean of the games' signed scores (±strength, ±1 ungraded,
      0 tie) → winner by sign, strength the rounded mean, ``prob_a`` the mean on [0, 1];
    * ``soft``: mean of the games' P(a) (logprob ``prob_a``, else 1 / 0 / 0.5 from the label).

    ``parse_status`` is ``ok`` when the pair has a verdict, ``incomplete`` when ``conservative``
    lacks a game (agreement cannot be checked, so no verdict), ``unparsed`` when no game parsed;
    ``complete`` tells whether all ``expected`` games parsed; ``agree`` whether two parsed games
    named the same winner (position consistency).  Rows without a verdict keep ``winner`` null.
    """
    import pandas as pd

    if rule not in RECONCILE:
        raise InputError(f"reconcile must be one of {', '.join(RECONCILE)}", field="reconcile")
    recs = games.to_dict("records") if hasattr(games, "to_dict") else list(games)
    graded = any(_num(g.get("strength")) is not None for g in recs)
    by_pair: dict[str, list[dict[str, Any]]] = {}
    for g in recs:
        by_pair.setdefault(g["pair_id"], []).append(g)
    rows = []
    for pid, grp in by_pair.items():
        grp.sort(key=lambda g: int(g["order"]))
        first = grp[0]
        a, b = (first["model_a"], first["model_b"]) if int(first["order"]) == 1 else (first["model_b"], first["model_a"])
        winners, strengths, probs = [], [], []
        for g in grp:
            if g.get("parse_status") != OK:
                continue
            swapped = g["model_a"] != a
            w = _flip(g["winner"]) if swapped else g["winner"]
            winners.append(TIE if w == TIE_BOTHBAD else w)
            strengths.append(_num(g.get("strength")))
            p = _num(g.get("prob_a"))
            probs.append(None if p is None else (1.0 - p if swapped else p))
        n = len(winners)
        row: dict[str, Any] = {
            "pair_id": pid,
            "prompt_id": first.get("prompt_id"),
            "model_a": a,
            "model_b": b,
            "judge": first.get("judge"),
            "winner": None,
            "strength": math.nan,
            "prob_a": math.nan,
            "n_games": n,
            "agree": (winners[0] == winners[1]) if n >= 2 else None,
            "complete": n >= expected,
            "parse_status": UNPARSED if not n else "incomplete",
            "rule": rule,
        }
        if n and not (rule == "conservative" and n < expected):
            row.update(_combine(rule, winners, strengths, probs, graded), parse_status=OK)
        rows.append(row)
    cols = [
        "pair_id", "prompt_id", "model_a", "model_b", "judge", "winner", "strength", "prob_a", "n_games", "agree",
        "complete", "parse_status", "rule",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _num(value: Any) -> float | None:
    """A float, or None for missing / NaN."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _sign(w: str) -> int:
    return 1 if w == MODEL_A else -1 if w == MODEL_B else 0


def _combine(rule: str, winners: list[str], strengths: list[float | None], probs: list[float | None], graded: bool) -> dict[str, Any]:
    if rule == "conservative":
        if len(set(winners)) == 1 and winners[0] in (MODEL_A, MODEL_B):
            s = min((x if x is not None else 1.0) for x in strengths) if graded else math.nan
            return {"winner": winners[0], "strength": s}
        return {"winner": TIE, "strength": 0.0 if graded else math.nan}
    if rule == "average":
        top = 2.0 if graded else 1.0
        scores = [_sign(w) * ((s if s is not None else 1.0) if graded else 1.0) for w, s in zip(winners, strengths, strict=True)]
        mean = sum(scores) / len(scores)
        winner = MODEL_A if mean > 0 else MODEL_B if mean < 0 else TIE
        strength = float(min(2, math.floor(abs(mean) + 0.5))) if graded else math.nan
        return {"winner": winner, "strength": strength, "prob_a": (mean + top) / (2 * top)}
    ps = [p if p is not None else (1.0 if w == MODEL_A else 0.0 if w == MODEL_B else 0.5) for w, p in zip(winners, probs, strict=True)]
    mean = sum(ps) / len(ps)
    winner = MODEL_A if mean > 0.5 + 1e-12 else MODEL_B if mean < 0.5 - 1e-12 else TIE
    return {"winner": winner, "prob_a": mean}


# -- the run ---------------------------------------------------------------------------------------------
def judge(
    outputs: pd.DataFrame | str | Path | Sequence[str | Path],
    *,
    judge_spec: JudgeSpec | dict[str, Any] | str | Path,
    baseline: str | None = None,
    pairs: str | Path | pd.DataFrame | None = None,
    mode: str | None = None,
    template: str | Path | Template | None = None,
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
) -> JudgeResult:
    """Judge model outputs with an LLM and return the verdicts (see the module docstring).

    ``outputs``: a table ``prompt_id, prompt, model, response`` or files (AlpacaEval
    ``model_outputs.json``, Arena-Hard answers, generic JSONL/CSV; see
    :mod:`referee.judging.inputs`).  Pairs: ``baseline=MODEL``, ``pairs="round-robin"``, a pairs
    file or a ``prompt_id, model_x, model_y[, pair_id]`` table.  ``judge_spec``: a
    :class:`JudgeSpec`, a dict of its fields, or a YAML config path.  ``mode`` defaults to the
    template's kind; ``template`` to ``pairwise`` / ``pointwise-10``.  ``cache``: True (the
    default cache file), False/None, a path or a :class:`~referee.judging.cache.Cache`.
    ``max_tokens`` / ``max_cost`` / ``max_calls`` are budgets for the whole run (per-call
    ``max_tokens`` is in the spec).  ``output``: ``.jsonl`` (rows appended as verdicts arrive),
    ``.csv`` or ``.parquet``.  ``backend`` overrides the spec's backend (library use).
    """
    from referee.io.outputs import load_outputs
    from referee.judging.inputs import missing_error, missing_for

    spec = _spec(judge_spec)
    tpl = _template(template or spec.template, mode)
    mode = tpl.kind
    if reconcile not in RECONCILE:
        raise InputError(f"reconcile must be one of {', '.join(RECONCILE)}", field="reconcile")
    if hasattr(outputs, "to_dict"):  # a DataFrame
        records = _frame_records(outputs)
        notes = list(getattr(outputs, "attrs", {}).get("notes", []))
    else:
        records, attrs = load_outputs(outputs, questions=questions)
        notes = attrs["notes"]
    refs = _references(references, questions)
    if tpl.reference == "required" and refs is None:
        raise InputError(f"template {tpl.name!r} needs reference answers: pass --references FILE", field="references")
    if refs is not None and tpl.reference == "none":
        notes.append(f"template {tpl.name} does not use references: ignored")
        refs = None
    temperature = spec.temperature if spec.temperature is not None else (tpl.temperature or 0.0)
    want_lp = spec.logprobs if spec.logprobs is not None else tpl.logprobs
    decoding = {
        "temperature": float(temperature),
        "max_tokens": int(spec.max_tokens or tpl.max_tokens),
        "logprobs": bool(want_lp),
        "top_logprobs": int(spec.top_logprobs or tpl.top_logprobs or 5) if want_lp else 0,
    }
    meta: dict[str, Any] = {
        "mode": mode, "template": tpl.name, "judge": spec.label, "seed": seed, "decoding": decoding,
        "both_orders": both_orders if mode == "pairwise" else None, "reconcile": reconcile if mode == "pairwise" else None,
        "missing_outputs": 0, "missing_references": 0, "notes": notes,
    }  # fmt: skip
    required = refs is not None and tpl.reference == "required"
    if mode == "pairwise":
        from referee.planning.pairs import as_tuples, plan_pairs

        if hasattr(pairs, "columns"):
            planned = as_tuples(pairs)  # type: ignore[arg-type]
        else:
            planned = plan_pairs(records, baseline=baseline, pairs=pairs, seed=seed, frame=False)  # type: ignore[arg-type]
        planned, missing = missing_for({(r["prompt_id"], r["model"]) for r in records}, planned)
        if missing and not allow_missing:
            raise missing_error(missing)
        meta["missing_outputs"] = len(missing)
        if required:
            planned, meta["missing_references"] = _lacking_references(planned, refs, allow_missing)  # type: ignore[arg-type]
        items = _games(records, planned, refs, both_orders)
        meta["n_pairs"] = len(planned)
    else:
        items = records
        if required:
            items, meta["missing_references"] = _lacking_references(records, refs, allow_missing)  # type: ignore[arg-type]
        items = [dict(r, reference=(refs or {}).get(r["prompt_id"])) for r in items]
    if not items:
        raise InputError("nothing to judge: no pair (or output) has everything it needs", field="outputs")
    sink = _Sink(output, mode)
    label = spec.label
    if spec.scorer is not None:  # a reward model judges: no LLM calls, no cache
        meta.update(template=None, decoding=None, n_requests=len(items))
        rows: list[dict[str, Any] | None] = list(_scorer_rows(spec.scorer, items, mode, label))
        usage = Usage(calls=len(items))
        try:
            for row in rows:
                sink.add(row)  # type: ignore[arg-type]
        finally:
            sink.close()
    else:
        requests = [_request(tpl, item, mode, decoding) for item in items]
        meta["n_requests"] = len(requests)
        rows = [None] * len(items)

        def on_result(i: int, res: ChatResult) -> None:
            row = _row(items[i], res, parse(res, tpl), mode, label, tpl.name)
            rows[i] = row
            sink.add(row)

        try:
            usage = _execute(spec, backend, requests, on_result, cache, concurrency, rpm, tpm, retries, max_calls, max_tokens, max_cost, progress)
        finally:
            sink.close()
    import pandas as pd

    done = [r for r in rows if r is not None]
    meta["not_run"] = len(rows) - len(done)
    columns = GAME_COLUMNS if mode == "pairwise" else SCORE_COLUMNS
    table = pd.DataFrame(done, columns=list(columns))
    usage.unparsed = int((table["parse_status"] == UNPARSED).sum())
    reconciled = None
    if mode == "pairwise" and not table.empty:
        reconciled = reconcile_games(table, reconcile, expected=2 if both_orders else 1)
        both = reconciled["agree"].notna()
        meta["pairs_both_orders"] = int(both.sum())
        meta["position_consistency"] = float(reconciled.loc[both, "agree"].astype(bool).mean()) if both.any() else None
        decisive = table[(table["parse_status"] == OK) & table["winner"].isin([MODEL_A, MODEL_B])]
        meta["first_position_win_rate"] = float((decisive["winner"] == MODEL_A).mean()) if len(decisive) else None
    meta["usage"] = {k: v for k, v in asdict(usage).items() if k != "extra"} | dict(usage.extra)
    result = JudgeResult(table=table, usage=usage, meta=meta, reconciled=reconciled)
    if output is not None:
        meta["outputs"] = _write(result, Path(output))
    return result


def _frame_records(df: Any) -> list[dict[str, Any]]:
    """Records of an outputs DataFrame, checked: the four columns, one answer per (prompt, model)."""
    cols = ("prompt_id", "prompt", "model", "response")
    lacking = [c for c in cols if c not in df.columns]
    if lacking:
        raise InputError(f"outputs table lacks column(s) {', '.join(lacking)}", field=lacking[0])
    records = [{k: rec[k] for k in cols} for rec in df.to_dict("records")]
    seen: set[tuple[str, str]] = set()
    for rec in records:
        rec["prompt_id"], rec["model"] = str(rec["prompt_id"]), str(rec["model"])
        key = (rec["prompt_id"], rec["model"])
        if key in seen:
            raise InputError(f"model {key[1]!r} answers prompt {key[0]!r} twice", field="outputs")
        seen.add(key)
    return [r for r in records if isinstance(r["response"], str)]  # NaN/None: a missing output


def _spec(judge_spec: JudgeSpec | dict[str, Any] | str | Path) -> JudgeSpec:
    if isinstance(judge_spec, JudgeSpec):
        return judge_spec
    if isinstance(judge_spec, dict):
        return JudgeSpec.from_dict(judge_spec)
    if isinstance(judge_spec, str) and (judge_spec == "local" or judge_spec.startswith("local:")):
        return JudgeSpec(local=parse_local(judge_spec))
    if is_scorer_spec(judge_spec):
        return JudgeSpec(scorer=judge_spec)  # type: ignore[arg-type]
    return JudgeSpec.from_config(judge_spec)


def _template(template: str | Path | Template | None, mode: str | None) -> Template:
    if mode is not None and mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}", field="mode")
    if template is None:
        template = "pointwise-10" if mode == "pointwise" else "pairwise"
    tpl = template if isinstance(template, Template) else load(template)
    if mode is not None and tpl.kind != mode:
        raise InputError(f"template {tpl.name!r} is a {tpl.kind} template but the mode is {mode}", field="template")
    return tpl


def _references(references: Any, questions: Any) -> dict[str, str] | None:
    """prompt_id -> reference answer, from files, a ``prompt_id, reference`` table or a dict."""
    if references is None:
        return None
    if isinstance(references, dict):
        return {str(k): v for k, v in references.items()}
    if hasattr(references, "columns"):
        return dict(zip(references["prompt_id"].astype(str), references["reference"], strict=True))
    from referee.io.outputs import load_references

    return load_references(references, questions=questions)


def _lacking_references(items: list[Any], refs: dict[str, str], allow_missing: bool) -> tuple[list[Any], int]:
    """Refuse (or, with ``allow_missing``, skip) pairs / outputs whose prompt has no reference answer."""
    pid = (lambda x: x[0]) if items and isinstance(items[0], tuple) else (lambda x: x["prompt_id"])
    lacking = list(dict.fromkeys(pid(x) for x in items if pid(x) not in refs))
    if lacking and not allow_missing:
        shown = ", ".join(map(str, lacking[:5])) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        raise InputError(
            f"{len(lacking)} prompt(s) have no reference answer: {shown}; pass --allow-missing to skip them", field="references"
        )
    return [x for x in items if pid(x) in refs], len(lacking)


def _games(records: list[dict[str, Any]], planned: list[tuple[str, str, str, str]], refs: dict[str, str] | None, both_orders: bool) -> list[dict[str, Any]]:
    """Both presentation orders of every pair, interleaved (a budget stop leaves whole pairs)."""
    resp = {(r["prompt_id"], r["model"]): r["response"] for r in records}
    prompt: dict[str, str] = {}
    for r in records:
        prompt.setdefault(r["prompt_id"], r["prompt"])
    refs = refs or {}
    games = []
    for pid, x, y, key in planned:
        shown = [(x, y, 1), (y, x, 2)] if both_orders else [(x, y, 1)]
        for a, b, order in shown:
            games.append({
                "prompt_id": pid, "prompt": prompt[pid], "model_a": a, "model_b": b,
                "response_a": resp[(pid, a)], "response_b": resp[(pid, b)], "pair_id": key,
                "order": order, "reference": refs.get(pid),
            })  # fmt: skip
    return games


def _request(tpl: Template, item: dict[str, Any], mode: str, decoding: dict[str, Any]) -> ChatRequest:
    ref = item.get("reference")
    ref = None if ref is None or (isinstance(ref, float) and math.isnan(ref)) else ref
    if mode == "pairwise":
        msgs = tpl.render(prompt=item["prompt"], response_a=item["response_a"], response_b=item["response_b"], reference=ref)
    else:
        msgs = tpl.render(prompt=item["prompt"], response=item["response"], reference=ref)
    return ChatRequest(messages=msgs, **decoding)


def _row(item: dict[str, Any], res: ChatResult, v: Verdict, mode: str, judge: str, template: str) -> dict[str, Any]:
    common = {
        "raw_completion": res.text, "parse_status": v.status, "template": template, "error": res.error,
    }  # fmt: skip
    if mode == "pairwise":
        return {
            "prompt_id": item["prompt_id"], "prompt": item["prompt"], "response_a": item["response_a"],
            "response_b": item["response_b"], "model_a": item["model_a"], "model_b": item["model_b"], "judge": judge,
            "winner": v.winner, "strength": v.strength, "prob_a": v.prob_a, "pair_id": item["pair_id"],
            "order": item["order"], "verdict": v.label if v.status == OK else None,
            "verdict_probs": json.dumps(v.probs) if v.probs else None, **common,
        }  # fmt: skip
    return {
        "prompt_id": item["prompt_id"], "prompt": item["prompt"], "model": item["model"], "response": item["response"],
        "scorer": judge, "score": v.score, "rating": v.rating,
        "score_probs": json.dumps(v.score_probs) if v.score_probs else None, **common,
    }  # fmt: skip


def _scorer_rows(scorer_spec: str, items: list[dict[str, Any]], mode: str, judge: str) -> list[dict[str, Any]]:
    """Verdicts of a reward model: every (prompt, response) scored once, then each game from the two rewards.

    Pairwise: ``prob_a = σ(r_a − r_b)``, the winner by the sign of ``r_a − r_b`` (equal rewards: a tie),
    ``raw_completion`` the two rewards as JSON.  Pointwise: ``score`` = the reward.
    """
    from referee.scoring import load_scorer
    from referee.scoring.bestofn import score_unique

    scorer = load_scorer(scorer_spec)
    try:
        if mode == "pairwise":
            prompts = [g["prompt"] for g in items for _ in (0, 1)]
            texts = [g[side] for g in items for side in ("response_a", "response_b")]
        else:
            prompts, texts = [g["prompt"] for g in items], [g["response"] for g in items]
        rewards = score_unique(scorer, [str(p) for p in prompts], texts)
    finally:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
    common = {"parse_status": OK, "template": None, "error": None}
    if mode == "pointwise":
        return [
            {"prompt_id": g["prompt_id"], "prompt": g["prompt"], "model": g["model"], "response": g["response"],
             "scorer": judge, "score": float(r), "rating": None, "score_probs": None,
             "raw_completion": json.dumps({"score": float(r)}), **common}
            for g, r in zip(items, rewards, strict=True)
        ]  # fmt: skip
    rows = []
    for i, g in enumerate(items):
        ra, rb = float(rewards[2 * i]), float(rewards[2 * i + 1])
        diff = ra - rb
        if math.isnan(diff):
            winner, prob, status = None, None, UNPARSED
        else:
            winner = MODEL_A if diff > 0 else MODEL_B if diff < 0 else TIE
            prob, status = 0.5 * (1.0 + math.tanh(0.5 * diff)), OK  # σ(diff) without overflow
        rows.append({
            "prompt_id": g["prompt_id"], "prompt": g["prompt"], "response_a": g["response_a"], "response_b": g["response_b"],
            "model_a": g["model_a"], "model_b": g["model_b"], "judge": judge, "winner": winner, "strength": None,
            "prob_a": prob, "pair_id": g["pair_id"], "order": g["order"], "verdict": winner,
            "verdict_probs": None, "raw_completion": json.dumps({"score_a": ra, "score_b": rb}), **common,
            "parse_status": status, "error": None if status == OK else "the scorer returned NaN",
        })  # fmt: skip
    return rows


# -- engine ------------------------------------------------------------------------------------------------
class _Checked:
    """Wraps a backend so that its ``check()`` runs once, before the first uncached call.

    A failed check cancels the whole run (``task``) before any completion is sent, so a wrong URL,
    model or key fails fast without spending budget, while a fully cached re-run never needs the
    server at all.
    """

    def __init__(self, inner: Backend, task: asyncio.Task[Any]) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.task = task
        self.error: BaseException | None = None
        self.checked = False
        self.lock = asyncio.Lock()

    async def complete(self, request: ChatRequest) -> ChatResult:
        if not self.checked:
            async with self.lock:
                if self.error is not None:
                    raise self.error
                if not self.checked:
                    try:
                        await self.inner.check()
                    except Exception as err:
                        self.error = err
                        self.task.cancel()
                        raise
                    self.checked = True
        return await self.inner.complete(request)

    async def check(self) -> None:
        await self.inner.check()


def _execute(
    spec: JudgeSpec, backend: Backend | None, requests: list[ChatRequest], on_result: Callable[[int, ChatResult], None],
    cache: Any, concurrency: int, rpm: float | None, tpm: float | None, retries: int, max_calls: int | None,
    max_tokens: int | None, max_cost: float | None, progress: Progress | None,
) -> Usage:  # fmt: skip
    from referee.judging.engine import Engine

    owned = backend is None
    backend = backend or spec.backend()
    store, close_store = _cache(cache)
    limit = getattr(backend, "max_concurrency", None)
    timeout = spec.timeout or (600.0 if spec.local is not None else 60.0)

    async def main() -> Usage:
        checked = _Checked(backend, asyncio.current_task())  # type: ignore[arg-type]
        engine = Engine(
            checked, cache=store, concurrency=min(concurrency, limit) if limit else concurrency, rpm=rpm, tpm=tpm,
            retries=retries, timeout=timeout, max_calls=max_calls, max_tokens=max_tokens, max_cost=max_cost,
            price_in=spec.price_in, price_out=spec.price_out, progress=progress,
        )  # fmt: skip
        def deliver(i: int, res: ChatResult) -> None:
            if checked.error is None:  # a failed check aborts the run: its stand-in results are not verdicts
                on_result(i, res)

        try:
            _, usage = await engine.run(requests, deliver)
        except asyncio.CancelledError:
            if checked.error is not None:
                raise checked.error from None
            raise
        except BaseExceptionGroup as group:  # e.g. the output became unwritable mid-run
            leaf: BaseException = group
            while isinstance(leaf, BaseExceptionGroup):
                leaf = leaf.exceptions[0]
            raise leaf from None
        finally:
            aclose = getattr(backend, "aclose", None)
            if aclose is not None:
                await aclose()
        return usage

    try:
        return asyncio.run(main())
    finally:
        if close_store:
            store.close()
        if owned and hasattr(backend, "close"):
            backend.close()


def _cache(cache: Any) -> tuple[Any, bool]:
    """(Cache or None, whether we opened it)."""
    if cache is None or cache is False:
        return None, False
    from referee.judging.cache import Cache, default_cache_path

    if cache is True:
        return Cache(default_cache_path()), True
    if isinstance(cache, str | Path):
        return Cache(cache), True
    return cache, False


# -- output ------------------------------------------------------------------------------------------------
class _Sink:
    """Appends each row as JSON Lines as it arrives (to the output itself when it is ``.jsonl``).

    The file is opened at the first verdict, so a run that fails before any (a wrong endpoint)
    leaves an existing output untouched.
    """

    def __init__(self, output: str | Path | None, mode: str) -> None:
        self.fh: IO[str] | None = None
        self.path: Path | None = None
        if output is None:
            return
        out = Path(output)
        from referee.io.source import inner_suffix

        if inner_suffix(out) not in (".jsonl", ".ndjson", ".csv", ".parquet"):
            raise InputError("cannot tell the output format from the extension; use .jsonl, .csv or .parquet", path=str(out))
        plain = out.suffix.lower() in (".jsonl", ".ndjson")
        self.path = out if plain else out.with_name(out.name + ".partial.jsonl")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the output folder: {err.strerror or err}", path=str(out)) from None
        if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
            raise InputError("output is not writable", path=str(out))

    def add(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        if self.fh is None:
            try:
                self.fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - held open for the run
            except OSError as err:
                raise InputError(f"cannot write output: {err.strerror or err}", path=str(self.path)) from None
        self.fh.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def reconciled_path(output: Path) -> Path:
    """``verdicts.jsonl`` -> ``verdicts.reconciled.jsonl`` (compression suffixes kept)."""
    name = output.name
    for suffix in (".jsonl", ".ndjson", ".csv", ".parquet"):
        at = name.lower().rfind(suffix)
        if at > 0:
            return output.with_name(name[:at] + ".reconciled" + name[at:])
    return output.with_name(name + ".reconciled")


def _write(result: JudgeResult, output: Path) -> dict[str, str]:
    """The final files: the table (replacing the incremental one) and the reconciled pairs."""
    from referee.io import write

    write(result.table, output)
    partial = output.with_name(output.name + ".partial.jsonl")
    if partial.exists():
        partial.unlink()
    written = {"table": str(output)}
    if result.reconciled is not None and not result.reconciled.empty:
        rpath = reconciled_path(output)
        write(result.reconciled, rpath)
        written["reconciled"] = str(rpath)
    return written


__all__ = ["RECONCILE", "JudgeResult", "JudgeSpec", "is_scorer_spec", "judge", "reconcile_games", "reconciled_path"]

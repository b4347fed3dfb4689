"""Which pairs of model outputs to judge: against a baseline, round robin, or from a file.

Each planner returns ``prompt_id, model_x, model_y, pair_id``: ``model_x`` is shown first
(as assistant A) in presentation order 1, and the runner's order 2 swaps them.  Which
model of a pair is ``model_x`` is decided by a seeded hash of (seed, prompt, the two
models), so it is reproducible, about half and half, and does not change when other
models or prompts are added.  ``pair_id`` (``prompt_id|model|model``, models sorted) names
the pair regardless of order.  Planners cover every prompt seen in the outputs; whether
both outputs exist is checked afterwards (:func:`referee.judging.inputs.require`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PAIR_COLUMNS = ("prompt_id", "model_x", "model_y", "pair_id")
Pair = tuple[str, str, str, str]  # prompt_id, model_x (shown first in order 1), model_y, pair_id
#: model outputs: a DataFrame or records with ``prompt_id`` and ``model``
Outputs = Any


def pair_id(prompt_id: str, m1: str, m2: str) -> str:
    """Order-free name of a pair on one prompt."""
    lo, hi = sorted((m1, m2))
    return f"{prompt_id}|{lo}|{hi}"


def first_shown(prompt_id: str, m1: str, m2: str, seed: int = 0) -> tuple[str, str]:
    """(shown first, shown second) in order 1: a seeded coin flip per (prompt, pair)."""
    lo, hi = sorted((m1, m2))
    digest = hashlib.sha256(f"{seed}\x1f{prompt_id}\x1f{lo}\x1f{hi}".encode()).digest()
    return (lo, hi) if digest[0] & 1 == 0 else (hi, lo)


def _frame(rows: list[tuple[str, str, str]], seed: int, frame: bool = True) -> pd.DataFrame | list[Pair]:
    out: list[Pair] = []
    seen: set[str] = set()
    for pid, m1, m2 in rows:
        key = pair_id(pid, m1, m2)
        if key in seen:
            continue
        seen.add(key)
        x, y = first_shown(pid, m1, m2, seed)
        out.append((pid, x, y, key))
    return as_frame(out) if frame else out


def as_frame(pairs: Sequence[Pair]) -> pd.DataFrame:
    """Planned pairs as a DataFrame ``prompt_id, model_x, model_y, pair_id``."""
    import pandas as pd

    return pd.DataFrame(list(pairs), columns=list(PAIR_COLUMNS))


def as_tuples(pairs: pd.DataFrame) -> list[Pair]:
    """A pairs table (``pair_id`` optional) as tuples."""
    cols = [pairs[c].astype(str).tolist() for c in ("prompt_id", "model_x", "model_y")]
    ids = pairs["pair_id"].astype(str).tolist() if "pair_id" in pairs.columns else [pair_id(*t) for t in zip(*cols, strict=True)]
    return list(zip(*cols, ids, strict=True))


def _prompts_and_models(outputs: Outputs) -> tuple[list[str], list[str]]:
    """Distinct prompt ids and models, in order of first appearance."""
    if isinstance(outputs, list):
        return list(dict.fromkeys(r["prompt_id"] for r in outputs)), list(dict.fromkeys(r["model"] for r in outputs))
    return list(dict.fromkeys(outputs["prompt_id"])), list(dict.fromkeys(outputs["model"]))


def pairs_vs_baseline(outputs: Outputs, baseline: str, seed: int = 0, *, frame: bool = True) -> Any:
    """Every other model against ``baseline`` on every prompt."""
    prompts, models = _prompts_and_models(outputs)
    if baseline not in models:
        shown = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "")
        raise InputError(f"baseline {baseline!r} has no outputs; models present: {shown}", field="baseline")
    others = [m for m in models if m != baseline]
    if not others:
        raise InputError("only the baseline has outputs: nothing to compare it with", field="baseline")
    return _frame([(p, baseline, m) for p in prompts for m in others], seed, frame)


def pairs_round_robin(outputs: Outputs, seed: int = 0, *, frame: bool = True) -> Any:
    """Every pair of models on every prompt."""
    prompts, models = _prompts_and_models(outputs)
    if len(models) < 2:
        raise InputError("round robin needs outputs of at least two models", field="pairs")
    return _frame([(p, a, b) for p in prompts for a, b in combinations(models, 2)], seed, frame)


def pairs_from_file(path: str | Path, outputs: Outputs | None = None, seed: int = 0, *, frame: bool = True) -> Any:
    """Explicit pairs from a CSV/JSONL/Parquet file with ``model_x, model_y`` (or ``model_a, model_b``).

    Rows with a ``prompt_id`` name one comparison; rows without one stand for the pair on
    every prompt of ``outputs``.  The presentation order is still the seeded assignment.
    """
    from referee.io.fields import Fields
    from referee.io.outputs import table_records
    from referee.io.source import Source

    src = Source(path)
    recs = table_records(src) if src.kind in ("csv", "parquet") else src.records()
    prompts = _prompts_and_models(outputs)[0] if outputs is not None else None
    rows: list[tuple[str, str, str]] = []
    for line, rec in recs:
        f = Fields(rec, src.name, line)
        kx, ky = ("model_x", "model_y") if "model_x" in rec or "model_y" in rec else ("model_a", "model_b")
        mx, my = f.text(kx), f.text(ky)
        assert mx is not None and my is not None  # required fields: Fields raised otherwise
        if mx == my:
            f.error(f"a model cannot be paired with itself ({mx!r})", ky)
        pid = f.ident("prompt_id", required=False) or None
        if pid is not None:
            rows.append((pid, mx, my))
        elif prompts is None:
            f.error("no prompt_id: pass the outputs so the pair can be planned on every prompt", "prompt_id")
        else:
            rows.extend((p, mx, my) for p in prompts)
    if not rows:
        raise InputError("no pairs in the file", path=src.name)
    return _frame(rows, seed, frame)


def plan_pairs(
    outputs: Outputs, *, baseline: str | None = None, pairs: str | Path | None = None, seed: int = 0, frame: bool = True
) -> Any:
    """The pairing the user asked for: ``baseline``, ``pairs="round-robin"`` or ``pairs=FILE``.

    A DataFrame (``frame=True``) or a list of ``(prompt_id, model_x, model_y, pair_id)`` tuples.
    """
    if baseline is not None and pairs is not None:
        raise InputError("give either a baseline or pairs (round-robin or a file), not both", field="pairs")
    if baseline is not None:
        return pairs_vs_baseline(outputs, baseline, seed, frame=frame)
    if pairs is None:
        raise InputError("say which pairs to judge: `baseline=MODEL`, `pairs='round-robin'` or `pairs=FILE`", field="pairs")
    if str(pairs) in ("round-robin", "round_robin", "all"):
        return pairs_round_robin(outputs, seed, frame=frame)
    return pairs_from_file(pairs, outputs, seed, frame=frame)

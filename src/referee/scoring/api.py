"""``load_scorer(spec)`` and ``score(outputs, scorer)``: the scores table from any scorer."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.scoring.base import Scorer

SPECS = "length | length:tokens | rm:DIR | hf:PATH | dpo:POLICY,REF"
SCORE_COLUMNS = ["prompt_id", "model", "response", "scorer", "score"]


def load_scorer(spec: str | Scorer, **kwargs: Any) -> Scorer:
    """A scorer from its spec: ``length``, ``length:tokens``, ``rm:DIR``, ``hf:PATH``, ``dpo:POLICY,REF[,...]``.

    A :class:`~referee.scoring.base.Scorer` instance is returned unchanged.  ``kwargs`` go to the
    scorer's constructor (e.g. ``cache_dir`` for ``rm:``, ``batch_size`` / ``device`` for ``hf:``).
    """
    if not isinstance(spec, str):
        if hasattr(spec, "score"):
            return spec
        raise InputError(f"not a scorer spec: {spec!r}; expected {SPECS}", field="scorer")
    kind, _, rest = spec.strip().partition(":")
    if kind == "length":
        from referee.scoring.length import LengthScorer

        if rest not in ("", "chars", "tokens"):
            raise InputError(f"unknown length unit in {spec!r}; expected length or length:tokens", field="scorer")
        return LengthScorer(rest or "chars")
    if kind in ("rm", "hf") and not rest:
        raise InputError(f"{kind}: needs a path, e.g. {kind}:models/rm", field="scorer")
    if kind == "rm":
        from referee.scoring.rm import RMScorer

        return RMScorer(Path(rest).expanduser(), **kwargs)
    if kind == "hf":
        from referee.scoring.hf import HFScorer

        return HFScorer(rest, **kwargs)
    if kind == "dpo":
        from referee.scoring import dpo

        return dpo.from_spec(spec, **kwargs)
    raise InputError(f"unknown scorer {spec!r}; expected {SPECS}", field="scorer")


def _outputs(outputs: Any, questions: Any = None) -> pd.DataFrame:
    if isinstance(outputs, pd.DataFrame):
        df = outputs.copy()
    elif isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        df = pd.DataFrame(outputs)
    else:
        from referee.io.outputs import read_outputs

        df = read_outputs(outputs, questions=questions)
    for col in ("response",):
        if col not in df.columns:
            raise InputError("outputs to score need a 'response' column", field=col)
    if "prompt" not in df.columns:
        df["prompt"] = ""
    if "prompt_id" not in df.columns:
        from referee.io.gold import text_id

        df["prompt_id"] = df["prompt"].fillna("").astype(str).map(text_id)
    if "model" not in df.columns:
        df["model"] = None
    return df


def score(outputs: Any, scorer: str | Scorer = "length", *, questions: Any = None,
          progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> pd.DataFrame:
    """Score model outputs: the scores table ``prompt_id, model, response, scorer, score``.

    ``outputs``: files / globs / directories in the formats of ``referee judge --outputs``
    (AlpacaEval, Arena-Hard, FastChat, generic ``prompt/model/response``), a DataFrame or a
    list of records.  ``attrs["notes"]`` says what was adjusted (empty responses, truncations).
    """
    sc = load_scorer(scorer, **kwargs)
    df = _outputs(outputs, questions)
    prompts = df["prompt"].fillna("").astype(str).tolist()
    responses = df["response"].fillna("").astype(str).tolist()
    if progress is not None and _takes_progress(sc):
        vals = sc.score(prompts, responses, progress=progress)
    else:
        vals = sc.score(prompts, responses)
    vals = np.asarray(vals, dtype=float)
    if vals.shape != (len(df),):
        raise RuntimeError(f"scorer {sc.name} returned {vals.shape} scores for {len(df)} responses")
    notes = list(df.attrs.get("notes", [])) if hasattr(df, "attrs") else []
    empty = sum(not r.strip() for r in responses)
    if empty:
        notes.append(f"{empty} empty responses scored as they are")
    truncated = int(getattr(sc, "truncated", 0) or 0)
    if truncated:
        notes.append(f"{truncated} inputs longer than the model's maximum truncated from the left")
        warnings.warn(notes[-1], stacklevel=2)
    out = pd.DataFrame({"prompt_id": df["prompt_id"].astype(str).values, "model": df["model"].values,
                        "response": responses, "scorer": sc.name, "score": vals})
    if "prompt" in df.columns:
        out.insert(1, "prompt", prompts)
    out.attrs = {"notes": notes, "scorer": sc.name, "truncated": truncated}
    return out


def _takes_progress(sc: Any) -> bool:
    import inspect

    try:
        return "progress" in inspect.signature(sc.score).parameters
    except (TypeError, ValueError):
        return False

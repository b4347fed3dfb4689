"""Scoring on this machine: :func:`load_scorer`, the inputs :func:`score_table` reads, and the scores table.

:func:`referee.scoring.api.score` (public as ``referee.score``) runs :func:`score_table` here or,
with ``ray``, the same function per input file on Ray actors (:mod:`referee.scoring.distributed`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.scoring.base import ProgressScorer, Scorer

SPECS = "length | length:tokens | overlap | rm:DIR | hf:PATH | dpo:POLICY,REF"
SCORE_COLUMNS = ["prompt_id", "model", "response", "scorer", "score"]


def load_scorer(spec: str | Scorer, **kwargs: Any) -> Scorer:
    """A scorer from its spec: ``length``, ``length:tokens``, ``overlap``, ``rm:DIR``, ``hf:PATH``, ``dpo:POLICY,REF[,...]``.

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
    if kind == "overlap" and not rest:
        from referee.scoring.overlap import OverlapScorer

        return OverlapScorer()
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


PAIR_SIDES = (("model_a", "response_a"), ("model_b", "response_b"))


def pair_responses(comparisons: pd.DataFrame) -> pd.DataFrame:
    """The responses of a comparisons table with texts, one row per distinct response:
    ``prompt_id, prompt, model, response`` (``model`` = the table's ``model_a`` / ``model_b``,
    which for chosen/rejected pairs is ``chosen`` / ``rejected``).  Both sides of every row,
    in row order, side a before side b; a response repeated in several rows comes once."""
    if "prompt_id" not in comparisons.columns:
        if "prompt" not in comparisons.columns:
            raise InputError("comparisons to score need a prompt_id or prompt column", field="prompt_id")
        from referee.io.gold import text_id

        comparisons = comparisons.assign(prompt_id=comparisons["prompt"].fillna("").astype(str).map(text_id))
    prompt = comparisons["prompt"] if "prompt" in comparisons.columns else pd.Series("", index=comparisons.index)
    sides = [
        pd.DataFrame({"prompt_id": comparisons["prompt_id"].to_numpy(), "prompt": prompt.to_numpy(),
                      "model": comparisons[m].to_numpy() if m in comparisons.columns else None,
                      "response": comparisons[r].to_numpy(), "_row": np.arange(len(comparisons))})
        for m, r in PAIR_SIDES
    ]
    both = pd.concat(sides, ignore_index=True).sort_values("_row", kind="stable").drop(columns="_row")
    both = both[both["response"].map(lambda r: isinstance(r, str))]
    return both.drop_duplicates(["prompt_id", "model", "response"]).reset_index(drop=True)


def is_pair_file(path: str | Path) -> bool:
    """Is ``path`` a preference-pair file (what :func:`referee.read` reads as format ``pairs``)?"""
    from referee.io.detect import detect

    try:
        return detect(str(path)) == "pairs"
    except InputError:  # not comparisons at all (model outputs are not): read as outputs
        return False


def _read_inputs(outputs: Any, questions: Any = None) -> pd.DataFrame:
    """Model outputs and pair files (see the module docstring) as ``prompt_id, prompt, model, response``."""
    from referee.io.outputs import expand, read_outputs

    paths = expand(outputs)
    pair_files = [p for p in paths if is_pair_file(p)]
    if not pair_files:
        return read_outputs(outputs, questions=questions)
    from referee.io import read

    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    others = [p for p in paths if p not in pair_files]
    if others:
        plain = read_outputs(others, questions=questions)
        frames.append(plain)
        notes += plain.attrs.get("notes", [])
    for path in pair_files:
        table = read(path, format="pairs")
        sides = pair_responses(table)
        frames.append(sides)
        notes.append(f"{path}: {len(table)} preference pairs, both responses scored ({len(sides)} distinct responses)")
        same = table.attrs.get("dropped", {}).get("identical_responses")
        if same:
            notes.append(f"{path}: {same} pairs with identical chosen and rejected responses left out")
    df = pd.concat(frames, ignore_index=True)
    df.attrs["notes"] = notes
    return df


def _outputs(outputs: Any, questions: Any = None) -> pd.DataFrame:
    if isinstance(outputs, pd.DataFrame):
        df = outputs.copy()
    elif isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        df = pd.DataFrame(outputs)
    else:
        df = _read_inputs(outputs, questions)
    if "response" not in df.columns and {"response_a", "response_b"} <= set(df.columns):
        df = pair_responses(df)  # a comparisons table with texts: score both sides
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


def _takes_progress(sc: Scorer) -> TypeGuard[ProgressScorer]:
    import inspect

    try:
        return "progress" in inspect.signature(sc.score).parameters
    except (TypeError, ValueError):
        return False


def score_table(outputs: Any, scorer: str | Scorer = "length", *, questions: Any = None,
                progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> pd.DataFrame:
    """Score model outputs: the scores table ``prompt_id, model, response, scorer, score``.

    ``outputs``: files / globs / directories in the formats of ``referee judge --outputs``
    (AlpacaEval, Arena-Hard, FastChat, generic ``prompt/model/response``) or preference-pair
    files (TRL ``prompt/chosen/rejected``, HH-RLHF, HHH, RM-Bench, EvalBiasBench: both responses
    of every pair, ``model`` = ``chosen`` / ``rejected``; see :mod:`referee.scoring.api`), a DataFrame or
    a list of records (a comparisons table with ``response_a`` / ``response_b`` and no
    ``response``: both sides, by :func:`pair_responses`).  ``attrs["notes"]`` says what was
    adjusted (empty responses, truncations) and how many pairs each pair file held.

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

"""Best-of-N: pick the top-scored response per prompt from N samples.

Samples table: ``prompt_id``, ``prompt``, ``response`` (optionally ``model``, ``sample_id``, and
a precomputed ``score`` used when no scorer is given).  Each distinct (prompt, response) is scored
once.  The picked table has one row per prompt: the picked sample's columns plus ``score``,
``scorer``, ``n_samples`` (scored samples of that prompt), ``n_tied`` (samples sharing the top
score, 1 = a clear winner), ``tied`` (``n_tied > 1``) and ``tied_sample_ids`` (the tied samples'
ids, JSON list, when tied).  Of tied samples the first in input order is picked; RewardBench v2
gives such a pick 1/k credit (:func:`referee.auditing.rewardbench.best_of_n_credit`), which is
``1 / n_tied`` when the picked response is the correct one.  Samples whose score is NaN are
ignored (counted in ``attrs["nan_scores"]``); a prompt none of whose samples has a score is left
out (``attrs["unscored_prompts"]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from referee.errors import InputError, source_name
from referee.scoring.base import Scorer

PICK_COLUMNS = (
    "prompt_id",
    "prompt",
    "model",
    "sample_id",
    "response",
    "score",
    "scorer",
    "n_samples",
    "n_tied",
    "tied",
    "tied_sample_ids",
)


def read_samples(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Samples from JSONL / JSON / CSV / Parquet files (``instruction`` / ``output`` accepted for prompt / response)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    frames = []
    for p in map(Path, paths):
        if not p.is_file():
            raise InputError("samples file not found", path=str(p))
        name = p.name.lower()
        try:
            if ".parquet" in name:
                df = pd.read_parquet(p)
            elif ".csv" in name:
                df = pd.read_csv(p, dtype={"prompt_id": str, "sample_id": str})
            else:
                lines = ".jsonl" in name or ".ndjson" in name
                df = pd.read_json(
                    p,
                    lines=lines,
                    orient=None if lines else "records",
                    dtype={"prompt_id": str, "sample_id": str},
                )
        except (ValueError, OSError) as err:
            raise InputError(f"cannot read samples: {err}", path=str(p)) from None
        frames.append(
            df.rename(
                columns={
                    k: v
                    for k, v in (("instruction", "prompt"), ("output", "response"), ("id", "prompt_id"))
                    if k in df.columns and v not in df.columns
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def best_of_n(
    samples: pd.DataFrame | str | Path | Sequence[str | Path], scorer: Scorer | str | None = None
) -> pd.DataFrame:
    """The top-scored response per prompt (see the module docstring).  ``scorer``: a
    :class:`~referee.scoring.base.Scorer`, a spec (``length``, ``rm:DIR``, ``hf:PATH``, ``dpo:...``), or
    None to use the samples' own ``score`` column.  ``attrs``: ``n_prompts``, ``n_tied`` (prompts
    whose top score is shared), ``nan_scores``, ``unscored_prompts``, ``scorer``."""
    df = samples.copy() if isinstance(samples, pd.DataFrame) else read_samples(samples)
    for col in ("prompt_id", "response") + (("prompt",) if scorer is not None else ()):
        if col not in df.columns:
            raise InputError(
                f"samples table lacks column {col!r} (needs prompt_id, prompt, response[, model, sample_id])",
                path=source_name(samples), field=col,
            )
    if df.empty:
        raise InputError("no samples", path=source_name(samples), field="response")
    df = df.reset_index(drop=True)
    df["prompt_id"] = df["prompt_id"].astype(str)
    if "prompt" not in df.columns:
        df["prompt"] = None
    if "model" not in df.columns:
        df["model"] = None
    if "sample_id" not in df.columns:
        df["sample_id"] = df.groupby("prompt_id", sort=False).cumcount().astype(str)
    df["sample_id"] = df["sample_id"].astype(str)
    dup = df.duplicated(["prompt_id", "sample_id"])
    if dup.any():
        row = df[dup].iloc[0]
        raise InputError(
            f"sample {row['sample_id']!r} of prompt {row['prompt_id']!r} appears twice; give each sample a unique sample_id",
            field="sample_id",
        )
    bad = ~df["response"].map(lambda r: isinstance(r, str))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} sample(s) have no response text (first: prompt {df.loc[bad, 'prompt_id'].iloc[0]!r})",
            field="response",
        )

    if scorer is None:
        if "score" not in df.columns:
            raise InputError(
                "no scorer given and the samples have no score column; pass `scorer`", field="scorer"
            )
        scores = pd.to_numeric(df["score"], errors="coerce").to_numpy(dtype=float)
        name = str(df["scorer"].iloc[0]) if "scorer" in df.columns else "score"
    else:
        owned = isinstance(scorer, str)
        if isinstance(scorer, str):
            from referee.scoring import load_scorer

            scorer = load_scorer(scorer)
        name = scorer.name
        try:
            scores = score_unique(scorer, df["prompt"].astype(str).tolist(), df["response"].tolist())
        finally:
            close = getattr(scorer, "close", None) if owned else None
            if close is not None:
                close()
    df["score"] = scores
    df["scorer"] = name
    nan = np.isnan(scores)

    rows = []
    for pid, grp in df[~nan].groupby("prompt_id", sort=False):
        s = grp["score"].to_numpy()
        top = s.max()
        at_top = grp[s == top]
        pick = at_top.iloc[0]
        k = len(at_top)
        rows.append({
            "prompt_id": pid, "prompt": pick["prompt"], "model": pick["model"], "sample_id": pick["sample_id"],
            "response": pick["response"], "score": float(top), "scorer": name, "n_samples": len(grp), "n_tied": k,
            "tied": k > 1, "tied_sample_ids": json.dumps(at_top["sample_id"].tolist()) if k > 1 else None,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(PICK_COLUMNS))
    if out["model"].isna().all():
        out = out.drop(columns="model")
    prompts = df["prompt_id"].unique()
    out.attrs.update(
        n_prompts=len(out), n_tied=int(out["tied"].sum()) if len(out) else 0, nan_scores=int(nan.sum()),
        unscored_prompts=len(prompts) - len(out), scorer=name,
    )  # fmt: skip
    return out


def score_unique(scorer: Scorer, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
    """``scorer.score`` on each distinct (prompt, response) once, spread back to every row."""
    keys = list(zip(prompts, responses, strict=True))
    index: dict[tuple[str, str], int] = {}
    for key in keys:
        index.setdefault(key, len(index))
    uniq = list(index)
    got = np.asarray(scorer.score([p for p, _ in uniq], [r for _, r in uniq]), dtype=float).reshape(-1)
    if got.shape[0] != len(uniq):
        raise InputError(
            f"scorer {getattr(scorer, 'name', scorer)!r} returned {got.shape[0]} scores for {len(uniq)} responses",
            field="scorer",
        )
    return got[[index[k] for k in keys]]


def summary(picked: pd.DataFrame) -> str:
    """One line: prompts, ties, scorer."""
    a = picked.attrs
    parts = [
        f"picked the best of {picked['n_samples'].median():.0f} samples (median) for {a.get('n_prompts', len(picked))} prompts by {a.get('scorer')}"
    ]
    parts.append(
        f"{a.get('n_tied', 0)} prompts with a tied top score (RewardBench v2 gives those 1/k credit)"
    )
    if a.get("nan_scores"):
        parts.append(f"{a['nan_scores']} samples without a score ignored")
    if a.get("unscored_prompts"):
        parts.append(f"{a['unscored_prompts']} prompts with no scored sample left out")
    return "; ".join(parts)


__all__ = ["PICK_COLUMNS", "best_of_n", "read_samples", "score_unique", "summary"]

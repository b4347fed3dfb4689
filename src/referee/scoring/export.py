"""Preference pairs for training, in TRL's format (``prompt``, ``chosen``, ``rejected``), from any comparisons table.

A row of the comparisons table (``prompt``, ``response_a``, ``response_b``, ``winner``) becomes one
pair: ``chosen`` = the winner's response.  Options:

* ties (``tie``, ``tie (bothbad)``) are dropped by default; with ``drop_ties=False`` they are kept
  with ``chosen`` = ``response_a`` and a ``tie`` column marking them (TRL has no tie label);
* ``min_margin``: keep only rows whose margin ``|2·prob_a − 1|`` (0 = a coin flip, 1 = certain;
  for an RM judge ``tanh(|r_a − r_b| / 2)``) is at least this; rows without ``prob_a`` are
  dropped (their margin is unknown) and counted.

**Texts from elsewhere.**  A judge run's reconciled verdicts (``NAME.reconciled.EXT``: one verdict
per pair) carry no texts.  ``outputs`` (the model outputs that were judged, in the formats of
``referee judge --outputs``) fill what the comparisons lack: ``prompt`` by ``prompt_id``,
``response_a`` / ``response_b`` by (``prompt_id``, ``model_a`` / ``model_b``).  Without
``outputs``, a reconciled file takes its texts from the per-order verdicts file the judge wrote
beside it (``NAME.EXT``).  A verdict whose texts are in neither is an error naming the model and
prompt; ``attrs["texts_from"]`` says where the texts came from.

Rows lacking text (no prompt or a missing response), with identical responses, or with no
verdict (``winner`` null) are dropped.  Both presentation orders of one pair (a judge's two games)
give the same pair, written once; pairs whose games disagree (A over B in one, B over A in the
other) are dropped as ``contradictory``.  ``attrs["dropped"]``: reason -> count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.schema import TIE_LABELS

PAIR_COLUMNS = ("prompt", "chosen", "rejected")
TEXT_COLUMNS = ("prompt", "response_a", "response_b")
RECONCILED = ".reconciled"


def per_order_file(reconciled: str | Path) -> Path | None:
    """The per-order verdicts file a judge run wrote beside its reconciled file, if it is there:
    ``verdicts.reconciled.jsonl`` -> ``verdicts.jsonl`` (compression suffixes kept)."""
    path = Path(reconciled)
    name = path.name
    at = name.rfind(RECONCILED + ".")
    if at > 0:
        stem = name[:at] + name[at + len(RECONCILED):]
    elif name.endswith(RECONCILED) and len(name) > len(RECONCILED):
        stem = name[: -len(RECONCILED)]
    else:
        return None
    found = path.with_name(stem)
    return found if found.is_file() else None


def _texts(outputs: Any, questions: str | Path | None) -> pd.DataFrame:
    """``prompt_id, prompt, model, response`` from model outputs (files or a DataFrame; a comparisons
    table with ``response_a`` / ``response_b``: both of its sides)."""
    from referee.scoring.api import pair_responses

    if isinstance(outputs, pd.DataFrame):
        if "response" not in outputs.columns and {"response_a", "response_b"} <= set(outputs.columns):
            return pair_responses(outputs)
        missing = [c for c in ("prompt_id", "model", "response") if c not in outputs.columns]
        if missing:
            raise InputError(f"the `outputs` lack column(s) {', '.join(missing)}", field="outputs")
        return outputs
    from referee.io.outputs import read_outputs

    return read_outputs(outputs, questions=questions)


def with_texts(
    comparisons: pd.DataFrame, outputs: Any = None, *, questions: str | Path | None = None,
) -> pd.DataFrame:
    """``comparisons`` with the texts they lack filled in (see the module docstring); unchanged when
    there is nothing to fill from.  ``attrs["texts_from"]``: the source of the texts filled in."""
    from referee.errors import source_name

    if outputs is not None:
        texts, origin = _texts(outputs, questions), source_name(outputs)
    elif all(c in comparisons.columns for c in TEXT_COLUMNS):
        return comparisons
    else:
        sources = [per_order_file(s) for s in comparisons.attrs.get("formats", {})]
        found = [s for s in sources if s is not None]
        if not found:
            return comparisons
        from referee.io import read
        from referee.scoring.api import pair_responses

        texts, origin = pair_responses(read(found)), source_name(found)
    for col in ("prompt_id", "model_a", "model_b"):
        if col not in comparisons.columns:
            raise InputError(f"texts are joined to the comparisons by prompt_id, model_a and model_b; "
                             f"the comparisons have no {col}", field=col)
    pid = comparisons["prompt_id"].astype(str).tolist()
    prompts: dict[str, str] = {}
    responses: dict[tuple[str, str], str] = {}
    for p, m, r, t in zip(texts["prompt_id"].astype(str), texts["model"].astype(str), texts["response"],
                          texts["prompt"] if "prompt" in texts.columns else [None] * len(texts), strict=True):
        if isinstance(r, str):
            responses.setdefault((p, m), r)
        if isinstance(t, str):
            prompts.setdefault(p, t)
    out = comparisons.copy()
    filled = {
        "prompt": [prompts.get(p) for p in pid],
        "response_a": [responses.get((p, str(m))) for p, m in zip(pid, out["model_a"], strict=True)],
        "response_b": [responses.get((p, str(m))) for p, m in zip(pid, out["model_b"], strict=True)],
    }
    for col, values in filled.items():
        have = out[col].tolist() if col in out.columns else [None] * len(out)
        out[col] = pd.Series([h if isinstance(h, str) else v for h, v in zip(have, values, strict=True)],
                             index=out.index, dtype=object)
    _refuse_missing(out, origin)
    out.attrs = {**comparisons.attrs, "texts_from": origin or "the outputs table"}
    return out


def _refuse_missing(df: pd.DataFrame, origin: str | None) -> None:
    """An error naming the first verdict (a row with a winner) whose texts were not found."""
    decided = [isinstance(w, str) for w in df["winner"]] if "winner" in df.columns else [True] * len(df)
    lacking = [
        (i, col) for i, (ok, *texts) in enumerate(zip(decided, *(df[c] for c in TEXT_COLUMNS), strict=True))
        for col, t in zip(TEXT_COLUMNS, texts, strict=True) if ok and not isinstance(t, str)
    ]
    if not lacking:
        return
    i, col = lacking[0]
    row = df.iloc[i]
    what = "the prompt text" if col == "prompt" else f"the response of model {str(row[col.replace('response', 'model')])!r}"
    rows = len({j for j, _ in lacking})
    raise InputError(
        f"no texts for {rows} of {len(df)} comparisons: {what} to prompt_id {str(row['prompt_id'])!r} is missing; "
        "pass the model outputs that were judged (`outputs`)",
        path=origin, field="response" if col != "prompt" else "prompt",
    )


def export_pairs(
    comparisons: pd.DataFrame | str | Path | Sequence[str | Path],
    *,
    drop_ties: bool = True,
    min_margin: float | None = None,
    outputs: Any = None,
    questions: str | Path | None = None,
) -> pd.DataFrame:
    """A TRL preference-pairs table from a comparisons table (or files :func:`referee.io.read` reads).

    ``outputs``: model outputs (files, globs or folders in the formats of ``referee judge --outputs``,
    or a DataFrame ``prompt_id, model, response[, prompt]``) whose texts fill what the comparisons
    lack, e.g. a judge run's reconciled verdicts; ``questions``: the FastChat question file of
    outputs without prompt texts.  See the module docstring.
    """
    if isinstance(comparisons, pd.DataFrame):
        df = comparisons
    else:
        from referee.io import read

        df = read(comparisons)
    df = with_texts(df, outputs, questions=questions)
    lacking = [c for c in ("prompt", "response_a", "response_b", "winner") if c not in df.columns]
    if lacking:
        texts = " (a judge run's reconciled verdicts have none: pass the model outputs that were judged, `outputs`)"
        raise InputError(
            f"the comparisons lack column(s) {', '.join(lacking)}: pairs need the texts"
            + (texts if "winner" not in lacking else ""), field=lacking[0]
        )
    if min_margin is not None:
        if not 0.0 <= float(min_margin) <= 1.0:
            raise InputError(
                f"`min_margin` is |2·prob_a − 1|, between 0 and 1; got {min_margin}", field="min_margin"
            )
        if "prob_a" not in df.columns or pd.to_numeric(df["prob_a"], errors="coerce").isna().all():
            raise InputError(
                "`min_margin` needs a prob_a column (soft verdicts: logprob judges, RM judges)",
                field="prob_a",
            )
    dropped: Counter[str] = Counter()
    prob = (
        pd.to_numeric(df["prob_a"], errors="coerce").to_numpy(dtype=float)
        if "prob_a" in df.columns
        else np.full(len(df), np.nan)
    )
    kept: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rec, p in zip(
        df[["prompt", "response_a", "response_b", "winner"]].itertuples(index=False), prob, strict=True
    ):
        prompt, a, b, winner = rec
        if not all(isinstance(x, str) for x in (prompt, a, b)):
            dropped["missing_text"] += 1
            continue
        if a == b:
            dropped["identical_responses"] += 1
            continue
        if not isinstance(winner, str):
            dropped["no_verdict"] += 1
            continue
        tie = winner in TIE_LABELS
        if tie and drop_ties:
            dropped["tie"] += 1
            continue
        if min_margin is not None:
            if np.isnan(p):
                dropped["no_margin"] += 1
                continue
            if abs(2.0 * p - 1.0) < float(min_margin):
                dropped["low_margin"] += 1
                continue
        if winner == "model_b":
            a, b = b, a
        elif winner != "model_a" and not tie:
            raise InputError(f"unknown winner label {winner!r}", field="winner")
        key = (prompt, *sorted((a, b))) if tie else (prompt, a, b)
        if key in kept:
            dropped["duplicate"] += 1
            continue
        flipped = (prompt, b, a)
        if not tie and flipped in kept:
            kept[flipped]["contradictory"] = True
            dropped["contradictory"] += 1
            continue
        kept[key] = {"prompt": prompt, "chosen": a, "rejected": b, "tie": tie, "contradictory": False}
    rows = [r for r in kept.values() if not r["contradictory"]]
    dropped["contradictory"] += len(kept) - len(rows)
    if not dropped["contradictory"]:
        del dropped["contradictory"]
    columns = list(PAIR_COLUMNS) + ([] if drop_ties else ["tie"])
    out = pd.DataFrame(rows, columns=[*PAIR_COLUMNS, "tie", "contradictory"])[columns]
    out.attrs["dropped"] = dict(dropped)
    out.attrs["n_in"] = len(df)
    if "texts_from" in df.attrs:
        out.attrs["texts_from"] = df.attrs["texts_from"]
    return out


def summary(pairs: pd.DataFrame) -> str:
    """One line: pairs written and what was dropped."""
    dropped = pairs.attrs.get("dropped", {})
    text = f"{len(pairs)} preference pairs from {pairs.attrs.get('n_in', '?')} comparisons"
    if pairs.attrs.get("texts_from"):
        text += f" (texts from {pairs.attrs['texts_from']})"
    if dropped:
        text += "; dropped " + ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(dropped.items()))
    return text


__all__ = ["PAIR_COLUMNS", "export_pairs", "per_order_file", "summary", "with_texts"]

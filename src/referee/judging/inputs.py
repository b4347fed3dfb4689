"""What a run reads: the model outputs (records), reference answers, and which pairs can be judged.

Reading the outputs themselves lives in :mod:`referee.io.outputs` (shared with
``referee score`` and the arena); its public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError
from referee.io.outputs import COLUMNS as COLUMNS
from referee.io.outputs import QUESTION_FILES as QUESTION_FILES
from referee.io.outputs import expand as expand
from referee.io.outputs import load_outputs as load_outputs
from referee.io.outputs import load_references as load_references
from referee.io.outputs import read_outputs as read_outputs
from referee.io.outputs import read_references as read_references
from referee.io.outputs import table_records as table_records

if TYPE_CHECKING:
    import pandas as pd

SHOW = 5  # missing pairs named in an error message


# -- completeness ---------------------------------------------------------------------------------
Pair = tuple[str, str, str, str]


def missing_for(have: set[tuple[str, str]], pairs: Sequence[Pair]) -> tuple[list[Pair], list[tuple[str, str]]]:
    """(pairs whose two outputs exist, sorted missing ``(prompt_id, model)``) given the outputs present."""
    kept: list[Pair] = []
    missing: set[tuple[str, str]] = set()
    for p in pairs:
        gone = [(p[0], m) for m in (p[1], p[2]) if (p[0], m) not in have]
        if gone:
            missing.update(gone)
        else:
            kept.append(p)
    return kept, sorted(missing)


def missing_error(missing: list[tuple[str, str]]) -> InputError:
    shown = "; ".join(f"prompt {p} / model {m}" for p, m in missing[:SHOW])
    more = f" and {len(missing) - SHOW} more" if len(missing) > SHOW else ""
    return InputError(
        f"{len(missing)} model output(s) missing: {shown}{more}; pass `allow_missing=True` to skip the pairs that need them",
        field="outputs",
    )


def require(outputs: pd.DataFrame, pairs: pd.DataFrame, *, allow_missing: bool = False) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Keep the pairs whose two outputs exist; InputError naming the missing ones unless ``allow_missing``.

    Returns (pairs kept, missing ``(prompt_id, model)`` pairs, sorted).
    """
    from referee.planning.pairs import as_frame, as_tuples

    have = set(zip(outputs["prompt_id"].astype(str), outputs["model"].astype(str), strict=True))
    kept, missing = missing_for(have, as_tuples(pairs))
    if missing and not allow_missing:
        raise missing_error(missing)
    return as_frame(kept), missing


# -- what judge() reads -------------------------------------------------------------------------------
def records_of(outputs: Any, questions: str | Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """(records ``prompt_id, prompt, model, response``, notes) from a table or files; missing outputs dropped."""
    if hasattr(outputs, "to_dict"):  # a DataFrame
        return frame_records(outputs), list(getattr(outputs, "attrs", {}).get("notes", []))
    if isinstance(outputs, list | tuple) and not outputs:
        raise InputError("no model outputs: pass `outputs=FILES`", field="outputs")
    records, attrs = load_outputs(outputs, questions=questions)
    return records, list(attrs["notes"])


def frame_records(df: Any) -> list[dict[str, Any]]:
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


def references_of(references: Any, questions: str | Path | None = None) -> dict[str, str] | None:
    """prompt_id -> reference answer, from files, a ``prompt_id, reference`` table or a dict."""
    if references is None:
        return None
    if isinstance(references, dict):
        return {str(k): v for k, v in references.items()}
    if hasattr(references, "columns"):
        return dict(zip(references["prompt_id"].astype(str), references["reference"], strict=True))
    return load_references(references, questions=questions)

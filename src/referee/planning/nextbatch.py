"""``referee plan next``: the next batch of comparisons for an external process.

Human annotation campaigns and providers' batch APIs judge outside referee; between batches,
:func:`next_pairs` rebuilds the plan from what is known — the model outputs (the candidate set,
as ``referee judge`` plans it: ``pairs`` round-robin / a file, or a ``baseline``) and the
verdicts so far (any table :func:`referee.read` reads: ``referee judge`` output, arena votes,
human labels) — and returns the next ``n`` comparisons.  It is stateless: the same inputs and
seed give the same batch.  A verdict's score is model_a's (1 win, ½ tie, 0 loss; ``prob_a``
when present); several verdicts on one comparison (both orders, several annotators) are
averaged into one outcome, which counts once against ``budget``.

The batch is a pairs table ``prompt_id, model_x, model_y, pair_id`` (``model_x`` shown first
in order 1, the same seeded presentation order ``referee judge`` uses) that ``referee judge
--pairs FILE`` reads back; ``texts=True`` adds ``prompt``, ``response_x`` and ``response_y``
for annotators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.planning.base import Outcome
from referee.planning.candidates import CandidateSet
from referee.planning.factory import make_planner
from referee.planning.pairs import PAIR_COLUMNS, first_shown, pair_id
from referee.planning.state import Progress


@dataclass
class NextBatch:
    """The next comparisons (``pairs``), where the plan stands, and notes."""

    pairs: pd.DataFrame
    progress: Progress
    notes: list[str] = field(default_factory=list)

    def write(self, path: str | Path) -> Path:
        from referee.io import write

        return write(self.pairs, path)


def verdict_outcomes(table: pd.DataFrame) -> list[Outcome]:
    """One outcome per (prompt, model pair) from a comparisons table: model_a's mean score."""
    from referee.schema import outcome_codes

    if "prompt_id" not in table.columns or table["prompt_id"].isna().all():
        raise InputError("the verdicts need a prompt_id column to plan per prompt", field="prompt_id")
    codes = outcome_codes(table["winner"])
    s = np.where(codes == 0, 1.0, np.where(codes == 1, 0.0, 0.5))
    if "prob_a" in table.columns:
        pa = pd.to_numeric(table["prob_a"], errors="coerce").to_numpy(dtype=float)
        s = np.where(np.isnan(pa), s, pa)
    a, b = table["model_a"].astype(str).to_numpy(), table["model_b"].astype(str).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    df = pd.DataFrame({"p": table["prompt_id"].astype(str).to_numpy(), "lo": lo, "hi": hi,
                       "s": np.where(a == lo, s, 1.0 - s)})
    df = df[df["lo"] != df["hi"]]
    g = df.groupby(["p", "lo", "hi"], sort=False, as_index=False)["s"].mean()
    return list(zip(g["p"], g["lo"], g["hi"], g["s"].astype(float), strict=True))


def next_pairs(
    verdicts: Any,
    outputs: Any,
    *,
    n: int = 500,
    plan: str = "active",
    pairs: str | Path | None = "round-robin",
    baseline: str | None = None,
    budget: int | float | str | None = None,
    seed: int = 0,
    top_k: int | None = None,
    until: str | None = None,
    level: float = 0.95,
    calls_per_comparison: int = 2,
    texts: bool = False,
    questions: str | Path | None = None,
) -> NextBatch:
    """The next ``n`` comparisons of ``plan`` given ``verdicts`` so far (see the module docstring).

    ``verdicts``: paths or a comparisons DataFrame (``None`` or ``[]``: nothing judged yet);
    ``outputs``: output files (any format ``referee judge`` reads) or records/DataFrame.
    Raises :class:`InputError` when a verdict names a model that has no outputs."""
    if n < 1:
        raise InputError("`n` must be at least 1", field="n")
    if isinstance(outputs, str | Path) or (isinstance(outputs, list | tuple) and outputs
                                           and isinstance(outputs[0], str | Path)):
        from referee.io.outputs import load_outputs

        recs, _ = load_outputs(outputs, questions=questions)
    elif hasattr(outputs, "to_dict"):
        recs = outputs.to_dict("records")
    else:
        recs = list(outputs)
    cs = CandidateSet.from_outputs(recs, baseline=baseline, pairs=None if baseline else pairs, seed=seed)
    table = _verdict_table(verdicts)
    known: list[Outcome] = []
    notes: list[str] = list(cs.notes)
    if table is not None and len(table):
        out_models = {str(r["model"]) for r in recs}
        seen = set(table["model_a"].astype(str)) | set(table["model_b"].astype(str))
        unknown = sorted(seen - out_models)
        if unknown:
            src = verdicts if isinstance(verdicts, str | Path) else None
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            have = ", ".join(sorted(out_models)[:8]) + (" …" if len(out_models) > 8 else "")
            raise InputError(
                f"the verdicts name {len(unknown)} model(s) without outputs: {shown}; the outputs have: {have}. "
                "Pass the outputs the verdicts were made from.", path=None if src is None else str(src),
                field="model_a/model_b")
        known = verdict_outcomes(table)
        off = sum(1 for p, a, b, _ in known if cs.key_of(p, a, b) is None)
        if off:
            notes.append(f"{off:,} judged comparisons are not candidates (another pairing or prompt); they inform "
                         "the ranking only")
    planner = make_planner(plan, cs, budget=budget, calls_per_comparison=calls_per_comparison, seed=seed,
                           top_k=top_k, until=until, level=level, batch=n)
    notes += planner.notes
    planner.record(known)
    got = planner.propose(n)
    if not got and not planner.finished:
        notes.append("the plan waits for the verdicts of its last batch (a Swiss or knockout round) before the next")
    elif planner.finished and not got:
        notes.append(f"the plan is finished ({planner.reason}): nothing more to judge")
    rows = []
    for pid, a, b in got:
        x, y = first_shown(pid, a, b, seed)
        rows.append((pid, x, y, pair_id(pid, a, b)))
    frame = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    if texts:
        by = {(str(r["prompt_id"]), str(r["model"])): r for r in recs}
        frame["prompt"] = [by[(p, x)].get("prompt") for p, x in zip(frame["prompt_id"], frame["model_x"], strict=True)]
        frame["response_x"] = [by[(p, x)]["response"] for p, x in zip(frame["prompt_id"], frame["model_x"], strict=True)]
        frame["response_y"] = [by[(p, y)]["response"] for p, y in zip(frame["prompt_id"], frame["model_y"], strict=True)]
    return NextBatch(frame, planner.progress(), notes)


def _verdict_table(verdicts: Any) -> pd.DataFrame | None:
    if verdicts is None or (isinstance(verdicts, list | tuple) and not verdicts):
        return None
    if isinstance(verdicts, pd.DataFrame):
        from referee.schema import validate

        return validate(verdicts)
    from referee.io import read

    return read(verdicts)

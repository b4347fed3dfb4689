"""AlpacaEval judge annotations (``results/<model>/<annotator>/annotations.json``).

``generator_1`` is the baseline (-> ``model_a``), ``generator_2`` the evaluated model
(-> ``model_b``); ``output_1/2`` -> ``response_a/b``; ``instruction`` -> ``prompt``;
``annotator`` -> ``judge``; ``dataset`` -> ``category``; ``prompt_id`` is a short stable
hash of the instruction (:func:`instruction_id`).

``preference`` (a float, or a string holding one): values in [1, 2] give
``prob_a = 2 - preference`` (1 = the baseline wins, 2 = the model wins, in between =
logprob-weighted); ``0`` is a draw (``prob_a = 0.5``); ``None``/NaN means the judge's
output could not be parsed, and the row is dropped and counted, as AlpacaEval does.
AlpacaEval's win rate is then ``mean(1 - prob_a)`` over the kept rows.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pandas as pd

from referee.io.fields import Fields, type_and_value
from referee.io.source import Parsed, Source
from referee.schema import winner_from_prob

UNPARSED = "unparsed_verdict"  # preference is null/NaN


def instruction_id(instruction: str) -> str:
    """Short stable id of an instruction text: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:12]


def read(src: Source, **_: Any) -> Parsed:
    """Read an annotations file (JSON array or JSON Lines)."""
    rows = []
    dropped = 0
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        prob_a = _prob_a(f)
        model_a, model_b = f.text("generator_1"), f.text("generator_2")
        if prob_a is None:
            dropped += 1
            continue
        instruction = f.text("instruction", required=False)
        rows.append(
            {
                "_line": line,
                "model_a": model_a,
                "model_b": model_b,
                "prob_a": prob_a,
                "prompt_id": None if instruction is None else instruction_id(instruction),
                "prompt": instruction,
                "response_a": f.text("output_1", required=False),
                "response_b": f.text("output_2", required=False),
                "judge": f.text("annotator", required=False),
                "category": f.text("dataset", required=False),
            }
        )
    frame = pd.DataFrame(rows, columns=None if rows else ["_line", "model_a", "model_b", "prob_a"])
    if rows:
        frame.insert(3, "winner", winner_from_prob(frame["prob_a"].to_numpy(dtype=float)))
    return Parsed(frame, dropped={UNPARSED: dropped} if dropped else {})


def _prob_a(f: Fields) -> float | None:
    """P(baseline wins) from ``preference``; None for an unparsed verdict."""
    if "preference" not in f.rec:
        f.error("missing required field", "preference")
    value = f.rec["preference"]
    if value is None:
        return None
    if isinstance(value, str):
        try:
            pref = float(value.strip())
        except ValueError:
            f.error(f"preference must be a number, got {type_and_value(value)}", "preference")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            pref = float(value)
        except OverflowError:
            pref = math.inf
    else:
        f.error(f"wrong type: preference must be a number, got {type_and_value(value)}", "preference")
    if math.isnan(pref):
        return None
    if pref == 0:
        return 0.5
    if 1 <= pref <= 2:
        return 2.0 - pref
    f.error(
        f"preference must lie in [1, 2] (1 = generator_1 wins, 2 = generator_2 wins), be 0 (a draw) "
        f"or null (unparsed); got {value!r}",
        "preference",
    )

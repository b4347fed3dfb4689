"""FastChat ``llm_judge`` pairwise judgments (``model_judgment/gpt-4_pair.jsonl``).

One record per (question, turn, model pair) with two games: game 1 shows ``model_1``
as assistant A, game 2 swaps the order.  FastChat stores each game's verdict in
absolute terms: ``g1_winner``/``g2_winner`` is ``model_1``, ``model_2``, ``tie`` or
``error`` (the judge's output had no ``[[A]]``/``[[B]]``/``[[C]]``).  Each game becomes
one row with ``model_a``/``model_b`` in the order *shown* and the winner in that
frame; both rows share a ``pair_id`` and carry ``order`` 1 or 2.  ``error`` games are
dropped and counted.  ``judge`` is ``[judge_model, prompt_name]``: the model is kept.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from referee.io.fields import Fields, type_and_value
from referee.io.source import Parsed, Source

UNPARSED = "unparsed_verdict"  # FastChat's "error"
#: (game, absolute label) -> winner in the order shown in that game
FRAME = {
    (1, "model_1"): "model_a",
    (1, "model_2"): "model_b",
    (2, "model_2"): "model_a",
    (2, "model_1"): "model_b",
    (1, "tie"): "tie",
    (2, "tie"): "tie",
}


def read(src: Source, **_: Any) -> Parsed:
    """Two rows (one per presentation order) for every judged pair."""
    rows = []
    dropped = 0
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        qid = f.ident("question_id", required=False) or f.ident("id", required=False)
        if qid is None:
            f.error("missing required field", "question_id")
        m1, m2 = f.text("model_1"), f.text("model_2")
        turn = f.integer("turn", required=False)
        turn = 1 if turn is None else turn
        judge = _judge(f)
        base = {
            "_line": line,
            "judge": judge,
            "turn": turn,
            "prompt_id": f"{qid}-t{turn}",
            "pair_id": f"{qid}-t{turn}|{m1}|{m2}|{judge}",
            "tstamp": f.number("tstamp", required=False),
        }
        for game, (shown_a, shown_b) in ((1, (m1, m2)), (2, (m2, m1))):
            label = f.text(f"g{game}_winner")
            assert label is not None  # required fields: Fields.text raised InputError otherwise
            if label == "error":
                dropped += 1
                continue
            if (game, label) not in FRAME:
                f.error(
                    f"unknown winner label {label!r}; expected 'model_1', 'model_2', 'tie' or 'error'",
                    f"g{game}_winner",
                )
            rows.append(base | {"model_a": shown_a, "model_b": shown_b, "winner": FRAME[game, label], "order": game})
    frame = pd.DataFrame(rows, columns=None if rows else ["_line", "model_a", "model_b", "winner"])
    if rows and frame["tstamp"].isna().all():
        frame = frame.drop(columns="tstamp")
    return Parsed(frame, dropped={UNPARSED: dropped} if dropped else {})


def _judge(f: Fields) -> str | None:
    """FastChat writes ``judge`` as ``[model, prompt_name]``; keep the model."""
    value = f.rec.get("judge")
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    if value is None or isinstance(value, str):
        return value
    f.error(f"wrong type: expected [model, prompt] or a string, got {type_and_value(value)}", "judge")

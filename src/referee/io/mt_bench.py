"""MT-Bench pairwise judgments in the HF ``lmsys/mt_bench_human_judgments`` schema.

Fields: ``question_id``, ``model_a``, ``model_b``, ``winner``, ``judge``, ``turn``,
``conversation_a/b`` (full two-turn chats) and sometimes ``category``/``tstamp``.
Human judges (``expert_N``, ``author_N``) go to ``voter`` with ``judge="human"``;
other judges (e.g. ``gpt4_pair``) are kept.  ``turn`` says which answer was judged:
``prompt`` and ``response_a/b`` are that turn's user and assistant messages, and
``prompt_id`` is ``"<question_id>-t<turn>"``.

The ``gpt4_pair`` split uses the label ``tie (inconsistent)``: GPT-4 changed its verdict
when the answer order was swapped, which the MT-Bench paper counts as a tie.  This
reader (and only this one) maps it to ``tie`` and counts it in ``attrs["mapped"]``.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from referee.io.fields import Fields
from referee.io.source import Parsed, Source

HUMAN_JUDGE = re.compile(r"^(expert|author)_\d+$")
SYNONYMS = {"tie (inconsistent)": "tie"}


def is_human(judge: str | None) -> bool:
    """MT-Bench human judges are named ``expert_N`` or ``author_N``."""
    return judge is not None and HUMAN_JUDGE.match(judge) is not None


def read(src: Source, **_: Any) -> Parsed:
    """Read MT-Bench judgments (JSON Lines or a JSON array)."""
    rows = []
    mapped: dict[str, int] = {}
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        qid = f.ident("question_id")
        given = f.integer("turn", required=False)
        turn = 1 if given is None else given
        if turn < 1:
            f.error(f"turn must be 1 or more, got {turn}", "turn")
        winner = f.text("winner")
        if winner in SYNONYMS:
            key = f"{winner} -> {SYNONYMS[winner]}"
            mapped[key] = mapped.get(key, 0) + 1
            winner = SYNONYMS[winner]
        judge = f.ident("judge", required=False)
        row: dict[str, Any] = {
            "_line": line,
            "model_a": f.text("model_a"),
            "model_b": f.text("model_b"),
            "winner": winner,
            "judge": "human" if is_human(judge) else judge,
            "voter": judge if is_human(judge) else None,
            "turn": turn,
            "prompt_id": f"{qid}-t{turn}",
            "category": f.text("category", required=False),
            "tstamp": f.number("tstamp", required=False),
        }
        row.update(_turn_texts(f, turn))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.drop(columns=[c for c in ("voter", "category", "tstamp") if frame[c].isna().all()])
    return Parsed(frame, mapped=mapped)


def _turn_texts(f: Fields, turn: int) -> dict[str, Any]:
    """The judged turn's user message and both assistant answers."""
    out: dict[str, Any] = {}
    for side in ("a", "b"):
        key = f"conversation_{side}"
        users = f.messages(key, "user", required=False)
        answers = f.messages(key, "assistant", required=False)
        if users is None or answers is None:
            continue
        if len(answers) < turn:
            f.error(f"turn {turn} is judged but the conversation has {len(answers)} assistant message(s)", key)
        out[f"response_{side}"] = answers[turn - 1]
        if len(users) >= turn:
            out.setdefault("prompt", users[turn - 1])
    return out

"""Chatbot Arena battle logs (``clean_battle_*.json``, HF ``chatbot_arena_conversations``).

Fields: ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``, ``tie``,
``tie (bothbad)``), ``judge`` (the *voter's* id: stored in ``voter``, and
``judge="human"``), ``turn``, ``anony``, ``language``, ``tstamp``, ``question_id``
(-> ``prompt_id``), ``conversation_a/b`` (-> ``prompt`` = first user turn,
``response_a/b`` = assistant turns joined by a blank line) and ``conv_metadata``
(Arena's style counts, nested counts summed, as the columns ``length_a/b``,
``headers_a/b``, ``lists_a/b``, ``bold_a/b`` that :mod:`referee.rank.style` reads).  The label
``both_bad`` of newer LMArena releases is mapped to ``tie (bothbad)`` and counted.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.io import _arrow as fa
from referee.io._fields import Fields
from referee.io._source import Parsed, Source
from referee.schema import WINNERS

SYNONYMS = {"both_bad": "tie (bothbad)"}
#: the keys this reader uses
KEYS = frozenset(
    {"model_a", "model_b", "winner", "judge", "question_id", "tstamp", "turn", "anony", "language", "category"}
    | {"conversation_a", "conversation_b", "conv_metadata"}
)
#: ``conv_metadata`` field -> style column read by :mod:`referee.rank.style` (``<feature>_a/_b``)
STYLE = {
    "sum_assistant_a_tokens": "length_a",
    "sum_assistant_b_tokens": "length_b",
    "header_count_a": "headers_a",
    "header_count_b": "headers_b",
    "list_count_a": "lists_a",
    "list_count_b": "lists_b",
    "bold_count_a": "bold_a",
    "bold_count_b": "bold_b",
}
#: keys that mark a Chatbot Arena record (besides model_a/model_b/winner)
MARKERS = frozenset(
    {"anony", "tstamp", "question_id", "conversation_a", "conversation_b", "conv_metadata", "dedup_tag", "category_tag"}
)


def read(src: Source, fast: bool = True, **_: Any) -> Parsed:
    """Read a battle log, vectorised through pyarrow unless ``fast`` is False."""
    if fast and src.kind in ("jsonl", "json_array"):
        try:
            return _read_fast(src)
        except InputError:
            raise
        except fa.FAST_PATH_ERRORS:
            pass
    return _read_records(src)


def _read_fast(src: Source) -> Parsed:
    """Vectorised pass over an arrow table; raises Fallback whenever anything is unexpected."""
    tbl = fa.read_jsonl(src) if src.kind == "jsonl" else fa.from_records(src.records(), KEYS)
    names = set(tbl.column_names)
    if not {"model_a", "model_b", "winner"} <= names:
        raise fa.Fallback("missing column")
    cols: dict[str, Any] = {
        "model_a": fa.text(tbl["model_a"], required=True),
        "model_b": fa.text(tbl["model_b"], required=True),
    }
    cols["winner"], mapped = fa.labels(tbl["winner"], WINNERS, SYNONYMS)
    optional = {
        "judge": ("voter", lambda c: fa.text(c, ids=True)),
        "question_id": ("prompt_id", lambda c: fa.text(c, ids=True)),
        "tstamp": ("tstamp", fa.number),
        "turn": ("turn", lambda c: fa.number(c, integer=True)),
        "anony": ("anony", fa.boolean),
        "language": ("language", fa.text),
        "category": ("category", fa.text),
    }
    for key, (name, convert) in optional.items():
        if key in names:
            cols[name] = convert(tbl[key])
    conv_a = tbl["conversation_a"] if "conversation_a" in names else None
    conv_b = tbl["conversation_b"] if "conversation_b" in names else None
    if conv_a is not None:
        cols["prompt"], cols["response_a"] = fa.chat(conv_a)
    if conv_b is not None:
        prompt_b, cols["response_b"] = fa.chat(conv_b)
        cols.setdefault("prompt", prompt_b)
    if "conv_metadata" in names:
        cols.update(fa.metadata(tbl["conv_metadata"], STYLE))
    frame = pd.DataFrame({k: fa.to_series(v) for k, v in cols.items() if v is not None})
    frame.insert(3, "judge", "human")
    return Parsed(frame, exact=False, mapped=mapped)


def _read_records(src: Source) -> Parsed:
    """Exact pass, record by record, with line numbers and typed field checks."""
    rows = []
    mapped = 0
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        winner = f.text("winner")
        if winner in SYNONYMS:
            winner = SYNONYMS[winner]
            mapped += 1
        row: dict[str, Any] = {
            "_line": line,
            "model_a": f.text("model_a"),
            "model_b": f.text("model_b"),
            "winner": winner,
            "judge": "human",
            "voter": f.ident("judge", required=False),
            "prompt_id": f.ident("question_id", required=False),
            "tstamp": f.number("tstamp", required=False),
            "turn": f.integer("turn", required=False),
            "anony": f.boolean("anony", required=False),
            "language": f.text("language", required=False),
            "category": f.text("category", required=False),
        }
        row.update(_conversation(f))
        row.update(fa.metadata_py(rec.get("conv_metadata"), STYLE))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.drop(columns=[c for c in frame.columns if c != "judge" and frame[c].isna().all()])
    return Parsed(frame, mapped={"both_bad -> tie (bothbad)": mapped} if mapped else {})


def _conversation(f: Fields) -> dict[str, Any]:
    """prompt (first user turn) and response_a/b (assistant turns) of the two conversations."""
    out: dict[str, Any] = {}
    for side in ("a", "b"):
        key = f"conversation_{side}"
        if key not in f.rec:
            continue
        users = f.messages(key, "user", required=False)
        answers = f.messages(key, "assistant", required=False)
        if users is None or answers is None:
            out[f"response_{side}"] = None
            continue
        if users and "prompt" not in out:
            out["prompt"] = users[0]
        out[f"response_{side}"] = "\n\n".join(answers)
    return out

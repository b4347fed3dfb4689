"""Model outputs (what ``referee judge`` compares and ``referee score`` scores): one table
``prompt_id, prompt, model, response``.

Formats (recognised per file from the first record's keys):

* AlpacaEval ``model_outputs.json[.xz]``: ``instruction``, ``output``, ``generator``;
  ``prompt_id`` is the same short hash of the instruction the AlpacaEval annotations
  reader uses (:func:`referee.io.alpaca_eval.instruction_id`), so judged and published
  verdicts line up.
* Arena-Hard ``model_answer/*.jsonl[.gz]``: ``uid`` (or ``question_id``), ``model`` and
  ``messages`` (the first user message is the prompt, the assistant message after it the
  response; ``{"answer": ...}`` contents are unwrapped).
* FastChat / Arena-Hard v1 answers: ``question_id``, ``model_id`` (or ``model``) and
  ``choices[0].turns``; the prompt text comes from ``question.jsonl[.gz]`` (found beside the
  ``model_answer`` folder, or passed as ``questions=``).  Only the first turn is judged.
* Generic JSONL / JSON / CSV / Parquet: ``model``, ``response`` and ``prompt`` and/or
  ``prompt_id`` (a missing ``prompt_id`` is the hash of the prompt).

References (for reference-guided templates) come in the same formats (one model per file),
or as a table with ``prompt_id`` (or ``prompt``) and ``reference``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from referee.errors import InputError
from referee.io.alpaca_eval import instruction_id
from referee.io.fields import Fields, type_and_value
from referee.io.source import Source, expand_paths

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("prompt_id", "prompt", "model", "response")
QUESTION_FILES = ("question.jsonl", "question.jsonl.gz", "questions.jsonl", "questions.jsonl.gz")


# -- paths ----------------------------------------------------------------------------------------
def expand(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Output files from paths, glob patterns and directories (see :func:`referee.io.source.expand_paths`)."""
    return expand_paths(paths, what="output", field="outputs")


# -- outputs --------------------------------------------------------------------------------------
def load_outputs(
    paths: str | Path | Iterable[str | Path], *, questions: str | Path | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Model outputs as records ``{prompt_id, prompt, model, response}`` plus attrs (no pandas needed).

    Raises :class:`InputError` naming file, line and field for bad records, for a model that
    answers the same prompt twice, and for answers whose prompt text cannot be found.
    attrs: ``formats`` (file -> format) and ``notes`` (adjustments made).
    """
    rows: list[dict[str, Any]] = []
    formats: dict[str, str] = {}
    notes: list[str] = []
    qcache: dict[Path, dict[str, str]] = {}
    seen: dict[tuple[str, str], str] = {}
    for path in expand(paths):
        fmt, recs, note = _read_file(path, questions, qcache, need_prompt=True)
        formats[str(path)] = fmt
        if note:
            notes.append(note)
        empty = 0
        for line, rec in recs:
            if rec["response"] is None:  # no output: missing, like an absent record
                empty += 1
                continue
            key = (rec["prompt_id"], rec["model"])
            if key in seen:
                raise InputError(
                    f"model {rec['model']!r} answers prompt {rec['prompt_id']!r} twice (first in {seen[key]})",
                    path=str(path),
                    line=line,
                )
            seen[key] = f"{path}, line {line}"
            rows.append(rec)
        if empty:
            notes.append(f"{path}: {empty} records without a response (treated as missing outputs)")
    if not rows:
        raise InputError("no model outputs found", field="outputs")
    return rows, {"formats": formats, "notes": notes}


def read_outputs(paths: str | Path | Iterable[str | Path], *, questions: str | Path | None = None) -> pd.DataFrame:
    """Read model outputs into a DataFrame ``prompt_id, prompt, model, response`` (see :func:`load_outputs`)."""
    import pandas as pd

    rows, attrs = load_outputs(paths, questions=questions)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs.update(attrs)
    return df


def load_references(paths: str | Path | Iterable[str | Path], *, questions: str | Path | None = None) -> dict[str, str]:
    """Reference answers: prompt_id -> reference (the first one wins)."""
    out: dict[str, str] = {}
    qcache: dict[Path, dict[str, str]] = {}
    for path in expand(paths):
        _, recs, _ = _read_file(path, questions, qcache, need_prompt=False, reference=True)
        models = {r["model"] for _, r in recs if r.get("model")}
        if len(models) > 1:
            shown = ", ".join(sorted(models)[:5])
            raise InputError(f"a references file must hold one model's answers; found {len(models)}: {shown}", path=str(path))
        for _, rec in recs:
            if rec["response"] is not None:
                out.setdefault(rec["prompt_id"], rec["response"])
    return out


def read_references(paths: str | Path | Iterable[str | Path], *, questions: str | Path | None = None) -> pd.DataFrame:
    """Reference answers as a DataFrame ``prompt_id, reference``."""
    import pandas as pd

    refs = load_references(paths, questions=questions)
    return pd.DataFrame({"prompt_id": list(refs), "reference": list(refs.values())})


def _read_file(
    path: Path,
    questions: str | Path | None,
    qcache: dict[Path, dict[str, str]],
    *,
    need_prompt: bool,
    reference: bool = False,
) -> tuple[str, list[tuple[int, dict[str, Any]]], str | None]:
    """(format, [(line, record)], note) for one file."""
    src = Source(path)
    if src.kind in ("csv", "parquet"):
        return "generic", _generic(table_records(src), src.name, need_prompt, reference), None
    recs = src.records()
    keys = set(recs[0][1])
    name = src.name
    if {"instruction", "output"} <= keys:
        return "alpaca_eval", [_alpaca(Fields(r, name, ln)) for ln, r in recs], None
    if "messages" in keys:
        return "arena_hard", [_messages(Fields(r, name, ln)) for ln, r in recs], None
    if "choices" in keys:
        qs = _questions(path, questions, qcache) if need_prompt else None
        if need_prompt and qs is None:
            raise InputError(
                "answers without prompt text and no question.jsonl beside the model_answer folder; "
                "pass the questions file (`questions`)",
                path=name,
            )
        out, multi = [], 0
        for ln, r in recs:
            row, more = _choices(Fields(r, name, ln), qs)
            out.append((ln, row))
            multi += more
        note = f"{name}: {multi} multi-turn answers, first turn judged" if multi else None
        return "fastchat_answers", out, note
    if "response" in keys or (reference and "reference" in keys):
        return "generic", _generic(recs, name, need_prompt, reference), None
    shown = ", ".join(sorted(map(str, keys))[:15])
    raise InputError(
        f"unrecognised model outputs: the first record has keys {shown}; expected AlpacaEval "
        "(instruction, output, generator), Arena-Hard answers (uid, model, messages), FastChat answers "
        "(question_id, model_id, choices) or generic (prompt_id, prompt, model, response)",
        path=name,
    )


def _alpaca(f: Fields) -> tuple[int, dict[str, Any]]:
    instruction = f.text("instruction")
    model = f.text("generator")
    assert instruction is not None  # required fields: Fields.text raised InputError otherwise
    return f.line, {
        "prompt_id": instruction_id(instruction),
        "prompt": instruction,
        "model": model,
        "response": _response(f, f.rec.get("output")),
    }


def _response(f: Fields, value: Any, key: str = "output") -> str | None:
    """The response text (``{"answer": ...}`` unwrapped); None when the record has none (a missing output)."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return str(value["answer"])
    if not isinstance(value, str):
        f.error(f"wrong type: expected the response text, got {type_and_value(value)}", key)
    return value


def _messages(f: Fields) -> tuple[int, dict[str, Any]]:
    qid = f.ident("uid", required=False) or f.ident("question_id", required=False)
    if qid is None:
        f.error("missing required field (Arena-Hard answers have 'uid' or 'question_id')", "uid")
    model = f.text("model", required=False) or f.text("model_id")
    msgs = f.raw("messages")
    if not isinstance(msgs, list):
        f.error(f"expected a list of messages, got {type_and_value(msgs)}", "messages")
    user = next((i for i, m in enumerate(msgs) if isinstance(m, dict) and m.get("role") == "user"), None)
    if user is None:
        f.error("no user message", "messages")
    reply = next((m for m in msgs[user + 1 :] if isinstance(m, dict) and m.get("role") == "assistant"), None)
    if reply is None:
        f.error("no assistant message after the user message", "messages")
    prompt = _response(f, msgs[user].get("content"), "messages")
    return f.line, {"prompt_id": qid, "prompt": prompt, "model": model, "response": _response(f, reply.get("content"), "messages")}


def _choices(f: Fields, questions: dict[str, str] | None) -> tuple[dict[str, Any], int]:
    qid = f.ident("question_id", required=False) or f.ident("uid")
    assert qid is not None  # required: Fields.ident raised InputError otherwise
    model = f.text("model_id", required=False) or f.text("model")
    choices = f.raw("choices")
    turns = choices[0].get("turns") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if not isinstance(turns, list) or not turns:
        f.error(f"expected choices[0].turns (a list of responses), got {type_and_value(choices)}", "choices")
    prompt = None
    if questions is not None:
        prompt = questions.get(qid)
        if prompt is None:
            f.error(f"question {qid!r} is not in the questions file", "question_id")
    return {"prompt_id": qid, "prompt": prompt, "model": model, "response": _response(f, turns[0], "choices")}, int(len(turns) > 1)


def _questions(path: Path, given: str | Path | None, qcache: dict[Path, dict[str, str]]) -> dict[str, str] | None:
    """question id -> first-turn prompt text, from ``given`` or a question file near ``path``."""
    if given is not None:
        qpath: Path | None = Path(given)
    else:
        qpath = next(
            (d / n for d in (path.parent.parent, path.parent) for n in QUESTION_FILES if (d / n).is_file()), None
        )
    if qpath is None:
        return None
    if qpath not in qcache:
        src = Source(qpath)
        table: dict[str, str] = {}
        for ln, rec in src.records():
            f = Fields(rec, src.name, ln)
            qid = f.ident("question_id", required=False) or f.ident("uid")
            assert qid is not None  # required: Fields.ident raised InputError otherwise
            if "turns" in rec:
                turns = f.raw("turns")
                if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
                    f.error(f"expected a list of prompt strings, got {type_and_value(turns)}", "turns")
                table[qid] = turns[0]
            else:
                prompt = f.text("prompt")
                assert prompt is not None  # required fields: Fields.text raised InputError otherwise
                table[qid] = prompt
        qcache[qpath] = table
    return qcache[qpath]


def table_records(src: Source) -> list[tuple[int, dict[str, Any]]]:
    """Records of a CSV/TSV (all strings) or Parquet file, with their line / row numbers."""
    import pandas as pd

    try:
        if src.kind == "parquet":
            df = pd.read_parquet(src.path)
            first = 1
        else:
            import io

            df = pd.read_csv(io.StringIO(src.text), sep="\t" if src.suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
            first = 2  # line 1 is the header
    except (ValueError, OSError) as err:
        raise InputError(f"cannot read table: {err}", path=src.name) from None
    # column names are strings: a CSV header's cells, or Parquet's (which stores names as strings)
    records = cast(list[dict[str, Any]], df.to_dict("records"))
    return [(i + first, rec) for i, rec in enumerate(records)]


def _generic(recs: list[tuple[int, dict[str, Any]]], name: str, need_prompt: bool, reference: bool) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for ln, rec in recs:
        f = Fields(rec, name, ln)
        prompt = f.text("prompt", required=False)
        pid = f.ident("prompt_id", required=False) or None
        if pid is None:
            if not prompt:
                f.error("missing required field: each record needs prompt_id or prompt", "prompt_id")
            pid = instruction_id(prompt)
        if need_prompt and prompt is None:
            f.error("missing required field: the prompt text is needed to judge", "prompt")
        key = "reference" if reference and f.has("reference") else "response"
        model = f.text("model", required=not reference)
        if key not in rec:
            f.error("missing required field", key)
        out.append((ln, {"prompt_id": pid, "prompt": prompt, "model": model, "response": _response(f, rec[key], key)}))
    return out


__all__ = [
    "COLUMNS",
    "QUESTION_FILES",
    "expand",
    "load_outputs",
    "load_references",
    "read_outputs",
    "read_references",
    "table_records",
]

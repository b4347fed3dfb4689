"""Chosen/rejected preference pairs as gold comparisons: TRL, HH-RLHF, HHH, RM-Bench, EvalBiasBench.

Every pair becomes one gold row (``judge="gold"``) whose ``winner`` is the chosen response's
side.  Which side the chosen response is shown on is a seeded coin flip per pair (SHA-256 of
seed 0, the prompt and both texts: reproducible, about half and half, independent of the row
order), so a judge run on these pairs is not confounded by position; the side is recorded
in ``model_a`` / ``model_b``, which name the *responses* (``chosen`` / ``rejected``).  These
tables are the ``--gold`` of an audit (``referee audit scores.jsonl --gold pairs.jsonl --kind
reward-model``).  ``prompt_id`` is the 12-hex hash of the prompt (the bootstrap cluster).
``chosen`` / ``rejected`` are unique per pair, not per prompt (HHH has several pairs per
instruction), so scores should name their response by text (``response``); RM-Bench's
``chosen_<style>`` / ``rejected_<style>`` are unique per prompt, and scoring by these names
keeps all nine cells even where two styles share one text.

Accepted records:

* TRL style ``{prompt, chosen, rejected}`` (``instruction`` or ``question`` for the prompt); the
  texts may be strings or chat messages (``[{role, content}]``: the assistant turns are the
  response, and a missing prompt is the messages the two conversations share).
* HH-RLHF ``{chosen, rejected}`` dialogues ``"\\n\\nHuman: ... \\n\\nAssistant: ..."``: the prompt is
  the common prefix up to (and including) the last ``"\\n\\nAssistant:"``, the responses the rest.
* ``category`` / ``source`` / ``subset`` fields give ``category`` (HHH: helpful, honest,
  harmless, other).
* RM-Bench ``{id, subset, prompt, chosen: [3], rejected: [3]}`` (styles concise, detailed,
  detailed markdown) -> the 9 comparisons ``chosen_<style>`` vs ``rejected_<style>``, with
  ``category`` = the RM-Bench difficulty: ``easy`` (the chosen response has the richer style),
  ``normal`` (same style), ``hard`` (the rejected one is richer); ``domain`` = the file's
  domain (``chat``, ``code``, ``safety-refuse``, ...) and ``subset`` are kept.
* EvalBiasBench: a JSON object ``{bias type: [{bias, instruction, response1, response2,
  label}]}`` (or such records) -> ``chosen`` = the ``label``-th response, ``category`` = the bias.

A pair whose chosen and rejected texts are identical cannot be judged: it is dropped and
counted in ``attrs["dropped"]["identical_responses"]``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, NoReturn

import pandas as pd

from referee.errors import InputError
from referee.io.fields import Fields, type_and_value
from referee.io.gold import GOLD, text_id
from referee.io.source import Parsed, Source

SEED = 0
ASSISTANT = "\n\nAssistant:"
PROMPT_KEYS = ("prompt", "instruction", "question")
CATEGORY_KEYS = ("category", "source", "subset", "bias")
STYLES = ("concise", "detailed", "markdown")  # RM-Bench's order: concise, detailed plain, detailed markdown
BIAS_KEYS = frozenset({"instruction", "response1", "response2", "label"})


def chosen_first(prompt: str, chosen: str, rejected: str, seed: int = SEED) -> bool:
    """Is the chosen response shown first?  A seeded coin flip per pair."""
    h = hashlib.sha256()
    for part in (str(seed), prompt, chosen, rejected):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.digest()[0] & 1 == 0


def difficulty(i: int, j: int) -> str:
    """RM-Bench cell of chosen style ``i`` vs rejected style ``j`` (0 concise < 1 detailed < 2 markdown)."""
    return "easy" if i > j else "normal" if i == j else "hard"


class _Located(Fields):
    """Fields of a record inside a JSON object (no text line): errors name the group and record."""

    def __init__(self, rec: dict[str, Any], path: str, group: str, k: int) -> None:
        super().__init__(rec, path, k)
        self.where = f" (record {k} of {group!r})"

    def error(self, message: str, field: str | None = None) -> NoReturn:
        raise InputError(message + self.where, path=self.path, field=field)


def records(src: Source) -> list[tuple[Fields, str | None]]:
    """(fields, group) per record: JSON Lines / arrays, or EvalBiasBench's ``{group: [records]}`` object."""
    obj = whole_object(src)
    if obj is None:
        return [(Fields(rec, src.name, line), None) for line, rec in src.records()]
    out: list[tuple[Fields, str | None]] = []
    for group, recs in obj.items():
        if not isinstance(recs, list):
            raise InputError(f"expected a list of pairs under {group!r}, got {type_and_value(recs)}", path=src.name)
        for rec in recs:
            if not isinstance(rec, dict):
                raise InputError(f"expected a JSON object per pair under {group!r}, got {type_and_value(rec)}",
                                 path=src.name)
            out.append((_Located(rec, src.name, group, len(out) + 1), group))
    if not out:
        raise InputError("empty file: no pairs found", path=src.name)
    return out


def whole_object(src: Source) -> dict[str, Any] | None:
    """The file as one JSON object of lists of records (EvalBiasBench), else None (JSON Lines or array)."""
    if src.kind != "jsonl":
        return None
    text = src.text.strip()
    first = text.split("\n", 1)[0]
    if first != text:  # several lines: JSON Lines unless the first line is not a whole value
        try:
            json.loads(first)
            return None
        except ValueError:
            pass
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if (isinstance(obj, dict) and obj and not obj.keys() & {"chosen", "rejected", *PROMPT_KEYS}
            and all(isinstance(v, list) for v in obj.values())):
        return obj
    return None


def read(src: Source, **_: Any) -> Parsed:
    """Read chosen/rejected pairs into gold rows (one per pair; nine per RM-Bench prompt)."""
    rows: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    domain = _domain(src)
    for f, group in records(src):
        for prompt, chosen, rejected, extra in _pairs(f, group, domain):
            if chosen == rejected:
                dropped["identical_responses"] += 1
                continue
            first = chosen_first(prompt, chosen, rejected)
            names = extra.pop("name_chosen", "chosen"), extra.pop("name_rejected", "rejected")
            rows.append({
                "_line": f.line,
                "model_a": names[0] if first else names[1],
                "model_b": names[1] if first else names[0],
                "winner": "model_a" if first else "model_b",
                "judge": GOLD,
                "prompt": prompt,
                "prompt_id": text_id(prompt),
                "response_a": chosen if first else rejected,
                "response_b": rejected if first else chosen,
            } | extra)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.drop(columns=[c for c in frame.columns if frame[c].isna().all()])
    return Parsed(frame, dropped=dict(dropped))


def _domain(src: Source) -> str:
    """RM-Bench's domain from the file name (``chat_filtered.json.gz`` -> ``chat``)."""
    return src.path.name.split(".")[0].removesuffix("_filtered")


def _category(f: Fields, group: str | None) -> str | None:
    for key in CATEGORY_KEYS:
        value = f.rec.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return group


def _pairs(f: Fields, group: str | None, domain: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(prompt, chosen, rejected, extra columns) of one record."""
    rec = f.rec
    if set(rec) >= BIAS_KEYS and "chosen" not in rec:
        return [_bias_pair(f, group)]
    f.raw("chosen")
    f.raw("rejected")
    chosen, rejected = rec["chosen"], rec["rejected"]
    if _texts(chosen) and _texts(rejected):
        return _rm_bench(f, chosen, rejected, domain)
    prompt, c, r = _split(f, chosen, rejected)
    return [(prompt, c, r, {"category": _category(f, group)})]


def _texts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _prompt(f: Fields) -> str | None:
    for key in PROMPT_KEYS:
        if key in f.rec and f.rec[key] is not None:
            value = f.rec[key]
            if isinstance(value, list):
                return "\n\n".join(f.messages(key, "user") or [])
            return f.text(key)
    return None


def _split(f: Fields, chosen: Any, rejected: Any) -> tuple[str, str, str]:
    """Prompt and the two responses of a TRL / HH-RLHF record."""
    prompt = _prompt(f)
    if isinstance(chosen, list) or isinstance(rejected, list):
        return _split_messages(f, prompt)
    c, r = f.text("chosen"), f.text("rejected")
    assert c is not None and r is not None  # required fields: Fields.text raised InputError otherwise
    if prompt is not None:
        return prompt, c, r
    common = _common_prefix(c, r)
    cut = common.rfind(ASSISTANT)
    if cut < 0:
        f.error("missing required field (no prompt, and chosen/rejected are not HH-RLHF dialogues "
                "'\\n\\nHuman: ... \\n\\nAssistant: ...')", "prompt")
    end = cut + len(ASSISTANT)
    return c[:end], c[end:].strip(), r[end:].strip()


def _common_prefix(a: str, b: str) -> str:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return a[:i]


def _split_messages(f: Fields, prompt: str | None) -> tuple[str, str, str]:
    """Chat-message pairs: responses are the assistant turns after the shared messages."""
    conv = {}
    for key in ("chosen", "rejected"):
        f.messages(key, "assistant")  # validates the message list
        conv[key] = [(m["role"], f._content(m.get("content"), key)) for m in f.rec[key]]
    shared = 0
    while (shared < min(len(conv["chosen"]), len(conv["rejected"]))
           and conv["chosen"][shared] == conv["rejected"][shared]):
        shared += 1
    if prompt is None:
        prompt = "\n\n".join(text for role, text in conv["chosen"][:shared] if role == "user")
        if not prompt:
            f.error("missing required field (no prompt, and the conversations share no user message)", "prompt")
    else:
        shared = 0 if all(role == "assistant" for role, _ in conv["chosen"]) else shared

    def answer(key: str) -> str:
        return "\n\n".join(text for role, text in conv[key][shared:] if role == "assistant")

    return prompt, answer("chosen"), answer("rejected")


def _rm_bench(f: Fields, chosen: list[str], rejected: list[str], domain: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """RM-Bench: every chosen style against every rejected style."""
    prompt = _prompt(f)
    if prompt is None:
        f.error("missing required field", "prompt")
    styled = len(chosen) == len(rejected) == len(STYLES)
    names = STYLES if styled else tuple(str(i + 1) for i in range(max(len(chosen), len(rejected))))
    subset = f.rec.get("subset") if isinstance(f.rec.get("subset"), str) else None
    out = []
    for i, c in enumerate(chosen):
        for j, r in enumerate(rejected):
            extra = {
                "name_chosen": f"chosen_{names[i]}",
                "name_rejected": f"rejected_{names[j]}",
                "category": difficulty(i, j) if styled else subset,
                "domain": domain,
                "subset": subset,
            }
            out.append((prompt, c, r, extra))
    return out


def _bias_pair(f: Fields, group: str | None) -> tuple[str, str, str, dict[str, Any]]:
    """EvalBiasBench: ``label`` (1 or 2) names the better response."""
    prompt = f.text("instruction")
    r1, r2 = f.text("response1"), f.text("response2")
    assert prompt is not None and r1 is not None and r2 is not None  # required fields: Fields.text raised InputError otherwise
    label = f.raw("label")
    if label not in (1, 2, "1", "2") or isinstance(label, bool):
        f.error(f"unknown label {type_and_value(label)}; expected 1 or 2 (the better response)", "label")
    better = int(label)
    chosen, rejected = (r1, r2) if better == 1 else (r2, r1)
    return prompt, chosen, rejected, {"category": _category(f, group)}

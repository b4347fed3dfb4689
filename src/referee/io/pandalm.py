"""PandaLM (Wang et al., ICLR 2024) human-annotated test set and the judges' verdicts on it.

* ``testset-v1.json`` — ``{idx, motivation_app, cmp_key, instruction, input, response1,
  response2, annotator1, annotator2, annotator3}`` -> three gold rows per pair
  (``judge="gold"``, ``voter="annotator1".."annotator3"``; label 1 -> ``model_a``, 2 ->
  ``model_b``, 0 -> ``tie``).  ``cmp_key`` names the two models (``opt-7b_pythia-6.9b``:
  response 1 is opt-7b's), which become ``model_a`` / ``model_b``.
* ``<judge>-testset-v1.json`` — ``{idx, <x>_result, ...}`` joined by ``idx`` with the test set
  (found beside the file as ``testset-v1.json[.gz]``) -> one verdict row per pair in the test
  set's order (``order`` 1), ``judge`` = the file name without ``-testset-v1``
  (``gpt-3.5-turbo``, ``pandalm-7b``).  Results ``1``/``2`` -> ``model_a``/``model_b``,
  ``0``/``Tie`` -> ``tie``; ``garbage`` (GPT-3.5's unparsable answers) is dropped and counted
  in ``attrs["dropped"]["unparsed_verdict"]``.

``prompt`` is the instruction followed by the input (when there is one); ``category`` the
``motivation_app``; ``pair_id`` ``pandalm#<idx>``; ``prompt_id`` the 12-hex hash of the prompt.
Six responses of the release are JSON booleans (models that answered "True"); they are read
as the texts ``"True"`` / ``"False"``.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.io.fields import Fields, type_and_value
from referee.io.gold import GOLD, companion, text_id
from referee.io.source import Parsed, Source

KEYS = frozenset({"idx", "cmp_key", "instruction", "response1", "response2"})
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
LABELS = {"1": "model_a", "2": "model_b", "0": "tie", "tie": "tie"}
GARBAGE = frozenset({"garbage"})
TEST_FILES = ("testset-v1.json.gz", "testset-v1.json")


def result_key(rec: dict[str, Any]) -> str | None:
    """The verdict field of a PandaLM result record (``gpt_result``, ``pandalm_result``)."""
    keys = [k for k in rec if isinstance(k, str) and k.endswith("_result")]
    return keys[0] if len(keys) == 1 else None


def judge_name(src: Source) -> str:
    """``gpt-3.5-turbo`` from ``gpt-3.5-turbo-testset-v1.json``."""
    name = src.path.name.split(".json")[0]
    return re.sub(r"[-_]?testset[-_]?v\d+$", "", name) or name


def read(src: Source, **_: Any) -> Parsed:
    """Read the PandaLM test set (three gold rows per pair) or a judge's results (one verdict per pair)."""
    if result_key(src.first_record()) is not None:
        return _verdicts(src)
    rows = []
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        item = _item(f)
        for voter in ANNOTATORS:
            rows.append(item | {"_line": line, "winner": _label(f, voter), "judge": GOLD, "voter": voter})
    return Parsed(pd.DataFrame(rows))


def _item(f: Fields) -> dict[str, Any]:
    """The pair's columns shared by gold and verdict rows."""
    idx = f.ident("idx")
    instruction = f.text("instruction")
    assert instruction is not None  # required fields: Fields.text raised InputError otherwise
    extra = f.text("input", required=False)
    prompt = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
    models = (f.text("cmp_key", required=False) or "").split("_")
    ma, mb = models if len(models) == 2 and all(models) and models[0] != models[1] else ("response1", "response2")
    return {
        "model_a": ma,
        "model_b": mb,
        "prompt": prompt,
        "prompt_id": text_id(prompt),
        "pair_id": f"pandalm#{idx}",
        "category": f.text("motivation_app", required=False),
        "response_a": _response(f, "response1"),
        "response_b": _response(f, "response2"),
    }


def _response(f: Fields, key: str) -> str:
    """A response text; a few are stored as JSON booleans (a model that answered ``True``) -> ``"True"``."""
    value = f.raw(key)
    if isinstance(value, bool):
        return str(value)
    text = f.text(key)
    assert text is not None  # required fields: Fields.text raised InputError otherwise
    return text


def _label(f: Fields, key: str, garbage_ok: bool = False) -> str | None:
    """Winner of a label (1/2/0, or "1"/"2"/"Tie"); None for a judge's ``garbage``."""
    value = f.raw(key)
    text = str(value).strip().lower() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text in LABELS:
        return LABELS[text]
    if garbage_ok and text in GARBAGE:
        return None
    f.error(f"unknown label {type_and_value(value)}; expected 1 (response 1 better), 2 (response 2 better) or 0/Tie", key)


def _verdicts(src: Source) -> Parsed:
    test = companion(src.path, TEST_FILES, "the PandaLM test set", src)
    items: dict[str, dict[str, Any]] = {}
    for line, rec in test.records():
        f = Fields(rec, test.name, line)
        idx = f.ident("idx")
        assert idx is not None  # required: Fields.ident raised InputError otherwise
        items[idx] = _item(f)
    judge = judge_name(src)
    rows = []
    garbage = 0
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        key = result_key(rec)
        if key is None:
            f.error("expected exactly one '<judge>_result' field", "result")
        idx = f.ident("idx")
        if idx not in items:
            f.error(f"idx {idx} is not in the test set {test.name}", "idx")
        winner = _label(f, key, garbage_ok=True)
        if winner is None:
            garbage += 1
            continue
        rows.append(items[idx] | {"_line": line, "winner": winner, "judge": judge, "order": 1})
    if not rows and not garbage:
        raise InputError("no verdicts found", path=src.name)
    dropped = {"unparsed_verdict": garbage} if garbage else {}
    return Parsed(pd.DataFrame(rows), dropped=dropped)

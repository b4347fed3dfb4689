"""LLMBar (Zeng et al., ICLR 2024): instruction-following pairs with gold labels, and judge outputs.

Layout: ``Dataset/<set>/<subset>/dataset.json`` and, beside it,
``evaluators/<LLM>/<strategy>/result.json[.gz]`` (plus ``statistics.json``, skipped when a folder
is read).  Reading a subset folder gives its gold rows and every evaluator's verdicts.

* ``dataset.json`` — records ``{input, output_1, output_2, label}`` -> one gold row each
  (``judge="gold"``, ``model_a="output_1"``, ``model_b="output_2"``, label 1 -> ``model_a``,
  2 -> ``model_b``).
* ``result.json`` — the same fields plus ``results``, a list whose **last** element holds
  ``{"swap = False": {"winner": ...}, "swap = True": {"winner": ...}}`` (earlier elements are
  intermediate steps: generated metrics, references, the Swap strategies' first pass).  Each
  instance was judged in both orders; the stored ``winner`` ("1"/"2") is already mapped back
  to the original order.  -> two verdict rows, ``judge="<LLM>/<strategy>"``: order 1 as in the
  dataset, order 2 shown swapped (``model_a="output_2"``, winner mapped into the shown frame).
* A null ``winner`` (the judge's answer could not be parsed) becomes ``tie`` and is counted in
  ``attrs["mapped"]`` as ``unparsed verdict -> tie``: LLMBar's ``statistics.json`` treats it as a
  third outcome that is never correct and equals itself in ``equal``, which is exactly a tie
  against gold labels without ties.  The audit then reproduces ``correct_False`` /
  ``correct_True`` / ``equal`` as ``accuracy_order1`` / ``accuracy_order2`` /
  ``position_consistency``.

Ids: ``category`` is the subset path under ``Dataset/`` (``LLMBar/Natural``,
``LLMBar/Adversarial/Neighbor``, ``Processed/MT-Bench``, ...; else the subset folder's name);
``prompt_id`` is the 12-hex hash of the instruction; ``pair_id`` is ``<category>#<hash of
(input, output_1, output_2)>``, shared by the gold row and both verdicts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from referee.io.fields import Fields, type_and_value
from referee.io.gold import GOLD, content_id, shown, text_id
from referee.io.source import Parsed, Source

KEYS = frozenset({"input", "output_1", "output_2", "label"})
LABELS = {1: "model_a", 2: "model_b"}
ORDERS = (("swap = False", 1), ("swap = True", 2))
UNPARSED = "unparsed verdict -> tie"


def category(path: Path) -> str:
    """Subset path of a dataset or result file (``LLMBar/Adversarial/Neighbor``)."""
    parts = path.parent.parts
    if "evaluators" in parts:
        parts = parts[: len(parts) - 1 - parts[::-1].index("evaluators")]
    if "Dataset" in parts:
        tail = parts[len(parts) - parts[::-1].index("Dataset") :]
        if tail:
            return "/".join(tail)
    return parts[-1] if parts else "LLMBar"


def judge_name(path: Path) -> str:
    """``<LLM>/<strategy>`` from ``evaluators/<LLM>/<strategy>/result.json``, else the folder name."""
    parts = path.parent.parts
    if len(parts) >= 3 and parts[-3] == "evaluators":
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1] if parts else path.stem


def read(src: Source, **_: Any) -> Parsed:
    """Read a ``dataset.json`` (gold rows) or a ``result.json`` (verdict rows in both orders)."""
    cat = category(src.path)
    judge = judge_name(src.path)
    rows: list[dict[str, Any]] = []
    mapped: Counter[str] = Counter()
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        prompt, o1, o2 = f.text("input"), f.text("output_1"), f.text("output_2")
        assert prompt is not None  # required fields: Fields.text raised InputError otherwise
        label = _label(f)
        base = {
            "_line": line,
            "prompt": prompt,
            "prompt_id": text_id(prompt),
            "pair_id": f"{cat}#{content_id(prompt, o1, o2)}",
            "category": cat,
        }
        if "results" not in rec:
            rows.append(base | {"model_a": "output_1", "model_b": "output_2", "winner": LABELS[label],
                                "judge": GOLD, "response_a": o1, "response_b": o2})
            continue
        for order, winner in _verdicts(f, mapped):
            swapped = order == 2
            rows.append(base | {
                "model_a": "output_2" if swapped else "output_1",
                "model_b": "output_1" if swapped else "output_2",
                "winner": shown(winner, swapped),
                "judge": judge,
                "response_a": o2 if swapped else o1,
                "response_b": o1 if swapped else o2,
                "order": order,
            })
    return Parsed(pd.DataFrame(rows), mapped=dict(mapped))


def _label(f: Fields) -> int:
    value = f.raw("label")
    if isinstance(value, str) and value.strip() in ("1", "2"):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in LABELS:
        return value
    f.error(f"unknown label {type_and_value(value)}; expected 1 (output_1 is better) or 2 (output_2 is better)", "label")


def _verdicts(f: Fields, mapped: Counter[str]) -> list[tuple[int, str]]:
    """(order, winner in the original frame) for each presentation order in the last result."""
    results = f.raw("results")
    if not isinstance(results, list) or not results or not isinstance(results[-1], dict):
        f.error(f"expected a non-empty list whose last element holds the verdicts, got {type_and_value(results)}", "results")
    last = results[-1]
    out = []
    for key, order in ORDERS:
        game = last.get(key)
        if game is None:
            continue
        if not isinstance(game, dict) or "winner" not in game:
            f.error(f"expected {{'winner': '1' | '2' | null}} under {key!r}, got {type_and_value(game)}", "results")
        value = game["winner"]
        if value is None:
            mapped[UNPARSED] += 1
            out.append((order, "tie"))
        elif str(value).strip() in ("1", "2") and not isinstance(value, bool):
            out.append((order, LABELS[int(str(value).strip())]))
        else:
            f.error(f"unknown winner {type_and_value(value)} under {key!r}; expected '1', '2' or null", "results")
    if not out:
        f.error("the last element of 'results' holds no verdict ('swap = False' / 'swap = True')", "results")
    return out

"""``referee.judge``: LLM-as-a-judge runs on any OpenAI-compatible endpoint or the embedded local model.

>>> result = judge("outputs/*.json", baseline="gpt4_1106_preview",
...                judge_spec=JudgeSpec(url="http://localhost:8000/v1", model="m"))   # doctest: +SKIP
>>> result.table, result.reconciled, result.usage   # doctest: +SKIP

Submodules load lazily (the CLI must reach its first request fast): :mod:`.run` (``judge``, a
composition of :mod:`.spec`, :mod:`.games`, :mod:`.pipeline`, :mod:`.reconcile` and :mod:`.output`),
:mod:`.inputs`, :mod:`.templates`, :mod:`.parse`, :mod:`.engine`, :mod:`.cache`, :mod:`.http`,
:mod:`.local`, :mod:`.scorer`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["JudgeResult", "JudgeSpec", "judge", "read_outputs", "reconcile_games"]

_LAZY = {
    "judge": "referee.judging.run",
    "JudgeSpec": "referee.judging.spec",
    "JudgeResult": "referee.judging.output",
    "reconcile_games": "referee.judging.reconcile",
    "read_outputs": "referee.judging.inputs",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'referee.judging' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)

"""Shared pieces of the readers of gold-labelled judge benchmarks (LLMBar, JudgeBench, Auto-J, PandaLM, pairs).

Conventions (those of :mod:`referee.auditing`): gold rows have ``judge == "gold"`` (one row per
annotator vote, the annotator in ``voter``); verdict rows have the evaluator as ``judge``.
Responses are named by stable side names shared by gold and verdicts (``output_1`` /
``output_2``, ``chosen`` / ``rejected``); ``model_a`` / ``model_b`` are in the order *shown*, so
a verdict shown swapped has ``model_a = "output_2"`` and its ``winner`` in that shown frame.
The two presentation orders of one pair share ``pair_id``; ``order`` is 1 for the benchmark's
original order and 2 for the swapped one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from referee.errors import InputError
from referee.io.source import Source
from referee.schema import SWAP_WINNER

GOLD = "gold"


def text_id(text: str) -> str:
    """Short stable id of a prompt text: the first 12 hex digits of its SHA-256 (as AlpacaEval's reader)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def content_id(*parts: object) -> str:
    """Stable id of an item from its parts (texts, labels): 16 hex digits of a SHA-256."""
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:16]


def shown(winner: str, swapped: bool) -> str:
    """A winner given in the original frame, expressed in the frame shown to the judge."""
    return SWAP_WINNER[winner] if swapped else winner


def beside(path: Path, names: Iterable[str]) -> Path | None:
    """The first of ``names`` (paths relative to ``path``'s folder) that exists, else None."""
    for name in names:
        candidate = path.parent / name
        if candidate.is_file():
            return candidate
    return None


def companion(path: Path, names: Iterable[str], what: str, src: Source) -> Source:
    """The file a verdict file is joined with (e.g. the test set holding the texts), or an InputError."""
    names = list(names)
    found = beside(path, names)
    if found is None:
        raise InputError(
            f"these verdicts are joined by position with {what}, expected beside it as {' or '.join(names)}",
            path=src.name,
        )
    return Source(found)

"""referee: trustworthy measurements from preference signals.

``referee.read(paths)`` loads comparisons into the canonical table and
``referee.rank(data, ...)`` returns a :class:`~referee.rank.leaderboard.Leaderboard`;
``referee.rank_segments(data, by, ...)`` one per segment (:mod:`referee.rank.segments`).
Heavy modules load lazily so ``import referee`` and the CLI start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "rank", "rank_segments", "read"]

_LAZY = {
    "rank": "referee.rank",
    "rank_segments": "referee.rank.segments:rank_segments",
    "read": "referee.io:read",
    "audit": "referee.audit",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'referee' has no attribute {name!r}")
    mod, _, attr = target.partition(":")
    value = importlib.import_module(mod)
    return getattr(value, attr) if attr else value

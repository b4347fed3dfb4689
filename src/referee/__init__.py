"""referee: trustworthy measurements from preference signals.

The public API is one plain function per CLI command, each with the command's options as
keyword arguments::

    referee.read(paths)                      # the canonical comparisons table (referee.io)
    referee.rank(data, ...)                  # a Leaderboard (referee.ranking)
    referee.rank_segments(data, by, ...)     # one Leaderboard per segment
    referee.judge(outputs, ...)              # a JudgeResult (referee.judging)
    referee.jury(tables, method=...)         # several judges' verdicts, one per pair
    referee.audit(data, ...)                 # an AuditReport (referee.auditing)
    referee.probe(pairs, probes=..., ...)    # a ProbeReport: edits that should not matter (referee.probing)
    referee.score(outputs, scorer, ...)      # reward-model scores (referee.scoring)
    referee.train_rm(pairs, ...)             # a small trainable reward model
    referee.best_of_n(samples, scorer, ...)  # pick the best of N samples per prompt
    referee.export_pairs(data, ...)          # preference pairs for DPO/RM training

Subpackages are named for their domain (``ranking``, ``judging``, ``auditing``, ``scoring``,
``planning``, ``report``, ``io``, ``arena``) and functions for their verbs, so a function and
a subpackage never share a name.  Everything loads lazily, so ``import referee`` and the CLI
start fast; ``__init__.pyi`` gives type checkers and IDEs the real signatures.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> "module:attribute"; loaded on first access
_LAZY = {
    "read": "referee.io:read",
    "rank": "referee.ranking.api:rank",
    "rank_segments": "referee.ranking.segments:rank_segments",
    "Leaderboard": "referee.ranking.leaderboard:Leaderboard",
    "judge": "referee.judging.run:judge",
    "jury": "referee.judging.jury:jury",
    "JudgeSpec": "referee.judging.run:JudgeSpec",
    "JudgeResult": "referee.judging.run:JudgeResult",
    "audit": "referee.auditing.api:audit",
    "AuditReport": "referee.auditing.report:AuditReport",
    "probe": "referee.probing.run:probe",
    "ProbeReport": "referee.probing.report:ProbeReport",
    "score": "referee.scoring.api:score",
    "load_scorer": "referee.scoring.api:load_scorer",
    "train_rm": "referee.scoring.rm:train_rm",
    "best_of_n": "referee.scoring.bestofn:best_of_n",
    "export_pairs": "referee.scoring.export:export_pairs",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'referee' has no attribute {name!r}")
    mod, _, attr = target.partition(":")
    value = getattr(importlib.import_module(mod), attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""Scorers (reward models) behind one interface; see :mod:`referee.scoring.base`.

``load_scorer(spec)``, ``score(outputs, scorer)``, ``train_rm(pairs, ...)``.  Heavy
dependencies (torch, transformers) are imported only when an ``rm:`` / ``hf:`` scorer is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referee.scoring.base import Scorer

if TYPE_CHECKING:  # the lazy names below, typed for type checkers
    from referee.scoring.api import load_scorer, score
    from referee.scoring.rm import TrainReport, train_rm

__all__ = ["Scorer", "TrainReport", "load_scorer", "score", "train_rm"]


def __getattr__(name: str) -> Any:
    if name in ("load_scorer", "score"):
        from referee.scoring import api

        return getattr(api, name)
    if name in ("train_rm", "TrainReport"):
        from referee.scoring import rm

        return getattr(rm, name)
    raise AttributeError(name)

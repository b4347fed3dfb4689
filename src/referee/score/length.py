"""The ``length`` scorer: the response's length, the trivial baseline every reward-model report shows.

``length`` counts characters; ``length:tokens`` counts whitespace-separated tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNITS = ("chars", "tokens")


class LengthScorer:
    """Reward = length of the response (characters, or whitespace tokens)."""

    def __init__(self, unit: str = "chars") -> None:
        if unit not in UNITS:
            from referee.errors import InputError

            raise InputError(f"unknown length unit {unit!r}; expected length or length:tokens", field="scorer")
        self.unit = unit
        self.name = "length" if unit == "chars" else "length:tokens"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        if self.unit == "chars":
            return np.array([len(r or "") for r in responses], dtype=float)
        return np.array([len((r or "").split()) for r in responses], dtype=float)

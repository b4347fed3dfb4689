"""The ``length`` scorer: the response's length, the trivial baseline every reward-model report shows.

``length`` counts characters (Unicode code points); ``length:tokens`` counts
whitespace-separated words — both as :func:`referee.text.text_lengths` defines them, the
one definition style control, the LC win rate and the audit use too.  A missing
response has length 0.
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
        from referee.text import text_lengths

        return text_lengths(list(responses), self.unit).astype(float)

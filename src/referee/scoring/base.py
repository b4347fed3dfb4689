"""Scorers: anything that gives a response to a prompt a real-valued reward.

Every scorer has the same batched interface, so ``referee score``, ``referee best-of-n``,
``referee judge --judge rm:PATH`` and ``referee audit --kind reward-model`` work with any of
them.  Scores are written to the **scores table**: ``prompt_id``, ``model``, ``response``,
``scorer``, ``score`` (optionally ``score_probs``).

Specs (``--scorer``): ``length`` (response length, the trivial baseline every report
shows), ``overlap`` (the share of the prompt's content words the response uses: a relevance
heuristic, :mod:`referee.scoring.overlap`), ``rm:DIR`` (a referee embedding reward model trained by ``referee train-rm``),
``hf:PATH`` (a Hugging Face sequence-classification reward model on local disk),
``dpo:POLICY.gguf,REF.gguf`` (implicit DPO reward, β·(log π − log π_ref)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np


class Scorer(Protocol):
    """Scores (prompt, response) pairs in batches."""

    #: written to the ``scorer`` column, e.g. "length", "rm:rm/", "hf:OpenAssistant-deberta"
    name: str

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """One float per (prompt, response) pair, higher = better."""
        ...


class ProgressScorer(Scorer, Protocol):
    """A scorer that also reports progress: ``progress(done, total)`` as batches finish."""

    def score(
        self, prompts: Sequence[str], responses: Sequence[str], *, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        """As :meth:`Scorer.score`, calling ``progress`` after each batch."""
        ...

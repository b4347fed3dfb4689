"""``load_scorer(spec)`` and ``score(outputs, scorer)``: the scores table from any scorer.

``score`` reads model outputs (the formats of ``referee judge --outputs``) and preference-pair
files (TRL ``prompt/chosen/rejected``, HH-RLHF dialogues and the other sets
:mod:`referee.io.pairs` reads).  Of a pair file it scores both responses of every pair, each
row named as the pairs reader names the pair's sides (``model`` = ``chosen`` / ``rejected``,
``prompt_id`` = the prompt's hash, ``response`` = the text), so the table is what
``referee audit scores.jsonl --kind reward-model --gold pairs.jsonl`` matches to the same pairs
(by ``prompt_id`` and response text).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from referee.errors import InputError
from referee.scoring.base import Scorer
from referee.scoring.local import SCORE_COLUMNS, SPECS, is_pair_file, load_scorer, pair_responses, score_table

__all__ = ["SCORE_COLUMNS", "SPECS", "is_pair_file", "load_scorer", "pair_responses", "score", "score_table"]


def score(outputs: Any, scorer: str | Scorer = "length", *, questions: Any = None,
          progress: Callable[[int, int], None] | None = None, ray: str | None = None,
          parts_dir: str | Path | None = None, replicas: int = 1, num_cpus: float = 1.0,
          num_gpus: float = 0.0, **kwargs: Any) -> pd.DataFrame:
    """Score model outputs: the scores table ``prompt_id, model, response, scorer, score``.

    On this machine by :func:`~referee.scoring.local.score_table`, which says what ``outputs``
    may be (outputs files, preference-pair files, a DataFrame or records) and what
    ``attrs["notes"]`` reports.

    ``ray`` (``"auto"``, ``HOST:PORT``, ``ray://…``): score on that Ray cluster instead, one task
    per input file on ``replicas`` actors (each with ``num_cpus`` CPUs and ``num_gpus``
    GPUs) holding the scorer, the parts kept in ``parts_dir`` (default ``scores.parts``) so a rerun
    skips finished files (:func:`referee.scoring.distributed.score_on_ray`; ``scorer`` is a spec).
    """
    if ray is not None:
        from referee.scoring.distributed import score_on_ray

        if not isinstance(scorer, str):
            raise InputError("`ray` needs the scorer as a spec (e.g. 'rm:DIR'): each Ray actor loads its own copy",
                             field="scorer")
        return score_on_ray(outputs, scorer, ray, parts_dir=parts_dir or "scores.parts", questions=questions,
                            replicas=replicas, num_cpus=num_cpus, num_gpus=num_gpus, **kwargs)
    return score_table(outputs, scorer, questions=questions, progress=progress, **kwargs)

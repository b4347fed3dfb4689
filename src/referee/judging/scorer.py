"""A reward model as the judge: verdicts from rewards, no LLM call and no cache.

Pairwise: ``prob_a = σ(r_a − r_b)``, the winner by the sign of ``r_a − r_b`` (equal rewards: a
tie), ``raw_completion`` the two rewards as JSON.  Pointwise: ``score`` = the reward.  Games are
taken from the source in chunks of :data:`CHUNK` and each chunk's distinct (prompt, response)
texts are scored once (:func:`referee.scoring.bestofn.score_unique`), so memory stays bounded
like an LLM run's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from referee.judging.games import Game, GameSource, Texts
from referee.judging.output import Row
from referee.judging.parse import OK, UNPARSED
from referee.judging.templates import MODEL_A, MODEL_B, TIE

CHUNK = 4096  # games scored per batch


def score_games(
    scorer_spec: str, source: GameSource, texts: Texts, settle: Callable[[Game, Row], None], *, mode: str, judge: str,
    scorer: Any = None,
) -> int:
    """Score every game of ``source``, handing each row to ``settle``; returns the number of games.

    ``scorer``: an object with ``score(prompts, responses)`` standing for the spec's model (the
    reward model on Ray actors, :class:`referee.judging.distributed.RayScorer`); it is closed here."""
    from referee.scoring import load_scorer
    from referee.scoring.bestofn import score_unique

    scorer = scorer if scorer is not None else load_scorer(scorer_spec)
    pairwise = mode == "pairwise"
    n = 0
    try:
        while not source.finished and (games := source.take(CHUNK)):
            n += len(games)
            if pairwise:
                sides = [(g.prompt_id, m) for g in games for m in (g.model_a, str(g.model_b))]
            else:
                sides = [(g.prompt_id, g.model_a) for g in games]
            rewards = score_unique(scorer, [str(texts.prompt[p]) for p, _ in sides], [texts.response[s] for s in sides])
            for i, g in enumerate(games):
                pid = g.prompt_id
                if not pairwise:
                    r = float(rewards[i])
                    row = (pid, texts.prompt[pid], g.model_a, texts.response[(pid, g.model_a)], judge, r, None, None,
                           json.dumps({"score": r}), OK, None, None)  # fmt: skip
                    settle(g, row)
                    continue
                ra, rb = float(rewards[2 * i]), float(rewards[2 * i + 1])
                diff = ra - rb
                if math.isnan(diff):
                    winner, prob, status = None, None, UNPARSED
                else:
                    winner = MODEL_A if diff > 0 else MODEL_B if diff < 0 else TIE
                    prob, status = 0.5 * (1.0 + math.tanh(0.5 * diff)), OK  # σ(diff) without overflow
                settle(g, (
                    pid, texts.prompt[pid], texts.response[(pid, g.model_a)], texts.response[(pid, str(g.model_b))],
                    g.model_a, g.model_b, judge, winner, None, prob, g.pair_id, g.order,
                    json.dumps({"score_a": ra, "score_b": rb}), status, winner, None, None,
                    None if status == OK else "the scorer returned NaN",
                ))  # fmt: skip
    finally:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
    return n

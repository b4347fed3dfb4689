"""Reconciling the presentation orders of a pair: one verdict per ``pair_id`` from its games.

:func:`reconcile_games` turns a games table into the reconciled table (written beside the output
as ``<name>.reconciled.<ext>``); :class:`Outcomes` does the same for one pair at a time while a run
streams, as soon as the pair's games are all settled, for a planner that learns from outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from referee.errors import InputError
from referee.judging.parse import OK, UNPARSED
from referee.judging.templates import MODEL_A, MODEL_B, TIE, TIE_BOTHBAD
from referee.planning.base import Outcome

if TYPE_CHECKING:
    import pandas as pd

RECONCILE = ("conservative", "average", "soft")
RECONCILED_COLUMNS = (
    "pair_id", "prompt_id", "model_a", "model_b", "judge", "winner", "strength", "prob_a", "n_games", "agree",
    "complete", "parse_status", "rule",
)  # fmt: skip


def _flip(winner: str | None) -> str | None:
    return {MODEL_A: MODEL_B, MODEL_B: MODEL_A}.get(winner, winner) if winner is not None else None


def reconcile_games(
    games: pd.DataFrame | Sequence[dict[str, Any]], rule: str = "conservative", *, expected: int = 2
) -> pd.DataFrame:
    """One verdict per ``pair_id`` from its games, in the frame of order 1 (``model_a`` shown first there).

    * ``conservative`` (FastChat): a winner only when every game agrees, else ``tie``;
      strength the weaker of the agreeing games' (graded);
    * ``average`` (Arena-Hard): mean of the games' signed scores (±strength, ±1 ungraded,
      0 tie) → winner by sign, strength the rounded mean, ``prob_a`` the mean on [0, 1];
    * ``soft``: mean of the games' P(a) (logprob ``prob_a``, else 1 / 0 / 0.5 from the label).

    ``parse_status`` is ``ok`` when the pair has a verdict, ``incomplete`` when ``conservative``
    lacks a game (agreement cannot be checked, so no verdict), ``unparsed`` when no game parsed;
    ``complete`` tells whether all ``expected`` games parsed; ``agree`` whether two parsed games
    named the same winner (position consistency).  Rows without a verdict keep ``winner`` null.
    """
    import pandas as pd

    if rule not in RECONCILE:
        raise InputError(f"reconcile must be one of {', '.join(RECONCILE)}", field="reconcile")
    recs = cast(list[dict[str, Any]], games.to_dict("records")) if hasattr(games, "to_dict") else list(games)
    graded = any(_num(g.get("strength")) is not None for g in recs)
    by_pair: dict[str, list[dict[str, Any]]] = {}
    for g in recs:
        by_pair.setdefault(g["pair_id"], []).append(g)
    rows = [reconcile_pair(pid, grp, rule, graded=graded, expected=expected) for pid, grp in by_pair.items()]
    return pd.DataFrame(rows, columns=list(RECONCILED_COLUMNS))


def reconcile_pair(pid: str, grp: list[dict[str, Any]], rule: str, *, graded: bool, expected: int) -> dict[str, Any]:
    """The reconciled row of one pair from its games (see :func:`reconcile_games`)."""
    grp.sort(key=lambda g: int(g["order"]))
    first = grp[0]
    a, b = (first["model_a"], first["model_b"]) if int(first["order"]) == 1 else (first["model_b"], first["model_a"])
    winners: list[str] = []
    strengths: list[float | None] = []
    probs: list[float | None] = []
    for g in grp:
        if g.get("parse_status") != OK:
            continue
        swapped = g["model_a"] != a
        w = _flip(g["winner"]) if swapped else g["winner"]
        winners.append(TIE if w == TIE_BOTHBAD else str(w))
        strengths.append(_num(g.get("strength")))
        p = _num(g.get("prob_a"))
        probs.append(None if p is None else (1.0 - p if swapped else p))
    n = len(winners)
    row: dict[str, Any] = {
        "pair_id": pid,
        "prompt_id": first.get("prompt_id"),
        "model_a": a,
        "model_b": b,
        "judge": first.get("judge"),
        "winner": None,
        "strength": math.nan,
        "prob_a": math.nan,
        "n_games": n,
        "agree": (winners[0] == winners[1]) if n >= 2 else None,
        "complete": n >= expected,
        "parse_status": UNPARSED if not n else "incomplete",
        "rule": rule,
    }
    if n and not (rule == "conservative" and n < expected):
        row.update(_combine(rule, winners, strengths, probs, graded), parse_status=OK)
    return row


def _num(value: Any) -> float | None:
    """A float, or None for missing / NaN."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _sign(w: str) -> int:
    return 1 if w == MODEL_A else -1 if w == MODEL_B else 0


def _combine(rule: str, winners: list[str], strengths: list[float | None], probs: list[float | None], graded: bool) -> dict[str, Any]:
    if rule == "conservative":
        if len(set(winners)) == 1 and winners[0] in (MODEL_A, MODEL_B):
            s = min((x if x is not None else 1.0) for x in strengths) if graded else math.nan
            return {"winner": winners[0], "strength": s}
        return {"winner": TIE, "strength": 0.0 if graded else math.nan}
    if rule == "average":
        top = 2.0 if graded else 1.0
        scores = [_sign(w) * ((s if s is not None else 1.0) if graded else 1.0) for w, s in zip(winners, strengths, strict=True)]
        mean = sum(scores) / len(scores)
        winner = MODEL_A if mean > 0 else MODEL_B if mean < 0 else TIE
        strength = float(min(2, math.floor(abs(mean) + 0.5))) if graded else math.nan
        return {"winner": winner, "strength": strength, "prob_a": (mean + top) / (2 * top)}
    ps = [p if p is not None else (1.0 if w == MODEL_A else 0.0 if w == MODEL_B else 0.5) for w, p in zip(winners, probs, strict=True)]
    mean = sum(ps) / len(ps)
    winner = MODEL_A if mean > 0.5 + 1e-12 else MODEL_B if mean < 0.5 - 1e-12 else TIE
    return {"winner": winner, "prob_a": mean}




def outcome_score(row: dict[str, Any]) -> float:
    """model_a's score in [0, 1] from a reconciled row: ``prob_a`` when the rule gives one, else
    1 / ½ / 0 for a win / tie / loss; NaN when the pair has no verdict."""
    if row["parse_status"] != OK:
        return math.nan
    p = _num(row.get("prob_a"))
    if p is not None:
        return p
    return {MODEL_A: 1.0, MODEL_B: 0.0}.get(row["winner"], 0.5)


class Outcomes:
    """Collects each pair's games as they are settled and reconciles the pair when all have come.

    ``add(pair_id, game_row_or_None, games_of_pair)`` returns the pair's :data:`Outcome` (in
    the frame of order 1: ``(prompt_id, model shown first in order 1, the other, score)``) once
    its last game is settled, else None.  A game that was never run counts as settled without a
    verdict.  Only pairs with games still out are held, so memory is bounded by the games in
    flight.  ``graded`` is decided per pair (a graded template gives every parsed game a strength).
    """

    def __init__(self, rule: str, expected: int) -> None:
        self.rule = rule
        self.expected = expected
        self._open: dict[str, tuple[list[dict[str, Any]], int, tuple[str, str, str]]] = {}

    def add(self, pid: str, frame: tuple[str, str, str], row: dict[str, Any] | None) -> Outcome | None:
        """``frame``: (prompt_id, model_x, model_y) of order 1; ``row``: the game's row (None: not run)."""
        rows, seen, _ = self._open.get(pid, ([], 0, frame))
        if row is not None:
            rows.append(row)
        seen += 1
        if seen < self.expected:
            self._open[pid] = (rows, seen, frame)
            return None
        self._open.pop(pid, None)
        if not rows:
            return (*frame, math.nan)
        graded = any(_num(g.get("strength")) is not None for g in rows)
        rec = reconcile_pair(pid, rows, self.rule, graded=graded, expected=self.expected)
        return (*frame, outcome_score(rec))


__all__ = ["RECONCILE", "Outcomes", "outcome_score", "reconcile_games", "reconcile_pair"]

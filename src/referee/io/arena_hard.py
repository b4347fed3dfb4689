"""Arena-Hard-Auto judgments (``data/<bench>/model_judgment/<judge>/<model>.jsonl``).

One record per question and evaluated model with a list ``games`` of two judgments:
game 1 shows the *baseline* as assistant A and the model as B, game 2 swaps them.
Each game's ``score`` is a verdict label such as ``A>>B``, ``A>B``, ``A=B``, ``B>A``,
``B>>A`` (the reversed spellings ``B<A``, ``A<<B``, ``B=A``... are accepted too), or
null when the judge gave no parsable verdict (dropped and counted; a null game,
from a failed API call, too).  Each game becomes one row with the models in the
order shown, ``strength`` 2 for ``>>``, 1 for ``>``, 0 for ``=``, and a shared
``pair_id`` with ``order`` 1 or 2.

Versions: v2.0 records name the baseline (``uid``, ``category``, ``judge``, ``model``,
``baseline``, ``games``); v0.1 records (``question_id``, ``model``, ``judge``,
``games``) do not — the baseline sits in the judge config (``gpt-4-0314`` for
arena-hard-v0.1) — so pass ``baseline=`` to :func:`referee.io.read`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from referee.io.fields import Fields, type_and_value
from referee.io.source import Parsed, Source

UNPARSED = "unparsed_verdict"  # score is null
MISSING_GAME = "missing_game"  # the game itself is null (failed API call)

#: label -> (winner in the order shown, strength)
LABELS: dict[str, tuple[str, int]] = {
    "A>>B": ("model_a", 2),
    "A>B": ("model_a", 1),
    "A=B": ("tie", 0),
    "B>A": ("model_b", 1),
    "B>>A": ("model_b", 2),
    "B<<A": ("model_a", 2),
    "B<A": ("model_a", 1),
    "B=A": ("tie", 0),
    "A<B": ("model_b", 1),
    "A<<B": ("model_b", 2),
}


def read(src: Source, baseline: str | None = None, **_: Any) -> Parsed:
    """Two rows (baseline first, then model first) per judged question."""
    rows = []
    dropped = {UNPARSED: 0, MISSING_GAME: 0}
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        model = f.text("model")
        base = _baseline(f, baseline)
        qid = f.ident("uid", required=False) or f.ident("question_id", required=False)
        if qid is None:
            f.error("missing required field (v2.0 records have 'uid', v0.1 records 'question_id')", "uid")
        judge = f.ident("judge", required=False)
        games = f.raw("games")
        if not isinstance(games, list) or not 1 <= len(games) <= 2:
            f.error(f"expected a list of 1 or 2 games, got {type_and_value(games)}", "games")
        common = {
            "_line": line,
            "prompt_id": qid,
            "category": f.text("category", required=False),
            "judge": judge,
            "pair_id": f"{judge}|{base}|{model}|{qid}",
        }
        for order, game in enumerate(games, start=1):
            verdict = _verdict(f, game, dropped)
            if verdict is None:
                continue
            shown = (base, model) if order == 1 else (model, base)
            rows.append(
                common
                | {"model_a": shown[0], "model_b": shown[1], "winner": verdict[0], "strength": verdict[1], "order": order}
            )
    frame = pd.DataFrame(rows, columns=None if rows else ["_line", "model_a", "model_b", "winner"])
    if rows and frame["category"].isna().all():
        frame = frame.drop(columns="category")
    return Parsed(frame, dropped={k: v for k, v in dropped.items() if v})


def _baseline(f: Fields, given: str | None) -> str:
    """The record's baseline (v2.0), else ``baseline=`` (v0.1); they must agree when both exist."""
    recorded = f.text("baseline", required=False)
    if recorded is None:
        if given is None:
            f.error(
                "this Arena-Hard judgment does not name its baseline (v0.1 records keep it in the judge "
                "config): pass baseline=..., e.g. read(path, baseline='gpt-4-0314')",
                "baseline",
            )
        return given
    if given is not None and given != recorded:
        f.error(f"the record's baseline {recorded!r} differs from baseline={given!r}", "baseline")
    return recorded


def _verdict(f: Fields, game: Any, dropped: dict[str, int]) -> tuple[str, int] | None:
    """(winner as shown, strength) of one game; None (and counted) when it has no verdict."""
    if game is None:
        dropped[MISSING_GAME] += 1
        return None
    if not isinstance(game, dict):
        f.error(f"wrong type: a game must be an object with a 'score', got {type_and_value(game)}", "games")
    score = game.get("score")
    if score is None:
        dropped[UNPARSED] += 1
        return None
    if not isinstance(score, str) or score.strip() not in LABELS:
        f.error(f"unknown verdict label {score!r}; expected one of {', '.join(LABELS)} or null", "score")
    return LABELS[score.strip()]

"""JudgeBench (Tan et al. 2024): response pairs with objective labels, and judges' two-game outputs.

* ``data/dataset=judgebench,response_model=<M>.jsonl`` — ``{pair_id, original_id, source,
  question, response_model, response_A, response_B, label}`` -> one gold row each
  (``judge="gold"``, ``model_a="response_A"``, ``model_b="response_B"``, ``A>B`` -> ``model_a``,
  ``B>A`` -> ``model_b``).
* ``outputs/...,judge_name=<kind>,judge_model=<J>.jsonl`` — the same fields plus ``judgments``:
  a list of games ``{"judgment": {...}, "decision": "A>B" | ...}``; game 2 shows the responses
  swapped and its decision is in that shown frame.  -> one verdict row per game, ``judge`` = the
  judge model, ``order`` = the game, ``model_a``/``model_b`` as shown (game 2:
  ``model_a="response_B"``).  Decisions ``A>>B``/``A>B``/``A=B``/``B>A``/``B>>A`` give the winner
  and ``strength`` (2/1/0); a null decision (unparsed judge output) becomes ``tie`` and is
  counted in ``attrs["mapped"]`` — JudgeBench counts it as no vote, like ``A=B``.
* Reward models (``judge_name=reward_model``): each game carries the raw ``scores`` of the two
  shown responses.  They are kept as ``score_a``/``score_b`` and read as a soft verdict
  ``prob_a = σ(score_a − score_b)`` (the Bradley–Terry reading of a reward difference, as in
  :mod:`referee.auditing.scores`), so calibration and margins can be audited; ``winner`` is the
  published decision (the higher score).

Gold rows come only from the dataset files (read them with the outputs, or pass them as
``--gold``).  ``category`` is JudgeBench's: ``knowledge`` (MMLU-Pro), ``reasoning`` / ``math``
(LiveBench), ``coding`` (LiveCodeBench); ``source`` is kept.  ``prompt_id`` is the 12-hex hash
of the question; ``pair_id`` is JudgeBench's.  :func:`combine_games` gives JudgeBench's own
per-pair verdict (the two games' votes summed); :func:`scores_table` turns the reward models'
raw scores into a scores table for a ``kind="reward-model"`` audit.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.io.fields import Fields, type_and_value
from referee.io.gold import GOLD, text_id
from referee.io.source import Parsed, Source

KEYS = frozenset({"pair_id", "question", "response_A", "response_B", "label"})
#: decision -> (winner in the shown frame, strength)
DECISIONS: dict[str, tuple[str, float]] = {
    "A>>B": ("model_a", 2.0),
    "A>B": ("model_a", 1.0),
    "A=B": ("tie", 0.0),
    "B>A": ("model_b", 1.0),
    "B>>A": ("model_b", 2.0),
}
UNPARSED = "unparsed decision -> tie"


def category(source: str) -> str:
    """JudgeBench's category of a ``source`` (``mmlu-pro-law`` -> ``knowledge``)."""
    if source.startswith("mmlu-pro"):
        return "knowledge"
    if source.startswith("livebench-"):
        return source[len("livebench-") :]
    if source.startswith("livecodebench"):
        return "coding"
    return source


def judge_from_name(name: str) -> str | None:
    """``judge_model=<J>`` from an outputs file name (``/`` is written ``_`` there), else None."""
    for part in name.split(","):
        if part.startswith("judge_model="):
            value = part[len("judge_model=") :]
            return value.split(".jsonl")[0].split(".json")[0]
    return None


def read(src: Source, **_: Any) -> Parsed:
    """Read a JudgeBench dataset file (gold rows) or outputs file (one verdict row per game)."""
    rows: list[dict[str, Any]] = []
    mapped: Counter[str] = Counter()
    fallback = judge_from_name(src.path.name)
    for line, rec in src.records():
        f = Fields(rec, src.name, line)
        question, ra, rb = f.text("question"), f.text("response_A"), f.text("response_B")
        assert question is not None and ra is not None and rb is not None  # required fields: Fields.text raised InputError otherwise
        label = f.text("label")
        if label not in DECISIONS:
            f.error(f"unknown label {type_and_value(label)}; expected one of {', '.join(DECISIONS)}", "label")
        source = f.text("source", required=False)
        base = {
            "_line": line,
            "prompt": question,
            "prompt_id": text_id(question),
            "pair_id": f.ident("pair_id"),
            "category": category(source) if source else None,
            "source": source,
        }
        if "judgments" not in rec:
            rows.append(base | {"model_a": "response_A", "model_b": "response_B", "winner": DECISIONS[label][0],
                                "judge": GOLD, "response_a": ra, "response_b": rb})
            continue
        games = f.raw("judgments")
        if not isinstance(games, list) or not 1 <= len(games) <= 2:
            f.error(f"expected a list of 1 or 2 games, got {type_and_value(games)}", "judgments")
        for order, game in enumerate(games, start=1):
            rows.append(base | _game(f, game, order, ra, rb, fallback, mapped))
    frame = pd.DataFrame(rows)
    for col in ("score_a", "score_b", "prob_a", "strength", "category", "source"):
        if col in frame.columns and frame[col].isna().all():
            frame = frame.drop(columns=col)
    return Parsed(frame, mapped=dict(mapped))


def _game(
    f: Fields, game: Any, order: int, ra: str, rb: str, fallback: str | None, mapped: Counter[str]
) -> dict[str, Any]:
    """One game as a verdict row in the frame shown to the judge."""
    if not isinstance(game, dict):
        f.error(f"expected a game {{judgment, decision}}, got {type_and_value(game)}", "judgments")
    raw_judgment = game.get("judgment")
    judgment: dict[str, Any] = raw_judgment if isinstance(raw_judgment, dict) else {}
    judge = judgment.get("judge_model") or fallback or f.text("judge_name", required=False) or "judge"
    decision = game.get("decision")
    if decision is None:
        mapped[UNPARSED] += 1
        winner, strength = "tie", math.nan
    elif isinstance(decision, str) and decision.strip() in DECISIONS:
        winner, strength = DECISIONS[decision.strip()]
    else:
        f.error(f"unknown decision {type_and_value(decision)} in game {order}; expected one of {', '.join(DECISIONS)}",
                "judgments")
    swapped = order == 2
    row: dict[str, Any] = {
        "model_a": "response_B" if swapped else "response_A",
        "model_b": "response_A" if swapped else "response_B",
        "winner": winner,
        "strength": strength,
        "judge": str(judge),
        "response_a": rb if swapped else ra,
        "response_b": ra if swapped else rb,
        "order": order,
    }
    scores = judgment.get("scores")
    if scores is not None:
        ok = isinstance(scores, list) and len(scores) == 2 and all(
            isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s) for s in scores)
        if not ok:
            f.error(f"expected two finite scores [shown first, shown second] in game {order}, got {type_and_value(scores)}",
                    "judgments")
        row["score_a"], row["score_b"] = float(scores[0]), float(scores[1])
        row["prob_a"] = float(1.0 / (1.0 + math.exp(-(row["score_a"] - row["score_b"]))))
    return row


def combine_games(df: pd.DataFrame) -> pd.DataFrame:
    """JudgeBench's per-pair verdict of each judge: the games' votes summed in the original frame.

    A game votes +1 for the response it prefers (−1 against the other, 0 for a tie or an
    unparsed decision); the pair's verdict is ``response_A`` if the sum is positive,
    ``response_B`` if negative, else ``tie`` — which counts as wrong against JudgeBench's
    tie-free labels, so the audit's accuracy of these rows is JudgeBench's accuracy.  One row
    per (judge, pair_id), shown in the original order (``order`` 1); gold rows pass through.
    """
    gold = df[df["judge"] == GOLD]
    v = df[df["judge"] != GOLD]
    if len(v) == 0:
        return df.copy()
    first = np.where(v["winner"] == "model_a", v["model_a"], np.where(v["winner"] == "model_b", v["model_b"], ""))
    vote = np.where(first == "response_A", 1, np.where(first == "response_B", -1, 0))
    keys = ["judge", "pair_id"]
    total = pd.Series(vote, index=v.index).groupby([v["judge"], v["pair_id"]], sort=False).sum()
    base = v.sort_values("order", kind="stable").drop_duplicates(keys)
    keep = [c for c in ("judge", "pair_id", "prompt", "prompt_id", "category", "source") if c in base.columns]
    out = base[keep].copy()
    out["model_a"], out["model_b"] = "response_A", "response_B"
    if {"response_a", "response_b"} <= set(base.columns):
        is_a = base["model_a"].to_numpy() == "response_A"
        out["response_a"] = np.where(is_a, base["response_a"], base["response_b"])
        out["response_b"] = np.where(is_a, base["response_b"], base["response_a"])
    s = total.reindex(pd.MultiIndex.from_frame(base[keys])).to_numpy()
    out["winner"] = np.where(s > 0, "model_a", np.where(s < 0, "model_b", "tie"))
    out["order"] = 1
    return pd.concat([gold, out], ignore_index=True)


def scores_table(df: pd.DataFrame) -> pd.DataFrame:
    """The reward models' raw scores as a scores table (``prompt_id, response, scorer, score``).

    Each response's score is averaged over the games that showed it (the two games of a
    JudgeBench reward model score the same texts).  Audit it as a reward model:
    ``referee.audit(scores_table(df), gold=<dataset rows>, kind="reward-model")`` — one verdict
    per pair from the score difference, a score tie counting as wrong (RewardBench).
    """
    if not {"score_a", "score_b"} <= set(df.columns):
        raise InputError("no reward-model scores (score_a / score_b) in this table", field="score_a")
    rows = df[df["score_a"].notna() & df["score_b"].notna()]
    sides = [
        rows[["prompt_id", f"response_{s}", "judge", f"score_{s}"]].set_axis(
            ["prompt_id", "response", "scorer", "score"], axis=1)
        for s in ("a", "b")
    ]
    out = pd.concat(sides, ignore_index=True)
    return out.groupby(["prompt_id", "response", "scorer"], sort=False)["score"].mean().reset_index()

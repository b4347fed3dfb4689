"""Online Elo, as in FastChat / Chatbot Arena's ``compute_online_elo``.

For each battle in order, with ratings ``R`` on the display scale (init 1000)::

    E_a = 1 / (1 + BASE^((R_b − R_a) / SCALE)),   S_a ∈ {1, 0, ½ (either tie)}
    R_a += K (S_a − E_a),   R_b −= K (S_a − E_a)

(Elo 1978; K = 4, SCALE = 400, BASE = 10 as in FastChat).  The result depends on the
order of the battles, which is why Chatbot Arena moved to the Bradley–Terry MLE; with
``shuffles = n`` the ratings are averaged over ``n`` seeded random orders.
Observation weights are ignored (FastChat has none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.ranking.cells import model_index
from referee.schema import A_WINS, B_WINS, outcome_codes

#: ``(model_a, model_b, winner)``: three equally long sequences, one battle per position
Battles = tuple[Sequence[Any] | np.ndarray, Sequence[Any] | np.ndarray, Sequence[Any] | np.ndarray]


def battle_order(df: pd.DataFrame) -> np.ndarray:
    """The order in which a comparisons table's battles are played: by ``tstamp`` (stable)
    when the table has one, else as the rows stand."""
    if "tstamp" in df.columns:
        return np.argsort(df["tstamp"].to_numpy(dtype=float), kind="stable")
    return np.arange(len(df))


def battles(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(model_a, model_b, winner)`` arrays in battle order from a comparisons table (a DataFrame,
    a path or paths, read and validated by :func:`referee.io.table`) or a :data:`Battles` tuple
    (taken in its order, unvalidated)."""
    if isinstance(data, tuple) and len(data) == 3 and not all(isinstance(d, str | Path) for d in data):
        model_a, model_b, winner = data
        return np.asarray(model_a), np.asarray(model_b), np.asarray(winner)
    from referee.io import table

    df = table(data)
    order = battle_order(df)
    return df["model_a"].to_numpy()[order], df["model_b"].to_numpy()[order], df["winner"].to_numpy()[order]


def _battle_arrays(data: Any) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """(models, a, b, score of a) from a comparisons table or ``(model_a, model_b, winner)``.

    ``winner`` may be labels (``model_a``/``model_b``/``tie``/``tie (bothbad)``), integer
    outcome codes, or float scores of ``a`` in [0, 1].  A table is put in ``tstamp`` order
    (stable) when it has that column (:func:`battles`).
    """
    model_a, model_b, winner = battles(data)
    models, a, b = model_index(pd.DataFrame({"model_a": model_a, "model_b": model_b}))
    if winner.dtype.kind == "f":
        score = winner.astype(float)
    else:
        codes = winner.astype(np.int64) if winner.dtype.kind in "iu" else outcome_codes(winner)
        score = np.where(codes == A_WINS, 1.0, np.where(codes == B_WINS, 0.0, 0.5))
    return models, a, b, score


def _run(a: list[int], b: list[int], score: list[float], m: int, k: float, scale: float, base: float,
         init: float) -> list[float]:
    """The sequential Elo pass (plain Python over lists: the fastest pure-Python form)."""
    rating = [init] * m
    c = math.log(base) / scale
    exp = math.exp
    for i, j, s in zip(a, b, score, strict=True):
        ri = rating[i]
        rj = rating[j]
        delta = k * (s - 1.0 / (1.0 + exp((rj - ri) * c)))
        rating[i] = ri + delta
        rating[j] = rj - delta
    return rating


def online_elo(
    data: Any,
    k: float = 4.0,
    seed: int | None = None,
    shuffles: int = 0,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
) -> tuple[tuple[str, ...], np.ndarray]:
    """Online Elo ratings (display scale) in the data's order, or averaged over shuffles.

    ``data`` is a comparisons table (``model_a``, ``model_b``, ``winner``; sorted by
    ``tstamp`` when present) — a DataFrame, a path or paths, read and validated by
    :func:`referee.io.table` as :func:`referee.rank` reads them — or a tuple
    ``(model_a, model_b, winner)`` of arrays (:func:`battles`).  With
    ``shuffles = n > 0`` the ratings are the mean over ``n`` random orders drawn from
    ``numpy.random.default_rng(seed)``.  Returns ``(models, ratings)``.
    """
    models, a, b, score = _battle_arrays(data)
    m = len(models)
    if shuffles <= 0:
        out = _run(a.tolist(), b.tolist(), score.tolist(), m, k, scale, base, init)
        return models, np.asarray(out)
    rng = np.random.default_rng(seed)
    total = np.zeros(m)
    for _ in range(shuffles):
        p = rng.permutation(a.size)
        total += _run(a[p].tolist(), b[p].tolist(), score[p].tolist(), m, k, scale, base, init)
    return models, total / shuffles

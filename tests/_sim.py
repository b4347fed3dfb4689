"""Simulators for the tie, graded and style models (complementing :mod:`referee.sim`,
which covers Bradley–Terry and Davidson arenas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from referee.ranking.cells import Cells, aggregate
from referee.schema import WINNERS


def strengths(n_models: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    theta = rng.normal(0.0, spread, n_models)
    return theta - theta.mean()


def pairs(n_models: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform ordered pairs with a ≠ b."""
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    return a, b


def names(n_models: int) -> list[str]:
    return [f"m{i:02d}" for i in range(n_models)]


def to_cells(a: np.ndarray, b: np.ndarray, y: np.ndarray, s: np.ndarray | None = None,
             weight: np.ndarray | None = None) -> Cells:
    """Comparisons table from index arrays and outcome codes, aggregated into cells."""
    nm = np.array(names(int(max(a.max(), b.max())) + 1), dtype=object)
    df = pd.DataFrame({"model_a": nm[a], "model_b": nm[b], "winner": np.asarray(WINNERS, dtype=object)[y]})
    if s is not None:
        df["strength"] = s.astype(float)
    if weight is not None:
        df["weight"] = weight
    return aggregate(df)


def draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of a (rows × categories) probability matrix."""
    u = rng.random(probs.shape[0])[:, None]
    return (u > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def rao_kupper(theta: np.ndarray, n: int, theta_rk: float, rng: np.random.Generator,
               home: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, outcome code) from Rao–Kupper, written with π's as in the 1967 paper."""
    a, b = pairs(theta.size, n, rng)
    pa, pb = np.exp(theta[a] + home), np.exp(theta[b])
    p_a = pa / (pa + theta_rk * pb)
    p_b = pb / (pb + theta_rk * pa)
    cat = draw(np.column_stack([p_a, p_b, 1.0 - p_a - p_b]), rng)
    return a, b, cat  # 0 a wins, 1 b wins, 2 tie


def ordinal(theta: np.ndarray, n: int, c1: float, c2: float, rng: np.random.Generator,
            home: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, outcome code, strength) from the cumulative-logit model, cuts (−c2, −c1, c1, c2)."""
    a, b = pairs(theta.size, n, rng)
    d = theta[a] - theta[b] + home
    cum = 1.0 / (1.0 + np.exp(-(np.array([-c2, -c1, c1, c2])[None, :] - d[:, None])))
    probs = np.diff(np.column_stack([np.zeros(n), cum, np.ones(n)]), axis=1)
    level = draw(probs, rng) - 2  # −2 … 2
    y = np.where(level > 0, 0, np.where(level < 0, 1, 2))
    return a, b, y, np.abs(level)

"""Simulated arenas with known ground truth, for the demo, the tests and the benchmarks.

Outcomes follow the Bradley–Terry model with ties, in the form whose half-win
estimating equation is unbiased: with ``p = σ(θ_a − θ_b + h)`` (``h`` an optional
first-position advantage),

    P(tie) = 4·τ·p(1−p),   P(a wins) = p − P(tie)/2,   P(b wins) = 1 − p − P(tie)/2,

so ``E[score_a] = p`` exactly when a tie scores one half (τ ≤ 1/2 sets the tie
rate; τ = 0.3 gives about 15–25% ties for typical gaps).  With
``tie_model="davidson"`` outcomes follow Davidson's model with parameter ``nu``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from referee.schema import WINNERS

LN10_400 = 400.0 / np.log(10.0)


def true_strengths(n_models: int, rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    """Centred log-strengths drawn from N(0, spread²)."""
    theta = rng.normal(0.0, spread, n_models)
    return theta - theta.mean()


def simulate_arena(
    n_models: int = 20,
    n_battles: int = 20_000,
    *,
    seed: int = 0,
    spread: float = 1.0,
    tau: float = 0.3,
    skew: float = 1.0,
    first_position: float = 0.0,
    tie_model: str = "bt",
    nu: float = 0.5,
    n_prompts: int | None = None,
    model_prefix: str = "model-",
) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded arena: (battles table, true centred log-strengths by model name).

    Pairs are drawn with probability ∝ popularity_a · popularity_b, where popularity
    follows a Zipf law with exponent ``skew`` (0 = uniform pairs), so some pairs are
    seen thousands of times and others rarely, like a real arena.
    """
    rng = np.random.default_rng(seed)
    theta = true_strengths(n_models, rng, spread)
    names = np.array([f"{model_prefix}{i:03d}" for i in range(n_models)])
    pop = 1.0 / np.arange(1, n_models + 1) ** skew
    pop = rng.permutation(pop)
    pop /= pop.sum()
    a = rng.choice(n_models, size=n_battles, p=pop)
    b = _draw_opponents(rng, a, pop)
    d = theta[a] - theta[b] + first_position
    u = rng.random(n_battles)
    if tie_model == "bt":
        p = 1.0 / (1.0 + np.exp(-d))
        pt = 4.0 * tau * p * (1.0 - p)
        pa = p - pt / 2.0
    elif tie_model == "davidson":
        pia, pib = np.exp(theta[a] + first_position), np.exp(theta[b])
        tie_term = nu * np.sqrt(pia * pib)
        den = pia + pib + tie_term
        pa, pt = pia / den, tie_term / den
    else:
        raise ValueError(f"unknown tie_model {tie_model!r}")
    code = np.where(u < pa, 0, np.where(u < pa + pt, 2, 1))
    # split ties between the two tie labels, as real arenas have both
    both_bad = (code == 2) & (rng.random(n_battles) < 0.3)
    code = np.where(both_bad, 3, code)
    df = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.asarray(WINNERS, dtype=object)[code],
            "tstamp": 1.7e9 + np.sort(rng.random(n_battles)) * 3e7,
        }
    )
    if n_prompts:
        df["prompt_id"] = [f"p{i}" for i in rng.integers(0, n_prompts, n_battles)]
    return df, pd.Series(theta, index=names, name="theta")


def _draw_opponents(rng: np.random.Generator, a: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """For each first model, an opponent ≠ it drawn ∝ popularity (vectorised)."""
    m = pop.size
    cdf = np.cumsum(pop)
    # draw from pop restricted to j != a: sample u in [0, 1 - pop[a]) and skip a's mass
    u = rng.random(a.size) * (1.0 - pop[a])
    start_a = cdf[a] - pop[a]
    u = np.where(u >= start_a, u + pop[a], u)
    b = np.searchsorted(cdf, u, side="right")
    return np.minimum(b, m - 1)

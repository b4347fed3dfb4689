"""Synthetic judges with planted biases, for tests, benchmarks and demos.

Each response has a latent quality q = θ_model + N(0, 1) (transitive within a prompt); a
comparison's margin is z = q_a − q_b and its gold label is a Bernoulli draw with
P(a) = σ(3z).  A judge sees  logit P(a wins) = sharpness·z + position·[a is shown first] +
length·Δlen/1000 + self·([a is own family] − [b is own family]), decides by a Bernoulli draw
(or a tie with probability ``tie_rate``) and reports ``prob_a`` = σ(logit) — calibrated
against the gold labels when sharpness = 3 and there is no bias.  Every comparison is judged
in both presentation orders unless ``both_orders=False``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

MODELS = ("gpt-4", "gpt-3.5", "claude-2", "llama-2", "mistral")
GOLD_SHARPNESS = 3.0


@dataclass
class JudgeSpec:
    """Planted behaviour of a synthetic judge (logit-scale effects)."""

    sharpness: float = 3.0
    position: float = 0.0
    length: float = 0.0
    self_family: str | None = None
    self_bonus: float = 0.0
    tie_rate: float = 0.0


def simulate_judges(
    judges: Mapping[str, JudgeSpec],
    *,
    n_prompts: int = 200,
    models: Sequence[str] = MODELS,
    both_orders: bool = True,
    n_categories: int = 4,
    text: bool = True,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(verdicts, gold): comparisons tables; every pair of ``models`` on every prompt, one gold vote each."""
    rng = np.random.default_rng(seed)
    m = len(models)
    theta = np.linspace(1.0, -1.0, m)
    pairs = np.array(list(combinations(range(m), 2)))
    P = pairs.shape[0]
    pid = np.repeat(np.arange(n_prompts), P)
    ia, ib = np.tile(pairs[:, 0], n_prompts), np.tile(pairs[:, 1], n_prompts)
    lengths = rng.lognormal(6.3, 0.6, size=(n_prompts, m)).astype(int) + 20
    quality = theta[None, :] + rng.normal(size=(n_prompts, m))
    z = quality[pid, ia] - quality[pid, ib]
    names = np.asarray(models, dtype=object)
    cats = np.array([f"cat{k}" for k in range(max(n_categories, 1))], dtype=object)[pid % max(n_categories, 1)]
    prompts = np.array([f"prompt {p}: explain topic {p}" for p in range(n_prompts)], dtype=object)
    texts = None
    if text:
        texts = np.array([[f"[{p}/{models[k]}] " + "x" * lengths[p, k] for k in range(m)] for p in range(n_prompts)],
                         dtype=object)
    n_items = pid.size
    gold_a = rng.random(pid.size) < expit(GOLD_SHARPNESS * z)
    gold = _frame(pid, ia, ib, np.where(gold_a, "model_a", "model_b"), names, prompts, texts, cats)
    gold["judge"] = "gold"
    frames = []
    for judge, spec in judges.items():
        fam = np.array([spec.self_family is not None and spec.self_family in n for n in models], dtype=float)
        for order in (1, 2) if both_orders else (1,):
            a, b = (ia, ib) if order == 1 else (ib, ia)
            za = z if order == 1 else -z
            dlen = (lengths[pid, a] - lengths[pid, b]) / 1000.0
            logit = spec.sharpness * za + spec.position + spec.length * dlen + spec.self_bonus * (fam[a] - fam[b])
            p = expit(logit)
            win = np.where(rng.random(n_items) < p, "model_a", "model_b").astype(object)
            win[rng.random(n_items) < spec.tie_rate] = "tie"
            f = _frame(pid, a, b, win, names, prompts, texts, cats)
            f["judge"] = judge
            f["prob_a"] = p
            f["pair_id"] = [f"{judge}-{i}" for i in range(n_items)]
            f["order"] = order
            frames.append(f)
    return pd.concat(frames, ignore_index=True), gold


def _frame(
    pid: np.ndarray, a: np.ndarray, b: np.ndarray, winner: np.ndarray, names: np.ndarray, prompts: np.ndarray,
    texts: np.ndarray | None, cats: np.ndarray,
) -> pd.DataFrame:
    out: dict[str, Any] = {
        "prompt_id": [f"p{p}" for p in pid],
        "prompt": prompts[pid],
        "model_a": names[a],
        "model_b": names[b],
        "winner": winner,
        "category": cats,
    }
    if texts is not None:
        out["response_a"] = texts[pid, a]
        out["response_b"] = texts[pid, b]
    return pd.DataFrame(out)

"""Server-side pair selection: which two models and which prompt an annotator judges next.

Clients never choose.  A battle is a (prompt, unordered model pair); an annotator never
gets the same battle twice (enforced again by a unique constraint in the database).
Strategies, each drawing the prompt uniformly among the pair's prompts the annotator has
not seen, and randomising which model is shown as A:

* ``uniform``  — model pair uniform over pairs that share a prompt (Chatbot Arena's default);
* ``balanced`` — uniform among the pairs with the fewest votes so far (of those the annotator
  still has prompts for), so every pair's count stays within one of the others;
* ``active``   — pairs weighted by the value of one more vote under the current fit, the
  criterion of the ``active`` comparison planner (:func:`referee.planning.active.comparison_values`:
  the expected reduction in the variance of the rating differences of neighbours whose
  intervals overlap), with the arena's ratings and their standard errors (a diagonal
  covariance: the live board keeps no more); as in the planner, a share
  :data:`EXPLORE` of the weight is spread uniformly over the pairs, which keeps every model's
  information growing (the intervals' coverage under adaptive sampling needs it).  Pairs
  without a fit yet get the largest weight: votes go where they shrink the intervals most.

**No identity leaks.**  With fixed outputs a response is the same text every time it is shown,
so once a vote has revealed that this text was written by model X, showing the text again tells
the voter who wrote it.  An annotator's :class:`Seen` therefore also holds the responses revealed
to them, as (text, model) classes (:attr:`Sampler.response_class`: identical texts by the same
model are one class), and :meth:`Sampler.pick` never offers a battle with a response of a
revealed class; when none is left the annotator is done.  The price: with ``M`` models, an
annotator judges at most ``floor(M/2)`` battles per prompt instead of ``M(M-1)/2`` (fewer when
the models repeat their texts across prompts); serving without reveal (the arena's default:
votes name nobody) keeps them all.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from referee.arena.store import Catalogue, pair_key
from referee.planning.active import comparison_values

STRATEGIES = ("uniform", "balanced", "active")
#: share of the ``active`` weight spread uniformly over the pairs (as the active planner explores)
EXPLORE = 0.25


@dataclass
class Seen:
    """One annotator's history as the sampler needs it."""

    battles: set[tuple[int, str]] = field(default_factory=set)  # (prompt id, pair key)
    exhausted: set[str] = field(default_factory=set)  # pair keys with no prompt left for them
    revealed: set[int] = field(default_factory=set)  # response classes whose model was revealed to them


class Sampler:
    def __init__(self, catalogue: Catalogue, strategy: str = "uniform", seed: int | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        self.strategy = strategy
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {}
        self.uncertainty: dict[str, float] = {}
        self.rebuild(catalogue)

    def rebuild(self, catalogue: Catalogue) -> None:
        """Index the prompts each visible model pair shares."""
        classes: dict[tuple[str, int], int] = {}
        self.response_class = {
            (p, m): classes.setdefault((text, m), len(classes)) for (p, m), (_, text, _) in catalogue.responses.items()
        }
        by_prompt: dict[int, list[int]] = {}
        for p, m in catalogue.responses:
            if m not in catalogue.hidden:
                by_prompt.setdefault(p, []).append(m)
        shared: dict[tuple[int, int], list[int]] = {}
        for p, ms in by_prompt.items():
            ms.sort()
            for i, a in enumerate(ms):
                for b in ms[i + 1 :]:
                    shared.setdefault((a, b), []).append(p)
        self.pairs = sorted(shared)
        self.keys = [pair_key(a, b) for a, b in self.pairs]
        self.prompts = [shared[p] for p in self.pairs]

    def set_counts(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def set_fit(self, ratings: Mapping[int, tuple[float, float]], scale: float = 400 / math.log(10)) -> None:
        """Current ratings and SEs per model id (on the Elo scale) for ``active`` sampling."""
        ids = sorted(ratings)
        index = {m: k for k, m in enumerate(ids)}
        fitted = [(k, index[a], index[b]) for k, (a, b) in enumerate(self.pairs) if a in index and b in index]
        if not fitted:
            self.uncertainty = {}
            return
        theta = np.array([ratings[m][0] for m in ids], dtype=float) / scale
        se = np.array([ratings[m][1] for m in ids], dtype=float) / scale
        se = np.where(np.isfinite(se), se, 10.0)  # no interval yet: as uncertain as it gets
        rows, pi, pj = (np.array(col, dtype=np.int64) for col in zip(*fitted, strict=True))
        values = comparison_values(np.nan_to_num(theta), np.diag(se * se), pi, pj)
        total = float(values.sum())
        share = values / total if total > 0 else np.full(values.size, 1.0 / values.size)
        weights = EXPLORE / values.size + (1 - EXPLORE) * share
        self.uncertainty = {self.keys[int(r)]: float(w) for r, w in zip(rows, weights, strict=True)}

    def _weights(self, idx: list[int]) -> list[float]:
        if self.strategy == "balanced":
            n = [self.counts.get(self.keys[i], 0) for i in idx]
            low = min(n)
            return [1.0 if k == low else 0.0 for k in n]
        if self.strategy == "active":
            top = max(self.uncertainty.values(), default=1.0) or 1.0
            return [self.uncertainty.get(self.keys[i], 2 * top) + 1e-9 for i in idx]
        return [1.0] * len(idx)

    def reveal(self, seen: Seen, prompt: int, model_a: int, model_b: int) -> None:
        """Record that a vote showed the annotator who wrote the two responses of a battle."""
        for m in (model_a, model_b):
            c = self.response_class.get((prompt, m))
            if c is not None:
                seen.revealed.add(c)

    def _fresh(self, seen: Seen, prompt: int, key: str, ma: int, mb: int) -> bool:
        if (prompt, key) in seen.battles:
            return False
        r = seen.revealed
        return not r or (self.response_class[prompt, ma] not in r and self.response_class[prompt, mb] not in r)

    def pick(self, seen: Seen) -> tuple[int, int, int] | None:
        """``(prompt id, model shown as A, model shown as B)``, or ``None`` when nothing is left:
        a (prompt, pair) the annotator has not had, neither response of a class revealed to them."""
        idx = [i for i, k in enumerate(self.keys) if k not in seen.exhausted]
        while idx:
            j = self.rng.choices(range(len(idx)), weights=self._weights(idx))[0] if len(idx) > 1 else 0
            i = idx[j]
            key, prompts = self.keys[i], self.prompts[i]
            ma, mb = self.pairs[i]
            prompt = None
            for _ in range(8):  # cheap random probes first; a full scan only when most are seen
                p = prompts[self.rng.randrange(len(prompts))]
                if self._fresh(seen, p, key, ma, mb):
                    prompt = p
                    break
            if prompt is None:
                left = [p for p in prompts if self._fresh(seen, p, key, ma, mb)]
                if left:
                    prompt = self.rng.choice(left)
            if prompt is None:
                seen.exhausted.add(key)
                idx.pop(j)
                continue
            a, b = self.pairs[i]
            if self.rng.random() < 0.5:
                a, b = b, a
            return prompt, a, b
        return None

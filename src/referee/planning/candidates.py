"""The candidate set of a plan, held compactly: which comparisons a planner may choose from.

A candidate is one comparison ``(prompt_id, model_a, model_b)`` (see :mod:`referee.planning.base`).
Fifty models on 1,000 prompts are 1.2 million candidates, a hundred models 5 million, so the set
is stored as integer arrays (prompt, model_a, model_b) over interned prompt and model names, and
grouped by *unordered model pair*: ``pair_start[k] : pair_start[k + 1]`` slices ``by_pair``, the
candidate indices of pair ``k`` in a seeded random prompt order.  Planners that pick a model
pair first (random by pair, Swiss, active) take the pair's next unused candidate, so the
comparisons of one pair spread over different prompts, in an order that depends only on the
seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from referee.errors import InputError
from referee.planning.base import Candidate


@dataclass
class CandidateSet:
    """Candidates as arrays over interned names (see the module docstring).

    ``prompt``, ``a``, ``b``: per candidate, the prompt index and the model indices in the
    candidate's own order (``model_a`` is the model whose score an outcome reports).  ``pair``:
    the unordered pair index, ``pair_i < pair_j`` its two models.  ``notes``: what was left
    out when the set was built (missing responses, prompts with fewer than two responses).
    """

    prompts: list[str]
    models: list[str]
    prompt: np.ndarray
    a: np.ndarray
    b: np.ndarray
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    skipped_prompts: int = 0

    def __post_init__(self) -> None:
        m = len(self.models)
        lo, hi = np.minimum(self.a, self.b), np.maximum(self.a, self.b)
        if (lo == hi).any():
            raise InputError("a model cannot be compared with itself", field="candidates")
        uniq, pair = np.unique(lo.astype(np.int64) * m + hi, return_inverse=True)
        self.pair = pair.astype(np.int64).ravel()
        self._index(uniq.astype(np.int64))
        # within each pair, a seeded random prompt order
        rng = np.random.default_rng([self.seed, 0x5EED])
        key = (self.pair << 32) + rng.integers(0, 1 << 31, self.pair.size)
        self.by_pair = np.argsort(key, kind="stable")
        if np.unique(self.pair * max(len(self.prompts), 1) + self.prompt).size != self.prompt.size:
            raise InputError("the candidates repeat a pair on a prompt (in either order)", field="candidates")

    def _index(self, codes: np.ndarray) -> None:
        """Pair arrays from the sorted pair codes ``i·M + j`` (i < j); name lookups."""
        m = len(self.models)
        self.pair_code = codes
        self.pair_i, self.pair_j = codes // m, codes % m
        counts = np.bincount(self.pair, minlength=codes.size)
        self.pair_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.model_index = {name: i for i, name in enumerate(self.models)}
        self.prompt_index = {name: i for i, name in enumerate(self.prompts)}

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_tuples(cls, candidates: Iterable[Sequence[str]], *, seed: int = 0) -> CandidateSet:
        """From ``(prompt_id, model_a, model_b[, pair_id])`` tuples (a planned pairs list)."""
        prompts: dict[str, int] = {}
        models: dict[str, int] = {}
        p, a, b = [], [], []
        for row in candidates:
            pid, ma, mb = str(row[0]), str(row[1]), str(row[2])
            p.append(prompts.setdefault(pid, len(prompts)))
            a.append(models.setdefault(ma, len(models)))
            b.append(models.setdefault(mb, len(models)))
        if not p:
            raise InputError("no candidate comparisons to plan", field="candidates")
        return cls(list(prompts), list(models), np.asarray(p, np.int64), np.asarray(a, np.int64),
                   np.asarray(b, np.int64), seed=seed)

    @classmethod
    def from_frame(cls, pairs: Any, *, seed: int = 0) -> CandidateSet:
        """From a pairs table with ``prompt_id, model_x, model_y`` (or ``model_a, model_b``)."""
        import pandas as pd

        kx, ky = ("model_x", "model_y") if "model_x" in pairs.columns else ("model_a", "model_b")
        pc, pu = pd.factorize(pairs["prompt_id"].astype(str))
        names = pd.unique(pd.concat([pairs[kx], pairs[ky]]).astype(str))
        index = {n: i for i, n in enumerate(names)}
        a = pairs[kx].astype(str).map(index).to_numpy(np.int64)
        b = pairs[ky].astype(str).map(index).to_numpy(np.int64)
        return cls([str(x) for x in pu], [str(x) for x in names], pc.astype(np.int64), a, b, seed=seed)

    @classmethod
    def round_robin(cls, prompts: Sequence[str], models: Sequence[str], *, seed: int = 0) -> CandidateSet:
        """Every pair of ``models`` on every prompt, built with array operations (millions are fine).

        Which model of a pair is ``model_a`` is a seeded coin flip per candidate."""
        m, n = len(models), len(prompts)
        if m < 2:
            raise InputError("a plan needs at least two models", field="models")
        if len(set(map(str, models))) < m or len(set(map(str, prompts))) < n:
            raise InputError("model and prompt names must be distinct", field="candidates")
        i, j = np.triu_indices(m, 1)
        n_pairs = i.size
        rng = np.random.default_rng([seed, 0xF11B])
        flip = rng.random(n * n_pairs) < 0.5
        a, b = np.tile(i, n).astype(np.int64), np.tile(j, n).astype(np.int64)
        out = cls.__new__(cls)
        out.prompts, out.models, out.seed, out.notes, out.skipped_prompts = list(map(str, prompts)), list(
            map(str, models)), seed, [], 0
        out.prompt = np.repeat(np.arange(n, dtype=np.int64), n_pairs)
        out.a, out.b = np.where(flip, b, a), np.where(flip, a, b)
        out.pair = np.tile(np.arange(n_pairs, dtype=np.int64), n)
        out._index((i * m + j).astype(np.int64))
        # candidate of pair k on prompt t is t·P + k; each pair gets its own seeded prompt order
        order = np.argsort(rng.random((n_pairs, n)), axis=1)
        out.by_pair = (order * n_pairs + np.arange(n_pairs)[:, None]).ravel()
        return out

    @classmethod
    def from_outputs(
        cls, outputs: Any, *, baseline: str | None = None, pairs: Any = "round-robin", seed: int = 0
    ) -> CandidateSet:
        """The candidates ``referee judge`` would judge: :func:`referee.planning.pairs.plan_pairs`
        over model ``outputs`` (records or a DataFrame), keeping those whose two responses exist.

        Prompts where fewer than two models answered are counted in ``skipped_prompts``."""
        from referee.planning.pairs import plan_pairs

        recs = outputs.to_dict("records") if hasattr(outputs, "to_dict") else list(outputs)
        have: dict[str, set[str]] = {}
        for r in recs:
            have.setdefault(str(r["prompt_id"]), set()).add(str(r["model"]))
        planned = plan_pairs(recs, baseline=baseline, pairs=None if baseline else pairs, seed=seed, frame=False)
        kept = [t for t in planned if t[1] in have.get(t[0], ()) and t[2] in have.get(t[0], ())]
        skipped = sum(1 for ms in have.values() if len(ms) < 2)
        if not kept:
            raise InputError("no candidate comparison has both responses in the outputs", field="outputs")
        out = cls.from_tuples(kept, seed=seed)
        dropped = len(planned) - len(kept)
        if dropped:
            out.notes.append(f"{dropped:,} candidate comparisons lack a response and are left out")
        if skipped:
            out.notes.append(f"{skipped:,} prompts have fewer than two responses and are skipped")
        out.skipped_prompts = skipped
        # keep the outputs' model order (stable names for reports)
        return out

    # -- access ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.prompt.size)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_pairs(self) -> int:
        return int(self.pair_i.size)

    def candidate(self, k: int) -> Candidate:
        """Candidate ``k`` as ``(prompt_id, model_a, model_b)``."""
        return (self.prompts[int(self.prompt[k])], self.models[int(self.a[k])], self.models[int(self.b[k])])

    def key(self, k: int) -> int:
        """An integer naming candidate ``k`` regardless of order: pair × prompts + prompt."""
        return int(self.pair[k]) * len(self.prompts) + int(self.prompt[k])

    def key_of(self, prompt_id: str, m1: str, m2: str) -> int | None:
        """The key of the comparison of ``m1`` and ``m2`` on ``prompt_id`` (None when not a candidate)."""
        i, j, p = self.model_index.get(m1), self.model_index.get(m2), self.prompt_index.get(prompt_id)
        if i is None or j is None or p is None or i == j:
            return None
        k = self.pair_of(i, j)
        return None if k is None else k * len(self.prompts) + p

    def pair_of(self, i: int, j: int) -> int | None:
        """The unordered pair index of models ``i`` and ``j`` (None when they never meet)."""
        lo, hi = min(i, j), max(i, j)
        code = lo * self.n_models + hi
        at = int(np.searchsorted(self.pair_code, code))
        return at if at < self.pair_code.size and int(self.pair_code[at]) == code else None

    def models_on(self) -> list[np.ndarray]:
        """Per prompt index, the model indices with a candidate on it (sorted)."""
        both = np.concatenate([self.a, self.b])
        pp = np.concatenate([self.prompt, self.prompt])
        code = np.unique(pp * self.n_models + both)
        cut = np.searchsorted(code // self.n_models, np.arange(len(self.prompts) + 1))
        mods = code % self.n_models
        return [mods[cut[i]:cut[i + 1]] for i in range(len(self.prompts))]


def as_candidate_set(candidates: Any, *, seed: int = 0) -> CandidateSet:
    """A :class:`CandidateSet` from one, a pairs DataFrame, or ``(prompt_id, model_a, model_b)`` tuples."""
    if isinstance(candidates, CandidateSet):
        return candidates
    if hasattr(candidates, "columns"):
        return CandidateSet.from_frame(candidates, seed=seed)
    return CandidateSet.from_tuples(candidates, seed=seed)

"""Answers for simulated plans: a simulated judge over known strengths, or a replay of real verdicts.

:class:`SimulatedJudge` judges a candidate ``(prompt, a, b)`` in both presentation orders.  Each
game's outcome follows :func:`referee.sim.outcome_probabilities` (Davidson ties by default) with
linear predictor ``θ_first − θ_second + h`` — ``h`` the judge's first-position bias in logits —
and the two games are reconciled like ``referee judge --reconcile average``: model_a's score is
the mean of its two game scores (win 1, tie ½, loss 0).  The uniforms are drawn once per
candidate from the seed (common random numbers), so every plan run with the same seed sees the
same verdict for the same comparison and plans can be compared pairwise.

:class:`Replay` answers from a recorded verdict table instead: the candidates are the
(prompt, model pair) cells the table holds, and a candidate's answer is the mean score of
model_a over the cell's rows (both orders of a judge, several annotators).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from referee.planning.base import Candidate, Outcome
from referee.planning.candidates import CandidateSet
from referee.sim import outcome_probabilities

#: scores of the categories ``outcome_probabilities`` returns (a wins, tie, b wins)
_SCORES = np.array([1.0, 0.5, 0.0])


class SimulatedJudge:
    """Both-orders simulated verdicts for every candidate of ``cs`` (see the module docstring)."""

    def __init__(
        self,
        cs: CandidateSet,
        theta: np.ndarray,
        *,
        seed: int = 0,
        ties: str = "davidson",
        nu: float = 0.5,
        tau: float = 0.3,
        first_position: float = 0.2,
        both_orders: bool = True,
    ) -> None:
        self.cs = cs
        self.theta = np.asarray(theta, dtype=float)
        rng = np.random.default_rng([seed, 0x0DD5])
        n = len(cs)
        orders = 2 if both_orders else 1
        d = self.theta[cs.a] - self.theta[cs.b]
        score = np.zeros(n)
        for o in range(orders):
            sign = 1.0 if o == 0 else -1.0  # order 1: a shown first; order 2: b shown first
            lin = sign * d + first_position
            if ties == "none":
                probs = outcome_probabilities(lin, "bt", tau=0.0)
            elif ties == "bt":
                probs = outcome_probabilities(lin, "bt", tau=tau)
            else:
                probs = outcome_probabilities(lin, "davidson", nu=nu)
            u = rng.random(n)
            cat = (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
            first_score = _SCORES[cat]
            score += first_score if o == 0 else 1.0 - first_score
        self.score = score / orders
        self._lookup: dict[Candidate, int] | None = None

    def all(self) -> list[Outcome]:
        """Every candidate's outcome (the round-robin reference)."""
        cs = self.cs
        return [(*cs.candidate(k), float(self.score[k])) for k in range(len(cs))]

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate pair: (comparisons, summed score of ``pair_i``) over the whole set."""
        cs = self.cs
        s_lo = np.where(cs.a < cs.b, self.score, 1.0 - self.score)
        return (np.bincount(cs.pair, minlength=cs.n_pairs).astype(float),
                np.bincount(cs.pair, weights=s_lo, minlength=cs.n_pairs))

    def __call__(self, candidates: Sequence[Candidate]) -> list[Outcome]:
        if self._lookup is None:
            cs = self.cs
            self._lookup = {cs.candidate(k): k for k in range(len(cs))}
        return [(*c, float(self.score[self._lookup[c]])) for c in candidates]


class Replay:
    """Answers from recorded verdicts (see the module docstring)."""

    def __init__(self, table: pd.DataFrame, *, seed: int = 0) -> None:
        from referee.schema import outcome_codes

        df = table
        if "prompt_id" not in df.columns or df["prompt_id"].isna().all():
            from referee.errors import InputError

            raise InputError("a replay needs a prompt_id column (which prompt each verdict is about)",
                             field="prompt_id")
        codes = outcome_codes(df["winner"])
        s = np.where(codes == 0, 1.0, np.where(codes == 1, 0.0, 0.5))
        if "prob_a" in df.columns:
            pa = df["prob_a"].to_numpy(dtype=float)
            s = np.where(np.isnan(pa), s, pa)
        a, b = df["model_a"].astype(str).to_numpy(), df["model_b"].astype(str).to_numpy()
        keep = a != b
        a, b, s = a[keep], b[keep], s[keep]
        pid = df["prompt_id"].astype(str).to_numpy()[keep]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        s_lo = np.where(a == lo, s, 1.0 - s)
        cells = pd.DataFrame({"prompt_id": pid, "lo": lo, "hi": hi, "s": s_lo}).groupby(
            ["prompt_id", "lo", "hi"], sort=True, as_index=False)["s"].mean()
        self.cs = CandidateSet.from_tuples(zip(cells["prompt_id"], cells["lo"], cells["hi"], strict=True), seed=seed)
        self.score = cells["s"].to_numpy(dtype=float)
        self.rows = int(keep.sum())
        self._lookup = {self.cs.candidate(k): k for k in range(len(self.cs))}

    def all(self) -> list[Outcome]:
        cs = self.cs
        return [(*cs.candidate(k), float(self.score[k])) for k in range(len(cs))]

    def __call__(self, candidates: Sequence[Candidate]) -> list[Outcome]:
        return [(*c, float(self.score[self._lookup[c]])) for c in candidates]

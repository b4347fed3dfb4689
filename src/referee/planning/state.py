"""What every planner keeps: the candidates used, the budget, the outcomes and a working fit.

**Budget.**  ``budget`` is a number of comparisons (judge calls ÷ calls per comparison).  Every
distinct candidate the plan has proposed *or* recorded an outcome for counts, so a plan
resumed with earlier outcomes (:meth:`PlanState.record`) keeps to its total; proposals stop when
``spent == budget``, so the budget is never exceeded.

**Outcomes** are reduced to per-pair sufficient statistics (dense ``M × M``): ``W[i, j]`` the
number of comparisons of i and j, ``S[i, j]`` i's summed score against j, ``Q[i, j]`` the
summed squared scores — enough for the Bradley–Terry likelihood with ties worth ½ (scores in
[0, 1], both presentation orders already reconciled) and for its sandwich covariance.

**Working fit.**  :meth:`PlanState.fit` refits Bradley–Terry with
:func:`referee.ranking.bt.fit_bt` on those statistics, warm-started at the previous θ
(a Newton step or two per batch), with the weak N(0, 1.25²) prior of ``referee rank`` only
while the MLE does not exist (a model that never won or never lost, Ford 1957).  Its
covariance is the sandwich ``H⁻¹ J H⁻¹`` with one comparison per unit — what ``referee rank``
reports with its default clustering by ``pair_id`` (both orders of a comparison are one unit)
— computed from the pair statistics, since ``Σ_c (t_c − p)² = Q − 2pS + p²W`` per pair; or the
Laplace ``H⁻¹`` while the prior is in use.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from referee.planning.base import Candidate, Outcome
from referee.planning.candidates import CandidateSet
from referee.ranking.bt import WEAK_PRIOR, fit_bt, laplacian, mle_exists, pair_stats
from referee.ranking.cells import Cells
from referee.ranking.fit import model_cov, sandwich
from referee.schema import A_WINS, B_WINS

#: rating points per unit of log-strength (Elo scale)
SCALE = 400.0 / math.log(10.0)


@cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while planning: the systems are M × M with M ≲ a few hundred, and BLAS
    threads fighting over busy cores made a 100 × 100 solve forty times slower (measured here)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class Progress:
    """Where a plan stands (the judge runner's progress line).

    ``calls_spent`` of ``calls_budget`` (both orders count as two calls), comparisons proposed
    and observed, the current ``leader``, the ``widest`` adjacent pair in the current order
    and its interval width for the difference (rating points, at ``level``), how many adjacent
    pairs are ``separated``, and ``reason`` once finished (``budget``, ``exhausted``,
    ``separated``, ``rounds``, ``brackets``)."""

    plan: str
    calls_spent: int
    calls_budget: int
    proposed: int
    observed: int
    leader: str | None
    widest: tuple[str, str] | None
    widest_width: float
    separated: int
    adjacent: int
    finished: bool
    reason: str | None

    def line(self) -> str:
        """One line for a progress display."""
        parts = [f"{self.plan}: {self.calls_spent:,} of {self.calls_budget:,} calls"]
        if self.leader:
            parts.append(f"leader {self.leader}")
        if self.widest:
            parts.append(f"widest adjacent {self.widest[0]} vs {self.widest[1]} ±{self.widest_width / 2:.0f}")
        if self.adjacent:
            parts.append(f"{self.separated}/{self.adjacent} adjacent pairs separated")
        if self.reason:
            parts.append(f"finished ({self.reason})")
        return "; ".join(parts)


class WorkingFit:
    """θ (centred log-strengths), whether the prior was needed, and the covariance (computed on
    first use: the active planner needs only θ)."""

    def __init__(self, theta: np.ndarray, penalised: bool, cov: Any) -> None:
        self.theta = theta
        self.penalised = penalised
        self._cov = cov

    @property
    def cov(self) -> np.ndarray:
        if callable(self._cov):
            self._cov = self._cov()
        return np.asarray(self._cov)


class PlanState:
    """Bookkeeping shared by the planners (see the module docstring)."""

    def __init__(self, cs: CandidateSet, budget: int, *, calls_per_comparison: int = 2, level: float = 0.95) -> None:
        self.cs = cs
        self.budget = int(budget)
        self.cpc = int(calls_per_comparison)
        self.level = float(level)
        m = cs.n_models
        self.W = np.zeros((m, m))
        self.S = np.zeros((m, m))
        self.Q = np.zeros((m, m))
        self.used_keys: set[int] = set()  # candidates proposed or recorded (keys, CandidateSet.key)
        self.pending: dict[int, int] = {}  # key -> candidate index, proposed and not yet observed
        self.pending_pairs = np.zeros(cs.n_pairs)  # proposed, unobserved comparisons per pair
        self.pair_next = cs.pair_start[:-1].copy()  # next position in by_pair for each pair
        self.proposed = 0
        self.observed = 0
        self.spent = 0
        self._fit: WorkingFit | None = None
        self._fit_at = -1  # self.observed when the fit was made
        self._mle = False  # the MLE exists (Ford's condition held once)

    # -- budget ---------------------------------------------------------------------------------------
    @property
    def left(self) -> int:
        """Comparisons the budget still allows."""
        return max(self.budget - self.spent, 0)

    def take(self, k: int) -> Candidate:
        """Mark candidate index ``k`` as proposed and return it (the caller checked ``left``)."""
        key = self.cs.key(k)
        self.used_keys.add(key)
        self.pending[key] = k
        self.pending_pairs[self.cs.pair[k]] += 1
        self.proposed += 1
        self.spent += 1
        return self.cs.candidate(k)

    def next_of_pair(self, pair: int) -> int | None:
        """The pair's next unused candidate index (in its seeded prompt order), or None."""
        cs = self.cs
        pos, end = int(self.pair_next[pair]), int(cs.pair_start[pair + 1])
        while pos < end:
            k = int(cs.by_pair[pos])
            pos += 1
            if cs.key(k) not in self.used_keys:
                self.pair_next[pair] = pos
                return k
        self.pair_next[pair] = pos
        return None

    def pair_left(self) -> np.ndarray:
        """Per pair, an upper bound on its unused candidates (exact unless outcomes were recorded)."""
        return self.cs.pair_start[1:] - self.pair_next

    # -- outcomes -------------------------------------------------------------------------------------
    def observe(self, outcomes: Sequence[Outcome]) -> list[tuple[int | None, int, int, float]]:
        """Add outcomes; returns ``(candidate index or None, i, j, score of i)`` for each one used.

        An outcome of a candidate this plan did not propose counts against the budget (it was
        judged); one of two models unknown to the candidate set is ignored."""
        out: list[tuple[int | None, int, int, float]] = []
        cs = self.cs
        for prompt_id, ma, mb, score in outcomes:
            i, j = cs.model_index.get(str(ma)), cs.model_index.get(str(mb))
            if i is None or j is None or i == j:
                continue
            key = cs.key_of(str(prompt_id), str(ma), str(mb))
            k: int | None = None
            if key is not None and key in self.pending:
                k = self.pending.pop(key)
                self.pending_pairs[cs.pair[k]] -= 1
            elif key is not None and key in self.used_keys:
                continue  # a second outcome of the same comparison: counted once
            elif key is not None:
                self.used_keys.add(key)
                self.spent += 1
                k = self._index_of(key)
            self.observed += 1
            s = float(score)
            if math.isnan(s):
                out.append((k, i, j, s))
                continue
            s = min(max(s, 0.0), 1.0)
            self.W[i, j] += 1
            self.W[j, i] += 1
            self.S[i, j] += s
            self.S[j, i] += 1 - s
            self.Q[i, j] += s * s
            self.Q[j, i] += (1 - s) * (1 - s)
            out.append((k, i, j, s))
        return out

    def _index_of(self, key: int) -> int | None:
        cs = self.cs
        pair, prompt = divmod(key, len(cs.prompts))
        idx = cs.by_pair[cs.pair_start[pair]:cs.pair_start[pair + 1]]
        hit = idx[cs.prompt[idx] == prompt]
        return int(hit[0]) if hit.size else None

    # -- the working fit ------------------------------------------------------------------------------
    def cells(self) -> Cells:
        """The observed pair statistics as ranking cells (a-wins weight S, b-wins weight W − S)."""
        i, j = np.nonzero(np.triu(self.W, 1))
        s, w = self.S[i, j], self.W[i, j]
        a, b = np.concatenate([i, i]), np.concatenate([j, j])
        y = np.concatenate([np.full(i.size, A_WINS), np.full(i.size, B_WINS)])
        ww = np.concatenate([s, w - s])
        return Cells(models=tuple(self.cs.models), a=a, b=b, y=y, s=np.ones(y.size, dtype=np.int64), w=ww, n=ww.copy())

    def fit(self) -> WorkingFit:
        """The working fit (cached until new outcomes arrive), warm-started at the previous θ."""
        if self._fit is not None and self._fit_at == self.observed:
            return self._fit
        m = self.cs.n_models
        theta0 = None if self._fit is None else self._fit.theta
        if not self.W.any():
            self._fit = WorkingFit(np.zeros(m), True, model_cov(WEAK_PRIOR * np.eye(m), m))
        else:
            cells = self.cells()
            # more outcomes only add edges to the "has beaten" graph: once the MLE exists, it always does
            self._mle = self._mle or mle_exists(pair_stats(cells))
            if self._mle:
                # a 1e-9 ridge: θ is the MLE to ~1e-9, and fit_bt returns H⁻¹ instead of computing a
                # cell-level sandwich that is not the one wanted here (see sandwich_cov)
                f = fit_bt(cells, prior=1e-9, theta0=theta0, tol=1e-6)
                theta = f.theta
                self._fit = WorkingFit(theta, False, lambda: self.sandwich_cov(theta))
            else:
                f = fit_bt(cells, prior=WEAK_PRIOR, theta0=theta0, tol=1e-6)
                self._fit = WorkingFit(f.theta, True, f.cov)
        self._fit_at = self.observed
        return self._fit

    def information(self, theta: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Fisher information ``Σ_pairs n_ij p(1−p) (e_i − e_j)(e_i − e_j)ᵀ`` at ``theta``; ``extra``
        adds comparisons per candidate pair (proposed, not yet observed)."""
        m = self.cs.n_models
        n = np.triu(self.W, 1)
        if extra is not None:
            n = n.copy()
            np.add.at(n, (self.cs.pair_i, self.cs.pair_j), extra)
        i, j = np.nonzero(n)
        p = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
        return laplacian(i, j, n[i, j] * p * (1 - p), m)

    def sandwich_cov(self, theta: np.ndarray) -> np.ndarray:
        """``H⁻¹ J H⁻¹`` with one comparison per unit (see the module docstring)."""
        m = self.cs.n_models
        i, j = np.nonzero(np.triu(self.W, 1))
        w, s, q = self.W[i, j], self.S[i, j], self.Q[i, j]
        p = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
        hess = laplacian(i, j, w * p * (1 - p), m)
        meat = laplacian(i, j, np.maximum(q - 2 * p * s + p * p * w, 0.0), m)
        return sandwich(hess, meat, m)

    # -- stopping -------------------------------------------------------------------------------------
    def adjacent(self, top_k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The current order (best first) and, for each adjacent pair checked (all, or ranks
        1…K+1 with ``top_k``), the gap ``|θ̂_k − θ̂_l|`` and its standard error."""
        f = self.fit()
        order = np.argsort(-f.theta, kind="stable")
        last = len(order) - 1 if top_k is None else min(top_k, len(order) - 1)
        hi, lo = order[:last], order[1:last + 1]
        gap = f.theta[hi] - f.theta[lo]
        var = f.cov[hi, hi] + f.cov[lo, lo] - 2 * f.cov[hi, lo]
        return order, gap, np.sqrt(np.maximum(var, 1e-300))

    def critical(self, n_checks: int) -> float:
        """The Bonferroni critical value for ``n_checks`` two-sided tests that hold jointly at ``level``."""
        from scipy.special import ndtri

        return float(ndtri(1 - (1 - self.level) / (2 * max(n_checks, 1))))

    def separated(self, top_k: int | None = None) -> tuple[int, int]:
        """(adjacent pairs separated, adjacent pairs checked) at ``level``, jointly (Bonferroni)."""
        if self.fit().penalised:
            _, gap, se = self.adjacent(top_k)
            return 0, int(gap.size)
        _, gap, se = self.adjacent(top_k)
        return int((gap > self.critical(gap.size) * se).sum()), int(gap.size)

    def progress(self, plan: str, finished: bool, reason: str | None, top_k: int | None = None) -> Progress:
        """A :class:`Progress` snapshot."""
        leader = widest = None
        width = math.nan
        sep = adj = 0
        if self.W.any():
            order, _gap, se = self.adjacent(top_k)
            leader = self.cs.models[int(order[0])]
            if se.size:
                at = int(np.argmax(se))
                widest = (self.cs.models[int(order[at])], self.cs.models[int(order[at + 1])])
                width = float(2 * self.critical(1) * se[at] * SCALE)
            sep, adj = self.separated(top_k)
        return Progress(plan, self.spent * self.cpc, self.budget * self.cpc, self.proposed, self.observed, leader,
                        widest, width, sep, adj, finished, reason)

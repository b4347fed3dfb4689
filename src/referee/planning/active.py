"""``active``: the comparisons expected to reduce ranking uncertainty most under the current fit.

After a warm-up of two seeded random matchings (every model is compared twice), each batch is
chosen as follows (θ̂ and its covariance Σ from the working Bradley–Terry fit,
:mod:`referee.planning.state`, refitted warm-started whenever outcomes arrived).

*Targets.*  The ranking is uncertain where neighbours in the current order are close: the
targets are the pairs (k, l) at most ``reach`` = 3 places apart in the current order (with
``top_k = K``, only those among the first K + 1 places, plus a 1% weight on the rest), with
``z_t = |θ̂_k − θ̂_l| / σ_t``, ``σ_t² = Var(θ̂_k − θ̂_l)``.  A target's weight is the normal
density ``φ(z_t)``: near zero once a pair is separated, largest for pairs the data cannot
order yet.

*Value of a comparison.*  One more comparison of models i and j adds information
``v_ij c cᵀ`` (``c = e_i − e_j``, ``v_ij = p(1 − p)``, ``p = σ(θ̂_i − θ̂_j)``) to the Fisher
information, which by Sherman–Morrison lowers each target variance by

    ΔVar_t(ij) = v_ij (cᵀ Σ t)² / (1 + v_ij cᵀ Σ c),     t = e_k − e_l,

so the value of comparing i and j is ``Σ_t φ(z_t) ΔVar_t(ij) / σ_t²`` — the weighted
relative variance reduction of the uncertain neighbour differences (the expected reduction
in the variance of θᵢ − θⱼ for pairs whose intervals overlap, as the issue asks; cf. the
dueling-bandit selection of APOHF).  The information does not depend on the outcome, so a
batch is chosen greedily with exact rank-one updates of Σ after each pick: the batch spreads
over pairs by itself, and comparisons proposed but not yet observed are counted in Σ as if
already made.  For speed only the ``4·n`` best pairs of the first scoring are rescored
within a batch.  Each chosen pair is judged on its next unused prompt (a seeded random order
per pair), so a pair's comparisons spread over different prompts.

*Exploration.*  A share ``explore`` = 25% of every batch goes to uniformly random pairs.  Pure
uncertainty sampling starves the models at the ends of the order (they have one close
neighbour), and with few comparisons per model their intervals under-covered (91% in
``tests/test_planning_coverage.py``'s arenas, against 95% for random sampling); the random
share keeps every model's information growing, which is what the asymptotic normality of the
MLE under an adaptive design needs (Lai & Wei 1982; Hadad et al. 2021), at no measurable cost
in Kendall τ.

Cost per batch: one Newton refit (warm-started), one M × M inverse, an (M·reach) × pairs
scoring and n cheap updates — a few milliseconds for 100 models (``bench/plan_bench.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from referee.planning.common import BasePlanner
from referee.ranking.bt import WEAK_PRIOR
from referee.ranking.fit import model_cov


def targets(theta: np.ndarray, reach: int = 3, top_k: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target pairs (k, l) at most ``reach`` places apart in the order of ``theta`` and their
    relative weight before φ (1, or with ``top_k`` 1 among the first K + 1 places and 0.01 elsewhere)."""
    m = theta.size
    order = np.argsort(-theta, kind="stable")
    ks, ls, ws = [], [], []
    for d in range(1, min(reach, m - 1) + 1):
        hi, lo = order[:-d], order[d:]
        w = np.ones(hi.size)
        if top_k is not None:
            w = np.where(np.arange(hi.size) + d <= top_k, 1.0, 0.01)
        ks.append(hi)
        ls.append(lo)
        ws.append(w)
    if not ks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(ks), np.concatenate(ls), np.concatenate(ws)


@dataclass(frozen=True)
class _Scoring:
    """The pieces of the value of a comparison (module docstring) for every candidate pair."""

    v: np.ndarray  # p(1 − p) per pair
    gp: np.ndarray  # Σ_t weight_t (cᵀΣt)² per pair
    s_ij: np.ndarray  # cᵀΣc per pair
    weight: np.ndarray  # φ(z_t) · w0_t / σ_t² per target
    dw: np.ndarray  # Σ T diag(weight)

    @classmethod
    def of(cls, theta: np.ndarray, sigma: np.ndarray, pi: np.ndarray, pj: np.ndarray,
           tgt: tuple[np.ndarray, np.ndarray, np.ndarray]) -> _Scoring:
        tk, tl, w0 = tgt
        var_t = np.maximum(sigma[tk, tk] + sigma[tl, tl] - 2 * sigma[tk, tl], 1e-12)
        z = np.abs(theta[tk] - theta[tl]) / np.sqrt(var_t)
        weight = w0 * np.exp(-0.5 * z * z) / var_t
        p = 1.0 / (1.0 + np.exp(-(theta[pi] - theta[pj])))
        # D = Σ T (column t is Σ(e_k − e_l)), G = D diag(weight) Dᵀ: a pair's weighted sum of squared
        # cᵀΣt over the targets is gp = G_ii + G_jj − 2 G_ij, so every pair is scored from M × M matrices
        d = sigma[:, tk] - sigma[:, tl]
        dw = d * weight
        g = dw @ d.T
        gd = np.diag(g)
        gp = gd[pi] + gd[pj] - 2 * g[pi, pj]
        s_ij = np.maximum(sigma[pi, pi] + sigma[pj, pj] - 2 * sigma[pi, pj], 1e-12)
        return cls(p * (1 - p), gp, s_ij, weight, dw)

    @property
    def values(self) -> np.ndarray:
        out: np.ndarray = self.v / (1 + self.v * self.s_ij) * self.gp
        return out


def comparison_values(theta: np.ndarray, sigma: np.ndarray, pair_i: np.ndarray, pair_j: np.ndarray, *,
                      reach: int = 3, top_k: int | None = None) -> np.ndarray:
    """The value of one more comparison of each pair ``(pair_i[p], pair_j[p])`` under the fit
    ``theta`` with covariance ``sigma``: ``Σ_t φ(z_t) ΔVar_t(ij) / σ_t²`` (module docstring).

    What :class:`ActivePlanner` maximises batch by batch, and what the arena's ``active`` pair
    sampler (:mod:`referee.arena.sampling`) weights pairs by — one criterion for both.
    """
    pi, pj = np.asarray(pair_i, dtype=np.int64), np.asarray(pair_j, dtype=np.int64)
    return _Scoring.of(theta, sigma, pi, pj, targets(theta, reach, top_k)).values


class ActivePlanner(BasePlanner):
    """Uncertainty-reduction sampling (see the module docstring)."""

    name = "active"

    def __init__(self, candidates: Any, *, reach: int = 3, warmup: int = 2, explore: float = 0.25,
                 **kwargs: Any) -> None:
        super().__init__(candidates, **kwargs)
        self.reach = int(reach)
        self.explore = float(explore)
        self._warm: list[int] = []
        m = self.cs.n_models
        for _ in range(warmup):
            perm = self.rng.permutation(m)
            for t in range(0, m - 1, 2):
                k = self.cs.pair_of(int(perm[t]), int(perm[t + 1]))
                if k is not None:
                    self._warm.append(k)
        self._exhausted = False
        self._checked_at = 0

    # -- selection ------------------------------------------------------------------------------------
    def _targets(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return targets(theta, self.reach, self.top_k)

    def _select(self, n: int) -> list[int]:
        st, cs = self.state, self.cs
        theta = st.fit().theta
        m = cs.n_models
        info = st.information(theta, st.pending_pairs)
        info[np.diag_indices(m)] += WEAK_PRIOR * 1e-3  # keeps Σ finite before every model has played
        sigma = model_cov(info, m)
        tgt = self._targets(theta)
        tk, tl, _ = tgt
        left = st.pair_left().astype(np.int64)
        if not (left > 0).any():
            return []
        pi, pj = cs.pair_i, cs.pair_j
        sc = _Scoring.of(theta, sigma, pi, pj, tgt)
        v, gp, s_ij, weight, dw = sc.v, sc.gp, sc.s_ij, sc.weight, sc.dw
        # within the batch only the best 8n pairs of the first scoring compete (values only shrink as
        # information is added, so the others rarely matter; this keeps a batch at a few ms)
        first = np.where(left > 0, sc.values, -np.inf)
        if first.size > 8 * n:
            keep = np.argpartition(-first, 8 * n - 1)[:8 * n]
            pairs, pi, pj, v, gp, s_ij, left = keep, pi[keep], pj[keep], v[keep], gp[keep], s_ij[keep], left[keep]
        else:
            pairs = np.arange(first.size)
        # after r picks Σ_r = Σ − Σ_s α_s u_s u_sᵀ and D_r = D − Σ_s α_s u_s (T ᵀu_s)ᵀ; kept as factors
        us = np.zeros((m, n))
        uts = np.zeros((tk.size, n))
        alphas = np.zeros(n)
        picks: list[int] = []
        r = 0
        while len(picks) < n:
            score = v / (1 + v * s_ij) * gp
            score[left <= 0] = -np.inf
            b = int(np.argmax(score))
            if not np.isfinite(score[b]):
                break
            c_k = st.next_of_pair(int(pairs[b]))
            if c_k is None:
                left[b] = 0
                continue
            picks.append(c_k)
            left[b] -= 1
            # rank-one update: Σ' = Σ − α u uᵀ with u = Σc, α = v / (1 + v cᵀΣc)
            i, j = int(pi[b]), int(pj[b])
            u = sigma[:, i] - sigma[:, j] - us[:, :r] @ (alphas[:r] * (us[i, :r] - us[j, :r]))
            alpha = v[b] / (1 + v[b] * s_ij[b])
            ut = u[tk] - u[tl]
            wut = weight * ut
            h = dw @ ut - us[:, :r] @ (alphas[:r] * (uts[:, :r].T @ wut))  # D_r W ut
            q = float(ut @ wut)
            du, dh = u[pi] - u[pj], h[pi] - h[pj]
            gp = np.maximum(gp - 2 * alpha * dh * du + alpha * alpha * q * du * du, 0.0)
            s_ij = np.maximum(s_ij - alpha * du * du, 1e-12)
            us[:, r], uts[:, r], alphas[r] = u, ut, alpha
            r += 1
        return picks

    def _next(self, n: int) -> list[int]:
        out: list[int] = []
        while self._warm and len(out) < n:
            c = self.state.next_of_pair(self._warm.pop(0))
            if c is not None:
                out.append(c)
        if len(out) < n and not self._warm:
            want = n - len(out)
            n_explore = int(self.rng.binomial(want, self.explore)) if self.explore > 0 else 0
            more = self._explore(n_explore)
            more += self._select(want - len(more))
            if not more and not out and not self.state.pending:
                self._exhausted = True
            out += more
        return out

    def _explore(self, n: int) -> list[int]:
        """``n`` comparisons of uniformly random pairs (among those with prompts left)."""
        live = np.flatnonzero(self.state.pair_left() > 0)
        out: list[int] = []
        for k in self.rng.choice(live, size=min(n, live.size), replace=False) if live.size and n else []:
            c = self.state.next_of_pair(int(k))
            if c is not None:
                out.append(c)
        return out

    def _done(self) -> str | None:
        return "exhausted" if self._exhausted else None

    def _check_now(self) -> bool:
        # the stopping rule needs a refit: check after every half batch of outcomes
        if self._warm or self.state.observed - self._checked_at < max(1, self.batch // 2):
            return False
        self._checked_at = self.state.observed
        return True

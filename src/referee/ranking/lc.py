"""Length-controlled win rate against a baseline (Dubois et al. 2024, "Length-Controlled AlpacaEval").

For a model ``m`` compared with the baseline ``b`` on instruction ``x``, AlpacaEval's
``length_controlled_v1`` GLM is a logistic regression of the (soft) preference
``y = P(m beats b)``:

    logit P(m beats b | x) = θ_m + β_m · tanh(Δ_mx / sd_m) + γ_m · δ_x,

with ``Δ_mx = len(m's response) - len(b's response)``, ``sd_m`` the standard deviation
(ddof 1) of ``Δ`` over m's comparisons and ``δ_x`` an instruction-difficulty covariate.
The length-controlled win rate is the prediction at equal lengths:

    LC_m = 100 · mean_x σ(θ_m + γ_m δ_x)        (mean over m's distinct instructions).

How the fit differs from tatsu-lab/alpaca_eval ``metrics/glm_winrate.py``:

* Sign: AlpacaEval's length feature is baseline minus model, so its
  ``np.tanh(std_delta_len)`` weight is ``-β_m`` (``not_gamed_baseline`` is ``θ_m`` and
  ``instruction_difficulty`` is ``γ_m``).
* Regularisation: AlpacaEval adds the judge's verdicts on the baseline's own
  verbose/concise rewrites (``df_gamed.csv``, HuggingFace only) with weight 0.2 and fits
  with a CV-chosen L1 penalty; this keeps β_m sane for models whose lengths barely vary
  or barely overlap the baseline's (e.g. ``gpt4_gamed``).  Offline we use the same idea
  with the data at hand: a Gaussian prior centred on the pooled coefficients
  ``(β̄, γ̄)`` of ``θ_m + β̄ t + γ̄ δ_x`` (one judge-wide length bias), worth
  ``prior_weight`` (default 0.2) of the model's sample:
  ``β_m ~ N(β̄, 1/(λ W_m ī_β))``, ``γ_m ~ N(γ̄, 1/(λ W_m ī_γ))`` with ``W_m`` the model's
  total weight and ``ī`` the pooled Fisher information per unit weight (a scaled
  unit-information prior, Kass & Wasserman 1995).  MAP by Newton's method.
* Difficulty: AlpacaEval reads ``δ_x`` from a file fitted once on its 2024 leaderboard by
  a joint model (``notebooks/instruction_difficulty.ipynb``); so can we
  (``difficulty=``, :func:`read_difficulty`, ``referee rank --lc-difficulty FILE``).  Without ``difficulty`` we
  fit that joint model on the data at hand,

      logit P(m beats b | x) = θ'_m + β'_m tanh(Δ_mx / sd_m) + δ_x,   δ_x ~ N(0, 1),

  and give model ``m`` the leave-m-out value ``δ_x^(-m) = δ_x - r_mx / (H_x - v_mx)``
  (one Newton step without m's verdicts on x: ``r_mx`` their summed residual ``w(y - p)``,
  ``v_mx`` their curvature ``w p(1-p)``, ``H_x`` the curvature of δ_x incl. the prior), so
  a model's own verdicts never enter its covariate.  With one model δ^(-m) is 0 (up to
  rounding: AlpacaEval's minimal GLM); with ~60 models it barely differs from δ_x.
  Larger δ_x means the baseline is easier to beat on ``x``.  With few models δ is weak
  and noisy (on AlpacaEval 2, fits on 1-3 models move LC by ~4 points on average); pass
  ``difficulty=instruction_difficulty(larger_frame, baseline)`` when more annotations on
  the same instructions exist.

Standard error (``lc_win_rate_se``): the cluster bootstrap over instructions (Efron &
Tibshirani 1993, §6; clusters as in Field & Welsh 2007), through :mod:`referee.resample`.
Instructions are the sampling units of a benchmark — a model's verdicts on one instruction
are correlated with the baseline's and the other models' — so a round draws the
instructions with replacement, keeps every verdict on a drawn instruction (an instruction
drawn k times weighs k times), refits the pooled prior and every per-model GLM (Newton,
started from the full-data fit, to a step below 1e-6), and recomputes
``LC_m = Σ_x k_x σ(θ*_m + γ*_m δ_x) / Σ_x k_x``; the SE is the standard deviation of the
rounds (default 200: Monte Carlo error of the SE ≈ 1/√(2·200) = 5%).  Rounds whose refit
does not converge are counted and left out.  The difficulty δ stays fixed at its full-data
value and travels with its instruction: a difficulty file is external by definition; the
estimated δ^(-m) already leaves m's own verdicts out (so m's noise does not enter its
covariate twice), and its estimation error shrinks with the number of models; refitting
the joint model (~2 s per fit on AlpacaEval 2) in every round would turn seconds into
minutes.  The SE therefore leaves out the estimation error of δ, which matters when few
models share the instructions.  (The pooled prior, by contrast, is refitted: keeping it
fixed would change the SE by < 2.5% on AlpacaEval 2.)  The length feature's scale sd_m is
kept.  All rounds are fitted at once (arrays rounds × observations, sums per model by
``np.add.reduceat``).

The delta method (``lc_win_rate_se_delta``, and ``lc_win_rate_se`` with ``rounds=0``):
the cluster-robust (instruction) sandwich covariance of ``(θ_m, β_m, γ_m)`` plus the
sampling variance of the mean over instructions, ``Var_x σ(θ_m + γ_m δ_x) / K``.  On the
AlpacaEval 2 annotations (57 models) the two agree within 0.92-1.15x; on 100 simulated
benchmarks (``tests/test_winrate.py``) both are 0.83-1.03x the actual spread of LC across
fresh instruction sets.  AlpacaEval's
``lc_standard_error`` is only the second term, hence much smaller.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit, log_expit

from referee.errors import InputError
from referee.io.source import Source
from referee.ranking.baseline import baseline_observations
from referee.resample import Resamples, bootstrap
from referee.text import text_lengths as _text_lengths

__all__ = ["instruction_difficulty", "lc_win_rates", "read_difficulty", "text_lengths"]

Tokenizer = Callable[[str], "Sequence[object] | int"]

_RIDGE = 1e-3  # on otherwise unpenalised coefficients: keeps separated fits finite
_DIFFICULTY_PRIOR = 1.0  # δ_x ~ N(0, 1) in the joint model
_MAX_STEP = 5.0


# ---------------------------------------------------------------- features


def text_lengths(texts: pd.Series, length: str = "chars", tokenizer: Tokenizer | None = None) -> np.ndarray:
    """Length of each text in characters (code points) or tokens, as floats.

    The one definition of :func:`referee.text.text_lengths`: tokens are whitespace-separated
    words (``len(t.split())``), or ``tokenizer(text)`` (a token sequence or a count; it
    implies ``length="tokens"``), measured once per distinct text.
    """
    if length not in ("chars", "tokens"):
        raise InputError(f"length must be 'chars' or 'tokens', got {length!r}", field="length")
    unit = "tokens" if tokenizer is not None else length
    return _text_lengths(texts, unit, tokenizer=tokenizer).astype(float)


def _length_delta(df: pd.DataFrame, obs: pd.DataFrame, length: str, tokenizer: Tokenizer | None) -> np.ndarray:
    """len(model response) - len(baseline response) per observation; InputError when a response is missing."""
    rows, first = obs["row"].to_numpy(), obs["model_first"].to_numpy()
    parts = []
    for col in ("response_a", "response_b"):
        if col not in df.columns:
            raise InputError("length control needs the responses; column missing", field=col)
        texts = df[col].iloc[rows]
        bad = texts.isna().to_numpy()
        if bad.any():
            raise InputError(
                f"length control needs every response; {int(bad.sum())} comparisons with the baseline "
                f"lack one (first at row {int(rows[np.argmax(bad)]) + 1})",
                field=col,
            )
        parts.append(texts)
    lens = text_lengths(pd.concat(parts, ignore_index=True), length, tokenizer)
    len_a, len_b = lens[: len(rows)], lens[len(rows):]
    result: np.ndarray = np.where(first, len_a - len_b, len_b - len_a)
    return result


def _length_feature(delta: np.ndarray, mi: np.ndarray, n_models: int) -> np.ndarray:
    """tanh(Δ / sd_m), sd_m the per-model standard deviation (ddof 1) of Δ; 0 where sd_m is 0."""
    n = np.bincount(mi, minlength=n_models).astype(float)
    mean = np.bincount(mi, delta, n_models) / np.maximum(n, 1)
    ss = np.bincount(mi, (delta - mean[mi]) ** 2, n_models)
    sd = np.sqrt(np.divide(ss, n - 1, out=np.zeros(n_models), where=n > 1))
    result: np.ndarray = np.tanh(np.divide(delta, sd[mi], out=np.zeros_like(delta), where=sd[mi] > 0))
    return result


def _instruction_keys(df: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """prompt_id per observation (prompt text as fallback); InputError when neither is complete."""
    for col in ("prompt_id", "prompt"):
        if col in df.columns:
            keys = df[col].iloc[rows].reset_index(drop=True)
            if not keys.isna().any():
                return keys.astype(str)
    raise InputError("instruction difficulty needs a prompt_id (or prompt) on every comparison", field="prompt_id")


def _prepare(df: pd.DataFrame, baseline: str, length: str, tokenizer: Tokenizer | None) -> dict[str, Any]:
    """Observations against the baseline with model/instruction codes and the length feature."""
    obs = baseline_observations(df, baseline)
    delta_len = _length_delta(df, obs, length, tokenizer)
    mi, models = pd.factorize(obs["model"], sort=True)
    keys = _instruction_keys(df, obs["row"].to_numpy())
    xi, instr = pd.factorize(keys)
    return {
        "mi": mi.astype(np.int64), "models": np.asarray(models, dtype=str),
        "xi": xi.astype(np.int64), "instr": np.asarray(instr, dtype=str), "keys": keys,
        "rows": obs["row"].to_numpy(),
        "t": _length_feature(delta_len, mi, len(models)),
        "y": obs["score"].to_numpy(dtype=float), "w": obs["weight"].to_numpy(dtype=float),
    }


# ---------------------------------------------------------------- one Newton solver


def _design(rows: int, cols: list[np.ndarray], vals: list[np.ndarray], n_cols: int) -> sparse.csr_matrix:
    """Sparse design with one entry per (row, listed column)."""
    r = np.tile(np.arange(rows), len(cols))
    return sparse.csr_matrix((np.concatenate(vals), (r, np.concatenate(cols))), shape=(rows, n_cols))


Solver = Callable[[sparse.csr_matrix, np.ndarray], np.ndarray]


def _schur_solver(head: int) -> Solver:
    """Solve H s = g when the trailing block of H (after ``head`` columns) is diagonal."""

    def solve(h: sparse.csr_matrix, g: np.ndarray) -> np.ndarray:
        a = h[:head, :head].toarray()
        if h.shape[0] == head:
            return np.linalg.solve(a, g)
        b = h[:head, head:].toarray()
        dinv = 1.0 / h.diagonal()[head:]
        u = np.linalg.solve(a - (b * dinv) @ b.T, g[:head] - b @ (dinv * g[head:]))
        return np.concatenate([u, dinv * (g[head:] - b.T @ u)])

    return solve


def _block_hessians(h: sparse.csr_matrix, size: int) -> np.ndarray:
    """The diagonal blocks (n × size × size) of a block-diagonal sparse matrix."""
    idx = np.arange(h.shape[0]).reshape(-1, size)
    rows = np.broadcast_to(idx[:, :, None], (len(idx), size, size))
    cols = np.broadcast_to(idx[:, None, :], (len(idx), size, size))
    return np.asarray(h[rows.ravel(), cols.ravel()]).reshape(len(idx), size, size)


def _block_solver(size: int) -> Solver:
    """Solve H s = g for a block-diagonal H with blocks of ``size``."""

    def solve(h: sparse.csr_matrix, g: np.ndarray) -> np.ndarray:
        return np.linalg.solve(_block_hessians(h, size), g.reshape(-1, size, 1)).ravel()

    return solve


def _logit_map(
    x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray, prec: np.ndarray, solve: Solver,
    mean: np.ndarray | None = None, iters: int = 100, tol: float = 1e-9,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """MAP of a soft-label logistic regression with a N(mean, diag(1/prec)) prior.

    Maximises Σ w [y log σ(xφ) + (1-y) log σ(-xφ)] - ½ Σ prec (φ - mean)² by Newton's
    method (steps clipped to 5), using ``solve`` for the structured Hessian.  Returns φ
    and the sparse penalised Hessian ``xᵀ diag(w σ'(xφ)) x + diag(prec)`` at φ.
    """
    mean = np.zeros(x.shape[1]) if mean is None else mean
    phi = mean.copy()
    xt = x.T.tocsr()

    def hessian(p: np.ndarray) -> sparse.csr_matrix:
        return (xt @ sparse.diags(w * p * (1 - p)) @ x + sparse.diags(prec)).tocsr()

    for _ in range(iters):
        p = expit(x @ phi)
        step = solve(hessian(p), xt @ (w * (y - p)) - prec * (phi - mean))
        big = np.abs(step).max(initial=0.0)
        phi += step * (_MAX_STEP / big) if big > _MAX_STEP else step
        if big < tol:
            break
    return phi, hessian(expit(x @ phi))


# ---------------------------------------------------------------- the three fits


def _joint_difficulty(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Joint model θ'_m + β'_m t + δ_x; returns (δ centred, leave-own-model-out δ per observation)."""
    mi, xi, t, y, w = d["mi"], d["xi"], d["t"], d["y"], d["w"]
    m, k = len(d["models"]), len(d["instr"])
    ones = np.ones_like(t)
    x = _design(len(t), [mi, m + mi, 2 * m + xi], [ones, t, ones], 2 * m + k)
    prec = np.concatenate([np.full(2 * m, _RIDGE), np.full(k, _DIFFICULTY_PRIOR)])
    phi, hess = _logit_map(x, y, w, prec, _schur_solver(2 * m))
    delta = phi[2 * m:]
    p = expit(x @ phi)
    cell, cells = pd.factorize(mi * k + xi)
    r_mx = np.bincount(cell, w * (y - p), len(cells))[cell]  # m's residual and curvature on x
    v_mx = np.bincount(cell, w * p * (1 - p), len(cells))[cell]
    h_x = hess.diagonal()[2 * m:]
    loo = delta[xi] - r_mx / (h_x[xi] - v_mx)
    centre = delta.mean()
    return delta - centre, loo - centre


def _pooled_prior(d: dict[str, Any], dx: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Prior (mean, precision) for the per-model (θ, β, γ) from the pooled model θ_m + β̄ t + γ̄ δ."""
    mi, t, y, w = d["mi"], d["t"], d["y"], d["w"]
    m = len(d["models"])
    x = _design(len(t), [mi, np.full_like(mi, m), np.full_like(mi, m + 1)], [np.ones_like(t), t, dx], m + 2)
    phi, _ = _logit_map(x, y, w, np.full(m + 2, _RIDGE), _schur_solver(m + 2))
    v = w * expit(x @ phi) * expit(-(x @ phi))
    unit_info = np.array([np.sum(v * t * t), np.sum(v * dx * dx)]) / max(np.sum(w), 1e-300)
    w_m = np.bincount(mi, w, m)
    prec = np.column_stack([np.full(m, _RIDGE), _RIDGE + weight * w_m[:, None] * unit_info[None, :]])
    mean = np.column_stack([np.zeros(m), np.full(m, phi[m]), np.full(m, phi[m + 1])])
    return mean.ravel(), prec.ravel()


def _per_model(d: dict[str, Any], dx: np.ndarray, prior_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-model GLMs (θ_m, β_m, γ_m) as one block-diagonal MAP fit; returns (φ as M×3, sandwich cov M×3×3)."""
    mi, xi, t, y, w = d["mi"], d["xi"], d["t"], d["y"], d["w"]
    m = len(d["models"])
    feats = np.column_stack([np.ones_like(t), t, dx])
    x = _design(len(t), [3 * mi + j for j in range(3)], list(feats.T), 3 * m)
    mean, prec = _pooled_prior(d, dx, prior_weight)
    phi, hess = _logit_map(x, y, w, prec, _block_solver(3), mean)
    resid = w * (y - expit(x @ phi))
    cluster, _ = pd.factorize(mi * (xi.max() + 1) + xi)
    n_cl = int(cluster.max()) + 1
    scores = np.column_stack([np.bincount(cluster, resid * f, n_cl) for f in feats.T])
    cl_model = np.zeros(n_cl, dtype=np.int64)
    cl_model[cluster] = mi
    meat = np.zeros((m, 3, 3))
    for i in range(3):
        for j in range(3):
            meat[:, i, j] = np.bincount(cl_model, scores[:, i] * scores[:, j], m)
    inv = np.linalg.inv(_block_hessians(hess, 3))
    return phi.reshape(m, 3), inv @ meat @ inv


def _lc_and_se(d: dict[str, Any], dx: np.ndarray, phi: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LC_m = mean over m's distinct instructions of σ(θ_m + γ_m δ) and its delta-method SE."""
    mi, xi = d["mi"], d["xi"]
    n_models = len(d["models"])
    _, first = np.unique(mi * (xi.max() + 1) + xi, return_index=True)
    m, dd = mi[first], dx[first]
    q = expit(phi[m, 0] + phi[m, 2] * dd)
    k = np.bincount(m, minlength=n_models).astype(float)
    lc = np.bincount(m, q, n_models) / k
    dq = q * (1 - q)
    grad = np.column_stack([np.bincount(m, dq, n_models), np.zeros(n_models), np.bincount(m, dq * dd, n_models)])
    grad /= k[:, None]
    var_param = np.einsum("mi,mij,mj->m", grad, cov, grad)
    ss = np.bincount(m, (q - lc[m]) ** 2, n_models)
    var_x = np.divide(ss, k * (k - 1), out=np.zeros(n_models), where=k > 1)
    return lc, np.sqrt(var_param + var_x)


# ---------------------------------------------------------------- bootstrap over instructions


class _Batch:
    """Sums per (round, model) of per-observation values (r × N → r × M), for r rounds at once.

    Observations sorted by model sum with one ``np.add.reduceat`` per call (several times
    faster than a weighted ``bincount``); otherwise a ``bincount`` over (round, model).
    """

    def __init__(self, mi: np.ndarray, r: int, m: int) -> None:
        self.shape = (r, m)
        self.starts = None
        if mi.size and np.all(mi[1:] >= mi[:-1]) and np.array_equal(np.unique(mi), np.arange(m)):
            self.starts = np.flatnonzero(np.r_[True, mi[1:] != mi[:-1]])
        else:
            self.flat = (np.arange(r)[:, None] * m + mi[None, :]).ravel()

    def __call__(self, v: np.ndarray) -> np.ndarray:
        if self.starts is not None:
            return np.add.reduceat(v, self.starts, axis=1)
        return np.bincount(self.flat, v.ravel(), self.shape[0] * self.shape[1]).reshape(self.shape)


def _clip(step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps clipped to max-norm ``_MAX_STEP`` per round (as :func:`_logit_map`); the max-norms."""
    big = np.abs(step.reshape(step.shape[0], -1)).max(axis=1)
    scale = np.where(big > _MAX_STEP, _MAX_STEP / np.maximum(big, 1e-300), 1.0)
    return step * scale.reshape((-1,) + (1,) * (step.ndim - 1)), big


def _pooled_batch(
    d: dict[str, Any], dx: np.ndarray, wr: np.ndarray, msum: _Batch, prior_weight: float, start: np.ndarray | None = None,
    iters: int = 100, tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pooled_prior` for r weight vectors ``wr`` (r × N) at once.

    Newton on θ_m + β̄ t + γ̄ δ with the Schur complement of the diagonal θ block, from
    ``start`` (or 0).  Returns the prior (mean r×M×3, precision r×M×3) and each round's
    last max-norm step.
    """
    mi, t, y = d["mi"], d["t"], d["y"]
    r, m = msum.shape
    theta, b = np.zeros((r, m)), np.zeros((r, 2))
    if start is not None:  # (θ, β̄, γ̄) of the full data
        theta[:], b[:] = start[:m], start[m:]
    big = np.full(r, np.inf)
    for _ in range(iters):
        p = expit(theta[:, mi] + b[:, :1] * t + b[:, 1:] * dx)
        v, res = wr * p * (1 - p), wr * (y - p)
        vt, vd = v * t, v * dx
        g_th = msum(res) - _RIDGE * theta
        g_b = np.column_stack([(res * t).sum(1), (res * dx).sum(1)]) - _RIDGE * b
        diag = msum(v) + _RIDGE
        cross = np.stack([msum(vt), msum(vd)], axis=2)  # r × M × 2
        a_td = (vt * dx).sum(1)
        a = np.stack([np.column_stack([(vt * t).sum(1), a_td]), np.column_stack([a_td, (vd * dx).sum(1)])], axis=1)
        scaled = cross / diag[:, :, None]
        schur = a + _RIDGE * np.eye(2) - np.einsum("rmi,rmj->rij", scaled, cross)
        db = np.linalg.solve(schur, (g_b - np.einsum("rmi,rm->ri", scaled, g_th))[:, :, None])[:, :, 0]
        dth = (g_th - np.einsum("rmi,ri->rm", cross, db)) / diag
        step, big = _clip(np.concatenate([dth, db], axis=1))
        theta += step[:, :m]
        b += step[:, m:]
        if big.max() < tol:
            break
    p = expit(theta[:, mi] + b[:, :1] * t + b[:, 1:] * dx)
    v = wr * p * (1 - p)
    total = np.maximum(wr.sum(1), 1e-300)[:, None]
    info = np.column_stack([(v * t * t).sum(1), (v * dx * dx).sum(1)]) / total  # r × 2, per unit weight
    w_m = msum(wr)
    prec = np.stack([np.full((r, m), _RIDGE), _RIDGE + prior_weight * w_m * info[:, :1],
                     _RIDGE + prior_weight * w_m * info[:, 1:]], axis=2)
    mean = np.stack([np.zeros((r, m)), np.repeat(b[:, :1], m, 1), np.repeat(b[:, 1:], m, 1)], axis=2)
    return mean, prec, big


def _per_model_batch(
    d: dict[str, Any], dx: np.ndarray, wr: np.ndarray, prior_weight: float, start: tuple[np.ndarray, np.ndarray],
    iters: int = 100, tol: float = 1e-6,
) -> np.ndarray:
    """:func:`_per_model`, its pooled prior refitted too, for r weight vectors ``wr`` (r × N).

    ``start`` = (φ M×3, pooled (θ, β̄, γ̄)) of the full data; Newton converges from there in
    a few steps.  Returns φ (r×M×3), NaN for rounds that did not converge.
    """
    mi, t, y = d["mi"], d["t"], d["y"]
    r, m = wr.shape[0], len(d["models"])
    msum = _Batch(mi, r, m)
    mean, prec, big0 = _pooled_batch(d, dx, wr, msum, prior_weight, start[1], iters, tol)
    phi = np.repeat(start[0][None], r, 0)
    big = np.full(r, np.inf)
    for _ in range(iters):
        p = expit(phi[:, mi, 0] + phi[:, mi, 1] * t + phi[:, mi, 2] * dx)
        v, res = wr * p * (1 - p), wr * (y - p)
        vt, vd = v * t, v * dx
        grad = np.stack([msum(res), msum(res * t), msum(res * dx)], axis=2) - prec * (phi - mean)
        h = [msum(v), msum(vt), msum(vd), msum(vt * t), msum(vt * dx), msum(vd * dx)]
        hess = np.stack([h[0], h[1], h[2], h[1], h[3], h[4], h[2], h[4], h[5]], axis=2).reshape(r, m, 3, 3)
        hess[:, :, range(3), range(3)] += prec
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        size = np.abs(step).max(axis=2)  # r × M: each model's fit is separate
        big = size.max(axis=1)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(size, 1e-300))[..., None]
        if (size > 0.5).any():  # far from the optimum: halve steps that lower the objective
            step = _damped(phi, step, lambda f: _block_objective(f, d, dx, wr, msum, mean, prec))
        phi += step
        if big.max() < tol:
            break
    phi[(big > 1e-4) | (big0 > 1e-4) | ~np.isfinite(big)] = np.nan
    return phi


def _block_objective(
    phi: np.ndarray, d: dict[str, Any], dx: np.ndarray, wr: np.ndarray, msum: _Batch, mean: np.ndarray, prec: np.ndarray
) -> np.ndarray:
    """Per (round, model): Σ w [y log σ(η) + (1-y) log σ(-η)] - ½ Σ prec (φ - mean)²."""
    mi, t, y = d["mi"], d["t"], d["y"]
    eta = phi[:, mi, 0] + phi[:, mi, 1] * t + phi[:, mi, 2] * dx
    ll = msum(wr * (y * log_expit(eta) + (1 - y) * log_expit(-eta)))
    result: np.ndarray = ll - 0.5 * (prec * (phi - mean) ** 2).sum(axis=2)
    return result


def _damped(phi: np.ndarray, step: np.ndarray, objective: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Step halving per block (Armijo-free backtracking): a concave objective never decreases.

    Plain Newton can cycle on a flat, nearly separated logistic fit (a model whose
    responses all have one length); halving the step until the objective does not drop
    (at most 30 times) makes every iteration an ascent step, so the fit converges."""
    current = objective(phi)
    scale = np.ones(step.shape[:2])
    for _ in range(30):
        worse = objective(phi + scale[..., None] * step) < current - 1e-10 * np.abs(current)
        if not worse.any():
            break
        scale[worse] *= 0.5
    return step * scale[..., None]


def _lc_bootstrap(
    d: dict[str, Any], dx: np.ndarray, phi: np.ndarray, prior_weight: float, rounds: int, seed: int, workers: int
) -> Resamples:
    """LC (percent) of every model refitted on ``rounds`` resamples of the instructions (module doc).

    A round draws instruction multiplicities (the cluster bootstrap of
    :mod:`referee.resample`), multiplies every observation's weight by its instruction's
    multiplicity, refits the pooled prior and the per-model GLMs, and averages σ(θ_m + γ_m δ)
    over the resampled instructions.  δ stays as computed from the full data.
    """
    order = np.argsort(d["mi"], kind="stable")  # observations by model: sums by reduceat
    ds = {**d, **{k: d[k][order] for k in ("mi", "xi", "t", "y", "w")}}
    dxs = dx[order]
    mi, xi = ds["mi"], ds["xi"]
    m = len(d["models"])
    x = _design(len(mi), [mi, np.full_like(mi, m), np.full_like(mi, m + 1)],
                [np.ones_like(dxs), ds["t"], dxs], m + 2)
    pooled, _ = _logit_map(x, ds["y"], ds["w"], np.full(m + 2, _RIDGE), _schur_solver(m + 2))
    _, first = np.unique(mi * (xi.max() + 1) + xi, return_index=True)
    cm, cx, cd = mi[first], xi[first], dxs[first]  # one cell per (model, instruction), by model

    def statistic(mult: np.ndarray) -> np.ndarray:
        fit = _per_model_batch(ds, dxs, ds["w"][None, :] * mult[:, xi], prior_weight, (phi, pooled))
        q = expit(fit[:, cm, 0] + fit[:, cm, 2] * cd)
        csum = _Batch(cm, mult.shape[0], m)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: np.ndarray = 100 * csum(mult[:, cx] * q) / csum(mult[:, cx])
            return result

    chunk = max(1, min(25, 2_000_000 // max(len(mi), 1)))  # rounds × observations arrays stay ~16 MB
    return bootstrap(statistic, len(d["instr"]), rounds=rounds, seed=seed, workers=workers, chunk=chunk)


# ---------------------------------------------------------------- a given difficulty

#: accepted column names in a difficulty file: the instruction key, then the value
DIFFICULTY_KEYS = ("prompt_id", "prompt", "instruction")
DIFFICULTY_VALUES = ("difficulty", "instruction_difficulty")


def _difficulty_value(value: object, path: str, line: int | None, field: str) -> float:
    """A finite number (a JSON number or a numeric string); InputError naming file, line, field otherwise."""
    if isinstance(value, bool) or value is None:
        x = math.nan
    elif isinstance(value, int | float):
        x = float(value)
    else:
        try:
            x = float(str(value).strip())
        except ValueError:
            x = math.nan
    if not math.isfinite(x):
        raise InputError(f"difficulty must be a finite number, got {value!r}", path=path, line=line, field=field)
    return x


def _difficulty_columns(names: Sequence[str], path: str, line: int) -> tuple[str, str]:
    key = next((c for c in DIFFICULTY_KEYS if c in names), None)
    value = next((c for c in DIFFICULTY_VALUES if c in names), None)
    if key is None or value is None:
        missing = "/".join(DIFFICULTY_KEYS) if key is None else "/".join(DIFFICULTY_VALUES)
        raise InputError(
            f"a difficulty file needs a {missing} column; found {', '.join(map(str, names)) or 'none'}"
            + (" (AlpacaEval's 'index' is a position in its eval set: map it to the instruction text first)"
               if "index" in names else ""),
            path=path, line=line, field=DIFFICULTY_KEYS[0] if key is None else DIFFICULTY_VALUES[0],
        )
    return key, value


def _difficulty_records(src: Source) -> list[tuple[int | None, str, object, str]]:
    """(line, key, raw value, value field) per entry of a difficulty file (see :func:`read_difficulty`)."""
    text, path = src.text, src.name
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise InputError("empty difficulty file", path=path)
    if body[0] in "[{":
        if body[0] == "{":
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                obj = None  # JSON Lines: parsed record by record below, unless line 1 is no JSON either
                try:
                    json.loads(body.split("\n", 1)[0])
                except ValueError:
                    raise InputError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path,
                                     line=exc.lineno) from None
            if isinstance(obj, dict) and not set(obj) & {*DIFFICULTY_KEYS, *DIFFICULTY_VALUES}:
                out = []
                for k, v in obj.items():  # a mapping {key: δ}; the line is where the key first appears
                    at = text.find(json.dumps(k, ensure_ascii=False))
                    out.append((text.count("\n", 0, at) + 1 if at >= 0 else None, str(k), v, str(k)))
                return out
        out = []
        for line, rec in src.records():
            key, value = _difficulty_columns(list(rec), path, line)
            if rec[key] is None or str(rec[key]) == "":
                raise InputError("missing instruction key", path=path, line=line, field=key)
            out.append((line, str(rec[key]), rec[value], value))
        return out
    delimiter = "\t" if src.suffix == ".tsv" else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
        key, value = _difficulty_columns(header, path, reader.line_num)
        ki, vi = header.index(key), header.index(value)
        out, prev = [], reader.line_num
        for row in reader:
            line, prev = prev + 1, reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(f"expected {len(header)} fields, found {len(row)}", path=path, line=line)
            if not row[ki]:
                raise InputError("missing instruction key", path=path, line=line, field=key)
            out.append((line, row[ki], row[vi], value))
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from None
    return out


def read_difficulty(path: str | Path) -> pd.Series:
    """Read a per-instruction difficulty file: instruction → δ_x, for ``lc_win_rates(difficulty=...)``.

    Formats (plain, ``.gz`` or ``.xz``; detected from the content):

    * a JSON object ``{"<prompt_id or prompt text>": δ, ...}``;
    * JSON Lines or a JSON array of records, or CSV / TSV with a header, with a key column
      ``prompt_id`` (or ``prompt`` / ``instruction``: the instruction text) and a value column
      ``difficulty`` (or ``instruction_difficulty``); other columns are ignored.

    δ is on the logit scale of P(model beats baseline): larger means the baseline is easier
    to beat on that instruction (the module doc).  AlpacaEval's ``instruction_difficulty.csv``
    is keyed by ``index`` (the position in its eval set): replace the index by the
    instruction text, e.g. ``instruction,instruction_difficulty``.  Returns a float Series
    indexed by the key (str), ``attrs["path"]`` the file.  Raises :class:`InputError`
    (file, line, field) for a missing file, malformed JSON/CSV, a missing column or key, a
    non-numeric or non-finite value, a key listed twice with different values, or an empty file.
    """
    src = Source(path)
    seen: dict[str, tuple[float, int | None]] = {}
    for line, key, raw, field in _difficulty_records(src):
        x = _difficulty_value(raw, src.name, line, field)
        if key in seen and seen[key][0] != x:
            raise InputError(
                f"instruction {key[:60]!r} has two difficulties ({seen[key][0]:g} on line {seen[key][1]}, {x:g})",
                path=src.name, line=line, field=field,
            )
        seen.setdefault(key, (x, line))
    if not seen:
        raise InputError("the difficulty file lists no instructions", path=src.name)
    out = pd.Series({k: v for k, (v, _) in seen.items()}, dtype=float, name="difficulty")
    out.index.name = "prompt_id"
    out.attrs["path"] = src.name
    return out


def _given_difficulty(difficulty: pd.Series, d: dict[str, Any], df: pd.DataFrame) -> np.ndarray:
    """The given δ per observation, looked up by prompt_id, else by prompt text.

    InputError (naming the difficulty file) when neither key covers every instruction of
    the data, or a value is not a finite number.
    """
    path = difficulty.attrs.get("path")
    values = pd.Series(pd.to_numeric(difficulty, errors="coerce").to_numpy(dtype=float),
                       index=difficulty.index.astype(str))
    values = values[~values.index.duplicated()]
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        raise InputError(f"difficulty of {values.index[int(np.argmax(bad))]!r} is not a finite number",
                         path=path, field="difficulty")
    rows = d["rows"]
    candidates = [("prompt_id", d["keys"])]
    if "prompt" in df.columns and not df["prompt"].iloc[rows].isna().any():
        candidates.append(("prompt", df["prompt"].iloc[rows].astype(str).reset_index(drop=True)))
    best = None
    for name, keys in candidates:
        out = values.reindex(keys.to_numpy()).to_numpy()
        missing = np.isnan(out)
        if not missing.any():
            return out
        if best is None or missing.sum() < best[2].sum():
            best = (name, keys, missing)
    assert best is not None
    name, keys, missing = best
    n_instr = pd.unique(keys[missing]).size
    raise InputError(
        f"the difficulty has no value for {n_instr} of {pd.unique(keys).size} instructions in the data "
        f"(matched by {name}; first missing: {str(keys[missing].iloc[0])[:80]!r})",
        path=path, field=name,
    )


# ---------------------------------------------------------------- public API


def instruction_difficulty(
    df: pd.DataFrame, baseline: str, length: str = "chars", tokenizer: Tokenizer | None = None
) -> pd.Series:
    """Per-instruction effect δ_x of the joint model (module doc), centred, indexed by prompt_id (or prompt)."""
    d = _prepare(df, baseline, length, tokenizer)
    delta, _ = _joint_difficulty(d)
    return pd.Series(delta, index=pd.Index(d["instr"], name="prompt_id"), name="difficulty")


def lc_win_rates(
    df: pd.DataFrame,
    baseline: str,
    length: str = "chars",
    difficulty: pd.Series | str | Path | None = None,
    tokenizer: Tokenizer | None = None,
    *,
    prior_weight: float = 0.2,
    rounds: int = 200,
    seed: int = 0,
    workers: int = 2,
) -> pd.DataFrame:
    """Length-controlled win rate (percent) of every model against ``baseline``, with its standard error.

    ``df`` needs ``response_a``/``response_b`` and a ``prompt_id`` (or ``prompt``).
    ``length`` is ``"chars"`` (AlpacaEval) or ``"tokens"`` (whitespace-separated words, or
    ``tokenizer(text)`` returning tokens or a count; a tokenizer implies tokens), as
    :func:`referee.text.text_lengths` defines them.  ``difficulty`` — a Series indexed by
    prompt_id or prompt text, or a file for :func:`read_difficulty` — replaces the
    difficulty estimated from ``df``.  ``prior_weight`` is the weight of the pooled prior
    on the length/difficulty coefficients (0 gives plain per-model maximum likelihood).
    ``rounds`` bootstrap rounds over instructions (seeded by ``seed``, on ``workers``
    threads) give the standard error; ``rounds=0`` uses the delta method.  The model and
    both standard errors: module doc.

    Returns a frame indexed by model with ``lc_win_rate``, ``lc_win_rate_se`` (bootstrap,
    or delta method with ``rounds=0``), ``lc_win_rate_se_delta`` (delta method; percent),
    ``intercept`` (θ_m), ``length_coef`` (β_m, on tanh of the standardised model-minus-
    baseline length difference), ``difficulty_coef`` (γ_m) and ``n``, sorted by
    ``lc_win_rate``; ``attrs`` hold ``se_method``, ``rounds``, ``failed_rounds`` (rounds
    whose refit did not converge, left out) and ``difficulty`` (the file, ``"given"`` or
    ``"estimated"``).  Raises :class:`InputError` when the baseline is missing, responses,
    prompt ids or difficulties are missing, or the difficulty file is malformed.
    """
    if not prior_weight >= 0:
        raise InputError(f"prior_weight must be >= 0, got {prior_weight!r}", field="prior_weight")
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise InputError(f"LC bootstrap rounds must be an integer >= 0 (0: delta method), got {rounds!r}",
                         field="lc_rounds")
    if isinstance(difficulty, str | Path):
        difficulty = read_difficulty(difficulty)
    d = _prepare(df, baseline, length, tokenizer)
    dx = _joint_difficulty(d)[1] if difficulty is None else _given_difficulty(difficulty, d, df)
    phi, cov = _per_model(d, dx, prior_weight)
    lc, se_delta = _lc_and_se(d, dx, phi, cov)
    se, failed = 100 * se_delta, 0
    if rounds > 0:
        res = _lc_bootstrap(d, dx, phi, prior_weight, int(rounds), seed, workers)
        ok = res.samples[res.ok]
        failed = res.failed
        se = np.std(ok, axis=0, ddof=1) if len(ok) > 1 else np.full(len(lc), np.nan)
    out = pd.DataFrame(
        {
            "lc_win_rate": 100 * lc,
            "lc_win_rate_se": se,
            "lc_win_rate_se_delta": 100 * se_delta,
            "intercept": phi[:, 0],
            "length_coef": phi[:, 1],
            "difficulty_coef": phi[:, 2],
            "n": np.bincount(d["mi"], minlength=len(d["models"])),
        },
        index=pd.Index(d["models"], name="model"),
    )
    out = out.sort_values("lc_win_rate", ascending=False, kind="stable")
    out.attrs.update({
        "se_method": "bootstrap" if rounds > 0 else "delta",
        "rounds": int(rounds),
        "failed_rounds": failed,
        "difficulty": "estimated" if difficulty is None else difficulty.attrs.get("path", "given"),
    })
    return out

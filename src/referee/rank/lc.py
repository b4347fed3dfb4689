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
  a joint model (``notebooks/instruction_difficulty.ipynb``).  Without ``difficulty`` we
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

Standard error: delta method on the cluster-robust (instruction) sandwich covariance of
``(θ_m, β_m, γ_m)`` plus the sampling variance of the mean over instructions,
``Var_x σ(θ_m + γ_m δ_x) / K``; the difficulty is treated as fixed.  AlpacaEval's
``lc_standard_error`` is only the second term, hence much smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.special import expit

from referee.errors import InputError
from referee.rank.winrate import baseline_observations

__all__ = ["instruction_difficulty", "lc_win_rates", "text_lengths"]

Tokenizer = Callable[[str], "Sequence[object] | int"]

_RIDGE = 1e-3  # on otherwise unpenalised coefficients: keeps separated fits finite
_DIFFICULTY_PRIOR = 1.0  # δ_x ~ N(0, 1) in the joint model
_MAX_STEP = 5.0


# ---------------------------------------------------------------- features


def _count_unique(texts: pd.Index, length: str, tokenizer: Tokenizer | None) -> np.ndarray:
    if tokenizer is not None:
        def count(text: str) -> int:
            out = tokenizer(text)
            return int(out) if isinstance(out, int | np.integer) else len(out)

        return np.fromiter((count(t) for t in texts), dtype=float, count=len(texts))
    arr = pa.array(np.asarray(texts, dtype=object), type=pa.large_string())
    if length == "chars":
        return pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(float)
    pieces = pc.utf8_split_whitespace(arr)  # keeps empty pieces at the ends: count the others
    flat = pc.list_flatten(pieces)
    nonempty = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(pieces).to_numpy(zero_copy_only=False)
    return np.bincount(parents, weights=nonempty, minlength=len(arr)).astype(float)


def text_lengths(texts: pd.Series, length: str = "chars", tokenizer: Tokenizer | None = None) -> np.ndarray:
    """Length of each text in characters, or in tokens.

    Tokens are ``tokenizer(text)`` (a token sequence or a count) when a tokenizer is given
    (it implies ``length="tokens"``), else whitespace-separated words.  Each distinct text
    is measured once.
    """
    if length not in ("chars", "tokens"):
        raise InputError(f"length must be 'chars' or 'tokens', got {length!r}", field="length")
    codes, uniques = pd.factorize(texts.astype(str))
    return _count_unique(uniques, length, tokenizer)[codes]


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
    return np.where(first, len_a - len_b, len_b - len_a)


def _length_feature(delta: np.ndarray, mi: np.ndarray, n_models: int) -> np.ndarray:
    """tanh(Δ / sd_m), sd_m the per-model standard deviation (ddof 1) of Δ; 0 where sd_m is 0."""
    n = np.bincount(mi, minlength=n_models).astype(float)
    mean = np.bincount(mi, delta, n_models) / np.maximum(n, 1)
    ss = np.bincount(mi, (delta - mean[mi]) ** 2, n_models)
    sd = np.sqrt(np.divide(ss, n - 1, out=np.zeros(n_models), where=n > 1))
    return np.tanh(np.divide(delta, sd[mi], out=np.zeros_like(delta), where=sd[mi] > 0))


def _instruction_keys(df: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """prompt_id per observation (prompt text as fallback); InputError when neither is complete."""
    for col in ("prompt_id", "prompt"):
        if col in df.columns:
            keys = df[col].iloc[rows].reset_index(drop=True)
            if not keys.isna().any():
                return keys.astype(str)
    raise InputError("instruction difficulty needs a prompt_id (or prompt) on every comparison", field="prompt_id")


def _prepare(df: pd.DataFrame, baseline: str, length: str, tokenizer: Tokenizer | None) -> dict:
    """Observations against the baseline with model/instruction codes and the length feature."""
    obs = baseline_observations(df, baseline)
    delta_len = _length_delta(df, obs, length, tokenizer)
    mi, models = pd.factorize(obs["model"], sort=True)
    keys = _instruction_keys(df, obs["row"].to_numpy())
    xi, instr = pd.factorize(keys)
    return {
        "mi": mi.astype(np.int64), "models": np.asarray(models, dtype=str),
        "xi": xi.astype(np.int64), "instr": np.asarray(instr, dtype=str), "keys": keys,
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


def _joint_difficulty(d: dict) -> tuple[np.ndarray, np.ndarray]:
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


def _pooled_prior(d: dict, dx: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
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


def _per_model(d: dict, dx: np.ndarray, prior_weight: float) -> tuple[np.ndarray, np.ndarray]:
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


def _lc_and_se(d: dict, dx: np.ndarray, phi: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _given_difficulty(difficulty: pd.Series, keys: pd.Series) -> np.ndarray:
    """Look the given per-instruction difficulty up by prompt_id; InputError when some are missing."""
    values = pd.Series(pd.to_numeric(difficulty, errors="coerce").to_numpy(dtype=float),
                       index=difficulty.index.astype(str))
    values = values[~values.index.duplicated()]
    out = values.reindex(keys.to_numpy()).to_numpy()
    missing = np.isnan(out)
    if missing.any():
        raise InputError(
            f"difficulty has no value for {int(missing.sum())} comparisons "
            f"(e.g. prompt_id {keys.iloc[int(np.argmax(missing))]!r})",
            field="prompt_id",
        )
    return out


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
    difficulty: pd.Series | None = None,
    tokenizer: Tokenizer | None = None,
    *,
    prior_weight: float = 0.2,
) -> pd.DataFrame:
    """Length-controlled win rate (percent) of every model against ``baseline``.

    ``df`` needs ``response_a``/``response_b`` and a ``prompt_id`` (or ``prompt``).
    ``length`` is ``"chars"`` (AlpacaEval) or ``"tokens"`` (whitespace-separated words, or
    ``tokenizer(text)`` returning tokens or a count; a tokenizer implies tokens).  ``difficulty`` is an optional
    Series indexed by prompt_id; by default it is estimated from ``df``.  ``prior_weight``
    is the weight of the pooled prior on the length/difficulty coefficients (0 gives
    plain per-model maximum likelihood).  The model and its estimates: module doc.

    Returns a frame indexed by model with ``lc_win_rate``, ``lc_win_rate_se`` (percent),
    ``intercept`` (θ_m), ``length_coef`` (β_m, on tanh of the standardised model-minus-
    baseline length difference), ``difficulty_coef`` (γ_m) and ``n``, sorted by
    ``lc_win_rate``.  Raises :class:`InputError` when the baseline is missing or
    responses, prompt ids or difficulties are missing.
    """
    if not prior_weight >= 0:
        raise InputError(f"prior_weight must be >= 0, got {prior_weight!r}", field="prior_weight")
    d = _prepare(df, baseline, length, tokenizer)
    dx = _joint_difficulty(d)[1] if difficulty is None else _given_difficulty(difficulty, d["keys"])
    phi, cov = _per_model(d, dx, prior_weight)
    lc, se = _lc_and_se(d, dx, phi, cov)
    out = pd.DataFrame(
        {
            "lc_win_rate": 100 * lc,
            "lc_win_rate_se": 100 * se,
            "intercept": phi[:, 0],
            "length_coef": phi[:, 1],
            "difficulty_coef": phi[:, 2],
            "n": np.bincount(d["mi"], minlength=len(d["models"])),
        },
        index=pd.Index(d["models"], name="model"),
    )
    return out.sort_values("lc_win_rate", ascending=False, kind="stable")

"""Style control: Bradley–Terry with per-battle covariates.

Model (Chatbot Arena, "Does style matter?", Li et al. 2024; arena-rank's
``ContextualBradleyTerry``): for battle ``i`` with style covariates ``x_i``

    logit P(a wins) = θ_a − θ_b + h + x_iᵀβ,

ties scoring one half.  Each covariate is a normalised difference between the two
responses, ``(f_a − f_b) / (f_a + f_b)`` (0 when both are 0), standardised over the
rows; ``β`` is the effect of one standard deviation of that difference.  The style-
controlled leaderboard is ``θ`` — what the ranking would be if both responses had the
same style.  The tie models take the same linear predictor ``d = θ_a − θ_b + h + x_iᵀβ``
(:func:`fit_contextual_davidson`, :func:`fit_contextual_rao_kupper`; :func:`fit_contextual`
dispatches on the model name); all three share one per-row Newton fit.

Feature extraction is byte-level numpy over the UTF-8 text (no per-row Python):
tokens and characters are :mod:`referee.text`'s one definition of length (tokens =
whitespace-separated words, ``len(t.split())``; characters = code points), markdown counts follow the regexes
below, and lines inside fenced code blocks (```` ``` ````; Arena-Hard strips code
before counting too) are not counted as markdown:

* headers — ``^#{1,6} `` (a line starting with 1–6 ``#`` and a space)
* lists — ``^[ \\t]*([-*+]|\\d+\\.) `` (bullet or numbered item)
* bold — ``\\*\\*[^*\\n]+\\*\\*`` plus ``__[^_\\n]+__`` (non-overlapping, leftmost first)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from scipy import sparse
from scipy.special import expit

from referee.errors import InputError
from referee.ranking.cells import model_index
from referee.ranking.fit import Fit, centre, model_cov
from referee.ranking.ties import (
    Terms,
    TermValues,
    TieModel,
    assemble_matrix,
    assemble_vector,
    davidson_model,
    mle_exists,
    newton_loop,
    rao_kupper_model,
    safe_sandwich,
)
from referee.schema import A_WINS, B_WINS, outcome_codes
from referee.text import PAD, count_tokens, joined_utf8

#: the built-in features; "markdown" expands to the three markdown counts.
MARKDOWN = ("headers", "lists", "bold")
BUILTIN = ("length", *MARKDOWN)
_CHUNK = 50_000

_BLANK = np.zeros(256, dtype=bool)
_BLANK[[9, 32]] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True
_BULLET = np.zeros(256, dtype=bool)
_BULLET[[ord("-"), ord("*"), ord("+")]] = True
NL, SPACE, HASH, TICK, DOT = 10, 32, ord("#"), ord("`"), ord(".")


# ----------------------------------------------------------------------------- text counts
def _skip(buf: np.ndarray, pos: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Advance each position past a run of bytes in ``table`` (vectorised over positions)."""
    pos = pos.copy()
    live = np.flatnonzero(table[buf[pos]])
    while live.size:
        pos[live] += 1
        live = live[table[buf[pos[live]]]]
    return pos


class _Lines:
    """Line starts of the joined buffer, their text, and whether they are code."""

    def __init__(self, buf: np.ndarray, starts: np.ndarray, n_real: int) -> None:
        self.nl = np.flatnonzero(buf[:n_real] == NL)
        start = np.concatenate([[0], self.nl[:-1] + 1])  # the last newline ends the last text
        self.start = start
        first_line = np.searchsorted(self.nl, starts)
        self.text = np.repeat(np.arange(starts.size), np.diff(np.append(first_line, start.size)))
        self.indent = _skip(buf, start, _BLANK)
        q = self.indent
        fence = (buf[q] == TICK) & (buf[q + 1] == TICK) & (buf[q + 2] == TICK)
        if fence.any():
            fpos = start[fence]
            before = np.searchsorted(fpos, start) - np.searchsorted(fpos, starts[self.text])
            self.code = fence | (before % 2 == 1)
        else:
            self.code = fence

    def of(self, pos: np.ndarray) -> np.ndarray:
        """Line index of byte positions."""
        return np.searchsorted(self.nl, pos)


def _headers(buf: np.ndarray, lines: _Lines) -> np.ndarray:
    """Line indices that are markdown headers ``#{1,6} ``."""
    cand = np.flatnonzero((buf[lines.start] == HASH) & ~lines.code)
    p = lines.start[cand]
    run = np.zeros(p.size, dtype=np.int64)
    alive = np.ones(p.size, dtype=bool)
    for j in range(7):
        alive &= buf[p + j] == HASH
        run += alive
    ok = (run <= 6) & (buf[p + np.minimum(run, 6)] == SPACE)
    result: np.ndarray = cand[ok]
    return result


def _lists(buf: np.ndarray, lines: _Lines) -> np.ndarray:
    """Line indices that are list items ``[ \\t]*([-*+]|\\d+\\.) ``."""
    q = lines.indent
    bullet = _BULLET[buf[q]] & (buf[q + 1] == SPACE)
    num = np.flatnonzero(_DIGIT[buf[q]])
    end = _skip(buf, q[num], _DIGIT)
    numbered = np.zeros(q.size, dtype=bool)
    numbered[num] = (buf[end] == DOT) & (buf[end + 1] == SPACE)
    return np.flatnonzero((bullet | numbered) & ~lines.code)


def _delimited(buf: np.ndarray, lines: _Lines, delim: int) -> np.ndarray:
    """Start positions of closing delimiters of ``DD[^D\\n]+DD`` matches (D = delim).

    Runs of D are processed in order: a run of length k closes a pending opener on its
    line when k ≥ 2, and opens one when what is left (k, or k − 2 after closing) is ≥ 2
    and text follows on the line.  Only runs of length 2–3 chain (they cannot both close
    and open), so the openers alternate along such chains and are solved by parity.
    """
    pos = np.flatnonzero(buf == delim)
    if pos.size == 0:
        return pos
    brk = np.flatnonzero(np.diff(pos) != 1) + 1
    rs: np.ndarray = pos[np.concatenate([[0], brk])]
    k = np.diff(np.concatenate([np.concatenate([[0], brk]), [pos.size]]))
    line = lines.of(rs)
    keep = ~lines.code[line]
    rs, k, line = rs[keep], k[keep], line[keep]
    n = rs.size
    if n == 0:
        return rs
    text = buf[rs + k] != NL
    link = np.concatenate([[False], line[1:] == line[:-1]])
    t23 = (k == 2) | (k == 3)
    t4 = k >= 4
    chained = t23 & link & np.concatenate([[False], t23[:-1]])
    opens = np.where(t4, text, False)
    prev_known = np.concatenate([[False], (t4 & text)[:-1]])
    root = t23 & ~chained
    opens[root] = text[root] & ~(link[root] & prev_known[root])
    idx = np.arange(n)
    root_idx = np.maximum.accumulate(np.where(chained, 0, idx))
    alternate = opens[root_idx] ^ ((idx - root_idx) % 2 == 1)
    opens[chained] = text[chained] & alternate[chained]
    closes = link & (k >= 2) & np.concatenate([[False], opens[:-1]])
    result: np.ndarray = rs[closes]
    return result


def _count_chunk(part: pd.Series) -> dict[str, np.ndarray]:
    buf, starts, arr = joined_utf8(part)
    n = len(part)
    lines = _Lines(buf, starts, buf.size - PAD)
    bold = np.concatenate([_delimited(buf, lines, ord("*")), _delimited(buf, lines, ord("_"))])
    return {
        "tokens": count_tokens(buf, starts),
        "chars": pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64),
        "headers": np.bincount(lines.text[_headers(buf, lines)], minlength=n),
        "lists": np.bincount(lines.text[_lists(buf, lines)], minlength=n),
        "bold": np.bincount(lines.text[lines.of(bold)], minlength=n),
    }


def text_counts(texts: pd.Series | Sequence[str], workers: int | None = None) -> pd.DataFrame:
    """Per text: ``tokens`` (whitespace-separated words) and ``chars`` (code points), as
    :func:`referee.text.text_lengths` defines them, and the
    markdown counts ``headers``, ``lists``, ``bold`` (outside fenced code).  Missing
    texts count as empty.  Byte-level numpy over chunks of texts, the chunks in threads
    (numpy and arrow release the GIL)."""
    s = pd.Series(texts, dtype=object) if not isinstance(texts, pd.Series) else texts
    parts = [s.iloc[lo : lo + _CHUNK] for lo in range(0, len(s), _CHUNK)]
    workers = workers or min(4, os.cpu_count() or 1)
    if len(parts) > 1 and workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            done = list(ex.map(_count_chunk, parts))
    else:
        done = [_count_chunk(p) for p in parts]
    cols = ("tokens", "chars", *MARKDOWN)
    if not done:
        return pd.DataFrame({c: np.zeros(0, dtype=np.int64) for c in cols}, index=s.index)
    return pd.DataFrame({c: np.concatenate([d[c] for d in done]) for c in cols}, index=s.index)


# ----------------------------------------------------------------------------- features
def normalised_difference(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """``(a − b) / (a + b)``, 0 where both are 0."""
    fa, fb = np.asarray(fa, dtype=float), np.asarray(fb, dtype=float)
    tot = fa + fb
    result: np.ndarray = np.divide(fa - fb, tot, out=np.zeros_like(tot), where=tot != 0)
    return result


def standardise(x: np.ndarray) -> np.ndarray:
    """``(x − mean) / sd`` over rows (population sd); a constant column becomes 0."""
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _expand(features: Sequence[str]) -> list[str]:
    names: list[str] = []
    for f in features:
        for g in MARKDOWN if f == "markdown" else (f,):
            if g not in names:
                names.append(g)
    return names


def style_features(
    df: pd.DataFrame, features: Sequence[str] = ("length", "markdown"), length_unit: str = "tokens"
) -> tuple[list[str], np.ndarray]:
    """Standardised style covariates, one column per feature: ``(names, X)``.

    Built-in features (``length``, ``headers``, ``lists``, ``bold``; ``markdown`` = the
    last three) are normalised differences ``(a − b)/(a + b)`` computed from
    ``response_a``/``response_b`` (length in whitespace tokens, or code points with
    ``length_unit="chars"``), or from precomputed ``<name>_a``/``<name>_b`` count columns.
    Any other name is a numeric column of ``df`` used as is (or, failing that, a pair
    ``<name>_a``/``<name>_b`` of counts).  Every column is then standardised over rows.
    """
    if length_unit not in ("tokens", "chars"):
        raise ValueError(f"length_unit must be 'tokens' or 'chars', not {length_unit!r}")
    names = _expand(features)
    has_text = "response_a" in df.columns and "response_b" in df.columns
    need_text = has_text and any(n in BUILTIN for n in names)
    counts_a = text_counts(df["response_a"]) if need_text else None
    counts_b = text_counts(df["response_b"]) if need_text else None
    cols = []
    for nm in names:
        if nm in BUILTIN and counts_a is not None and counts_b is not None:
            key = length_unit if nm == "length" else nm
            raw = normalised_difference(counts_a[key].to_numpy(), counts_b[key].to_numpy())
        elif nm in df.columns and nm not in BUILTIN:
            raw = pd.to_numeric(df[nm], errors="raise").to_numpy(dtype=float)
        elif f"{nm}_a" in df.columns and f"{nm}_b" in df.columns:
            raw = normalised_difference(df[f"{nm}_a"].to_numpy(dtype=float), df[f"{nm}_b"].to_numpy(dtype=float))
        else:
            raise InputError(
                f"style feature {nm!r} needs response_a/response_b, a column {nm!r} or {nm}_a/{nm}_b",
                field=nm,
            )
        if not np.all(np.isfinite(raw)):
            raise InputError(f"style feature {nm!r} has missing or infinite values", field=nm)
        cols.append(standardise(raw))
    x = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    return names, x


# ----------------------------------------------------------------------------- contextual fits
def _indices(
    a: np.ndarray, b: np.ndarray, models: Sequence[str] | None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        m = int(max(a.max(initial=-1), b.max(initial=-1))) + 1
        names = tuple(models) if models is not None else tuple(str(i) for i in range(m))
        if len(names) < m:
            raise ValueError(f"{m} model indices but only {len(names)} model names")
        return names, a.astype(np.int64), b.astype(np.int64)
    df = pd.DataFrame({"model_a": a.astype(str), "model_b": b.astype(str)})
    return model_index(df, None if models is None else list(models))


def _scores(outcome: np.ndarray) -> np.ndarray:
    """Score of a: labels or integer outcome codes → 1 / 0 / ½; floats are taken as is."""
    if outcome.dtype.kind == "f":
        return outcome.astype(float)
    codes = outcome.astype(np.int64) if outcome.dtype.kind in "iub" else outcome_codes(outcome)
    return np.where(codes == A_WINS, 1.0, np.where(codes == B_WINS, 0.0, 0.5))


def _codes(outcome: np.ndarray) -> np.ndarray:
    """Outcome codes from labels or integer codes (the tie models take no soft scores)."""
    if outcome.dtype.kind == "f":
        raise ValueError("tie models need winner labels or integer outcome codes, not float scores")
    codes = outcome.astype(np.int64) if outcome.dtype.kind in "iub" else outcome_codes(outcome).astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() > 3):
        raise ValueError("outcome codes must be 0 (a wins), 1 (b wins), 2 (tie) or 3 (tie, both bad)")
    return codes


@dataclass
class _Rows:
    """Battles with positive weight: model indices, covariates, raw outcomes, weights."""

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    x: np.ndarray
    features: list[str]
    outcome: np.ndarray
    w: np.ndarray
    units: np.ndarray | None = None  # rows with one code form one unit (a cluster, or a split soft row)


def _rows(
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray | pd.Series,
    X: np.ndarray,
    weight: np.ndarray | None,
    models: Sequence[str] | None,
    names: Sequence[str] | None,
    units: np.ndarray | None = None,
) -> _Rows:
    if isinstance(X, tuple):
        names, X = X
    models_t, ia, ib = _indices(a, b, models)
    x = np.asarray(X, dtype=float).reshape(ia.size, -1)
    feat = list(names) if names is not None else [f"x{j}" for j in range(x.shape[1])]
    if len(feat) != x.shape[1]:
        raise ValueError(f"{len(feat)} feature names for {x.shape[1]} columns")
    out = np.asarray(outcome)
    w = np.ones(ia.size) if weight is None else np.asarray(weight, dtype=float)
    keep = w > 0  # zero weights (e.g. bootstrap multiplicities) carry no information
    if units is not None:
        units = np.asarray(units)
    if not keep.all():
        ia, ib, x, out, w = ia[keep], ib[keep], x[keep], out[keep], w[keep]
        units = None if units is None else units[keep]
    return _Rows(models_t, ia, ib, x, feat, out, w, units)


def clustered_meat(
    a: np.ndarray, b: np.ndarray, m: int, g: np.ndarray, z: np.ndarray, units: np.ndarray
) -> np.ndarray:
    """``J = C/(C−1) · Σ_c s_c s_cᵀ`` with ``s_c`` the summed global score of the rows of unit c.

    ``g`` (N × (1+q)) are weighted per-row scores in the local (d, φ); the global score of
    a row is ``(g₀(e_a − e_b), g₀ z, g₁…)``.  Clusters: Liang & Zeger 1986; the C/(C−1)
    factor as in Cameron & Miller 2015.  Rows sharing a unit code also serve soft verdicts
    split into two weighted rows (one observation, two rows).
    """
    codes, uniq = pd.factorize(units)
    c = len(uniq)
    s_theta = sparse.csr_matrix(
        (np.concatenate([g[:, 0], -g[:, 0]]), (np.concatenate([codes, codes]), np.concatenate([a, b]))),
        shape=(c, m),
    )
    extra = np.column_stack([z * g[:, [0]], g[:, 1:]]) if z.size or g.shape[1] > 1 else np.zeros((g.shape[0], 0))
    s_extra = np.column_stack([np.bincount(codes, col, c) for col in extra.T]) if extra.shape[1] else np.zeros((c, 0))
    k = m + s_extra.shape[1]
    out = np.empty((k, k))
    out[:m, :m] = (s_theta.T @ s_theta).toarray()
    out[:m, m:] = s_theta.T @ s_extra
    out[m:, :m] = out[:m, m:].T
    out[m:, m:] = s_extra.T @ s_extra
    return out * (c / (c - 1.0) if c > 1 else 1.0)


def _finite(cov: np.ndarray) -> np.ndarray | None:
    return cov if np.all(np.isfinite(cov)) else None


class _RowModel:
    """``Σ_i w_i ℓ(d_i, φ) − ½ Σ_j penalty_j x_j²`` with ``d_i = θ_a − θ_b + z_iᵀξ``.

    Parameters ``x = (θ, ξ, φ)``; ``terms`` gives ℓ and its derivatives in the local
    (d, φ) (the :data:`referee.ranking.ties.Terms` contract); the chain rule to the global
    parameters is :func:`~referee.ranking.ties.assemble_matrix` with per-row ``z``.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, z: np.ndarray, w: np.ndarray, m: int, terms: Terms,
                 penalty: np.ndarray) -> None:
        self.a, self.b, self.z, self.w, self.m, self.terms, self.penalty = a, b, z, w, m, terms, penalty

    def local(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, r = self.m, self.z.shape[1]
        th = x[:m]
        return th[self.a] - th[self.b] + self.z @ x[m : m + r], x[m + r :]

    def objective(self, x: np.ndarray) -> float:
        ll = self.terms(*self.local(x), False)[0]
        val = float(self.w @ ll) - 0.5 * float(self.penalty @ (x * x))
        return val if np.isfinite(val) else -np.inf

    def matrix(self, q: np.ndarray) -> np.ndarray:
        return assemble_matrix(self.a, self.b, self.m, q, self.z)

    def derivatives(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradient, information (negative Hessian) and per-row weighted local scores."""
        _, g, h = self.terms(*self.local(x), True)
        g = g * self.w[:, None]
        grad = assemble_vector(self.a, self.b, self.m, g, self.z) - self.penalty * x
        info = self.matrix(-self.w[:, None, None] * h)
        info[np.diag_indices_from(info)] += self.penalty
        return grad, info, g


def _logistic_terms(y: np.ndarray) -> Terms:
    """Bernoulli (quasi-)log-likelihood ``y·d − log(1 + e^d)`` of a score ``y`` ∈ [0, 1]."""

    def terms(d: np.ndarray, phi: np.ndarray, derivs: bool) -> TermValues:
        ll = y * d - np.logaddexp(0.0, d)
        if not derivs:
            return ll, None, None
        mu = expit(d)
        return ll, (y - mu)[:, None], (-mu * (1.0 - mu))[:, None, None]

    return terms


def _fit_rows(
    rows: _Rows, terms: Terms, phi0: np.ndarray, codes: np.ndarray, method: str, *,
    home: bool, prior: float, reg: float, max_iter: int, gtol: float, phi_names: Sequence[str] = (),
) -> tuple[Fit, dict[str, float], dict[str, float]]:
    """Per-row Newton fit of θ (centred), h, β and the model's own φ; sandwich covariance
    from per-row scores.  Returns the Fit and the raw φ estimates and SEs by name."""
    m, x_all = len(rows.models), rows.x
    p, q = x_all.shape[1], len(phi0)
    used = np.flatnonzero(np.any(x_all != 0, axis=0)) if p else np.zeros(0, dtype=np.int64)
    z = np.asfortranarray(np.column_stack([np.ones(rows.a.size), x_all[:, used]]) if home else x_all[:, used])
    r = z.shape[1]
    penalty = np.concatenate([np.full(m, prior), np.zeros(int(home)), np.full(used.size, reg), np.zeros(q)])
    model = _RowModel(rows.a, rows.b, z, rows.w, m, terms, penalty)
    tol = max(gtol, 1e-14 * float(rows.w.sum()))
    x0 = np.concatenate([np.zeros(m + r), np.asarray(phi0, dtype=float)])
    x, f, iters, converged = newton_loop(model.objective, model.derivatives, x0, m, max_iter, tol)
    _, info, g = model.derivatives(x)
    identified = prior > 0 or mle_exists(rows.a, rows.b, codes, m)
    converged = converged and identified
    if prior > 0:
        cov = _finite(model_cov(info, m))
    elif rows.units is None:
        cov = safe_sandwich(info, model.matrix(g[:, :, None] * g[:, None, :]), m, identified)
    else:
        cov = safe_sandwich(info, clustered_meat(rows.a, rows.b, m, g, z, rows.units), m, identified)
    x[:m] = centre(x[:m])
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None)) if cov is not None else np.full(x.size, np.nan)
    extra: dict[str, float] = {}
    extra_se: dict[str, float] = {}
    if home:
        extra["first_position"], extra_se["first_position"] = float(x[m]), float(se[m])
    for j, nm in enumerate(rows.features):
        hit = np.flatnonzero(used == j)
        pos = m + int(home) + int(hit[0]) if hit.size else None
        extra[f"style:{nm}"] = float(x[pos]) if pos is not None else 0.0
        extra_se[f"style:{nm}"] = float(se[pos]) if pos is not None else float("nan")
    raw = {nm: float(x[m + r + k]) for k, nm in enumerate(phi_names)}
    raw_se = {nm: float(se[m + r + k]) for k, nm in enumerate(phi_names)}
    loglik = f + 0.5 * float(penalty @ (x * x))
    fit = Fit(models=rows.models, theta=x[:m].copy(), cov=None if cov is None else cov[:m, :m], extra=extra,
              extra_se=extra_se, loglik=loglik, iterations=iters, converged=converged, method=method)
    return fit, raw, raw_se


def fit_contextual_bt(
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray | pd.Series,
    X: np.ndarray,
    weight: np.ndarray | None = None,
    models: Sequence[str] | None = None,
    home: bool = False,
    reg: float = 0.0,
    *,
    names: Sequence[str] | None = None,
    prior: float = 0.0,
    max_iter: int = 100,
    gtol: float = 1e-9,
    units: np.ndarray | None = None,
) -> Fit:
    """Bradley–Terry with per-row covariates: ``logit P(a wins) = θ_a − θ_b + h + x_iᵀβ``.

    ``a``/``b`` are model indices (with ``models`` naming them) or model names;
    ``outcome`` winner labels, outcome codes (ties → ½) or float scores of ``a``; ``X``
    is (rows × p).  Maximum (weighted, quasi-) likelihood by Newton: the model block of
    the Hessian is a bincount Laplacian, the model–feature block one bincount per
    feature, the feature block dense p×p — never an N×M design matrix.  ``reg`` is an
    L2 penalty on β, ``prior`` one on θ.  Coefficients are reported as
    ``extra["style:<name>"]`` (and ``first_position`` = h) with sandwich SEs from
    per-row scores.  All-zero columns of X are dropped (β = 0, SE nan); rows of zero
    weight are dropped.  Without a prior, data with no finite MLE (Ford's condition
    fails) give ``converged=False``, ``cov=None``.
    """
    rows = _rows(a, b, outcome, X, weight, models, names, units)
    y = _scores(rows.outcome)
    decisive = np.where(y >= 1.0, A_WINS, np.where(y <= 0.0, B_WINS, 2))  # soft: both ways
    fit, _, _ = _fit_rows(rows, _logistic_terms(y), np.zeros(0), decisive, "style", home=home, prior=prior, reg=reg,
                          max_iter=max_iter, gtol=gtol)
    return fit


def _fit_tie_model(
    tie_model: Callable[[np.ndarray, np.ndarray], TieModel], rows: _Rows, home: bool, prior: float, reg: float,
    max_iter: int, gtol: float,
) -> Fit:
    codes = _codes(rows.outcome)
    spec = tie_model(codes, rows.w)
    fit, raw, raw_se = _fit_rows(rows, spec.terms, spec.phi0, codes, f"{spec.method}+style", home=home, prior=prior,
                                 reg=reg, max_iter=max_iter, gtol=gtol, phi_names=spec.names)
    spec.report(fit, raw, raw_se)
    return fit


def fit_contextual_davidson(
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray | pd.Series,
    X: np.ndarray,
    weight: np.ndarray | None = None,
    models: Sequence[str] | None = None,
    home: bool = False,
    prior: float = 0.0,
    names: Sequence[str] | None = None,
    *,
    reg: float = 0.0,
    max_iter: int = 100,
    gtol: float = 1e-9,
    units: np.ndarray | None = None,
) -> Fit:
    """Davidson (1970) tie model with per-row covariates in the linear predictor.

    With ``d = θ_a − θ_b + h + x_iᵀβ``: ``P(a) = e^{d/2} / (e^{d/2} + e^{−d/2} + ν)``,
    ``P(b) = e^{−d/2} / (…)``, ``P(tie) = ν / (…)`` (both tie labels) — with x = 0 the
    Davidson model of :func:`~referee.ranking.ties.fit_davidson`.  ``outcome`` is winner
    labels or integer outcome codes; ``weight`` are likelihood weights (rows of weight
    0 are dropped).  Reports ``extra["tie_parameter"] = ν`` (delta-method SE; 0 with SE
    nan when the data have no ties), ``extra["style:<name>"] = β`` and, with ``home``,
    ``extra["first_position"] = h``, all with sandwich SEs from per-row scores.
    Arguments otherwise as in :func:`fit_contextual_bt`.
    """
    rows = _rows(a, b, outcome, X, weight, models, names, units)
    return _fit_tie_model(davidson_model, rows, home, prior, reg, max_iter, gtol)


def fit_contextual_rao_kupper(
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray | pd.Series,
    X: np.ndarray,
    weight: np.ndarray | None = None,
    models: Sequence[str] | None = None,
    home: bool = False,
    prior: float = 0.0,
    names: Sequence[str] | None = None,
    *,
    reg: float = 0.0,
    max_iter: int = 100,
    gtol: float = 1e-9,
    units: np.ndarray | None = None,
) -> Fit:
    """Rao–Kupper (1967) tie model with per-row covariates in the linear predictor.

    With ``d = θ_a − θ_b + h + x_iᵀβ`` and ``τ = log θ_RK``: ``P(a) = σ(d − τ)``,
    ``P(b) = σ(−d − τ)``, ``P(tie)`` the rest — with x = 0 the model of
    :func:`~referee.ranking.ties.fit_rao_kupper`.  Reports ``extra["tie_parameter"] = θ_RK``
    (delta-method SE; 1 with SE nan without ties); otherwise as
    :func:`fit_contextual_davidson`.
    """
    rows = _rows(a, b, outcome, X, weight, models, names, units)
    return _fit_tie_model(rao_kupper_model, rows, home, prior, reg, max_iter, gtol)


#: model name (as on the command line) → contextual fitter.
CONTEXTUAL: dict[str, Callable[..., Fit]] = {
    "bt": fit_contextual_bt,
    "davidson": fit_contextual_davidson,
    "rao-kupper": fit_contextual_rao_kupper,
}


def fit_contextual(
    model: str,
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray | pd.Series,
    X: np.ndarray,
    weight: np.ndarray | None = None,
    models: Sequence[str] | None = None,
    home: bool = False,
    prior: float = 0.0,
    names: Sequence[str] | None = None,
    units: np.ndarray | None = None,
) -> Fit:
    """Style-controlled fit of ``model`` (``"bt"``, ``"davidson"`` or ``"rao-kupper"``;
    ``rao_kupper`` is accepted too) on per-row covariates ``X``.  ``units`` gives each row's
    unit (cluster) for a cluster-robust sandwich; None: every row is its own unit."""
    key = model.replace("_", "-")
    if key not in CONTEXTUAL:
        raise ValueError(f"style control needs model 'bt', 'davidson' or 'rao-kupper', not {model!r}")
    return CONTEXTUAL[key](a, b, outcome, X, weight=weight, models=models, home=home, prior=prior, names=names,
                           units=units)


def style_control(
    df: pd.DataFrame,
    features: Sequence[str] = ("length", "markdown"),
    *,
    length_unit: str = "tokens",
    home: bool = False,
    reg: float = 0.0,
    prior: float = 0.0,
    models: Sequence[str] | None = None,
) -> Fit:
    """Style-controlled leaderboard from a comparisons table: :func:`style_features` then
    :func:`fit_contextual_bt` (weights from ``weight`` when present)."""
    names, x = style_features(df, features, length_unit)
    weight = df["weight"].to_numpy(dtype=float) if "weight" in df.columns else None
    if weight is not None:
        weight = np.where(np.isnan(weight), 1.0, weight)
    mnames, ia, ib = model_index(df, None if models is None else list(models))
    return fit_contextual_bt(ia, ib, outcome_codes(df["winner"]), x, weight, mnames, home, reg,
                             names=names, prior=prior)

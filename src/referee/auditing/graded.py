"""Graded (pointwise) judges against reference scores: ``referee audit scores.jsonl --gold human.jsonl``.

Both inputs are scores tables (``prompt_id``, ``model`` and/or ``response``, ``scorer``,
``score``: the output of ``referee score`` and of ``referee judge --mode pointwise``); every
scorer of the audited table is one judge, every score of ``gold`` (averaged over its scorers when
several rate one response) is the reference.  A judge's score x and the reference score y are
paired on (prompt_id, response text) when both tables carry the texts, else on (prompt_id, model).
Per judge, each metric with a percentile CI from the prompt-clustered bootstrap
(:mod:`referee.auditing.bootstrap`; clusters = ``prompt_id``):

* ``weighted_kappa``: Cohen's (1968) weighted κ with quadratic weights w = (x − y)² on the score
  values, κ_w = 1 − Σ(x − y)² / (Σx² + Σy² − 2·Σx·Σy / N) — the observed squared disagreement over
  the one expected if judge and reference were independent with the same marginals (equals
  scikit-learn's ``cohen_kappa_score(weights="quadratic")`` for equally spaced integer scores).
* ``spearman``: Spearman's ρ, the Pearson correlation of mid-ranks.  With at most 21 distinct
  values on each side (a rating scale) every bootstrap round re-ranks the resampled
  (x, y) contingency table exactly; with more, the full-sample ranks are resampled.
* ``exact_agreement`` (x = y) and ``within_one`` (|x − y| ≤ 1); ``mean_difference`` = mean(x − y).
* Central tendency: ``score_spread_ratio`` = sd(x) / sd(y) (< 1: the judge compresses the scale;
  noise alone raises it, so only compression is flagged) and ``score_middle_excess`` = the judge's
  share of scores in the middle third of the scale minus the reference's on the same responses
  (``middle_rate`` is the judge's share, descriptive).
* ``score_verbosity``: the partial correlation of the judge's score with the response length in
  characters, controlling for the reference score, r_xL·y = (r_xL − r_xy·r_yL) / √((1 − r_xy²)(1 − r_yL²))
  (the length dependence the reference does not explain; needs the response texts).
* ``score_self_preference`` (with ``family``): mean(x − y) on responses of the judge's own family
  minus mean(x − y) on the others, as a share of the scale's width (Panickssery et al. 2024).

The scale is ``scale=(low, high)`` when given — a score outside it is refused, naming file, line and
field — else the union of both tables' observed range.  Bands (:data:`referee.auditing.flags.DEFAULT_BANDS`):
spread ratio ≥ 0.8, middle excess ≤ 0.1, verbosity within ±0.1, self-preference ≤ 0.05.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from referee import __version__
from referee.auditing import gates
from referee.auditing.bootstrap import Metric, Registry, cluster_sums, ratio
from referee.auditing.flags import Band, control, flags_for, tests_for
from referee.auditing.load import input_names, load_scores
from referee.auditing.report import CONTRACT, AuditReport
from referee.auditing.scores import _score_keys, _sd_ratio, histogram
from referee.auditing.selfpref import Families
from referee.errors import InputError

#: the graded metrics, in report order (their keys under ``details.graded``)
METRICS = ("weighted_kappa", "spearman", "exact_agreement", "within_one", "mean_difference", "score_spread_ratio",
           "middle_rate", "score_middle_excess", "score_verbosity", "score_self_preference")
#: the banded ones
BANDED = ("score_spread_ratio", "score_middle_excess", "score_verbosity", "score_self_preference")
#: the most distinct values per side for which Spearman re-ranks every bootstrap round
MAX_LEVELS = 21


def check_scale(table: pd.DataFrame, scale: tuple[float, float] | None) -> None:
    """Refuse a score outside the declared ``scale``, naming its file, line and field."""
    if scale is None:
        return
    lo, hi = scale
    s = table["score"].to_numpy(dtype=float)
    out = (s < lo) | (s > hi)
    if out.any():
        at = int(np.flatnonzero(out)[0])
        files = table.attrs.get("files")
        lines = table.attrs.get("lines")
        raise InputError(
            f"score {s[at]:g} lies outside the declared scale {lo:g}–{hi:g} ({int(out.sum())} such scores)",
            path=None if files is None else str(files[at]),
            line=None if lines is None else int(lines[at]),
            field="score",
        )


def _side(judged: pd.DataFrame, gold: pd.DataFrame) -> str:
    def has(df: pd.DataFrame, col: str) -> bool:
        return col in df.columns and bool(df[col].notna().all())

    if has(judged, "response") and has(gold, "response"):
        return "response"
    if has(judged, "model") and has(gold, "model"):
        return "model"
    raise InputError("graded scores are paired on prompt_id + response text or prompt_id + model; the audited "
                     "scores and the reference scores share neither (fully filled)", field="model")


def audit_graded(
    scores: Any,
    gold: Any,
    *,
    families: Mapping[str, str] | None = None,
    bands: Mapping[str, Band],
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: tuple[float, float] | None = None,
    workers: int = 2,
    fail_on: Sequence[str] | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Audit every scorer of ``scores`` against the reference scores ``gold`` (see the module docstring)."""
    if gold is None:
        raise InputError("a graded audit needs reference scores: pass them as `gold`", field="gold")
    if scale is not None and not scale[0] < scale[1]:
        raise InputError(f"`scale` must be (low, high) with low < high, got {scale!r}", field="scale")
    judged, ref = load_scores(scores), load_scores(gold)
    check_scale(judged, scale)
    check_scale(ref, scale)
    side = _side(judged, ref)
    rng = scale or (float(min(judged["score"].min(), ref["score"].min())),
                    float(max(judged["score"].max(), ref["score"].max())))
    gold_by_key = pd.Series(ref["score"].to_numpy(dtype=float)).groupby(_score_keys(ref, side)).mean()
    keys = _score_keys(judged, side)
    y_all = gold_by_key.reindex(keys).to_numpy()
    matched = np.isfinite(y_all)
    if not matched.any():
        r = judged.iloc[0]
        raise InputError(
            f"none of the {len(judged)} audited scores has a reference score (paired on prompt_id + {side}); "
            f"e.g. prompt_id={r['prompt_id']!r}, {side}={str(r[side])[:60]!r}",
            path=", ".join(input_names(gold)) or None,
            field=side,
        )
    notes: list[str] = []
    if (~matched).any():
        notes.append(f"{int((~matched).sum())} audited scores have no reference score and are left out")
    prompts = judged["prompt_id"].astype(str).to_numpy(dtype=object)
    labels, cluster = np.unique(prompts[matched], return_inverse=True)
    reg = Registry(len(labels))
    fam = Families(families, list(map(str, pd.unique(judged["scorer"])))) if families else None
    details: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    scorer_col = judged["scorer"].astype(str).to_numpy(dtype=object)
    for j in map(str, pd.unique(scorer_col[matched])):
        m = matched & (scorer_col == j)
        sub = judged[m]
        # one score per response: repeated scores of one response by one judge are averaged
        k = keys[m]
        first = ~pd.Series(k).duplicated().to_numpy()
        x = pd.Series(sub["score"].to_numpy(dtype=float)).groupby(k).transform("mean").to_numpy()[first]
        y, c = y_all[m][first], cluster[np.flatnonzero(m[matched])][first]
        length = sub["response"].astype(str).str.len().to_numpy(dtype=float)[first] if side == "response" else None
        models = sub["model"].to_numpy(dtype=object)[first] if "model" in sub.columns else None
        counts[j] = int(x.size)
        details[j] = _register(reg, j, x, y, c, rng, length, fam, models)
    metrics = reg.run(rounds, seed, level, workers=workers, progress=progress)
    out = {j: _assemble(j, counts[j], details[j], metrics, bands, level) for j in details}
    if rounds == 0:
        notes.append("rounds=0: no confidence intervals, so no metric can be flagged")
    if side == "model":
        notes.append("no response texts on both sides, so score_verbosity (length) was not computed")
    if fam is None:
        notes.append("no `family` given, so score_self_preference was not computed")
    meta = {
        "kind": "graded",
        "seed": seed,
        "rounds": rounds,
        "level": level,
        "tie_policy": None,
        "bands": {k: list(b) for k, b in bands.items() if k in BANDED},
        "inputs": {"verdicts": input_names(scores), "gold": input_names(gold), "scores": []},
        "alignment": {"key": f"prompt_id + {side}", "verdicts": len(judged), "aligned": int(matched.sum()),
                      "gold_rows": len(ref)},
        "clusters": len(labels),
        "cluster_by": "prompt_id",
        "scale": list(rng),
        "scale_declared": scale is not None,
        "family": dict(families or {}),
        "flag_control": control(out, level),
        "gate": gates.check(out, fail_on),
        "dropped": {"verdicts": dict(judged.attrs.get("dropped", {})), "gold": dict(ref.attrs.get("dropped", {}))},
        "notes": notes,
        "referee_version": __version__,
    }
    return AuditReport(out, meta, {})


def _register(
    reg: Registry, j: str, x: np.ndarray, y: np.ndarray, c: np.ndarray, scale: tuple[float, float],
    length: np.ndarray | None, fam: Families | None, models: np.ndarray | None,
) -> dict[str, Any]:
    """Register the graded metrics of judge ``j`` on its paired scores; returns its descriptive details."""
    n, C = float(x.size), reg.n_clusters
    one = np.ones(x.size)
    d = x - y
    reg.add((j, "weighted_kappa"), reg.block(cluster_sums(c, np.c_[one, x, y, x * x, y * y, d * d], C)), _kappa, n)
    xs, ys = np.unique(x), np.unique(y)
    if xs.size <= MAX_LEVELS and ys.size <= MAX_LEVELS:
        cell = np.searchsorted(xs, x) * ys.size + np.searchsorted(ys, y)
        table = np.zeros((x.size, xs.size * ys.size))
        table[np.arange(x.size), cell] = 1.0
        reg.add((j, "spearman"), reg.block(cluster_sums(c, table, C)), _table_spearman(xs.size, ys.size), n)
    else:
        rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
        reg.add((j, "spearman"), reg.block(cluster_sums(c, np.c_[one, rx, ry, rx * rx, ry * ry, rx * ry], C)),
                _pearson, n)
    reg.add_rows((j, "exact_agreement"), c, np.c_[(x == y).astype(float), one])
    reg.add_rows((j, "within_one"), c, np.c_[(np.abs(d) <= 1).astype(float), one])
    reg.add_rows((j, "mean_difference"), c, np.c_[d, one])
    reg.add((j, "score_spread_ratio"), reg.block(cluster_sums(c, np.c_[one, x, x * x, y, y * y], C)), _sd_ratio, n)
    lo, hi = scale
    mid, half = (lo + hi) / 2, (hi - lo) / 6
    mx, my = (np.abs(x - mid) <= half).astype(float), (np.abs(y - mid) <= half).astype(float)
    reg.add_rows((j, "middle_rate"), c, np.c_[mx, one])
    reg.add_rows((j, "score_middle_excess"), c, np.c_[mx - my, one])
    if length is not None:
        L = length
        cols = reg.block(cluster_sums(c, np.c_[one, x, y, L, x * x, y * y, L * L, x * y, x * L, y * L], C))
        reg.add((j, "score_verbosity"), cols, _partial, n)
    info: dict[str, Any] = {"scale": [lo, hi], "mean": float(x.mean()), "reference_mean": float(y.mean()),
                            "histogram": histogram(x, scale), "reference_histogram": histogram(y, scale)}
    if fam is not None and models is not None:
        own = (fam.of_models(models.astype(str)) == fam.judge(j)).astype(float)
        info["own_family_scores"] = int(own.sum())
        if 0 < own.sum() < own.size:
            width = hi - lo if hi > lo else 1.0
            cols = reg.block(cluster_sums(c, np.c_[own * d, own, (1 - own) * d, 1 - own], C))
            reg.add((j, "score_self_preference"), cols, lambda t: _self_pref(t, width), float(own.sum()))
    return info


def _kappa(t: np.ndarray) -> np.ndarray:
    n, sx, sy, sxx, syy, dd = (t[:, i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        result: np.ndarray = 1 - dd / (sxx + syy - 2 * sx * sy / n)
        return result


def _pearson(t: np.ndarray) -> np.ndarray:
    n, sa, sb, saa, sbb, sab = (t[:, i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sab - sa * sb / n
        result: np.ndarray = cov / np.sqrt((saa - sa * sa / n) * (sbb - sb * sb / n))
        return result


def _table_spearman(kx: int, ky: int) -> Callable[[np.ndarray], np.ndarray]:
    """Spearman's ρ of (R × kx·ky) contingency-table counts: mid-ranks from the margins, then Pearson."""

    def fn(t: np.ndarray) -> np.ndarray:
        T = t.reshape(-1, kx, ky)
        nx, ny = T.sum(axis=2), T.sum(axis=1)
        rx = np.cumsum(nx, axis=1) - (nx - 1) / 2  # mid-rank of each level (ranks 1..N)
        ry = np.cumsum(ny, axis=1) - (ny - 1) / 2
        n = nx.sum(axis=1)
        mean = (n + 1) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = np.einsum("rij,ri,rj->r", T, rx, ry) / n - mean * mean
            vx = (nx * rx * rx).sum(axis=1) / n - mean * mean
            vy = (ny * ry * ry).sum(axis=1) / n - mean * mean
            result: np.ndarray = cov / np.sqrt(vx * vy)
            return result

    return fn


def _partial(t: np.ndarray) -> np.ndarray:
    """r_xL·y from the sums [n, x, y, L, x², y², L², xy, xL, yL]."""
    n, sx, sy, sl, sxx, syy, sll, sxy, sxl, syl = (t[:, i] for i in range(10))
    with np.errstate(divide="ignore", invalid="ignore"):
        vx, vy, vl = sxx - sx * sx / n, syy - sy * sy / n, sll - sl * sl / n
        rxy = (sxy - sx * sy / n) / np.sqrt(vx * vy)
        rxl = (sxl - sx * sl / n) / np.sqrt(vx * vl)
        ryl = (syl - sy * sl / n) / np.sqrt(vy * vl)
        result: np.ndarray = (rxl - rxy * ryl) / np.sqrt((1 - rxy * rxy) * (1 - ryl * ryl))
        return result


def _self_pref(t: np.ndarray, width: float) -> np.ndarray:
    own = ratio(t[:, [0, 1]])
    other = ratio(t[:, [2, 3]])
    result: np.ndarray = (own - other) / width
    return result


def _assemble(j: str, n: int, info: dict[str, Any], metrics: dict[object, Metric], bands: Mapping[str, Band],
              level: float) -> dict[str, Any]:
    out: dict[str, Any] = {k: None for k in CONTRACT}
    out["n"] = n
    out["aligned"] = n
    graded = {name: metrics[(j, name)].to_dict() for name in METRICS if (j, name) in metrics}
    banded = {k: b for k, b in bands.items() if k in BANDED}
    out["flags"] = flags_for(graded, banded, level)
    out["details"] = {"graded": graded, "graded_info": info, "tests": tests_for(graded, banded, level)}
    return out

"""``jury(...)``: several judges' verdicts on the same pairs, combined into one verdict per pair.

**Alignment.**  Each judge's rows on a pair — one or both presentation orders, a soft ``prob_a``
or a hard ``winner`` — become one score ``s ∈ [0, 1]`` for the pair's canonical orientation
(``model_a`` the model name that sorts first): ``prob_a`` when the row has one, else 1 / ½ / 0 for
a win / tie / loss, turned into the canonical frame (``1 − s`` for a row shown the other way) and
averaged over the judge's rows of the pair.  A pair is keyed by its ``pair_id`` (the readers and
``referee judge`` give one; ``<prompt_id>|<model>|<model>`` otherwise, the scheme of
:func:`referee.planning.pair_id`) plus the two model names.  Rows of the gold judges (``human``,
``gold``) among the inputs are gold labels, never jurors.  Pairs judged by at least two judges
are combined; pairs only one judge saw are left out and counted; no such pair is an error.

**Methods** (``v_j = 2 s_j − 1 ∈ [−1, 1]``, the judge's signed vote):

* ``majority``: hard votes (``s_j > ½`` for ``model_a``, ``< ½`` for ``model_b``, ``= ½`` a tie):
  the side with more votes wins, a tie when split evenly; ``prob_a`` the vote share (ties ½);
* ``mean``: ``prob_a`` the mean of the judges' ``s_j``;
* ``weighted``: each judge weighted by its measured accuracy ``acc_j`` on ``gold`` (the agreement
  :func:`referee.audit` reports, with its bootstrap CI), with the log-odds weight
  ``w_j = log(acc_j / (1 − acc_j))`` (clipped at 0: a judge no better than chance gets no say),
  and ``prob_a = σ(Σ_j w_j v_j)`` — the posterior of independent voters of known accuracy under a
  flat prior (Nitzan & Paroush 1982; Grofman, Owen & Feld 1983).  The weight's CI is the same
  transform of the accuracy's CI bounds (monotone, so it carries the CI through exactly).  The
  weights are measured on the same gold labels an audit of the jury would use: such an audit is
  in-sample and flatters ``weighted``; weigh on held-out gold for an honest comparison;
* ``peer-rank`` (PRD, Li et al. 2023, "Peer Rank and Discussion"): no gold — each judge is weighted
  by its agreement with the others.  Starting from equal weights, the leave-one-out consensus
  ``c_{−j} = σ(Σ_{i≠j} w_i v_i)`` on every pair, judge ``j``'s agreement
  ``a_j = mean_k [s_jk c_{−j,k} + (1 − s_jk)(1 − c_{−j,k})]`` (the chance that its vote and the
  others' agree), and ``w_j = max(0, log(a_j / (1 − a_j)))`` — the ``weighted`` rule with the
  peers standing in for the gold labels — are iterated to a fixed point (damped, at most 200
  rounds; ``attrs["jury"]["iterations"]`` says how many).  PRD's own peer rank weighs reviewers
  by their win rates as contestants; agreement with the peers is the form this library uses,
  since it needs no judge to be a contestant.

``exclude_self``: a judge's verdicts on pairs that involve its own model are dropped before
combining (self-preference; PRD's reviewers judge their own answers).  A judge's model is the
model of the same name, or ``judge_models`` (``{judge: model}`` or ``"JUDGE=MODEL,..."``).

The result is an ordinary comparisons table (``prompt_id, model_a, model_b, winner, prob_a, judge,
n_judges, pair_id`` plus ``prompt``/``response_a``/``response_b`` when the inputs carry them),
``judge = "jury:<method>"``, so :func:`referee.rank` and :func:`referee.audit` read it unchanged;
``attrs["jury"]`` holds the method, the judges, their weights (and CIs), the alignment counts
and notes.  ``output`` is written only when everything succeeded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from referee.errors import InputError
from referee.schema import MODEL_A, MODEL_B, TIE

METHODS = ("majority", "mean", "weighted", "peer-rank")
#: judges whose rows are gold labels, not jurors (as in :func:`referee.audit`)
GOLD_JUDGES = ("gold", "human")
_EPS = 1e-9
_CLIP = 1e-3  # accuracies / agreements are clipped to [_CLIP, 1 − _CLIP] before the log-odds
OUT_COLUMNS = ("prompt_id", "model_a", "model_b", "winner", "prob_a", "judge", "n_judges", "pair_id")
TEXT_COLUMNS = ("prompt", "response_a", "response_b")
SHOW = 6  # judges named in a message


def jury(
    inputs: Sequence[str | Path | pd.DataFrame] | str | Path | pd.DataFrame,
    *,
    method: str = "majority",
    gold: Any = None,
    exclude_self: bool = False,
    output: str | Path | None = None,
    seed: int = 0,
    judge_models: Mapping[str, str] | str | None = None,
    rounds: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Combine verdict tables of several judges into one verdict per pair (see the module docstring).

    ``inputs``: verdict tables (files, folders, DataFrames any :mod:`referee.io` reader reads), one
    judge each or several in a ``judge`` column.  ``method``: ``majority`` | ``mean`` | ``weighted``
    | ``peer-rank``.  ``gold``: gold labels (a comparisons table or files) for ``weighted``; rows of
    the gold judges (``human``, ``gold``) among the inputs serve when it is None.  ``seed``,
    ``rounds``, ``level``: the bootstrap of the accuracies behind ``weighted`` (as
    :func:`referee.audit`).  ``output``: ``.jsonl`` / ``.csv`` / ``.parquet``, written at the end.
    """
    if method not in METHODS:
        raise InputError(f"`method` must be one of {', '.join(METHODS)}, got {method!r}", field="method")
    out_path = _check_output(output)
    models = _judge_models(judge_models)
    rows, gold_rows = _read(inputs)
    if gold is not None:
        from referee.auditing.load import load_comparisons

        gold_rows = load_comparisons(gold, "gold") if not isinstance(gold, pd.DataFrame) else gold
    if method == "weighted" and gold_rows is None:
        raise InputError("`method='weighted'` weighs each judge by its accuracy on gold labels: pass `gold` "
                         "(or include in the inputs rows whose judge is human or gold)", field="gold")
    scores, texts = _scores(rows)
    judges = list(dict.fromkeys(scores["judge"]))
    if len(judges) < 2:
        raise InputError(f"a jury needs verdicts of at least two judges; the inputs hold {len(judges)}"
                         + (f" ({judges[0]})" if judges else ""), field="inputs")
    matrix = scores.pivot_table(index=["key", "lo", "hi"], columns="judge", values="s", aggfunc="mean",
                                sort=False)[judges]
    counts = matrix.notna().sum(axis=1)
    summary = _alignment(matrix, counts, judges)
    if summary["aligned"] == 0:
        per = ", ".join(f"{j}: {int(matrix[j].notna().sum())}" for j in judges[:SHOW])
        raise InputError(
            f"no (prompt, pair) is judged by two or more of the {len(judges)} judges (pairs per judge: {per}"
            f"{', …' if len(judges) > SHOW else ''}); check that the prompt ids and model names agree", field="inputs")
    matrix = matrix[counts >= 2]
    notes: list[str] = []
    if summary["single"]:
        notes.append(f"{summary['single']} pairs judged by one judge only were left out")
    excluded: dict[str, int] = {}
    if exclude_self:
        matrix, excluded = _exclude_self(matrix, judges, models)
        if not excluded:
            notes.append("exclude_self: no judge is named like a model (pass `judge_models`), nothing excluded")
        keep = matrix.notna().any(axis=1)
        if not keep.all():
            notes.append(f"{int((~keep).sum())} pairs left with no judge after excluding self-judgments")
        matrix = matrix[keep]
    s = matrix.to_numpy(dtype=float)
    info: dict[str, Any] = {"method": method, "judges": judges, "alignment": summary, "excluded_self": excluded,
                            "notes": notes}
    if method == "majority":
        prob = _majority(s)
    elif method == "mean":
        prob = np.nanmean(s, axis=1)
    elif method == "weighted":
        assert gold_rows is not None
        w, info["weights"] = _gold_weights(rows, gold_rows, judges, seed=seed, rounds=rounds, level=level)
        prob = _log_odds(s, w)
    else:
        w, info["weights"], info["iterations"], info["converged"] = _peer_weights(s, judges)
        prob = _log_odds(s, w)
    if "weights" in info and not any(v["weight"] > 0 for v in info["weights"].values()):
        notes.append("every judge's weight is 0 (none better than chance): every pair is a tie")
    table = _table(matrix, prob, method, texts)
    table.attrs = {"jury": info}
    if out_path is not None:
        _write(table, out_path)
        info["output"] = str(out_path)
    return table


# -- reading ---------------------------------------------------------------------------------------------
def _read(inputs: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """All inputs as one table (a ``judge`` per row) and the gold judges' rows (None without any)."""
    from referee.auditing.load import split_gold
    from referee.io import table

    items = [inputs] if isinstance(inputs, str | Path | pd.DataFrame) else list(inputs)
    if not items:
        raise InputError("`inputs` is empty: pass the verdict tables of two or more judges", field="inputs")
    frames = []
    for i, item in enumerate(items):
        df = table(item)
        name = Path(item).name if isinstance(item, str | Path) else f"input {i + 1}"
        if "judge" not in df.columns:
            df = df.assign(judge=name)
        else:
            df = df.assign(judge=df["judge"].where(df["judge"].notna(), name).astype(str))
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    return split_gold(rows, GOLD_JUDGES)


def _scores(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(judge, key, lo, hi, s) per row in the canonical frame, and the texts per key (first seen)."""
    if "prompt_id" not in rows.columns and "pair_id" not in rows.columns:
        raise InputError("verdicts need `prompt_id` or `pair_id` to tell which pairs two judges share",
                         field="prompt_id")
    a, b = rows["model_a"].astype(str), rows["model_b"].astype(str)
    swap = (a > b).to_numpy()
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    s = rows["winner"].map({MODEL_A: 1.0, MODEL_B: 0.0}).fillna(0.5).to_numpy(dtype=float)
    if "prob_a" in rows.columns:
        p = pd.to_numeric(rows["prob_a"], errors="coerce").to_numpy(dtype=float)
        s = np.where(np.isnan(p), s, p)
    s = np.where(swap, 1.0 - s, s)
    pid = rows["prompt_id"].astype(str) if "prompt_id" in rows.columns else pd.Series([""] * len(rows))
    key = pid.to_numpy(dtype=object) + "|" + lo.astype(object) + "|" + hi.astype(object)
    if "pair_id" in rows.columns:
        given = rows["pair_id"]
        key = np.where(given.notna().to_numpy(), given.astype(str).to_numpy(dtype=object), key)
    out = pd.DataFrame({"judge": rows["judge"].astype(str).to_numpy(), "key": key, "lo": lo, "hi": hi, "s": s})
    keep = (lo != hi) & (out["key"] != "")
    texts = pd.DataFrame({"key": key, "lo": lo, "hi": hi,
                          "prompt_id": rows["prompt_id"].to_numpy() if "prompt_id" in rows.columns else None})
    for col in TEXT_COLUMNS:
        if col in rows.columns:
            v = rows[col].to_numpy(dtype=object)
            if col != "prompt":  # the response of lo / hi, whichever side it was shown on
                other = rows["response_b" if col == "response_a" else "response_a"].to_numpy(dtype=object) \
                    if {"response_a", "response_b"} <= set(rows.columns) else v
                v = np.where(swap, other, v)
            texts[col] = v
    texts = texts[keep.to_numpy()].drop_duplicates(["key", "lo", "hi"])
    return out[keep.to_numpy()], texts


def _alignment(matrix: pd.DataFrame, counts: pd.Series, judges: list[str]) -> dict[str, Any]:
    by_n = counts.value_counts().sort_index()
    return {
        "judges": len(judges),
        "pairs": len(matrix),
        "aligned": int((counts >= 2).sum()),  # pairs judged by two or more judges
        "aligned_all": int((counts == len(judges)).sum()),  # … by every judge
        "single": int((counts == 1).sum()),
        "by_n_judges": {int(str(k)): int(v) for k, v in by_n.items()},
        "per_judge": {j: int(matrix[j].notna().sum()) for j in judges},
    }


def _judge_models(value: Mapping[str, str] | str | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for part in value.split(","):
        judge, sep, model = part.partition("=")
        if not sep or not judge.strip() or not model.strip():
            raise InputError(f"`judge_models` must look like JUDGE=MODEL,..., got {value!r}", field="judge_models")
        out[judge.strip()] = model.strip()
    return out


def _exclude_self(matrix: pd.DataFrame, judges: list[str], models: dict[str, str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """``matrix`` with each judge's score on pairs involving its own model set to NaN (counts per judge)."""
    lo = matrix.index.get_level_values("lo").astype(str)
    hi = matrix.index.get_level_values("hi").astype(str)
    named = set(lo) | set(hi)
    out = matrix.copy()
    excluded: dict[str, int] = {}
    for j in judges:
        model = models.get(j, j if j in named else None)
        if model is None:
            continue
        own = np.asarray((lo == model) | (hi == model)) & out[j].notna().to_numpy()
        excluded[j] = int(own.sum())
        out.loc[own, j] = np.nan
    return out, excluded


# -- combining ---------------------------------------------------------------------------------------------
def _majority(s: np.ndarray) -> np.ndarray:
    """The vote share of ``model_a`` (ties ½) among the judges present on each pair."""
    present = ~np.isnan(s)
    votes = np.where(present, np.sign(np.nan_to_num(s, nan=0.5) - 0.5), 0.0)
    n = present.sum(axis=1)
    a, b = (votes > 0).sum(axis=1), (votes < 0).sum(axis=1)
    return np.asarray((a + 0.5 * (n - a - b)) / np.maximum(n, 1), dtype=float)


def _log_odds(s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``σ(Σ_j w_j (2 s_j − 1))`` over the judges present on each pair."""
    z = np.nansum(w[None, :] * (2.0 * s - 1.0), axis=1)
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=float)


def _logit(p: float) -> float:
    p = min(max(p, _CLIP), 1.0 - _CLIP)
    return math.log(p / (1.0 - p))


def _weight(p: float | None) -> float | None:
    return None if p is None or (isinstance(p, float) and math.isnan(p)) else max(0.0, _logit(float(p)))


def _gold_weights(
    rows: pd.DataFrame, gold: pd.DataFrame, judges: list[str], *, seed: int, rounds: int, level: float
) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """Each judge's accuracy on ``gold`` (:func:`referee.audit`, bootstrap CI) and its log-odds weight."""
    from referee.auditing.api import audit

    report = audit(rows[rows["judge"].isin(judges)].reset_index(drop=True), gold, rounds=rounds, seed=seed,
                   level=level)
    weights: dict[str, dict[str, Any]] = {}
    for j in judges:
        acc = report.judges.get(j, {}).get("accuracy") or {}
        value = acc.get("value")
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise InputError(f"judge {j!r} shares no pair with the gold labels, so its accuracy (its weight) is "
                             "unknown: pass `gold` labels on the pairs it judged", field="gold")
        weights[j] = {
            "weight": _weight(value), "ci_low": _weight(acc.get("ci_low")), "ci_high": _weight(acc.get("ci_high")),
            "accuracy": value, "accuracy_ci": [acc.get("ci_low"), acc.get("ci_high")], "n": acc.get("n"),
        }
    return np.array([weights[j]["weight"] for j in judges], dtype=float), weights


def _peer_weights(s: np.ndarray, judges: list[str]) -> tuple[np.ndarray, dict[str, dict[str, Any]], int, bool]:
    """PRD-style peer weights: log-odds of each judge's agreement with the others' consensus, to a fixed point."""
    present = ~np.isnan(s)
    v = np.where(present, 2.0 * s - 1.0, 0.0)
    w = np.ones(s.shape[1])
    agree = np.full(s.shape[1], 0.5)
    converged = False
    it = 0
    for it in range(1, 201):  # noqa: B007 - the count is reported
        total = v @ w
        new = np.zeros_like(w)
        for j in range(s.shape[1]):
            others = present.copy()
            others[:, j] = False
            has = present[:, j] & others.any(axis=1)
            if not has.any():
                agree[j] = 0.5
                continue
            c = 1.0 / (1.0 + np.exp(-(total[has] - w[j] * v[has, j])))
            sj = s[has, j]
            agree[j] = float(np.mean(sj * c + (1.0 - sj) * (1.0 - c)))
            new[j] = max(0.0, _logit(agree[j]))
        step = 0.5 * (new - w)  # damped
        w = w + step
        if np.max(np.abs(step)) < 1e-9:
            converged = True
            break
    weights = {j: {"weight": float(w[i]), "agreement": float(agree[i]), "ci_low": None, "ci_high": None,
                   "n": int(present[:, i].sum())} for i, j in enumerate(judges)}
    return w, weights, it, converged


def _table(matrix: pd.DataFrame, prob: np.ndarray, method: str, texts: pd.DataFrame) -> pd.DataFrame:
    idx = matrix.index.to_frame(index=False)
    n = matrix.notna().sum(axis=1).to_numpy()
    winner = np.where(prob > 0.5 + _EPS, MODEL_A, np.where(prob < 0.5 - _EPS, MODEL_B, TIE))
    out = pd.DataFrame({"key": idx["key"], "lo": idx["lo"], "hi": idx["hi"]})
    out = out.merge(texts, on=["key", "lo", "hi"], how="left", sort=False)
    pid = out["prompt_id"] if "prompt_id" in out.columns else pd.Series([None] * len(out))
    table = pd.DataFrame({
        "prompt_id": pid.where(pid.notna(), None), "model_a": out["lo"], "model_b": out["hi"], "winner": winner,
        "prob_a": prob, "judge": f"jury:{method}", "n_judges": n.astype(int), "pair_id": out["key"],
    })  # fmt: skip
    for col in TEXT_COLUMNS:
        if col in out.columns and out[col].notna().any():
            table[col] = out[col].to_numpy()
    if table["prompt_id"].isna().all():
        table = table.drop(columns="prompt_id")
    return table


# -- output ------------------------------------------------------------------------------------------------
def _check_output(output: str | Path | None) -> Path | None:
    if output is None:
        return None
    from referee.io.source import inner_suffix

    out = Path(output)
    if inner_suffix(out) not in (".jsonl", ".ndjson", ".csv", ".parquet"):
        raise InputError("cannot tell the output format from the extension; use .jsonl, .csv or .parquet",
                         path=str(out), field="output")
    if not out.parent.is_dir():
        raise InputError(f"the folder {str(out.parent)!r} does not exist; create it first", path=str(out),
                         field="output")
    return out


def _write(table: pd.DataFrame, out: Path) -> None:
    """Write to a temporary file beside ``out`` and rename it: nothing half-written."""
    from referee.io.write import write_atomic

    write_atomic(table, out, "the jury table")


__all__ = ["METHODS", "jury"]

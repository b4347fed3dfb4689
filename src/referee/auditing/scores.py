"""Pointwise scores in an audit: matching them to compared responses, reward-model verdicts,
and the central tendency of a scorer.

A score belongs to a response identified by (``prompt_id``, ``model``) — or by
(``prompt_id``, ``response`` text) when both the scores and the comparisons carry the texts.
Scorers are matched to judges by name (case and punctuation ignored); a single scorer and a
single judge are matched to each other whatever their names.

**Reward models** (``kind="reward-model"``): each scorer judges every gold pair by comparing
the scores of its two responses, ``winner`` = the higher score and ``prob_a`` = σ(s_a − s_b)
(the Bradley–Terry reading of reward differences).  Equal scores give a tie, which counts as
wrong for accuracy (the RewardBench convention: Lambert et al. 2024) and are counted.

**Central tendency** of a scorer's ratings (a judge squeezing everything into the middle of
the scale): histogram, mean, spread (sd), the share of ratings at either end of the scale
(``endpoint_rate``), and — where gold scores (scorer ``gold``/``human``) rate the same
responses — the spread ratio sd_judge / sd_gold on those responses (< 1: compressed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from referee.auditing.align import _present, hash_strings
from referee.auditing.bootstrap import Registry, cluster_sums
from referee.auditing.selfpref import normalise
from referee.errors import InputError


def key_fields(scores: pd.DataFrame, table: pd.DataFrame) -> tuple[str, str]:
    """(prompt field in the table, side field): how scores are matched to the table's responses."""
    if _present(table, "prompt_id") and "prompt_id" in scores.columns:
        prompt = "prompt_id"
    else:
        raise InputError("scores are matched to comparisons by prompt_id, but the comparisons have no prompt_id",
                         field="prompt_id")
    if _present(scores, "response") and _present(table, "response_a", "response_b"):
        return prompt, "response"
    if not _present(scores, "model"):
        raise InputError("scores name their response by 'model' (or 'response' text when the comparisons carry "
                         "the texts); some scores have neither", field="model")
    return prompt, "model"


def _score_keys(scores: pd.DataFrame, side: str) -> np.ndarray:
    s = scores["response"] if side == "response" else scores["model"]
    return _combine(hash_strings(scores["prompt_id"]), hash_strings(s))


def _table_keys(table: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray]:
    hp = hash_strings(table["prompt_id"])
    if side == "response":
        return _combine(hp, hash_strings(table["response_a"])), _combine(hp, hash_strings(table["response_b"]))
    return _combine(hp, hash_strings(table["model_a"])), _combine(hp, hash_strings(table["model_b"]))


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = pd.util.hash_array(a) * np.uint64(0x9E3779B97F4A7C15) ^ b
    return result


def match_scorers(scorers: Sequence[str], judges: Sequence[str]) -> dict[str, str]:
    """judge → scorer, by name (case/punctuation-insensitive), or the only scorer to the only judge."""
    by_norm = {normalise(s): s for s in scorers}
    out = {j: by_norm[normalise(j)] for j in judges if normalise(j) in by_norm}
    if not out and len(scorers) == 1 and len(judges) == 1:
        out = {judges[0]: scorers[0]}
    return out


def attach(table: pd.DataFrame, scores: pd.DataFrame, gold_scorers: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Per verdict row, the scores of its two responses by the scorer matched to its judge (NaN if none)."""
    n = len(table)
    sa, sb = np.full(n, np.nan), np.full(n, np.nan)
    prompt, side = key_fields(scores, table)
    gold = {normalise(g) for g in gold_scorers}
    scorers = [s for s in pd.unique(scores["scorer"]) if normalise(s) not in gold]
    judges = list(pd.unique(table["judge"])) if "judge" in table.columns else []
    pairing = match_scorers(scorers, judges)
    ka, kb = _table_keys(table, side)
    known = np.union1d(ka, kb)
    skeys = _score_keys(scores, side)
    unknown = _unknown_scores(scores, skeys, known, side, "a response in the comparisons")
    judge_col = table["judge"].to_numpy(dtype=object) if "judge" in table.columns else np.full(n, None)
    for judge, scorer in pairing.items():
        rows = judge_col == judge
        mine = scores["scorer"].to_numpy(dtype=object) == scorer
        table_scores = pd.Series(scores["score"].to_numpy(dtype=float)[mine]).groupby(skeys[mine]).mean()
        sa[rows] = table_scores.reindex(ka[rows]).to_numpy()
        sb[rows] = table_scores.reindex(kb[rows]).to_numpy()
    info = {"matched": {j: s for j, s in pairing.items()}, "unknown_scores": int(unknown.sum()), "key": f"{prompt} + {side}"}
    return sa, sb, info


def _unknown_scores(scores: pd.DataFrame, skeys: np.ndarray, known: np.ndarray, side: str, what: str) -> np.ndarray:
    """Mask of scores that match no response; refuse when none match."""
    unknown = ~np.isin(skeys, known)
    if unknown.all():
        row = scores.iloc[0]
        ident = row.get("response") if side == "response" else row.get("model")
        raise InputError(
            f"none of the {len(scores)} scores is for {what} (matched on prompt_id + {side}); "
            f"first unknown: prompt_id={row['prompt_id']!r}, {side}={str(ident)[:60]!r}",
            field=side,
        )
    return unknown


def reward_model_verdicts(scores: pd.DataFrame, gold: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One verdict per distinct gold pair and scorer, from the scores of the pair's two responses."""
    prompt, side = key_fields(scores, gold)
    ka, kb = _table_keys(gold, side)
    lo, hi = np.minimum(ka, kb), np.maximum(ka, kb)
    first = ~pd.DataFrame({"lo": lo, "hi": hi}).duplicated().to_numpy()
    pairs = gold[first].reset_index(drop=True)
    ka, kb = ka[first], kb[first]
    skeys = _score_keys(scores, side)
    unknown = _unknown_scores(scores, skeys, np.union1d(ka, kb), side, "a response of the gold pairs")
    keep = [c for c in ("model_a", "model_b", "prompt_id", "prompt", "response_a", "response_b", "category",
                        "pair_id") if c in pairs.columns]
    frames: list[pd.DataFrame] = []
    per: dict[str, dict[str, int]] = {}
    for scorer in pd.unique(scores["scorer"]):
        mine = scores["scorer"].to_numpy(dtype=object) == scorer
        by_key = pd.Series(scores["score"].to_numpy(dtype=float)[mine]).groupby(skeys[mine]).mean()
        sa = by_key.reindex(ka).to_numpy()
        sb = by_key.reindex(kb).to_numpy()
        ok = np.isfinite(sa) & np.isfinite(sb)
        sa, sb = sa[ok], sb[ok]
        f = pairs.loc[ok, keep].copy()
        f["winner"] = np.where(sa > sb, "model_a", np.where(sa < sb, "model_b", "tie"))
        f["prob_a"] = expit(sa - sb)
        f["judge"] = str(scorer)
        f["order"] = 1
        frames.append(f)
        per[str(scorer)] = {"scored_pairs": int(ok.sum()), "unscored_pairs": int((~ok).sum()),
                            "score_ties": int((sa == sb).sum())}
    out = pd.concat(frames, ignore_index=True)
    if len(out) == 0:
        raise InputError("no gold pair has scores for both of its responses", field=side)
    return out, {"per_scorer": per, "unknown_scores": int(unknown.sum()), "key": f"{prompt} + {side}"}


def add_central(
    reg: Registry,
    judge: str,
    mine: pd.DataFrame,
    gold: pd.DataFrame | None,
    clusters: np.ndarray,
    gold_clusters: np.ndarray | None,
    scale: tuple[float, float],
    side: str,
) -> dict[str, Any]:
    """Register the central-tendency metrics of one scorer's ratings (``mine``)."""
    s = mine["score"].to_numpy(dtype=float)
    lo, hi = scale
    out: dict[str, Any] = {"scale": [lo, hi], "mean": float(s.mean()), "histogram": histogram(s, scale)}
    key = (judge, "details", "central_tendency")
    ones = np.ones(s.size)
    cols = reg.block(cluster_sums(clusters, np.c_[ones, s, s * s], reg.n_clusters))
    reg.add((*key, "spread"), cols, _sd, float(s.size))
    end = (s <= lo) | (s >= hi)
    reg.add_rows((*key, "endpoint_rate"), clusters, np.c_[end.astype(float), ones])
    if gold is not None and len(gold):
        gk = pd.Series(gold["score"].to_numpy(dtype=float)).groupby(_score_keys(gold, side)).mean()
        g = gk.reindex(_score_keys(mine, side)).to_numpy()
        m = np.isfinite(g)
        if m.sum() >= 2:
            st = np.c_[np.ones(int(m.sum())), s[m], s[m] ** 2, g[m], g[m] ** 2]
            c2 = reg.block(cluster_sums(clusters[m], st, reg.n_clusters))
            reg.add((*key, "spread_ratio"), c2, _sd_ratio, float(m.sum()))
            gend = (g[m] <= lo) | (g[m] >= hi)
            reg.add_rows((*key, "gold_endpoint_rate"), clusters[m], np.c_[gend.astype(float), np.ones(int(m.sum()))])
    return out


def _sd(t: np.ndarray) -> np.ndarray:
    n = t[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        result: np.ndarray = np.sqrt(np.clip(t[:, 2] / n - (t[:, 1] / n) ** 2, 0, None))
        return result


def _sd_ratio(t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        result: np.ndarray = _sd(t[:, :3]) / _sd(t[:, [0, 3, 4]])
        return result


def histogram(s: np.ndarray, scale: tuple[float, float], bins: int = 10) -> list[dict[str, float]]:
    """Counts per value when there are few distinct values (a rating scale), else equal-width bins."""
    vals, counts = np.unique(s, return_counts=True)
    if vals.size <= 21:
        return [{"value": float(v), "count": int(c)} for v, c in zip(vals, counts, strict=True)]
    lo, hi = scale
    h, edges = np.histogram(s, bins=bins, range=(lo, hi) if hi > lo else None)
    return [{"value": float((edges[i] + edges[i + 1]) / 2), "count": int(h[i])} for i in range(h.size)]

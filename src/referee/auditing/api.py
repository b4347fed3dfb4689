"""``referee.audit``: can I trust this judge (or reward model), and where does it fail?

The library function behind ``referee audit``; every CLI option is a keyword here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from referee import __version__
from referee.auditing import accuracy, calibration, consistency, gates, length, position, selfpref
from referee.auditing import scores as sc
from referee.auditing.agreement import policy
from referee.auditing.align import Keyed, KeyFields, choose_fields, gold_votes, key_rows
from referee.auditing.bootstrap import Metric, Registry
from referee.auditing.flags import Band, control, flags_for, resolve_bands, tests_for
from referee.auditing.load import (
    GOLD_JUDGES,
    input_names,
    is_scores_table,
    load_comparisons,
    load_scores,
    split_gold,
)
from referee.auditing.report import CONTRACT, AuditReport
from referee.auditing.rows import Rows, build_rows
from referee.errors import InputError, source_name
from referee.schema import TIE, TIE_BOTHBAD

KINDS = ("judge", "reward-model", "graded")


def audit(
    verdicts: Any = None,
    gold: Any = None,
    *,
    kind: str = "judge",
    scores: Any = None,
    tie_policy: str = "exclude",
    family: Mapping[str, str] | str | None = None,
    band: Mapping[str, Band] | Sequence[str] | str | None = None,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    gold_judges: Sequence[str] = GOLD_JUDGES,
    length_margin: float = 30.0,
    length_fraction: float | None = None,
    bins: int = calibration.N_BINS,
    scale: tuple[float, float] | None = None,
    workers: int = 2,
    fail_on: Sequence[str] | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    by: str | None = None,
) -> AuditReport:
    """Audit LLM judges (``kind="judge"``) or reward models (``kind="reward-model"``).

    ``verdicts``: comparisons table(s) — a DataFrame, a path or paths — with one or more
    judges (audited separately, grouped by ``judge``); for reward models, the scores table.
    ``gold``: gold labels as a comparisons table (several annotators via ``voter``); when
    None, rows of ``verdicts`` whose judge is in ``gold_judges`` are the gold labels.
    ``scores``: pointwise scores (``prompt_id``, ``model``/``response``, ``scorer``, ``score``)
    for score–comparison consistency and central tendency.  ``tie_policy``: ``exclude`` |
    ``half`` | ``three-class`` (see :mod:`referee.auditing.agreement`).  ``family``: judge (or
    model) name → family, for self-preference (or the text ``"JUDGE=FAMILY,..."``).  ``band``:
    no-defect bands overriding :data:`referee.auditing.flags.DEFAULT_BANDS`, as a mapping
    ``{name: (low, high)}`` or texts ``"NAME=LOW:HIGH"``.  Every metric has a ``level`` percentile CI
    from ``rounds`` rounds of the prompt-clustered bootstrap seeded with ``seed``; every banded
    metric gets a p-value, a Benjamini–Hochberg q-value over the whole report, a minimum
    detectable effect and an underpowered mark (:mod:`referee.auditing.flags`), and a flag
    *stands* when its q ≤ 1 − ``level``.  ``fail_on``: gate rules ``"METRIC>VALUE"`` /
    ``"METRIC<VALUE"`` checked on every judge (:mod:`referee.auditing.gates`); the verdict is in
    ``report.meta["gate"]`` and :attr:`AuditReport.failed_gate`.
    ``kind="graded"`` (chosen by itself when ``verdicts`` is a scores table and ``scores`` is not
    given): ``verdicts`` are pointwise scores and ``gold`` the reference scores, audited with
    weighted κ, Spearman, agreement, central tendency, verbosity and self-preference on scores
    (:mod:`referee.auditing.graded`); ``scale=(low, high)`` declares the score scale.
    ``by=COLUMN`` (e.g. ``"criterion"`` for a rubric run's per-criterion rows): each value of the
    column audited as its own judge, and the values' correlation matrix and effective number in
    ``report.meta["by"]`` (:mod:`referee.auditing.by_column`).
    Raises :class:`~referee.errors.InputError` on input it cannot audit.
    """
    if kind not in KINDS:
        raise InputError(f"`kind` must be one of {', '.join(KINDS)}, got {kind!r}", field="kind")
    policy(tie_policy)
    if rounds < 0:
        raise InputError("`rounds` must be >= 0", field="rounds")
    if not 0 < level < 1:
        raise InputError("`level` must lie strictly between 0 and 1", field="level")
    if bins < 1:
        raise InputError("`bins` must be >= 1", field="bins")
    bands = resolve_bands(band)
    gates.parse_rules(fail_on)  # refuse a bad rule before reading any input
    families = parse_family(family) if isinstance(family, str) else family
    if kind == "graded" or (kind == "judge" and scores is None and is_scores_table(verdicts)):
        from referee.auditing.graded import audit_graded

        return audit_graded(verdicts, gold, families=families, bands=bands, rounds=rounds, seed=seed, level=level,
                            scale=scale, workers=workers, fail_on=fail_on, progress=progress)
    notes: list[str] = []
    inputs = {"verdicts": input_names(verdicts), "gold": input_names(gold), "scores": input_names(scores)}
    by_info: dict[str, Any] | None = None
    if by is not None:  # each value of the column audited as a judge (rubric criteria)
        from referee.auditing.by_column import split_by

        verdicts, by_info = split_by(verdicts, by)
    inp = _read_inputs(verdicts, gold, scores, kind, tie_policy, gold_judges, notes)
    al = _align(inp, tie_policy, inputs["gold"], notes)
    v = inp.verdicts

    score_info: dict[str, Any] = {}
    sa = sb = None
    if inp.scores is not None:
        sa, sb, score_info = sc.attach(v, inp.scores, gold_judges)
        if score_info["unknown_scores"]:
            notes.append(f"{score_info['unknown_scores']} scores are for responses in no comparison")
        if not score_info["matched"]:
            notes.append("no scorer in the scores table is named like a judge, so score–comparison consistency "
                         "and central tendency were not computed")
    labels, score_clusters = _cluster_labels(al.keyed, inp.scores)
    reg = Registry(len(labels))

    judges = list(pd.unique(v["judge"]))
    rows_of = _judge_rows(al, judges, sa, sb)
    fam = selfpref.Families(families, judges)
    details: dict[str, dict[str, Any]] = {}
    for j in judges:
        r = rows_of[j]
        d: dict[str, Any] = {}
        if al.gold is not None and al.votes is not None and al.counts is not None:
            d.update(accuracy.add(reg, r, al.gold, al.votes, al.counts, tie_policy))
        if kind == "judge":
            d["position"] = position.add(reg, r)
            if not d["position"]["balanced"]:
                notes.append(f"{j}: no pair was judged in both orders, so first_position_rate mixes position with "
                             "which model was shown first; it is reported but never flagged")
        d["length"] = length.add(reg, r, al.votes, length_margin, length_fraction)
        d["self_preference"] = selfpref.add(reg, r, [rows_of[o] for o in judges if o != j], al.gold, fam)
        d["transitivity"] = consistency.add_transitivity(reg, r)
        if kind == "judge":
            d["score_comparison"] = consistency.add_score_comparison(reg, r)
        d["calibration"] = calibration.add(reg, r, al.votes, tie_policy, bins)
        if kind == "judge":
            d["order_consistency"] = calibration.add_order_consistency(reg, r)
        if kind == "reward-model":
            d["scores"] = inp.rm_info["per_scorer"].get(j, {})
        details[j] = d
    if inp.scores is not None and score_clusters is not None:
        _central(reg, inp.scores, score_clusters, judges, details, gold_judges, scale)

    no_gold = [j for j in judges if details[j]["calibration"].get("note") == calibration.NO_GOLD]
    if no_gold:
        notes.append(f"{', '.join(map(str, no_gold[:5]))}: {calibration.NO_GOLD}")
    metrics = reg.run(rounds, seed, level, workers=workers, progress=progress)
    out = {j: _assemble(j, rows_of[j], details[j], metrics, bands, level, kind) for j in judges}
    flag_control = control(out, level)
    gate = gates.check(out, fail_on)
    if rounds == 0:
        notes.append("rounds=0: no confidence intervals, so no metric can be flagged")
    meta = {
        "kind": kind,
        "seed": seed,
        "rounds": rounds,
        "level": level,
        "tie_policy": tie_policy,
        "bands": {k: list(b) for k, b in bands.items()},
        "inputs": inputs,
        "alignment": al.summary,
        "clusters": len(labels),
        "cluster_by": _cluster_by(al.keyed),
        "family": dict(families or {}),
        "length": {"margin": length_margin, "fraction": length_fraction, "unit": "characters"},
        "calibration_bins": bins,
        "scores": score_info or {k: x for k, x in inp.rm_info.items() if k != "per_scorer"},
        "flag_control": flag_control,
        "gate": gate,
        "dropped": dict(v.attrs.get("dropped", {})),
        "mapped": inp.mapped or None,
        "notes": notes,
        "referee_version": __version__,
    }
    if by_info is not None:
        meta["by"] = by_info
    return AuditReport(out, meta, agreement_matrix(rows_of, al.gold, al.keyed.n_items))


@dataclass
class Inputs:
    verdicts: pd.DataFrame
    gold: pd.DataFrame | None
    scores: pd.DataFrame | None  # pointwise scores of a judge audit (None for reward models)
    rm_info: dict[str, Any] = field(default_factory=dict)
    mapped: dict[str, dict[str, int]] = field(default_factory=dict)  # "verdicts"/"gold" → label mappings applied


def parse_family(text: str) -> dict[str, str]:
    """``"judge=family,..."`` → ``{judge: family}``."""
    out = {}
    for part in text.split(","):
        name, sep, fam = part.partition("=")
        if not sep or not name.strip() or not fam.strip():
            raise InputError(f"`family` must look like JUDGE=FAMILY,..., got {text!r}", field="family")
        out[name.strip()] = fam.strip()
    return out


def _mapped(notes: list[str], tables: Mapping[str, pd.DataFrame | None]) -> dict[str, dict[str, int]]:
    """The label mappings the readers applied per input (``tie (inconsistent)`` → ``tie``), each
    also as a note."""
    from referee.io import mapping_notes

    out = {}
    for what, t in tables.items():
        mapped = dict(t.attrs.get("mapped") or {}) if t is not None else {}
        if mapped:
            out[what] = mapped
            notes += [note if what == "verdicts" else f"{what}: {note}" for note in mapping_notes(mapped)]
    return out


def _read_inputs(
    verdicts: Any, gold: Any, scores: Any, kind: str, tie_policy: str, gold_judges: Sequence[str], notes: list[str]
) -> Inputs:
    """Load and split the inputs; for reward models, turn scores into verdicts on the gold pairs."""
    if kind == "reward-model":
        source = verdicts if verdicts is not None else scores
        if source is None:
            raise InputError("a reward-model audit needs the scores table: pass it as `verdicts` (or `scores`)",
                             field="scores")
        if gold is None:
            raise InputError("a reward-model audit needs `gold`: the pairs whose responses were scored",
                             path=source_name(source), field="gold")
        pairs = _check_rm_ties(load_comparisons(gold, "gold"), tie_policy, source_name(gold))
        scored, rm_info = sc.reward_model_verdicts(load_scores(source), pairs)
        if rm_info["unknown_scores"]:
            notes.append(f"{rm_info['unknown_scores']} scores are for responses in no gold pair and were ignored")
        return Inputs(_named(scored), pairs, None, rm_info, _mapped(notes, {"gold": pairs}))
    if verdicts is None:
        raise InputError("nothing to audit: pass the judge's `verdicts`", field="verdicts")
    table = load_comparisons(verdicts)
    v, g = split_gold(table, gold_judges)
    extra: pd.DataFrame | None = None
    if gold is not None:
        extra = load_comparisons(gold, "gold")
        g = extra if g is None else pd.concat([g, extra], ignore_index=True)
    if len(v) == 0:
        raise InputError("no judge verdicts to audit: every row is a gold label", path=source_name(verdicts),
                         field="judge")
    v = _named(v)
    v.attrs = {"dropped": dict(table.attrs.get("dropped", {}))}
    mapped = _mapped(notes, {"verdicts": table, "gold": extra})
    return Inputs(v, g, None if scores is None else load_scores(scores), mapped=mapped)


def _named(v: pd.DataFrame) -> pd.DataFrame:
    """Every verdict row with a judge name (``judge`` when none is given)."""
    name = v["judge"].fillna("judge").astype(str) if "judge" in v.columns else "judge"
    return v.assign(judge=name)


@dataclass
class Aligned:
    """Gold rows first, then verdict rows, keyed; the gold votes per item."""

    df: pd.DataFrame
    keyed: Keyed
    gold_mask: np.ndarray
    summary: dict[str, Any]
    gold: Rows | None = None
    votes: np.ndarray | None = None  # (items × 3) weighted gold votes in the reference frame
    counts: np.ndarray | None = None  # (items × 3) unweighted


def _align(inp: Inputs, tie_policy: str, gold_paths: list[str], notes: list[str]) -> Aligned:
    v, g = inp.verdicts, inp.gold
    tables = [v] if g is None else [v, g]
    fields = choose_fields(tables, pair_id=g is not None)
    df = v.reset_index(drop=True) if g is None else pd.concat([g, v], ignore_index=True)
    keyed = key_rows(df, fields)
    n_gold = 0 if g is None else len(g)
    gold_mask = np.arange(len(df)) < n_gold
    al = Aligned(df, keyed, gold_mask, {"key": fields.key_text(), "verdicts": len(v)})
    if g is None:
        return al
    al.gold = build_rows(df, keyed, gold_mask, "gold")
    al.votes = gold_votes(al.gold.item, al.gold.yr, al.gold.w, keyed.n_items)
    al.counts = gold_votes(al.gold.item, al.gold.yr, np.ones(al.gold.size), keyed.n_items)
    v_items = keyed.item[~gold_mask]
    aligned = al.counts[v_items].sum(axis=1) > 0
    gold_items = np.unique(al.gold.item)
    al.summary.update({
        "aligned": int(aligned.sum()),
        "gold_rows": n_gold,
        "gold_items": int(gold_items.size),
        "gold_items_matched": int(np.intersect1d(gold_items, v_items).size),
        "gold_ties": int((al.gold.y == 2).sum()),
        "gold_ties_audited": int(((al.gold.y == 2) & np.isin(al.gold.item, v_items)).sum()),
    })
    if not aligned.any():
        raise _misaligned(v, g, fields, gold_paths)
    if tie_policy == "exclude" and al.summary["gold_ties_audited"]:
        notes.append(f"{al.summary['gold_ties_audited']} gold tie labels on audited pairs are left out of accuracy "
                     "(tie policy 'exclude')")
    return al


def _cluster_labels(keyed: Keyed, scores: pd.DataFrame | None) -> tuple[list[str], np.ndarray | None]:
    """Cluster labels of the comparisons, extended by the prompts that only the scores mention."""
    labels = list(keyed.cluster_labels)
    if scores is None:
        return labels, None
    index = {lab: i for i, lab in enumerate(labels)}
    slabels = ("i:" + scores["prompt_id"].astype(str)).to_numpy(dtype=object)
    for lab in pd.unique(slabels):
        if lab not in index:
            index[lab] = len(labels)
            labels.append(lab)
    return labels, np.array([index[lab] for lab in slabels], dtype=np.int64)


def _judge_rows(al: Aligned, judges: list[str], sa: np.ndarray | None, sb: np.ndarray | None) -> dict[str, Rows]:
    jcol = al.df["judge"].fillna("").astype(str).to_numpy(dtype=object)
    out = {}
    for j in judges:
        m = ~al.gold_mask & (jcol == j)
        r = build_rows(al.df, al.keyed, m, j)
        if sa is not None and sb is not None:
            vm = m[~al.gold_mask]  # verdict rows follow the gold rows, in the verdicts' order
            r.score_a, r.score_b = sa[vm], sb[vm]
        out[j] = r
    return out


def _check_rm_ties(g: pd.DataFrame, tie_policy: str, path: str | None = None) -> pd.DataFrame:
    """The gold pairs of a reward-model audit, refused when their ties cannot be scored two-class
    (``path``: the gold file(s), named in the error)."""
    ties = g["winner"].isin([TIE, TIE_BOTHBAD]).to_numpy()
    if tie_policy == "half":
        raise InputError("a reward model is scored two-class (a tie in scores counts as wrong, as in RewardBench); "
                         "`tie_policy='half'` does not apply: use `tie_policy='exclude'`", field="tie_policy")
    if ties.any() and tie_policy != "exclude":
        raise InputError(
            f"the gold labels hold {int(ties.sum())} ties (a three-class label set), but a reward model is scored "
            "two-class (chosen vs rejected); use `tie_policy='exclude'` to leave the tied pairs out",
            path=path,
            field="winner",
        )
    return g


def _misaligned(v: pd.DataFrame, g: pd.DataFrame, fields: KeyFields, paths: list[str]) -> InputError:
    def example(df: pd.DataFrame) -> str:
        r = df.iloc[0]
        if fields.by_pair_id:
            return f"pair_id={r['pair_id']!r}"
        p = r.get(fields.prompt) if fields.prompt else None
        a = r.get("response_a") if fields.side.startswith("response") else r.get("model_a")
        return f"{fields.prompt or 'prompt'}={str(p)[:40]!r}, first side={str(a)[:40]!r}"

    return InputError(
        f"none of the {len(v)} verdicts matches any of the {len(g)} gold labels (aligned by {fields.key_text()}); "
        f"check that both describe the same prompts and responses — e.g. verdict {example(v)} vs gold {example(g)}",
        path=", ".join(paths) or None,
        field="gold",
    )


def _cluster_by(keyed: Keyed) -> str:
    kinds = {str(lab)[:2] for lab in keyed.cluster_labels}
    names = {"i:": "prompt_id", "t:": "prompt text hash", "k:": "item (no prompt given)"}
    return " + ".join(names[k] for k in sorted(kinds, key=list(names).index) if k in names)


def _central(
    reg: Registry, table: pd.DataFrame, clusters: np.ndarray, judges: list[str], details: dict[str, dict[str, Any]],
    gold_judges: Sequence[str], scale: tuple[float, float] | None,
) -> None:
    gold_names = {selfpref.normalise(x) for x in gold_judges}
    scorer = table["scorer"].astype(str).to_numpy(dtype=object)
    is_gold = np.array([selfpref.normalise(s) in gold_names for s in scorer], dtype=bool)
    pairing = sc.match_scorers([s for s in pd.unique(scorer[~is_gold])], judges)
    side = "response" if "response" in table.columns and table["response"].notna().all() else "model"
    gold = table[is_gold] if is_gold.any() else None
    rng = scale or (float(table["score"].min()), float(table["score"].max()))
    for j, s in pairing.items():
        m = (scorer == s) & ~is_gold
        if m.any():
            details[j]["central_tendency"] = sc.add_central(reg, j, table[m], gold, clusters[m], None, rng, side)


def _set(tree: dict[Any, Any], path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        tree = tree.setdefault(p, {})
    tree[path[-1]] = value


def _assemble(
    j: str, rows: Rows, details: dict[str, Any], metrics: dict[object, Metric], bands: dict[str, Band], level: float,
    kind: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {k: None for k in CONTRACT}
    out["n"] = rows.size
    out["aligned"] = int(details.pop("aligned", 0))
    extra: dict[str, Any] = dict(details)
    for key, m in metrics.items():
        if not isinstance(key, tuple) or key[0] != j:
            continue
        path = key[1:]
        if len(path) == 1 and path[0] in CONTRACT:
            out[path[0]] = m.to_dict()
        else:
            _set({"details": extra}, path, m.to_dict())
    skip = set()
    if kind == "judge" and not details.get("position", {}).get("balanced", True):
        skip.add("first_position_rate")
    out["flags"] = flags_for(out, bands, level, skip)
    extra["tests"] = tests_for(out, bands, level, skip)
    out["details"] = extra
    return out


def agreement_matrix(rows_of: dict[str, Rows], gold: Rows | None, n_items: int) -> dict[str, Any]:
    """Exact (three-class) agreement between every two judges (and the gold labels) on shared items.

    agree(A, B) = Σ_items Σ_k c_A(k)·c_B(k) / Σ_items n_A·n_B over all pairs of their verdicts on
    the same item (in the item's reference frame).  The diagonal compares a judge's distinct
    verdicts on one item (both orders, or several annotators): Σ c(c − 1) / Σ n(n − 1).
    """
    named = list(rows_of.items()) + ([("gold", gold)] if gold is not None else [])
    if not named or n_items == 0:
        return {"labels": [], "values": [], "n": []}
    labels = [name for name, _ in named]
    data, ri, ci = [], [], []
    for i, (_, r) in enumerate(named):
        key = r.item * 3 + r.yr.astype(np.int64)
        u, c = np.unique(key, return_counts=True)
        data.append(c.astype(float))
        ri.append(np.full(u.size, i))
        ci.append(u)
    A = sparse.csr_matrix((np.concatenate(data), (np.concatenate(ri), np.concatenate(ci))),
                          shape=(len(named), 3 * n_items))
    T = _item_totals(A, n_items)
    match = (A @ A.T).toarray()
    pairs = (T @ T.T).toarray()
    own = np.asarray(T.sum(axis=1)).ravel()
    np.fill_diagonal(match, np.diag(match) - own)
    np.fill_diagonal(pairs, np.diag(pairs) - own)
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = np.where(pairs > 0, match / np.where(pairs > 0, pairs, 1), np.nan)
    return {
        "labels": labels,
        "values": [[None if not np.isfinite(x) else float(x) for x in row] for row in vals],
        "n": [[int(x) for x in row] for row in pairs],
    }


def _item_totals(A: sparse.csr_matrix, n_items: int) -> sparse.csr_matrix:
    """(judges × items) number of verdicts per item from the (judges × 3·items) count matrix."""
    fold = sparse.csr_matrix((np.ones(3 * n_items), (np.arange(3 * n_items), np.repeat(np.arange(n_items), 3))),
                             shape=(3 * n_items, n_items))
    return A @ fold

"""What a probe measures, from the verdicts of its runs (:mod:`referee.probing.run`).

Verdicts are read in the **target frame**: +1 when the judge prefers the edited response (the
``target``), −1 when it prefers the other one, 0 for a tie; a game that did not parse counts
nowhere.  Pairwise, the unit is a game (a pair in one presentation order), compared with the
unedited pair's game in the same order; pointwise, the unit is a pair, whose *implied preference*
is the sign of score(target) − score(other).

* **Text probes** (``bandwagon``, ``authority``, ``distractor``, ``padding``, ``self-id``): the
  **flip rate** is the share of units whose verdict moved toward the edited response
  (v_edited > v_unedited; e.g. the gold winner before, a tie or the edited loser after), with a
  Wilson interval at the design-effect-adjusted n (:mod:`referee.probing.stats`); the share that
  moved away is reported beside it.  The p-value is the one-sided sign test of per-pair net
  movements (H0: toward and away equally likely).  Pointwise also reports the mean score change
  of the edited response (score(edited) − score(unedited), t interval).
* ``padding-self`` (with ``padding``): a response against a padded copy of itself; the unedited
  verdict is taken as a tie, so the "flip rate" is the share of units the padded copy wins.
* ``identical`` (pairwise): a response against an exact copy.  **Decisiveness** is the share of
  games with a winner (a fair judge says tie); the p-value is the two-sided sign test of
  first-shown against second-shown wins per pair (position bias on identical texts).
* ``templates`` (pairwise): the unedited games under every template; **Fleiss' κ** across
  templates (games every template parsed) and, per further template, the share of games whose
  verdict differs from the main template's; the **worst-case flip rate** is the largest.
* ``repeat``: the unedited units ``k`` times; **stability** is the share whose verdict is the same
  in all k, with Fleiss' κ across the repeats.

``templates`` and ``repeat`` are descriptive (no p-value).  Every p-value of the report gets a
Benjamini–Hochberg q-value (:func:`referee.auditing.flags.fdr`); a probe is **flagged** when its
q ≤ 1 − ``level``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from referee.auditing.flags import fdr
from referee.probing.perturb import EDITS, GoldPair
from referee.probing.stats import clustered_rate, fleiss_kappa, mean_ci, sign_test

if TYPE_CHECKING:
    from referee.judging.run import JudgeResult

Key = tuple[str, str, str, int]
MEANING = {
    "bandwagon": "a '90% of people prefer this answer' line",
    "authority": "a fake citation",
    "distractor": "an irrelevant sentence",
    "padding": "content-free padding",
    "padding-self": "content-free padding of a copy of the other response",
    "self-id": "a signature naming the judge model",
}


def _sign(x: float) -> int:
    return 1 if x > 0 else -1 if x < 0 else 0


def pairwise_verdicts(res: JudgeResult) -> dict[tuple[str, str, int], int]:
    """(prompt id, tag, order) → the verdict in the target frame, for every parsed game."""
    out: dict[tuple[str, str, int], int] = {}
    for rec in res.table.to_dict("records"):
        if rec["parse_status"] != "ok" or rec["pair_id"] is None:
            continue
        pid, _, tag = str(rec["pair_id"]).rpartition("|")
        winner = rec["winner"]
        target = rec["model_b"] if rec["model_a"] == "other" else rec["model_a"]
        side = rec["model_a"] if winner == "model_a" else rec["model_b"] if winner == "model_b" else None
        out[(pid, tag, int(rec["order"]))] = 0 if side is None else 1 if side == target else -1
    return out


def first_shown(res: JudgeResult) -> dict[tuple[str, int], int]:
    """(prompt id, order) → +1 the first-shown response won, −1 the second, 0 a tie (identical pairs)."""
    out = {}
    for rec in res.table.to_dict("records"):
        if rec["parse_status"] == "ok" and str(rec["pair_id"]).endswith("|identical"):
            w = rec["winner"]
            out[(str(rec["pair_id"]).rpartition("|")[0], int(rec["order"]))] = 1 if w == "model_a" else -1 if \
                w == "model_b" else 0
    return out


def pointwise_scores(res: JudgeResult) -> dict[tuple[str, str], float]:
    """(prompt id, response name) → score, for every parsed score."""
    return {(str(r["prompt_id"]), str(r["model"])): float(r["score"]) for r in res.table.to_dict("records")
            if r["parse_status"] == "ok" and r["score"] is not None}


def _movement(pids: list[str], units: dict[str, list[tuple[int, int]]], level: float) -> dict[str, Any]:
    """Flip rate toward / away from per-pair lists of (unedited, edited) verdicts, and the sign test."""
    toward = [[int(e > o) for o, e in units.get(p, [])] for p in pids]
    away = [[int(e < o) for o, e in units.get(p, [])] for p in pids]
    rate = clustered_rate([c for c in toward if c], level)
    back = clustered_rate([c for c in away if c], level)
    nets = [sum(t) - sum(a) for t, a in zip(toward, away, strict=True) if t]
    test = sign_test(nets)
    return {**rate, "metric": "flip_rate", "away": back["value"], "toward_units": sum(map(sum, toward)),
            "away_units": sum(map(sum, away)), **test}


def text_probe(tag: str, mode: str, res: JudgeResult, gold: list[GoldPair], level: float) -> dict[str, Any]:
    """The flip analysis of one text probe (or ``padding-self``) in one mode."""
    pids = [g.pair_id for g in gold]
    units: dict[str, list[tuple[int, int]]] = {}
    extra: dict[str, Any] = {}
    if mode == "pairwise":
        v = pairwise_verdicts(res)
        for (pid, t, order), e in v.items():
            if t != tag:
                continue
            o = 0 if tag == "padding-self" else v.get((pid, "orig", order))
            if o is not None:
                units.setdefault(pid, []).append((o, e))
    else:
        s = pointwise_scores(res)
        base, edited = ("other", "other~padded") if tag == "padding-self" else ("target", f"target~{tag}")
        changes = []
        for pid in pids:
            other, before, after = s.get((pid, "other")), s.get((pid, base)), s.get((pid, edited))
            if other is None or before is None or after is None:
                continue
            o = 0 if tag == "padding-self" else _sign(before - other)
            units[pid] = [(o, _sign(after - other))]
            changes.append(after - before)
        extra["score_change"] = mean_ci(changes, level)
    out = _movement(pids, units, level)
    return {"probe": tag, "mode": mode, **out, **extra}


def identical_probe(res: JudgeResult, gold: list[GoldPair], level: float) -> dict[str, Any]:
    """Decisiveness on a response against its copy, and the position sign test (two-sided)."""
    from scipy.stats import binomtest

    shown = first_shown(res)
    by_pair: dict[str, list[int]] = {}
    for (pid, _), w in shown.items():
        by_pair.setdefault(pid, []).append(w)
    rate = clustered_rate([[int(w != 0) for w in ws] for ws in by_pair.values()], level)
    nets = [sum(ws) for ws in by_pair.values()]
    up, down = sum(n > 0 for n in nets), sum(n < 0 for n in nets)
    p = float(binomtest(up, up + down, 0.5).pvalue) if up + down else 1.0
    first = sum(w > 0 for w in shown.values())
    decisive = sum(w != 0 for w in shown.values())
    return {"probe": "identical", "mode": "pairwise", **rate, "metric": "decisiveness", "p": p,
            "first_shown_share": first / decisive if decisive else None, "pairs_first": up, "pairs_second": down}


def agreement_probe(probe: str, mode: str, runs: Sequence[tuple[str, JudgeResult]], gold: list[GoldPair],
                    level: float) -> dict[str, Any]:
    """``templates`` / ``repeat``: κ across the runs, the share of units stable in all of them, and (templates)
    each further run's flip rate against the first."""
    pids = [g.pair_id for g in gold]
    per_run: list[dict[tuple[str, int], int]] = []
    for _, res in runs:
        if mode == "pairwise":
            per_run.append({(p, o): v for (p, t, o), v in pairwise_verdicts(res).items() if t == "orig"})
        else:
            s = pointwise_scores(res)
            per_run.append({(p, 1): _sign(s[(p, "target")] - s[(p, "other")]) for p in pids
                            if (p, "target") in s and (p, "other") in s})
    keys = [k for k in per_run[0] if all(k in r for r in per_run)]
    items = [[r[k] for r in per_run] for k in keys]
    kappa = fleiss_kappa(items)
    by_pair: dict[str, list[int]] = {}
    for k, item in zip(keys, items, strict=True):
        by_pair.setdefault(k[0], []).append(int(len(set(item)) == 1))
    stable = clustered_rate(list(by_pair.values()), level)
    out: dict[str, Any] = {"probe": probe, "mode": mode, "kappa": kappa, "runs": [name for name, _ in runs], "p": None}
    if probe == "repeat":
        return {**out, **stable, "metric": "stability"}
    flips = []
    for (name, _), r in zip(runs[1:], per_run[1:], strict=True):
        common = [k for k in per_run[0] if k in r]
        grouped: dict[str, list[int]] = {}
        for k in common:
            grouped.setdefault(k[0], []).append(int(r[k] != per_run[0][k]))
        flips.append({"template": name, **clustered_rate(list(grouped.values()), level)})
    worst = max(flips, key=lambda f: -1.0 if f["value"] is None else f["value"])
    return {**out, **{k: worst[k] for k in ("value", "ci_low", "ci_high", "n")}, "metric": "worst_flip_rate",
            "worst_template": worst["template"], "per_template": flips, "stability": stable["value"]}


def analyse(results: dict[Key, JudgeResult], names: list[str], gold: list[GoldPair], *,
            level: float) -> list[dict[str, Any]]:
    """Every probe's record in every mode that ran it, with q-values and flags (module docstring)."""
    out: list[dict[str, Any]] = []
    for mode in ("pairwise", "pointwise"):
        main = results.get((mode, "main", _main_template(results, mode), 1))
        if main is None:
            continue
        for name in names:
            if name in EDITS:
                out.append(text_probe(name, mode, main, gold, level))
                if name == "padding":
                    out.append(text_probe("padding-self", mode, main, gold, level))
            elif name == "identical" and mode == "pairwise":
                out.append(identical_probe(main, gold, level))
            elif name in ("templates", "repeat"):
                kind = name
                runs = [(_label(k, name), r) for k, r in results.items() if k[0] == mode and k[1] in ("main", kind)]
                if name == "templates" and mode == "pointwise":
                    continue
                if len(runs) >= 2:
                    out.append(agreement_probe(name, mode, runs, gold, level))
    tested = [r for r in out if r.get("p") is not None]
    for r, q in zip(tested, fdr([r["p"] for r in tested]), strict=True):
        r["q"] = q
        r["flagged"] = bool(q <= 1 - level and (r["metric"] != "flip_rate" or (r["value"] or 0) > 0))
        if r["flagged"]:
            r["message"] = message(r, level)
    return out


def _main_template(results: dict[Key, JudgeResult], mode: str) -> str:
    return next((k[2] for k in results if k[0] == mode and k[1] == "main"), "")


def _label(key: Key, probe: str) -> str:
    return key[2] if probe == "templates" else f"repeat {key[3]}"


def message(r: dict[str, Any], level: float) -> str:
    """One sentence for a flagged probe."""
    pct = round(100 * level)
    ci = f"{pct}% CI {r['ci_low']:.3f}–{r['ci_high']:.3f}"
    if r["probe"] == "identical":
        share = r.get("first_shown_share")
        return (f"identical (pairwise): on a response against an exact copy the judge picks a winner in "
                f"{r['value']:.1%} of games ({ci}), the first-shown one in "
                f"{share:.1%} of those (q = {r['q']:.3g}): position bias" if share is not None else "")
    what = MEANING.get(r["probe"], r["probe"])
    return (f"{r['probe']} ({r['mode']}): adding {what} moves {r['value']:.1%} of verdicts toward the edited "
            f"response ({ci}; {r.get('away') or 0:.1%} move away; sign test q = {r['q']:.3g})")


__all__ = ["agreement_probe", "analyse", "identical_probe", "message", "pairwise_verdicts", "pointwise_scores",
           "text_probe"]

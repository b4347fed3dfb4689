"""Self-contained HTML audit report: flags on top, metric table, inline SVG charts, no network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referee.report import audit_svg as svg
from referee.report.audit_text import describe
from referee.report.html import environment

if TYPE_CHECKING:
    from referee.report.data import AuditData

#: (key, header) of the metric table; keys under details are dotted
COLUMNS: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("accuracy_order1", "acc. order 1"),
    ("accuracy_order2", "acc. order 2"),
    ("accuracy_both_orders", "acc. both orders"),
    ("kappa", "Cohen κ"),
    ("alpha", "Kripp. α"),
    ("details.agreement_no_ties", "agree w/o ties"),
    ("details.agreement", "agree w/ ties"),
    ("details.human_baseline", "human baseline"),
    ("position_consistency", "position consistency"),
    ("first_position_rate", "first-shown wins"),
    ("prefer_longer_rate", "prefers longer"),
    ("length_slope", "length slope"),
    ("self_preference", "self-preference"),
    ("transitivity_violation_rate", "intransitive triads"),
    ("score_comparison_inconsistency", "score–comparison"),
    ("prob_order_inconsistency", "P order-inconsistency"),
    ("ece", "ECE vs gold"),
    ("brier", "Brier vs gold"),
)
MAX_LINES = 10


def _cell(m: dict[str, Any] | None) -> dict[str, str] | None:
    if not m or m.get("value") is None:
        return None
    ci = "" if m.get("ci_low") is None else f"{m['ci_low']:.3f}–{m['ci_high']:.3f}"
    return {"value": f"{m['value']:.3f}", "ci": ci, "n": f"{m['n']:,}" if isinstance(m.get("n"), int) else str(m.get("n"))}


def _interval(report: AuditData, key: str, title: str, band: Any = None, domain=(0.0, 1.0), ref=None) -> str:
    names, vals, lows, highs = [], [], [], []
    for j in report.judges:
        m = report.metric(j, key)
        if not m or m.get("value") is None:
            continue
        names.append(j)
        vals.append(m["value"])
        lows.append(m.get("ci_low"))
        highs.append(m.get("ci_high"))
    if not names:
        return ""
    lo = min([domain[0], *[x for x in lows if x is not None], *vals])
    hi = max([domain[1], *[x for x in highs if x is not None], *vals])
    return svg.interval_chart(names, vals, lows, highs, band=band, domain=(lo, hi), reference=ref, title=title)


def _charts(report: AuditData) -> list[dict[str, str]]:
    bands = report.meta.get("bands", {})
    level = round(100 * report.meta.get("level", 0.95))
    out: list[dict[str, str]] = []

    def section(title: str, *parts: str, note: str = "") -> None:
        body = "\n".join(p for p in parts if p)
        if body:
            out.append({"title": title, "html": body, "note": note})

    judges = list(report.judges)
    shares = [report.judges[j]["details"].get("position", {}).get("shares") for j in judges]
    pos_judges = [j for j, s in zip(judges, shares, strict=True) if s and s.get("first_shown_wins") is not None]
    bars = ""
    if pos_judges:
        sh = {j: report.judges[j]["details"]["position"]["shares"] for j in pos_judges}
        bars = svg.stacked_bars(
            pos_judges,
            [("first shown wins", [sh[j]["first_shown_wins"] for j in pos_judges], "#1f77b4"),
             ("tie", [sh[j]["tie"] for j in pos_judges], "#bbbbbb"),
             ("second shown wins", [sh[j]["second_shown_wins"] for j in pos_judges], "#ff7f0e")],
            title="Position bias: verdicts by position shown",
        )
    section(
        "Position bias",
        bars,
        _interval(report, "first_position_rate", f"P(first shown wins | decisive), {level}% CI",
                  bands.get("first_position_rate"), ref=0.5),
        _interval(report, "position_consistency", f"Position consistency (both orders agree), {level}% CI",
                  bands.get("position_consistency")),
        _interval(report, "prob_order_inconsistency",
                  f"Order-inconsistency of prob_a: mean |P(A wins | A first) − P(A wins | A second)|, {level}% CI"),
        note="Shaded: the no-defect band. A flag needs the whole interval outside it.",
    )
    curves = {j: [(p["length_diff"], p["p_first_wins"], p["n"]) for p in
                  report.judges[j]["details"].get("length", {}).get("curve", [])] for j in judges[:MAX_LINES]}
    curves = {j: c for j, c in curves.items() if c}
    section(
        "Length bias",
        svg.line_chart(curves, title="Length-bias curve: P(first shown wins) by length difference",
                       xlabel="length of first − second response (characters)", ylabel="P(first shown wins)",
                       hline=0.5) if curves else "",
        _interval(report, "prefer_longer_rate", f"P(longer response wins | decisive), {level}% CI",
                  bands.get("prefer_longer_rate"), ref=0.5),
    )
    rel = {j: [(b["p_mean"], b["observed"], b["n"]) for b in
               report.judges[j]["details"].get("calibration", {}).get("reliability_diagram", [])]
           for j in judges[:MAX_LINES]}
    rel = {j: r for j, r in rel.items() if r}
    section(
        "Calibration",
        svg.line_chart(rel, title="Reliability diagram (equal-mass bins)", xlabel="mean predicted P(first shown wins)",
                       ylabel="observed frequency", xdom=(0.0, 1.0), diagonal=True) if rel else "",
        _interval(report, "ece", f"Expected calibration error against gold labels, {level}% CI", bands.get("ece")),
        note="Calibration is measured against gold labels only; judges without gold get no ECE or Brier "
             "(their order-inconsistency of prob_a is under Position bias).",
    )
    cats = []
    for j in judges[:MAX_LINES]:
        by = report.judges[j]["details"].get("accuracy_by_category") or {}
        if by:
            names = list(by)
            cats.append(svg.interval_chart(
                names, [by[c]["value"] for c in names], [by[c]["ci_low"] for c in names],
                [by[c]["ci_high"] for c in names], title=f"{j}: accuracy by category, {level}% CI"))
    section("Accuracy by category", *cats)
    mat = report.agreement_matrix or {}
    if mat.get("labels") and 1 < len(mat["labels"]) <= 40:
        section("Agreement across judges and humans",
                svg.heatmap(mat["labels"], mat["values"], title="Exact agreement (%) on shared items"),
                note="Off the diagonal: agreement between two judges on the items both saw. Diagonal: agreement "
                     "between a judge's own verdicts on one item (both orders, or several annotators).")
    section("Self-preference", _interval(report, "self_preference", f"Self-preference (own − others), {level}% CI",
                                         bands.get("self_preference"), domain=(-0.2, 0.2), ref=0.0))
    hists = []
    for j in judges:
        ct = report.judges[j]["details"].get("central_tendency")
        if ct and ct.get("histogram"):
            h = ct["histogram"]
            hists.append(svg.bar_chart([b["value"] for b in h], [b["count"] for b in h],
                                       title=f"{j}: ratings", xlabel="score"))
    section("Central tendency of pointwise scores", *hists)
    return out


def audit_html(report: AuditData, title: str = "referee audit") -> str:
    """Render the audit as one HTML page (inline CSS and SVG only)."""
    rows = []
    for j, d in report.judges.items():
        rows.append({"judge": j, "n": d["n"], "aligned": d["aligned"], "flagged": {f["metric"] for f in d["flags"]},
                     "cells": [(_cell(report.metric(j, k)), k.split(".")[-1]) for k, _ in COLUMNS]})
    return environment().get_template("audit.html.j2").render(
        title=title,
        description=describe(report.meta),
        flags=report.flags,
        headers=[h for _, h in COLUMNS],
        rows=rows,
        charts=_charts(report),
        notes=report.meta.get("notes") or [],
        meta=report.meta,
        version=report.meta.get("referee_version"),
    )

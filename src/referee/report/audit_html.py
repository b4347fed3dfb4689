"""Self-contained HTML audit report: flags on top, metric table, inline SVG charts, no network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referee.report import charts
from referee.report.audit_text import audit_method
from referee.report.html import environment

if TYPE_CHECKING:
    from referee.report.data import AuditData

#: the metric tables: (id, title, ((key, header), ...)); keys under details are dotted.  Three
#: narrow tables rather than one wide one, so that the page fits a 1280-px screen.
GROUPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("audit", "Agreement with gold labels", (
        ("accuracy", "accuracy"),
        ("accuracy_order1", "acc. order 1"),
        ("accuracy_order2", "acc. order 2"),
        ("accuracy_both_orders", "acc. both orders"),
        ("details.agreement_no_ties", "agree w/o ties"),
        ("details.agreement", "agree w/ ties"),
        ("kappa", "Cohen κ"),
        ("alpha", "Kripp. α"),
        ("details.human_baseline", "human baseline"),
    )),
    ("audit-bias", "Position, length and self-preference biases", (
        ("position_consistency", "position consistency"),
        ("first_position_rate", "first-shown wins"),
        ("prefer_longer_rate", "prefers longer"),
        ("prefer_longer_excess", "prefers longer − reference"),
        ("length_slope", "length slope"),
        ("self_preference", "self-preference"),
    )),
    ("audit-consistency", "Consistency and calibration", (
        ("transitivity_violation_rate", "intransitive triads"),
        ("score_comparison_inconsistency", "score–comparison"),
        ("prob_order_inconsistency", "P order-inconsistency"),
        ("ece", "ECE vs gold"),
        ("brier", "Brier vs gold"),
    )),
)  # fmt: skip
#: the metric tables of a graded (pointwise) audit against reference scores
GRADED_GROUPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("audit", "Agreement with reference scores", (
        ("details.graded.weighted_kappa", "weighted κ (quadratic)"),
        ("details.graded.spearman", "Spearman ρ"),
        ("details.graded.exact_agreement", "exact"),
        ("details.graded.within_one", "within one"),
        ("details.graded.mean_difference", "mean − reference"),
    )),
    ("audit-bias", "Central tendency, verbosity and self-preference", (
        ("details.graded.score_spread_ratio", "spread ratio (sd / ref. sd)"),
        ("details.graded.middle_rate", "middle third"),
        ("details.graded.score_middle_excess", "middle − reference"),
        ("details.graded.score_verbosity", "verbosity (partial r)"),
        ("details.graded.score_self_preference", "self-preference (scale share)"),
    )),
)  # fmt: skip
#: (key, header) of every metric in the tables
COLUMNS: tuple[tuple[str, str], ...] = tuple(c for _, _, cols in GROUPS for c in cols)
MAX_LINES = 10
#: the most raters the agreement heatmap shows (the first ones, with a note saying so)
HEATMAP_RATERS = 150


def _cell(m: dict[str, Any] | None) -> dict[str, str] | None:
    if not m or m.get("value") is None:
        return None
    ci = "" if m.get("ci_low") is None else f"{m['ci_low']:.3f}–{m['ci_high']:.3f}"
    return {"value": f"{m['value']:.3f}", "ci": ci, "n": f"{m['n']:,}" if isinstance(m.get("n"), int) else str(m.get("n"))}


def _interval(report: AuditData, key: str, title: str, band: tuple[float | None, float | None] | None = None,
              domain: tuple[float, float] = (0.0, 1.0), ref: float | None = None) -> str:
    """One row per judge that has the metric: value and interval over the no-defect ``band``."""
    names: list[str] = []
    vals: list[float | None] = []
    lows: list[float | None] = []
    highs: list[float | None] = []
    for j in report.judges:
        m = report.metric(j, key)
        if not m or m.get("value") is None:
            continue
        names.append(j)
        vals.append(float(m["value"]))
        lows.append(_opt(m.get("ci_low")))
        highs.append(_opt(m.get("ci_high")))
    if not names:
        return ""
    return charts.interval_plot(names, vals, lows, highs, band=band, domain=domain, reference=ref, title=title,
                                value_labels=True)


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


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
        bars = charts.stacked_bars(
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
        charts.line_chart(curves, title="Length-bias curve: P(first shown wins) by length difference",
                       xlabel="length of first − second response (characters)", ylabel="P(first shown wins)",
                       hline=0.5) if curves else "",
        _interval(report, "prefer_longer_excess",
                  f"P(longer wins | judge) − P(longer wins | reference) on the same rows, {level}% CI",
                  bands.get("prefer_longer_excess"), ref=0.0),
    )
    rel = {j: [(b["p_mean"], b["observed"], b["n"]) for b in
               report.judges[j]["details"].get("calibration", {}).get("reliability_diagram", [])]
           for j in judges[:MAX_LINES]}
    rel = {j: r for j, r in rel.items() if r}
    section(
        "Calibration",
        charts.line_chart(rel, title="Reliability diagram (equal-mass bins)", xlabel="mean predicted P(first shown wins)",
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
            cats.append(charts.interval_plot(
                names, [_opt(by[c]["value"]) for c in names], [_opt(by[c]["ci_low"]) for c in names],
                [_opt(by[c]["ci_high"]) for c in names], domain=(0.0, 1.0), value_labels=True,
                title=f"{j}: accuracy by category, {level}% CI"))
    section("Accuracy by category", *cats)
    heat, heat_note = agreement_heatmap(report)
    section("Agreement across judges and humans", heat,
            note=(heat_note + " " if heat_note else "") + "Off the diagonal: agreement between two judges on the "
            "items both saw. Diagonal: agreement between a judge's own verdicts on one item (both orders, or "
            "several annotators).")
    section("Self-preference", _interval(report, "self_preference", f"Self-preference (own − others), {level}% CI",
                                         bands.get("self_preference"), domain=(-0.2, 0.2), ref=0.0))
    hists = []
    for j in judges:
        ct = report.judges[j]["details"].get("central_tendency") or report.judges[j]["details"].get("graded_info")
        if ct and ct.get("histogram"):
            h = ct["histogram"]
            hists.append(charts.bar_chart([b["value"] for b in h], [b["count"] for b in h],
                                       title=f"{j}: ratings", xlabel="score"))
    section("Central tendency of pointwise scores", *hists)
    if report.meta.get("kind") == "graded":
        section(
            "Graded biases against the reference scores",
            _interval(report, "details.graded.score_spread_ratio", f"Spread ratio sd(judge) / sd(reference), {level}% CI",
                      bands.get("score_spread_ratio"), domain=(0.0, 2.0), ref=1.0),
            _interval(report, "details.graded.score_verbosity",
                      f"Verbosity: partial r(score, length | reference score), {level}% CI",
                      bands.get("score_verbosity"), domain=(-1.0, 1.0), ref=0.0),
            _interval(report, "details.graded.score_self_preference",
                      f"Self-preference on scores (own − others, share of the scale), {level}% CI",
                      bands.get("score_self_preference"), domain=(-0.3, 0.3), ref=0.0),
            note="Shaded: the no-defect band. A flag needs the whole interval outside it.",
        )
    return out


def agreement_heatmap(report: AuditData, limit: int | None = None) -> tuple[str, str]:
    """The exact-agreement heatmap of every pair of raters (judges and gold annotators) and a note
    on what it leaves out: cells shrink as raters are added, and above ``limit`` raters only the
    first ``limit`` (default :data:`HEATMAP_RATERS`) are drawn, which the note says.  ``("", "")``
    with fewer than two raters."""
    limit = HEATMAP_RATERS if limit is None else limit
    mat = report.agreement_matrix or {}
    labels = [str(x) for x in mat.get("labels") or []]
    if len(labels) < 2:
        return "", ""
    note = ""
    if len(labels) > limit:
        note = f"Showing the first {limit} of {len(labels)} raters; hover over a cell for its pair and value."
        labels = labels[:limit]
    values = [[_opt(v) for v in row[: len(labels)]] for row in mat["values"][: len(labels)]]
    cell = charts.heatmap_cell(len(labels), largest=34)
    return charts.heatmap(labels, values, title="Exact agreement (%) on shared items", colour=charts.sequential,
                          diagonal=True, cell=cell, numbers=cell >= 22), note


def metric_tables(report: AuditData) -> list[dict[str, Any]]:
    """The metric tables of :data:`GROUPS`: ``{"id", "title", "headers", "rows"}``, one row per
    judge with its name, counts (first table only) and ``(cell, metric key, flagged)`` cells."""
    tables = []
    groups = GRADED_GROUPS if report.meta.get("kind") == "graded" else GROUPS
    for k, (table_id, title, cols) in enumerate(groups):
        rows = []
        for j, d in report.judges.items():
            flagged = {f["metric"] for f in d["flags"]}
            cells = [(_cell(report.metric(j, key)), key.split(".")[-1] in flagged) for key, _ in cols]
            rows.append({"judge": j, "counts": (f"{d['n']:,}", f"{d['aligned']:,}") if k == 0 else (),
                         "cells": cells})
        tables.append({"id": table_id, "title": title, "rows": rows,
                       "headers": (["n", "aligned"] if k == 0 else []) + [h for _, h in cols]})
    return tables


def audit_html(report: AuditData, title: str = "referee audit") -> str:
    """Render the audit as one HTML page (inline CSS and SVG only)."""
    return environment().get_template("audit.html.j2").render(
        title=title,
        description=audit_method(report.meta),
        flags=report.flags,
        tables=metric_tables(report),
        charts=_charts(report),
        notes=report.meta.get("notes") or [],
        meta=report.meta,
        version=report.meta.get("referee_version"),
    )

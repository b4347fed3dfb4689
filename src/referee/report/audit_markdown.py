"""Markdown rendering of an audit: flags, the headline table, every metric per judge, the method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from referee.report.audit_text import agreement_legend, audit_method, fmt_metric, scored_against_gold, summary

if TYPE_CHECKING:
    from referee.report.data import AuditData

#: agreement metrics under ``details`` listed with their counts in "All metrics"
AGREEMENTS = ("agreement", "agreement_no_ties", "agreement_majority", "human_baseline", "flip_rate")


def audit_markdown(report: AuditData, metrics: Sequence[str]) -> str:
    """Flags, then one table of the headline metrics per judge, then every metric of ``metrics``
    (the contract names, in contract order) and the agreements per judge, then the method."""
    lines = ["# referee audit", ""]
    flags = report.flags
    lines.append("## Flags")
    lines.append("")
    if flags:
        lines += [f"- **{j}**: {f['message']}" for j, f in flags]
    else:
        lines.append("No defect flagged: every interval overlaps its no-defect band.")
    lines += ["", "## Metrics", ""]
    head_metrics = summary(report)
    head = ["judge", "n", "aligned", *[label for _, label in head_metrics]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for j, d in report.judges.items():
        row = [str(j), str(d["n"]), str(d["aligned"]), *[fmt_metric(report.metric(j, k)) for k, _ in head_metrics]]
        lines.append("| " + " | ".join(row) + " |")
    if scored_against_gold(report):
        lines += ["", agreement_legend(report.meta)]
    lines += ["", "## All metrics", ""]
    for j, d in report.judges.items():
        lines.append(f"### {j}")
        lines.append("")
        det = d.get("details", {})
        graded = det.get("graded")
        for k in graded if isinstance(graded, dict) else metrics:
            lines.append(f"- {k}: {fmt_metric(graded[k] if isinstance(graded, dict) else d.get(k))}")
        for k in AGREEMENTS:
            if isinstance(det.get(k), dict):
                lines.append(f"- {k}: {fmt_metric(det[k])}{_n(det[k])}")
        lines.append("")
    for note in report.meta.get("notes") or []:
        lines.append(f"> note: {note}")
    lines += ["", f"Method: {audit_method(report.meta)}", ""]
    return "\n".join(lines)


def _n(m: dict[str, Any]) -> str:
    """' (n = 1,118)': the units behind a metric (verdict–vote pairs for agreement), '' when unknown."""
    n = m.get("n")
    if n is None:
        return ""
    return f" (n = {n:,.0f})" if float(n).is_integer() else f" (n = {n:,.1f})"

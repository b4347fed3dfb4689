"""The audit returned by :func:`referee.audit`, and its serialisations.

The JSON form is a stable contract::

    {"judges": {NAME: {"n", "aligned", "accuracy", "accuracy_order1", "accuracy_order2",
                       "accuracy_both_orders", "position_consistency", "first_position_rate",
                       "prefer_longer_rate", "length_slope", "kappa", "alpha",
                       "transitivity_violation_rate", "score_comparison_inconsistency",
                       "prob_order_inconsistency", "ece", "brier", "self_preference",
                       "flags": [...], "details": {...}}},
     "meta": {"kind", "seed", "rounds", "level", "tie_policy", "bands", "inputs", "alignment",
              "referee_version", ...},
     "agreement_matrix": {"labels", "values", "n"}}

Every metric is ``{"value", "ci_low", "ci_high", "n"}`` or ``null`` when it does not apply:
``ece`` and ``brier`` are calibration against gold labels and are ``null`` without them;
``prob_order_inconsistency`` (soft verdicts in both orders, no gold needed) is the mean
|P(A wins | A first) − P(A wins | A second)| (see :mod:`referee.auditing.calibration`).
``details`` (per judge) and ``agreement_matrix`` are additions beyond the contract's keys:
agreement with/without ties, judge vs majority, human baseline, flip rate, per-category
accuracy, calibration bins and Brier decomposition, length curve, transitivity counts,
central tendency.  Readers must ignore keys they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from referee.report.audit_text import SUMMARY, agreement_legend, describe, fmt_metric, scored_against_gold
from referee.report.output import Renderable, clean, emit

CONTRACT: tuple[str, ...] = (
    "n",
    "aligned",
    "accuracy",
    "accuracy_order1",
    "accuracy_order2",
    "accuracy_both_orders",
    "position_consistency",
    "first_position_rate",
    "prefer_longer_rate",
    "length_slope",
    "kappa",
    "alpha",
    "transitivity_violation_rate",
    "score_comparison_inconsistency",
    "prob_order_inconsistency",
    "ece",
    "brier",
    "self_preference",
    "flags",
)

@dataclass
class AuditReport(Renderable):
    """Per-judge metrics with intervals and flags, the cross-judge agreement matrix, and metadata."""

    judges: dict[str, dict[str, Any]]
    meta: dict[str, Any]
    agreement_matrix: dict[str, Any] = field(default_factory=dict)

    @property
    def flags(self) -> list[tuple[str, dict[str, Any]]]:
        """Every (judge, flag), judges in report order."""
        return [(j, f) for j, d in self.judges.items() for f in d.get("flags", [])]

    def metric(self, judge: str, name: str) -> dict[str, Any] | None:
        """A metric of one judge: a contract name, or a dotted path under ``details``."""
        d = self.judges[judge]
        if name in d:
            return d[name]
        node: Any = d.get("details", {})
        for part in name.removeprefix("details.").split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def to_dict(self) -> dict[str, Any]:
        judges = {}
        for name, d in self.judges.items():
            rec = {k: clean(d.get(k)) for k in CONTRACT}
            rec["details"] = clean(d.get("details", {}))
            judges[str(name)] = rec
        return {"judges": judges, "meta": clean(self.meta), "agreement_matrix": clean(self.agreement_matrix)}

    def to_markdown(self, path: str | Path | None = None) -> str:
        return emit(audit_markdown(self), path)

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.report.audit_html import audit_html

        return emit(audit_html(self), path)

    def print(self, console: Any = None) -> None:
        """Rich terminal summary, flags on top."""
        from referee.auditing.terminal import print_audit

        print_audit(self, console)

    def __repr__(self) -> str:
        lines = [f"AuditReport({self.meta.get('kind')}, {len(self.judges)} judge(s), {len(self.flags)} flag(s))"]
        for j, d in self.judges.items():
            lines.append(f"  {j}: n={d['n']} aligned={d['aligned']} accuracy={fmt_metric(d.get('accuracy'))} "
                         f"first-shown={fmt_metric(d.get('first_position_rate'))}")
        return "\n".join(lines)


def audit_markdown(report: AuditReport) -> str:
    """Flags, then one table of the headline metrics per judge, then the method."""
    lines = ["# referee audit", ""]
    flags = report.flags
    lines.append("## Flags")
    lines.append("")
    if flags:
        lines += [f"- **{j}**: {f['message']}" for j, f in flags]
    else:
        lines.append("No defect flagged: every interval overlaps its no-defect band.")
    lines += ["", "## Metrics", ""]
    head = ["judge", "n", "aligned", *[label for _, label in SUMMARY]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for j, d in report.judges.items():
        row = [str(j), str(d["n"]), str(d["aligned"]), *[fmt_metric(report.metric(j, k)) for k, _ in SUMMARY]]
        lines.append("| " + " | ".join(row) + " |")
    if scored_against_gold(report):
        lines += ["", agreement_legend(report.meta)]
    lines += ["", "## All metrics", ""]
    for j, d in report.judges.items():
        lines.append(f"### {j}")
        lines.append("")
        for k in CONTRACT[2:-1]:
            lines.append(f"- {k}: {fmt_metric(d.get(k))}")
        det = d.get("details", {})
        for k in ("agreement", "agreement_no_ties", "agreement_majority", "human_baseline", "flip_rate"):
            if isinstance(det.get(k), dict):
                lines.append(f"- {k}: {fmt_metric(det[k])}{_n(det[k])}")
        lines.append("")
    for note in report.meta.get("notes") or []:
        lines.append(f"> note: {note}")
    lines += ["", f"Method: {describe(report.meta)}", ""]
    return "\n".join(lines)


def _n(m: dict[str, Any]) -> str:
    """' (n = 1,118)': the units behind a metric (verdict–vote pairs for agreement), '' when unknown."""
    n = m.get("n")
    if n is None:
        return ""
    return f" (n = {n:,.0f})" if float(n).is_integer() else f" (n = {n:,.1f})"

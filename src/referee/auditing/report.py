"""The audit returned by :func:`referee.audit`, and its serialisations.

The JSON form is a stable contract::

    {"judges": {NAME: {"n", "aligned", "accuracy", "accuracy_order1", "accuracy_order2",
                       "accuracy_both_orders", "position_consistency", "first_position_rate",
                       "prefer_longer_rate", "prefer_longer_excess", "length_slope", "kappa", "alpha",
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
from typing import TYPE_CHECKING, Any

from referee.report.audit_text import fmt_metric
from referee.report.output import Renderable, clean, emit

if TYPE_CHECKING:
    from rich.console import Console

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
    "prefer_longer_excess",
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

    @property
    def standing_flags(self) -> list[tuple[str, dict[str, Any]]]:
        """The flags that stand after Benjamini–Hochberg control over the report (q ≤ 1 − level)."""
        return [(j, f) for j, f in self.flags if f.get("stands", True)]

    @property
    def failed_gate(self) -> bool:
        """Does any judge break a ``fail_on`` rule (:mod:`referee.auditing.gates`)?"""
        return bool((self.meta.get("gate") or {}).get("breaches"))

    def metric(self, judge: str, name: str) -> dict[str, Any] | None:
        """A metric of one judge: a contract name, or a dotted path under ``details``."""
        d = self.judges[judge]
        if name in d:
            node: Any = d[name]
        else:
            node = d.get("details", {})
            for part in name.removeprefix("details.").split("."):
                node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None

    def to_dict(self) -> dict[str, Any]:
        judges = {}
        for name, d in self.judges.items():
            rec = {k: clean(d.get(k)) for k in CONTRACT}
            rec["details"] = clean(d.get("details", {}))
            judges[str(name)] = rec
        return {"judges": judges, "meta": clean(self.meta), "agreement_matrix": clean(self.agreement_matrix)}

    def to_markdown(self, path: str | Path | None = None) -> str:
        """Flags, the headline table, every metric per judge and the method
        (:func:`referee.report.audit_markdown.audit_markdown`)."""
        from referee.report.audit_markdown import audit_markdown

        return emit(audit_markdown(self, CONTRACT[2:-1]), path)

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained page (:func:`referee.report.audit_html.audit_html`)."""
        from referee.report.audit_html import audit_html

        return emit(audit_html(self), path)

    def print(self, console: Console | None = None) -> None:
        """Rich terminal summary, flags on top (:func:`referee.report.audit_terminal.print_audit`)."""
        from referee.report.audit_terminal import print_audit

        print_audit(self, console)

    def __repr__(self) -> str:
        lines = [f"AuditReport({self.meta.get('kind')}, {len(self.judges)} judge(s), {len(self.flags)} flag(s))"]
        for j, d in self.judges.items():
            lines.append(f"  {j}: n={d['n']} aligned={d['aligned']} accuracy={fmt_metric(d.get('accuracy'))} "
                         f"first-shown={fmt_metric(d.get('first_position_rate'))}")
        return "\n".join(lines)


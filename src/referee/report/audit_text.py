"""Text pieces every audit rendering shares (Markdown, terminal, HTML): the headline
metrics with their short labels, a metric with its interval, and the method sentence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referee.report.data import AuditData

#: headline metrics shown in summaries, with short labels: a contract name, or a dotted path
#: under ``details`` (read with ``AuditData.metric``).  Agreement with gold is shown both
#: without ties (neither the judge nor the gold vote is a tie: MT-Bench's "w/o tie", the
#: published 85.6% of GPT-4 vs humans) and with ties (exact three-class match: MT-Bench's
#: "w/ tie"), whatever the tie policy that ``accuracy`` follows.
SUMMARY: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("details.agreement_no_ties", "agree w/o ties"),
    ("details.agreement", "agree w/ ties"),
    ("kappa", "κ"),
    ("position_consistency", "consistency"),
    ("first_position_rate", "first-shown wins"),
    ("prefer_longer_rate", "prefers longer"),
    ("self_preference", "self-pref."),
    ("transitivity_violation_rate", "intransitive"),
    ("prob_order_inconsistency", "P order-incons."),
    ("ece", "ECE (gold)"),
)

#: headline metrics of a graded (pointwise) audit against reference scores (:mod:`referee.auditing.graded`)
GRADED_SUMMARY: tuple[tuple[str, str], ...] = (
    ("details.graded.weighted_kappa", "κ (quadratic)"),
    ("details.graded.spearman", "Spearman"),
    ("details.graded.exact_agreement", "exact"),
    ("details.graded.within_one", "within 1"),
    ("details.graded.mean_difference", "mean − ref."),
    ("details.graded.score_spread_ratio", "spread ratio"),
    ("details.graded.score_middle_excess", "middle − ref."),
    ("details.graded.score_verbosity", "verbosity (partial r)"),
    ("details.graded.score_self_preference", "self-pref."),
)


def summary(report: AuditData) -> tuple[tuple[str, str], ...]:
    """The headline metrics for this report: :data:`GRADED_SUMMARY` for a graded audit, else :data:`SUMMARY`."""
    return GRADED_SUMMARY if report.meta.get("kind") == "graded" else SUMMARY


def fmt_metric(m: dict[str, Any] | None, digits: int = 3, pct: bool = False) -> str:
    """'0.856 [0.832, 0.879]' (or percentages), '–' when missing."""
    if not m or m.get("value") is None:
        return "–"

    def f(x: float) -> str:
        return f"{100 * x:.1f}%" if pct else f"{x:.{digits}f}"

    if m.get("ci_low") is None:
        return f(m["value"])
    return f"{f(m['value'])} [{f(m['ci_low'])}, {f(m['ci_high'])}]"


def scored_against_gold(report: AuditData) -> bool:
    """Whether any judge was scored against gold labels (its agreement columns hold a value)."""
    return any((report.metric(j, "details.agreement") or {}).get("value") is not None for j in report.judges)


def agreement_legend(meta: dict[str, Any]) -> str:
    """What the gold columns of the summary count: the tie policy of ``accuracy`` and the two agreements."""
    return (f"accuracy follows tie policy {meta.get('tie_policy')}; agree w/o ties counts the (verdict, gold vote) "
            "pairs where neither is a tie (MT-Bench's 'without ties'); agree w/ ties is the exact match of "
            "win / loss / tie over every pair (MT-Bench's 'with ties').")


def audit_method(meta: dict[str, Any]) -> str:
    """One sentence on how the audit was computed."""
    a = meta.get("alignment", {})
    graded = meta.get("kind") == "graded"
    parts = [f"{a.get('verdicts', '?')} {'scores' if graded else 'verdicts'}"]
    if graded:
        parts.append(f"{a.get('aligned')} paired with {a.get('gold_rows')} reference scores by {a.get('key')}")
        lo, hi = meta.get("scale") or ("?", "?")
        parts.append(f"scale {lo:g}–{hi:g} ({'declared' if meta.get('scale_declared') else 'observed'})")
    elif "aligned" in a:
        parts.append(f"{a['aligned']} aligned to {a.get('gold_rows')} gold labels by {a.get('key')}")
    if not graded:
        parts.append(f"tie policy {meta.get('tie_policy')}")
    level = round(100 * meta.get("level", 0.95))
    parts.append(f"{level}% percentile CIs from {meta.get('rounds')} bootstrap rounds clustered by "
                 f"{meta.get('cluster_by')} ({meta.get('clusters')} clusters, seed {meta.get('seed')})")
    return "; ".join(parts) + "."


__all__ = ["GRADED_SUMMARY", "SUMMARY", "agreement_legend", "audit_method", "fmt_metric", "scored_against_gold", "summary"]

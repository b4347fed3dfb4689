"""Markdown rendering of a leaderboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from referee.report.data import BoardData


def _fmt(x: object, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def leaderboard_markdown(board: BoardData) -> str:
    """A GitHub-flavoured Markdown table plus a short description of the method."""
    t = board.table
    has_base = t["win_rate_vs_baseline"].notna().any()
    has_lc = t["lc_win_rate"].notna().any()
    head = ["rank", "rank interval", "model", "rating", "95% CI", "battles"]
    if has_base:
        head += ["win rate vs baseline", "± se"]
    if has_lc:
        head += ["LC win rate", "± se"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in t.itertuples(index=False):
        row = [
            str(r.rank),
            f"{r.rank_low}–{r.rank_high}",
            str(r.model),
            _fmt(r.rating),
            f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}",
            _fmt(r.battles, 0),
        ]
        if has_base:
            row += [_fmt(r.win_rate_vs_baseline, 2), _fmt(r.win_rate_se, 2)]
        if has_lc:
            row += [_fmt(r.lc_win_rate, 2), _fmt(getattr(r, "lc_win_rate_se", None), 2)]
        lines.append("| " + " | ".join(row) + " |")
    m = board.meta
    lines += ["", f"Method: {leaderboard_method(m)}", ""]
    return "\n".join(lines)


def leaderboard_method(meta: dict[str, Any]) -> str:
    """One sentence saying how the leaderboard was computed."""
    parts = [f"{meta.get('method')} fit on {meta.get('n_comparisons')} comparisons"]
    parts.append(f"ties: {meta.get('ties')}")
    ci = meta.get("ci")
    level = f"{100 * meta.get('level', 0.95):g}%"
    cl = f", clustered by {meta['cluster']}" if meta.get("cluster") else ""
    of = f" of the difference from {meta['anchor'].rpartition('=')[0]}" if meta.get("anchor") else ""
    if ci == "bootstrap":
        parts.append(f"{level} bootstrap CIs{of} ({meta.get('rounds')} rounds, seed {meta.get('seed')}{cl})")
    elif ci == "sandwich":
        kind = "Laplace (posterior)" if meta.get("prior_precision") else "sandwich"
        parts.append(f"{level} {kind} CIs{of}{cl.replace(', clustered', ' clustered')}")
    else:
        parts.append("no CIs (rank intervals span every rank)")
    if meta.get("style_coefficients"):
        parts.append("style control: " + ", ".join(f"{k} {v:+.3f}" for k, v in meta["style_coefficients"].items()))
    if meta.get("tie_parameter") is not None:
        parts.append(f"tie parameter {meta['tie_parameter']:.3f}")
    if meta.get("first_position") is not None:
        parts.append(f"first-position advantage {meta['first_position']:+.3f} (logit)")
    if meta.get("anchor"):
        parts.append(f"anchored at {meta['anchor']}")
    if meta.get("lc_se"):
        se = (f"bootstrap over instructions ({meta.get('lc_rounds')} rounds, seed {meta.get('seed')})"
              if meta["lc_se"] == "bootstrap" else "delta method")
        diff = meta.get("lc_difficulty")
        parts.append(f"LC win rate SE: {se}; instruction difficulty "
                     + ("estimated from the data" if diff in (None, "estimated") else f"from {diff}"))
    return "; ".join(parts) + "."

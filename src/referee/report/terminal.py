"""Rich rendering of a leaderboard for the terminal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from referee.report.markdown import leaderboard_method

if TYPE_CHECKING:
    from rich.console import Console

    from referee.report.data import BoardData


def _num(x: float, digits: int = 1) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def _float(x: Any) -> float:
    """A table value as a float: missing (None, NaN, NA) → NaN."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def print_leaderboard(board: BoardData, console: Console | None = None, top: int | None = None) -> None:
    """Rank, rank interval, model, rating, 95% CI, battles and win rate (vs baseline if any)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal and console.width < 120:
        console = Console(width=120)
    t = board.table if top is None else board.table.head(top)
    has_base = bool(t["win_rate_vs_baseline"].notna().any())
    has_lc = bool(t["lc_win_rate"].notna().any())
    has_truth = board.truth is not None
    level = round(100 * board.meta.get("level", 0.95))
    table = Table(title="referee leaderboard", title_justify="left", header_style="bold")
    for name, kw in (
        ("rank", {"justify": "right"}),
        ("rank interval", {"justify": "center"}),
        ("model", {"no_wrap": True}),
        ("rating", {"justify": "right"}),
        (f"{level}% CI", {"justify": "center", "no_wrap": True}),
    ):
        table.add_column(name, **kw)
    if has_truth:
        table.add_column("true rating", justify="right", style="magenta")
    table.add_column("battles", justify="right")
    table.add_column("win rate vs baseline" if has_base else "win rate", justify="right")
    if has_base:
        table.add_column("± se", justify="right")
    if has_lc:
        table.add_column("LC win rate", justify="right")
        table.add_column("± se", justify="right")
    truth = board.truth
    for r in t.to_dict(orient="records"):
        low, high = _float(r["ci_low"]), _float(r["ci_high"])
        ci = "–" if not math.isfinite(low) else f"{low:.1f} – {high:.1f}"
        row = [str(r["rank"]), f"{r['rank_low']}–{r['rank_high']}", str(r["model"]), _num(_float(r["rating"])), ci]
        if truth is not None:
            row.append(_num(_float(truth.get(r["model"], math.nan))))
        battles = _float(r["battles"])
        row.append(f"{battles:,.0f}")
        if has_base:
            row += [_num(_float(r["win_rate_vs_baseline"]), 2), _num(_float(r["win_rate_se"]), 2)]
        else:
            rate = (_float(r["wins"]) + 0.5 * _float(r["ties"])) / battles if battles else math.nan
            row.append(_num(100 * rate, 1) + "%")
        if has_lc:
            row += [_num(_float(r["lc_win_rate"]), 2), _num(_float(r.get("lc_win_rate_se")), 2)]
        table.add_row(*row)
    console.print(table)
    console.print(f"[dim]{leaderboard_method(board.meta)}[/dim]")
    dropped = board.meta.get("dropped") or {}
    for reason, count in dropped.items():
        console.print(f"[yellow]dropped {count:,} rows: {reason.replace('_', ' ')}[/yellow]")
    for note in board.meta.get("notes") or []:
        console.print(f"[yellow]note:[/yellow] {note}")
    if top is not None and len(board.table) > top:
        console.print(f"[dim]… {len(board.table) - top} more models (use --top 0 or -o to see all)[/dim]")

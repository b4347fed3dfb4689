"""Rendering of segmented leaderboards (``referee rank --by COLUMN``): Markdown, HTML, terminal."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from referee.report.markdown import leaderboard_markdown, leaderboard_method

if TYPE_CHECKING:
    from rich.console import Console

    from referee.report.data import BoardData, SegmentedData


def _num(x: Any, digits: int = 1) -> str:
    return "–" if x is None or pd.isna(x) else f"{float(x):.{digits}f}"


def _cell(row: pd.Series, label: str, interval: bool = True) -> str:
    """``rating [low, high] #rank`` (or ``rating (#rank)``), ``–`` when the model is absent."""
    rating = row[(label, "rating")]
    if pd.isna(rating):
        return "–"
    rank = int(row[(label, "rank")])
    if not interval:
        return f"{rating:.0f} #{rank}"
    lo, hi = row[(label, "ci_low")], row[(label, "ci_high")]
    ci = f" [{_num(lo)}, {_num(hi)}]" if not pd.isna(lo) else ""
    return f"{rating:.1f}{ci} #{rank}"


def _columns(seg: SegmentedData, wide: pd.DataFrame) -> list[tuple[str, str]]:
    """(label in the table, key in ``wide``): overall first (``wide``'s first block), then each ranked segment."""
    return [("overall", str(wide.columns[0][0])), *[(k, k) for k in seg.segments]]


def _n(board: BoardData) -> str:
    return f"{int(board.meta.get('n_comparisons') or 0):,}"


def segments_markdown(seg: SegmentedData) -> str:
    """The test, the models × segments table (rating [CI] #rank), then every board."""
    wide = seg.wide()
    cols = _columns(seg, wide)
    lines = [f"# referee leaderboard by {seg.by}", ""]
    if seg.where:
        lines += ["Rows: " + " and ".join(f"`{c}={v}`" for c, v in seg.where), ""]
    lines += [lr_summary(seg.test), ""]
    lines += [f"## Ratings by {seg.by}", "", "rating [95% CI] #rank (rank = 1 + models significantly better)", ""]
    head = ["model", *[c for c, _ in cols]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, row in wide.iterrows():
        lines.append("| " + " | ".join([str(model), *[_cell(row, key) for _, key in cols]]) + " |")
    lines += ["", f"## Overall ({_n(seg.overall)} comparisons)", "", leaderboard_markdown(seg.overall)]
    for label, board in seg.segments.items():
        lines += [f"## {seg.by} = {label} ({_n(board)} comparisons)", "", leaderboard_markdown(board)]
    if seg.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in seg.notes] + [""]
    return "\n".join(lines)


def _html_table(head: list[str], rows: list[list[str]], model_col: int = 0) -> str:
    th = "".join(f'<th{" class=model" if i == model_col else ""}>{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td{" class=model" if i == model_col else ""}>{escape(c)}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _board_html(board: BoardData) -> str:
    from referee.report.html import forest_plot

    t = board.table
    rows = [
        [str(r.rank), f"{r.rank_low}–{r.rank_high}", str(r.model), _num(r.rating), f"{_num(r.ci_low)} – {_num(r.ci_high)}",
         _num(r.battles, 0)]
        for r in t.itertuples(index=False)
    ]
    table = _html_table(["rank", "rank interval", "model", "rating", "95% CI", "battles"], rows, model_col=2)
    plot = forest_plot(board)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in board.meta.get("notes") or [])
    return f'{notes}<p class="meta">{escape(leaderboard_method(board.meta))}</p>{table}{plot}'


def segments_html(seg: SegmentedData) -> str:
    """The overall leaderboard page with the test on top and, as sections, the models ×
    segments table and every segment's board (table and CI plot)."""
    from referee.report.html import leaderboard_html

    wide = seg.wide()
    cols = _columns(seg, wide)
    rows = [[str(m), *[_cell(r, key) for _, key in cols]] for m, r in wide.iterrows()]
    sections = [{"title": f"Ratings by {seg.by} (rating [95% CI] #rank)", "html": _html_table(["model", *[c for c, _ in cols]], rows)}]
    for label, board in seg.segments.items():
        sections.append({"title": f"{seg.by} = {label} ({_n(board)} comparisons)", "html": _board_html(board)})
    notes = [lr_summary(seg.test)]
    if seg.where:
        notes.append("Rows: " + " and ".join(f"{c}={v}" for c, v in seg.where))
    notes += list(seg.overall.meta.get("notes") or []) + list(seg.notes)
    return leaderboard_html(seg.overall, title=f"referee leaderboard by {seg.by}", notes=notes, extra_sections=sections)


def print_segments(seg: SegmentedData, console: Console | None = None, top: int | None = None) -> None:
    """Rich table: one row per model, the overall rating (#rank) then one column per segment."""
    from rich.console import Console
    from rich.table import Table

    wide = seg.wide()
    cols = _columns(seg, wide)
    longest = max([len(str(m)) for m in wide.index] + [5])
    needed = longest + 3 + sum(max(len(name), 9) + 3 for name, _ in cols) + 1
    console = console or Console()
    if not console.is_terminal and console.width < max(120, needed):
        console = Console(width=max(120, needed))  # a pipe or file: no reason to squeeze the table
    if top is not None:
        wide = wide.head(top)
    table = Table(title=f"referee leaderboard by {seg.by}: rating #rank", title_justify="left", header_style="bold")
    table.add_column("model", no_wrap=True)
    for name, key in cols:
        board = seg.overall if key == cols[0][1] else seg.segments[key]
        table.add_column(f"{name}\n{_n(board)}", justify="right", no_wrap=True)
    for model, row in wide.iterrows():
        table.add_row(str(model), *[_cell(row, key, interval=False) for _, key in cols])
    console.print(table)
    console.print(f"[dim]{leaderboard_method(seg.overall.meta)}[/dim]")
    if seg.where:
        console.print("[dim]rows: " + " and ".join(f"{c}={v}" for c, v in seg.where) + "[/dim]")
    console.print(lr_summary(seg.test))
    for reason, count in (seg.overall.meta.get("dropped") or {}).items():
        console.print(f"[yellow]dropped {count:,} rows: {reason.replace('_', ' ')}[/yellow]")
    for note in list(seg.overall.meta.get("notes") or []) + seg.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if top is not None and len(seg.overall.table) > top:
        console.print(f"[dim]… {len(seg.overall.table) - top} more models (use --top 0 or -o to see all)[/dim]")


def lr_summary(test: Mapping[str, Any]) -> str:
    """One line for reports: the statistic, df and p-value, or why there is no test."""
    by = test.get("by", "segment")
    if not test.get("available"):
        return f"No test of differences across {by}: {test.get('note') or 'not available'}"
    p = test["p_value"]
    ptxt = "p < 1e-12" if p < 1e-12 else f"p = {p:.3g}"
    text = (
        f"Do strengths differ across {by}? Likelihood-ratio test: LR = {test['statistic']:.2f} "
        f"on {test['df']} df, {ptxt}"
    )
    if test.get("approximate"):
        text += " (approximate: " + "; ".join(test["approximations"]) + ")"
    text += "."
    if test.get("note"):
        text += " " + test["note"]
    return text

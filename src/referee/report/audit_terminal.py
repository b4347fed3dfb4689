"""Rich terminal summary of an audit: flags first, then the headline metrics per judge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from referee.report.audit_text import agreement_legend, audit_method, scored_against_gold, summary

if TYPE_CHECKING:
    from rich.console import Console

    from referee.report.data import AuditData


#: width of the summary when the output is not a terminal (a pipe, a file, a test's capture)
WIDTH = 200


def print_audit(report: AuditData, console: Console | None = None) -> None:
    """Print the flags, the headline table (accuracy beside agreement with gold without and with
    ties), what the gold columns count, the method and the notes."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal and console.width < WIDTH:
        console = Console(width=WIDTH)
    flags = report.flags
    if flags:
        console.print(f"[bold red]{len(flags)} flag(s)[/bold red]")
        for j, f in flags:
            console.print(f"[red]• {j}[/red]: {f['message']}")
    else:
        console.print("[green]No defect flagged[/green]: every interval overlaps its no-defect band.")
    table = Table(title="referee audit", title_justify="left", header_style="bold")
    table.add_column("judge", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column("aligned", justify="right")
    head_metrics = summary(report)
    for _, label in head_metrics:
        table.add_column(label, justify="right")
    flagged = {(j, f["metric"]) for j, f in flags}
    for j, d in report.judges.items():
        cells = []
        for key, _ in head_metrics:
            text = compact(report.metric(j, key))
            cells.append(f"[red]{text}[/red]" if (j, key.split(".")[-1]) in flagged else text)
        table.add_row(str(j), f"{d['n']:,}", f"{d['aligned']:,}", *cells)
    console.print(table)
    if scored_against_gold(report):
        console.print(f"[dim]{agreement_legend(report.meta)}[/dim]")
    console.print(f"[dim]{audit_method(report.meta)}[/dim]")
    for note in report.meta.get("notes") or []:
        console.print(f"[yellow]note:[/yellow] {note}")


def compact(m: dict[str, Any] | None) -> str:
    """'0.856 [0.832–0.880]' (three decimals, as published numbers are quoted), '–' when missing."""
    if not m or m.get("value") is None:
        return "–"
    if m.get("ci_low") is None:
        return f"{m['value']:.3f}"
    return f"{m['value']:.3f} [{m['ci_low']:.3f}–{m['ci_high']:.3f}]"

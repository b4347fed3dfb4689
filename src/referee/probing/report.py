"""The result of :func:`referee.probe`: one record per (probe, mode), and its renderings.

JSON form::

    {"probes": [{"probe", "mode", "metric", "value", "ci_low", "ci_high", "n", "p", "q", "flagged",
                 "message", ...}, ...],
     "meta": {"judge", "mode", "probes", "n_pairs", "seed", "level", "templates", "usage", "notes", ...}}

``metric`` is ``flip_rate`` (text probes: the share of units that moved toward the edited
response), ``decisiveness`` (``identical``), ``worst_flip_rate`` (``templates``; with ``kappa``)
or ``stability`` (``repeat``; with ``kappa``); see :mod:`referee.probing.analyse`.  The terminal,
Markdown and HTML forms put pairwise and pointwise side by side, flags on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.report.output import Renderable, clean, emit

if TYPE_CHECKING:
    from rich.console import Console

METRIC_NAMES = {
    "flip_rate": "flip rate toward the edit", "decisiveness": "decisive on identical pair",
    "worst_flip_rate": "worst-case flip across templates", "stability": "stable across repeats",
}  # fmt: skip


def cell(r: dict[str, Any] | None) -> str:
    """``0.350 [0.31, 0.39]`` (plus κ / score change where the probe has one); ``–`` when absent."""
    if r is None or r.get("value") is None:
        return "–"
    text = f"{r['value']:.3f}"
    if r.get("ci_low") is not None:
        text += f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
    if r.get("kappa") is not None:
        text += f" κ={r['kappa']:.2f}"
    change = r.get("score_change") or {}
    if change.get("value") is not None:
        text += f" Δscore={change['value']:+.2f}"
    return text


@dataclass
class ProbeReport(Renderable):
    """Per probe and mode: the measure with its interval, the test, the flag; the run's metadata."""

    probes: list[dict[str, Any]]
    meta: dict[str, Any]

    @property
    def flags(self) -> list[dict[str, Any]]:
        """The flagged probes (q ≤ 1 − level after Benjamini–Hochberg over the report)."""
        return [r for r in self.probes if r.get("flagged")]

    @property
    def standing_flags(self) -> list[tuple[str, dict[str, Any]]]:
        """(judge, flag) for each flagged probe — the shape ``AuditReport.standing_flags`` has (CI gates)."""
        return [(str(self.meta.get("judge")), r) for r in self.flags]

    def get(self, probe: str, mode: str = "pairwise") -> dict[str, Any] | None:
        """The record of one probe in one mode."""
        return next((r for r in self.probes if r["probe"] == probe and r["mode"] == mode), None)

    def rows(self) -> list[dict[str, Any]]:
        """One row per probe: its metric, the pairwise and pointwise cells, the smallest q, flagged or not."""
        out: list[dict[str, Any]] = []
        for name in dict.fromkeys(r["probe"] for r in self.probes):
            recs = [r for r in self.probes if r["probe"] == name]
            qs = [r["q"] for r in recs if r.get("q") is not None]
            out.append({
                "probe": name, "metric": METRIC_NAMES.get(recs[0]["metric"], recs[0]["metric"]),
                "pairwise": cell(self.get(name, "pairwise")), "pointwise": cell(self.get(name, "pointwise")),
                "q": f"{min(qs):.3g}" if qs else "–", "flagged": any(r.get("flagged") for r in recs),
            })  # fmt: skip
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"probes": clean(self.probes), "meta": clean(self.meta)}

    def summary(self) -> str:
        u = self.meta.get("usage", {})
        return (f"judge {self.meta.get('judge')}: {self.meta.get('n_pairs')} gold pairs, {u.get('planned', 0)} requests "
                f"planned, {u.get('calls', 0)} calls, {u.get('cache_hits', 0)} cache hits; "
                f"{len(self.flags)} probe(s) flagged at FDR {1 - float(self.meta.get('level', 0.95)):.2g}")

    def to_markdown(self, path: str | Path | None = None) -> str:
        lines = [f"# Probes of {self.meta.get('judge')}", "", self.summary(), "", "## Flags", ""]
        lines += [f"- {r['message']}" for r in self.flags] or ["No probe flagged."]
        lines += ["", "## Probes", "", "| probe | measure | pairwise | pointwise | q | flagged |", "|---|---|---|---|---|---|"]
        for r in self.rows():
            lines.append(f"| {r['probe']} | {r['metric']} | {r['pairwise']} | {r['pointwise']} | {r['q']} | "
                         f"{'yes' if r['flagged'] else ''} |")
        lines += ["", *(f"> note: {n}" for n in self.meta.get("notes") or []), "", "## Method", "", METHOD]
        return emit("\n".join(lines) + "\n", path)

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.templating import environment

        page = environment("report").get_template("probes.html.j2").render(
            title=f"referee probes: {self.meta.get('judge')}", summary=self.summary(), flags=self.flags,
            rows=self.rows(), notes=self.meta.get("notes") or [], method=METHOD, meta=self.meta,
            details=[r for r in self.probes if r.get("per_template")],
        )  # fmt: skip
        return emit(page, path)

    def print(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        for r in self.flags:
            console.print(f"[bold red]flag[/]: {r['message']}")
        table = Table(title=self.summary(), title_justify="left")
        for col in ("probe", "measure", "pairwise", "pointwise", "q", "flagged"):
            table.add_column(col, justify="left" if col in ("probe", "measure") else "right")
        for r in self.rows():
            table.add_row(r["probe"], r["metric"], r["pairwise"], r["pointwise"], r["q"], "yes" if r["flagged"] else "")
        console.print(table)
        for n in self.meta.get("notes") or []:
            console.print(f"note: {n}")

    def __repr__(self) -> str:
        return f"ProbeReport({self.meta.get('judge')!r}, {len(self.probes)} record(s), {len(self.flags)} flagged)"


METHOD = (
    "Each probe edits gold pairs in a way that should not change a fair judge's verdict and sends the edited and "
    "unedited pairs through the judge engine (both presentation orders; cache and budgets apply). Flip rate: the "
    "share of games (pairwise) or pairs (pointwise: the sign of the score difference) whose verdict moved toward "
    "the edited response, with a Wilson interval at the design-effect-adjusted n (pairs are clusters of two "
    "games). p-value: one-sided sign test of per-pair net movements toward vs away; identical pairs: two-sided "
    "sign test of first- vs second-shown wins. q-values: Benjamini-Hochberg over the report; a probe is flagged "
    "when q <= 1 - level. Templates: Fleiss' kappa across templates and the worst share of games whose verdict "
    "differs from the main template's; repeat: the share of games with the same verdict in all k repeats."
)

__all__ = ["METHOD", "ProbeReport", "cell"]

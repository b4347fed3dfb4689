"""The ``referee plan simulate`` report: Kendall τ and top-k accuracy against judge calls, per plan.

Self-contained HTML (inline CSS and SVG).  Renderers take plain data — the summary and runs
tables of :class:`referee.planning.simulation.PlanSimulation` — and never import ``planning``.
Each chart draws, per plan, the median over seeds as a line with markers and the 10th–90th
percentile band over seeds as a shaded area.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from referee import __version__, templating
from referee.report.charts import band_chart

#: one colour per plan (random first: the baseline)
COLOURS = {"random": "#7f7f7f", "active": "#1f77b4", "swiss": "#2ca02c", "knockout": "#d62728"}


def _series(runs: pd.DataFrame, column: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    out = {}
    for plan, g in runs.groupby("plan", sort=False):
        by = g.groupby("budget", sort=False)
        x = by["calls"].median().to_numpy(dtype=float)
        out[str(plan)] = (x, by[column].median().to_numpy(dtype=float), by[column].quantile(0.1).to_numpy(dtype=float),
                          by[column].quantile(0.9).to_numpy(dtype=float))
    return out


def plan_html(summary: pd.DataFrame, runs: pd.DataFrame, settings: dict[str, Any], notes: list[str]) -> str:
    """The report: settings, the τ and top-k charts, and the summary table."""
    k = settings.get("k", 3)
    tau = band_chart(_series(runs, "tau"), title="Kendall τ against the truth (median, 10–90% over seeds)",
                     xlabel="judge calls", ylabel="Kendall τ", colours=COLOURS)
    topk = band_chart(_series(runs, "topk"), title=f"share of the true top {k} found (median, 10–90% over seeds)",
                      xlabel="judge calls", ylabel=f"top-{k} accuracy", ydom=(0.0, 1.0), colours=COLOURS)
    rows = summary.to_dict(orient="records")
    return templating.environment("report").get_template("plan.html.j2").render(
        title="referee plan simulate", settings=settings, notes=notes, tau=tau, topk=topk, rows=rows, k=k,
        version=__version__, fmt=_fmt,
    )


def _fmt(x: Any, digits: int = 3, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{float(x):+.{digits}f}" if signed else f"{float(x):.{digits}f}"

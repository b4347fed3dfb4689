"""Self-contained HTML reports (inline CSS and SVG; nothing loaded from the network)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from referee import templating
from referee.report.charts import heatmap, interval_plot
from referee.report.markdown import leaderboard_method

if TYPE_CHECKING:
    from jinja2 import Environment

    from referee.report.data import BoardData

#: the most models the win-probability heatmap shows (the top ones by rating, with a note saying so)
HEATMAP_MODELS = 150


def environment() -> Environment:
    """The report templates' Jinja environment (:func:`referee.templating.environment`)."""
    return templating.environment("report")


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{float(x):.{digits}f}"


def leaderboard_html(
    board: BoardData,
    title: str = "referee leaderboard",
    notes: list[str] | None = None,
    extra_sections: list[dict[str, str]] | None = None,
) -> str:
    """Render the leaderboard, a CI plot and the win-probability heatmap (when computed)."""
    t = board.table.copy()
    truth = None
    if board.truth is not None:
        t["true_rating"] = t["model"].map(board.truth)
        truth = [float(v) for v in t["true_rating"].to_numpy(dtype=float)]
    forest = forest_plot(board, truth)
    heat, heat_note = win_prob_heatmap(board)
    return environment().get_template("leaderboard.html.j2").render(
        title=title,
        notes=notes or board.meta.get("notes") or [],
        description=leaderboard_method(board.meta),
        rows=t.to_dict(orient="records"),
        truth=board.truth is not None,
        has_baseline=bool(pd.Series(t["win_rate_vs_baseline"]).notna().any()),
        has_lc=bool(pd.Series(t["lc_win_rate"]).notna().any()),
        fmt=_fmt,
        forest=forest,
        heat=heat,
        heat_note=heat_note,
        extra_sections=extra_sections or [],
        version=board.meta.get("referee_version"),
    )


def forest_plot(board: BoardData, truth: list[float] | None = None, title: str = "rating with 95% CI") -> str:
    """The board's ratings and intervals, best first (:func:`referee.report.charts.interval_plot`),
    with the true ratings as red diamonds when known."""
    t = board.table
    return interval_plot(
        [str(m) for m in t["model"]], [float(v) for v in t["rating"].to_numpy(dtype=float)],
        [float(v) for v in t["ci_low"].to_numpy(dtype=float)], [float(v) for v in t["ci_high"].to_numpy(dtype=float)],
        truth=truth, title=title, width=760, row=18, left=220,
    )  # fmt: skip


def win_prob_heatmap(board: BoardData, limit: int | None = None) -> tuple[str, str]:
    """The P(row beats column) heatmap in rating order and a note on what it leaves out.

    Any number of models is shown: cells and labels shrink as the matrix grows
    (:func:`referee.report.charts.heatmap_cell`) and the page scrolls beyond that; above
    ``limit`` models (default :data:`HEATMAP_MODELS`) only the top ``limit`` by rating are drawn,
    and the note says so.  ``("", "")`` when the board has no win-probability matrix (no
    intervals were computed).
    """
    limit = HEATMAP_MODELS if limit is None else limit
    prob = board.win_prob.get("p")
    if prob is None or not len(prob):
        return "", ""
    order = [m for m in board.table["model"] if m in prob.index]
    note = ""
    if len(order) > limit:
        note = (f"Showing the top {limit} of {len(order)} models by rating; a {len(order)} × {len(order)} "
                "matrix would not be readable. Hover over a cell for its pair and probability.")
        order = order[:limit]
    values = prob.loc[order, order].to_numpy(dtype=float)
    return heatmap([str(m) for m in order], values.tolist(), title="P(row beats column)"), note

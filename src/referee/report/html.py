"""Self-contained HTML reports (inline CSS and SVG; nothing loaded from the network)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from referee import templating
from referee.report.markdown import describe
from referee.report.svg import forest_plot, heatmap

if TYPE_CHECKING:
    from jinja2 import Environment

    from referee.report.data import BoardData


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
    """Render the leaderboard, a CI plot and (≤ 40 models) the win-probability heatmap."""
    t = board.table.copy()
    truth = None
    if board.truth is not None:
        t["true_rating"] = t["model"].map(board.truth)
        truth = t["true_rating"].to_numpy(dtype=float)
    forest = forest_plot(
        list(t["model"]),
        t["rating"].to_numpy(dtype=float),
        t["ci_low"].to_numpy(dtype=float),
        t["ci_high"].to_numpy(dtype=float),
        truth=truth,
    )
    heat = ""
    prob = board.win_prob.get("p")
    if prob is not None and len(prob) <= 40:
        order = list(t["model"])
        heat = heatmap(order, prob.loc[order, order].to_numpy())
    return environment().get_template("leaderboard.html.j2").render(
        title=title,
        notes=notes or board.meta.get("notes") or [],
        description=describe(board.meta),
        rows=t.to_dict(orient="records"),
        truth=board.truth is not None,
        has_baseline=bool(pd.Series(t["win_rate_vs_baseline"]).notna().any()),
        has_lc=bool(pd.Series(t["lc_win_rate"]).notna().any()),
        fmt=_fmt,
        forest=forest,
        heat=heat,
        extra_sections=extra_sections or [],
        version=board.meta.get("referee_version"),
    )

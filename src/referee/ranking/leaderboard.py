"""The leaderboard returned by :func:`referee.rank`, and its serialisations.

The JSON form is a stable contract read by other tools::

    {"models": [{"model", "rating", "ci_low", "ci_high", "rank", "rank_low", "rank_high",
                 "battles", "wins", "losses", "ties",
                 "win_rate_vs_baseline", "win_rate_se", "lc_win_rate", "lc_win_rate_se"}, ...],
     "meta": {"method", "ties", "ci", "rounds", "seed", "n_comparisons",
              "style_coefficients", "tie_parameter", "anchor", "referee_version", ...}}

Fields that do not apply are ``null``.  Ratings are on the display scale
``1000 + 400/ln(10) · θ`` (mean 1000 unless anchored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from referee.report.output import Renderable, clean, emit

if TYPE_CHECKING:
    from rich.console import Console

JSON_FIELDS: tuple[str, ...] = (
    "model",
    "rating",
    "ci_low",
    "ci_high",
    "rank",
    "rank_low",
    "rank_high",
    "battles",
    "wins",
    "losses",
    "ties",
    "win_rate_vs_baseline",
    "win_rate_se",
    "lc_win_rate",
    "lc_win_rate_se",
)

META_FIELDS: tuple[str, ...] = (
    "method",
    "ties",
    "ci",
    "rounds",
    "seed",
    "n_comparisons",
    "style_coefficients",
    "tie_parameter",
    "anchor",
    "referee_version",
)


@dataclass
class Leaderboard(Renderable):
    """Ranked models with intervals, counts and the metadata of the fit.

    ``table`` has one row per model, best first, with at least the JSON fields;
    ``win_prob`` holds the pairwise win-probability matrix and its interval bounds.
    """

    table: pd.DataFrame
    meta: dict[str, Any]
    win_prob: dict[str, pd.DataFrame] = field(default_factory=dict)
    truth: pd.Series[float] | None = None  # known true ratings (simulations / demo only)

    FORMATS: ClassVar[dict[str, str]] = {**Renderable.FORMATS, ".csv": "to_csv"}

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for rec in self.table.to_dict(orient="records"):
            rows.append({k: clean(rec.get(k)) for k in JSON_FIELDS})
        meta = {k: clean(self.meta.get(k)) for k in META_FIELDS}
        meta.update({k: clean(v) for k, v in self.meta.items() if k not in meta})
        return {"models": rows, "meta": meta}

    def to_csv(self, path: str | Path | None = None) -> str:
        return emit(self.table.to_csv(index=False), path)

    def to_markdown(self, path: str | Path | None = None) -> str:
        from referee.report.markdown import leaderboard_markdown

        return emit(leaderboard_markdown(self), path)

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.report.html import leaderboard_html

        return emit(leaderboard_html(self), path)

    def print(self, console: Console | None = None, top: int | None = None) -> None:
        """Rich terminal table, best first (:func:`referee.report.terminal.print_leaderboard`);
        ``top``: only the first ``top`` models."""
        from referee.report.terminal import print_leaderboard

        print_leaderboard(self, console, top=top)

    def __repr__(self) -> str:
        cols = [c for c in ("rank", "model", "rating", "ci_low", "ci_high", "battles") if c in self.table]
        return f"Leaderboard({self.meta.get('method')}, {len(self.table)} models)\n" + self.table[cols].to_string(
            index=False
        )

"""The leaderboard returned by :func:`referee.rank`, and its serialisations.

The JSON form is a stable contract read by other tools::

    {"models": [{"model", "rating", "ci_low", "ci_high", "rank", "rank_low", "rank_high",
                 "battles", "wins", "losses", "ties",
                 "win_rate_vs_baseline", "win_rate_se", "lc_win_rate"}, ...],
     "meta": {"method", "ties", "ci", "rounds", "seed", "n_comparisons",
              "style_coefficients", "tie_parameter", "anchor", "referee_version", ...}}

Fields that do not apply are ``null``.  Ratings are on the display scale
``1000 + 400/ln(10) · θ`` (mean 1000 unless anchored).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


def _clean(value: Any) -> Any:
    """JSON-safe scalars: numpy → Python, NaN → None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Leaderboard:
    """Ranked models with intervals, counts and the metadata of the fit.

    ``table`` has one row per model, best first, with at least the JSON fields;
    ``win_prob`` holds the pairwise win-probability matrix and its interval bounds.
    """

    table: pd.DataFrame
    meta: dict[str, Any]
    win_prob: dict[str, pd.DataFrame] = field(default_factory=dict)
    truth: pd.Series | None = None  # known true ratings (simulations / demo only)

    def to_pandas(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for rec in self.table.to_dict(orient="records"):
            rows.append({k: _clean(rec.get(k)) for k in JSON_FIELDS})
        meta = {k: _clean(self.meta.get(k)) for k in META_FIELDS}
        meta.update({k: _clean(v) for k, v in self.meta.items() if k not in meta})
        return {"models": rows, "meta": meta}

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        text = self.table.to_csv(index=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_markdown(self, path: str | Path | None = None) -> str:
        from referee.report.markdown import leaderboard_markdown

        text = leaderboard_markdown(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        from referee.report.html import leaderboard_html

        text = leaderboard_html(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def save(self, path: str | Path) -> Path:
        """Write by extension: .json, .csv, .md, .html."""
        p = Path(path)
        writers = {".json": self.to_json, ".csv": self.to_csv, ".md": self.to_markdown, ".html": self.to_html}
        suffix = p.suffix.lower()
        if suffix not in writers:
            from referee.errors import InputError

            raise InputError(f"unknown output extension {suffix!r}; use one of {', '.join(writers)}", path=str(p))
        if p.parent and not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        writers[suffix](p)
        return p

    def __repr__(self) -> str:
        cols = [c for c in ("rank", "model", "rating", "ci_low", "ci_high", "battles") if c in self.table]
        return f"Leaderboard({self.meta.get('method')}, {len(self.table)} models)\n" + self.table[cols].to_string(
            index=False
        )

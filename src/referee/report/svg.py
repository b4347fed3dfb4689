"""Tiny dependency-free SVG charts for self-contained HTML reports."""

from __future__ import annotations

from html import escape

import numpy as np


def forest_plot(
    labels: list[str],
    point: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    truth: np.ndarray | None = None,
    width: int = 760,
    row: int = 18,
    title: str = "rating with 95% CI",
) -> str:
    """Horizontal interval plot, one row per label (top = first)."""
    n = len(labels)
    left, right, top = 210, 30, 34
    height = top + n * row + 30
    finite = np.concatenate([low[np.isfinite(low)], high[np.isfinite(high)], point])
    if truth is not None:
        finite = np.concatenate([finite, truth[np.isfinite(truth)]])
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (width - left - right)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in np.linspace(lo, hi, 6):
        out.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 6}" y2="{height - 24}" stroke="#eee"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle" fill="#555">{tick:.0f}</text>')
    for i, name in enumerate(labels):
        y = top + i * row + row / 2
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(str(name))}</text>')
        if np.isfinite(low[i]) and np.isfinite(high[i]):
            out.append(
                f'<line x1="{x(low[i]):.1f}" x2="{x(high[i]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#3b6fb6" stroke-width="2"/>'
            )
        out.append(f'<circle cx="{x(point[i]):.1f}" cy="{y:.1f}" r="3.5" fill="#1d3d6b"/>')
        if truth is not None and np.isfinite(truth[i]):
            out.append(
                f'<path d="M{x(truth[i]):.1f},{y - 5:.1f} l4,5 l-4,5 l-4,-5 z" fill="none" stroke="#c0392b"/>'
            )
    out.append("</svg>")
    return "\n".join(out)


def heatmap(labels: list[str], values: np.ndarray, *, cell: int = 22, title: str = "P(row beats column)") -> str:
    """Square heatmap with values in [0, 1] (blue = row wins, red = column wins)."""
    n = len(labels)
    left, top = 170, 150
    size_w, size_h = left + n * cell + 10, top + n * cell + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_w}" height="{size_h}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="10">',
        f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
    ]
    for j, name in enumerate(labels):
        cx = left + j * cell + cell / 2
        out.append(
            f'<text transform="translate({cx:.1f},{top - 6}) rotate(-60)">{escape(str(name)[:24])}</text>'
        )
    for i, name in enumerate(labels):
        y = top + i * cell
        out.append(f'<text x="{left - 6}" y="{y + cell / 2 + 3:.1f}" text-anchor="end">{escape(str(name)[:24])}</text>')
        for j in range(n):
            v = values[i, j]
            if i == j or not np.isfinite(v):
                color = "#f4f4f4"
            else:
                t = float(np.clip(v, 0, 1))
                r = int(255 * min(1, 2 * (1 - t)))
                b = int(255 * min(1, 2 * t))
                g = int(255 * (1 - abs(t - 0.5)))
                color = f"rgb({r},{g},{b})"
            out.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{color}">'
                f"<title>{escape(str(labels[i]))} vs {escape(str(labels[j]))}: {v:.3f}</title></rect>"
            )
            if i != j and np.isfinite(v) and n <= 20:
                out.append(
                    f'<text x="{left + j * cell + cell / 2:.1f}" y="{y + cell / 2 + 3:.1f}" '
                    f'text-anchor="middle" font-size="8">{round(100 * v)}</text>'
                )
    out.append("</svg>")
    return "\n".join(out)

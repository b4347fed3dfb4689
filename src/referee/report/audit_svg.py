"""Dependency-free inline SVG charts for the audit report (values mostly in [0, 1])."""

from __future__ import annotations

from html import escape

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _open(width: float, height: float, title: str, size: int = 12) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="{size}">',
        f'<text x="4" y="16" font-weight="bold">{escape(title)}</text>',
    ]


def interval_chart(
    labels: list[str],
    values: list[float | None],
    lows: list[float | None],
    highs: list[float | None],
    *,
    band: tuple[float | None, float | None] | None = None,
    domain: tuple[float, float] = (0.0, 1.0),
    reference: float | None = None,
    title: str = "",
    width: int = 640,
    row: int = 22,
) -> str:
    """One row per label: point and interval, over a shaded no-defect band."""
    left, right, top = 170, 60, 30
    height = top + len(labels) * row + 28
    lo_d, hi_d = domain

    def x(v: float) -> float:
        return left + (min(max(v, lo_d), hi_d) - lo_d) / (hi_d - lo_d) * (width - left - right)

    out = _open(width, height, title)
    bottom = height - 22
    if band is not None:
        b0 = lo_d if band[0] is None else band[0]
        b1 = hi_d if band[1] is None else band[1]
        out.append(f'<rect x="{x(b0):.1f}" y="{top - 4}" width="{max(x(b1) - x(b0), 0):.1f}" '
                   f'height="{bottom - top + 4}" fill="#e3f4e1"><title>no-defect band</title></rect>')
    for t in np.linspace(lo_d, hi_d, 5):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 4}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - 6}" text-anchor="middle" fill="#555">{t:.2g}</text>')
    if reference is not None:
        out.append(f'<line x1="{x(reference):.1f}" x2="{x(reference):.1f}" y1="{top - 4}" y2="{bottom}" '
                   'stroke="#888" stroke-dasharray="4,3"/>')
    for i, name in enumerate(labels):
        y = top + i * row + row / 2
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(str(name)[:28])}</text>')
        v, lo, hi = values[i], lows[i], highs[i]
        if v is None:
            out.append(f'<text x="{left + 4}" y="{y + 4:.1f}" fill="#999">n/a</text>')
            continue
        if lo is not None and hi is not None:
            out.append(f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#3b6fb6" '
                       'stroke-width="2"/>')
        out.append(f'<circle cx="{x(v):.1f}" cy="{y:.1f}" r="4" fill="#1d3d6b"/>')
        out.append(f'<text x="{width - right + 6}" y="{y + 4:.1f}">{v:.3f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def stacked_bars(labels: list[str], parts: list[tuple[str, list[float], str]], *, title: str = "",
                 width: int = 640, row: int = 22) -> str:
    """Horizontal 100% bars: one per label, split into the given parts (name, shares, colour)."""
    left, right, top = 170, 20, 48
    height = top + len(labels) * row + 10
    span = width - left - right
    out = _open(width, height, title)
    lx = left
    for name, _, col in parts:
        out.append(f'<rect x="{lx}" y="24" width="10" height="10" fill="{col}"/>')
        out.append(f'<text x="{lx + 14}" y="33">{escape(name)}</text>')
        lx += 16 + 7 * len(name) + 18
    for i, name in enumerate(labels):
        y = top + i * row
        out.append(f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{escape(str(name)[:28])}</text>')
        x0 = float(left)
        for pname, shares, col in parts:
            s = shares[i]
            if s is None or not np.isfinite(s) or s <= 0:
                continue
            w = s * span
            out.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{col}">'
                       f"<title>{escape(str(name))} {escape(pname)}: {s:.3f}</title></rect>")
            if w > 34:
                out.append(f'<text x="{x0 + w / 2:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="middle" '
                           f'fill="white" font-size="10">{100 * s:.0f}%</text>')
            x0 += w
    out.append(f'<line x1="{left + span / 2:.1f}" x2="{left + span / 2:.1f}" y1="{top - 2}" y2="{height - 6}" '
               'stroke="#333" stroke-dasharray="3,3"/>')
    out.append("</svg>")
    return "\n".join(out)


def _tick(t: float, span: float) -> str:
    return f"{t:.0f}" if span >= 20 else f"{t:.3g}"


def _axes(out: list[str], x0: float, y0: float, w: float, h: float, xdom: tuple[float, float],
          ydom: tuple[float, float], xlabel: str, ylabel: str) -> None:
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for t in np.linspace(*xdom, 5):
        px = x0 + (t - xdom[0]) / (xdom[1] - xdom[0]) * w
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y0}" y2="{y0 + h}" stroke="#eee"/>')
        out.append(f'<text x="{px:.1f}" y="{y0 + h + 14}" text-anchor="middle" fill="#555">'
                   f"{_tick(t, xdom[1] - xdom[0])}</text>")
    for t in np.linspace(*ydom, 5):
        py = y0 + h - (t - ydom[0]) / (ydom[1] - ydom[0]) * h
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{py:.1f}" y2="{py:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{py + 4:.1f}" text-anchor="end" fill="#555">{t:.2g}</text>')
    out.append(f'<text x="{x0 + w / 2:.1f}" y="{y0 + h + 30}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate({x0 - 36},{y0 + h / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f"{escape(ylabel)}</text>")


def line_chart(
    series: dict[str, list[tuple[float, float, float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    xdom: tuple[float, float] | None = None,
    ydom: tuple[float, float] = (0.0, 1.0),
    diagonal: bool = False,
    hline: float | None = None,
    width: int = 520,
    height: int = 360,
) -> str:
    """Lines with points (x, y, n) per series; point area grows with n.  ``diagonal``: y = x reference."""
    x0, y0 = 60, 56
    w, h = width - x0 - 20, height - y0 - 44
    pts = [p for s in series.values() for p in s]
    if xdom is None:
        xs = [p[0] for p in pts] or [0.0, 1.0]
        lo, hi = min(xs), max(xs)
        pad = 0.05 * (hi - lo or 1.0)
        xdom = (lo - pad, hi + pad)
    out = _open(width, height, title)
    lx = x0
    for i, name in enumerate(series):
        out.append(f'<rect x="{lx}" y="26" width="10" height="10" fill="{color(i)}"/>')
        out.append(f'<text x="{lx + 14}" y="35">{escape(str(name)[:24])}</text>')
        lx += 30 + 7 * min(len(str(name)), 24)
    _axes(out, x0, y0, w, h, xdom, ydom, xlabel, ylabel)

    def px(v: float) -> float:
        return x0 + (v - xdom[0]) / (xdom[1] - xdom[0]) * w

    def py(v: float) -> float:
        return y0 + h - (min(max(v, ydom[0]), ydom[1]) - ydom[0]) / (ydom[1] - ydom[0]) * h

    if diagonal:
        out.append(f'<line x1="{px(xdom[0]):.1f}" y1="{py(xdom[0]):.1f}" x2="{px(xdom[1]):.1f}" '
                   f'y2="{py(xdom[1]):.1f}" stroke="#888" stroke-dasharray="4,3"/>')
    if hline is not None:
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{py(hline):.1f}" y2="{py(hline):.1f}" stroke="#888" '
                   'stroke-dasharray="4,3"/>')
    nmax = max([p[2] for p in pts] or [1.0]) or 1.0
    for i, (name, s) in enumerate(series.items()):
        if not s:
            continue
        path = " ".join(f"{'M' if k == 0 else 'L'}{px(a):.1f},{py(b):.1f}" for k, (a, b, _) in enumerate(s))
        out.append(f'<path d="{path}" fill="none" stroke="{color(i)}" stroke-width="1.5"/>')
        for a, b, n in s:
            r = 2.5 + 4.5 * np.sqrt(n / nmax)
            out.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="{r:.1f}" fill="{color(i)}" fill-opacity="0.7">'
                       f"<title>{escape(str(name))}: x={a:.3g}, y={b:.3f}, n={n:.0f}</title></circle>")
    out.append("</svg>")
    return "\n".join(out)


def heatmap(labels: list[str], values: list[list[float | None]], *, title: str = "agreement", cell: int = 34) -> str:
    """Square heatmap of values in [0, 1] (white → dark blue), diagonal included, numbers in cells."""
    n = len(labels)
    left, top = 150, 130
    out = _open(left + n * cell + 10, top + n * cell + 10, title, size=10)
    for j, name in enumerate(labels):
        cx = left + j * cell + cell / 2
        out.append(f'<text transform="translate({cx:.1f},{top - 6}) rotate(-55)">{escape(str(name)[:22])}</text>')
    for i, name in enumerate(labels):
        y = top + i * cell
        out.append(f'<text x="{left - 6}" y="{y + cell / 2 + 3:.1f}" text-anchor="end">{escape(str(name)[:22])}</text>')
        for j in range(n):
            v = values[i][j]
            if v is None or not np.isfinite(v):
                fill, text = "#f4f4f4", ""
            else:
                t = float(np.clip(v, 0, 1))
                fill = f"rgb({int(255 - 225 * t)},{int(255 - 170 * t)},{int(255 - 90 * t)})"
                text = f"{100 * v:.0f}"
            out.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{fill}">'
                       f"<title>{escape(str(labels[i]))} vs {escape(str(labels[j]))}: "
                       f"{'n/a' if not text else f'{v:.3f}'}</title></rect>")
            if text:
                col = "white" if v is not None and v > 0.6 else "#222"
                out.append(f'<text x="{left + j * cell + cell / 2:.1f}" y="{y + cell / 2 + 3:.1f}" '
                           f'text-anchor="middle" fill="{col}">{text}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(values: list[float], counts: list[float], *, title: str, xlabel: str, width: int = 420,
              height: int = 220) -> str:
    """Vertical bars (a histogram of ratings): one bar per value."""
    x0, y0 = 50, 30
    w, h = width - x0 - 10, height - y0 - 40
    n = len(values)
    out = _open(width, height, title)
    top = max(counts or [1]) or 1
    bw = w / max(n, 1)
    out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{y0 + h}" y2="{y0 + h}" stroke="#999"/>')
    for i, (v, c) in enumerate(zip(values, counts, strict=True)):
        bh = c / top * h
        out.append(f'<rect x="{x0 + i * bw + 1:.1f}" y="{y0 + h - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                   f'fill="#3b6fb6"><title>{v:g}: {c:.0f}</title></rect>')
        out.append(f'<text x="{x0 + i * bw + bw / 2:.1f}" y="{y0 + h + 14}" text-anchor="middle" fill="#555">'
                   f"{v:.3g}</text>")
    out.append(f'<text x="{x0 + w / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append("</svg>")
    return "\n".join(out)

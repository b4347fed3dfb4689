"""The one SVG toolkit of the HTML reports: axes on nice ticks, labels, and the charts built on them.

Dependency-free inline SVG (nothing loaded from the network), shared by the leaderboard
(:mod:`referee.report.html`, :mod:`referee.report.segments`) and the audit
(:mod:`referee.report.audit_html`):

* :func:`nice_ticks` — every axis's tick values, multiples of 1, 2, 2.5 or 5 × 10^k;
* :class:`Scale` — a linear map from data to pixels over a domain widened to its ticks;
* :class:`Svg` — an element list with the shared pieces: title, text, ellipsised labels whose
  full text is a tooltip, lines, boxes, a legend, and the grid of an axis;
* the charts — :func:`interval_plot` (forest plot: point and interval per row, with an optional
  no-defect band, reference line and true values), :func:`heatmap`, :func:`stacked_bars`,
  :func:`line_chart` and :func:`bar_chart`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

#: categorical colours of series (the matplotlib "tab10" order)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
#: tick steps per decade, most preferred first (the Q of Talbot, Lin and Hanrahan, restricted)
STEPS = (1.0, 5.0, 2.0, 2.5)
#: weights of simplicity, coverage and density in the tick score (Talbot et al.'s defaults)
WEIGHTS = (0.25, 0.2, 0.5)
#: characters of a row label before it is ellipsised (its full text stays in the tooltip)
LABEL_CHARS = 28


def color(i: int) -> str:
    """The ``i``-th categorical colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


# -- ticks -------------------------------------------------------------------------------------------
def nice_ticks(lo: float, hi: float, target: int = 5, *, extend: bool = True) -> list[float]:
    """About ``target`` tick values covering ``[lo, hi]``, at multiples of a step ``q × 10^k`` with
    ``q`` in 1, 2, 2.5, 5 (Heckbert's "nice numbers", plus 2.5).

    Among the candidate steps and first/last ticks, the one with the best score of the extended
    Wilkinson algorithm wins: simplicity (a preferred ``q``, zero among the ticks), coverage
    (the ticks span the data, not much more) and density (close to ``target`` ticks); see
    P. Heckbert, "Nice numbers for graph labels", *Graphics Gems* (1990), and J. Talbot, S. Lin,
    P. Hanrahan, "An extension of Wilkinson's algorithm for positioning tick labels on axes",
    IEEE InfoVis (2010).  With ``extend=False`` every tick lies inside ``[lo, hi]`` (an axis
    whose domain is fixed); otherwise the first and last ticks may lie just outside, and the axis
    widens its domain to them (:meth:`Scale.fit`).  A zero-width range is widened around its value.
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"tick range must be finite, got [{lo}, {hi}]")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        half = 0.1 * abs(lo) or 0.5
        lo, hi = lo - half, hi + half
    span = hi - lo
    target = max(target, 2)
    decade = math.floor(math.log10(span / (target - 1)))
    best: tuple[float, list[float]] | None = None
    for i, q in enumerate(STEPS):
        for power in range(decade - 1, decade + 2):
            step = q * 10.0**power
            firsts = {math.ceil(lo / step - 1e-9)} | ({math.floor(lo / step + 1e-9)} if extend else set())
            lasts = {math.floor(hi / step + 1e-9)} | ({math.ceil(hi / step - 1e-9)} if extend else set())
            for first in firsts:
                for last in lasts:
                    n = last - first + 1
                    if n < 2 or n > 3 * target:
                        continue
                    lmin, lmax = first * step, last * step
                    simplicity = 1.0 - i / (len(STEPS) - 1) + (1.0 if first <= 0 <= last else 0.0)
                    coverage = 1.0 - 0.5 * ((hi - lmax) ** 2 + (lo - lmin) ** 2) / (0.1 * span) ** 2
                    density = (n - 1) / (lmax - lmin) / ((target - 1) / (max(hi, lmax) - min(lo, lmin)))
                    score = (WEIGHTS[0] * simplicity + WEIGHTS[1] * coverage
                             + WEIGHTS[2] * (2.0 - max(density, 1.0 / density)))
                    if best is None or score > best[0] + 1e-12:
                        digits = _decimals(step) + 2
                        best = (score, [round(k * step, digits) + 0.0 for k in range(first, last + 1)])
    if best is None:  # a range narrower than any candidate allows: its two ends
        return [lo, hi]
    return best[1]


def _decimals(step: float) -> int:
    """Decimals that show every multiple of ``step`` exactly (0.25 → 2, 2.5 → 1, 50 → 0)."""
    text = f"{step:.12g}"
    mantissa, _, exponent = text.partition("e")
    frac = len(mantissa.partition(".")[2].rstrip("0"))
    return max(0, frac - int(exponent or 0))


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick value with as many decimals as its axis's step needs (no ``-0``)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    text = f"{value:.{_decimals(float(f'{step:.10g}'))}f}"
    return text.removeprefix("-") if text.lstrip("-").strip("0.") == "" else text


@dataclass(frozen=True)
class Scale:
    """Linear map of ``domain`` onto the pixel range ``[start, stop]`` (``stop < start`` flips it,
    as a y axis does); values outside the domain are clamped to its ends."""

    domain: tuple[float, float]
    start: float
    stop: float
    ticks: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, lo: float, hi: float, start: float, stop: float, *, target: int = 5,
            extend: bool = True) -> Scale:
        """A scale over ``[lo, hi]`` widened to its :func:`nice_ticks` (when ``extend``)."""
        ticks = nice_ticks(lo, hi, target, extend=extend)
        return cls((min(lo, ticks[0]), max(hi, ticks[-1])), start, stop, ticks)

    def __call__(self, value: float) -> float:
        lo, hi = self.domain
        t = (min(max(value, lo), hi) - lo) / ((hi - lo) or 1.0)
        return self.start + t * (self.stop - self.start)


# -- the element list ---------------------------------------------------------------------------------
def ellipsis(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when anything was cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def _tip(text: str | None) -> str:
    return f"<title>{escape(text)}</title>" if text else ""


def _attrs(**attrs: object) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items() if v is not None)


class Svg:
    """One ``<svg>`` element being built: a bold title at the top left, then elements in order."""

    def __init__(self, width: float, height: float, title: str, *, size: int = 12, title_x: float = 4,
                 title_y: float = 16) -> None:
        self.width, self.height = width, height
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" role="img" '
            f'aria-label="{escape(title)}" font-family="sans-serif" font-size="{size}">'
        ]
        if title:
            self.parts.append(f'<text x="{title_x}" y="{title_y}" font-size="12" font-weight="bold">{escape(title)}</text>')

    def text(self, x: float, y: float, content: str, *, tooltip: str | None = None, **attrs: object) -> None:
        """Text at (x, y); ``attrs`` become SVG attributes (``text_anchor`` → ``text-anchor``)."""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}"{_attrs(**attrs)}>{escape(content)}{_tip(tooltip)}</text>')

    def label(self, x: float, y: float, name: object, *, limit: int = LABEL_CHARS, anchor: str = "end",
              transform: str | None = None) -> None:
        """A category label, ellipsised at ``limit`` characters; a cut label keeps its full text
        as a tooltip (and every label as its ``<title>`` for screen readers)."""
        full = str(name)
        at = f'transform="{transform}"' if transform else f'x="{x:.1f}" y="{y:.1f}"'
        self.parts.append(f'<text {at} text-anchor="{anchor}">{escape(ellipsis(full, limit))}{_tip(full)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, **attrs: object) -> None:
        self.parts.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{stroke}"'
                          f"{_attrs(**attrs)}/>")

    def rect(self, x: float, y: float, w: float, h: float, fill: str, *, tooltip: str | None = None,
             **attrs: object) -> None:
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{max(h, 0.0):.1f}" '
                          f'fill="{fill}"{_attrs(**attrs)}>{_tip(tooltip)}</rect>')

    def circle(self, x: float, y: float, r: float, fill: str, *, tooltip: str | None = None, **attrs: object) -> None:
        self.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"{_attrs(**attrs)}>'
                          f"{_tip(tooltip)}</circle>")

    def add(self, element: str) -> None:
        """A raw SVG element (paths, shapes built by a chart)."""
        self.parts.append(element)

    def legend(self, x: float, y: float, items: Sequence[tuple[str, str]], *, limit: int = 24) -> None:
        """Colour swatches with their (ellipsised) names in one row starting at (x, y)."""
        for name, fill in items:
            self.rect(x, y, 10, 10, fill)
            self.label(x + 14, y + 9, name, limit=limit, anchor="start")
            x += 30 + 7 * min(len(name), limit)

    def x_axis(self, scale: Scale, top: float, bottom: float, *, grid: str = "#ddd") -> None:
        """Vertical grid lines at the scale's ticks from ``top`` to ``bottom``, labels below."""
        for t in scale.ticks:
            self.line(scale(t), top, scale(t), bottom, grid)
            self.text(scale(t), bottom + 14, tick_label(t, scale.ticks), text_anchor="middle", fill="#555", class_="tick")

    def y_axis(self, scale: Scale, left: float, right: float, *, grid: str = "#eee") -> None:
        """Horizontal grid lines at the scale's ticks from ``left`` to ``right``, labels at the left."""
        for t in scale.ticks:
            self.line(left, scale(t), right, scale(t), grid)
            self.text(left - 6, scale(t) + 4, tick_label(t, scale.ticks), text_anchor="end", fill="#555", class_="tick")

    def render(self) -> str:
        return "\n".join([*self.parts, "</svg>"])


# -- charts -------------------------------------------------------------------------------------------
def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def interval_plot(
    labels: Sequence[object],
    values: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    *,
    title: str = "",
    domain: tuple[float, float] | None = None,
    band: tuple[float | None, float | None] | None = None,
    reference: float | None = None,
    truth: Sequence[float | None] | None = None,
    value_labels: bool = False,
    width: int = 640,
    row: int = 22,
    left: int = 180,
) -> str:
    """The forest plot: one row per label (top = first), a point and its interval.

    The x axis covers ``domain`` and every finite value, low, high and true value (padded by 5%
    when no domain is given), widened to nice ticks.  ``band`` (either end open) is shaded as the
    no-defect band, ``reference`` is a dashed vertical line, ``truth`` draws a red diamond per
    row, ``value_labels`` prints each value at the right.
    """
    right, top = (60 if value_labels else 30), 30
    height = top + len(labels) * row + 28
    data = [v for seq in (values, lows, highs, truth or ()) for v in seq if v is not None and _finite(v)]
    if domain is None:
        lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
        pad = 0.05 * ((hi - lo) or 1.0)
        lo, hi = lo - pad, hi + pad
    else:
        lo, hi = min([domain[0], *data]), max([domain[1], *data])
    x = Scale.fit(lo, hi, left, width - right)
    bottom = height - 22
    svg = Svg(width, height, title)
    if band is not None:
        b0 = x.domain[0] if band[0] is None else band[0]
        b1 = x.domain[1] if band[1] is None else band[1]
        svg.rect(x(b0), top - 4, x(b1) - x(b0), bottom - top + 4, "#e3f4e1", tooltip="no-defect band")
    svg.x_axis(x, top - 4, bottom)
    if reference is not None:
        svg.line(x(reference), top - 4, x(reference), bottom, "#888", stroke_dasharray="4,3")
    for i, name in enumerate(labels):
        y = top + i * row + row / 2
        svg.label(left - 8, y + 4, name)
        v, low, high = values[i], lows[i], highs[i]
        if v is None or not _finite(v):
            svg.text(left + 4, y + 4, "n/a", fill="#999")
            continue
        if low is not None and high is not None and _finite(low) and _finite(high):
            svg.line(x(low), y, x(high), y, "#3b6fb6", stroke_width=2)
        svg.circle(x(v), y, 4 if value_labels else 3.5, "#1d3d6b")
        t = truth[i] if truth is not None else None
        if t is not None and _finite(t):
            svg.add(f'<path d="M{x(t):.1f},{y - 5:.1f} l4,5 l-4,5 l-4,-5 z" fill="none" stroke="#c0392b"/>')
        if value_labels:
            svg.text(width - right + 6, y + 4, f"{v:.3f}")
    return svg.render()


def diverging(t: float) -> str:
    """Red (0) through pale (0.5) to blue (1): who wins a pair."""
    t = min(max(t, 0.0), 1.0)
    return f"rgb({int(255 * min(1, 2 * (1 - t)))},{int(255 * (1 - abs(t - 0.5)))},{int(255 * min(1, 2 * t))})"


def sequential(t: float) -> str:
    """White (0) to dark blue (1): how much two raters agree."""
    t = min(max(t, 0.0), 1.0)
    return f"rgb({int(255 - 225 * t)},{int(255 - 170 * t)},{int(255 - 90 * t)})"


def heatmap_cell(n: int, *, largest: int = 22, smallest: int = 8, fit: int = 900) -> int:
    """Cell size in pixels for an ``n × n`` heatmap: ``largest`` while the grid fits in ``fit``
    pixels, smaller as ``n`` grows, never below ``smallest`` (the page then scrolls)."""
    return max(smallest, min(largest, fit // max(n, 1)))


def heatmap(
    labels: Sequence[object],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    colour: Callable[[float], str] = diverging,
    diagonal: bool = False,
    cell: int | None = None,
    numbers: bool | None = None,
) -> str:
    """Square heatmap of values in [0, 1], rows and columns in ``labels`` order.

    ``cell`` defaults to :func:`heatmap_cell` (smaller cells and labels as the matrix grows);
    ``numbers`` (percentages in the cells) defaults to cells large enough to hold them;
    ``diagonal=False`` greys the diagonal out.  Every cell's tooltip gives the pair and value.
    """
    n = len(labels)
    cell = cell or heatmap_cell(n)
    numbers = cell >= 22 and n <= 20 if numbers is None else numbers
    size = max(6, min(10, cell - 6))
    limit = 24 if cell >= 14 else 18
    chars = min(max([len(str(x)) for x in labels] or [1]), limit) + 1  # the longest (ellipsised) label
    left, top = 16 + 0.62 * size * chars, 28 + 0.55 * size * chars
    width = max(left + n * cell + 0.31 * size * chars, 12 + 7 * len(title))  # room for the last rotated label
    svg = Svg(width, top + n * cell + 10, title, size=size, title_y=14)
    for j, name in enumerate(labels):
        cx = left + j * cell + cell / 2 + size / 3
        svg.label(0, 0, name, limit=limit, anchor="start", transform=f"translate({cx:.1f},{top - 6}) rotate(-60)")
    for i, name in enumerate(labels):
        y = top + i * cell
        svg.label(left - 6, y + cell / 2 + size / 3, name, limit=limit)
        for j in range(n):
            v = values[i][j]
            known = v is not None and _finite(v) and (diagonal or i != j)
            tip = f"{labels[i]} vs {labels[j]}: " + (f"{v:.3f}" if v is not None and _finite(v) else "n/a")
            svg.rect(left + j * cell, y, cell - 1, cell - 1, colour(float(v)) if known and v is not None else "#f4f4f4",
                     tooltip=tip)
            if numbers and known and v is not None:
                ink = "white" if colour is sequential and v > 0.6 else "#222"
                svg.text(left + j * cell + cell / 2, y + cell / 2 + 3, f"{100 * v:.0f}", text_anchor="middle",
                         font_size=8 if cell < 30 else None, fill=ink)
    return svg.render()


def stacked_bars(labels: Sequence[object], parts: Sequence[tuple[str, Sequence[float | None], str]], *,
                 title: str = "", width: int = 640, row: int = 22, left: int = 180) -> str:
    """Horizontal 100% bars: one per label, split into the given parts (name, shares, colour)."""
    right, top = 20, 48
    height = top + len(labels) * row + 10
    span = width - left - right
    svg = Svg(width, height, title)
    svg.legend(left, 24, [(name, fill) for name, _, fill in parts])
    for i, name in enumerate(labels):
        y = top + i * row
        svg.label(left - 8, y + row / 2 + 4, name)
        x0 = float(left)
        for pname, shares, fill in parts:
            s = shares[i]
            if s is None or not _finite(s) or s <= 0:
                continue
            w = s * span
            svg.rect(x0, y + 3, w, row - 6, fill, tooltip=f"{name} {pname}: {s:.3f}")
            if w > 34:
                svg.text(x0 + w / 2, y + row / 2 + 4, f"{100 * s:.0f}%", text_anchor="middle", fill="white",
                         font_size=10)
            x0 += w
    svg.line(left + span / 2, top - 2, left + span / 2, height - 6, "#333", stroke_dasharray="3,3")
    return svg.render()


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
    """Lines with points ``(x, y, n)`` per series; a point's area grows with its n.  ``diagonal``:
    the y = x reference; ``hline``: a horizontal reference line."""
    x0, y0 = 60, 56
    w, h = width - x0 - 20, height - y0 - 44
    pts = [p for s in series.values() for p in s]
    if xdom is None:
        xs = [p[0] for p in pts] or [0.0, 1.0]
        lo, hi = min(xs), max(xs)
        pad = 0.05 * ((hi - lo) or 1.0)
        xdom = (lo - pad, hi + pad)
    px = Scale.fit(*xdom, x0, x0 + w)
    py = Scale.fit(*ydom, y0 + h, y0, extend=False)
    svg = Svg(width, height, title)
    svg.legend(x0, 26, [(str(name), color(i)) for i, name in enumerate(series)])
    svg.rect(x0, y0, w, h, "none", stroke="#999")
    svg.x_axis(px, y0, y0 + h, grid="#eee")
    svg.y_axis(py, x0, x0 + w)
    svg.text(x0 + w / 2, y0 + h + 30, xlabel, text_anchor="middle")
    svg.add(f'<text transform="translate({x0 - 36},{y0 + h / 2:.1f}) rotate(-90)" text-anchor="middle">'
            f"{escape(ylabel)}</text>")
    if diagonal:
        a, b = max(px.domain[0], py.domain[0]), min(px.domain[1], py.domain[1])
        svg.line(px(a), py(a), px(b), py(b), "#888", stroke_dasharray="4,3")
    if hline is not None:
        svg.line(x0, py(hline), x0 + w, py(hline), "#888", stroke_dasharray="4,3")
    nmax = max([p[2] for p in pts] or [1.0]) or 1.0
    for i, (name, s) in enumerate(series.items()):
        if not s:
            continue
        path = " ".join(f"{'M' if k == 0 else 'L'}{px(a):.1f},{py(b):.1f}" for k, (a, b, _) in enumerate(s))
        svg.add(f'<path d="{path}" fill="none" stroke="{color(i)}" stroke-width="1.5"/>')
        for a, b, n in s:
            svg.circle(px(a), py(b), 2.5 + 4.5 * math.sqrt(n / nmax), color(i), fill_opacity=0.7,
                       tooltip=f"{name}: x={a:.3g}, y={b:.3f}, n={n:.0f}")
    return svg.render()


def band_chart(
    series: Mapping[str, tuple[Iterable[float], Iterable[float], Iterable[float], Iterable[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str = "",
    ydom: tuple[float, float] | None = None,
    colours: dict[str, str] | None = None,
    width: int = 640,
    height: int = 340,
) -> str:
    """Per series ``(x, middle, low, high)``: a line with markers through the middles and a
    shaded low–high band (e.g. the median and the 10–90% spread over seeds)."""
    x0, y0 = 60, 56
    w, h = width - x0 - 20, height - y0 - 44
    data = {name: sorted(zip(*(map(float, part) for part in s), strict=True)) for name, s in series.items()}
    xs = [p[0] for pts in data.values() for p in pts] or [0.0, 1.0]
    ys = [v for pts in data.values() for p in pts for v in p[2:] if math.isfinite(v)] or [0.0, 1.0]
    if ydom is None:
        lo, hi = min(ys), max(ys)
        pad = 0.05 * ((hi - lo) or 1.0)
        ydom = (lo - pad, hi + pad)
    px = Scale.fit(0.0, max(xs), x0, x0 + w)
    py = Scale.fit(*ydom, y0 + h, y0, extend=False)
    fills = [(colours or {}).get(name, color(i)) for i, name in enumerate(series)]
    svg = Svg(width, height, title)
    svg.legend(x0, 26, [(str(name), fill) for name, fill in zip(series, fills, strict=True)])
    svg.rect(x0, y0, w, h, "none", stroke="#999")
    svg.x_axis(px, y0, y0 + h, grid="#eee")
    svg.y_axis(py, x0, x0 + w)
    svg.text(x0 + w / 2, y0 + h + 30, xlabel, text_anchor="middle")
    if ylabel:
        svg.add(f'<text transform="translate({x0 - 40},{y0 + h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                f"{escape(ylabel)}</text>")
    for (name, pts), fill in zip(data.items(), fills, strict=True):
        if not pts:
            continue
        band = [f"{px(a):.1f},{py(hi_):.1f}" for a, _, _, hi_ in pts]
        band += [f"{px(a):.1f},{py(lo_):.1f}" for a, _, lo_, _ in reversed(pts)]
        svg.add(f'<polygon points="{" ".join(band)}" fill="{fill}" fill-opacity="0.15" stroke="none"/>')
        path = " ".join(f"{'M' if k == 0 else 'L'}{px(a):.1f},{py(m):.1f}" for k, (a, m, _, _) in enumerate(pts))
        svg.add(f'<path d="{path}" fill="none" stroke="{fill}" stroke-width="2"/>')
        for a, m, lo_, hi_ in pts:
            svg.circle(px(a), py(m), 3, fill, tooltip=f"{name}: {a:,.0f} → {m:.3f} [{lo_:.3f}, {hi_:.3f}]")
    return svg.render()


def bar_chart(values: Sequence[float], counts: Sequence[float], *, title: str, xlabel: str, width: int = 420,
              height: int = 220) -> str:
    """Vertical bars (a histogram of ratings): one bar per value, labelled below."""
    x0, y0 = 50, 30
    w, h = width - x0 - 10, height - y0 - 40
    svg = Svg(width, height, title)
    tallest = max(counts or [1]) or 1
    bw = w / max(len(values), 1)
    svg.line(x0, y0 + h, x0 + w, y0 + h, "#999")
    for i, (v, c) in enumerate(zip(values, counts, strict=True)):
        bh = c / tallest * h
        svg.rect(x0 + i * bw + 1, y0 + h - bh, bw - 2, bh, "#3b6fb6", tooltip=f"{v:g}: {c:.0f}")
        svg.text(x0 + i * bw + bw / 2, y0 + h + 14, f"{v:.3g}", text_anchor="middle", fill="#555")
    svg.text(x0 + w / 2, height - 6, xlabel, text_anchor="middle")
    return svg.render()

"""The one SVG toolkit of the HTML reports (:mod:`referee.report.charts`): nice ticks on every
axis, ellipsised labels that keep their full text as a tooltip, and heatmaps of any size."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from referee.report import charts
from referee.report.charts import (
    Scale,
    heatmap,
    heatmap_cell,
    interval_plot,
    line_chart,
    nice_ticks,
    tick_label,
)

SVG = "{http://www.w3.org/2000/svg}"


def nice_step(step: float) -> bool:
    """Whether ``step`` is 1, 2, 2.5 or 5 × 10^k."""
    mantissa = step / 10.0 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, q, rel_tol=1e-9) for q in (1.0, 2.0, 2.5, 5.0, 10.0))


def check_ticks(ticks: list[float]) -> float:
    """Evenly spaced multiples of one nice step; returns the step."""
    assert len(ticks) >= 2, ticks
    steps = np.diff(ticks)
    step = float(steps[0])
    assert step > 0 and np.allclose(steps, step, rtol=1e-9), ticks
    assert nice_step(step), (step, ticks)
    for t in ticks:
        assert math.isclose(t / step, round(t / step), abs_tol=1e-6), (t, step)
    return step


def test_ticks_of_the_issue_fall_on_round_values() -> None:
    # the forest plot's axis of 543 … 870 used to read 543, 707, 870
    assert nice_ticks(543, 870) == [500, 600, 700, 800, 900]
    assert nice_ticks(-2112, 2287) == [-2000, -1000, 0, 1000, 2000]
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(-0.2, 0.2) == pytest.approx([-0.2, -0.1, 0, 0.1, 0.2])
    assert [tick_label(t, [0, 0.25]) for t in (0, 0.25, 1)] == ["0.00", "0.25", "1.00"]
    assert tick_label(-0.0, [0, 0.1]) == "0.0" and tick_label(1500, [0, 500]) == "1500"


@pytest.mark.parametrize("extend", [True, False])
def test_ticks_are_nice_for_any_range(extend: bool) -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        scale = 10.0 ** rng.uniform(-6, 6)
        lo = rng.normal() * scale
        hi = lo + rng.exponential() * scale * rng.choice([0.01, 1, 100])
        ticks = nice_ticks(lo, hi, target=int(rng.integers(3, 9)), extend=extend)
        step = check_ticks(ticks)
        tol = 1e-9 * max(abs(lo), abs(hi), step)
        if extend:  # the ticks cover the range, overshooting by less than one step
            assert ticks[0] > lo - step - tol and ticks[-1] < hi + step + tol, (lo, hi, ticks)
        else:  # every tick inside the range
            assert lo - tol <= ticks[0] and ticks[-1] <= hi + tol, (lo, hi, ticks)


def test_degenerate_and_invalid_ranges() -> None:
    check_ticks(nice_ticks(5, 5))  # a single value: widened around it
    check_ticks(nice_ticks(0, 0))
    assert nice_ticks(870, 543) == nice_ticks(543, 870)
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, math.inf)


def axis_groups(svg_text: str) -> list[list[float]]:
    """The tick values of every axis of an SVG: texts of class ``tick`` grouped by their y (an
    x axis) or, for right-anchored ones, their x (a y axis)."""
    root = ET.fromstring(svg_text)
    groups: dict[tuple[str, str], list[float]] = {}
    for el in root.iter(f"{SVG}text"):
        if el.get("class") == "tick":
            key = ("y", el.get("x", "")) if el.get("text-anchor") == "end" else ("x", el.get("y", ""))
            groups.setdefault(key, []).append(float(el.text or "nan"))
    return list(groups.values())


def test_every_chart_axis_uses_nice_ticks() -> None:
    forest = interval_plot(["a", "b", "c"], [700.0, 620.0, 555.5], [650.0, 560.0, 543.0], [760.0, 690.0, 870.0])
    audit = interval_plot(["j"], [0.116], [0.094], [0.138], band=(0.45, 0.55), reference=0.5, value_labels=True)
    lines = line_chart({"j": [(-2112.0, 0.02, 10), (88.0, 0.2, 30), (2287.0, 0.15, 12)]}, title="t", xlabel="x",
                       ylabel="y")
    for svg_text, axes in ((forest, 1), (audit, 1), (lines, 2)):
        groups = axis_groups(svg_text)
        assert len(groups) == axes
        for values in groups:
            check_ticks(values)
    assert axis_groups(forest)[0] == [500, 600, 700, 800, 900]


def test_scale_covers_the_data_and_its_ticks() -> None:
    for lo, hi in ((0.0, 1.3), (543.0, 870.0), (-0.05, 0.2)):
        s = Scale.fit(lo, hi, 180, 600)
        assert s.domain[0] <= min(lo, s.ticks[0]) and s.domain[1] >= max(hi, s.ticks[-1])
        assert s(lo) >= 180 and s(hi) <= 600 and s(s.domain[1]) == 600
        assert s(hi + 1e6) == 600 and s(lo - 1e6) == 180  # clamped at the ends
    y = Scale.fit(0.0, 1.0, 300, 50, extend=False)  # a y axis runs upwards
    assert y(0.0) == 300 and y(1.0) == 50 and y.ticks == [0, 0.25, 0.5, 0.75, 1]


def test_long_labels_are_ellipsised_with_the_full_name_as_tooltip() -> None:
    name = "a-judge-with-a-really-long-name/gpt-4-0613-custom-rubric-temperature-0.7"
    for svg_text in (
        interval_plot([name, "short"], [0.4, 0.6], [0.3, 0.5], [0.5, 0.7]),
        charts.stacked_bars([name], [("first", [0.5], "#000"), ("second", [0.5], "#fff")]),
        heatmap([name, "short"], [[None, 0.3], [0.7, None]], title="t"),
    ):
        root = ET.fromstring(svg_text)
        texts = [el for el in root.iter(f"{SVG}text") if el.findtext(f"{SVG}title") == name]
        assert texts, "the full name is a tooltip"
        for el in texts:
            shown = el.text or ""
            assert shown.endswith("…") and name.startswith(shown[:-1]) and len(shown) <= charts.LABEL_CHARS
        assert "short<title>short</title>" in svg_text or "short" not in svg_text  # a short label is shown whole


@pytest.mark.parametrize("n", [3, 41, 60, 250])
def test_heatmap_shows_any_number_of_labels(n: int) -> None:
    labels = [f"model-{i:03d}" for i in range(n)]
    values = np.random.default_rng(n).uniform(size=(n, n)).tolist()
    svg_text = heatmap(labels, values, title="P(row beats column)")
    root = ET.fromstring(svg_text)
    rects = list(root.iter(f"{SVG}rect"))
    assert len(rects) == n * n
    cell = float(rects[0].get("width", "0")) + 1
    assert cell == heatmap_cell(n)
    tips = {el.findtext(f"{SVG}title") for el in root.iter(f"{SVG}text")}
    assert set(labels) <= tips  # every row and column is labelled
    assert float(root.get("width", "0")) >= n * cell
    in_cells = [el for el in root.iter(f"{SVG}text") if el.get("text-anchor") == "middle"]
    assert len(in_cells) == (n * (n - 1) if n <= 20 else 0)  # percentages while the cells can hold them


def test_heatmap_cells_shrink_to_a_floor() -> None:
    sizes = [heatmap_cell(n) for n in range(1, 400)]
    assert sizes[0] == 22 and sizes[-1] == 8
    assert all(a >= b for a, b in itertools.pairwise(sizes))
    assert heatmap_cell(40) * 40 <= 900 and heatmap_cell(5, largest=34) == 34

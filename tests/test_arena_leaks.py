"""No identity leaks with fixed outputs (issue 16, part 4), against a real server process.

With fixed outputs a response is the same text every time, so a voter who remembers each text
the vote answers revealed ("this was mod-b") could recognise it later.  The simulated guesser
here remembers every revealed response text -> model and, shown a battle, names model A from
memory when it can, else flips a coin.  With ``--reveal``, the server never shows them a revealed
response again: the guesser is right no more often than chance (binomial bound) and never
recognises a text; when the outputs run out, the annotator is "done".  The same holds after a
restart (the reveals are rebuilt from the database), also when the server comes back with
``--no-reveal`` (votes revealed by the earlier run still count).  By default (no reveal) votes name
nobody and every battle stays available.  SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from arena_server import ArenaServer, arena_server, write_outputs

MODELS = ["mod-a", "mod-b", "mod-c", "mod-d", "mod-e"]
PROMPTS = 12


class Guesser:
    """A voter who remembers every revealed response text and the model it was revealed as."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.memory: dict[str, str] = {}
        self.right = self.total = self.recognised = 0

    def play(self, server: ArenaServer, token: str, limit: int) -> bool:
        """Vote until done or ``limit`` votes; True when the server said done."""
        for _ in range(limit):
            status, battle = server.request("GET", "/api/battle", token=token)
            if status == 404:
                assert battle["done"] is True, battle
                return True
            assert status == 200, battle
            known = [self.memory.get(battle["response_a"]), self.memory.get(battle["response_b"])]
            self.recognised += any(known)
            status, out = server.request("POST", "/api/vote", {"battle_id": battle["battle_id"], "winner": "tie"},
                                         token=token)
            assert status == 200, out
            if "model_a" not in out:  # nothing revealed
                assert out.get("revealed") is False and "model_b" not in out, out
                continue
            guess = known[0] or (self.rng.choice([m for m in MODELS if m != known[1]]) if known[1]
                                 else self.rng.choice(MODELS))
            self.total += 1
            self.right += guess == out["model_a"]
            self.memory[battle["response_a"]] = out["model_a"]
            self.memory[battle["response_b"]] = out["model_b"]
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    import psycopg

    base = request.getfixturevalue("pg_url")
    name = f"leaks_{random.randrange(1 << 30)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def chance_bound(n: int, p: float) -> float:
    """Right answers a chance guesser stays under with probability ~0.999 (normal approximation)."""
    return n * p + 3.1 * math.sqrt(n * p * (1 - p)) + 1


def test_a_guesser_who_remembers_reveals_does_no_better_than_chance(db: str, tmp_path: Path) -> None:
    # the last model answers every prompt with the same text: it must not be recognisable across prompts either
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS, PROMPTS, texts={"mod-e": "Same answer every time."})
    rng = random.Random(0)
    args = ["--rate-limit", "0", "--seed", "1"]
    guessers: dict[str, Guesser] = {}
    with arena_server(db, [outputs], log_dir=tmp_path, args=[*args, "--reveal"]) as server:
        tokens = [server.invite(f"voter-{i}") for i in range(3)]
        for t in tokens:
            guessers[t] = g = Guesser(rng)
            g.play(server, t, 15)  # part of their battles, then a restart
    with arena_server(db, log_dir=tmp_path, args=[*args, "--reveal"]) as server:
        for t in tokens[:2]:
            assert guessers[t].play(server, t, 500), "never done"
    with arena_server(db, log_dir=tmp_path, args=[*args, "--no-reveal"]) as server:
        g = guessers[tokens[2]]
        before = g.total
        g.play(server, tokens[2], 500)
        assert g.total == before  # nothing revealed now
    total = sum(g.total for g in guessers.values())
    right = sum(g.right for g in guessers.values())
    recognised = sum(g.recognised for g in guessers.values())
    # chance: A is one of the models the guesser cannot tell apart, 1 in 5 (no memory ever helps)
    print(f"{total} revealed votes, {right} right guesses (chance {total / len(MODELS):.1f}), {recognised} recognised")
    assert recognised == 0
    assert total >= 2 * (PROMPTS * (len(MODELS) // 2) - PROMPTS), total  # ~ floor(M/2) battles per prompt each
    assert right <= chance_bound(total, 1 / len(MODELS)), (right, total)


def test_without_reveal_votes_name_nobody_and_every_battle_stays(db: str, tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path / "outputs.jsonl", MODELS[:3], 3)
    with arena_server(db, [outputs], log_dir=tmp_path, args=["--rate-limit", "0"]) as server:  # the default
        token = server.invite("quiet")
        g = Guesser(random.Random(1))
        assert g.play(server, token, 50)
        n = server.request("GET", "/healthz")[1]["votes"]
    assert n == 9 and g.total == 0  # 3 pairs x 3 prompts, all judged blind

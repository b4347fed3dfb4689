"""Unit tests of the arena's pieces without a server: migrations, Store, sampling, identity filter, security."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from referee.arena import db
from referee.arena.identity import leak_pattern, names_model
from referee.arena.migrations import LATEST, current_version, migrate
from referee.arena.sampling import Sampler, Seen
from referee.arena.security import MAX_AGE, RateLimiter, Session, Sessions
from referee.arena.store import Catalogue, Store, hash_token, pair_key
from referee.errors import InputError


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def outputs(models: list[str], prompts: int, text: str = "answer {m} {i}") -> pd.DataFrame:
    rows = [{"prompt_id": f"q{i}", "prompt": f"Question {i}?", "model": m, "response": text.format(m=m, i=i)}
            for m in models for i in range(prompts)]
    return pd.DataFrame(rows)


def columns(engine: sa.Engine) -> dict[str, dict[str, bool]]:
    """Table -> column -> nullable, for the tables of db.metadata, as the database reports them."""
    insp = sa.inspect(engine)
    return {t: {c["name"]: bool(c["nullable"]) for c in insp.get_columns(t)} for t in db.metadata.tables}


def expected_columns() -> dict[str, dict[str, bool]]:
    return {name: {c.name: bool(c.nullable) for c in t.columns} for name, t in db.metadata.tables.items()}


# -- migrations (SQLite, and a real PostgreSQL where one is installed) ---------------------------
_db_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return url_of(tmp_path / "arena.db")
    url: str = request.getfixturevalue("pg_url")
    name = f"mig_{next(_db_names)}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def test_fresh_database_migrates_to_latest(fresh_url: str) -> None:
    engine = db.create_engine(fresh_url)
    try:
        assert current_version(engine) == 0
        assert migrate(engine) == list(range(1, LATEST + 1))
        assert current_version(engine) == LATEST
        assert migrate(engine) == []  # idempotent
        assert columns(engine) == expected_columns()
        indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("battles")}
        assert "ix_battles_annotator" in indexes
    finally:
        engine.dispose()


def test_v1_database_with_data_upgrades_in_place(fresh_url: str) -> None:
    engine = db.create_engine(fresh_url)
    try:
        assert migrate(engine, target=1) == [1]
        assert current_version(engine) == 1
        assert "names_model" not in {c["name"] for c in sa.inspect(engine).get_columns("responses")}
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO models (id, name) VALUES (1, 'm1'), (2, 'm2')"))
            c.execute(sa.text("INSERT INTO prompts (id, prompt_key, text) VALUES (1, 'q1', 'What?')"))
            c.execute(sa.text("INSERT INTO responses (prompt_id, model_id, text) VALUES (1, 1, 'a'), (1, 2, 'b')"))
            c.execute(sa.text("INSERT INTO annotators (id, name, token_hash, created_at) VALUES (1, 'ann', 'h', 1.0)"))
            c.execute(sa.text(
                "INSERT INTO battles (id, public_id, annotator_id, prompt_id, model_a_id, model_b_id, pair_key, created_at)"
                " VALUES (1, 'pub1', 1, 1, 2, 1, '1:2', 2.0)"
            ))
            c.execute(sa.text("INSERT INTO votes (battle_id, winner, tstamp) VALUES (1, 'model_a', 3.0)"))
            secret_before = c.execute(sa.text("SELECT value FROM arena_meta WHERE key = 'secret'")).scalar()
    finally:
        engine.dispose()

    store = Store(fresh_url)  # opening migrates
    try:
        assert current_version(store.engine) == LATEST
        assert columns(store.engine) == expected_columns()
        assert store.secret == bytes.fromhex(secret_before)
        cat = store.catalogue()
        assert cat.models == {1: "m1", 2: "m2"}
        assert cat.responses[(1, 1)] == (cat.responses[(1, 1)][0], "a", False)
        assert store.vote_rows() == [("pub1", "ann", 1, 2, 1, "model_a", 3.0)]
        assert store.annotator_history(1) == ({(1, "1:2")}, None)
        with store.engine.connect() as c:
            versions = [tuple(r) for r in c.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))]
        assert versions == [(v,) for v in range(1, LATEST + 1)]
    finally:
        store.close()


def test_newer_database_is_refused(fresh_url: str) -> None:
    Store(fresh_url).close()
    engine = db.create_engine(fresh_url)
    try:
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO schema_version VALUES (:v, 'from the future', 0)"), {"v": LATEST + 1})
        with pytest.raises(InputError, match="newer"):
            migrate(engine)
    finally:
        engine.dispose()
    with pytest.raises(InputError, match="upgrade referee"):
        Store(fresh_url)


def test_foreign_tables_are_not_taken_for_an_arena(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY)")
    with pytest.raises(InputError, match="not a referee arena"):
        Store(url_of(tmp_path / "other.db"))


# -- Store -----------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(url_of(tmp_path / "arena.db"))
    yield s  # type: ignore[misc]
    s.close()


def test_import_votes_pairs_each_vote_with_its_battle(fresh_url: str) -> None:
    """Bulk import (migrations, benchmarks) on both backends: each winner lands on its own battle."""
    store = Store(fresh_url)
    try:
        store.load_outputs(outputs(["m1", "m2", "m3"], 3))
        aid = store.annotator_by_token(store.invite("bulk"))[0]  # type: ignore[index]
        winners = ["model_a", "model_b", "tie", "tie (bothbad)", "model_a", "model_b"]
        combos = [(p, a, b) for p in (1, 2) for a, b in ((1, 2), (3, 1), (2, 3))]
        rows = [{"annotator_id": aid, "prompt_id": p, "model_a": a, "model_b": b, "winner": w, "tstamp": 100.0 + i}
                for i, ((p, a, b), w) in enumerate(zip(combos, winners, strict=True))]
        assert store.import_votes(rows) == 6 and store.import_votes([]) == 0
        got = sorted((p, a, b, w, t) for _, _, p, a, b, w, t in store.vote_rows())
        assert got == sorted((r["prompt_id"], r["model_a"], r["model_b"], r["winner"], r["tstamp"]) for r in rows)
    finally:
        store.close()


def test_load_outputs_is_idempotent(store: Store) -> None:
    df = outputs(["m1", "m2", "m3"], 4)
    assert store.load_outputs(df) == {"models": 3, "prompts": 4, "responses": 12}
    before = store.catalogue()
    assert store.load_outputs(df) == {"models": 0, "prompts": 0, "responses": 0}
    assert store.catalogue() == before
    more = outputs(["m1", "m4"], 5)  # one new model, one new prompt: only those are added
    assert store.load_outputs(more) == {"models": 1, "prompts": 1, "responses": 6}
    cat = store.catalogue()
    assert sorted(cat.models.values()) == ["m1", "m2", "m3", "m4"] and len(cat.responses) == 18


def test_changed_response_text_is_refused(store: Store) -> None:
    store.load_outputs(outputs(["m1", "m2"], 2))
    changed = outputs(["m1", "m2"], 2)
    changed.loc[3, "response"] = "a different answer"
    with pytest.raises(InputError, match="differs"):
        store.load_outputs(changed)
    assert store.catalogue().responses[(2, 2)][1] == "answer m2 1"  # nothing was written


def test_load_outputs_flags_responses_naming_a_model(store: Store) -> None:
    df = outputs(["zephyr-7b", "m2"], 2, text="an ordinary answer to question {i}")
    df.loc[0, "response"] = "As ChatGPT, developed by OpenAI, I can't."
    df.loc[2, "response"] = "I am Zephyr, happy to help."
    store.load_outputs(df)
    flags = {(p, m): f for (p, m), (_, _, f) in store.catalogue().responses.items()}
    assert sorted(flags.values()) == [False, False, True, True]


def test_invite_and_tokens(store: Store, tmp_path: Path) -> None:
    token = store.invite("alice")
    assert token.startswith("rfa_")
    with pytest.raises(InputError, match="already exists"):
        store.invite("alice")
    with pytest.raises(InputError, match="already exists"):
        store.invite("  alice ")
    with pytest.raises(InputError):
        store.invite("   ")
    _, name = store.annotator_by_token(token)  # type: ignore[misc]
    assert name == "alice" and store.annotator_by_token(token + "x") is None
    with store.engine.connect() as c:
        rows = [tuple(r) for r in c.execute(sa.select(db.annotators))]
    assert len(rows) == 1 and hash_token(token) in rows[0]
    assert not any(token in str(v) for v in rows[0])
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("arena.db*"))
    assert token.encode() not in raw  # only the hash is stored, in the database file or its WAL


def test_battles_and_votes(store: Store) -> None:
    store.load_outputs(outputs(["m1", "m2"], 1))
    aid = store.annotator_by_token(store.invite("bob"))[0]  # type: ignore[index]
    other = store.annotator_by_token(store.invite("carol"))[0]  # type: ignore[index]
    b = store.insert_battle(aid, 1, 2, 1)
    assert b is not None and (b.model_a, b.model_b) == (2, 1)
    assert store.insert_battle(aid, 1, 1, 2) is None  # the same prompt and pair, either order
    assert store.annotator_history(aid) == ({(1, pair_key(1, 2))}, b)
    assert store.record_vote(b.public_id, other, "tie")[0] == "unknown"
    assert store.record_vote("nope", aid, "tie")[0] == "unknown"
    status, voted = store.record_vote(b.public_id, aid, "model_b")
    assert status == "ok" and voted is not None and voted.winner == "model_b"
    assert store.record_vote(b.public_id, aid, "tie")[0] == "duplicate"
    assert store.vote_rows()[0][5] == "model_b" and store.vote_count() == 1
    assert store.pair_counts() == {"1:2": 1}
    assert store.annotator_history(aid) == ({(1, "1:2")}, None)


def test_degenerate_style_fit_does_not_block_the_leaderboard(store: Store) -> None:
    """Two votes, each model winning once as A: the style fit has no covariance; the plain board still updates."""
    import json

    from referee.arena.board import fit_boards, style_counts

    df = outputs(["m1", "m2"], 2)
    df["response"] = ["word " * 40, "word " * 40, "word " * 30, "word " * 35]  # m1 long, m2 shorter
    store.load_outputs(df)
    aid = store.annotator_by_token(store.invite("dora"))[0]  # type: ignore[index]
    for prompt, (a, b) in ((1, (1, 2)), (2, (2, 1))):
        battle = store.insert_battle(aid, prompt, a, b)
        assert battle is not None and store.record_vote(battle.public_id, aid, "model_a")[0] == "ok"
    cat = store.catalogue()
    n, cache, ratings, _ = fit_boards(store, cat, style_counts(cat), False)
    assert n == 2
    plain, styled = json.loads(cache[False]), json.loads(cache[True])
    assert {r["model"] for r in plain["models"]} == {"m1", "m2"} and set(ratings) == {"m1", "m2"}
    assert styled["meta"]["n_comparisons"] == 2 and styled["meta"]["style_control"] is True
    assert styled["models"] or "not enough votes" in styled["meta"]["note"]


# -- sampling --------------------------------------------------------------------------------------
def catalogue(n_models: int, n_prompts: int, hidden: frozenset[int] = frozenset()) -> Catalogue:
    models = {i: f"m{i}" for i in range(1, n_models + 1)}
    prompts = {p: (f"q{p}", f"prompt {p}", None) for p in range(1, n_prompts + 1)}
    rid = iter(range(1, 10**6))
    responses = {(p, m): (next(rid), f"r{p}{m}", False) for p in prompts for m in models}
    return Catalogue(models, hidden, prompts, responses)


def pick_pairs(sampler: Sampler, n: int) -> Counter[str]:
    got: Counter[str] = Counter()
    for _ in range(n):
        pick = sampler.pick(Seen())
        assert pick is not None
        got[pair_key(pick[1], pick[2])] += 1
    return got


def test_uniform_sampling_is_uniform_over_pairs() -> None:
    sampler = Sampler(catalogue(4, 50), "uniform", seed=7)
    n = 2000
    counts = Counter[str]()
    first = 0
    prompts: Counter[int] = Counter()
    for _ in range(n):
        p, a, b = sampler.pick(Seen())  # type: ignore[misc]
        counts[pair_key(a, b)] += 1
        first += a < b
        prompts[p] += 1
    assert len(counts) == 6
    expected = n / 6
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 40, counts  # 5 degrees of freedom: P(chi2 > 40) ~ 1e-7
    assert abs(first - n / 2) < 5 * math.sqrt(n / 4)  # sides: a fair coin
    assert len(prompts) == 50


def test_hidden_models_are_never_sampled() -> None:
    sampler = Sampler(catalogue(4, 5, hidden=frozenset({2})), "uniform", seed=1)
    assert all("2" not in k.split(":") for k in pick_pairs(sampler, 300))


def test_balanced_prefers_pairs_with_fewer_votes() -> None:
    sampler = Sampler(catalogue(4, 50), "balanced", seed=3)
    sampler.set_counts({"1:2": 20, "1:3": 3})
    got = pick_pairs(sampler, 1000)  # counts are not updated by picks: only the four unsampled pairs
    assert got["1:2"] == got["1:3"] == 0
    assert min(got[k] for k in ("1:4", "2:3", "2:4", "3:4")) > 150
    sampler.count("1:4")
    assert sampler.counts["1:4"] == 1


def test_active_prefers_the_most_uncertain_pair() -> None:
    sampler = Sampler(catalogue(3, 50), "active", seed=5)
    # 1 and 2: close ratings, wide intervals; 3: far below with a tight interval
    sampler.set_fit({1: (1000.0, 80.0), 2: (1010.0, 80.0), 3: (400.0, 10.0)})
    assert max(sampler.uncertainty, key=sampler.uncertainty.get) == "1:2"  # type: ignore[arg-type]
    got = pick_pairs(sampler, 600)
    assert got.most_common(1)[0][0] == "1:2" and got["1:2"] > 0.8 * 600


def test_active_without_a_fit_samples_everything() -> None:
    sampler = Sampler(catalogue(3, 10), "active", seed=5)
    assert set(pick_pairs(sampler, 200)) == {"1:2", "1:3", "2:3"}


def test_exhaustion_returns_none() -> None:
    for strategy in ("uniform", "balanced", "active"):
        sampler = Sampler(catalogue(3, 2), strategy, seed=11)
        seen = Seen()
        picked = set()
        for _ in range(6):
            pick = sampler.pick(seen)
            assert pick is not None
            p, a, b = pick
            key = (p, pair_key(a, b))
            assert key not in seen.battles
            seen.battles.add(key)
            picked.add(key)
        assert len(picked) == 6
        assert sampler.pick(seen) is None
        assert seen.exhausted == {"1:2", "1:3", "2:3"}


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="sampling"):
        Sampler(catalogue(2, 1), "random")


# -- identity filter -------------------------------------------------------------------------------
def test_leak_pattern() -> None:
    pattern = leak_pattern(["zephyr-7b-beta", "mod-x"])
    assert names_model("As ChatGPT, developed by OpenAI, I cannot browse.", pattern)
    assert names_model("I'm Claude.", pattern)
    assert names_model("Hello! I am Zephyr, a helpful assistant.", pattern)  # a contestant's own name
    assert names_model("This is zephyr-7b-beta speaking", pattern)
    for text in ("The weather is mild today; a model of the solar system helps.",
                 "Use the beta release of the turbo instruct pipeline.",
                 "Zephyrs are gentle winds.", "openair festival", ""):
        assert not names_model(text, pattern), text


# -- security --------------------------------------------------------------------------------------
def test_sessions_reject_forged_and_tampered_cookies() -> None:
    import base64
    import hashlib
    import hmac

    from itsdangerous import URLSafeTimedSerializer

    secret, other = b"s" * 32, b"t" * 32
    sessions = Sessions(secret)
    session, cookie = sessions.new("annotator", 42)
    assert sessions.read(cookie) == session and session.subject == 42 and session.role == "annotator"
    assert Sessions(other).read(cookie) is None  # signed under another secret
    payload, stamp, sig = cookie.split(".")
    tampered = base64.urlsafe_b64encode(json.dumps(["admin", 42, session.nonce]).encode()).rstrip(b"=").decode()
    assert sessions.read(".".join([tampered, stamp, sig])) is None  # a payload with another role
    assert sessions.read(".".join([payload, stamp, sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")])) is None
    for bad in (None, "", "a.b.c", "x" * 100, cookie + ".extra", "\u00e9t\u00e9.x.y", "...."):
        assert sessions.read(bad) is None, bad
    _, forged = Sessions(other).new("admin", 0)
    assert sessions.read(forged) is None
    # validly signed, but not a session: wrong shape, unknown role, a bool or str subject, empty nonce
    same = URLSafeTimedSerializer(secret, salt="referee-arena-session", signer_kwargs={"digest_method": hashlib.sha256})
    for data in (["annotator", 1], ["root", 1, "n"], ["annotator", True, "n"], ["annotator", "1", "n"],
                 ["annotator", 1, ""], {"role": "admin"}, "admin", None):
        assert sessions.read(same.dumps(data)) is None, data
    assert sessions.read(same.dumps(["admin", 0, "n"])) == Session("admin", 0, "n")
    # expiry: valid up to MAX_AGE seconds after issue, not after
    now = time.time()
    assert sessions.read(cookie, now=now + MAX_AGE - 60) == session
    assert sessions.read(cookie, now=now + MAX_AGE + 60) is None
    # a cookie of the earlier hand-written scheme (role.subject.issued.nonce.HMAC) no longer validates
    old = f"annotator.42.{int(now)}.{session.nonce}"
    mac = base64.urlsafe_b64encode(hmac.new(secret, old.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    assert sessions.read(old + "." + mac) is None


def test_csrf_token() -> None:
    secret = b"k" * 32
    sessions = Sessions(secret)
    session, cookie = sessions.new("annotator", 1)
    token = sessions.csrf(session)
    assert sessions.check_csrf(session, token)
    assert not sessions.check_csrf(session, None)
    assert not sessions.check_csrf(session, "")
    assert not sessions.check_csrf(session, token[:-1])
    assert not sessions.check_csrf(session, cookie)  # the cookie itself is not a CSRF token (another salt)
    assert not Sessions(b"j" * 32).check_csrf(session, token)
    assert not sessions.check_csrf(Session("annotator", 1, "other-nonce"), token)
    assert sessions.check_csrf(session, token, now=time.time() + MAX_AGE - 60)
    assert not sessions.check_csrf(session, token, now=time.time() + MAX_AGE + 60)


def test_vote_body_winners_are_the_schema_winners() -> None:
    from typing import get_args

    from referee.arena.bodies import Winner
    from referee.schema import WINNERS

    assert get_args(Winner) == WINNERS


def test_rate_limiter_with_explicit_clock() -> None:
    rl = RateLimiter(1.0)  # 1/s, bursts of 5
    assert [rl.allow("a", now=100.0) for _ in range(5)] == [0.0] * 5
    wait = rl.allow("a", now=100.0)
    assert wait == pytest.approx(1.0)
    assert rl.allow("b", now=100.0) == 0.0  # per key
    assert rl.allow("a", now=100.5) == pytest.approx(0.5)
    assert rl.allow("a", now=101.0) == 0.0
    assert rl.allow("a", now=101.0) > 0
    assert [rl.allow("a", now=1000.0) for _ in range(5)] == [0.0] * 5  # refills up to the burst only
    assert rl.allow("a", now=1000.0) > 0

    fast = RateLimiter(10.0)
    assert fast.burst == 20
    assert all(fast.allow(1, now=0.0) == 0.0 for _ in range(20)) and fast.allow(1, now=0.0) == pytest.approx(0.1)
    off = RateLimiter(0)
    assert all(off.allow(1, now=0.0) == 0.0 for _ in range(1000))

"""The throw-away PostgreSQL server helper (tests/pg_server.py) really serves SQL, to psycopg and SQLAlchemy."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pg_server import postgres_available, postgres_server

_REASON = postgres_available()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"{_REASON} (`make test` installs postgresql)")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """One server for this module's tests."""
    with postgres_server("arena") as url:
        yield url


def test_url_is_loopback(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    assert parts.scheme == "postgresql"
    assert parts.hostname == "127.0.0.1"
    assert parts.username == "postgres"
    assert parts.port and parts.port > 0
    assert parts.path == "/arena"


def test_psycopg_roundtrip(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("arena",)
        conn.execute("CREATE TABLE votes (id serial PRIMARY KEY, model_a text, model_b text, winner text)")
        conn.cursor().executemany(
            "INSERT INTO votes (model_a, model_b, winner) VALUES (%s, %s, %s)",
            [("a", "b", "model_a"), ("b", "c", "tie"), ("a", "c", "model_b"), ("ünï", "cödé", "model_a")],
        )
        conn.commit()
    with psycopg.connect(pg_url) as conn:  # a fresh connection sees the committed rows
        rows = conn.execute("SELECT model_a, model_b, winner FROM votes ORDER BY id").fetchall()
        assert rows[0] == ("a", "b", "model_a")
        assert rows[-1] == ("ünï", "cödé", "model_a")
        assert conn.execute("SELECT count(*) FROM votes WHERE winner = 'model_a'").fetchone() == (2,)
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_sqlalchemy_connects(pg_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        meta = sa.MetaData()
        scores = sa.Table(
            "scores", meta, sa.Column("model", sa.String, primary_key=True), sa.Column("elo", sa.Float)
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.insert(scores), [{"model": "a", "elo": 1012.5}, {"model": "b", "elo": 987.5}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(scores.c.elo))).scalar_one() == pytest.approx(2000.0)
            assert conn.execute(sa.text("SELECT version()")).scalar_one().startswith("PostgreSQL")
    finally:
        engine.dispose()


def test_stopped_and_deleted_afterwards() -> None:
    """After the block the port no longer answers and the temporary directory is gone."""
    import psycopg

    with postgres_server("other") as url:
        with psycopg.connect(url) as conn:
            datadir = conn.execute("SHOW data_directory").fetchone()[0]
        port = urlsplit(url).port
        assert Path(datadir).is_dir()
    assert not Path(datadir).exists()
    assert not Path(datadir).parent.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_stopped_on_exception() -> None:
    """An exception inside the block still stops the server and deletes its files."""
    with pytest.raises(ZeroDivisionError), postgres_server() as url:
        port = urlsplit(url).port
        1 / 0  # noqa: B018
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0

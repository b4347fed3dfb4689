"""Database access for the arena: URL handling, engine set-up and the current schema.

SQLite (the embedded default) runs in WAL mode: readers never block the writer, and a
commit is on disk in the WAL before the vote is acknowledged.  ``synchronous=NORMAL``
(the default here) survives a crash or SIGKILL of the server; ``synchronous=FULL`` also
survives power loss (``--sqlite-sync full``).  PostgreSQL is reached with psycopg 3.

The tables below describe the *latest* schema version; :mod:`referee.arena.migrations`
creates and upgrades a database to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from referee.errors import InputError

metadata = sa.MetaData()

meta_kv = sa.Table(
    "arena_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
)

prompts = sa.Table(
    "prompts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("prompt_key", sa.Text, nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("category", sa.Text),
)

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id"), nullable=False),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("names_model", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("prompt_id", "model_id", name="uq_response_prompt_model"),
)

annotators = sa.Table(
    "annotators",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

battles = sa.Table(
    "battles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(32), nullable=False, unique=True),
    sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotators.id"), nullable=False),
    sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id"), nullable=False),
    sa.Column("model_a_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("model_b_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("pair_key", sa.String(40), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # an annotator never gets the same (prompt, model pair) twice, whatever the shown order
    sa.UniqueConstraint("annotator_id", "prompt_id", "pair_key", name="uq_battle_annotator_prompt_pair"),
    sa.Index("ix_battles_annotator", "annotator_id"),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("battle_id", sa.Integer, sa.ForeignKey("battles.id"), nullable=False, unique=True),
    sa.Column("winner", sa.String(16), nullable=False),
    sa.Column("tstamp", sa.Float, nullable=False),
)

#: Live page sessions (schema version 3): one row per session cookie, keyed by the SHA-256 of
#: its nonce; ``subject`` is the annotator id (0 for the admin), ``admin_key`` the fingerprint of
#: the admin token an admin session was opened with.  Logout deletes the row, revoking an
#: annotator deletes theirs, and an admin row whose key is not the current token's is dead.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("subject", sa.Integer, nullable=False),
    sa.Column("admin_key", sa.String(64)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_sessions_subject", "role", "subject"),
    sa.Index("ix_sessions_expires", "expires_at"),
)


def normalise_url(url: str) -> str:
    """Accept ``sqlite:///file.db``, a bare path, and ``postgresql://`` (mapped to psycopg 3)."""
    text = str(url).strip()
    if "://" not in text:
        text = f"sqlite:///{text}"
    try:
        parsed = make_url(text)
    except Exception as e:  # sqlalchemy.exc.ArgumentError and friends
        raise InputError(f"not a database URL: {url!r} ({e})", field="db") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise InputError(f"unsupported database {parsed.drivername!r}: use sqlite:///FILE or postgresql://...", field="db")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, *, sqlite_sync: str = "normal", pool_size: int = 8) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, a busy timeout and foreign keys."""
    full = normalise_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_sync not in ("normal", "full"):
            raise InputError(f"`sqlite_sync` must be normal or full, not {sqlite_sync!r}", field="sqlite_sync")
        if parsed.database in (None, "", ":memory:"):
            raise InputError("the arena needs a database file: sqlite:///arena.db", field="db")
        engine = sa.create_engine(full, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_sync.upper()}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise InputError(
            "PostgreSQL needs the psycopg driver: pip install 'referee[postgres]'", field="db"
        ) from None
    return sa.create_engine(full, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)

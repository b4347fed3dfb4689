"""Versioned schema migrations for the arena database.

Each migration is a function ``(connection) -> None`` with a version number and a
description; ``schema_version`` records what has been applied.  ``migrate`` applies the
missing ones in order, each in its own transaction, so a database written by an older
referee is upgraded in place on ``referee arena serve``.  A database newer than this
referee is refused rather than guessed at.  Migrations freeze the table definitions of
their own version (they never import the current ones from :mod:`referee.arena.db`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from referee.errors import InputError


def _v1_initial(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table("arena_meta", md, sa.Column("key", sa.String(64), primary_key=True), sa.Column("value", sa.Text, nullable=False))
    sa.Table(
        "models",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    sa.Table(
        "prompts",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("prompt_key", sa.Text, nullable=False, unique=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("category", sa.Text),
    )
    sa.Table(
        "responses",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id"), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.UniqueConstraint("prompt_id", "model_id", name="uq_response_prompt_model"),
    )
    sa.Table(
        "annotators",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    sa.Table(
        "battles",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(32), nullable=False, unique=True),
        sa.Column("annotator_id", sa.Integer, sa.ForeignKey("annotators.id"), nullable=False),
        sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id"), nullable=False),
        sa.Column("model_a_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("model_b_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("pair_key", sa.String(40), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("annotator_id", "prompt_id", "pair_key", name="uq_battle_annotator_prompt_pair"),
    )
    sa.Table(
        "votes",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("battle_id", sa.Integer, sa.ForeignKey("battles.id"), nullable=False, unique=True),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("tstamp", sa.Float, nullable=False),
    )
    md.create_all(conn)
    conn.execute(
        sa.text("INSERT INTO arena_meta (key, value) VALUES (:k, :v)"),
        [{"k": "secret", "v": secrets.token_hex(32)}, {"k": "created_at", "v": repr(time.time())}],
    )


def _v2_identity_flag(conn: Connection) -> None:
    """Responses that name a model (for the optional identity-leak filter)."""
    conn.execute(sa.text("ALTER TABLE responses ADD COLUMN names_model BOOLEAN NOT NULL DEFAULT FALSE"))
    conn.execute(sa.text("CREATE INDEX ix_battles_annotator ON battles (annotator_id)"))


def _v3_sessions(conn: Connection) -> None:
    """Server-side session records, so that logout, revocation and a new admin token end sessions.

    Cookies issued before this version have no record: their holders log in again once.
    """
    md = sa.MetaData()
    sa.Table(
        "sessions",
        md,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject", sa.Integer, nullable=False),
        sa.Column("admin_key", sa.String(64)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Index("ix_sessions_subject", "role", "subject"),
        sa.Index("ix_sessions_expires", "expires_at"),
    )
    md.create_all(conn)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _v1_initial),
    (2, "responses.names_model + battles(annotator_id) index", _v2_identity_flag),
    (3, "sessions (server-side session records)", _v3_sessions),
]
LATEST = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    """The applied schema version (0 for an empty database)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_version"):
            if sa.inspect(conn).has_table("votes"):
                raise InputError("database has arena tables but no schema_version: not a referee arena", field="db")
            return 0
        v = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
        return int(v or 0)


def migrate(engine: Engine, target: int | None = None) -> list[int]:
    """Apply the missing migrations up to ``target`` (default: the latest); returns those applied."""
    target = LATEST if target is None else target
    have = current_version(engine)
    if have > LATEST:
        raise InputError(
            f"database schema version {have} is newer than this referee supports ({LATEST}): upgrade referee",
            field="db",
        )
    applied = []
    with engine.begin() as conn:
        if have == 0:
            sa.Table(
                "schema_version",
                sa.MetaData(),
                sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("description", sa.Text, nullable=False),
                sa.Column("applied_at", sa.Float, nullable=False),
            ).create(conn, checkfirst=True)
    for version, description, fn in MIGRATIONS:
        if have < version <= target:
            with engine.begin() as conn:
                fn(conn)
                conn.execute(
                    sa.text("INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :t)"),
                    {"v": version, "d": description, "t": time.time()},
                )
            applied.append(version)
    return applied

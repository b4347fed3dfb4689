"""All reads and writes of the arena database (synchronous; the server calls them in threads).

The database is the source of truth: unique constraints make a second vote on a battle
(``votes.battle_id``) and a repeated battle for an annotator (``battles(annotator_id,
prompt_id, pair_key)``) impossible even across processes.  The server keeps in-memory
caches of what it needs per request and rebuilds them from here after a restart.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from referee.arena import db
from referee.arena.identity import leak_pattern, names_model
from referee.arena.migrations import migrate
from referee.arena.names import clean_name, lookalike
from referee.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

TOKEN_PREFIX = "rfa_"
SQLITE_INSERT_BATTLE = (
    "INSERT INTO battles (public_id, annotator_id, prompt_id, model_a_id, model_b_id, pair_key, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_FIND_BATTLE = (
    "SELECT b.id, b.annotator_id, b.prompt_id, b.model_a_id, b.model_b_id, v.winner "
    "FROM battles b LEFT JOIN votes v ON v.battle_id = b.id WHERE b.public_id = ?"
)
SQLITE_INSERT_VOTE = "INSERT INTO votes (battle_id, winner, tstamp) VALUES (?, ?, ?)"


class NameTaken(InputError):
    """An annotator with that name exists already."""


def hash_token(token: str) -> str:
    """Tokens are stored only as their SHA-256 (a leaked database leaks no credentials)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def pair_key(m1: int, m2: int) -> str:
    """The unordered model pair of a battle: ``"low:high"`` model ids."""
    lo, hi = (m1, m2) if m1 < m2 else (m2, m1)
    return f"{lo}:{hi}"


@dataclass(frozen=True)
class Catalogue:
    """Everything that can be shown: models, prompts and their responses."""

    models: dict[int, str]
    hidden: frozenset[int]
    prompts: dict[int, tuple[str, str, str | None]]  # id -> (prompt_key, text, category)
    responses: dict[tuple[int, int], tuple[int, str, bool]]  # (prompt, model) -> (id, text, names_model)


@dataclass(frozen=True)
class Battle:
    id: int
    public_id: str
    annotator_id: int
    prompt_id: int
    model_a: int
    model_b: int
    winner: str | None = None


class Store:
    """The arena database: schema migrated on open."""

    def __init__(self, url: str, *, sqlite_sync: str = "normal", create: bool = True) -> None:
        self.url = url
        self.engine = db.create_engine(url, sqlite_sync=sqlite_sync)
        if create:
            migrate(self.engine)
        self._secret: bytes | None = None
        self.sqlite = db.is_sqlite(self.engine)
        self._fairy: Any = None  # SQLite: one dedicated connection for the per-request writes

    def close(self) -> None:
        if self._fairy is not None:
            self._fairy.close()
            self._fairy = None
        self.engine.dispose()

    def _sqlite_conn(self) -> Any:
        """The raw ``sqlite3`` connection behind a pooled SQLAlchemy one (pragmas applied).

        The two per-request writes (a battle, a vote) go through it with plain SQL: one
        statement or two and a COMMIT, without the pool and statement-compilation layers,
        which cost more than SQLite itself at a thousand votes a second.
        """
        if self._fairy is None:
            self._fairy = self.engine.raw_connection()
        return self._fairy.driver_connection

    # -- setup ----------------------------------------------------------------------------------
    @property
    def secret(self) -> bytes:
        """The server's signing key (cookies, CSRF), created with the database."""
        if self._secret is None:
            with self.engine.connect() as c:
                v = c.execute(sa.select(db.meta_kv.c.value).where(db.meta_kv.c.key == "secret")).scalar()
            if v is None:
                raise InputError("database has no signing secret: not a referee arena", field="db")
            self._secret = bytes.fromhex(v)
        return self._secret

    def load_outputs(self, outputs: pd.DataFrame) -> dict[str, int]:
        """Add the models, prompts and responses of an outputs table (``prompt_id, prompt, model,
        response`` and optional ``category``); already-stored rows are kept.

        A response whose text differs from the stored one for the same prompt and model is
        refused: votes already cast were about the old text.
        """
        cat = outputs["category"] if "category" in outputs.columns else None
        with self.engine.begin() as c:
            mids = dict(c.execute(sa.select(db.models.c.name, db.models.c.id)).all())
            pids = dict(c.execute(sa.select(db.prompts.c.prompt_key, db.prompts.c.id)).all())
            new_models = [m for m in dict.fromkeys(outputs["model"]) if m not in mids]
            if new_models:
                c.execute(sa.insert(db.models), [{"name": m} for m in new_models])
                mids = dict(c.execute(sa.select(db.models.c.name, db.models.c.id)).all())
            prompts: dict[str, tuple[str, str | None]] = {}
            for i, (key, text) in enumerate(zip(outputs["prompt_id"], outputs["prompt"], strict=True)):
                if key not in pids and key not in prompts:
                    prompts[key] = (text, None if cat is None or cat.iloc[i] is None else str(cat.iloc[i]))
            if prompts:
                c.execute(
                    sa.insert(db.prompts), [{"prompt_key": k, "text": t, "category": g} for k, (t, g) in prompts.items()]
                )
                pids = dict(c.execute(sa.select(db.prompts.c.prompt_key, db.prompts.c.id)).all())
            have = {
                (p, m): t
                for p, m, t in c.execute(sa.select(db.responses.c.prompt_id, db.responses.c.model_id, db.responses.c.text))
            }
            pattern = leak_pattern(mids)
            rows = []
            for key, model, text in zip(outputs["prompt_id"], outputs["model"], outputs["response"], strict=True):
                k = (pids[key], mids[model])
                if k in have:
                    if have[k] != text:
                        raise InputError(
                            f"the response of {model!r} to prompt {key!r} differs from the one already in the "
                            "database (votes were cast on the old text): use a new `db` for new outputs",
                            field="response",
                        )
                    continue
                have[k] = text
                rows.append({"prompt_id": k[0], "model_id": k[1], "text": text, "names_model": names_model(text, pattern)})
            if rows:
                c.execute(sa.insert(db.responses), rows)
        return {"models": len(new_models), "prompts": len(prompts), "responses": len(rows)}

    def catalogue(self) -> Catalogue:
        with self.engine.connect() as c:
            models = {i: n for i, n, _ in c.execute(sa.select(db.models.c.id, db.models.c.name, db.models.c.hidden))}
            hidden = frozenset(i for (i,) in c.execute(sa.select(db.models.c.id).where(db.models.c.hidden)))
            prompts = {
                i: (k, t, g)
                for i, k, t, g in c.execute(
                    sa.select(db.prompts.c.id, db.prompts.c.prompt_key, db.prompts.c.text, db.prompts.c.category)
                )
            }
            r = db.responses.c
            responses = {
                (p, m): (i, t, bool(f))
                for i, p, m, t, f in c.execute(sa.select(r.id, r.prompt_id, r.model_id, r.text, r.names_model))
            }
        return Catalogue(models, hidden, prompts, responses)

    def set_hidden(self, model: str, hidden: bool) -> None:
        with self.engine.begin() as c:
            n = c.execute(sa.update(db.models).where(db.models.c.name == model).values(hidden=hidden)).rowcount
        if not n:
            raise KeyError(model)

    # -- annotators -----------------------------------------------------------------------------
    def invite(self, name: str) -> str:
        """Create an annotator and return their token (shown once; only its hash is stored)."""
        name = clean_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        try:
            with self.engine.begin() as c:
                names = c.execute(sa.select(db.annotators.c.name)).scalars()
                if (other := lookalike(name, names)) is not None:
                    raise NameTaken(f"the annotator name {name!r} looks like the existing name {other!r}; choose another",
                                    field="name")
                c.execute(sa.insert(db.annotators).values(name=name, token_hash=hash_token(token), created_at=time.time()))
        except IntegrityError:
            raise NameTaken(f"an annotator named {name!r} already exists", field="name") from None
        return token

    def annotator_by_token(self, token: str) -> tuple[int, str] | None:
        a = db.annotators.c
        with self.engine.connect() as c:
            row = c.execute(
                sa.select(a.id, a.name).where(a.token_hash == hash_token(token), a.disabled == sa.false())
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def annotator_name(self, annotator_id: int) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(db.annotators.c.name).where(db.annotators.c.id == annotator_id)).scalar()

    def annotator_history(self, annotator_id: int) -> tuple[set[tuple[int, str]], Battle | None]:
        """The (prompt, pair) combinations an annotator was shown, and their unvoted battle if any."""
        b, v = db.battles.c, db.votes.c
        q = (
            sa.select(b.id, b.public_id, b.prompt_id, b.model_a_id, b.model_b_id, b.pair_key, v.winner)
            .select_from(db.battles.outerjoin(db.votes, db.votes.c.battle_id == b.id))
            .where(b.annotator_id == annotator_id)
            .order_by(b.id)
        )
        seen: set[tuple[int, str]] = set()
        pending = None
        with self.engine.connect() as c:
            for bid, pub, p, ma, mb, key, winner in c.execute(q):
                seen.add((p, key))
                if winner is None:
                    pending = Battle(bid, pub, annotator_id, p, ma, mb)
        return seen, pending

    def annotator_stats(self) -> list[dict[str, Any]]:
        a, b, v = db.annotators.c, db.battles.c, db.votes.c
        q = (
            sa.select(a.name, a.created_at, sa.func.count(sa.distinct(b.id)), sa.func.count(v.id), sa.func.max(v.tstamp))
            .select_from(db.annotators.outerjoin(db.battles, b.annotator_id == a.id).outerjoin(db.votes, v.battle_id == b.id))
            .group_by(a.id, a.name, a.created_at)
            .order_by(a.name)
        )
        with self.engine.connect() as c:
            return [
                {"name": n, "created_at": t, "battles": int(nb), "votes": int(nv), "last_vote": lv}
                for n, t, nb, nv, lv in c.execute(q)
            ]

    # -- battles and votes ----------------------------------------------------------------------
    def insert_battle(self, annotator_id: int, prompt_id: int, model_a: int, model_b: int) -> Battle | None:
        """Record a battle shown to an annotator; ``None`` if they already had this prompt and pair."""
        public_id = secrets.token_urlsafe(12)
        row = {
            "public_id": public_id,
            "annotator_id": annotator_id,
            "prompt_id": prompt_id,
            "model_a_id": model_a,
            "model_b_id": model_b,
            "pair_key": pair_key(model_a, model_b),
            "created_at": time.time(),
        }
        if self.sqlite:
            import sqlite3

            con = self._sqlite_conn()
            try:
                cur = con.execute(SQLITE_INSERT_BATTLE, tuple(row.values()))
                bid = cur.lastrowid
                con.commit()
            except sqlite3.IntegrityError:
                con.rollback()
                return None
            return Battle(int(bid), public_id, annotator_id, prompt_id, model_a, model_b)
        try:
            with self.engine.begin() as c:
                bid = c.execute(sa.insert(db.battles).values(row).returning(db.battles.c.id)).scalar_one()
        except IntegrityError:
            return None
        return Battle(int(bid), public_id, annotator_id, prompt_id, model_a, model_b)

    def record_vote(self, public_id: str, annotator_id: int, winner: str) -> tuple[str, Battle | None]:
        """Commit a vote; returns ``("ok"|"unknown"|"duplicate", battle)``.

        ``unknown`` covers both a battle id that does not exist and one that belongs to
        another annotator (the two are indistinguishable to the caller, by design).
        The caller acknowledges the vote only after this returns ``ok``: it is committed.
        """
        if self.sqlite:
            return self._record_vote_sqlite(public_id, annotator_id, winner)
        b, v = db.battles.c, db.votes.c
        try:
            with self.engine.begin() as c:
                row = c.execute(
                    sa.select(b.id, b.annotator_id, b.prompt_id, b.model_a_id, b.model_b_id, v.winner)
                    .select_from(db.battles.outerjoin(db.votes, v.battle_id == b.id))
                    .where(b.public_id == public_id)
                ).first()
                if row is None or int(row[1]) != annotator_id:
                    return "unknown", None
                battle = Battle(int(row[0]), public_id, annotator_id, int(row[2]), int(row[3]), int(row[4]), row[5])
                if row[5] is not None:
                    return "duplicate", battle
                c.execute(sa.insert(db.votes).values(battle_id=battle.id, winner=winner, tstamp=time.time()))
        except IntegrityError:  # a concurrent vote on the same battle won the race
            return "duplicate", None
        return "ok", Battle(battle.id, public_id, annotator_id, battle.prompt_id, battle.model_a, battle.model_b, winner)

    def _record_vote_sqlite(self, public_id: str, annotator_id: int, winner: str) -> tuple[str, Battle | None]:
        import sqlite3

        con = self._sqlite_conn()
        try:
            row = con.execute(SQLITE_FIND_BATTLE, (public_id,)).fetchone()
            if row is None or int(row[1]) != annotator_id:
                return "unknown", None
            battle = Battle(int(row[0]), public_id, annotator_id, int(row[2]), int(row[3]), int(row[4]), row[5])
            if row[5] is not None:
                return "duplicate", battle
            con.execute(SQLITE_INSERT_VOTE, (battle.id, winner, time.time()))
            con.commit()
        except sqlite3.IntegrityError:
            con.rollback()
            return "duplicate", None
        except BaseException:
            con.rollback()
            raise
        return "ok", Battle(battle.id, public_id, annotator_id, battle.prompt_id, battle.model_a, battle.model_b, winner)

    def vote_count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(db.votes)).scalar() or 0)

    def pair_counts(self) -> dict[str, int]:
        b, v = db.battles.c, db.votes.c
        q = sa.select(b.pair_key, sa.func.count()).select_from(db.votes.join(db.battles, v.battle_id == b.id))
        with self.engine.connect() as c:
            return {k: int(n) for k, n in c.execute(q.group_by(b.pair_key))}

    def model_vote_counts(self) -> dict[int, int]:
        """Votes per model id (either side), hidden models included."""
        b, v = db.battles.c, db.votes.c
        counts: dict[int, int] = {}
        with self.engine.connect() as c:
            for col in (b.model_a_id, b.model_b_id):
                q = sa.select(col, sa.func.count()).select_from(db.votes.join(db.battles, v.battle_id == b.id))
                for mid, n in c.execute(q.group_by(col)):
                    counts[int(mid)] = counts.get(int(mid), 0) + int(n)
        return counts

    @staticmethod
    def _vote_query() -> sa.Select[Any]:
        """The votes with their battles and annotators, oldest first (the columns of :meth:`vote_rows`)."""
        a, b, v = db.annotators.c, db.battles.c, db.votes.c
        return (
            sa.select(b.public_id, a.name, b.prompt_id, b.model_a_id, b.model_b_id, v.winner, v.tstamp)
            .select_from(db.votes.join(db.battles, v.battle_id == b.id).join(db.annotators, a.id == b.annotator_id))
            .order_by(v.id)
        )

    def vote_rows(self) -> list[tuple[Any, ...]]:
        """``(battle public id, annotator name, prompt id, model a id, model b id, winner, tstamp)`` per vote."""
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(self._vote_query())]

    def iter_vote_rows(self, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`vote_rows` in lists of at most ``batch`` rows, read by one streaming query (a
        server-side cursor on PostgreSQL), so memory does not grow with the number of votes.

        The query's connection is held until the generator is exhausted or closed; one query
        is one snapshot, so an export is consistent however long it takes.
        """
        with self.engine.connect() as c:
            result = c.execution_options(stream_results=True, max_row_buffer=batch).execute(self._vote_query())
            for part in result.partitions(batch):
                yield [tuple(r) for r in part]

    # -- reveals -------------------------------------------------------------------------------------
    def reveal_horizon(self, reveal: bool) -> int | None:
        """Up to which vote id votes count as revealed (their model names shown to the voter).

        ``None``: all of them (the server reveals names now).  A server started without reveal
        records the newest vote id of the last run that revealed (a database from before the
        setting existed always revealed): those voters saw those names, and that stays true.
        """
        kv = db.meta_kv.c
        with self.engine.begin() as c:
            got = dict(c.execute(sa.select(kv.key, kv.value).where(kv.key.in_(("reveal", "revealed_upto")))).all())
            if reveal:
                if got.get("reveal") != "on":
                    self._put_meta(c, "reveal", "on")
                return None
            if got.get("reveal", "on") == "on":
                newest = c.execute(sa.select(sa.func.max(db.votes.c.id))).scalar()
                got["revealed_upto"] = str(int(newest or 0))
                self._put_meta(c, "revealed_upto", got["revealed_upto"])
                self._put_meta(c, "reveal", "off")
            return int(got.get("revealed_upto", "0"))

    @staticmethod
    def _put_meta(c: Any, key: str, value: str) -> None:
        kv = db.meta_kv
        if c.execute(sa.update(kv).where(kv.c.key == key).values(value=value)).rowcount == 0:
            c.execute(sa.insert(kv).values(key=key, value=value))

    def annotator_revealed(self, annotator_id: int, upto: int | None = None) -> list[tuple[int, int, int]]:
        """``(prompt id, model a, model b)`` of the annotator's votes whose names were revealed to them
        (vote id at most ``upto``; ``None``: every vote)."""
        b, v = db.battles.c, db.votes.c
        q = (
            sa.select(b.prompt_id, b.model_a_id, b.model_b_id)
            .select_from(db.votes.join(db.battles, v.battle_id == b.id))
            .where(b.annotator_id == annotator_id)
        )
        if upto is not None:
            q = q.where(v.id <= upto)
        with self.engine.connect() as c:
            return [(int(p), int(ma), int(mb)) for p, ma, mb in c.execute(q)]

    def import_votes(self, rows: Iterable[dict[str, Any]]) -> int:
        """Bulk-insert battles with their votes (``annotator_id, prompt_id, model_a, model_b, winner,
        tstamp``); for migrating existing votes and for benchmarks.  Returns the number inserted."""
        battles, winners = [], []
        for r in rows:
            battles.append(
                {
                    "public_id": secrets.token_urlsafe(12),
                    "annotator_id": r["annotator_id"],
                    "prompt_id": r["prompt_id"],
                    "model_a_id": r["model_a"],
                    "model_b_id": r["model_b"],
                    "pair_key": pair_key(r["model_a"], r["model_b"]),
                    "created_at": r["tstamp"],
                }
            )
            winners.append((r["winner"], r["tstamp"]))
        if not battles:
            return 0
        with self.engine.begin() as c:
            ids = c.execute(
                sa.insert(db.battles).returning(db.battles.c.id, sort_by_parameter_order=True), battles
            ).scalars().all()
            c.execute(
                sa.insert(db.votes),
                [{"battle_id": i, "winner": w, "tstamp": t} for i, (w, t) in zip(ids, winners, strict=True)],
            )
        return len(battles)

    # -- sessions and revocation (issue 16) ------------------------------------------------------
    #: Live sessions kept per annotator (and for the admin): logging in again past that ends the oldest.
    MAX_SESSIONS = 100

    def active_annotator(self, token_hash: str) -> tuple[int, str] | None:
        """``(id, name)`` of the enabled annotator whose token has this SHA-256, read now (never cached):
        a revoked token is refused from the next request on."""
        if self.sqlite:
            row = self._sqlite_conn().execute(
                "SELECT id, name FROM annotators WHERE token_hash = ? AND NOT disabled", (token_hash,)
            ).fetchone()
        else:
            a = db.annotators.c
            with self.engine.connect() as c:
                row = c.execute(sa.select(a.id, a.name).where(a.token_hash == token_hash, a.disabled == sa.false())).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def session_record(self, key: str) -> tuple[str, int, str | None, float, bool] | None:
        """``(role, subject, admin_key, expires_at, annotator disabled or gone)`` of a live session record."""
        if self.sqlite:
            row = self._sqlite_conn().execute(
                "SELECT s.role, s.subject, s.admin_key, s.expires_at, a.disabled, a.id FROM sessions s "
                "LEFT JOIN annotators a ON a.id = s.subject AND s.role = 'annotator' WHERE s.id = ?",
                (key,),
            ).fetchone()
        else:
            s, a = db.sessions.c, db.annotators.c
            q = (
                sa.select(s.role, s.subject, s.admin_key, s.expires_at, a.disabled, a.id)
                .select_from(db.sessions.outerjoin(db.annotators, sa.and_(a.id == s.subject, s.role == "annotator")))
                .where(s.id == key)
            )
            with self.engine.connect() as c:
                row = c.execute(q).first()
        if row is None:
            return None
        gone = row[0] == "annotator" and (row[5] is None or bool(row[4]))
        return str(row[0]), int(row[1]), row[2], float(row[3]), gone

    def open_session(self, key: str, role: str, subject: int, admin_key: str | None, expires_at: float) -> None:
        """Record a new session; expired records go, and so do this subject's beyond :attr:`MAX_SESSIONS`."""
        now = time.time()
        with self.engine.begin() as c:
            c.execute(sa.insert(db.sessions).values(id=key, role=role, subject=subject, admin_key=admin_key,
                                                    created_at=now, expires_at=expires_at))
            c.execute(sa.delete(db.sessions).where(db.sessions.c.expires_at < now))
            c.execute(
                sa.text(
                    "DELETE FROM sessions WHERE role = :r AND subject = :s AND id NOT IN "
                    "(SELECT id FROM sessions WHERE role = :r AND subject = :s ORDER BY created_at DESC LIMIT :n)"
                ),
                {"r": role, "s": subject, "n": self.MAX_SESSIONS},
            )

    def end_session(self, key: str) -> bool:
        """Delete one session record (logout); whether there was one."""
        with self.engine.begin() as c:
            return bool(c.execute(sa.delete(db.sessions).where(db.sessions.c.id == key)).rowcount)

    def end_admin_sessions(self, keep: str | None) -> int:
        """End every admin session not opened with the admin token of fingerprint ``keep`` (all if
        ``None``), and every expired session; returns how many admin sessions ended."""
        s = db.sessions.c
        stale = s.role == "admin" if keep is None else sa.and_(s.role == "admin", sa.or_(s.admin_key.is_(None), s.admin_key != keep))
        with self.engine.begin() as c:
            n = c.execute(sa.delete(db.sessions).where(stale)).rowcount
            c.execute(sa.delete(db.sessions).where(s.expires_at < time.time()))
        return int(n or 0)

    def revoke(self, name: str) -> int:
        """Disable the annotator called ``name`` (their token stops working) and end all their sessions,
        in one transaction; returns how many sessions ended.  ``KeyError`` if there is no such annotator."""
        a, s = db.annotators.c, db.sessions.c
        with self.engine.begin() as c:
            aid = c.execute(sa.select(a.id).where(a.name == name.strip())).scalar()
            if aid is None:
                raise KeyError(name)
            c.execute(sa.update(db.annotators).where(a.id == aid).values(disabled=True))
            n = c.execute(sa.delete(db.sessions).where(s.role == "annotator", s.subject == aid)).rowcount
        return int(n or 0)

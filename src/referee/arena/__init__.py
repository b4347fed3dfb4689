"""``referee arena``: a self-hostable human-voting arena with a live leaderboard.

``serve`` runs the web app (vote, leaderboard and admin pages plus a JSON API) over a
SQLite or PostgreSQL database; ``invite`` creates annotator tokens; ``export`` writes the
votes as the canonical comparisons table, ready for ``referee rank`` and ``referee audit``;
``revoke`` ends every session and the token of an annotator.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from referee.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["export", "invite", "revoke", "serve"]

DEFAULT_DB = "sqlite:///arena.db"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(a[4][0]).is_loopback for a in socket.getaddrinfo(host, None))
        except OSError:
            return False


def admin_token_from_env(env: str, host: str) -> str | None:
    """The admin token named by ``env``; serving beyond loopback without a strong one is refused."""
    token = os.environ.get(env) or None
    if token is not None:
        from referee.arena.security import check_admin_token

        check_admin_token(token, f"${env}")
    if token is None and not is_loopback(host):
        raise InputError(
            f"refusing to serve on {host} without an admin token: set ${env} "
            "(e.g. export REFEREE_ADMIN_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'))",
            field="host",
        )
    return token


def open_store(db: str, outputs: str | Path | Iterable[str | Path] | None = None, *, sqlite_sync: str = "normal") -> Any:
    """Open (creating and migrating) the arena database and add ``outputs`` to it."""
    from referee.arena.store import Store

    store = Store(db, sqlite_sync=sqlite_sync)
    if outputs:
        from referee.io.outputs import read_outputs

        store.load_outputs(read_outputs(outputs))
    return store


def serve(
    outputs: str | Path | Iterable[str | Path] | None = None,
    *,
    db: str = DEFAULT_DB,
    host: str = "127.0.0.1",
    port: int = 8000,
    sampling: str = "uniform",
    refresh: float = 10.0,
    rate_limit: float = 2.0,
    identity_filter: bool = False,
    admin_token_env: str = "REFEREE_ADMIN_TOKEN",
    sqlite_sync: str = "normal",
    public_leaderboard: bool = False,
    seed: int | None = None,
    title: str = "referee arena",
    reveal: bool = False,
    max_connections: int = 1000,
    header_timeout: float = 10.0,
    keep_alive: float = 5.0,
    session_hours: float = 720.0,
    public_url: str | None = None,
    log_level: str = "warning",
    ready: Any = None,
) -> None:
    """Serve the arena until interrupted.

    ``outputs`` (model outputs in any format ``referee judge`` reads) are added to ``db``;
    a restart without them resumes on what the database holds.  ``sampling`` is
    ``uniform``, ``balanced`` or ``active``; ``rate_limit`` is votes per second per
    annotator (bursts of twice that; 0 = off); ``refresh`` is how often, in seconds, the
    leaderboard is recomputed when votes arrived.  ``ready(summary)`` is called once the
    database is ready, before the server starts listening.

    ``reveal`` (off by default): a vote's answer names the two models, and that annotator is never
    shown either response again (with fixed outputs it would give its author away), so they judge at
    most ``floor(M/2)`` battles per prompt of ``M`` models; off, votes name nobody (only an admin sees
    who wrote what, in the export) and every battle stays available (:mod:`referee.arena.sampling`).
    ``max_connections`` sockets at most (the oldest idle ones are closed to make room; kept under
    the file-descriptor limit), request headers within ``header_timeout`` seconds of connecting,
    idle keep-alive connections closed after ``keep_alive`` seconds (:mod:`referee.arena.limits`).

    Page sessions last ``session_hours`` and end at logout, at :func:`revoke` and when the
    admin token changes (:mod:`referee.arena.security`).  Login links (the admin page's invites)
    are built on ``public_url`` (the address users reach the server at, e.g. behind a proxy),
    else on ``http://host:port`` -- never on a request's ``Host`` header.
    """
    from referee.arena.sampling import STRATEGIES

    if sampling not in STRATEGIES:
        raise InputError(f"`sampling` must be one of {', '.join(STRATEGIES)}, not {sampling!r}", field="sampling")
    if refresh <= 0:
        raise InputError("`refresh` must be positive", field="refresh")
    from referee.arena.security import link_base

    if not session_hours > 0:
        raise InputError("`session_hours` must be positive", field="session_hours")
    links = link_base(public_url, host, port)
    if max_connections < 16:
        raise InputError("`max_connections` must be at least 16", field="max_connections")
    if header_timeout <= 0 or keep_alive <= 0:
        raise InputError("`header_timeout` and `keep_alive` must be positive", field="header_timeout")
    token = admin_token_from_env(admin_token_env, host)
    store = open_store(db, outputs, sqlite_sync=sqlite_sync)
    cat = store.catalogue()
    if len(cat.models) < 2:
        store.close()
        raise InputError("the arena needs outputs of at least two models: pass `outputs=FILES`", field="outputs")
    import uvicorn

    from referee.arena.app import ArenaConfig, create_app

    config = ArenaConfig(
        db=db, sampling=sampling, refresh=refresh, rate_limit=rate_limit, identity_filter=identity_filter,
        admin_token=token, sqlite_sync=sqlite_sync, public_leaderboard=public_leaderboard, seed=seed, title=title,
        reveal=reveal,
    )
    app = create_app(config, store)
    from referee.arena.deps import install_guard

    install_guard(app, session_hours=session_hours, public_url=links)
    if ready is not None:
        ready(
            {"url": f"http://{host}:{port}", "models": len(cat.models), "prompts": len(cat.prompts),
             "responses": len(cat.responses), "votes": store.vote_count(), "admin": token is not None}
        )
    from referee.arena.limits import uvicorn_settings

    limits = uvicorn_settings(max_connections=max_connections, header_timeout=header_timeout, keep_alive=keep_alive)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, loop="auto",
                timeout_graceful_shutdown=5, **limits)


def invite(name: str, *, db: str = DEFAULT_DB) -> str:
    """Create an annotator called ``name`` and return their token (shown once)."""
    from referee.arena.store import Store

    _existing_db(db)
    store = Store(db)
    try:
        return store.invite(name)
    finally:
        store.close()


def revoke(name: str, *, db: str = DEFAULT_DB) -> int:
    """End every session of the annotator called ``name`` and disable their token, at once (a
    running server refuses both from its next request on); returns how many sessions ended."""
    from referee.arena.store import Store

    _existing_db(db)
    store = Store(db)
    try:
        return store.revoke(name)
    except KeyError:
        raise InputError(f"no annotator named {name.strip()!r} in this arena", field="name") from None
    finally:
        store.close()


def export(db: str = DEFAULT_DB, output: str | Path | None = None, *, identity_filter: bool = False) -> pd.DataFrame:
    """All votes as canonical comparisons (``model_a`` = the model shown as A), with ``voter``,
    ``prompt_id``, ``prompt``, ``response_a/b``, ``tstamp`` and ``battle_id``; written to
    ``output`` (``.jsonl``, ``.csv``, ``.parquet``…) when given (in a CSV file, text cells that a
    spreadsheet would run as a formula get a leading ``'``: :func:`referee.arena.board.neutralise`)."""
    from referee.arena.board import votes_frame
    from referee.arena.store import Store

    _existing_db(db)
    store = Store(db)
    try:
        frame = votes_frame(store.vote_rows(), store.catalogue(), texts=True, identity_filter=identity_filter)
    finally:
        store.close()
    if output is not None:
        from referee.arena.board import neutralise_frame
        from referee.io.source import inner_suffix
        from referee.io.write import write

        write(neutralise_frame(frame) if inner_suffix(Path(output)) == ".csv" else frame, output)  # no CSV formulas
    return frame


def _existing_db(db: str) -> None:
    """Refuse a SQLite URL whose file does not exist: only ``serve`` creates the database, so a
    typo in ``invite`` / ``export`` does not make a new, empty one."""
    from referee.arena.db import sqlite_path

    path = sqlite_path(db)
    if path is not None and not path.exists():
        raise InputError("no arena database here: `referee arena serve --outputs ...` creates it", path=str(path), field="db")

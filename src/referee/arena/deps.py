"""FastAPI dependencies of the arena's routes: the state, who is calling, CSRF and rate limits.

A caller is identified by ``Authorization: Bearer <token>`` (an invite token or the admin
token) or by the signed session cookie of :mod:`referee.arena.security`.  Both are checked
against the database on every request, never a cache: a bearer token must belong to an
enabled annotator, and a cookie's session record must exist, be unexpired, belong to an
enabled annotator or, for the admin, have been opened with the current admin token -- so
logout, ``referee arena revoke`` (from any process) and a new admin token take effect on the
very next request.  Wrong tokens are counted by the :class:`~referee.arena.security.LoginThrottle`
(429 while a client address or token prefix is over its limit).  A state-changing request made
with the cookie must also carry the session's CSRF token in ``X-CSRF-Token``; one made with a
bearer token needs none (browsers never attach that header on their own).  Annotators are
rate-limited per annotator (token buckets, :class:`~referee.arena.security.RateLimiter`).

Each route names what it needs in its signature, e.g. ``who: Voter`` (an annotator, CSRF
checked, within the vote rate limit).  A :class:`Caller` also carries the :class:`Arena`, so
that a route needs one dependency, not two: FastAPI spends some 15 µs solving each
dependency of each request, which on the vote path is more than the rest of the routing.
Every dependency is ``async`` so that none costs a hop to the thread pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, FastAPI, Request

from referee.arena.http import ApiError
from referee.arena.security import COOKIE, SESSION_HOURS, Guard, RateLimiter, Session, session_key
from referee.arena.state import Arena
from referee.arena.store import hash_token

BEARER = {"WWW-Authenticate": "Bearer"}


def arena_of(request: Request) -> Arena:
    """The app's :class:`Arena` (set by :func:`referee.arena.app.create_app`)."""
    return cast(Arena, request.app.state.arena)


async def get_arena(request: Request) -> Arena:
    """The app's :class:`Arena`, as a dependency."""
    return arena_of(request)


ArenaDep = Annotated[Arena, Depends(get_arena)]


def guard_of(request: Request) -> Guard:
    """The app's :class:`Guard` (set by :func:`install_guard`; an app built without it gets the defaults)."""
    state = request.app.state
    guard = getattr(state, "guard", None)
    if guard is None:
        arena = arena_of(request)
        guard = state.guard = Guard.build(arena.store.secret, arena.config.admin_token)
    return cast(Guard, guard)


def install_guard(app: FastAPI, *, session_hours: float = SESSION_HOURS, public_url: str | None = None) -> Guard:
    """Give ``app`` its :class:`Guard` and end the admin sessions of any other admin token (so a
    rotated token's sessions stay ended even if it comes back) and every expired session."""
    arena: Arena = app.state.arena
    guard = app.state.guard = Guard.build(arena.store.secret, arena.config.admin_token,
                                          session_hours=session_hours, public_url=public_url)
    arena.store.end_admin_sessions(guard.admin_key)
    return guard


@dataclass(frozen=True)
class Caller:
    """Who sent a request (``role`` is ``annotator`` or ``admin``; ``id`` is 0 for the admin), and the arena."""

    arena: Arena
    role: str
    id: int
    session: Session | None  # None: a bearer token


def client_address(request: Request) -> str:
    """The client's address as uvicorn reports it (behind a proxy on this host: its ``X-Forwarded-For``)."""
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request, arena: Arena, token: str) -> tuple[str, int, str]:
    """``(role, annotator id, name)`` for a token: 429 while the client or the token's prefix is
    throttled, 401 (counted as a failed login) when the token is not valid now."""
    guard = guard_of(request)
    address = client_address(request)
    wait = guard.throttle.wait(address, token)
    if wait > 0:
        raise ApiError(429, "too many failed logins: try again later", {"Retry-After": str(max(1, round(wait)))})
    if guard.is_admin_token(token):
        return "admin", 0, "admin"
    try:
        found = await arena.quick(arena.store.active_annotator, hash_token(token))
    except UnicodeError:  # a lone surrogate: no token has one
        found = None
    if found is None:
        guard.throttle.failed(address, token)
        raise ApiError(401, "invalid token", BEARER)
    return "annotator", found[0], found[1]


async def live_session(request: Request, arena: Arena) -> Session | None:
    """The session of the request's cookie if it is validly signed and its record is alive now."""
    guard = guard_of(request)
    session = guard.sessions.read(request.cookies.get(COOKIE))
    if session is None:
        return None
    record = await arena.quick(arena.store.session_record, session_key(session.nonce))
    if record is None:
        return None
    role, subject, admin_key, expires_at, gone = record
    if role != session.role or subject != session.subject or expires_at < time.time() or gone:
        return None
    if role == "admin" and (guard.admin_key is None or admin_key != guard.admin_key):
        return None
    return session


async def open_session(request: Request, arena: Arena, role: str, aid: int) -> str:
    """Record a new session of ``role``/``aid``; its cookie value."""
    guard = guard_of(request)
    session, cookie = guard.sessions.new(role, aid)
    admin_key = guard.admin_key if role == "admin" else None
    expires = time.time() + guard.session_seconds
    await arena.quick(arena.store.open_session, session_key(session.nonce), role, aid, admin_key, expires)
    return cookie


async def identify(request: Request, arena: Arena, *, writes: bool) -> Caller:
    """The caller of ``request`` (401 if none), its CSRF token checked when it ``writes`` with a cookie (403)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "use 'Authorization: Bearer <token>'", BEARER)
        role, aid, _ = await authenticate(request, arena, token.strip())
        return Caller(arena, role, aid, None)
    session = await live_session(request, arena)
    if session is None:
        raise ApiError(401, "not logged in: open an invite link or send 'Authorization: Bearer <token>'")
    if writes and not guard_of(request).sessions.check_csrf(session, request.headers.get("x-csrf-token")):
        raise ApiError(403, "missing or wrong X-CSRF-Token header")
    return Caller(arena, session.role, session.subject, session)


def limit(limiter: RateLimiter, who: Caller) -> None:
    """429 with ``Retry-After`` when ``who`` is over ``limiter``'s rate."""
    wait = limiter.allow(who.id)
    if wait > 0:
        raise ApiError(429, "too many requests: slow down", {"Retry-After": str(max(1, round(wait)))})


# -- annotators ---------------------------------------------------------------------------------
async def _annotator(request: Request, *, writes: bool, what: str, limiter: Callable[[Arena], RateLimiter]) -> Caller:
    """An annotator (``writes``: CSRF checked for cookies) within ``limiter``'s rate; 403 for anyone else."""
    who = await identify(request, arena_of(request), writes=writes)
    if who.role != "annotator":
        raise ApiError(403, f"{what} are for annotators: log in with an invite token")
    limit(limiter(who.arena), who)
    return who


async def battle_taker(request: Request) -> Caller:
    """An annotator asking for a battle, within the battle rate limit (twice the vote rate)."""
    return await _annotator(request, writes=False, what="battles", limiter=lambda a: a.battle_limit)


async def voter(request: Request) -> Caller:
    """An annotator casting a vote (CSRF checked for cookies), within the vote rate limit."""
    return await _annotator(request, writes=True, what="votes", limiter=lambda a: a.vote_limit)


async def board_reader(request: Request) -> Arena:
    """The arena, for anyone logged in, or anyone at all with ``--public-leaderboard``."""
    arena = arena_of(request)
    if not arena.config.public_leaderboard:
        await identify(request, arena, writes=False)
    return arena


# -- admin --------------------------------------------------------------------------------------
async def _admin(request: Request, arena: Arena, writes: bool) -> Caller:
    guard = guard_of(request)
    if guard.admin_problem:
        raise ApiError(403, f"admin is disabled: the admin token is too weak ({guard.admin_problem})")
    if guard.admin_token is None:
        raise ApiError(403, "admin is disabled: start the server with an admin token (--admin-token-env)")
    who = await identify(request, arena, writes=writes)
    if who.role != "admin":
        raise ApiError(403, "admin only")
    return who


async def admin_reader(request: Request) -> Caller:
    """The admin, reading."""
    return await _admin(request, arena_of(request), writes=False)


async def admin_writer(request: Request) -> Caller:
    """The admin, changing something (CSRF checked for cookies)."""
    return await _admin(request, arena_of(request), writes=True)


# -- pages --------------------------------------------------------------------------------------
async def page_session(request: Request) -> Session | None:
    """The live session of a page request, or ``None`` (pages redirect rather than answer 401)."""
    return await live_session(request, arena_of(request))


BattleTaker = Annotated[Caller, Depends(battle_taker)]
Voter = Annotated[Caller, Depends(voter)]
BoardArena = Annotated[Arena, Depends(board_reader)]
AdminReader = Annotated[Caller, Depends(admin_reader)]
AdminWriter = Annotated[Caller, Depends(admin_writer)]
PageSession = Annotated[Session | None, Depends(page_session)]

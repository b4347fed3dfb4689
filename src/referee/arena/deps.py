"""FastAPI dependencies of the arena's routes: the state, who is calling, CSRF and rate limits.

A caller is identified by ``Authorization: Bearer <token>`` (an invite token or the admin
token) or by the signed session cookie of :mod:`referee.arena.security`.  A state-changing
request made with the cookie must also carry the session's CSRF token in ``X-CSRF-Token``;
one made with a bearer token needs none (browsers never attach that header on their own).
Annotators are rate-limited per annotator (token buckets, :class:`~referee.arena.security.RateLimiter`).

Each route names what it needs in its signature, e.g. ``who: Voter`` (an annotator, CSRF
checked, within the vote rate limit).  A :class:`Caller` also carries the :class:`Arena`, so
that a route needs one dependency, not two: FastAPI spends some 15 µs solving each
dependency of each request, which on the vote path is more than the rest of the routing.
Every dependency is ``async`` so that none costs a hop to the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from referee.arena.http import ApiError
from referee.arena.security import COOKIE, RateLimiter, Session
from referee.arena.state import Arena

BEARER = {"WWW-Authenticate": "Bearer"}


def arena_of(request: Request) -> Arena:
    """The app's :class:`Arena` (set by :func:`referee.arena.app.create_app`)."""
    return cast(Arena, request.app.state.arena)


async def get_arena(request: Request) -> Arena:
    """The app's :class:`Arena`, as a dependency."""
    return arena_of(request)


ArenaDep = Annotated[Arena, Depends(get_arena)]


@dataclass(frozen=True)
class Caller:
    """Who sent a request (``role`` is ``annotator`` or ``admin``; ``id`` is 0 for the admin), and the arena."""

    arena: Arena
    role: str
    id: int
    session: Session | None  # None: a bearer token


async def identify(request: Request, arena: Arena, *, writes: bool) -> Caller:
    """The caller of ``request`` (401 if none), its CSRF token checked when it ``writes`` with a cookie (403)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "use 'Authorization: Bearer <token>'", BEARER)
        role, aid, _ = await arena.by_token(token.strip())
        return Caller(arena, role, aid, None)
    session = arena.sessions.read(request.cookies.get(COOKIE))
    if session is None:
        raise ApiError(401, "not logged in: open an invite link or send 'Authorization: Bearer <token>'")
    if writes and not arena.sessions.check_csrf(session, request.headers.get("x-csrf-token")):
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
    if not arena.config.admin_token:
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
    """The session of a page request, or ``None`` (pages redirect rather than answer 401)."""
    return arena_of(request).sessions.read(request.cookies.get(COOKIE))


BattleTaker = Annotated[Caller, Depends(battle_taker)]
Voter = Annotated[Caller, Depends(voter)]
BoardArena = Annotated[Arena, Depends(board_reader)]
AdminReader = Annotated[Caller, Depends(admin_reader)]
AdminWriter = Annotated[Caller, Depends(admin_writer)]
PageSession = Annotated[Session | None, Depends(page_session)]

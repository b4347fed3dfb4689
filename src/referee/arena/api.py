"""The arena's JSON API for annotators: health, battles, votes, the leaderboard, log in and out.

Errors are ``{"detail": ...}`` (see :mod:`referee.arena.http`); who may call what is in
:mod:`referee.arena.deps`; the bodies are the Pydantic models of :mod:`referee.arena.bodies`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from referee.arena.bodies import LoginBody, VoteBody
from referee.arena.deps import ArenaDep, BattleTaker, BoardArena, Voter, authenticate, guard_of, open_session
from referee.arena.http import API_HEADERS, ApiError, ApiJSON, body_schema, read_json
from referee.arena.security import COOKIE, session_key

router = APIRouter(default_response_class=ApiJSON)
EMPTY_BOARD = b'{"models": [], "meta": {}}'


def session_cookie(response: Response, request: Request, value: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure on https, whole site, for the session lifetime."""
    response.set_cookie(
        COOKIE, value, max_age=guard_of(request).session_seconds, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )


@router.get("/api/battle")
async def get_battle(who: BattleTaker, render: str | None = None) -> Response:
    """The caller's unvoted battle, or a new one; ``?render=html`` adds sanitised HTML of the texts."""
    arena = who.arena
    battle = await arena.next_battle(who.id)
    if battle is None:
        raise ApiError(404, "no battle left for you: you have judged every prompt and model pair", done=True)
    return ApiJSON(arena.battle_payload(battle, html=render == "html"))


@router.post("/api/vote", openapi_extra=body_schema(VoteBody))
async def post_vote(request: Request, who: Voter) -> Response:
    """Record the caller's verdict (a :class:`VoteBody`) on one of their battles; the answer reveals the two models."""
    body = await read_json(request, VoteBody)
    return ApiJSON(await who.arena.vote(who.id, body.battle_id, body.winner))


@router.get("/api/leaderboard")
async def get_leaderboard(arena: BoardArena, style: Literal["on", "off", "1", "0", "true", "false"] = "off") -> Response:
    """The live leaderboard (refitted every ``--refresh`` seconds when votes arrived)."""
    body = arena.board.cache.get(style in ("on", "1", "true"), EMPTY_BOARD)
    return Response(body, media_type="application/json", headers=API_HEADERS)


@router.post("/api/login", openapi_extra=body_schema(LoginBody))
async def login(request: Request, arena: ArenaDep) -> Response:
    """Exchange a token (a :class:`LoginBody`) for a session cookie (429 while failed logins are throttled)."""
    body = await read_json(request, LoginBody)
    role, aid, name = await authenticate(request, arena, body.token.strip())
    cookie = await open_session(request, arena, role, aid)
    resp = ApiJSON({"ok": True, "role": role, "name": name})
    session_cookie(resp, request, cookie)
    return resp


@router.post("/api/logout")
async def logout(request: Request, arena: ArenaDep) -> Response:
    """End the session of the cookie (its record is deleted: the same cookie is refused afterwards)
    and drop the cookie; with a session cookie, the session's ``X-CSRF-Token`` is required (403)."""
    guard = guard_of(request)
    session = guard.sessions.read(request.cookies.get(COOKIE))
    if session is not None:
        if not guard.sessions.check_csrf(session, request.headers.get("x-csrf-token")):
            raise ApiError(403, "missing or wrong X-CSRF-Token header")
        await arena.quick(arena.store.end_session, session_key(session.nonce))
    resp = ApiJSON({"ok": True})
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/healthz")
async def healthz(arena: ArenaDep) -> Response:
    """``{"ok": true, "votes": n, "models": m}``, or 503 when the database does not answer."""
    try:
        n = await arena.run(arena.store.vote_count)
    except Exception as e:
        return ApiJSON({"ok": False, "detail": f"database unavailable: {type(e).__name__}"}, 503)
    return ApiJSON({"ok": True, "votes": n, "models": len(arena.catalogue.models)})

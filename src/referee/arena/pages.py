"""The arena's HTML pages: vote, log in (also by invite link), leaderboard and admin.

Pages are server-rendered shells (``templates/arena/*.html.j2``) whose script,
``static/arena.js``, calls the JSON API; every page is sent with :data:`PAGE_HEADERS` (a
strict Content-Security-Policy: no inline script, no framing).  A page that needs a session
redirects to ``/login`` rather than answering 401.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from referee.arena.api import session_cookie
from referee.arena.deps import ArenaDep, PageSession
from referee.arena.http import PAGE_HEADERS, ApiError
from referee.arena.security import Session
from referee.arena.state import Arena

router = APIRouter(default_response_class=HTMLResponse)


def page(arena: Arena, name: str, session: Session | None, **ctx: Any) -> HTMLResponse:
    """Render ``templates/arena/<name>.html.j2`` for ``session`` (which sets the nav and CSRF token)."""
    tpl = arena.env.get_template(f"{name}.html.j2")
    html = tpl.render(
        title=arena.config.title,
        page=name,
        role=session.role if session else None,
        csrf=arena.sessions.csrf(session) if session else "",
        public_leaderboard=arena.config.public_leaderboard,
        admin_enabled=bool(arena.config.admin_token),
        **ctx,
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/")
async def vote_page(arena: ArenaDep, s: PageSession) -> Response:
    if s is None:
        return RedirectResponse("/login", 303)
    if s.role == "admin":
        return RedirectResponse("/admin", 303)
    return page(arena, "vote", s)


@router.get("/login")
async def login_page(request: Request, arena: ArenaDep, s: PageSession, token: str | None = None) -> Response:
    """The login form; ``?token=`` (an invite link) logs in and redirects to the vote or admin page."""
    if token:
        try:
            role, aid, _ = await arena.by_token(token.strip())
        except ApiError:
            return page(arena, "login", None, error="That invite token is not valid.")
        _, cookie = arena.sessions.new(role, aid)
        resp = RedirectResponse("/admin" if role == "admin" else "/", 303)
        session_cookie(resp, request, cookie)
        return resp
    return page(arena, "login", s, error=None)


@router.get("/leaderboard")
async def leaderboard_page(arena: ArenaDep, s: PageSession) -> Response:
    if s is None and not arena.config.public_leaderboard:
        return RedirectResponse("/login", 303)
    return page(arena, "leaderboard", s)


@router.get("/admin")
async def admin_page(arena: ArenaDep, s: PageSession) -> Response:
    return page(arena, "admin", s, is_admin=s is not None and s.role == "admin")

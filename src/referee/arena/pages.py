"""The arena's HTML pages: vote, log in (also by invite link), leaderboard and admin.

Pages are server-rendered shells (``templates/arena/*.html.j2``) whose script,
``static/arena.js``, calls the JSON API; every page is sent with :data:`PAGE_HEADERS` (a
strict Content-Security-Policy: no inline script, no framing).  A page that needs a session
redirects to ``/login`` rather than answering 401.  The admin page's *Revoke* form is a plain
HTML form (``POST /admin/revoke``, form-encoded, the session's CSRF token in a hidden field),
so it needs no script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from referee.arena.api import session_cookie
from referee.arena.deps import ArenaDep, PageSession, authenticate, guard_of, open_session
from referee.arena.http import PAGE_HEADERS, ApiError
from referee.arena.security import Session
from referee.arena.state import Arena

router = APIRouter(default_response_class=HTMLResponse)
MAX_FORM = 4096  # bytes of a form body (a name and a CSRF token)


def page(request: Request, arena: Arena, name: str, session: Session | None, status: int = 200,
         headers: Mapping[str, str] | None = None, **ctx: Any) -> HTMLResponse:
    """Render ``templates/arena/<name>.html.j2`` for ``session`` (which sets the nav and CSRF token)."""
    guard = guard_of(request)
    tpl = arena.env.get_template(f"{name}.html.j2")
    html = tpl.render(
        title=arena.config.title,
        page=name,
        role=session.role if session else None,
        csrf=guard.sessions.csrf(session) if session else "",
        public_leaderboard=arena.config.public_leaderboard,
        admin_enabled=guard.admin_token is not None,
        **ctx,
    )
    return HTMLResponse(html, status, headers={**PAGE_HEADERS, **(headers or {})})


@router.get("/")
async def vote_page(request: Request, arena: ArenaDep, s: PageSession) -> Response:
    if s is None:
        return RedirectResponse("/login", 303)
    if s.role == "admin":
        return RedirectResponse("/admin", 303)
    return page(request, arena, "vote", s)


@router.get("/login")
async def login_page(request: Request, arena: ArenaDep, s: PageSession, token: str | None = None) -> Response:
    """The login form; ``?token=`` (an invite link) logs in and redirects to the vote or admin page
    (the form again with a message when the token is not valid, a 429 while failed logins are throttled)."""
    if token:
        try:
            role, aid, _ = await authenticate(request, arena, token.strip())
        except ApiError as e:
            if e.status_code == 429:
                return page(request, arena, "login", None, 429, e.headers,
                            error="Too many failed logins from here: try again later.")
            return page(request, arena, "login", None, error="That invite token is not valid.")
        cookie = await open_session(request, arena, role, aid)
        resp = RedirectResponse("/admin" if role == "admin" else "/", 303)
        session_cookie(resp, request, cookie)
        return resp
    return page(request, arena, "login", s, error=None)


@router.get("/leaderboard")
async def leaderboard_page(request: Request, arena: ArenaDep, s: PageSession) -> Response:
    if s is None and not arena.config.public_leaderboard:
        return RedirectResponse("/login", 303)
    return page(request, arena, "leaderboard", s)


@router.get("/admin")
async def admin_page(request: Request, arena: ArenaDep, s: PageSession) -> Response:
    return page(request, arena, "admin", s, is_admin=s is not None and s.role == "admin")


async def form_fields(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body as ``{field: first value}`` (415, 413, 400)."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise ApiError(415, "send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise ApiError(413, f"form larger than {MAX_FORM} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10, errors="strict")
    except (UnicodeError, ValueError):
        raise ApiError(400, "the form is not valid UTF-8 form data") from None
    return {k: v[0] for k, v in fields.items() if v}


@router.post("/admin/revoke")
async def revoke_form(request: Request, arena: ArenaDep, s: PageSession) -> Response:
    """The admin page's *Revoke* button: end every session and the token of the annotator named in
    the form (the admin's session and its CSRF token in the ``csrf`` field required: 403)."""
    fields = await form_fields(request)
    is_admin = s is not None and s.role == "admin"
    if s is None or not is_admin or not guard_of(request).sessions.check_csrf(s, fields.get("csrf")):
        return page(request, arena, "admin", s, 403, is_admin=is_admin,
                    revoke_error="Not revoked: log in as the admin and use the form on this page.")
    name = fields.get("name", "").strip()
    try:
        ended = await arena.run(arena.store.revoke, name)
    except KeyError:
        return page(request, arena, "admin", s, 404, is_admin=True, revoke_error=f"There is no annotator named {name!r}.")
    return page(request, arena, "admin", s, is_admin=True,
                revoked=f"Revoked {name}: their token no longer works and {ended} session(s) ended.")

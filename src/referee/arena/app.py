"""The arena web app: FastAPI routes over :class:`Arena` (state) and :class:`Store` (database).

Request handling stays on the event loop.  The per-request writes (a battle, a vote) run
inline on SQLite, whose commits take microseconds, and in a small thread pool on
PostgreSQL; heavier reads always run in the pool.  A vote's 200 is sent after its
transaction has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from referee.arena.board import LiveBoard, votes_frame
from referee.arena.render import render_markdown
from referee.arena.sampling import Sampler, Seen
from referee.arena.security import COOKIE, RateLimiter, Session, check_csrf, new_session, read_session
from referee.arena.store import Battle, Catalogue, NameTaken, Store, hash_token, pair_key
from referee.errors import InputError
from referee.io.write import to_jsonl
from referee.schema import WINNERS
from referee.templating import environment

HERE = Path(__file__).parent
T = TypeVar("T")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'; connect-src 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
MAX_BODY = 64 * 1024  # every JSON body the API takes is tiny
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@dataclass
class ArenaConfig:
    """Options of ``referee arena serve`` (see :func:`referee.arena.serve`)."""

    db: str
    sampling: str = "uniform"
    refresh: float = 10.0
    rate_limit: float = 2.0
    identity_filter: bool = False
    admin_token: str | None = None
    sqlite_sync: str = "normal"
    public_leaderboard: bool = False
    seed: int | None = None
    title: str = "referee arena"


@dataclass
class Annotator:
    """What the server keeps per annotator: the battles they were shown and their unvoted one."""

    id: int
    seen: Seen = field(default_factory=Seen)
    pending: Battle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class HTTPError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers={**API_HEADERS, **(headers or {})})


class Arena:
    """Everything the routes share: database, catalogue, sampler, live board, annotators."""

    def __init__(self, config: ArenaConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store or Store(config.db, sqlite_sync=config.sqlite_sync)
        self.pool = ThreadPoolExecutor(1 if self.store.sqlite else 8, thread_name_prefix="arena-db")
        self.catalogue: Catalogue = self.store.catalogue()
        self.sampler = Sampler(self.catalogue, config.sampling, seed=config.seed)
        self.sampler.set_counts(self.store.pair_counts())
        self.board = LiveBoard(self.store, identity_filter=config.identity_filter)
        self.annotators: dict[int, Annotator] = {}
        self.tokens: dict[str, tuple[int, str]] = {}
        self.vote_limit = RateLimiter(config.rate_limit)
        self.battle_limit = RateLimiter(2 * config.rate_limit)
        self.env = environment("arena")

    @property
    def secret(self) -> bytes:
        return self.store.secret

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """A database call in the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def quick(self, fn: Callable[..., T], *args: Any) -> T:
        """A short per-request database call: inline for SQLite, in a thread for PostgreSQL."""
        return fn(*args) if self.store.sqlite else await self.run(fn, *args)

    # -- identities ----------------------------------------------------------------------------
    async def by_token(self, token: str) -> tuple[str, int, str]:
        """``(role, annotator id, name)`` for a bearer token; 401 when it is not valid."""
        admin = self.config.admin_token
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return "admin", 0, "admin"
        h = hash_token(token)
        hit = self.tokens.get(h)
        if hit is None:
            found = await self.quick(self.store.annotator_by_token, token)
            if found is None:
                raise HTTPError(401, "invalid token", {"WWW-Authenticate": "Bearer"})
            self.tokens[h] = hit = found
        return "annotator", hit[0], hit[1]

    async def identify(self, request: Request, *, state_changing: bool) -> tuple[str, int]:
        """``(role, annotator id)`` from a bearer token or a session cookie (+ CSRF check)."""
        auth = request.headers.get("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPError(401, "use 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"})
            role, aid, _ = await self.by_token(token.strip())
            return role, aid
        session = read_session(self.secret, request.cookies.get(COOKIE))
        if session is None:
            raise HTTPError(401, "not logged in: open an invite link or send 'Authorization: Bearer <token>'")
        if state_changing and not check_csrf(self.secret, session, request.headers.get("x-csrf-token")):
            raise HTTPError(403, "missing or wrong X-CSRF-Token header")
        return session.role, session.subject

    async def annotator(self, aid: int) -> Annotator:
        a = self.annotators.get(aid)
        if a is None:
            if await self.quick(self.store.annotator_name, aid) is None:
                raise HTTPError(401, "unknown annotator")
            seen, pending = await self.run(self.store.annotator_history, aid)
            a = self.annotators.get(aid)  # another request may have loaded it meanwhile
            if a is None:
                a = self.annotators[aid] = Annotator(aid, Seen(seen), pending)
        return a

    # -- battles and votes ----------------------------------------------------------------------
    def limit(self, limiter: RateLimiter, aid: int) -> None:
        wait = limiter.allow(aid)
        if wait > 0:
            raise HTTPError(429, "too many requests: slow down", {"Retry-After": str(max(1, round(wait)))})

    def battle_payload(self, b: Battle, html: bool) -> dict[str, Any]:
        cat = self.catalogue
        _, prompt, _ = cat.prompts[b.prompt_id]
        ra, rb = cat.responses[(b.prompt_id, b.model_a)], cat.responses[(b.prompt_id, b.model_b)]
        out: dict[str, Any] = {"battle_id": b.public_id, "prompt": prompt, "response_a": ra[1], "response_b": rb[1]}
        if html:  # render_markdown memoises: a battle shown again is not parsed again
            out["prompt_html"] = render_markdown(prompt)
            out["response_a_html"] = render_markdown(ra[1])
            out["response_b_html"] = render_markdown(rb[1])
        return out

    async def next_battle(self, aid: int) -> Battle | None:
        a = await self.annotator(aid)
        async with a.lock:
            p = a.pending
            hidden = self.catalogue.hidden
            if p is not None and p.model_a not in hidden and p.model_b not in hidden:
                return p
            for _ in range(20):
                pick = self.sampler.pick(a.seen)
                if pick is None:
                    return None
                prompt, ma, mb = pick
                a.seen.battles.add((prompt, pair_key(ma, mb)))
                battle = await self.quick(self.store.insert_battle, aid, prompt, ma, mb)
                if battle is not None:
                    a.pending = battle
                    return battle
            return None

    async def vote(self, aid: int, battle_id: str, winner: str) -> dict[str, Any]:
        status, battle = await self.quick(self.store.record_vote, battle_id, aid, winner)
        if status == "unknown":
            raise HTTPError(404, f"no battle {battle_id!r} of yours")
        if status == "duplicate":
            raise HTTPError(409, "you already voted on this battle")
        assert battle is not None
        a = self.annotators.get(aid)
        if a is not None and a.pending is not None and a.pending.public_id == battle_id:
            a.pending = None
        self.sampler.count(pair_key(battle.model_a, battle.model_b))
        m = self.catalogue.models
        return {"ok": True, "model_a": m[battle.model_a], "model_b": m[battle.model_b]}

    # -- admin ------------------------------------------------------------------------------------
    async def set_hidden(self, model: str, hidden: bool) -> None:
        await self.run(self.store.set_hidden, model, hidden)
        self.catalogue = await self.run(self.store.catalogue)
        self.sampler.rebuild(self.catalogue)
        for a in self.annotators.values():
            a.seen.exhausted.clear()
        self.board.invalidate()
        await self.refresh_board(force=True)

    async def refresh_board(self, force: bool = False) -> None:
        changed = await self.board.refresh(force=force)
        if changed and self.config.sampling == "active":
            ids = {n: i for i, n in self.catalogue.models.items()}
            self.sampler.set_fit({ids[n]: v for n, v in self.board.ratings.items() if n in ids})

    async def refresher(self) -> None:
        while True:
            await asyncio.sleep(self.config.refresh)
            with contextlib.suppress(Exception):  # a failed refresh keeps the last board; /healthz reports the DB
                await self.refresh_board()

    def export_frame(self, identity_filter: bool = False) -> Any:
        return votes_frame(self.store.vote_rows(), self.store.catalogue(), texts=True, identity_filter=identity_filter)

    def page(self, name: str, request: Request, session: Session | None, **ctx: Any) -> HTMLResponse:
        tpl = self.env.get_template(f"{name}.html.j2")
        html = tpl.render(
            title=self.config.title,
            page=name,
            role=session.role if session else None,
            csrf=session.csrf(self.secret) if session else "",
            public_leaderboard=self.config.public_leaderboard,
            admin_enabled=bool(self.config.admin_token),
            **ctx,
        )
        return HTMLResponse(html, headers=PAGE_HEADERS)


# -- request parsing ------------------------------------------------------------------------------
async def json_body(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    if not ctype.split(";")[0].strip().lower() == "application/json":
        raise HTTPError(415, "send the body as JSON with 'Content-Type: application/json'")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPError(413, f"body larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPError(422, f"body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise HTTPError(422, "body must be a JSON object")
    return body


def field_str(body: dict[str, Any], name: str, max_len: int = 200) -> str:
    v = body.get(name)
    if v is None:
        raise HTTPError(422, f"field {name!r} is required")
    if not isinstance(v, str) or not v.strip():
        raise HTTPError(422, f"field {name!r} must be a non-empty string")
    if len(v) > max_len:
        raise HTTPError(422, f"field {name!r} is longer than {max_len} characters")
    return v


def session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, max_age=30 * 86400, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


# -- the app --------------------------------------------------------------------------------------
def create_app(config: ArenaConfig, store: Store | None = None) -> FastAPI:
    """The ASGI app for ``config`` (``uvicorn`` serves it; tests may too)."""
    arena = Arena(config, store)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await arena.refresh_board()
        task = asyncio.create_task(arena.refresher())
        try:
            yield
        finally:
            task.cancel()
            arena.board.close()
            arena.pool.shutdown(wait=True)
            arena.store.close()

    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.arena = arena
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(HTTPError)
    async def _http_error(_request: Request, e: HTTPError) -> Response:
        return json_response({"detail": e.detail, **e.extra}, e.status, e.headers)

    # -- API ----------------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            n = await arena.run(arena.store.vote_count)
        except Exception as e:
            return json_response({"ok": False, "detail": f"database unavailable: {type(e).__name__}"}, 503)
        return json_response({"ok": True, "votes": n, "models": len(arena.catalogue.models)})

    @app.get("/api/battle")
    async def get_battle(request: Request, render: str | None = None) -> Response:
        role, aid = await arena.identify(request, state_changing=False)
        if role != "annotator":
            raise HTTPError(403, "battles are for annotators: log in with an invite token")
        arena.limit(arena.battle_limit, aid)
        battle = await arena.next_battle(aid)
        if battle is None:
            raise HTTPError(404, "no battle left for you: you have judged every prompt and model pair", done=True)
        return json_response(arena.battle_payload(battle, html=render == "html"))

    @app.post("/api/vote")
    async def post_vote(request: Request) -> Response:
        role, aid = await arena.identify(request, state_changing=True)
        if role != "annotator":
            raise HTTPError(403, "votes are for annotators: log in with an invite token")
        body = await json_body(request)
        battle_id = field_str(body, "battle_id", 64)
        winner = body.get("winner")
        if winner not in WINNERS:
            raise HTTPError(422, f"field 'winner' must be one of {', '.join(map(repr, WINNERS))}, not {winner!r}")
        arena.limit(arena.vote_limit, aid)
        return json_response(await arena.vote(aid, battle_id, winner))

    @app.get("/api/leaderboard")
    async def get_leaderboard(request: Request, style: str = "off") -> Response:
        if not config.public_leaderboard:
            await arena.identify(request, state_changing=False)
        if style not in ("on", "off", "1", "0", "true", "false"):
            raise HTTPError(422, "style must be 'on' or 'off'")
        body = arena.board.cache.get(style in ("on", "1", "true"), b'{"models": [], "meta": {}}')
        return Response(body, media_type="application/json", headers=API_HEADERS)

    @app.post("/api/login")
    async def login(request: Request) -> Response:
        body = await json_body(request)
        role, aid, name = await arena.by_token(field_str(body, "token", 400).strip())
        _, cookie = new_session(arena.secret, role, aid)
        resp = json_response({"ok": True, "role": role, "name": name})
        session_cookie(resp, request, cookie)
        return resp

    @app.post("/api/logout")
    async def logout() -> Response:
        resp = json_response({"ok": True})
        resp.delete_cookie(COOKIE, path="/")
        return resp

    async def require_admin(request: Request, state_changing: bool) -> None:
        if not config.admin_token:
            raise HTTPError(403, "admin is disabled: start the server with an admin token (--admin-token-env)")
        role, _ = await arena.identify(request, state_changing=state_changing)
        if role != "admin":
            raise HTTPError(403, "admin only")

    @app.post("/api/admin/invite")
    async def admin_invite(request: Request) -> Response:
        await require_admin(request, True)
        name = field_str(await json_body(request), "name")
        try:
            token = await arena.run(arena.store.invite, name)
        except InputError as e:
            raise HTTPError(409 if isinstance(e, NameTaken) else 422, e.message) from None
        base = str(request.base_url).rstrip("/")
        return json_response({"name": name.strip(), "token": token, "link": f"{base}/login?token={token}"})

    @app.get("/api/admin/annotators")
    async def admin_annotators(request: Request) -> Response:
        await require_admin(request, False)
        return json_response({"annotators": await arena.run(arena.store.annotator_stats)})

    @app.get("/api/admin/models")
    async def admin_models(request: Request) -> Response:
        await require_admin(request, False)
        votes = await arena.run(arena.store.model_vote_counts)
        cat = arena.catalogue
        n_resp: dict[int, int] = {}
        for _, m in cat.responses:
            n_resp[m] = n_resp.get(m, 0) + 1
        rows = [
            {"model": n, "hidden": i in cat.hidden, "responses": n_resp.get(i, 0), "battles": votes.get(i, 0)}
            for i, n in sorted(cat.models.items(), key=lambda kv: kv[1])
        ]
        return json_response({"models": rows})

    @app.post("/api/admin/models")
    async def admin_hide(request: Request) -> Response:
        await require_admin(request, True)
        body = await json_body(request)
        model, hidden = field_str(body, "model", 400), body.get("hidden")
        if not isinstance(hidden, bool):
            raise HTTPError(422, "field 'hidden' must be true or false")
        try:
            await arena.set_hidden(model, hidden)
        except KeyError:
            raise HTTPError(404, f"no model {model!r}") from None
        return json_response({"ok": True, "model": model, "hidden": hidden})

    @app.get("/api/export")
    async def export(request: Request, identity_filter: bool = False) -> Response:
        await require_admin(request, False)
        frame = await arena.run(arena.export_frame, identity_filter)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Response(
            to_jsonl(frame).encode("utf-8"),
            media_type="application/x-ndjson",
            headers={**API_HEADERS, "Content-Disposition": f'attachment; filename="arena-votes-{stamp}.jsonl"'},
        )

    # -- pages ----------------------------------------------------------------------------------
    def current(request: Request) -> Session | None:
        return read_session(arena.secret, request.cookies.get(COOKIE))

    @app.get("/", response_class=HTMLResponse)
    async def vote_page(request: Request) -> Response:
        s = current(request)
        if s is None:
            return RedirectResponse("/login", 303)
        if s.role == "admin":
            return RedirectResponse("/admin", 303)
        return arena.page("vote", request, s)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, token: str | None = None) -> Response:
        if token:
            try:
                role, aid, _ = await arena.by_token(token.strip())
            except HTTPError:
                return arena.page("login", request, None, error="That invite token is not valid.")
            _, cookie = new_session(arena.secret, role, aid)
            resp = RedirectResponse("/admin" if role == "admin" else "/", 303)
            session_cookie(resp, request, cookie)
            return resp
        return arena.page("login", request, current(request), error=None)

    @app.get("/leaderboard", response_class=HTMLResponse)
    async def leaderboard_page(request: Request) -> Response:
        s = current(request)
        if s is None and not config.public_leaderboard:
            return RedirectResponse("/login", 303)
        return arena.page("leaderboard", request, s)

    @app.get("/admin", response_class=HTMLResponse)
    async def admin_page(request: Request) -> Response:
        s = current(request)
        return arena.page("admin", request, s, is_admin=s is not None and s.role == "admin")

    return app

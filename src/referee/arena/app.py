"""The arena web app: :func:`create_app` assembles the routers over one :class:`Arena`.

The routes live in routers with one job each: :mod:`referee.arena.api` (the annotators'
JSON API), :mod:`referee.arena.admin` (the admin API), :mod:`referee.arena.pages` (the HTML
pages).  They reach the shared state, :class:`~referee.arena.state.Arena`, and who is calling
through the dependencies of :mod:`referee.arena.deps`; bodies are the Pydantic models of
:mod:`referee.arena.bodies`; errors and headers are :mod:`referee.arena.http`'s, the bounds on
bodies and connections :mod:`referee.arena.limits`'.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from referee.arena import admin, api, http, pages
from referee.arena.limits import MAX_BODY, BodyLimit
from referee.arena.state import Arena, ArenaConfig
from referee.arena.store import Store

__all__ = ["ArenaConfig", "create_app"]

HERE = Path(__file__).parent


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Fit the board once, refresh it every ``--refresh`` seconds; close everything at shutdown."""
    arena: Arena = app.state.arena
    await arena.refresh_board()
    task = asyncio.create_task(arena.refresher())
    try:
        yield
    finally:
        task.cancel()
        arena.board.close()
        arena.pool.shutdown(wait=True)
        arena.store.close()


class Static(StaticFiles):
    """The static files (script, style sheet), sent with ``X-Content-Type-Options: nosniff``."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def create_app(config: ArenaConfig, store: Store | None = None) -> FastAPI:
    """The ASGI app for ``config`` (``uvicorn`` serves it; tests may too)."""
    # The routers' routes go to the app as one flat list (busiest first: routes are matched in
    # order) rather than through include_router, which keeps each router as a nested one that
    # every request is matched against twice -- some 10 µs a request, a tenth of a vote.
    routes = [*api.router.routes, *admin.router.routes, *pages.router.routes]
    app = FastAPI(title=config.title, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json", lifespan=lifespan,
                  routes=routes)
    app.state.arena = Arena(config, store)
    http.install(app)
    app.add_middleware(BodyLimit, max_body=MAX_BODY)  # every route: 413 before and while reading
    app.mount("/static", Static(directory=HERE / "static"), name="static")
    return app

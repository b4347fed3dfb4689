"""The arena's admin API: invite annotators, list them, hide or show models, export the votes.

Every route needs the admin (bearer admin token, or an admin session cookie plus its CSRF
token for changes); with no admin token configured they all answer 403.
"""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from referee.arena.bodies import HideBody, InviteBody
from referee.arena.deps import AdminReader, AdminWriter, guard_of
from referee.arena.http import API_HEADERS, ApiError, ApiJSON, body_schema, read_json
from referee.arena.store import NameTaken
from referee.errors import InputError

router = APIRouter(prefix="/api", default_response_class=ApiJSON)


@router.post("/admin/invite", openapi_extra=body_schema(InviteBody))
async def invite(request: Request, who: AdminWriter) -> Response:
    """Create an annotator (an :class:`InviteBody`); the answer holds their token and login link (shown once)."""
    body = await read_json(request, InviteBody)
    arena = who.arena
    try:
        token = await arena.run(arena.store.invite, body.name)
    except InputError as e:
        raise ApiError(409 if isinstance(e, NameTaken) else 422, e.message) from None
    # the link is built on --public-url (or the address served on), never on the request's Host header
    return ApiJSON({"name": body.name.strip(), "token": token, "link": guard_of(request).link(token)})


@router.post("/admin/revoke", openapi_extra=body_schema(InviteBody))
async def revoke(request: Request, who: AdminWriter) -> Response:
    """End every session and disable the token of the annotator named in the body (``{"name": ...}``,
    as for an invite); the answer says how many sessions ended.  404 for an unknown name."""
    body = await read_json(request, InviteBody)
    try:
        ended = await who.arena.run(who.arena.store.revoke, body.name)
    except KeyError:
        raise ApiError(404, f"no annotator named {body.name.strip()!r}") from None
    return ApiJSON({"ok": True, "name": body.name.strip(), "sessions": ended})


@router.get("/admin/annotators")
async def annotators(who: AdminReader) -> Response:
    """Every annotator with their battle and vote counts and last vote."""
    arena = who.arena
    return ApiJSON({"annotators": await arena.run(arena.store.annotator_stats)})


@router.get("/admin/models")
async def models(who: AdminReader) -> Response:
    """Every model: hidden or not, how many responses and voted battles."""
    arena = who.arena
    votes = await arena.run(arena.store.model_vote_counts)
    cat = arena.catalogue
    n_resp: dict[int, int] = {}
    for _, m in cat.responses:
        n_resp[m] = n_resp.get(m, 0) + 1
    rows = [
        {"model": n, "hidden": i in cat.hidden, "responses": n_resp.get(i, 0), "battles": votes.get(i, 0)}
        for i, n in sorted(cat.models.items(), key=lambda kv: kv[1])
    ]
    return ApiJSON({"models": rows})


@router.post("/admin/models", openapi_extra=body_schema(HideBody))
async def hide(request: Request, who: AdminWriter) -> Response:
    """Hide a model from new battles (its votes stay), or show it again (a :class:`HideBody`)."""
    body = await read_json(request, HideBody)
    try:
        await who.arena.set_hidden(body.model, body.hidden)
    except KeyError:
        raise ApiError(404, f"no model {body.model!r}") from None
    return ApiJSON({"ok": True, "model": body.model, "hidden": body.hidden})


@router.get("/export")
async def export(
    who: AdminReader, identity_filter: bool = False, fmt: Literal["jsonl", "csv"] = Query("jsonl", alias="format")
) -> Response:
    """All votes as canonical comparisons, JSONL or CSV (``referee arena export`` over HTTP), streamed:
    read and written a batch at a time, so memory does not grow with the number of votes."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(
        who.arena.export_stream(identity_filter, fmt),
        media_type=media,
        headers={**API_HEADERS, "Content-Disposition": f'attachment; filename="arena-votes-{stamp}.{fmt}"'},
    )

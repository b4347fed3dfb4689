"""The arena's HTTP conventions: response headers, JSON responses, errors and JSON request bodies.

* Every API response is JSON sent with ``X-Content-Type-Options: nosniff`` and
  ``Cache-Control: no-store`` (:class:`ApiJSON`); pages add a strict Content-Security-Policy
  and framing/referrer rules (:data:`PAGE_HEADERS`).
* Every error is ``{"detail": "<one sentence>", **extra}`` with its status code and headers.
  Code raises one exception type, :class:`ApiError` (a :class:`fastapi.HTTPException` that
  may carry extra fields, e.g. ``done``), and one handler renders every HTTP exception,
  Starlette's own 404/405 included (:func:`install`).
* A request FastAPI cannot validate (a body that is not the endpoint's Pydantic model, a bad
  query parameter) is a 422 whose ``detail`` names the field (:func:`describe`).
* A JSON body is read by :func:`read_json` into its Pydantic model: ``Content-Type:
  application/json`` or 415, at most :data:`~referee.arena.limits.MAX_BODY` bytes or 413 (enforced for every
  route, before and while reading, by :class:`referee.arena.limits.BodyLimit`), nested at most
  :data:`~referee.arena.limits.MAX_DEPTH` deep or 422 (checked before parsing), else parsed and
  validated in one pass (422 naming the field), so malformed input -- bytes that are not UTF-8,
  nesting too deep, NaN -- never yields a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from referee.arena.limits import MAX_DEPTH, too_deep

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
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


class ApiJSON(JSONResponse):
    """A JSON response with the API's headers (compact UTF-8 JSON; NaN is refused)."""

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None,
        media_type: str | None = None, background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(content, status_code, {**API_HEADERS, **(headers or {})}, media_type, background)


class ApiError(HTTPException):
    """An error answer: ``{"detail": detail, **extra}`` with ``status`` and ``headers``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(status, detail, headers)
        self.extra = extra


# -- validation errors ------------------------------------------------------------------------
_WHERE = {"body": "field", "query": "query parameter", "path": "path parameter", "header": "header", "cookie": "cookie"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def describe(errors: Sequence[Any]) -> str:
    """One sentence for FastAPI's/Pydantic's validation errors, naming each field (at most 3)."""
    parts: list[str] = []
    for e in errors[:3]:
        loc = tuple(e.get("loc", ()))
        kind = str(e.get("type", ""))
        msg = str(e.get("msg", "is not valid")).removeprefix("Value error, ")
        if kind == "json_invalid":
            error = (e.get("ctx") or {}).get("error", "")
            at = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) and loc[1] > 0 else ""
            parts.append(f"body is not valid JSON: {error}{at}".rstrip())
            continue
        if loc[:1] == ("body",) and len(loc) == 1:
            parts.append("body must be a JSON object")
            continue
        where = _WHERE.get(str(loc[0]) if loc else "", "field")
        name = ".".join(str(x) for x in loc[1:]) or "?"
        if kind == "missing":
            parts.append(f"{where} {name!r} is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown {where} {name!r}")
        elif kind.startswith("string_too") or kind == "value_error" or "input" not in e:
            parts.append(f"{where} {name!r}: {msg}")
        else:
            parts.append(f"{where} {name!r}: {msg}, not {_shown(e['input'])}")
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "") if parts else "invalid request"


# -- handlers -----------------------------------------------------------------------------------
async def http_error(_request: Request, exc: Exception) -> Response:
    """Every HTTP exception (ours, FastAPI's, Starlette's routing 404/405) as the API's JSON error."""
    assert isinstance(exc, StarletteHTTPException)
    extra = exc.extra if isinstance(exc, ApiError) else {}
    return ApiJSON({"detail": exc.detail, **extra}, exc.status_code, exc.headers)


async def validation_error(_request: Request, exc: Exception) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return ApiJSON({"detail": describe(errors)}, 422)


def install(app: FastAPI) -> None:
    """Register the two handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


# -- JSON request bodies --------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request, model: type[M]) -> M:
    """The body of ``request`` as a ``model``: 415 unless JSON, else 422 when it does not parse.

    The size is bounded before and while reading by :class:`referee.arena.limits.BodyLimit`,
    which wraps every route (413 over :data:`~referee.arena.limits.MAX_BODY` bytes); the nesting depth is checked here
    before parsing.  Pydantic parses and validates in one pass
    (:meth:`~pydantic.BaseModel.model_validate_json`); its errors, located under ``body``,
    go to the :class:`~fastapi.exceptions.RequestValidationError` handler like FastAPI's own.
    (Reading the body here rather than declaring it as an endpoint parameter keeps it after the
    caller's checks -- a stranger gets 401, not a lecture on the body's schema -- and takes
    about 15 µs less per vote; :func:`body_schema` puts the model in the OpenAPI document.)
    """
    headers = request.headers
    if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "send the body as JSON with 'Content-Type: application/json'")
    body = await request.body()
    if too_deep(body):
        raise ApiError(422, f"body is not valid JSON for this API: nested deeper than {MAX_DEPTH} levels")
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route whose endpoint reads a ``model`` with :func:`read_json`."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}

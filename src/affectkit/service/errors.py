"""Errors of the service: one JSON shape everywhere, never a bare 500 for bad input.

Every error answers ``{"error": {"status", "type", "message", "details"}}``; :func:`install`
adds the handlers that give that shape to FastAPI's own errors too.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from affectkit.exceptions import InvalidInputError, LimitExceededError
from affectkit.service.schemas import ErrorResponse

log = logging.getLogger(__name__)

__all__ = ["ApiError", "ERRORS", "allowed_methods", "error_response", "install", "responses"]


class ApiError(Exception):
    """An error answered as ``status`` with the service's error body."""

    def __init__(self, status: int, type_: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.details = status, type_, message, details or []


def error_response(status: int, type_: str, message: str, details: list[Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"status": status, "type": type_, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


#: What each error status means, as the OpenAPI schema states it.
ERRORS = {
    400: "Malformed request (e.g. the body is not valid JSON).",
    401: "Missing or wrong API key.",
    413: "Too many texts, a text too long, a request of too much work, a body or upload too large, or a "
         "recording too long.",
    422: "The request does not match the schema.",
    429: "Too many jobs are waiting; try again later.",
    503: "The analysis is not available on this server.",
    504: "The analysis took longer than the request timeout.",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route for these error statuses."""
    return {c: {"model": ErrorResponse, "description": ERRORS[c]} for c in codes}


#: The methods that :func:`allowed_methods` tries.
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """The methods that some route of the app takes on the request's path, in order.

    Each method is tried against the app's routes, so routes that routers bring in count too
    (a router included by FastAPI may be one route of the app that holds many).
    """
    from starlette.routing import Match, Mount

    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [m for m in _METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.type, exc.message, exc.details)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
            413: "payload_too_large"}.get(exc.status_code, "http_error")
    headers = dict(getattr(exc, "headers", None) or {})
    message = str(exc.detail)
    if exc.status_code == 405:  # Allow lists every method of the path, across routes
        methods = allowed_methods(request)
        headers["Allow"] = ", ".join(methods)
        message = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(methods)}."
    return error_response(exc.status_code, kind, message, headers=headers or None)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in exc.errors()]
    bad_json = [e for e in errors if e["type"] == "json_invalid"]
    if bad_json:
        where = bad_json[0]["loc"][-1] if bad_json[0]["loc"] else "?"
        return error_response(400, "invalid_json", f"The request body is not valid JSON (error at character {where}). "
                              "Send a JSON object such as {\"texts\": [\"...\"]}.", errors)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return error_response(422, "validation_error", f"{where}: {first['msg']}{more}. See /docs for the request schema.",
                          errors)


async def _bad_input(request: Request, exc: InvalidInputError) -> JSONResponse:
    return error_response(422, "invalid_input", str(exc))


async def _over_limit(request: Request, exc: LimitExceededError) -> JSONResponse:
    return error_response(413, "payload_too_large", str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(500, "internal_error", f"Internal error ({type(exc).__name__}). It is logged on the server.")


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with the service's error body."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidInputError, _bad_input)  # type: ignore[arg-type]
    app.add_exception_handler(LimitExceededError, _over_limit)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

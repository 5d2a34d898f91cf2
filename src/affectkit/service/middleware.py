"""Middleware of the service: the key check and the body-size limit (both before any body is read),
and the request metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException

from affectkit.service.errors import error_response
from affectkit.service.settings import ServiceSettings

__all__ = ["SECURED_PREFIXES", "UPLOAD_PATHS", "BodyLimit", "KeyCheck", "key_problem", "Observe"]

#: Paths that need the API key (when the server has one): every API route and the metrics.
SECURED_PREFIXES = ("/v1/", "/metrics")

#: Routes that take a file upload: their limit is ``max_upload_bytes``, not ``max_body_bytes``.
UPLOAD_PATHS = ("/v1/jobs", "/v1/audio")


def key_problem(headers: dict[str, str], expected: str) -> str | None:
    """Why a request with these (lower-cased) headers may not pass the key check; ``None`` when it may.

    The key is taken from ``X-API-Key`` or ``Authorization: Bearer <key>``, without the spaces
    around it (HTTP does not count them as part of a header's value); when both are sent, both must
    be right.
    """
    import hmac

    given: list[str] = []
    if "authorization" in headers:
        scheme, _, credentials = headers["authorization"].strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return "The Authorization header must be 'Bearer <key>'."
        given.append(credentials.strip())
    if "x-api-key" in headers:
        given.append(headers["x-api-key"].strip())
    if not given:
        return ("This server needs an API key: send it as an 'X-API-Key' header "
                "or 'Authorization: Bearer <key>'.")
    want = expected.encode("utf-8")
    if not all(hmac.compare_digest(k.encode("utf-8", "replace"), want) for k in given):
        return "The API key is wrong."
    return None


class KeyCheck:
    """Answer 401 to a request without the right API key from its headers alone, before its body is read.

    So a request without the key costs the server nothing: no body parsed, no upload spooled. CORS
    preflights (``OPTIONS``) pass: browsers send them without credentials.
    """

    def __init__(self, app: Any, settings: ServiceSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        expected = self.settings.api_key
        if (scope["type"] != "http" or not expected or scope.get("method") == "OPTIONS"
                or not scope["path"].startswith(SECURED_PREFIXES)):
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        problem = key_problem(headers, expected)
        if problem is None:
            return await self.app(scope, receive, send)
        # "Connection: close": the unread body is not worth waiting for
        resp = error_response(401, "unauthorized", problem, headers={"WWW-Authenticate": "Bearer",
                                                                      "Connection": "close"})
        await resp(scope, receive, send)


class BodyLimit:
    """Answer 413 before reading a body over the limit (by Content-Length, or while streaming)."""

    def __init__(self, app: Any, settings: ServiceSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"].rstrip("/") in UPLOAD_PATHS
        limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
        what = "upload" if upload else "request body"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size > limit:
                    resp = error_response(413, "payload_too_large", f"The {what} is {size} bytes; the limit is "
                                                                    f"{limit} bytes. Send less per request.")
                    return await resp(scope, receive, send)
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # an HTTPException passes FastAPI's body parsing unchanged
                    raise HTTPException(413, f"The {what} is over the limit of {limit} bytes. "
                                             "Send less per request.")
            return message

        await self.app(scope, limited_receive, send)


class Observe:
    """Count and time every request by its route (``app.state.metrics``).

    Plain ASGI (not ``BaseHTTPMiddleware``), so the app's ``receive`` reaches the routes as the
    server gave it: a route can tell when its client disconnects.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            scope["app"].state.metrics.observe(getattr(route, "path", "unmatched"), scope["method"], status,
                                               time.perf_counter() - t0)

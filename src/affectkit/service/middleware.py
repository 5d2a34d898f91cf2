"""Middleware of the service: the body-size limit and the request metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException, Request

from affectkit.service.errors import error_response
from affectkit.service.settings import ServiceSettings

__all__ = ["UPLOAD_PATHS", "BodyLimit", "observe"]

#: Routes that take a file upload: their limit is ``max_upload_bytes``, not ``max_body_bytes``.
UPLOAD_PATHS = ("/v1/jobs", "/v1/audio")


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


async def observe(request: Request, call_next: Any) -> Any:
    """Count and time every request by its route (``app.state.metrics``)."""
    t0 = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        route = request.scope.get("route")
        request.app.state.metrics.observe(getattr(route, "path", "unmatched"), request.method, status,
                                          time.perf_counter() - t0)

"""The HTTP service: ``create_app(settings)`` builds the FastAPI application.

Models load once, in the lifespan (:mod:`affectkit.service.runtime`). Inference runs in one
dedicated thread fed by dynamic batchers (see :mod:`affectkit.service.batching`), so endpoints
are ``async`` and only wait. Review files run as background jobs in a separate process
(:mod:`affectkit.service.jobs`). The routes live in :mod:`affectkit.service.routes`, one router
per resource; they reach the settings, models and job store through FastAPI's ``Depends``
(:mod:`affectkit.service.deps`).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import affectkit.service.errors as errors
from affectkit.service.metrics import Metrics
from affectkit.service.middleware import BodyLimit, KeyCheck, Observe
from affectkit.service.routes import audio, jobs, ops, text
from affectkit.service.runtime import lifespan
from affectkit.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]

#: The request schemas whose ``texts`` get the server's limits in the OpenAPI schema.
_LIMITED_REQUESTS = ("TextsRequest", "SentimentRequest", "AspectsRequest", "AnalyzeRequest")


def _openapi_with_limits(app: FastAPI, settings: ServiceSettings) -> Any:
    """``app.openapi``, stating the limits that the routes answer with 413."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for name in _LIMITED_REQUESTS:
                texts = schema.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {}).get("texts")
                if texts is not None:
                    texts["maxItems"] = settings.max_texts
                    for option in texts.get("items", {}).get("anyOf", []):
                        if option.get("type") == "string":
                            option["maxLength"] = settings.max_chars
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the service. Models load when the app starts (its lifespan), not here."""
    settings = settings or ServiceSettings()
    if settings.api_key is None:
        settings = settings.model_copy(update={"api_key": os.environ.get("AFFECTKIT_API_KEY") or ""})
    from affectkit._version import __version__

    app = FastAPI(
        title="affectkit", version=__version__, lifespan=lifespan,
        description="Sentiment, emotion and aspect analysis; review-file jobs. "
                    "Text routes take `{\"texts\": [...]}` and return one result per text, in order.",
    )
    app.openapi = _openapi_with_limits(app, settings)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.runtime = None  # set by the lifespan
    # the last added runs first: metrics, then CORS, the key check and the body limit, all before a body is read
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(KeyCheck, settings=settings)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization"])
    app.add_middleware(Observe)
    errors.install(app)
    app.include_router(text.router)
    app.include_router(audio.router, include_in_schema=bool(settings.audio))
    app.include_router(jobs.router)
    app.include_router(ops.router)
    app.mount("/static", StaticFiles(directory=str(ops.STATIC)), name="static")
    return app

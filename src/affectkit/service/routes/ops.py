"""Operating the service: liveness (``/healthz``), Prometheus metrics (``/metrics``) and the web page (``/``)."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

import affectkit.service.schemas as S
from affectkit.service.deps import AppMetrics, LoadedModels, Settings, secured
from affectkit.service.errors import responses
from affectkit.service.runtime import model_names

__all__ = ["STATIC", "router"]

# FastAPI reads endpoint annotations at runtime, so this module does not postpone them.

#: The web page and its assets (served from the file system, as StaticFiles needs a folder).
STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=S.Health)
async def healthz(request: Request, settings: Settings, models: LoadedModels) -> dict[str, Any]:
    """Liveness and the loaded models (no API key needed)."""
    return {"status": "ok" if models is not None else "starting", "version": request.app.version,
            "models": model_names(settings, models or {})}


@router.get("/metrics", dependencies=secured, response_model=None,
            responses=responses(401) | {200: {"description": "Prometheus text format.",
                                              "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def prometheus(metrics: AppMetrics) -> PlainTextResponse:
    """Prometheus metrics (text format)."""
    body, content_type = metrics.render()
    return PlainTextResponse(body, media_type=content_type)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

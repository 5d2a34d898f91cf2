"""What routes take through FastAPI's ``Depends``: settings, metrics, models, the job store, the key check.

Each dependency reads the app's state (``request.app.state``), so one process can hold several
apps. They are ``async`` so that FastAPI calls them on the event loop, not in its threadpool.
"""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from affectkit.service.errors import ApiError
from affectkit.service.jobs import JobStore
from affectkit.service.metrics import Metrics
from affectkit.service.runtime import Runtime
from affectkit.service.settings import ServiceSettings

__all__ = ["AppMetrics", "AppRuntime", "JobStoreDep", "LoadedModels", "Settings", "header_key", "bearer",
           "require_key", "secured"]

# FastAPI reads these annotations at runtime, so this module does not postpone them.


async def settings_of(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def metrics_of(request: Request) -> Metrics:
    return request.app.state.metrics


async def runtime_of(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    if runtime is None:
        raise ApiError(503, "unavailable", "The service is starting: its models are still loading. Try again soon.")
    return runtime


async def loaded_models(request: Request) -> dict[str, Any] | None:
    """The loaded models; None while the service starts."""
    runtime = request.app.state.runtime
    return None if runtime is None else runtime.models


async def store_of(runtime: Annotated[Runtime, Depends(runtime_of)]) -> JobStore:
    return runtime.store


Settings = Annotated[ServiceSettings, Depends(settings_of)]
AppMetrics = Annotated[Metrics, Depends(metrics_of)]
AppRuntime = Annotated[Runtime, Depends(runtime_of)]
LoadedModels = Annotated[dict[str, Any] | None, Depends(loaded_models)]
JobStoreDep = Annotated[JobStore, Depends(store_of)]

header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key (AFFECTKIT_API_KEY).")
bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token.")


async def require_key(request: Request, settings: Settings,
                      key: Annotated[str | None, Depends(header_key)] = None,
                      token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> None:
    """401 unless the request carries the API key (as ``X-API-Key`` or a bearer token); no check without a key.

    :class:`affectkit.service.middleware.KeyCheck` makes the same check from the headers before the
    body is read; this dependency states it in the OpenAPI schema and guards apps built without it.
    """
    from affectkit.service.middleware import key_problem

    if not settings.api_key:
        return
    problem = key_problem({k.lower(): v for k, v in request.headers.items()}, settings.api_key)
    if problem is not None:
        raise HTTPException(401, problem, headers={"WWW-Authenticate": "Bearer"})


#: The ``dependencies`` of every route that needs the API key.
secured = [Depends(require_key)]

"""The HTTP service (``affectkit serve``; needs the ``[serve]`` extra).

``create_app(ServiceSettings(...))`` builds the FastAPI application.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "ServiceSettings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from affectkit.exceptions import require

        require("fastapi", "serve", "The HTTP service")
        from affectkit.service import app

        return getattr(app, name)
    raise AttributeError(f"module 'affectkit.service' has no attribute {name!r}")

"""The HTTP service (``affectkit serve``; needs the ``[serve]`` extra).

``create_app(ServiceSettings(...))`` builds the FastAPI application. Modules of this package
import each other by their full names (``affectkit.service.app``), never this package itself.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["create_app", "ServiceSettings"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from affectkit.exceptions import require

        require("fastapi", "serve", "The HTTP service")
        require("pydantic_settings", "serve", "The HTTP service")
        return getattr(importlib.import_module("affectkit.service.app"), name)
    raise AttributeError(f"module 'affectkit.service' has no attribute {name!r}")

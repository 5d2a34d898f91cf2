"""Exceptions raised by affectkit.

Every exception subclasses a builtin, so ``except ValueError`` keeps working for callers
who do not know about affectkit (the scikit-learn convention).
"""

from __future__ import annotations

__all__ = [
    "AffectkitError",
    "InvalidInputError",
    "LimitExceededError",
    "MissingDependencyError",
    "ModelFormatError",
    "NotFittedError",
    "UnknownModelError",
]


class AffectkitError(Exception):
    """Base class of every affectkit error."""


class InvalidInputError(AffectkitError, ValueError):
    """An input (text, file, parameter) cannot be used as given."""


class LimitExceededError(InvalidInputError):
    """An input is larger than a limit allows (decompressed bytes, rows, seconds of audio).

    The message names the parameter that sets the limit; the service answers it with 413.
    """


class NotFittedError(AffectkitError, ValueError, AttributeError):
    """An analyzer was used before ``fit`` (or ``load``) gave it its learned state."""


class UnknownModelError(AffectkitError, KeyError):
    """A model name is not registered and is not a model directory."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class ModelFormatError(AffectkitError, ValueError):
    """A model directory is missing files or has an unsupported format version."""


class MissingDependencyError(AffectkitError, ImportError):
    """An optional dependency is needed for this feature and is not installed."""


def require(module: str, extra: str, feature: str):
    """Import ``module`` or raise :class:`MissingDependencyError` with the exact fix."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional dependency '{module}', which is not installed. "
            f"Install it with: pip install 'affectkit[{extra}]'"
        ) from exc

"""Cooperative cancellation of model work, checked between batches and segments.

A caller that may give up on some work (the service, when a request's deadline passes or its
client goes away) runs it inside :func:`cancellable`; the model code calls :func:`checkpoint`
between its batches (onnxruntime calls, segment batches, explanation batches), which raises
:class:`Cancelled` once the work is no longer wanted. Outside a :func:`cancellable` scope,
:func:`checkpoint` costs one attribute lookup and never raises.

The scope is per thread: work handed to another thread does not inherit it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Cancelled", "cancellable", "checkpoint"]

_local = threading.local()


class Cancelled(Exception):  # noqa: N818 - reads as what happened, like asyncio.CancelledError
    """The work was dropped at a batch boundary: its deadline passed or nobody waits for it."""


@contextmanager
def cancellable(is_cancelled: Callable[[], bool] | None = None,
                deadline: float | None = None) -> Iterator[None]:
    """Let :func:`checkpoint` stop the work run inside this block (in this thread).

    ``is_cancelled`` is asked at each checkpoint; ``deadline`` is a :func:`time.monotonic` time
    after which every checkpoint raises.
    """
    previous = getattr(_local, "scope", None)
    _local.scope = (is_cancelled, deadline)
    try:
        yield
    finally:
        _local.scope = previous


def checkpoint() -> None:
    """Raise :class:`Cancelled` if the work of the current :func:`cancellable` block is no longer wanted."""
    scope = getattr(_local, "scope", None)
    if scope is None:
        return
    is_cancelled, deadline = scope
    if deadline is not None and time.monotonic() > deadline:
        raise Cancelled("the deadline of this work passed")
    if is_cancelled is not None and is_cancelled():
        raise Cancelled("nobody waits for this work any more")

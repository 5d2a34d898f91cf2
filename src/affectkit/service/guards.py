"""Checks that routes make before and around an analysis: the model is there, the texts fit, time runs out."""

from __future__ import annotations

import asyncio
from typing import Any

from affectkit.service.errors import ApiError
from affectkit.service.settings import ServiceSettings

__all__ = ["check_texts", "need_model", "timed"]


def need_model(models: dict[str, Any], task: str) -> Any:
    """The model of ``task``; 503 when this server has none."""
    if task not in models:
        raise ApiError(503, "unavailable", f"This server has no {task} model loaded "
                                           f"(start it with --{task} MODEL).")
    return models[task]


def check_texts(texts: list[str | None], settings: ServiceSettings) -> None:
    """413 for more texts, or a longer text, than the settings allow."""
    if len(texts) > settings.max_texts:
        raise ApiError(413, "too_many_texts", f"The request has {len(texts)} texts; the limit is "
                                              f"{settings.max_texts} per request. Split them over several requests.")
    for i, t in enumerate(texts):
        if t is not None and len(t) > settings.max_chars:
            raise ApiError(413, "text_too_long", f"texts[{i}] has {len(t)} characters; the limit is "
                                                 f"{settings.max_chars}. Split it, or use a review job (/v1/jobs).")


async def timed(coro: Any, timeout_s: float) -> Any:
    """Await ``coro``; 504 when it takes longer than ``timeout_s``."""
    try:
        return await asyncio.wait_for(coro, timeout_s)
    except TimeoutError:
        raise ApiError(504, "timeout", f"The analysis took longer than {timeout_s:g} s. "
                                       "Send fewer or shorter texts per request.") from None

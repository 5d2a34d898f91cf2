"""Checks that routes make before and around an analysis: the model is there, the texts fit, time runs out."""

from __future__ import annotations

import asyncio
from typing import Any

from affectkit.service.errors import ApiError
from affectkit.service.settings import ServiceSettings

__all__ = ["check_texts", "check_work", "explained", "explanation_cost", "need_model", "timed", "work_of"]

#: Seconds between two checks that the client of a running analysis is still connected.
DISCONNECT_POLL_S = 0.25


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


def explanation_cost(text: str, settings: ServiceSettings) -> int:
    """Characters of work to explain ``text`` by occlusion: one more pass of it per explained token."""
    from affectkit.explain import token_spans

    return len(text) * min(len(token_spans(text)), settings.explain_max_tokens)


def explained(texts: list[str | None], settings: ServiceSettings, analyses: int = 1) -> dict[int, str]:
    """Which texts of a request get explanations: index -> ``""``, or the note of a text left out.

    The first ``max_explain_texts`` texts are explained, in order, while their explanations (for
    ``analyses`` analyses each) fit in ``max_explain_work`` characters of work; the others get a note.
    """
    out: dict[int, str] = {}
    budget = settings.max_explain_work
    for i, t in enumerate(texts):
        if t is None or not t.strip():
            continue
        if i >= settings.max_explain_texts:
            out[i] = (f"not explained: explanations cost one prediction per token, so only the first "
                      f"{settings.max_explain_texts} texts of a request are explained")
            continue
        cost = analyses * explanation_cost(t, settings)
        if cost > budget:
            out[i] = (f"not explained: explaining this text costs {cost:,} characters of work (one more pass "
                      f"of it per explained token), over the {budget:,} left of this request's explanation "
                      f"budget (max_explain_work {settings.max_explain_work:,}); explain a shorter passage")
            continue
        budget -= cost
        out[i] = ""
    return out


def work_of(texts: list[str | None], settings: ServiceSettings, *, passes: int = 1, explained_analyses: int = 0) -> int:
    """The model work of a request, in characters: its texts' characters times its encoder ``passes``,
    plus, for each of its ``explained_analyses``, one pass per explained token of each explained text
    (occlusion runs the model once more on the whole text for every token it explains)."""
    from affectkit.service.batching import text_cost

    work = text_cost(texts) * max(1, passes)
    if explained_analyses:
        chosen = [i for i, note in explained(texts, settings, explained_analyses).items() if not note]
        work += sum(explained_analyses * explanation_cost(texts[i] or "", settings) for i in chosen)
    return work


def check_work(work: int, settings: ServiceSettings) -> None:
    """413 for a request whose work is over ``max_request_work``: it is refused before it starts."""
    if work > settings.max_request_work:
        raise ApiError(413, "too_much_work",
                       f"The request's work is {work:,} characters (each text's characters once per model pass); "
                       f"the limit is {settings.max_request_work:,} per request "
                       f"(max_request_work). Send fewer or shorter texts per request.")


async def _watch_client(request: Any, task: asyncio.Future) -> bool:
    """Cancel ``task`` when the client of ``request`` disconnects; whether it did."""
    while not task.done():
        if await request.is_disconnected():
            task.cancel()
            return True
        await asyncio.sleep(DISCONNECT_POLL_S)
    return False


async def timed(coro: Any, timeout_s: float, request: Any = None) -> Any:
    """Await ``coro``; 504 when it takes longer than ``timeout_s``.

    Past the deadline, or when the client of ``request`` goes away, the wait is cancelled and the
    model work behind it is dropped at its next batch boundary (see :mod:`affectkit.service.batching`).
    """
    task = asyncio.ensure_future(coro)
    watcher = asyncio.ensure_future(_watch_client(request, task)) if request is not None else None
    try:
        return await asyncio.wait_for(task, timeout_s)
    except TimeoutError:
        raise ApiError(504, "timeout", f"The analysis took longer than {timeout_s:g} s. "
                                       "Send fewer or shorter texts per request.") from None
    except asyncio.CancelledError:
        if watcher is not None and watcher.done() and not watcher.cancelled() and watcher.result():
            raise ApiError(499, "client_closed", "The client closed the connection; the analysis was dropped.") from None
        raise
    finally:
        if watcher is not None:
            watcher.cancel()

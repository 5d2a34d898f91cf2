"""What the service holds while it runs: the models, their batchers and threads, the jobs.

:func:`lifespan` loads the models once, when the app starts, and puts a :class:`Runtime` on
``app.state.runtime``; routes reach it through :mod:`affectkit.service.deps`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from affectkit.service.batching import Batcher
from affectkit.service.jobs import JobRunner, JobStore
from affectkit.service.metrics import Metrics
from affectkit.service.settings import ServiceSettings

log = logging.getLogger(__name__)

__all__ = ["Runtime", "lifespan", "load_models", "model_names"]


@dataclass
class Runtime:
    """The loaded models and what runs them."""

    models: dict[str, Any]
    #: The inference thread of the text models' fast lane (requests of at most ``lane_chars`` of work).
    executor: ThreadPoolExecutor
    #: The inference thread of the heavy lane: long requests and explanations, so short ones never wait behind them.
    heavy_executor: ThreadPoolExecutor
    #: Recordings can take long: their own thread, so text requests never wait behind them.
    audio_executor: ThreadPoolExecutor
    batchers: dict[str, Batcher]
    store: JobStore
    runner: JobRunner


def load_models(settings: ServiceSettings) -> dict[str, Any]:
    from affectkit.registry import load

    models: dict[str, Any] = {}
    if settings.sentiment:
        models["sentiment"] = load(settings.sentiment)
    if settings.emotion:
        models["emotion"] = load(settings.emotion)
    if settings.aspects and "sentiment" in models:
        from affectkit.aspects.analyze import AspectAnalyzer

        models["aspects"] = AspectAnalyzer(models["sentiment"])
    if settings.audio:
        models["audio"] = load(settings.audio)
        models["audio"]._check_fitted()  # a missing speech model fails at start, not on the first upload
        if "emotion" in models and "text" in models["audio"].tags.modalities:  # it reads text too
            models["audio"].set_params(text=models["emotion"])  # one emotion model for text and speech routes
    for task in ("sentiment", "emotion"):  # load weights and sessions now, not on the first request
        if task in models:
            if models[task].tags.spin:  # spinning threads would take the event loop's core
                models[task].set_params(spin=False)
            models[task].predict_proba(["warm up"])
    return models


def _batchers(models: dict[str, Any], settings: ServiceSettings, metrics: Metrics,
              executor: ThreadPoolExecutor, heavy_executor: ThreadPoolExecutor) -> dict[str, Batcher]:
    def batcher(fn: Any) -> Batcher:
        return Batcher(fn, executor, settings.max_batch, on_batch=metrics.batch_size.observe,
                       heavy_executor=heavy_executor, lane_cost=settings.lane_chars,
                       on_cancel=metrics.cancelled_texts.inc)

    batchers: dict[str, Batcher] = {}
    for task in ("sentiment", "emotion"):
        if task in models:
            batchers[task] = batcher(lambda texts, key, m=models[task]: m.analyze(texts))
    pair = [models.get("sentiment"), models.get("emotion")]
    if all(getattr(m, "kind", "") == "transformer" for m in pair) and pair[0]._bb() is pair[1]._bb():
        from affectkit.analyzers.transformer import analyze_heads

        batchers["sentiment+emotion"] = batcher(
            lambda texts, key: list(zip(*analyze_heads(pair, texts), strict=True)))
    if "aspects" in models:
        asp = models["aspects"]
        batchers["aspects"] = batcher(lambda texts, key, a=asp: a.analyze(texts, list(key) if key else None))
    return batchers


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the models and start the batchers and the job runner; stop them at shutdown."""
    settings: ServiceSettings = app.state.settings
    metrics: Metrics = app.state.metrics
    t0 = time.perf_counter()
    models = await asyncio.to_thread(load_models, settings)
    metrics.model_load_seconds.set(time.perf_counter() - t0)
    executor = ThreadPoolExecutor(1, thread_name_prefix="affectkit-inference")
    heavy_executor = ThreadPoolExecutor(1, thread_name_prefix="affectkit-inference-heavy")
    audio_executor = ThreadPoolExecutor(1, thread_name_prefix="affectkit-audio")
    batchers = _batchers(models, settings, metrics, executor, heavy_executor)
    for b in batchers.values():
        b.start()
    store = JobStore(Path(settings.jobs_dir))
    runner = JobRunner(store, settings.job_workers)
    app.state.runtime = Runtime(models, executor, heavy_executor, audio_executor, batchers, store, runner)
    metrics.job_counts = store.counts
    if settings.resume_jobs:
        resumed = runner.resume()
        if resumed:
            log.info("resumed %d unfinished jobs", len(resumed))
    try:
        yield
    finally:
        for b in batchers.values():
            await b.stop()
        runner.shutdown()
        executor.shutdown(wait=False, cancel_futures=True)
        heavy_executor.shutdown(wait=False, cancel_futures=True)
        audio_executor.shutdown(wait=False, cancel_futures=True)


def model_names(settings: ServiceSettings, models: dict[str, Any]) -> dict[str, str | None]:
    """The model each analysis serves (None: not on this server)."""
    return {"sentiment": settings.sentiment if "sentiment" in models else None,
            "emotion": settings.emotion if "emotion" in models else None,
            "aspects": settings.sentiment if "aspects" in models else None,
            "audio": settings.audio if "audio" in models else None}

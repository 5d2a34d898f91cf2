"""Text analyses: sentiment, emotion, aspects, and all of them at once (``/v1/analyze``).

Each takes ``{"texts": [...]}`` and answers one result per text, in order; ``explain`` adds
per-token contributions to the sentiment and emotion results.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

import affectkit.service.schemas as S
from affectkit.service.batching import run_cancellable
from affectkit.service.deps import AppMetrics, AppRuntime, Settings, secured
from affectkit.service.errors import responses
from affectkit.service.guards import check_texts, check_work, explained, need_model, timed, work_of
from affectkit.service.metrics import Metrics
from affectkit.service.runtime import Runtime, model_names
from affectkit.service.settings import ServiceSettings

__all__ = ["TextAnalyses", "router"]

# FastAPI reads endpoint annotations at runtime, so this module does not postpone them.


@dataclass
class TextAnalyses:
    """The text analyses of one request, run by the batchers of the loaded models."""

    settings: ServiceSettings
    metrics: Metrics
    runtime: Runtime
    #: The request's work in characters (see :func:`affectkit.service.guards.work_of`): it picks the lane.
    work: int | None = None
    #: When the request's work is dropped (:func:`time.monotonic`).
    deadline: float | None = None
    #: How many analyses of each text are explained (sentiment and emotion: 2); they share the budget.
    explained_analyses: int = 1

    def begin(self, texts: list[str | None], *, passes: int = 1, explained_analyses: int = 0) -> None:
        """Admit a request (413 when its passes are over ``max_request_work``) and start its clock.

        Its explanations add at most ``max_explain_work`` (texts past it are not explained)."""
        check_work(work_of(texts, self.settings, passes=passes), self.settings)
        self.explained_analyses = max(1, explained_analyses)
        self.work = work_of(texts, self.settings, passes=passes, explained_analyses=explained_analyses)
        self.deadline = time.monotonic() + self.settings.timeout_s

    def _executor(self) -> Any:
        """The inference thread of this request's lane."""
        heavy = self.work is not None and self.work > self.settings.lane_chars  # as Batcher.lane_of decides
        return self.runtime.heavy_executor if heavy else self.runtime.executor

    async def explain(self, task: str, texts: list[str | None]) -> list[Any]:
        from affectkit.explain import explain

        model = need_model(self.runtime.models, task)
        live = [i for i, note in explained(texts, self.settings, self.explained_analyses).items() if not note]
        out: list[Any] = [None] * len(texts)
        if live:
            got = await run_cancellable(self._executor(), lambda: explain(
                model, [texts[i] for i in live], max_tokens=self.settings.explain_max_tokens), self.deadline)
            for i, e in zip(live, got, strict=True):
                out[i] = e.to_dict()
        return out

    async def results(self, task: str, texts: list[str | None], explain: bool,
                      computed: Any = None, abstain: float | None = None) -> list[dict[str, Any]]:
        need_model(self.runtime.models, task)
        self.metrics.texts.labels(task).inc(len(texts))
        results = computed if computed is not None else await self.runtime.batchers[task].submit(
            texts, cost=self.work, deadline=self.deadline)
        if abstain is not None and task == "sentiment":
            from affectkit.base import abstain_result

            results = [abstain_result(r, abstain) for r in results]
        dicts = [r.to_dict() for r in results]
        if explain:
            notes = explained(texts, self.settings, self.explained_analyses)
            for i, (d, e) in enumerate(zip(dicts, await self.explain(task, texts), strict=True)):
                if e is None and notes.get(i):
                    e = {"label": d["label"], "score": d["scores"][d["label"]], "method": "occlusion", "tokens": [],
                         "note": notes[i]}
                d["explanation"] = e
        return dicts

    async def aspects(self, texts: list[str | None], aspects: list[str] | None) -> list[dict[str, Any]]:
        need_model(self.runtime.models, "aspects")
        self.metrics.texts.labels("aspects").inc(len(texts))
        key = tuple(aspects) if aspects else None
        got = await self.runtime.batchers["aspects"].submit([t if t is not None else "" for t in texts], key,
                                                            cost=self.work, deadline=self.deadline)
        return [a.to_dict() for a in got]

    async def analyze(self, body: S.AnalyzeRequest, tasks: list[str]) -> dict[str, Any]:
        """Every task's results; one encoder pass for sentiment and emotion when they are two heads of one model."""
        pair = "sentiment+emotion" in self.runtime.batchers and {"sentiment", "emotion"} <= set(tasks)
        calls: dict[str, Any] = {"pair": self.runtime.batchers["sentiment+emotion"].submit(
            body.texts, cost=self.work, deadline=self.deadline)} if pair else {}
        for t in tasks:
            if t == "aspects":
                calls[t] = self.aspects(body.texts, body.aspects)
            elif not pair:
                calls[t] = self.results(t, body.texts, body.explain, abstain=body.abstain)
        done = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
        if pair:
            shared = done.pop("pair")
            for k, t in enumerate(("sentiment", "emotion")):
                done[t] = await self.results(t, body.texts, body.explain, [r[k] for r in shared], body.abstain)
        return done


async def text_analyses(settings: Settings, metrics: AppMetrics, runtime: AppRuntime) -> TextAnalyses:
    return TextAnalyses(settings, metrics, runtime)


Analyses = Annotated[TextAnalyses, Depends(text_analyses)]

router = APIRouter(tags=["analysis"], dependencies=secured, responses=responses(400, 401, 413, 422, 503, 504))


@router.post("/v1/sentiment", response_model=S.ResultsResponse)
async def sentiment(body: S.SentimentRequest, request: Request, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Sentiment (negative / neutral / positive with probabilities) of each text."""
    check_texts(body.texts, settings)
    run.begin(body.texts, explained_analyses=int(body.explain))
    results = await timed(run.results("sentiment", body.texts, body.explain, abstain=body.abstain),
                          settings.timeout_s, request)
    return {"model": settings.sentiment, "results": results}


@router.post("/v1/emotion", response_model=S.ResultsResponse)
async def emotion(body: S.TextsRequest, request: Request, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Emotions of each text at three levels: GoEmotions 27 + neutral, Ekman 6 + neutral, polarity."""
    check_texts(body.texts, settings)
    run.begin(body.texts, explained_analyses=int(body.explain))
    return {"model": settings.emotion,
            "results": await timed(run.results("emotion", body.texts, body.explain), settings.timeout_s, request)}


@router.post("/v1/aspects", response_model=S.AspectsResponse)
async def aspects(body: S.AspectsRequest, request: Request, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Sentiment per aspect: extracted aspect terms, or the ones given, each with its span and polarity."""
    check_texts(body.texts, settings)
    run.begin(body.texts)
    return {"model": settings.sentiment, "results": await timed(run.aspects(body.texts, body.aspects),
                                                                settings.timeout_s, request)}


@router.post("/v1/analyze", response_model=S.AnalyzeResponse)
async def analyze(body: S.AnalyzeRequest, request: Request, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Every requested analysis of every text in one call."""
    check_texts(body.texts, settings)
    tasks = list(dict.fromkeys(body.tasks))
    for t in tasks:
        need_model(run.runtime.models, t)
    text_tasks = [t for t in tasks if t in ("sentiment", "emotion")]
    pair = "sentiment+emotion" in run.runtime.batchers and len(text_tasks) == 2
    passes = (1 if pair else len(text_tasks)) + ("aspects" in tasks)
    run.begin(body.texts, passes=passes, explained_analyses=len(text_tasks) if body.explain else 0)
    got = await timed(run.analyze(body, tasks), settings.timeout_s, request)
    results = [{"text": text, **{t: got[t][i] for t in tasks}} for i, text in enumerate(body.texts)]
    if "sentiment" in tasks:
        from affectkit.verdicts import verdict

        for item in results:  # the one answer the page and clients show (affectkit.verdict)
            item["verdict"] = verdict(item["sentiment"], item.get("aspects"), item.get("emotion")).to_dict()
    return {"models": model_names(settings, run.runtime.models), "results": results}

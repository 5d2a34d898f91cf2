"""Text analyses: sentiment, emotion, aspects, and all of them at once (``/v1/analyze``).

Each takes ``{"texts": [...]}`` and answers one result per text, in order; ``explain`` adds
per-token contributions to the sentiment and emotion results.
"""

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends

import affectkit.service.schemas as S
from affectkit.service.deps import AppMetrics, AppRuntime, Settings, secured
from affectkit.service.errors import responses
from affectkit.service.guards import check_texts, need_model, timed
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

    async def explain(self, task: str, texts: list[str | None]) -> list[Any]:
        from affectkit.explain import explain

        model = need_model(self.runtime.models, task)
        limit = self.settings.max_explain_texts
        live = [i for i, t in enumerate(texts[:limit]) if t is not None and t.strip()]
        out: list[Any] = [None] * len(texts)
        if live:
            loop = asyncio.get_running_loop()
            got = await loop.run_in_executor(self.runtime.executor, lambda: explain(
                model, [texts[i] for i in live], max_tokens=self.settings.explain_max_tokens))
            for i, e in zip(live, got, strict=True):
                out[i] = e.to_dict()
        return out

    async def results(self, task: str, texts: list[str | None], explain: bool,
                      computed: Any = None, abstain: float | None = None) -> list[dict[str, Any]]:
        need_model(self.runtime.models, task)
        self.metrics.texts.labels(task).inc(len(texts))
        results = computed if computed is not None else await self.runtime.batchers[task].submit(texts)
        if abstain is not None and task == "sentiment":
            from affectkit.base import abstain_result

            results = [abstain_result(r, abstain) for r in results]
        dicts = [r.to_dict() for r in results]
        if explain:
            limit = self.settings.max_explain_texts
            for i, (d, e) in enumerate(zip(dicts, await self.explain(task, texts), strict=True)):
                if e is None and i >= limit:
                    e = {"label": d["label"], "score": d["scores"][d["label"]], "method": "occlusion", "tokens": [],
                         "note": f"not explained: explanations cost one prediction per token, so only the first "
                                 f"{limit} texts of a request are explained"}
                d["explanation"] = e
        return dicts

    async def aspects(self, texts: list[str | None], aspects: list[str] | None) -> list[dict[str, Any]]:
        need_model(self.runtime.models, "aspects")
        self.metrics.texts.labels("aspects").inc(len(texts))
        key = tuple(aspects) if aspects else None
        got = await self.runtime.batchers["aspects"].submit([t if t is not None else "" for t in texts], key)
        return [a.to_dict() for a in got]

    async def analyze(self, body: S.AnalyzeRequest, tasks: list[str]) -> dict[str, Any]:
        """Every task's results; one encoder pass for sentiment and emotion when they are two heads of one model."""
        pair = "sentiment+emotion" in self.runtime.batchers and {"sentiment", "emotion"} <= set(tasks)
        calls: dict[str, Any] = {"pair": self.runtime.batchers["sentiment+emotion"].submit(body.texts)} if pair else {}
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
async def sentiment(body: S.SentimentRequest, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Sentiment (negative / neutral / positive with probabilities) of each text."""
    check_texts(body.texts, settings)
    results = await timed(run.results("sentiment", body.texts, body.explain, abstain=body.abstain), settings.timeout_s)
    return {"model": settings.sentiment, "results": results}


@router.post("/v1/emotion", response_model=S.ResultsResponse)
async def emotion(body: S.TextsRequest, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Emotions of each text at three levels: GoEmotions 27 + neutral, Ekman 6 + neutral, polarity."""
    check_texts(body.texts, settings)
    return {"model": settings.emotion,
            "results": await timed(run.results("emotion", body.texts, body.explain), settings.timeout_s)}


@router.post("/v1/aspects", response_model=S.AspectsResponse)
async def aspects(body: S.AspectsRequest, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Sentiment per aspect: extracted aspect terms, or the ones given, each with its span and polarity."""
    check_texts(body.texts, settings)
    return {"model": settings.sentiment, "results": await timed(run.aspects(body.texts, body.aspects),
                                                                settings.timeout_s)}


@router.post("/v1/analyze", response_model=S.AnalyzeResponse)
async def analyze(body: S.AnalyzeRequest, settings: Settings, run: Analyses) -> dict[str, Any]:
    """Every requested analysis of every text in one call."""
    check_texts(body.texts, settings)
    tasks = list(dict.fromkeys(body.tasks))
    for t in tasks:
        need_model(run.runtime.models, t)
    got = await timed(run.analyze(body, tasks), settings.timeout_s)
    results = [{"text": text, **{t: got[t][i] for t in tasks}} for i, text in enumerate(body.texts)]
    return {"models": model_names(settings, run.runtime.models), "results": results}

"""The HTTP service: ``create_app(settings)`` builds the FastAPI application.

Models load once, in the lifespan. Inference runs in one dedicated thread fed by dynamic
batchers (see :mod:`affectkit.service.batching`), so endpoints are ``async`` and only wait.
Review files run as background jobs in a separate process (:mod:`affectkit.service.jobs`).
"""

import asyncio
import hmac
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BeforeValidator
from starlette.exceptions import HTTPException as StarletteHTTPException

from affectkit.exceptions import InvalidInputError
from affectkit.service import schemas as S
from affectkit.service.batching import Batcher
from affectkit.service.jobs import RESULT_FILES, JobRunner, JobStore, sniff_suffix, upload_suffix
from affectkit.service.metrics import Metrics

log = logging.getLogger(__name__)

__all__ = ["ServiceSettings", "create_app"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class ServiceSettings:
    """What the service loads and the limits it enforces.

    ``api_key=None`` reads ``AFFECTKIT_API_KEY`` from the environment when the app is created;
    an empty key turns the check off. ``sentiment``, ``emotion`` and ``audio`` take any model
    name or directory (``None`` leaves the analysis out; its routes answer 503).
    """

    sentiment: str | None = "sentiment"
    emotion: str | None = "emotion"
    aspects: bool = True
    audio: str | None = None
    api_key: str | None = None
    jobs_dir: Path = Path("affectkit-jobs")
    max_texts: int = 128
    max_chars: int = 50_000
    max_body_bytes: int = 16 * MiB
    max_upload_bytes: int = 200 * MiB
    timeout_s: float = 60.0
    max_batch: int = 64
    explain_max_tokens: int = 128
    max_explain_texts: int = 16
    cors_origins: tuple[str, ...] = ()
    job_workers: int = 1
    max_queued_jobs: int = 20
    resume_jobs: bool = True


# FastAPI resolves endpoint annotations at runtime, so this module does not use postponed annotations.
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key (AFFECTKIT_API_KEY).")
bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token.")


def _form_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError(f"expected 'true' or 'false', got {value[:20]!r}")
        return value.lower() == "true"
    return value


FormBool = Annotated[bool, BeforeValidator(_form_bool)]
ResultName = Literal[tuple(RESULT_FILES)]  # type: ignore[valid-type]


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.details = status, type_, message, details or []


def _error(status: int, type_: str, message: str, details: list[Any] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"status": status, "type": type_, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


_ERRORS = {
    400: "Malformed request (e.g. the body is not valid JSON).",
    401: "Missing or wrong API key.",
    413: "Too many texts, a text too long, or a body or upload too large.",
    422: "The request does not match the schema.",
    429: "Too many jobs are waiting; try again later.",
    503: "The analysis is not available on this server.",
    504: "The analysis took longer than the request timeout.",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": S.ErrorResponse, "description": _ERRORS[c]} for c in codes}


class _BodyLimit:
    """Answer 413 before reading a body over the limit (by Content-Length, or while streaming)."""

    def __init__(self, app: Any, settings: ServiceSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = scope["path"].rstrip("/") in ("/v1/jobs", "/v1/audio")
        limit = self.settings.max_upload_bytes if upload else self.settings.max_body_bytes
        what = "upload" if upload else "request body"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size > limit:
                    resp = _error(413, "payload_too_large",
                                  f"The {what} is {size} bytes; the limit is {limit} bytes. Send less per request.")
                    return await resp(scope, receive, send)
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # an HTTPException passes FastAPI's body parsing unchanged
                    raise HTTPException(413, f"The {what} is over the limit of {limit} bytes. "
                                             "Send less per request.")
            return message

        await self.app(scope, limited_receive, send)


def _load_models(settings: ServiceSettings) -> dict[str, Any]:
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
        if "emotion" in models and "text" in models["audio"].get_params():
            models["audio"].set_params(text=models["emotion"])  # one emotion model for text and speech routes
    for task in ("sentiment", "emotion"):  # load weights and sessions now, not on the first request
        if task in models:
            if "spin" in models[task].get_params():  # spinning threads would take the event loop's core
                models[task].set_params(spin=False)
            models[task].predict_proba(["warm up"])
    return models


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the service. Models load when the app starts (its lifespan), not here."""
    settings = settings or ServiceSettings()
    if settings.api_key is None:
        settings = replace(settings, api_key=os.environ.get("AFFECTKIT_API_KEY") or "")
    for name in ("max_texts", "max_chars", "max_body_bytes", "max_upload_bytes", "max_batch", "job_workers",
                 "max_queued_jobs", "max_explain_texts", "explain_max_tokens"):
        value = getattr(settings, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"The '{name}' setting must be a positive integer. Got {value!r}.")
    if not settings.timeout_s > 0:
        raise ValueError(f"The 'timeout_s' setting must be positive. Got {settings.timeout_s!r}.")
    from affectkit import __version__

    metrics = Metrics()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        t0 = time.perf_counter()
        models = await asyncio.to_thread(_load_models, settings)
        metrics.model_load_seconds.set(time.perf_counter() - t0)
        executor = ThreadPoolExecutor(1, thread_name_prefix="affectkit-inference")
        # recordings can take long: their own thread, so text requests never wait behind them
        audio_executor = ThreadPoolExecutor(1, thread_name_prefix="affectkit-audio")
        batchers: dict[str, Batcher] = {}
        for task in ("sentiment", "emotion"):
            if task in models:
                model = models[task]
                batchers[task] = Batcher(lambda texts, key, m=model: m.analyze(texts), executor,
                                         settings.max_batch, on_batch=metrics.batch_size.observe)
        pair = [models.get("sentiment"), models.get("emotion")]
        if all(getattr(m, "kind", "") == "transformer" for m in pair) and pair[0]._bb() is pair[1]._bb():
            from affectkit.analyzers.transformer import analyze_heads

            batchers["sentiment+emotion"] = Batcher(
                lambda texts, key: list(zip(*analyze_heads(pair, texts), strict=True)), executor, settings.max_batch,
                on_batch=metrics.batch_size.observe)
        if "aspects" in models:
            asp = models["aspects"]
            batchers["aspects"] = Batcher(lambda texts, key, a=asp: a.analyze(texts, list(key) if key else None),
                                          executor, settings.max_batch, on_batch=metrics.batch_size.observe)
        for b in batchers.values():
            b.start()
        store = JobStore(Path(settings.jobs_dir))
        runner = JobRunner(store, settings.job_workers)
        state.update(models=models, executor=executor, audio_executor=audio_executor, batchers=batchers,
                     store=store, runner=runner)
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
            audio_executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="affectkit", version=__version__, lifespan=lifespan,
        description="Sentiment, emotion and aspect analysis; review-file jobs. "
                    "Text routes take `{\"texts\": [...]}` and return one result per text, in order.",
    )

    def openapi() -> dict[str, Any]:  # the schema states the limits that the routes answer with 413
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for name in ("TextsRequest", "AspectsRequest", "AnalyzeRequest"):
                texts = schema.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {}).get("texts")
                if texts is not None:
                    texts["maxItems"] = settings.max_texts
                    for option in texts.get("items", {}).get("anyOf", []):
                        if option.get("type") == "string":
                            option["maxLength"] = settings.max_chars
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.affectkit = state
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization"])
    app.add_middleware(_BodyLimit, settings=settings)

    @app.middleware("http")
    async def _observe(request: Request, call_next: Any) -> Any:
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            metrics.observe(getattr(route, "path", "unmatched"), request.method, status, time.perf_counter() - t0)

    # ---- errors: one shape everywhere, never a bare 500 for bad input

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.type, exc.message, exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large"}.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        message = str(exc.detail)
        if exc.status_code == 405:  # Allow lists every method of the path, across routes
            from starlette.routing import Match

            methods = sorted({m for r in app.router.routes if r.matches(request.scope)[0] != Match.NONE
                              for m in (getattr(r, "methods", None) or ())})
            headers["Allow"] = ", ".join(methods)
            message = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(methods)}."
        return _error(exc.status_code, kind, message, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        bad_json = [e for e in errors if e["type"] == "json_invalid"]
        if bad_json:
            where = bad_json[0]["loc"][-1] if bad_json[0]["loc"] else "?"
            return _error(400, "invalid_json", f"The request body is not valid JSON (error at character {where}). "
                          "Send a JSON object such as {\"texts\": [\"...\"]}.", errors)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        return _error(422, "validation_error", f"{where}: {first['msg']}{more}. See /docs for the request schema.",
                      errors)

    @app.exception_handler(InvalidInputError)
    async def _bad_input(request: Request, exc: InvalidInputError) -> JSONResponse:
        return _error(422, "invalid_input", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal_error", f"Internal error ({type(exc).__name__}). It is logged on the server.")

    # ---- authentication

    async def require_key(request: Request, key: Annotated[str | None, Depends(header_key)] = None,
                    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> None:
        expected = settings.api_key
        if not expected:
            return
        challenge = {"WWW-Authenticate": "Bearer"}
        if "authorization" in request.headers and token is None:
            raise HTTPException(401, "The Authorization header must be 'Bearer <key>'.", headers=challenge)
        given = [k for k in (key, token.credentials if token else None) if k is not None]
        if not given:
            raise HTTPException(401, "This server needs an API key: send it as an 'X-API-Key' header "
                                     "or 'Authorization: Bearer <key>'.", headers=challenge)
        if not all(hmac.compare_digest(k.encode("utf-8", "replace"), expected.encode("utf-8")) for k in given):
            raise HTTPException(401, "The API key is wrong.", headers=challenge)

    secured = [Depends(require_key)]

    # ---- helpers

    def _model(task: str) -> Any:
        models = state.get("models", {})
        if task not in models:
            raise ApiError(503, "unavailable", f"This server has no {task} model loaded "
                                               f"(start it with --{task} MODEL).")
        return models[task]

    def _check_texts(texts: list[str | None]) -> None:
        if len(texts) > settings.max_texts:
            raise ApiError(413, "too_many_texts", f"The request has {len(texts)} texts; the limit is "
                                                  f"{settings.max_texts} per request. Split them over several requests.")
        for i, t in enumerate(texts):
            if t is not None and len(t) > settings.max_chars:
                raise ApiError(413, "text_too_long", f"texts[{i}] has {len(t)} characters; the limit is "
                                                     f"{settings.max_chars}. Split it, or use a review job (/v1/jobs).")

    async def _timed(coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, settings.timeout_s)
        except TimeoutError:
            raise ApiError(504, "timeout", f"The analysis took longer than {settings.timeout_s:g} s. "
                                           "Send fewer or shorter texts per request.") from None

    async def _explain(task: str, texts: list[str | None]) -> list[Any]:
        from affectkit.explain import explain

        model = _model(task)
        live = [i for i, t in enumerate(texts[: settings.max_explain_texts]) if t is not None and t.strip()]
        out: list[Any] = [None] * len(texts)
        if live:
            loop = asyncio.get_running_loop()
            got = await loop.run_in_executor(state["executor"], lambda: explain(
                model, [texts[i] for i in live], max_tokens=settings.explain_max_tokens))
            for i, e in zip(live, got, strict=True):
                out[i] = e.to_dict()
        return out

    async def _results(task: str, texts: list[str | None], explain: bool,
                       computed: Any = None, abstain: float | None = None) -> list[dict[str, Any]]:
        _model(task)
        metrics.texts.labels(task).inc(len(texts))
        results = computed if computed is not None else await state["batchers"][task].submit(texts)
        if abstain is not None and task == "sentiment":
            from affectkit.base import abstain_result

            results = [abstain_result(r, abstain) for r in results]
        dicts = [r.to_dict() for r in results]
        if explain:
            for i, (d, e) in enumerate(zip(dicts, await _explain(task, texts), strict=True)):
                if e is None and i >= settings.max_explain_texts:
                    e = {"label": d["label"], "score": d["scores"][d["label"]], "method": "occlusion", "tokens": [],
                         "note": f"not explained: explanations cost one prediction per token, so only the first "
                                 f"{settings.max_explain_texts} texts of a request are explained"}
                d["explanation"] = e
        return dicts

    async def _aspects(texts: list[str | None], aspects: list[str] | None) -> list[dict[str, Any]]:
        _model("aspects")
        metrics.texts.labels("aspects").inc(len(texts))
        key = tuple(aspects) if aspects else None
        got = await state["batchers"]["aspects"].submit([t if t is not None else "" for t in texts], key)
        return [a.to_dict() for a in got]

    def _model_names() -> dict[str, str | None]:
        models = state.get("models", {})
        return {"sentiment": settings.sentiment if "sentiment" in models else None,
                "emotion": settings.emotion if "emotion" in models else None,
                "aspects": settings.sentiment if "aspects" in models else None,
                "audio": settings.audio if "audio" in models else None}

    # ---- routes

    text_errors = _responses(400, 401, 413, 422, 503, 504)

    @app.post("/v1/sentiment", response_model=S.ResultsResponse, dependencies=secured, responses=text_errors,
              tags=["analysis"])
    async def sentiment(body: S.SentimentRequest) -> dict[str, Any]:
        """Sentiment (negative / neutral / positive with probabilities) of each text."""
        _check_texts(body.texts)
        return {"model": settings.sentiment,
                "results": await _timed(_results("sentiment", body.texts, body.explain, abstain=body.abstain))}

    @app.post("/v1/emotion", response_model=S.ResultsResponse, dependencies=secured, responses=text_errors,
              tags=["analysis"])
    async def emotion(body: S.TextsRequest) -> dict[str, Any]:
        """Emotions of each text at three levels: GoEmotions 27 + neutral, Ekman 6 + neutral, polarity."""
        _check_texts(body.texts)
        return {"model": settings.emotion, "results": await _timed(_results("emotion", body.texts, body.explain))}

    @app.post("/v1/aspects", response_model=S.AspectsResponse, dependencies=secured, responses=text_errors,
              tags=["analysis"])
    async def aspects(body: S.AspectsRequest) -> dict[str, Any]:
        """Sentiment per aspect: extracted aspect terms, or the ones given, each with its span and polarity."""
        _check_texts(body.texts)
        return {"model": settings.sentiment, "results": await _timed(_aspects(body.texts, body.aspects))}

    @app.post("/v1/analyze", response_model=S.AnalyzeResponse, dependencies=secured, responses=text_errors,
              tags=["analysis"])
    async def analyze(body: S.AnalyzeRequest) -> dict[str, Any]:
        """Every requested analysis of every text in one call."""
        _check_texts(body.texts)
        tasks = list(dict.fromkeys(body.tasks))
        for t in tasks:
            _model(t)
        # one encoder pass for sentiment and emotion when they are the two heads of one model
        pair = "sentiment+emotion" in state["batchers"] and {"sentiment", "emotion"} <= set(tasks)

        async def run() -> dict[str, Any]:
            calls: dict[str, Any] = {"pair": state["batchers"]["sentiment+emotion"].submit(body.texts)} if pair else {}
            for t in tasks:
                if t == "aspects":
                    calls[t] = _aspects(body.texts, body.aspects)
                elif not pair:
                    calls[t] = _results(t, body.texts, body.explain, abstain=body.abstain)
            done = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
            if pair:
                shared = done.pop("pair")
                for k, t in enumerate(("sentiment", "emotion")):
                    done[t] = await _results(t, body.texts, body.explain, [r[k] for r in shared], body.abstain)
            return done

        got = await _timed(run())
        results = [{"text": text, **{t: got[t][i] for t in tasks}} for i, text in enumerate(body.texts)]
        return {"models": _model_names(), "results": results}

    @app.post("/v1/audio", response_model=S.AudioResponse, dependencies=secured, operation_id="audio",
              responses=_responses(400, 401, 413, 422, 504), tags=["analysis"], include_in_schema=bool(settings.audio))
    async def audio(file: Annotated[UploadFile, File(description="An audio file (wav, flac, ogg, mp3).")],
                    transcript: Annotated[str | None, Form(description="What is said (default: speech-to-text "
                                                                       "when the server has it).")] = None) -> Any:
        """Emotion from speech and text (7 classes): each branch's probabilities and their fusion.

        A file that is not readable audio, or holds no sound, gives 422 with the reason.
        """
        model = _model("audio")
        if transcript is not None and len(transcript) > settings.max_chars:
            raise ApiError(413, "text_too_long", f"The transcript has {len(transcript)} characters; the limit is "
                                                 f"{settings.max_chars}.")
        import uuid

        folder = Path(settings.jobs_dir) / ".audio"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = next((s for s in (".wav", ".flac", ".ogg", ".mp3") if (file.filename or "").lower().endswith(s)),
                      ".audio")
        target = folder / f"{uuid.uuid4().hex}{suffix}"  # a name made here; removed when answered
        try:
            size = 0
            with target.open("wb") as fh:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    fh.write(chunk)
            if size == 0:
                raise ApiError(422, "empty_file", "The uploaded audio file is empty (0 bytes).")
            loop = asyncio.get_running_loop()
            result = await _timed(loop.run_in_executor(state["audio_executor"],
                                                       lambda: model.analyze(target, transcript)))
        finally:
            target.unlink(missing_ok=True)
        return result.to_dict() | {"model": settings.audio}

    job_errors = _responses(400, 401, 413, 422, 429, 503)

    get_job_link = {"GetJob": {"operationId": "get_job", "parameters": {"job_id": "$response.body#/id"},
                               "description": "The job's status and results."},
                    "GetReport": {"operationId": "job_file",
                                  "parameters": {"job_id": "$response.body#/id", "name": "report.html"},
                                  "description": "The job's report, once it is done."}}

    @app.post("/v1/jobs", response_model=S.JobOut, status_code=202, dependencies=secured, tags=["jobs"],
              operation_id="create_job",
              responses=job_errors | {202: {"description": "The job is queued.", "links": get_job_link}})
    async def create_job(
        file: Annotated[UploadFile, File(description="Reviews: CSV, TSV, JSONL or Parquet, also .gz or .zip.")],
        text_col: Annotated[str, Form(description="Column holding the review text.", min_length=1)],
        id_col: Annotated[str | None, Form()] = None,
        time_col: Annotated[str | None, Form()] = None,
        rating_col: Annotated[str | None, Form(description="1-5 star column (rating agreement).")] = None,
        format: Annotated[Literal["auto", "csv", "tsv", "jsonl", "parquet"], Form(
            description="The file's format; 'auto': from its name, else from its content.")] = "auto",
        topics: Annotated[FormBool, Form(description="Find topics (needs the [topics] extra).")] = True,
        aspects: Annotated[FormBool, Form(description="Sentiment per aspect.")] = True,
        csv: Annotated[FormBool, Form(description="Also write reviews.csv.")] = False,
    ) -> dict[str, Any]:
        """Run the review pipeline on an uploaded file, in the background. Poll `GET /v1/jobs/{id}`.

        A file that cannot be read, or lacks the named columns, gives a job with status
        `failed` and the reason in `error`.
        """
        if "sentiment" not in state["models"] and "emotion" not in state["models"]:
            raise ApiError(503, "unavailable", "This server has no sentiment or emotion model for jobs.")
        waiting = state["store"].counts()
        if waiting.get("queued", 0) + waiting.get("running", 0) >= settings.max_queued_jobs:
            raise ApiError(429, "too_many_jobs", f"{settings.max_queued_jobs} jobs are already queued or running; "
                                                 "try again when one has finished.")
        name = file.filename or "upload"
        if topics:
            from affectkit.reviews.embed import available

            topics = available()
        params = {"text_col": text_col, "id_col": id_col or None, "time_col": time_col or None,
                  "rating_col": rating_col or None, "format": None if format == "auto" else format, "topics": bool(topics),
                  "aspects": bool(aspects), "csv": bool(csv),
                  "sentiment": settings.sentiment if "sentiment" in state["models"] else None,
                  "emotion": settings.emotion if "emotion" in state["models"] else None}
        store: JobStore = state["store"]
        job_id = store.create(name, "", params)
        target = store.folder(job_id) / "input.upload"
        size, head = 0, b""
        with target.open("wb") as fh:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    fh.close()
                    target.unlink(missing_ok=True)
                    store.update(job_id, status="failed", error="upload too large")
                    raise ApiError(413, "payload_too_large", f"The upload is over the limit of "
                                                             f"{settings.max_upload_bytes} bytes.")
                head = head or chunk[:4096]
                fh.write(chunk)
        if size == 0:
            target.unlink(missing_ok=True)
            store.update(job_id, status="failed", finished=store.get(job_id)["created"],
                         error="The uploaded file is empty: expected a header line and rows.")
            return _job_out(store.get(job_id))
        suffix = upload_suffix(name) or (f".{format}" if format != "auto" else sniff_suffix(head))
        target.rename(store.input_path(job_id, suffix))
        store.update(job_id, suffix=suffix)
        state["runner"].submit(job_id)
        return _job_out(store.get(job_id))

    def _job_out(job: dict[str, Any] | None) -> dict[str, Any]:
        assert job is not None
        files: dict[str, str] = {}
        if job["status"] == "done":
            out = state["store"].folder(job["id"]) / "out"
            files = {n: f"/v1/jobs/{job['id']}/files/{n}" for n in RESULT_FILES if (out / n).is_file()}
        import json

        return {"id": job["id"], "status": job["status"], "filename": job["filename"], "created": job["created"],
                "started": job["started"], "finished": job["finished"],
                "progress": {"done": job["done"], "total": job["total"]}, "error": job["error"], "files": files,
                "summary": json.loads(job["summary"]) if job["summary"] else None}

    def _job(job_id: str) -> dict[str, Any]:
        job = state["store"].get(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"There is no job {job_id!r}.")
        return job

    @app.get("/v1/jobs", response_model=S.JobList, dependencies=secured, responses=_responses(401), tags=["jobs"])
    async def list_jobs() -> dict[str, Any]:
        """The 50 most recent jobs."""
        return {"jobs": [_job_out(j) for j in state["store"].list(50)]}

    @app.get("/v1/jobs/{job_id}", response_model=S.JobOut, dependencies=secured, operation_id="get_job",
             responses=_responses(401) | {404: {"model": S.ErrorResponse, "description": "No such job."}},
             tags=["jobs"])
    async def get_job(job_id: str) -> dict[str, Any]:
        """A job's status, progress, summary and result files."""
        return _job_out(_job(job_id))

    @app.get("/v1/jobs/{job_id}/files/{name}", dependencies=secured, tags=["jobs"], operation_id="job_file",
             responses=_responses(401, 422) | {404: {"model": S.ErrorResponse, "description": "No such job or file."},
                                          200: {"description": "The file.", "content": {
                                              t.split(";")[0]: {} for t in RESULT_FILES.values()}}})
    async def job_file(job_id: str, name: ResultName) -> FileResponse:
        """Download one result file of a finished job (404 until it is done)."""
        job = _job(job_id)
        path = state["store"].folder(job["id"]) / "out" / name
        if job["status"] != "done" or not path.is_file():
            raise ApiError(404, "not_found", f"The job has no {name} (status: {job['status']}).")
        disposition = "inline" if name == "report.html" else "attachment"
        return FileResponse(path, media_type=RESULT_FILES[name], filename=name, content_disposition_type=disposition)

    @app.get("/healthz", response_model=S.Health, tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness and the loaded models (no API key needed)."""
        return {"status": "ok" if state.get("models") is not None else "starting", "version": __version__,
                "models": _model_names()}

    @app.get("/metrics", dependencies=secured, tags=["service"], response_model=None,
             responses=_responses(401) | {200: {"description": "Prometheus text format.",
                                                "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus() -> PlainTextResponse:
        """Prometheus metrics (text format)."""
        body, content_type = metrics.render()
        return PlainTextResponse(body, media_type=content_type)

    static = resources.files("affectkit.service") / "static"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app

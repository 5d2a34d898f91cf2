"""Review-file jobs: upload a file, poll the job, download its results.

The pipeline runs in the background (see :mod:`affectkit.service.jobs`); a request only queues
the job or reads its state.
"""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BeforeValidator

import affectkit.service.schemas as S
from affectkit.service.deps import AppRuntime, JobStoreDep, Settings, secured
from affectkit.service.errors import ApiError, responses
from affectkit.service.jobs import RESULT_FILES, JobStore, sniff_suffix, upload_suffix
from affectkit.service.uploads import save_upload

__all__ = ["router"]

# FastAPI reads endpoint annotations at runtime, so this module does not postpone them.


def _form_bool(value: Any) -> Any:
    if isinstance(value, str):
        if value.lower() not in ("true", "false"):
            raise ValueError(f"expected 'true' or 'false', got {value[:20]!r}")
        return value.lower() == "true"
    return value


FormBool = Annotated[bool, BeforeValidator(_form_bool)]
ResultName = Literal[tuple(RESULT_FILES)]  # type: ignore[valid-type]

router = APIRouter(tags=["jobs"], dependencies=secured)

_GET_JOB_LINK = {"GetJob": {"operationId": "get_job", "parameters": {"job_id": "$response.body#/id"},
                            "description": "The job's status and results."},
                 "GetReport": {"operationId": "job_file",
                               "parameters": {"job_id": "$response.body#/id", "name": "report.html"},
                               "description": "The job's report, once it is done."}}


def job_out(store: JobStore, job: dict[str, Any] | None) -> dict[str, Any]:
    """A job as the API shows it (``JobOut``), with links to its result files once it is done."""
    assert job is not None
    files: dict[str, str] = {}
    if job["status"] == "done":
        out = store.folder(job["id"]) / "out"
        files = {n: f"/v1/jobs/{job['id']}/files/{n}" for n in RESULT_FILES if (out / n).is_file()}
    return {"id": job["id"], "status": job["status"], "filename": job["filename"], "created": job["created"],
            "started": job["started"], "finished": job["finished"],
            "progress": {"done": job["done"], "total": job["total"]}, "error": job["error"], "files": files,
            "summary": json.loads(job["summary"]) if job["summary"] else None}


def _job(store: JobStore, job_id: str, cancelled: bool = False) -> dict[str, Any]:
    """The job, 404 when there is none; a cancelled job is gone too, but to ``DELETE`` (``cancelled=True``)."""
    job = store.get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"There is no job {job_id!r}.")
    if job["status"] == "cancelled" and not cancelled:
        raise ApiError(404, "not_found", f"There is no job {job_id!r}: it was cancelled.")
    return job


@router.post("/v1/jobs", response_model=S.JobOut, status_code=202, operation_id="create_job",
             responses=responses(400, 401, 413, 422, 429, 503)
             | {202: {"description": "The job is queued.", "links": _GET_JOB_LINK}})
async def create_job(
    settings: Settings,
    runtime: AppRuntime,
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
    models, store = runtime.models, runtime.store
    if "sentiment" not in models and "emotion" not in models:
        raise ApiError(503, "unavailable", "This server has no sentiment or emotion model for jobs.")
    waiting = store.counts()
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
              "sentiment": settings.sentiment if "sentiment" in models else None,
              "emotion": settings.emotion if "emotion" in models else None,
              "max_input_bytes": settings.max_job_input_bytes, "max_rows": settings.max_job_rows,
              "max_input_ratio": settings.max_job_input_ratio}
    job_id = store.create(name, "", params, server=runtime.runner.identity)
    target = store.folder(job_id) / "input.upload"
    try:
        size, head = await save_upload(file, target, settings.max_upload_bytes)
    except ApiError:
        store.update(job_id, status="failed", error="upload too large")
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        store.update(job_id, status="failed", finished=store.get(job_id)["created"],
                     error="The uploaded file is empty: expected a header line and rows.")
        return job_out(store, store.get(job_id))
    suffix = upload_suffix(name) or (f".{format}" if format != "auto" else sniff_suffix(head))
    target.rename(store.input_path(job_id, suffix))
    store.update(job_id, suffix=suffix)
    runtime.runner.submit(job_id)
    return job_out(store, store.get(job_id))


@router.get("/v1/jobs", response_model=S.JobList, responses=responses(401))
async def list_jobs(store: JobStoreDep) -> dict[str, Any]:
    """The 50 most recent jobs."""
    return {"jobs": [job_out(store, j) for j in store.list(50) if j["status"] != "cancelled"]}


@router.get("/v1/jobs/{job_id}", response_model=S.JobOut, operation_id="get_job",
            responses=responses(401) | {404: {"model": S.ErrorResponse, "description": "No such job."}})
async def get_job(job_id: str, store: JobStoreDep) -> dict[str, Any]:
    """A job's status, progress, summary and result files."""
    return job_out(store, _job(store, job_id))


_NO_JOB = {404: {"model": S.ErrorResponse, "description": "No such job."}}


@router.delete("/v1/jobs/{job_id}", response_model=S.JobOut, operation_id="cancel_job",
               responses=responses(401) | _NO_JOB | {409: {"model": S.ErrorResponse,
                                                          "description": "The job has finished: nothing to cancel."}}
               | {200: {"description": "The job, cancelled (and gone from then on)."}})
def cancel_job(job_id: str, runtime: AppRuntime) -> dict[str, Any]:
    """Cancel a job: a queued one never runs; a running one is stopped at once (its process and its
    workers are killed). Its files are removed and the job is gone: `GET` answers 404 from then on.
    Answers the job, now `cancelled`, and the same again to a repeated `DELETE`; a job that has
    finished (`done` or `failed`) answers 409 and is kept.
    """
    store = runtime.store
    job = _job(store, job_id, cancelled=True)
    if job["status"] in ("queued", "running"):
        runtime.runner.cancel(job["id"])  # waits (in FastAPI's threadpool) until its process is gone
        job = _job(store, job_id, cancelled=True)
    if job["status"] in ("done", "failed"):
        raise ApiError(409, "finished", f"The job has already finished (status: {job['status']}); there is "
                                        "nothing to cancel. Its results stay available.")
    return job_out(store, job)


#: Sent with every result file: no type sniffing, and nothing in a file may load from elsewhere.
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
#: The report inlines plotly.js and its own scripts and styles, and its images as data: URLs; it may
#: load nothing from anywhere, runs sandboxed (an opaque origin: no access to the service's origin,
#: its storage or its API key) and cannot be framed by another site.
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
              "font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
              "sandbox allow-scripts allow-downloads allow-popups")
#: The other files are data: never a page that runs anything.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


@router.get("/v1/jobs/{job_id}/files/{name}", operation_id="job_file",
            responses=responses(401, 422) | {404: {"model": S.ErrorResponse, "description": "No such job or file."},
                                             200: {"description": "The file.", "content": {
                                                 t.split(";")[0]: {} for t in RESULT_FILES.values()}}})
async def job_file(job_id: str, name: ResultName, store: JobStoreDep) -> FileResponse:
    """Download one result file of a finished job (404 until it is done).

    Every file is sent with `X-Content-Type-Options: nosniff` and a Content-Security-Policy: the
    report may run only its own inline scripts, sandboxed, and load nothing from anywhere.
    """
    job = _job(store, job_id)
    path = store.folder(job["id"]) / "out" / name
    if job["status"] != "done" or not path.is_file():
        raise ApiError(404, "not_found", f"The job has no {name} (status: {job['status']}).")
    report = name == "report.html"
    headers = _NOSNIFF | {"Content-Security-Policy": REPORT_CSP if report else DATA_CSP}
    return FileResponse(path, media_type=RESULT_FILES[name], filename=name, headers=headers,
                        content_disposition_type="inline" if report else "attachment")

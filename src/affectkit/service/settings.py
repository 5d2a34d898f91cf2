"""The service's settings: what it loads and the limits it enforces, with every environment variable.

Every field can be set as an argument (``ServiceSettings(max_texts=32)``, which ``affectkit serve``
does from its options) or by an environment variable named ``AFFECTKIT_`` + the field's name in
capitals; an argument wins over the environment. Lists take JSON
(``AFFECTKIT_CORS_ORIGINS='["https://example.org"]'``). The limits are declared constraints: a value
out of range fails when the settings are made, with a ``ValueError`` that names the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MiB", "ServiceSettings"]

MiB = 1024 * 1024

Positive = Annotated[int, Field(ge=1)]


class ServiceSettings(BaseSettings):
    """What the service loads and the limits it enforces.

    ``api_key=None`` (the default, when ``AFFECTKIT_API_KEY`` is not set either) reads
    ``AFFECTKIT_API_KEY`` again when the app is created; an empty key turns the check off.
    ``sentiment``, ``emotion`` and ``audio`` take any model name or directory (``None`` leaves
    the analysis out; its routes answer 503).

    Environment variables (each overridden by the argument of the same name):

    ============================  ==================================================
    ``AFFECTKIT_API_KEY``         the API key clients must send (empty: no check)
    ``AFFECTKIT_SENTIMENT``       sentiment model (default ``sentiment``)
    ``AFFECTKIT_EMOTION``         emotion model (default ``emotion``)
    ``AFFECTKIT_ASPECTS``         serve ``/v1/aspects`` (default ``true``)
    ``AFFECTKIT_AUDIO``           speech + text emotion model (default: none)
    ``AFFECTKIT_JOBS_DIR``        folder of jobs and uploads (default ``affectkit-jobs``)
    ``AFFECTKIT_MAX_TEXTS`` ...   one per limit below, by the field's name
    ============================  ==================================================
    """

    model_config = SettingsConfigDict(env_prefix="AFFECTKIT_", frozen=True, extra="forbid")

    sentiment: str | None = Field("sentiment", description="Sentiment model name or directory; None: left out.")
    emotion: str | None = Field("emotion", description="Emotion model name or directory; None: left out.")
    aspects: bool = Field(True, description="Serve aspect sentiment (needs the sentiment model).")
    audio: str | None = Field(None, description="Speech + text emotion model for /v1/audio; None: left out.")
    api_key: str | None = Field(None, description="The key clients send as X-API-Key or a bearer token; "
                                                  "'' turns the check off (env: AFFECTKIT_API_KEY).")
    jobs_dir: Path = Field(Path("affectkit-jobs"), description="Folder for uploads, job results and jobs.sqlite.")
    max_texts: Positive = Field(128, description="Texts per request (413 above).")
    max_chars: Positive = Field(50_000, description="Characters per text (413 above).")
    max_body_bytes: Positive = Field(16 * MiB, description="Bytes of a JSON request body (413 above).")
    max_upload_bytes: Positive = Field(200 * MiB, description="Bytes of an uploaded file (413 above).")
    timeout_s: float = Field(60.0, gt=0, description="Seconds an analysis may take before a 504.")
    max_batch: Positive = Field(64, description="Texts per model call of the dynamic batcher.")
    explain_max_tokens: Positive = Field(128, description="Tokens explained per text.")
    max_explain_texts: Positive = Field(16, description="Texts explained per request (the rest get a note).")
    max_request_work: Positive = Field(2_000_000, description="Characters of model work per request (413 above): "
                                       "each text's characters, once per model pass.")
    max_explain_work: Positive = Field(500_000, description="Characters of work that a request's explanations may "
                                       "cost (one pass of a text per explained token); texts past it get a note.")
    header_timeout_s: float = Field(10.0, gt=0, description="Seconds a client has to send its request headers "
                                                          "(affectkit serve closes the connection after).")
    lane_chars: Positive = Field(8_000, description="Requests of at most this much work run in the fast lane, whose "
                                                     "model calls take at most this much; larger ones in the heavy lane.")
    cors_origins: tuple[str, ...] = Field((), description="Origins allowed to call from a browser (JSON list).")
    job_workers: Positive = Field(1, description="Review jobs run at the same time.")
    max_queued_jobs: Positive = Field(20, description="Jobs queued or running before new ones get 429.")
    resume_jobs: bool = Field(True, description="Queue again, at start, the jobs a previous run left unfinished.")
    # reading a job's file: the review pipeline's limits (affectkit.reviews.io; the same defaults)
    max_job_input_bytes: Positive = Field(4096 * MiB, description="Bytes of a job's file once decompressed.")
    max_job_rows: Positive = Field(5_000_000, description="Rows of a job's file.")
    max_job_input_ratio: float = Field(100.0, gt=0, description="Times its size a compressed job file may expand "
                                                                "(past its first 64 MiB).")

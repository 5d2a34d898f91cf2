"""Review-file jobs: stored in SQLite, run by the review pipeline in a separate process.

Every job lives in ``JOBS_DIR/<id>/`` (``id``: 32 hex digits made here, never taken from a
request): the uploaded file as ``input<suffix>`` and the pipeline's outputs in ``out/``.
File names that come back out are checked against :data:`RESULT_FILES`, so no path from a
request reaches the file system. A job interrupted by a restart of the service is queued
again and resumes from the pipeline's checkpoint.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["JobStore", "JobRunner", "RESULT_FILES", "UPLOAD_SUFFIXES", "sniff_suffix", "upload_suffix", "valid_job_id"]

#: Files of a finished job that can be downloaded, with their media types.
RESULT_FILES = {
    "report.html": "text/html; charset=utf-8",
    "reviews.parquet": "application/vnd.apache.parquet",
    "topics.parquet": "application/vnd.apache.parquet",
    "reviews.sqlite": "application/vnd.sqlite3",
    "summary.json": "application/json",
    "reviews.csv": "text/csv; charset=utf-8",
}
#: Accepted upload types: the (lower-cased) end of the uploaded file's name.
UPLOAD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet", ".csv.gz", ".tsv.gz", ".jsonl.gz", ".csv.zip",
                   ".tsv.zip", ".jsonl.zip", ".zip", ".gz")
_ID = re.compile(r"^[0-9a-f]{32}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, filename TEXT NOT NULL, suffix TEXT NOT NULL,
    params TEXT NOT NULL, created TEXT NOT NULL, started TEXT, finished TEXT,
    done INTEGER NOT NULL DEFAULT 0, total INTEGER, error TEXT, summary TEXT
)
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def valid_job_id(job_id: str) -> bool:
    return bool(_ID.match(job_id))


def upload_suffix(filename: str) -> str | None:
    """The accepted suffix that ``filename`` ends with (longest match), or None."""
    name = filename.lower()
    matches = [s for s in UPLOAD_SUFFIXES if name.endswith(s)]
    return max(matches, key=len) if matches else None


def sniff_suffix(head: bytes) -> str:
    """A file suffix for an upload whose name does not tell its type, from its first bytes."""
    if head.startswith(b"PAR1"):
        return ".parquet"
    if head.startswith(b"\x1f\x8b"):
        return ".gz"
    if head.startswith(b"PK\x03\x04"):
        return ".zip"
    first = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    if first.startswith(b"{"):
        return ".jsonl"
    line = first.split(b"\n", 1)[0]
    return ".tsv" if b"\t" in line and b"," not in line else ".csv"


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.row_factory = sqlite3.Row
    return con


class JobStore:
    """The jobs table (one SQLite file in the jobs folder)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = self.root / "jobs.sqlite"
        with _connect(self.db) as con:
            con.execute(_SCHEMA)

    def folder(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def create(self, filename: str, suffix: str, params: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex
        self.folder(job_id).mkdir()
        with _connect(self.db) as con:
            con.execute(
                "INSERT INTO jobs (id, status, filename, suffix, params, created) VALUES (?, 'queued', ?, ?, ?, ?)",
                (job_id, filename[:255], suffix, json.dumps(params), _now()),
            )
        return job_id

    def input_path(self, job_id: str, suffix: str) -> Path:
        return self.folder(job_id) / f"input{suffix}"

    def get(self, job_id: str) -> dict[str, Any] | None:
        if not valid_job_id(job_id):
            return None
        with _connect(self.db) as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with _connect(self.db) as con:
            rows = con.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with _connect(self.db) as con:
            rows = con.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def update(self, job_id: str, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        with _connect(self.db) as con:
            con.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*fields.values(), job_id))  # noqa: S608 - fixed names

    def unfinished(self) -> list[str]:
        with _connect(self.db) as con:
            rows = con.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running') ORDER BY created").fetchall()
        return [r[0] for r in rows]


def _run_job(root: str, job_id: str) -> None:
    """Run one job (in the job process): status, progress and outcome go to the jobs table."""
    from affectkit.reviews.pipeline import run_reviews

    store = JobStore(Path(root))
    job = store.get(job_id)
    if job is None:
        return
    params = json.loads(job["params"])
    store.update(job_id, status="running", started=_now(), error=None)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            store.update(job_id, done=int(done), total=int(total))

    stored = store.input_path(job_id, job["suffix"])
    try:
        result = run_reviews(stored, out_dir=store.folder(job_id) / "out", progress=progress,
                             input_name=job["filename"], **params)
    except Exception as exc:  # the job fails with its message; the service keeps running
        log.warning("job %s failed: %s", job_id, exc)
        from affectkit.exceptions import AffectkitError

        message = str(exc) if isinstance(exc, AffectkitError) else f"{type(exc).__name__}: {exc}"
        message = message.replace(str(stored), job["filename"]).replace(stored.name, job["filename"])
        store.update(job_id, status="failed", finished=_now(), error=message[:2000])
        return
    store.update(job_id, status="done", finished=_now(), summary=json.dumps(result.summary, default=str))


class JobRunner:
    """Runs queued jobs, ``max_workers`` at a time, each in its own Python process.

    A process per job (``python -m affectkit.service.jobs ROOT ID``) keeps the pipeline's
    memory and threads away from the service, and lets shutdown stop a job at once; the job
    then resumes from its checkpoint at the next start.
    """

    def __init__(self, store: JobStore, max_workers: int = 1):
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="affectkit-jobs")
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._closing = False

    def submit(self, job_id: str) -> Future:
        return self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        if self._closing:
            return
        cmd = [sys.executable, "-m", "affectkit.service.jobs", str(self.store.root), job_id]
        log_path = self.store.folder(job_id) / "job.log"
        with log_path.open("ab") as log_file:
            proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            with self._lock:
                self._procs.add(proc)
            try:
                code = proc.wait()
            finally:
                with self._lock:
                    self._procs.discard(proc)
        if self._closing:
            return
        job = self.store.get(job_id)
        if code != 0 and job is not None and job["status"] in ("queued", "running"):
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-500:].strip()
            self.store.update(job_id, status="failed", finished=_now(),
                              error=f"The job's process stopped (exit code {code}). {tail}".strip())

    def resume(self) -> list[str]:
        """Queue again the jobs a previous run of the service left unfinished."""
        ids = self.store.unfinished()
        for job_id in ids:
            self.store.update(job_id, status="queued")
            self.submit(job_id)
        return ids

    def shutdown(self) -> None:
        self._closing = True
        with self._lock:
            for proc in self._procs:
                proc.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":  # python -m affectkit.service.jobs ROOT JOB_ID
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _run_job(sys.argv[1], sys.argv[2])

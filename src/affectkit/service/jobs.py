"""Review-file jobs: stored in SQLite, run by the review pipeline in a separate process.

Every job lives in ``JOBS_DIR/<id>/`` (``id``: 32 hex digits made here, never taken from a
request): the uploaded file as ``input<suffix>`` and the pipeline's outputs in ``out/``.
File names that come back out are checked against :data:`RESULT_FILES`, so no path from a
request reaches the file system.

Every job has owners, recorded in its row, so that no job ever runs twice:

* ``server``: the service process whose runner took the job (its identity: host, boot, pid
  and process start time, so that a pid used again later is not mistaken for it);
* ``owner``: while it runs, the one job process that claimed it, in one SQLite transaction
  that refuses the claim while another live process holds the job. The job process beats
  (``heartbeat``) every :data:`HEARTBEAT_S` seconds.

A job process is the leader of its own process group (its engine workers are in it). It dies
with its server (Linux ``PR_SET_PDEATHSIG``, and a watchdog thread that sees its parent go),
and stops itself when its job is cancelled or taken over. A service that starts takes over
the unfinished jobs of a server that is gone: it kills a job process that survived it (after
checking that the pid is still that job's process), queues the job again, and the job resumes
from the pipeline's checkpoint. A job is ``done`` only once all its files are written (each to
a temporary name, then renamed), and only its owner may mark it so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["JobStore", "JobRunner", "RESULT_FILES", "UPLOAD_SUFFIXES", "HEARTBEAT_S", "LEASE_S",
           "process_identity", "sniff_suffix", "upload_suffix", "valid_job_id"]

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
#: Statuses of a job that may still run.
UNFINISHED = ("queued", "running")
#: Seconds between a job process's heartbeats (it checks its parent every :data:`_WATCH_S`).
HEARTBEAT_S = 2.0
#: A job process on another host whose heartbeat is older than this is taken for gone.
LEASE_S = 30.0
_WATCH_S = 0.25
#: The job process's exit status when its server is gone (nothing is marked: the next server resumes the job).
EXIT_ORPHANED = 75
#: Set for the job process by its runner: the server's identity and pid.
SERVER_ENV, PARENT_ENV = "AFFECTKIT_JOB_SERVER", "AFFECTKIT_JOB_PARENT"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, filename TEXT NOT NULL, suffix TEXT NOT NULL,
    params TEXT NOT NULL, created TEXT NOT NULL, started TEXT, finished TEXT,
    done INTEGER NOT NULL DEFAULT 0, total INTEGER, error TEXT, summary TEXT,
    server TEXT, owner TEXT, heartbeat REAL
)
"""
#: Columns added since the first schema (a jobs.sqlite made before them gets them at open).
_ADDED = {"server": "TEXT", "owner": "TEXT", "heartbeat": "REAL"}


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


# -- processes -----------------------------------------------------------------------------------
_PROC = Path("/proc")


@lru_cache(maxsize=1)
def _host() -> str:
    """This machine (host name and, on Linux, the boot): pids are compared only within one."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def _proc_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), ``""`` where that cannot be
    read, None when no live process has this pid (a zombie counts as gone)."""
    if pid <= 0:
        return None
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        if (_PROC / "self" / "stat").exists():
            return None
    except OSError:
        pass
    else:
        fields = stat[stat.rindex(")") + 2:].split()
        return None if fields[0] in ("Z", "X", "x") else fields[19]
    try:  # no /proc (macOS): whether the pid is in use, and no start time
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def process_identity(pid: int) -> str:
    """``host|pid|start``: a process, told apart from a later one that gets the same pid."""
    return f"{_host()}|{pid}|{_proc_start(pid) or ''}"


def _parse(identity: str | None) -> tuple[str, int, str] | None:
    try:
        host, pid, start = str(identity).rsplit("|", 2)
        return host, int(pid), start
    except ValueError:
        return None


def _local_pid(identity: str | None) -> int | None:
    """The pid of the process ``identity`` names when it is on this machine and still alive, else None."""
    parsed = _parse(identity)
    if parsed is None or parsed[0] != _host():
        return None
    host, pid, start = parsed
    now = _proc_start(pid)
    return pid if now is not None and (not start or not now or now == start) else None


def _alive(identity: str | None, heartbeat: float | None) -> bool:
    """Whether the process ``identity`` names still lives: on this machine by its pid and start time,
    on another one by a heartbeat younger than :data:`LEASE_S`."""
    parsed = _parse(identity)
    if parsed is None:
        return False
    if parsed[0] == _host():
        return _local_pid(identity) is not None
    return heartbeat is not None and time.time() - float(heartbeat) < LEASE_S


def _is_job_process(pid: int, job_id: str) -> bool:
    """Whether ``pid`` runs this job's process (its command line names the module and the job),
    where /proc can tell; elsewhere its identity (pid and start) has to do."""
    try:
        cmd = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # no /proc, or not ours to read: the pid and its start time matched
        return True
    return b"affectkit.service.jobs" in cmd and job_id.encode() in cmd


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group that ``pid`` leads (a job process and its workers), else to ``pid``."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(identity: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _local_pid(identity) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_leftovers(pgid: int) -> None:
    """Linux: kill what is left of the session and group that a job process led once it is gone
    (engine workers whose leader was killed): processes whose session and group are both ``pgid``."""
    if not (_PROC / "self").exists() or _proc_start(pgid) is not None:
        return  # the leader lives (or its pid was used again): nothing here is a leftover
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and int(fields[3]) == pgid:  # pgrp, session
                os.kill(int(entry.name), signal.SIGKILL)


def stop_job_process(job: dict[str, Any], timeout: float = 10.0) -> bool:
    """Kill the job process that holds ``job`` (and its group) when it runs on this machine; whether
    none is left. A pid that now belongs to another process is never signalled."""
    owner = job.get("owner")
    pid = _local_pid(owner)
    if pid is None:
        parsed = _parse(owner)
        if parsed is not None and parsed[0] == _host():
            _kill_leftovers(parsed[1])
            return True
        return not _alive(owner, job.get("heartbeat"))
    if not _is_job_process(pid, job["id"]):
        return True  # the pid was used again by an unrelated process: the job process is gone
    log.warning("job %s: stopping its job process %d", job["id"], pid)
    _kill_group(pid)
    return _wait_gone(owner, timeout)


# -- the store -----------------------------------------------------------------------------------
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
            have = {r[1] for r in con.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED.items():
                if name not in have:
                    with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                        con.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    def folder(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def create(self, filename: str, suffix: str, params: dict[str, Any], server: str | None = None) -> str:
        job_id = uuid.uuid4().hex
        self.folder(job_id).mkdir()
        with _connect(self.db) as con:
            con.execute(
                "INSERT INTO jobs (id, status, filename, suffix, params, created, server) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, filename[:255], suffix, json.dumps(params), _now(), server),
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
        return [j["id"] for j in self.unfinished_jobs()]

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        with _connect(self.db) as con:
            rows = con.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created").fetchall()
        return [dict(r) for r in rows]

    # ownership: each change is one statement or one transaction, so two processes never both win
    def take(self, job_id: str, old_server: str | None, server: str) -> bool:
        """Make ``server`` the job's server in place of ``old_server`` (gone), queued again; whether it did."""
        with _connect(self.db) as con:
            cur = con.execute("UPDATE jobs SET server = ?, status = 'queued' WHERE id = ? AND server IS ? "
                              "AND status IN ('queued', 'running')", (server, job_id, old_server))
        return cur.rowcount == 1

    def claim(self, job_id: str, server: str | None, owner: str) -> str:
        """The job process ``owner`` claims the job: ``"ok"``; ``"gone"`` when it is finished,
        cancelled or another server's; ``"busy"`` while another live process holds it."""
        con = _connect(self.db)
        try:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] not in UNFINISHED or (server is not None and row["server"] != server):
                verdict = "gone"
            elif row["owner"] not in (None, owner) and _alive(row["owner"], row["heartbeat"]):
                verdict = "busy"
            else:
                con.execute("UPDATE jobs SET status = 'running', owner = ?, heartbeat = ?, started = ?, error = NULL "
                            "WHERE id = ?", (owner, time.time(), _now(), job_id))
                verdict = "ok"
            con.execute("COMMIT")
            return verdict
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
            con.close()

    def beat(self, job_id: str, owner: str) -> bool:
        """The owner's heartbeat; whether the job is still running and its own."""
        with _connect(self.db) as con:
            cur = con.execute("UPDATE jobs SET heartbeat = ? WHERE id = ? AND owner = ? AND status = 'running'",
                              (time.time(), job_id, owner))
        return cur.rowcount == 1

    def finish(self, job_id: str, owner: str, status: str, **fields: Any) -> bool:
        """Mark the job ``status`` (done, failed) if ``owner`` still holds it and it is running."""
        cols = "".join(f", {k} = ?" for k in fields)
        with _connect(self.db) as con:
            cur = con.execute(f"UPDATE jobs SET status = ?, finished = ?{cols} "  # noqa: S608 - fixed names
                              "WHERE id = ? AND owner = ? AND status = 'running'",
                              (status, _now(), *fields.values(), job_id, owner))
        return cur.rowcount == 1

    def fail_unless_taken(self, job_id: str, owner: str | None, error: str) -> bool:
        """Mark an unfinished job failed, unless its owner has changed from ``owner``."""
        with _connect(self.db) as con:
            cur = con.execute("UPDATE jobs SET status = 'failed', finished = ?, error = ? WHERE id = ? AND owner IS ? "
                              "AND status IN ('queued', 'running')", (_now(), error, job_id, owner))
        return cur.rowcount == 1

    def cancel(self, job_id: str) -> bool:
        """Mark a queued or running job cancelled; whether it was one."""
        with _connect(self.db) as con:
            cur = con.execute("UPDATE jobs SET status = 'cancelled', finished = ?, error = NULL WHERE id = ? "
                              "AND status IN ('queued', 'running')", (_now(), job_id))
        return cur.rowcount == 1


# -- the job process -----------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the thread that started it (the runner's) dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def _watch(store: JobStore, job_id: str, owner: str, parent: int) -> None:
    """In the job process: kill its group when the server goes, or the job is cancelled or taken over."""
    last = time.monotonic()
    while True:
        time.sleep(_WATCH_S)
        if os.getppid() != parent:
            log.warning("job %s: its service (pid %d) is gone; stopping", job_id, parent)
            break
        if time.monotonic() - last >= HEARTBEAT_S:
            last = time.monotonic()
            try:
                mine = store.beat(job_id, owner)
            except sqlite3.Error as exc:  # a busy database: try again at the next beat
                log.warning("job %s: heartbeat failed: %s", job_id, exc)
                continue
            if not mine:
                log.warning("job %s: cancelled or taken over; stopping", job_id)
                break
    if os.getpgrp() == os.getpid():  # the group's leader (as the runner starts it): its workers go with it
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(EXIT_ORPHANED)


def _run_job(root: str, job_id: str) -> int:
    """Run one job (in the job process): status, progress and outcome go to the jobs table.

    Returns the process's exit status: 0 when the job ran or was not this process's to run.
    """
    _die_with_parent()
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    if os.getppid() != parent:  # the server died before this process got going
        return EXIT_ORPHANED
    store = JobStore(Path(root))
    owner = process_identity(os.getpid())
    verdict = store.claim(job_id, os.environ.get(SERVER_ENV), owner)
    if verdict != "ok":
        log.info("job %s: not run (%s)", job_id, "another live process holds it" if verdict == "busy"
                 else "finished, cancelled or another server's")
        return 0
    from affectkit.reviews.pipeline import run_reviews

    threading.Thread(target=_watch, args=(store, job_id, owner, parent), daemon=True,
                     name="affectkit-job-watch").start()
    job = store.get(job_id)
    assert job is not None
    params = json.loads(job["params"])
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
        store.finish(job_id, owner, "failed", error=message[:2000])
        return 0
    # every output is in place (each written whole, then renamed): only now is the job done
    if not store.finish(job_id, owner, "done", summary=json.dumps(result.summary, default=str)):
        log.warning("job %s: finished, but it was cancelled or taken over meanwhile", job_id)
    return 0


# -- the runner ----------------------------------------------------------------------------------
class JobRunner:
    """Runs queued jobs, ``max_workers`` at a time, each in its own Python process.

    A process per job (``python -m affectkit.service.jobs ROOT ID``) keeps the pipeline's
    memory and threads away from the service, and lets shutdown or :meth:`cancel` stop a job at
    once (its whole process group); a job stopped by shutdown resumes from its checkpoint at the
    next start. ``identity`` is this server's, as jobs record it.
    """

    def __init__(self, store: JobStore, max_workers: int = 1):
        self.store = store
        self.identity = process_identity(os.getpid())
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="affectkit-jobs")
        self._procs: dict[str, subprocess.Popen] = {}
        self._taken: set[str] = set()
        self._lock = threading.Lock()
        self._closing = False

    def submit(self, job_id: str) -> Future:
        """Queue the job to run here (a job already queued or running here is not queued twice)."""
        with self._lock:
            if job_id in self._taken:
                done: Future = Future()
                done.set_result(None)
                return done
            self._taken.add(job_id)
        return self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        try:
            job = None if self._closing else self.store.get(job_id)
            if job is None or job["status"] not in UNFINISHED or job["server"] not in (None, self.identity):
                return
            if job["server"] is None and not self.store.take(job_id, None, self.identity):
                return
            if job["owner"] and not self._stop_earlier(job_id):
                log.warning("job %s: its earlier process %s is still alive; not started", job_id, job["owner"])
                return
            code, owner = self._launch(job_id)
        finally:
            with self._lock:
                self._taken.discard(job_id)
        if self._closing or code == 0:
            return
        job = self.store.get(job_id)
        if job is not None and job["status"] in UNFINISHED and job["owner"] in (None, owner):
            log_path = self.store.folder(job_id) / "job.log"
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-500:].strip()
            self.store.fail_unless_taken(job_id, job["owner"],
                                         f"The job's process stopped (exit code {code}). {tail}".strip())

    def _stop_earlier(self, job_id: str) -> bool:
        """Stop the process an earlier server left holding the job; on another host, wait (up to
        :data:`LEASE_S`) for it to see that the job was taken and stop itself. Whether none is left."""
        deadline = time.monotonic() + LEASE_S + HEARTBEAT_S
        while True:
            job = self.store.get(job_id)
            if job is None or not job["owner"] or stop_job_process(job):
                return True
            if self._closing or time.monotonic() > deadline:
                return False
            time.sleep(HEARTBEAT_S)

    def _launch(self, job_id: str) -> tuple[int, str]:
        """Start the job's process (the leader of a new process group) and wait for it."""
        cmd = [sys.executable, "-m", "affectkit.service.jobs", str(self.store.root), job_id]
        env = dict(os.environ, **{SERVER_ENV: self.identity, PARENT_ENV: str(os.getpid())})
        try:
            log_file = (self.store.folder(job_id) / "job.log").open("ab")
        except FileNotFoundError:  # cancelled, its folder removed, since this runner looked
            return 0, ""
        with log_file:
            proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
            owner = process_identity(proc.pid)
            with self._lock:
                self._procs[job_id] = proc
            try:
                return proc.wait(), owner
            finally:
                with self._lock:
                    self._procs.pop(job_id, None)

    def resume(self) -> list[str]:
        """Take over the unfinished jobs of servers that are gone (this one's earlier run, say) and
        queue them; a job process one of them left running is stopped first. Jobs of a live server
        are left to it."""
        ids = []
        for job in self.store.unfinished_jobs():
            server = job["server"]
            if server not in (None, self.identity) and _alive(server, job["heartbeat"]):
                continue
            if self.store.take(job["id"], server, self.identity):
                self.submit(job["id"])
                ids.append(job["id"])
        return ids

    def cancel(self, job_id: str, timeout: float = 10.0) -> bool:
        """Cancel a queued or running job: it is marked ``cancelled``, its process group is killed and
        its folder (upload, partial outputs, log) removed. Whether it was queued or running."""
        if not self.store.cancel(job_id):
            return False
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None:
            _kill_group(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        job = self.store.get(job_id)
        if job is not None and stop_job_process(job, timeout):  # a process no runner of ours started
            shutil.rmtree(self.store.folder(job_id), ignore_errors=True)
        return True

    def shutdown(self) -> None:
        self._closing = True
        with self._lock:
            for proc in self._procs.values():
                _kill_group(proc.pid, signal.SIGTERM)
        self._pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":  # python -m affectkit.service.jobs ROOT JOB_ID
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(_run_job(sys.argv[1], sys.argv[2]))

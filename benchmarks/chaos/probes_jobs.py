"""Probes of the service's review jobs: SIGKILL of the service mid-job, cancellation, bombs, downloads."""

from __future__ import annotations

import gzip
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from run import Context, Row

ROWS = 20_000
# made up for these probes
OPENERS = ["The kettle", "This jacket", "The blender", "My new lamp", "The delivery", "The charger"]
VERDICTS = ["works well", "broke quickly", "is lovely", "was awful", "feels cheap", "is great value"]


def _csv(n: int = ROWS) -> bytes:
    lines = ["id,text"] + [f"r{i:06d},{OPENERS[i % 6]} {VERDICTS[(i // 6) % 6]} (note {i})" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(jobs: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    cmd = [sys.executable, "-m", "affectkit.cli.main", "serve", "--port", str(port), "--jobs-dir", str(jobs),
           "--sentiment", "lexicon", "--emotion", "none", "--no-aspects", "--audio", "none"]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=dict(os.environ, AFFECTKIT_API_KEY=""))
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(log.read_text(errors="replace")[-2000:])


def _job_processes(job_id: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if b"affectkit.service.jobs" in cmd and job_id.encode() in cmd and state != "Z":
                found.append(int(d.name))
    return found


def _wait(url: str, job_id: str, seconds: float, until=lambda j: j["status"] not in ("queued", "running"),
          watch=None) -> dict:
    t0 = time.monotonic()
    job: dict = {}
    while time.monotonic() - t0 < seconds:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        if watch:
            watch()
        if until(job):
            return job
        time.sleep(0.2)
    return job


def probe_sigkill_of_the_service_mid_job(ctx: Context) -> list[Row]:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        jobs, log = Path(tmp) / "jobs", Path(tmp) / "server.log"
        first, url = _serve(jobs, log)
        job_id = httpx.post(url + "/v1/jobs", files={"file": ("reviews.csv", _csv())},
                            data={"text_col": "text", "id_col": "id", "topics": "false"}, timeout=60).json()["id"]
        job = _wait(url, job_id, 120, until=lambda j: j["progress"]["done"] > 0)
        mid = job["progress"]["done"]
        first.kill()  # SIGKILL mid-job: no shutdown
        first.wait(10)
        time.sleep(3)
        orphans = _job_processes(job_id)
        second, url = _serve(jobs, log)
        most = 0

        def watch() -> None:
            nonlocal most
            most = max(most, len(_job_processes(job_id)))

        try:
            job = _wait(url, job_id, 300, watch=watch)
            data = httpx.get(url + job["files"]["reviews.parquet"], timeout=60) if job["status"] == "done" else None
        finally:
            second.terminate()
            second.wait(20)
        rows_ok = False
        if data is not None:
            frame = pd.read_parquet(io.BytesIO(data.content))
            rows_ok = len(frame) == ROWS and frame["id"].is_unique
        return [
            Row("SIGKILL of the service mid-job", "its job process goes with it",
                f"killed at {mid}/{ROWS} rows; {len(orphans)} job processes left 3 s later", not orphans),
            Row("restart after the SIGKILL", "exactly one process runs the job; it ends done, every row once, "
                "download complete", f"{most} process(es) at most; {job.get('status')}; rows ok: {rows_ok}",
                most == 1 and job.get("status") == "done" and rows_ok),
        ]


def probe_delete_cancels_and_downloads_are_safe(ctx: Context) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs, log = Path(tmp) / "jobs", Path(tmp) / "server.log"
        proc, url = _serve(jobs, log)
        try:
            job_id = httpx.post(url + "/v1/jobs", files={"file": ("reviews.csv", _csv(ROWS * 3))},
                                data={"text_col": "text", "topics": "false"}, timeout=60).json()["id"]
            _wait(url, job_id, 120, until=lambda j: j["progress"]["done"] > 0)
            r = httpx.delete(f"{url}/v1/jobs/{job_id}", timeout=30)
            time.sleep(1)
            after = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).status_code
            status = r.json().get("status") if r.status_code == 200 else None
            rows.append(Row("DELETE of a running job", "cancelled, its process gone, the job gone (404)",
                            f"{r.status_code} {status}, {len(_job_processes(job_id))} processes, GET then {after}",
                            status == "cancelled" and not _job_processes(job_id) and after == 404))
            small = httpx.post(url + "/v1/jobs", files={"file": ("reviews.csv", _csv(200))},
                               data={"text_col": "text", "topics": "false"}, timeout=60).json()["id"]
            job = _wait(url, small, 120)
            rep = httpx.get(url + job["files"]["report.html"], timeout=30) if job["status"] == "done" else None
            csp = rep.headers.get("content-security-policy", "") if rep is not None else ""
            nosniff = rep.headers.get("x-content-type-options") if rep is not None else None
            rows.append(Row("report.html download", "Content-Security-Policy and nosniff",
                            f"CSP {'default-src' in csp}, nosniff {nosniff}",
                            "default-src" in csp and nosniff == "nosniff"))
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as fh:
                fh.write(b"id,text\n")
                block = b"1,this line repeats for ever and ever\n" * 100_000
                for _ in range(250):  # ~1 GB once decompressed, ~1 MB compressed
                    fh.write(block)
            t0 = time.perf_counter()
            bomb = httpx.post(url + "/v1/jobs", files={"file": ("bomb.csv.gz", buf.getvalue())},
                              data={"text_col": "text", "topics": "false"}, timeout=60).json()["id"]
            job = _wait(url, bomb, 120)
            rows.append(Row(f"a {len(buf.getvalue()) / 2**20:.1f} MB .csv.gz job expanding to ~1 GB",
                            "fails fast with a clear message", f"{job['status']} after "
                            f"{time.perf_counter() - t0:.1f} s: {(job.get('error') or '')[:80]}",
                            job["status"] == "failed" and time.perf_counter() - t0 < 60))
        finally:
            proc.terminate()
            proc.wait(20)
    return rows


PROBES = [probe_sigkill_of_the_service_mid_job, probe_delete_cancels_and_downloads_are_safe]

"""Jobs have owners: a job never runs twice, survives a SIGKILL of its service, and can be cancelled.

Real job processes (``python -m affectkit.service.jobs``) on the lexicon model, with small
batches so that a job is caught between two checkpoint parts. A job process is frozen with
SIGSTOP where a test needs it to be mid-job, so no test depends on how fast anything runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from affectkit.service.app import ServiceSettings, create_app  # noqa: E402
from affectkit.service.jobs import SERVER_ENV, JobStore, process_identity  # noqa: E402
from affectkit.service.routes.jobs import REPORT_CSP  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

ROWS = 900
# Reviews written for these tests: every row a different sentence.
OPENERS = ["The kettle", "This jacket", "The blender", "My new lamp", "The delivery", "The charger"]
VERDICTS = ["works well", "broke quickly", "is lovely", "was awful", "feels cheap", "is great value"]


def _write_input(path: Path, n: int = ROWS) -> list[str]:
    ids = [f"r{i:05d}" for i in range(n)]
    lines = ["id,text"] + [f"{rid},{OPENERS[i % 6]} {VERDICTS[(i // 6) % 6]} (note {i})" for i, rid in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def _new_job(root: Path, server: str | None = None, n: int = ROWS) -> tuple[JobStore, str, list[str]]:
    store = JobStore(root)
    params = {"text_col": "text", "id_col": "id", "topics": False, "aspects": False, "sentiment": "lexicon",
              "emotion": None, "batch_size": 3}
    job_id = store.create("reviews.csv", ".csv", params, server=server)
    ids = _write_input(store.input_path(job_id, ".csv"), n)
    return store, job_id, ids


def _job_processes(job_id: str) -> list[int]:
    """The live (not zombie) processes running this job."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if b"affectkit.service.jobs" in cmd and job_id.encode() in cmd and stat[stat.rindex(")") + 2] not in "ZX":
            found.append(int(entry.name))
    return found


def _parts(store: JobStore, job_id: str) -> int:
    return len(list((store.folder(job_id) / "out" / ".checkpoint" / "parts").glob("part-*.parquet")))


def _until(check, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _freeze_mid_job(store: JobStore, job_id: str) -> int:
    """Wait for the job's first checkpoint part, then stop its process group (SIGSTOP); its pid."""
    _until(lambda: _parts(store, job_id) > 0, what="the first checkpoint part")
    pid = int(store.get(job_id)["owner"].rsplit("|", 2)[1])
    os.killpg(pid, signal.SIGSTOP)
    assert 0 < _parts(store, job_id) < ROWS // 3, "the job is mid-job"
    return pid


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def _check_results(reviews: bytes, ids: list[str]) -> None:
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(reviews))  # a truncated file would not read
    assert len(frame) == len(ids)
    assert frame["row"].tolist() == list(range(len(ids)))  # every row once, in order
    assert frame["id"].tolist() == ids
    assert frame["sentiment"].notna().all()


# ---- a SIGKILL of the service mid-job, then a restart


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(root: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "affectkit.cli.main", "serve", "--port", str(port), "--jobs-dir", str(root),
           "--sentiment", "lexicon", "--emotion", "none", "--no-aspects", "--audio", "none"]
    env = dict(os.environ, AFFECTKIT_API_KEY="")
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    _until(up, 60, "the service to start")
    return proc, url


def _get(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read(), dict(r.headers)


def test_sigkill_of_the_service_mid_job_then_restart_runs_the_job_once(tmp_path):
    import json

    root = tmp_path / "jobs"
    store, job_id, ids = _new_job(root)
    first, _ = _serve(root, tmp_path / "server.log")  # resumes the queued job at start
    try:
        orphan = _freeze_mid_job(store, job_id)
    finally:
        first.kill()  # SIGKILL: no shutdown, no cleanup
        first.wait(10)
    with contextlib.suppress(ProcessLookupError):  # gone already (PR_SET_PDEATHSIG)
        os.killpg(orphan, signal.SIGCONT)
    # the job process dies with its service (PR_SET_PDEATHSIG, else its watchdog): no orphan is left
    _until(lambda: _gone(orphan), 15, "the orphaned job process to go")
    assert store.get(job_id)["status"] == "running"
    done_before = _parts(store, job_id)

    second, url = _serve(root, tmp_path / "server.log")
    try:
        most = 0

        def finished() -> dict | None:
            nonlocal most
            most = max(most, len(_job_processes(job_id)))
            job = json.loads(_get(f"{url}/v1/jobs/{job_id}")[0])
            return job if job["status"] not in ("queued", "running") else None

        job = _until(finished, 120, "the job to finish")
        assert job["status"] == "done", job["error"]
        assert most == 1  # exactly one process ran it after the restart
        assert job["summary"]["rows"] == ROWS and job["summary"]["resumed_rows"] == 3 * done_before > 0
        reviews, headers = _get(url + job["files"]["reviews.parquet"])
        assert int(headers["content-length"]) == len(reviews)
        _check_results(reviews, ids)
        report, headers = _get(url + job["files"]["report.html"])
        assert headers["x-content-type-options"] == "nosniff" and headers["content-security-policy"] == REPORT_CSP
        assert report.rstrip().endswith(b"</html>")
    finally:
        second.terminate()
        second.wait(15)
    assert "Traceback" not in (store.folder(job_id) / "job.log").read_text(errors="replace")


# ---- a job process that survived its service (no PR_SET_PDEATHSIG, a stuck watchdog)


def _dead_server() -> str:
    """The identity of a process that has exited: a service that is gone."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = process_identity(proc.pid)
    proc.communicate(b"")
    return identity


def test_a_restarted_service_kills_a_surviving_orphan_and_runs_the_job_once(tmp_path):
    gone = _dead_server()
    store, job_id, ids = _new_job(tmp_path, server=gone)
    env = dict(os.environ, **{SERVER_ENV: gone})
    cmd = [sys.executable, "-m", "affectkit.service.jobs", str(tmp_path), job_id]
    orphan = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        assert _freeze_mid_job(store, job_id) == orphan.pid
        # a second job process for the same job refuses it while the first lives
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "another live process holds it" in again.stderr
        assert store.get(job_id)["owner"] == process_identity(orphan.pid)

        app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                                         api_key=""))
        with TestClient(app) as client:
            assert orphan.wait(15) == -signal.SIGKILL  # the service stopped the orphan before running the job
            most = 0

            def finished() -> dict | None:
                nonlocal most
                most = max(most, len(_job_processes(job_id)))
                job = client.get(f"/v1/jobs/{job_id}").json()
                return job if job["status"] not in ("queued", "running") else None

            job = _until(finished, 120, "the job to finish")
            assert job["status"] == "done", job["error"]
            assert most == 1 and job["summary"]["resumed_rows"] > 0
            _check_results(client.get(job["files"]["reviews.parquet"]).content, ids)
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


# ---- DELETE /v1/jobs/{id}


@pytest.fixture
def client(tmp_path):
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                                     api_key="k3y"))
    with TestClient(app, headers={"X-API-Key": "k3y"}) as c:
        yield c


def _post(client, n: int = ROWS) -> str:
    """A job created as the route creates one, with small batches."""
    runtime = client.app.state.runtime
    _, job_id, _ = _new_job(runtime.store.root, server=runtime.runner.identity, n=n)
    runtime.runner.submit(job_id)
    return job_id


def test_delete_cancels_a_running_job_and_is_idempotent(client):
    store = client.app.state.runtime.store
    job_id = _post(client)
    pid = _freeze_mid_job(store, job_id)
    queued = _post(client)  # one job runs at a time: this one waits
    assert client.get(f"/v1/jobs/{queued}").json()["status"] == "queued"

    r = client.delete(f"/v1/jobs/{queued}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = client.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "cancelled" and job["files"] == {} and job["finished"]
    assert _gone(pid) and _job_processes(job_id) == []  # killed (stopped as it was), not left running
    assert not store.folder(job_id).exists()  # its upload and partial results are removed
    again = client.delete(f"/v1/jobs/{job_id}")  # a retried DELETE answers the same
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    # and the job is gone from the API
    r = client.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 404 and "cancelled" in r.json()["error"]["message"]
    assert client.get(f"/v1/jobs/{job_id}/files/reviews.parquet").status_code == 404
    assert {job_id, queued}.isdisjoint(j["id"] for j in client.get("/v1/jobs").json()["jobs"])

    # the runner goes on to the next job; the cancelled queued one never ran
    last = _post(client, n=12)
    job = _until(lambda: (j := client.get(f"/v1/jobs/{last}").json())["status"] not in ("queued", "running") and j,
                 what="the next job")
    assert job["status"] == "done", job["error"]
    assert store.get(queued)["status"] == "cancelled" and not store.folder(queued).exists()

    # a finished job cannot be cancelled, and is kept
    r = client.delete(f"/v1/jobs/{last}")
    assert r.status_code == 409 and "already finished" in r.json()["error"]["message"]
    assert client.get(f"/v1/jobs/{last}").json()["status"] == "done"
    download = client.get(job["files"]["reviews.parquet"])
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in download.headers["content-security-policy"]


def test_delete_needs_the_key_and_a_known_job(client):
    assert client.delete("/v1/jobs/" + "0" * 32).status_code == 404
    assert client.delete("/v1/jobs/not-a-job").status_code == 404
    assert client.delete("/v1/jobs/" + "0" * 32, headers={"X-API-Key": "wrong"}).status_code == 401

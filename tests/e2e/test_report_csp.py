"""The report as the service sends it (its Content-Security-Policy and nosniff headers), opened
directly in headless Chromium: it still draws its Plotly charts, and the policy blocks nothing
the report needs.

Skipped when the ``playwright`` package or Debian's ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Debian's Chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
for _mod in ("fastapi", "uvicorn", "multipart", "plotly"):
    pytest.importorskip(_mod, reason=f"needs {_mod}")

ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ROOT / "examples" / "reviews.csv"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def report_url(tmp_path_factory):
    """A finished job's report on a live service (uvicorn in a thread, the lexicon model)."""
    import httpx
    import uvicorn

    from affectkit.service.app import ServiceSettings, create_app

    settings = ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, api_key="",
                               jobs_dir=tmp_path_factory.mktemp("jobs"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with REVIEWS.open("rb") as fh:
            job = httpx.post(f"{base}/v1/jobs", files={"file": ("reviews.csv", fh, "text/csv")},
                             data={"text_col": "text", "time_col": "date", "rating_col": "rating",
                                   "topics": "false"}, timeout=30).json()
        while job["status"] in ("queued", "running"):
            assert time.monotonic() < deadline + 120, job
            time.sleep(0.3)
            job = httpx.get(f"{base}/v1/jobs/{job['id']}").json()
        assert job["status"] == "done", job["error"]
        yield base + job["files"]["report.html"]
    finally:
        server.should_exit = True
        thread.join(10)


def test_report_renders_under_its_content_security_policy(report_url):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            console: list[str] = []
            errors: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            response = page.goto(report_url)
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff"
            csp = headers["content-security-policy"]
            assert "default-src 'none'" in csp and "sandbox allow-scripts" in csp
            # the interactive charts are drawn: plotly.js and each chart's inline script ran
            sync_api.expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=30_000)
            assert page.locator(".js-plotly-plot").count() >= 3
            assert page.evaluate("() => typeof window.Plotly") == "object"
            refused = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
            assert not refused, refused
            assert not errors, errors
            # the sandbox gives the report an opaque origin: it cannot reach the service's storage
            assert page.evaluate("() => window.origin") == "null"
        finally:
            browser.close()

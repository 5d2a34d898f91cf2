"""End to end: the web page at ``/`` in headless Chromium, against the real service.

The service runs in-process (uvicorn in a thread, loopback only) with the shipped models.
Skipped when the ``playwright`` package or Debian's ``/usr/bin/chromium`` is missing;
``playwright install`` is never run (no network).
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Debian's Chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
for _mod in ("fastapi", "uvicorn", "multipart"):
    pytest.importorskip(_mod, reason=f"needs {_mod} (the [serve] extra)")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
REVIEWS = ROOT / "examples" / "reviews.csv"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MIXED = "The battery life is great but the screen scratches easily."
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"
KEY = "s3cret"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings):
    """Run the app with uvicorn in a daemon thread; yield its base URL."""
    import uvicorn

    from affectkit.service.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    from affectkit.service.app import ServiceSettings

    yield from _serve(ServiceSettings(api_key="", audio="audio", jobs_dir=tmp_path_factory.mktemp("jobs")))


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory):
    from affectkit.service.app import ServiceSettings

    yield from _serve(ServiceSettings(api_key=KEY, max_chars=200, jobs_dir=tmp_path_factory.mktemp("jobs-key")))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _screenshot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _analyze(pg, text: str) -> None:
    pg.fill("#text-input", text)
    pg.click("#analyze-btn")
    expect(pg.locator("#analyze-btn")).to_be_enabled()
    expect(pg.locator("#analyze-btn")).to_have_text("Analyze")


def test_analyze_text(page, base_url):
    page.goto(base_url)
    expect(page.locator("#health")).to_contain_text("sentiment")
    expect(page.locator("#explain")).to_be_checked()
    _analyze(page, MIXED)
    expect(page.locator("#sentiment-label")).not_to_be_empty()
    expect(page.locator("#analyze-error")).to_be_hidden()
    # the headline is the text's one verdict, the same one /v1/analyze returns (two strong
    # opposite aspects: mixed)
    shown = page.locator("#sentiment-label").text_content()
    api = page.request.post(f"{base_url}/v1/analyze", data={"texts": [MIXED]})
    assert api.ok, api.text()
    assert shown == api.json()["results"][0]["verdict"]["label"] == "mixed"
    expect(page.locator("#sentiment-reason")).to_contain_text("Mixed")
    expect(page.locator("#sentiment-bars .bar-row")).to_have_count(3)
    expect(page.locator("#sentiment-bars")).to_contain_text("%")

    # the three emotion levels, each with bars
    levels = page.locator("#emotion-levels .level")
    expect(levels).to_have_count(3)
    for i, title in enumerate(["Fine-grained", "Ekman", "Polarity"]):
        expect(levels.nth(i).locator("h4")).to_contain_text(title)
        assert levels.nth(i).locator(".bar-row").count() >= 4
    expect(levels.nth(0).locator(".bar-row")).to_have_count(5)

    # aspects: battery positive, screen negative, in the table and highlighted in the text
    rows = page.locator("#aspects tr.aspect-row")
    expect(rows.first).to_be_visible()
    verdicts = {r.locator(".aspect-term").text_content(): r.locator(".badge").text_content()
                for r in rows.all()}
    assert any("battery" in a and p == "positive" for a, p in verdicts.items()), verdicts
    assert any("screen" in a and p == "negative" for a, p in verdicts.items()), verdicts
    expect(page.locator("#aspects-text mark.asp.pos")).to_contain_text("battery")
    expect(page.locator("#aspects-text mark.asp.neg")).to_contain_text("screen")
    expect(page.locator("#aspects-text")).to_have_text(MIXED)

    # token explanations: coloured tokens with their weight as a tooltip, the text intact
    expl = page.locator("#explanation")
    expect(expl).to_be_visible()
    coloured = expl.locator(".tok-pos, .tok-neg")
    assert coloured.count() >= 3
    assert "weight" in (coloured.first.get_attribute("title") or "")
    backgrounds = {t.evaluate("e => getComputedStyle(e).backgroundColor") for t in coloured.all()}
    assert backgrounds and all(b.startswith("rgba(") and not b.endswith(" 0)") for b in backgrounds), backgrounds
    expect(expl.locator(".tokens").first).to_have_text(MIXED)
    _screenshot(page, "page-analyze.png")


def test_an_empty_text_is_not_analysed(page, base_url):
    page.goto(base_url)
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/v1/analyze" in r.url else None)
    page.fill("#text-input", "   ")
    page.click("#analyze-btn")
    expect(page.locator("#analyze-error")).to_be_visible()
    expect(page.locator("#analyze-error")).to_contain_text("Type or paste a text")
    expect(page.locator("#results")).to_be_hidden()
    assert requests == []
    _screenshot(page, "page-empty-text.png")


def test_emotion_from_a_recording(page, base_url):
    page.goto(base_url)
    card = page.locator("#audio-card")
    expect(card).to_be_visible()  # the server has the audio model
    page.click("#audio-btn")
    expect(page.locator("#audio-error")).to_contain_text("Choose a recording")
    page.set_input_files("#audio-input", str(ROOT / "examples" / "speech.flac"))
    page.fill("#audio-transcript", "I am furious, this is the third time it broke")
    page.click("#audio-btn")
    expect(page.locator("#audio-result")).to_be_visible(timeout=60_000)
    expect(page.locator("#audio-error")).to_be_hidden()
    expect(page.locator("#audio-bars .bar-row")).to_have_count(7)
    labels = {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert page.locator("#audio-label").text_content() in labels
    expect(page.locator("#audio-meta")).to_contain_text("third time it broke")
    _screenshot(page, "page-audio.png")
    # not audio: the service's reason is shown
    page.set_input_files("#audio-input", files=[{"name": "x.wav", "mimeType": "audio/wav", "buffer": b"not audio"}])
    page.click("#audio-btn")
    expect(page.locator("#audio-error")).to_be_visible()
    expect(page.locator("#audio-result")).to_be_hidden()


def test_no_recording_card_without_the_audio_model(page, keyed_url):
    page.goto(keyed_url)
    expect(page.locator("#health")).to_contain_text("Service")
    expect(page.locator("#audio-card")).to_be_hidden()


def test_review_job(page, base_url):
    page.goto(base_url)
    form_error = page.locator("#job-form-error")
    page.click("#job-btn")
    expect(form_error).to_contain_text("Choose a review file")
    # an empty upload: refused (422, under the form) or a failed job, its message shown either way
    page.set_input_files("#file-input", files=[{"name": "empty.csv", "mimeType": "text/csv", "buffer": b""}])
    page.click("#job-btn")
    expect(page.locator("#job-form-error:visible, #job-error:visible")).to_contain_text(re.compile("empty", re.I))
    expect(page.locator("#job-btn")).to_be_enabled()

    # a zip can't be read in the browser (a text input stays); a wrong column fails the job
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("reviews.csv", "body\nfine\nbad\n")
    page.set_input_files("#file-input", files=[{"name": "r.zip", "mimeType": "application/zip",
                                                "buffer": buf.getvalue()}])
    expect(page.locator("#columns-hint")).to_contain_text("type the column names")
    page.fill("input#text-col", "no_such_column")
    page.click("#job-btn")
    expect(page.locator("#job-status")).to_have_class("job-status st-failed", timeout=60_000)
    expect(page.locator("#job-error")).to_contain_text("no_such_column")
    expect(page.locator("#job-btn")).to_be_enabled()

    page.set_input_files("#file-input", str(REVIEWS))
    # the CSV header is read in the browser: the columns become <select>s with good guesses
    expect(page.locator("select#text-col")).to_have_value("text")
    expect(page.locator("select#rating-col")).to_have_value("rating")
    expect(page.locator("select#id-col")).to_have_value("id")
    expect(page.locator("select#time-col")).to_have_value("date")
    page.uncheck("#topics")
    page.click("#job-btn")
    expect(form_error).to_be_hidden()
    status = page.locator("#job-status")
    expect(status).to_have_class("job-status st-done", timeout=120_000)
    expect(page.locator("#job-error")).to_be_hidden()
    expect(status).to_contain_text("reviews.csv")
    assert page.locator("#job-progress").evaluate("p => p.value") == 1

    # the report, fetched with the key header and shown from a Blob URL in a sandboxed iframe
    frame_el = page.locator("#report-frame")
    expect(frame_el).to_be_visible()
    assert frame_el.get_attribute("sandbox") == ""
    assert (frame_el.get_attribute("src") or "").startswith("blob:")
    report = page.frame_locator("#report-frame")
    expect(report.locator("h2#sentiment")).to_contain_text("Sentiment")
    expect(report.locator("h2#rating")).to_be_visible()
    expect(page.locator("#job-summary")).to_contain_text("123")
    # the whole report opens in its own tab (the same Blob URL), not as a download
    open_link = page.locator("#report-open")
    expect(open_link).to_be_visible()
    assert open_link.get_attribute("target") == "_blank" and open_link.get_attribute("download") is None
    with page.context.expect_page() as tab_info:
        open_link.click()
    tab = tab_info.value
    expect(tab.locator("h2#sentiment")).to_contain_text("Sentiment")
    tab.close()

    # downloads go through fetch + Blob as well
    links = page.locator("#job-files a.file[download]")
    names = [n.strip() for n in links.locator(".file-name").all_text_contents()]
    assert {"report.html", "reviews.parquet", "summary.json"} <= set(names), names
    with page.expect_download() as info:
        page.locator("#job-files a.file[download='summary.json']").click()
    summary = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert summary["rows"] == 123
    _screenshot(page, "page-job.png")

    # after a reload the page picks the last job up again; Clear forgets it
    page.reload()
    expect(page.locator("#job-status")).to_have_class("job-status st-done")
    expect(page.frame_locator("#report-frame").locator("h2#sentiment")).to_be_visible()
    page.click("#job-clear")
    expect(page.locator("#job-panel")).to_be_hidden()
    page.reload()
    expect(page.locator("#health")).to_contain_text("Service ok")
    expect(page.locator("#job-panel")).to_be_hidden()


def test_text_is_never_markup(page, base_url):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(base_url)
    _analyze(page, XSS)
    expect(page.locator("#sentiment-label")).not_to_be_empty()
    expect(page.locator("#aspects-text")).to_have_text(XSS)
    tokens = page.locator("#explanation .tokens")
    if tokens.count():
        expect(tokens.first).to_have_text(XSS)
    assert page.locator("#results img, #results script").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_api_key_and_errors(page, keyed_url):
    page.goto(keyed_url)
    expect(page.locator("#health")).to_contain_text("Service ok")  # /healthz needs no key
    _analyze(page, "Thanks, this works.")
    err = page.locator("#analyze-error")
    expect(err).to_be_visible()
    expect(err).to_contain_text("needs an API key")
    expect(page.locator("#api-key")).to_be_visible()  # the settings panel opened
    expect(page.locator("#results")).to_be_hidden()

    # the upload of a job says the same
    page.set_input_files("#file-input", str(REVIEWS))
    expect(page.locator("select#text-col")).to_have_value("text")
    page.click("#job-btn")
    expect(page.locator("#job-form-error")).to_contain_text("needs an API key")
    expect(page.locator("#job-panel")).to_be_hidden()

    page.fill("#api-key", "wrong")
    expect(err).to_be_hidden()  # the stale "key needed" message goes once a key is typed
    _analyze(page, "Thanks, this works.")
    expect(err).to_contain_text("not accepted")

    page.fill("#api-key", KEY)
    _analyze(page, "Thanks, this works.")
    expect(err).to_be_hidden()
    expect(page.locator("#sentiment-label")).not_to_be_empty()
    assert page.evaluate("localStorage.getItem('affectkit.apiKey')") == KEY

    # the key survives a reload; a server error shows its message
    page.reload()
    expect(page.locator("#api-key")).to_have_value(KEY)
    _analyze(page, "word " * 60)
    expect(err).to_contain_text("the limit is 200")

    # a text the service warns about (cleaned control characters): the warnings show above the results
    _analyze(page, "fine\x00 thanks")
    expect(err).to_be_hidden()
    expect(page.locator("#warnings")).to_be_visible()
    expect(page.locator("#warnings li").first).not_to_be_empty()

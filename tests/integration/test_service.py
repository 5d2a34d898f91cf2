"""The HTTP service, called through httpx (FastAPI's TestClient) with the shipped models."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from affectkit.service.app import ServiceSettings, create_app  # noqa: E402
from affectkit.service.jobs import JobStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "reviews.csv"
SEED = "The product works great but delivery was delayed"

LIMITS = dict(max_texts=8, max_chars=2_000, max_body_bytes=64 * 1024, max_upload_bytes=256 * 1024)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(ServiceSettings(jobs_dir=tmp_path_factory.mktemp("jobs"), api_key="", **LIMITS))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, jobs_dir=tmp_path_factory.mktemp("jobs"),
                                     api_key="s3cret"))
    with TestClient(app) as c:
        yield c


def _wait(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job}")


# ---- text routes


def test_sentiment_one_result_per_text_in_order(client):
    texts = ["I love this so much!", None, "", "Terrible, broken on arrival.", "😀😀"]
    r = client.post("/v1/sentiment", json={"texts": texts})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "sentiment"
    results = body["results"]
    assert [x["text"] for x in results] == ["I love this so much!", "", "", "Terrible, broken on arrival.", "😀😀"]
    assert results[0]["label"] == "positive" and results[3]["label"] == "negative"
    assert results[1]["empty"] and results[1]["warnings"]  # null: a missing value, said so
    assert results[2]["empty"]
    for x in results:
        assert set(x["scores"]) == {"negative", "neutral", "positive"}
        assert abs(sum(x["scores"].values()) - 1) < 1e-5
        assert x["explanation"] is None


def test_empty_list_gives_empty_results(client):
    r = client.post("/v1/sentiment", json={"texts": []})
    assert r.status_code == 200 and r.json()["results"] == []


def test_emotion_has_three_levels(client):
    r = client.post("/v1/emotion", json={"texts": ["I am so grateful and happy, thank you!"]})
    assert r.status_code == 200
    res = r.json()["results"][0]
    assert res["multi_label"] and len(res["scores"]) == 28
    assert "gratitude" in res["labels"] or "joy" in res["labels"]
    assert set(res["levels"]) == {"ekman", "polarity"}
    assert "joy" in res["levels"]["ekman"]["labels"]
    assert res["levels"]["polarity"]["labels"] == ["positive"]


def test_aspects_seed_sentence(client):
    r = client.post("/v1/aspects", json={"texts": [SEED]})
    assert r.status_code == 200
    verdicts = {a["aspect"]: a for a in r.json()["results"][0]["aspects"]}
    assert verdicts["delivery"]["polarity"] == "negative" and verdicts["delivery"]["method"] == "model"
    assert SEED[verdicts["delivery"]["start"]:verdicts["delivery"]["end"]] == "delivery"
    # the reviewed thing itself is not an aspect term in SemEval's convention: name it to judge it
    r = client.post("/v1/aspects", json={"texts": [SEED], "aspects": ["product", "delivery"]})
    verdicts = {a["aspect"]: a for a in r.json()["results"][0]["aspects"]}
    assert verdicts["product"]["polarity"] == "positive" and verdicts["delivery"]["polarity"] == "negative"


def test_aspects_given_and_absent(client):
    r = client.post("/v1/aspects", json={"texts": ["Fair price, awful quality."], "aspects": ["price", "battery"]})
    assert r.status_code == 200
    got = {a["aspect"]: a for a in r.json()["results"][0]["aspects"]}
    assert got["price"]["found"] and got["price"]["source"] == "given"
    assert not got["battery"]["found"] and got["battery"]["polarity"] is None and got["battery"]["note"]


def test_abstain_answers_mixed_on_close_calls(client):
    texts = ["It was good in parts and bad in others, hard to say", "I absolutely love it, wonderful!"]
    plain = client.post("/v1/sentiment", json={"texts": texts}).json()["results"]
    top2 = [sorted(r["scores"].values())[-2:] for r in plain]
    margins = [b - a for a, b in top2]
    cut = (margins[0] + margins[1]) / 2
    assert margins[0] < cut < margins[1]
    got = client.post("/v1/sentiment", json={"texts": texts, "abstain": cut}).json()["results"]
    assert got[0]["label"] == "mixed" and got[0]["abstained"] and got[0]["labels"] == []
    assert got[0]["scores"] == plain[0]["scores"]
    assert got[1]["label"] == plain[1]["label"] and not got[1]["abstained"]
    both = client.post("/v1/analyze", json={"texts": texts, "tasks": ["sentiment", "emotion"], "abstain": cut})
    first = both.json()["results"][0]
    assert first["sentiment"]["label"] == "mixed" and not first["emotion"]["abstained"]
    assert client.post("/v1/sentiment", json={"texts": texts, "abstain": 1.5}).status_code == 422
    assert client.post("/v1/emotion", json={"texts": texts, "abstain": 0.2}).status_code == 422


def test_analyze_all_tasks_with_explanations(client):
    texts = [SEED, "What a wonderful, kind gesture."]
    r = client.post("/v1/analyze", json={"texts": texts, "explain": True})
    assert r.status_code == 200
    body = r.json()
    assert body["models"]["sentiment"] == "sentiment" and body["models"]["emotion"] == "emotion"
    assert [x["text"] for x in body["results"]] == texts
    for item in body["results"]:
        assert item["sentiment"]["task"] == "sentiment" and item["emotion"]["task"] == "emotion"
        assert item["aspects"]["text"] == item["text"]
        expl = item["sentiment"]["explanation"]
        assert expl["label"] == item["sentiment"]["label"] and expl["method"] == "occlusion"
        for tok in expl["tokens"]:
            assert item["sentiment"]["text"][tok["start"]:tok["end"]] == tok["token"]
    top = max(body["results"][1]["sentiment"]["explanation"]["tokens"], key=lambda t: t["weight"])
    assert top["token"] in ("wonderful", "kind")


def test_analyze_subset_of_tasks(client):
    r = client.post("/v1/analyze", json={"texts": ["ok"], "tasks": ["emotion"]})
    assert r.status_code == 200
    item = r.json()["results"][0]
    assert item["emotion"] is not None and item["sentiment"] is None and item["aspects"] is None


def test_batch_equals_one_by_one_under_concurrency(client):
    texts = [f"Review number {i}: {'great' if i % 2 else 'awful'} blender." for i in range(8)]
    together = client.post("/v1/sentiment", json={"texts": texts}).json()["results"]
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(8) as pool:
        alone = list(pool.map(lambda t: client.post("/v1/sentiment", json={"texts": [t]}).json()["results"][0], texts))
    for a, b in zip(together, alone, strict=True):
        assert a["label"] == b["label"]
        assert all(abs(a["scores"][k] - b["scores"][k]) < 1e-4 for k in a["scores"])


# ---- limits and bad requests: 4xx with a clear message, never a 500


def test_too_many_texts_413(client):
    r = client.post("/v1/sentiment", json={"texts": ["x"] * 9})
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["type"] == "too_many_texts" and "limit is 8" in err["message"]


def test_explanations_are_capped_with_a_note(tmp_path):
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                                     max_explain_texts=2))
    with TestClient(app) as c:
        r = c.post("/v1/sentiment", json={"texts": ["good", "bad", "fine"], "explain": True})
    assert r.status_code == 200
    got = [x["explanation"] for x in r.json()["results"]]
    assert got[0]["tokens"] and got[1]["tokens"]
    assert got[2]["tokens"] == [] and "first 2 texts" in got[2]["note"]


def test_schema_states_the_limits(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    texts = schema["TextsRequest"]["properties"]["texts"]
    assert texts["maxItems"] == 8
    assert {"type": "string", "maxLength": 2_000} in texts["items"]["anyOf"]
    for name in ("AnalyzeRequest", "SentimentRequest", "AspectsRequest"):  # every request that takes texts
        assert schema[name]["properties"]["texts"]["maxItems"] == 8, name


def test_a_request_of_too_much_work_is_refused_before_it_starts(tmp_path):
    settings = ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                               api_key="", max_request_work=1_000, max_explain_work=600, max_explain_texts=4)
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/sentiment", json={"texts": ["word " * 100]}).status_code == 200  # 500 characters
        r = c.post("/v1/sentiment", json={"texts": ["word " * 100] * 3})
        assert r.status_code == 413 and r.json()["error"]["type"] == "too_much_work"
        assert "max_request_work" in r.json()["error"]["message"]
        # explanations never make a request fail: a text whose explanation is over the budget gets a note
        r = c.post("/v1/sentiment", json={"texts": ["word " * 100, "good words", "fine"], "explain": True})
        assert r.status_code == 200
        first, second, third = (x["explanation"] for x in r.json()["results"])
        assert first["tokens"] == [] and "max_explain_work" in first["note"]
        assert sorted(tok["token"] for tok in second["tokens"]) == ["good", "words"]
        assert [tok["token"] for tok in third["tokens"]] == ["fine"]


def test_request_work_counts_passes_and_explained_tokens():
    from affectkit.service.guards import explained, work_of

    s = ServiceSettings(max_explain_texts=2, explain_max_tokens=3, max_explain_work=100)
    assert work_of(["abcd", "", None], s) == 4 + 1 + 1
    assert work_of(["abcd"], s, passes=2) == 8
    # the first text: 4 tokens, 3 explained: 3 more passes of its 11 characters, per explained analysis
    assert work_of(["ab cd ef gh", "x" * 60, "not explained"], s, explained_analyses=2) == 11 + 60 + 13 + 2 * 3 * 11
    notes = explained(["ab cd ef gh", "x" * 60, "one two"], s, analyses=2)
    assert notes[0] == "" and "max_explain_work" in notes[1] and "first 2 texts" in notes[2]


def test_text_too_long_413(client):
    r = client.post("/v1/analyze", json={"texts": ["fine", "y" * 2_001]})
    assert r.status_code == 413
    assert "texts[1]" in r.json()["error"]["message"]


def test_body_too_large_413(client):
    r = client.post("/v1/sentiment", content=b'{"texts": ["' + b"z" * 70_000 + b'"]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "limit" in r.json()["error"]["message"]


def test_chunked_body_too_large_413(client):
    def chunks():
        yield b'{"texts": ["'
        for _ in range(20):
            yield b"w" * 8192
        yield b'"]}'

    r = client.post("/v1/sentiment", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("body, status, words", [
    (b'{"texts": [', 400, "not valid JSON"),
    (b'\xff\xfe\x00garbage', 400, "not valid JSON"),
    (b'{"texts": "one text"}', 422, "body.texts"),
    (b'{"texts": [1, 2]}', 422, "body.texts.0"),
    (b'{"text": ["a"]}', 422, "body"),
    (b'{"texts": ["a"], "explain": "yes"}', 422, "body.explain"),
    (b'{"texts": ["a"], "color": "blue"}', 422, "color"),
    (b'[]', 422, "body"),
])
def test_malformed_requests_are_4xx_with_message(client, body, status, words):
    r = client.post("/v1/sentiment", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    err = r.json()["error"]
    assert err["status"] == status and words in err["message"]


def test_bad_aspect_terms_422(client):
    r = client.post("/v1/aspects", json={"texts": ["x"], "aspects": ["  "]})
    assert r.status_code == 422


def test_unknown_route_and_method(client):
    assert client.get("/v1/nothing").status_code == 404
    r = client.put("/v1/jobs")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}


def test_timeout_504(tmp_path):
    app = create_app(ServiceSettings(sentiment="sentiment", emotion=None, aspects=False, jobs_dir=tmp_path,
                                     timeout_s=0.001, max_chars=100_000))
    with TestClient(app) as c:
        r = c.post("/v1/sentiment", json={"texts": ["long review words " * 4000]})
    assert r.status_code == 504
    assert "longer than" in r.json()["error"]["message"]


def test_route_of_a_model_not_loaded_503(keyed):
    r = keyed.post("/v1/emotion", json={"texts": ["x"]}, headers={"X-API-Key": "s3cret"})
    assert r.status_code == 503
    assert "no emotion model" in r.json()["error"]["message"]
    r = keyed.post("/v1/audio", files={"file": ("a.wav", b"RIFF")}, headers={"X-API-Key": "s3cret"})
    assert r.status_code == 503 and "no audio model" in r.json()["error"]["message"]


# ---- authentication and CORS


def test_api_key_required_except_health(keyed):
    assert keyed.get("/healthz").status_code == 200
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
                    {"X-API-Key": "s3cret", "Authorization": "Bearer wrong"}):
        r = keyed.post("/v1/sentiment", json={"texts": ["x"]}, headers=headers)
        assert r.status_code == 401, headers
        assert "key" in r.json()["error"]["message"].lower() or "Bearer" in r.json()["error"]["message"]
    for path in ("/metrics", "/v1/jobs", "/v1/jobs/" + "0" * 32):
        assert keyed.get(path).status_code == 401
    ok = keyed.post("/v1/sentiment", json={"texts": ["nice"]}, headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200 and ok.json()["model"] == "lexicon"
    bearer = keyed.post("/v1/sentiment", json={"texts": ["nice"]}, headers={"Authorization": "Bearer s3cret"})
    assert bearer.status_code == 200


def _asgi_call(app, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, int]:
    """Call ``app`` as a server would; (status, body messages the app asked for)."""
    import asyncio

    asked = 0
    sent: list[dict] = []

    async def receive():
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "scheme": "http", "root_path": "", "app": app, "state": {}}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), asked


def test_a_request_without_the_key_is_refused_before_its_body_is_read(tmp_path):
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                                     api_key="s3cret"))
    app.state.runtime = object()  # the routes are never reached: no models needed
    upload = [(b"content-type", b"multipart/form-data; boundary=xyz"), (b"content-length", b"30000000")]
    for method, path, headers, body in [
        ("POST", "/v1/sentiment", [(b"content-type", b"application/json")], b'{"texts": [broken'),
        ("POST", "/v1/jobs", upload, b"--xyz\r\n" + b"a" * 1000),
        ("POST", "/v1/jobs", upload + [(b"x-api-key", b"wrong")], b"--xyz\r\n"),
        ("GET", "/metrics", [], b""),
    ]:
        status, asked = _asgi_call(app, method, path, headers, body)
        assert (status, asked) == (401, 0), (method, path)
    with TestClient(app) as c:  # broken JSON without a key: 401, not 400
        r = c.post("/v1/sentiment", content=b'{"texts": [', headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
        assert c.get("/healthz").status_code == 200


def test_spaces_around_the_key_are_not_part_of_it(keyed):
    # HTTP strips them from a header's value; both sides are treated alike
    from affectkit.service.middleware import key_problem

    for given in ("s3cret", " s3cret", "s3cret ", "\ts3cret "):
        assert key_problem({"x-api-key": given}, "s3cret") is None, repr(given)
        assert key_problem({"authorization": f"Bearer {given}"}, "s3cret") is None, repr(given)
    assert key_problem({"x-api-key": "s3 cret"}, "s3cret") == "The API key is wrong."
    assert "Bearer" in key_problem({"authorization": "Bearer "}, "s3cret")


def test_api_key_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECTKIT_API_KEY", "from-env")
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path))
    with TestClient(app) as c:
        assert c.post("/v1/sentiment", json={"texts": ["x"]}).status_code == 401
        assert c.post("/v1/sentiment", json={"texts": ["x"]}, headers={"X-API-Key": "from-env"}).status_code == 200


def test_cors_off_by_default_and_on_when_asked(client, tmp_path):
    pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/sentiment", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path,
                                     cors_origins=("https://example.org",)))
    with TestClient(app) as c:
        r = c.options("/v1/sentiment", headers=pre)
        assert r.headers["access-control-allow-origin"] == "https://example.org"


# ---- health, metrics, page, schema


def test_health_metrics_page_schema(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["models"]["sentiment"] == "sentiment"
    client.post("/v1/sentiment", json={"texts": ["a", "b"]})
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'affectkit_requests_total{method="POST",route="/v1/sentiment",status="200"}' in text
    assert "affectkit_texts_total" in text and "affectkit_batch_texts_bucket" in text
    assert 'affectkit_jobs{status="queued"}' in text
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<script" in page.text
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/v1/sentiment", "/v1/emotion", "/v1/aspects", "/v1/analyze", "/v1/jobs", "/v1/jobs/{job_id}",
            "/healthz", "/metrics"} <= set(schema["paths"])
    assert "413" in schema["paths"]["/v1/sentiment"]["post"]["responses"]


# ---- jobs


def test_job_runs_the_review_pipeline(client):
    with EXAMPLE.open("rb") as fh:
        r = client.post("/v1/jobs", files={"file": ("my reviews.csv", fh, "text/csv")},
                        data={"text_col": "text", "rating_col": "rating", "id_col": "id", "topics": "false",
                              "csv": "true"})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] in ("queued", "running") and job["filename"] == "my reviews.csv"
    job = _wait(client, job["id"])
    assert job["status"] == "done", job["error"]
    assert job["progress"]["done"] == job["progress"]["total"] == 123
    assert job["summary"]["rows"] == 123 and job["summary"]["input"] == "my reviews.csv"
    assert {"report.html", "reviews.parquet", "reviews.sqlite", "summary.json", "reviews.csv"} <= set(job["files"])
    report = client.get(job["files"]["report.html"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(client.get(job["files"]["reviews.parquet"]).content))
    assert len(frame) == 123 and frame["row"].tolist() == list(range(123))
    assert json.loads(client.get(job["files"]["summary.json"]).content)["rows"] == 123
    listed = client.get("/v1/jobs").json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]


def test_job_with_bad_column_fails_with_reason(client):
    r = client.post("/v1/jobs", files={"file": ("r.csv", b"id,body\n1,nice\n")}, data={"text_col": "text"})
    job = _wait(client, r.json()["id"])
    assert job["status"] == "failed"
    assert "'text'" in job["error"] and "body" in job["error"] and "r.csv" in job["error"]
    assert not job["error"].startswith("InvalidInputError")


def test_job_format_sniffed_and_empty_upload(client):
    r = client.post("/v1/jobs", files={"file": ("upload", b'{"review": "Lovely kettle"}\n{"review": "Leaks"}\n')},
                    data={"text_col": "review", "topics": "false", "aspects": "false"})
    job = _wait(client, r.json()["id"])
    assert job["status"] == "done", job["error"]
    r = client.post("/v1/jobs", files={"file": ("e.csv", b"")}, data={"text_col": "text"})
    assert r.status_code == 202 and r.json()["status"] == "failed" and "empty" in r.json()["error"]


def test_job_bad_form_values_422(client):
    r = client.post("/v1/jobs", files={"file": ("r.csv", b"text\nok\n")}, data={"text_col": "text", "topics": "1"})
    assert r.status_code == 422 and "topics" in r.json()["error"]["message"]
    r = client.post("/v1/jobs", data={"text_col": "text"})
    assert r.status_code == 422 and "file" in r.json()["error"]["message"]


def test_upload_too_large_413(client):
    r = client.post("/v1/jobs", files={"file": ("big.csv", b"text\n" + b"a" * 300_000)}, data={"text_col": "text"})
    assert r.status_code == 413


def test_no_path_from_a_request_reaches_the_file_system(client, tmp_path):
    root = Path(client.app.state.settings.jobs_dir)
    r = client.post("/v1/jobs", files={"file": ("../../../escape.csv", b"text\nhi\n")},
                    data={"text_col": "text", "topics": "false", "aspects": "false"})
    job = _wait(client, r.json()["id"])
    assert job["status"] == "done"
    assert not (root.parent / "escape.csv").exists() and not list(root.parent.glob("**/escape.csv"))
    assert (root / job["id"] / "input.csv").is_file()
    for path in (f"/v1/jobs/{job['id']}/files/..%2F..%2Fjobs.sqlite", f"/v1/jobs/{job['id']}/files/jobs.sqlite",
                 f"/v1/jobs/{job['id']}/files/input.csv"):
        assert client.get(path).status_code in (404, 422), path
    for bad in ("..%2F..%2Fetc", "x" * 32, "../jobs.sqlite"):
        assert client.get(f"/v1/jobs/{bad}").status_code == 404


def test_unfinished_job_resumes_when_the_service_starts(tmp_path):
    store = JobStore(tmp_path)
    job_id = store.create("r.csv", ".csv", {"text_col": "text", "topics": False, "aspects": False,
                                            "sentiment": "lexicon", "emotion": None})
    store.input_path(job_id, ".csv").write_text("text\ngreat\nbad\n")
    store.update(job_id, status="running")  # as if the service was killed while it ran
    app = create_app(ServiceSettings(sentiment="lexicon", emotion=None, aspects=False, jobs_dir=tmp_path))
    with TestClient(app) as c:
        job = _wait(c, job_id)
    assert job["status"] == "done" and job["summary"]["rows"] == 2


def test_settings_are_validated(tmp_path):
    with pytest.raises(ValueError, match="max_texts"):
        create_app(ServiceSettings(jobs_dir=tmp_path, max_texts=0))
    with pytest.raises(ValueError, match="timeout_s"):
        create_app(ServiceSettings(jobs_dir=tmp_path, timeout_s=0))


# ---- speech


def _speech_ready() -> bool:
    import importlib.util
    import shutil

    from affectkit.registry import shipped_model_path

    return (shutil.which("espeak-ng") is not None and importlib.util.find_spec("soundfile") is not None
            and (shipped_model_path("speech-emotion-v1") / "model.onnx").is_file())


@pytest.mark.skipif(not _speech_ready(), reason="needs espeak-ng, the [audio] extra and the speech model")
def test_audio_route(tmp_path):
    import subprocess

    wav = tmp_path / "angry.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "This is outrageous, I am absolutely furious!"], check=True)
    app = create_app(ServiceSettings(sentiment=None, emotion="emotion", aspects=False, audio="audio",
                                     jobs_dir=tmp_path / "jobs"))
    with TestClient(app) as c:
        assert "/v1/audio" in c.get("/openapi.json").json()["paths"]
        r = c.post("/v1/audio", files={"file": ("angry.wav", wav.read_bytes(), "audio/wav")},
                   data={"transcript": "This is outrageous, I am absolutely furious!"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "audio" and body["transcript_source"] == "given"
        assert body["branches"]["text"]["anger"] > 0.5 and body["label"] in body["scores"]
        assert body["windows"] >= 1 and body["duration_s"] > 1
        for payload, words in ((b"", "empty"), (b"definitely not audio", "Cannot read")):
            bad = c.post("/v1/audio", files={"file": ("x.wav", payload)})
            assert bad.status_code == 422 and words in bad.json()["error"]["message"]
        assert not list((tmp_path / "jobs" / ".audio").iterdir())  # uploads are removed once answered


def test_audio_errors_name_the_upload_not_the_server_file(tmp_path, monkeypatch):
    """A 422 names the file the client sent (its last path part, printable), never the server's temporary file."""
    pytest.importorskip("soundfile")
    import affectkit.registry
    from affectkit.audio.io import load_audio
    from affectkit.base import Tags

    class Speech:  # the real decoder behind a model that loads in no time
        tags = Tags(task="speech-emotion", modalities=("audio",))

        def _check_fitted(self):
            pass

        def analyze(self, audio, transcript=None):
            load_audio(audio)
            raise AssertionError("not audio: never decoded")

    monkeypatch.setattr(affectkit.registry, "load", lambda name: Speech())
    app = create_app(ServiceSettings(sentiment=None, emotion=None, aspects=False, audio="speech",
                                     jobs_dir=tmp_path / "jobs", api_key=""))
    with TestClient(app) as c:
        for sent, shown in (("my voice.wav", "my voice.wav"), ("../../etc/memo.flac", "memo.flac"),
                            ("C:\\Users\\me\\talk.mp3", "talk.mp3")):
            r = c.post("/v1/audio", files={"file": (sent, b"definitely not audio")})
            assert r.status_code == 422, r.text
            message = r.json()["error"]["message"]
            assert f"Cannot read {shown} as audio" in message
            assert ".audio/" not in message and str(tmp_path) not in message
            assert not any(len(part) == 32 and part.isalnum() for part in message.replace(".", " ").split())
    assert not list((tmp_path / "jobs" / ".audio").iterdir())
    from affectkit.service.routes.audio import upload_name

    assert upload_name("a\nb\x00\u202e.wav") == "ab.wav" and upload_name("x" * 300) == "x" * 100
    assert upload_name(None) == upload_name("../") == upload_name(" ") == "the upload"


def test_analyze_shares_one_encoder_pass_for_both_heads(client):
    assert "sentiment+emotion" in client.app.state.runtime.batchers
    texts = ["Thanks so much, this made my day!", "It broke again and I am fed up."]
    together = client.post("/v1/analyze", json={"texts": texts, "tasks": ["sentiment", "emotion"]}).json()["results"]
    for task in ("sentiment", "emotion"):
        alone = client.post(f"/v1/{task}", json={"texts": texts}).json()["results"]
        for a, b in zip((item[task] for item in together), alone, strict=True):
            assert a["labels"] == b["labels"]
            assert all(abs(a["scores"][k] - b["scores"][k]) < 1e-5 for k in a["scores"])


# ---- structure


def test_service_modules_never_import_the_service_package():
    """Modules of affectkit.service import each other by full name: no cycle through the package __init__."""
    import ast

    import affectkit.service.app as app_module

    root = Path(app_module.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert "affectkit.service" not in names, f"{path.name} imports the affectkit.service package"


def test_model_capabilities_come_from_tags(monkeypatch):
    """The speech analyzer shares the emotion model when its tags say it reads text; spin goes off by tag."""
    import affectkit.registry
    from affectkit.base import Tags
    from affectkit.service.runtime import load_models

    class Fake:
        def __init__(self, tags: Tags):
            self.tags, self.set = tags, {}

        def set_params(self, **params):
            self.set.update(params)

        def predict_proba(self, texts):
            return [[1.0] for _ in texts]

        def _check_fitted(self):
            pass

    made = {"emotion": Fake(Tags(task="emotion", spin=True)), "audio": Fake(Tags(modalities=("audio", "text"))),
            "speech": Fake(Tags(modalities=("audio",)))}
    monkeypatch.setattr(affectkit.registry, "load", lambda name: made[name])
    models = load_models(ServiceSettings(sentiment=None, emotion="emotion", audio="audio"))
    assert models["audio"].set == {"text": made["emotion"]} and made["emotion"].set == {"spin": False}
    models = load_models(ServiceSettings(sentiment=None, emotion="emotion", audio="speech"))
    assert made["speech"].set == {}


def test_analyze_gives_one_verdict_that_nothing_on_the_screen_contradicts(client):
    """The seed sentence: sentence, aspects and emotions of one /v1/analyze call reconciled."""
    from affectkit.emotion.taxonomy import POLARITY_MAP

    r = client.post("/v1/analyze", json={"texts": [SEED, "I hate this blender, it broke in a day."]})
    assert r.status_code == 200
    seed, bad = r.json()["results"]
    assert seed["verdict"]["label"] == "mixed"
    given = client.post("/v1/analyze", json={"texts": [SEED], "aspects": ["product", "delivery"]}).json()["results"][0]
    assert [a["polarity"] for a in given["aspects"]["aspects"]] == ["positive", "negative"]
    assert given["verdict"]["label"] == "mixed"
    v = bad["verdict"]
    assert v["label"] == "negative"
    assert not [e for e in v["emotions"] if POLARITY_MAP[e] == "positive"]
    assert set(v["contrary"]) <= set(bad["emotion"]["labels"])
    # without sentiment there is nothing to reconcile
    only = client.post("/v1/analyze", json={"texts": ["ok"], "tasks": ["emotion"]}).json()["results"][0]
    assert only["verdict"] is None

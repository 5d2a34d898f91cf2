"""The review job end to end: outputs, bad rows, checkpoint and resume, engines."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from affectkit.exceptions import InvalidInputError

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "reviews.csv"
FAST = {"sentiment": "sentiment-lexicon-v1", "emotion": "emotion-classic-v1"}  # fast models for plumbing tests


def _topics_installed() -> bool:
    from affectkit.reviews.embed import available

    return available()


@pytest.fixture(scope="module")
def example_job(tmp_path_factory):
    from affectkit.reviews import run_reviews

    out = tmp_path_factory.mktemp("example-run")
    return run_reviews(EXAMPLE, "text", out, id_col="id", time_col="date", rating_col="rating", csv=True)


def test_one_output_row_per_input_row_with_ids_kept(example_job):
    src = pd.read_csv(EXAMPLE)
    got = pd.read_parquet(example_job.files["reviews"])
    assert len(got) == len(src) == example_job.summary["rows"]
    assert got["row"].tolist() == list(range(len(src)))
    assert got["id"].tolist() == src["id"].tolist()  # the id column under its own name, in input order
    assert got["text"].fillna("").tolist() == src["text"].fillna("").tolist()
    csv = pd.read_csv(example_job.files["csv"])
    assert len(csv) == len(src)


def test_scores_are_complete_and_consistent(example_job):
    got = pd.read_parquet(example_job.files["reviews"])
    scored = got[got["text_clean"].notna()]
    probs = scored[["sentiment_negative", "sentiment_neutral", "sentiment_positive"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert (scored["sentiment"] == np.array(["negative", "neutral", "positive"])[probs.argmax(axis=1)]).all()
    emotion_cols = [c for c in got.columns if c.startswith("emotion_") and c != "emotion_top"]
    assert len(emotion_cols) == 28
    assert scored["emotions"].str.len().gt(0).all()
    assert all(top == emos.split(";")[0] for top, emos in zip(scored["emotion_top"], scored["emotions"], strict=True))
    for cell, text in zip(scored["aspects"], scored["text_clean"], strict=True):
        for a in json.loads(cell):
            assert text[a["start"] : a["end"]] == a["aspect"]  # offsets point into text_clean
            assert a["polarity"] in ("negative", "neutral", "positive")


def test_bad_rows_are_kept_and_flagged(example_job):
    got = pd.read_parquet(example_job.files["reviews"]).set_index("id")
    assert got.loc[11, "flags"] == "missing" and pd.isna(got.loc[11, "sentiment"])
    assert example_job.summary["flagged"] >= 1
    assert example_job.summary["scored"] == int(got["text_clean"].notna().sum())


def test_sqlite_holds_the_run(example_job):
    with sqlite3.connect(example_job.files["sqlite"]) as con:
        n = con.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
        aspects = con.execute("SELECT COUNT(*) FROM aspects").fetchone()[0]
        neg = con.execute("SELECT COUNT(*) FROM reviews WHERE sentiment = 'negative'").fetchone()[0]
        keys = {k for (k,) in con.execute("SELECT key FROM run")}
    con.close()
    assert n == example_job.summary["rows"]
    assert aspects == sum(len(json.loads(c)) for c in example_job.frame["aspects"].dropna())
    assert neg == example_job.summary["sentiment_counts"]["negative"]
    assert {"rows", "models", "rating_agreement"} <= keys


def test_report_and_summary(example_job):
    html = example_job.files["report"].read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot(") >= 4 and html.count("<script>") == html.count("Plotly.newPlot(") + 1
    from affectkit.reviews.plotly_charts import plotly_js

    page = html.replace(plotly_js(), "")  # the library inlined once; nothing else may point at the network
    assert len(page) < len(html) and "<script src" not in html
    assert "http://" not in page and "https://" not in page
    summary = json.loads((example_job.out_dir / "summary.json").read_text())
    assert summary["rows"] == 123
    agree = summary["rating_agreement"]
    assert agree["n"] > 50 and 0.5 < agree["agreement"] <= 1.0
    assert not (example_job.out_dir / ".checkpoint").exists()  # cleaned up once the outputs are written


@pytest.mark.skipif(not _topics_installed(), reason="needs the [topics] extra")
def test_topics_found_and_summarised(example_job):
    topics = pd.read_parquet(example_job.files["topics"])
    real = topics[topics["topic"] >= 0]
    assert len(real) >= 2
    assert real["label"].str.len().gt(0).all()
    assert set(real["topic"]) <= set(example_job.frame["topic"])
    assert real["size"].sum() + topics.loc[topics["topic"] < 0, "size"].sum() == len(example_job.frame)
    np.testing.assert_allclose(real[["share_negative", "share_neutral", "share_positive"]].sum(axis=1), 1.0)
    assert all(json.loads(r) for r in real["representative"])
    summary = json.loads((example_job.out_dir / "summary.json").read_text())
    assert len(summary["topic_input_sha256"]) == 64  # what the fit was given, to compare two runs by


def _bad_file(tmp_path: Path) -> Path:
    big = ("The kettle is fine and the handle is comfortable. " * 21000)[:1_000_000]
    rows = [
        b"id,text,stars",
        b'1,"Great toaster, evenly browned toast.",5',
        b"2,,3",
        b'3,"   ",2',
        b'4,"caf\xe9 au lait tastes of plastic, awful",1',
        b'5,"\xf0\x9f\x98\x8d\xf0\x9f\x98\x8d",5',
        b'6,"<p>Broke after a week.<br/>Refund was quick &amp; polite.</p>",2',
        b"7," + big.encode() + b",4",
    ]
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def test_bad_rows_never_lost(tmp_path):
    from affectkit.reviews import run_reviews

    job = run_reviews(_bad_file(tmp_path), "text", tmp_path / "out", id_col="id", rating_col="stars",
                      topics=False, report=False, **FAST)
    got = job.frame.set_index("id")
    assert got.index.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert got.loc[2, "flags"] == "missing" and got.loc[3, "flags"] == "empty"
    assert got.loc[4, "flags"] == "encoding" and got.loc[4, "sentiment"] == "negative"
    assert got.loc[5, "flags"] == "" and isinstance(got.loc[5, "sentiment"], str)  # emoji are signal
    assert got.loc[6, "text_clean"] == "Broke after a week. Refund was quick & polite."
    assert got.loc[7, "flags"] == "long" and len(got.loc[7, "text_clean"]) > 900_000
    assert isinstance(got.loc[7, "sentiment"], str)
    assert job.summary["flags"] == {"missing": 1, "empty": 1, "encoding": 1, "long": 1}


def _scores(frame):
    cols = [c for c in frame.columns if c.startswith(("sentiment", "emotion"))]
    return frame[["row", *cols]]


def _same_scores(a, b):
    a, b = _scores(a), _scores(b)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if a[col].dtype.kind == "f":
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), atol=1e-4, equal_nan=True)
        else:
            assert a[col].fillna("").tolist() == b[col].fillna("").tolist(), col


def test_killed_in_process_then_resumed_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    from affectkit.reviews import run_reviews, score

    whole = run_reviews(EXAMPLE, "text", tmp_path / "whole", topics=False, report=False, batch_size=16, **FAST)
    calls = {"n": 0}
    original = score.ReviewScorer.__call__

    def dies_on_third_batch(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated kill")
        return original(self, batch)

    monkeypatch.setattr(score.ReviewScorer, "__call__", dies_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run_reviews(EXAMPLE, "text", tmp_path / "run", topics=False, report=False, batch_size=16, **FAST)
    assert len(list((tmp_path / "run" / ".checkpoint" / "parts").glob("part-*.parquet"))) == 2
    monkeypatch.setattr(score.ReviewScorer, "__call__", original)
    resumed = run_reviews(EXAMPLE, "text", tmp_path / "run", topics=False, report=False, batch_size=50, **FAST)
    assert resumed.summary["resumed_rows"] == 32
    assert resumed.frame["row"].tolist() == list(range(123))
    _same_scores(resumed.frame, whole.frame)


def test_checkpoint_of_other_settings_is_not_mixed_in(tmp_path, monkeypatch):
    from affectkit.reviews import run_reviews, score

    real, calls = score.ReviewScorer.__call__, []

    def dies_after_one_batch(self, batch):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt("simulated kill")
        return real(self, batch)

    monkeypatch.setattr(score.ReviewScorer, "__call__", dies_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        run_reviews(EXAMPLE, "text", tmp_path / "run", topics=False, report=False, batch_size=50, **FAST)
    monkeypatch.undo()
    assert any((tmp_path / "run" / ".checkpoint" / "parts").glob("part-*.parquet"))  # one batch kept
    with pytest.raises(InvalidInputError, match="different scorer.*--overwrite"):
        run_reviews(EXAMPLE, "text", tmp_path / "run", topics=False, report=False, sentiment="sentiment-classic-v1",
                    emotion=FAST["emotion"])
    job = run_reviews(EXAMPLE, "text", tmp_path / "run", topics=False, report=False, overwrite=True,
                      sentiment="sentiment-classic-v1", emotion=FAST["emotion"])
    assert job.summary["resumed_rows"] == 0 and len(job.frame) == 123


def test_sigkill_midway_then_restart(tmp_path):
    """The CLI killed with SIGKILL while scoring, then run again: every row exactly once."""
    rows = [{"id": f"r{i}", "text": f"Review {i}: the blender is {'great' if i % 3 else 'too loud'} for smoothies."}
            for i in range(600)]
    src = tmp_path / "many.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "from affectkit.cli.main import main; main()", "reviews", str(src),
           "--text-col", "text", "--id-col", "id", "--out", str(out), "--no-topics", "--batch-size", "8", "--json"]
    log = tmp_path / "first-run.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh)
    parts = out / ".checkpoint" / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if parts.exists() and len(list(parts.glob("part-*.parquet"))) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the job ended before it could be killed: " + log.read_text()[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("part-*.parquet")))
    assert 5 <= done_before < 75
    assert not (out / "reviews.parquet").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-1000:]
    summary = json.loads(again.stdout)
    assert summary["resumed_rows"] >= 5 * 8
    got = pd.read_parquet(out / "reviews.parquet")
    assert got["id"].tolist() == [r["id"] for r in rows]
    assert got["row"].is_unique and got["sentiment"].notna().all()


def test_local_workers_match_one_process(tmp_path):
    from affectkit.reviews import run_reviews

    one = run_reviews(EXAMPLE, "text", tmp_path / "one", topics=False, report=False, batch_size=32)
    two = run_reviews(EXAMPLE, "text", tmp_path / "two", topics=False, report=False, batch_size=32, workers=2)
    _same_scores(one.frame, two.frame)
    assert one.frame["aspects"].fillna("").tolist() == two.frame["aspects"].fillna("").tolist()


def test_ray_engine_matches_local(tmp_path):
    pytest.importorskip("ray")
    from affectkit.reviews import run_reviews

    local = run_reviews(EXAMPLE, "text", tmp_path / "local", topics=False, report=False, batch_size=32)
    ray = run_reviews(EXAMPLE, "text", tmp_path / "ray", topics=False, report=False, batch_size=32,
                      engine="ray", workers=2)
    assert ray.frame["row"].tolist() == local.frame["row"].tolist()
    _same_scores(ray.frame, local.frame)
    for a, b in zip(ray.frame["aspects"], local.frame["aspects"], strict=True):
        if isinstance(a, str):
            ja, jb = json.loads(a), json.loads(b)
            assert [(x["aspect"], x["start"], x["polarity"]) for x in ja] == [
                (x["aspect"], x["start"], x["polarity"]) for x in jb]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text_col": "body"}, "'text_col' column 'body' is not in"),
        ({"text_col": "text", "engine": "spark"}, "'engine' parameter of run_reviews must be one of"),
        ({"text_col": "text", "workers": 0}, "'workers' parameter of run_reviews must be an int >= 1"),
        ({"text_col": "text", "sentiment": None, "emotion": None}, "At least one of"),
        ({"text_col": "text", "rating_col": "stars"}, "'rating_col' column 'stars'"),
    ],
)
def test_bad_parameters_are_named(tmp_path, kwargs, match):
    from affectkit.reviews import run_reviews

    with pytest.raises(InvalidInputError, match=match):
        run_reviews(EXAMPLE, out_dir=tmp_path / "o", topics=False, **kwargs)


def test_cli_reviews(tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    res = CliRunner().invoke(app, ["reviews", str(EXAMPLE), "--text-col", "text", "--id-col", "id", "--rating-col",
                                   "rating", "--out", str(tmp_path / "o"), "--no-topics", "--sentiment",
                                   FAST["sentiment"], "--emotion", FAST["emotion"]])
    assert res.exit_code == 0, res.output
    assert "123 rows" in res.output and "rating agreement" in res.output
    assert (tmp_path / "o" / "report.html").is_file()
    bad = CliRunner().invoke(app, ["reviews", str(EXAMPLE), "--text-col", "body", "--out", str(tmp_path / "p")])
    assert bad.exit_code == 2 and "--text-col column 'body'" in bad.output


def test_csv_output_quotes_cells_a_spreadsheet_would_run(tmp_path):
    from affectkit.reviews import run_reviews

    src = tmp_path / "formulas.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "text": ['=HYPERLINK("http://example.invalid","click") great phone',
                                               "+1 would buy again", "@everyone the battery died", "plain and fine"],
                  "note": ["-2+3", "=1+1", "ok", "\tindented"]}).to_csv(src, index=False)
    job = run_reviews(src, "text", tmp_path / "out", id_col="id", csv=True, topics=False, report=False, **FAST)
    got = pd.read_csv(job.files["csv"], keep_default_na=False)
    assert got["text"].tolist()[:3] == ['\'=HYPERLINK("http://example.invalid","click") great phone',
                                        "'+1 would buy again", "'@everyone the battery died"]
    assert got["text"].tolist()[3] == "plain and fine" and got["note"].tolist() == ["'-2+3", "'=1+1", "ok", "'\tindented"]
    assert got["text_clean"].str[0].isin(["'", "p"]).all()
    # Parquet keeps the text as it was
    raw = pd.read_parquet(job.files["reviews"])
    assert raw["text"].tolist()[0].startswith("=HYPERLINK") and raw["note"].tolist()[1] == "=1+1"


def test_a_finished_folder_is_not_overwritten_by_another_input(tmp_path):
    from affectkit.exceptions import InvalidInputError
    from affectkit.reviews import run_reviews

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"text": ["I love it", "Broke in a day"]}).to_csv(first, index=False)
    pd.DataFrame({"text": ["Fine", "Not bad at all", "Awful"]}).to_csv(second, index=False)
    out = tmp_path / "out"
    kw = {"topics": False, "report": False, **FAST}
    run_reviews(first, "text", out, **kw)
    run_reviews(first, "text", out, **kw)  # the same command again may rewrite its own results
    with pytest.raises(InvalidInputError, match="finished results of a run with a different input_sha256"):
        run_reviews(second, "text", out, **kw)
    assert len(pd.read_parquet(out / "reviews.parquet")) == 2  # untouched
    assert len(run_reviews(second, "text", out, overwrite=True, **kw).frame) == 3


def test_a_failed_run_leaves_no_folder_behind(tmp_path):
    from affectkit.exceptions import UnknownModelError
    from affectkit.reviews import run_reviews

    src = tmp_path / "a.csv"
    pd.DataFrame({"text": ["I love it", "Broke in a day"]}).to_csv(src, index=False)
    out = tmp_path / "never"
    with pytest.raises(UnknownModelError):
        run_reviews(src, "text", out, topics=False, report=False, sentiment="no-such-model", emotion=None)
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine.txt").write_text("a file of the user's", encoding="utf-8")
    with pytest.raises(UnknownModelError):
        run_reviews(src, "text", kept, topics=False, report=False, sentiment="no-such-model", emotion=None)
    assert sorted(p.name for p in kept.iterdir()) == ["mine.txt"]  # no checkpoint left, the folder kept


@pytest.mark.skipif(not _topics_installed(), reason="needs the [topics] extra")
def test_topics_are_named_by_the_aspects_their_reviews_mention(example_job):
    from affectkit.reviews.naming import MIN_REVIEWS, about_terms
    from affectkit.reviews.terms import is_about_term

    frame = example_job.frame
    terms = about_terms(frame["text_clean"].tolist(), frame["aspects"].tolist())
    topics = pd.read_parquet(example_job.files["topics"])
    for rec in topics[topics["topic"] >= 0].itertuples():
        about = rec.about.split(";")
        assert rec.label == rec.auto_label == ", ".join(about)
        mine = [t for t, k in zip(terms, frame["topic"], strict=True) if k == rec.topic]
        words = rec.words.split(";")
        for term in about:  # an aspect term of the topic's own reviews (or, for a thin topic, one of its
            assert is_about_term(term)  # c-TF-IDF words), never an opinion word or a verb
            forms = {term, term + "s", term + "es", term.removesuffix("s"), term.removesuffix("es")}  # its plural group
            mentions = sum(bool(forms & set(row)) for row in mine)
            assert mentions >= MIN_REVIEWS or term in words, (rec.topic, term)


@pytest.mark.skipif(not _topics_installed(), reason="needs the [topics] extra")
def test_rename_topics_rewrites_the_outputs_and_scores_nothing(example_job, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from affectkit.cli.main import app

    out = tmp_path / "run"
    shutil.copytree(example_job.out_dir, out)
    before = pd.read_parquet(out / "reviews.parquet")
    topic = int(before.loc[before["topic"] >= 0, "topic"].value_counts().index[0])
    auto = pd.read_parquet(out / "topics.parquet").set_index("topic").loc[topic, "label"]
    r = CliRunner().invoke(app, ["rename-topics", str(out), f"{topic}=Kettles <and> lids"])
    assert r.exit_code == 0, r.output
    after = pd.read_parquet(out / "reviews.parquet")
    assert (after.loc[after["topic"] == topic, "topic_label"] == "Kettles <and> lids").all()
    assert (after.loc[after["topic"] != topic, "topic_label"] == before.loc[before["topic"] != topic, "topic_label"]).all()
    cols = [c for c in before.columns if c != "topic_label"]
    pd.testing.assert_frame_equal(after[cols], before[cols])  # nothing scored again
    table = pd.read_parquet(out / "topics.parquet").set_index("topic")
    assert table.loc[topic, "label"] == "Kettles <and> lids" and table.loc[topic, "auto_label"] == auto
    with sqlite3.connect(out / "reviews.sqlite") as con:
        (name,) = con.execute("SELECT label FROM topics WHERE topic = ?", (topic,)).fetchone()
    con.close()
    assert name == "Kettles <and> lids"
    assert pd.read_csv(out / "reviews.csv").query("topic == @topic")["topic_label"].eq("Kettles <and> lids").all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Kettles &lt;and&gt; lids" in html and f"found: {auto}" in html
    summary = json.loads((out / "summary.json").read_text())
    assert f"<td>{summary['seconds']['total']:.1f} s</td>" in html  # the run's wall time, not its stages added up
    assert summary["topic_names"] == {str(topic): "Kettles <and> lids"}
    # a second rename keeps the first; an unknown topic is refused and changes nothing
    other = int(table.index[(table.index >= 0) & (table.index != topic)][0])
    r = CliRunner().invoke(app, ["rename-topics", str(out), f"{other}=Second"])
    assert r.exit_code == 0 and set(json.loads((out / "summary.json").read_text())["topic_names"]) == {str(topic), str(other)}
    r = CliRunner().invoke(app, ["rename-topics", str(out), "999=Nope"])
    assert r.exit_code != 0 and "no topic 999" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["rename-topics", str(tmp_path), "1=x"])
    assert r.exit_code != 0 and "not a finished review run" in " ".join(r.output.split())


@pytest.mark.skipif(not _topics_installed(), reason="needs the [topics] extra")
def test_topic_names_given_to_the_run(tmp_path):
    from affectkit.reviews import run_reviews

    names = tmp_path / "names.csv"
    names.write_text("topic,name\n0,First topic\n", encoding="utf-8")
    job = run_reviews(EXAMPLE, "text", tmp_path / "out", id_col="id", topic_names=names, aspects=False, **FAST)
    table = job.topics.set_index("topic")
    assert table.loc[0, "label"] == "First topic" and table.loc[0, "auto_label"] != "First topic"
    assert job.summary["topic_names"] == {"0": "First topic"}
    assert (job.frame.loc[job.frame["topic"] == 0, "topic_label"] == "First topic").all()
    with pytest.raises(InvalidInputError, match="whole numbers"):
        run_reviews(EXAMPLE, "text", tmp_path / "out2", topic_names={"x": "y"}, **FAST)


def test_each_review_has_the_one_verdict_the_library_gives(example_job):
    """The verdict column is affectkit.verdict of the row's own sentence, aspect and emotion cells,
    and the report's first line counts those verdicts."""
    from affectkit.verdicts import verdict

    got = pd.read_parquet(example_job.files["reviews"])
    scored = got[got["text_clean"].notna()]
    assert scored["verdict"].isin(["negative", "neutral", "positive", "mixed"]).all()
    assert got.loc[got["text_clean"].isna(), "verdict"].isna().all()
    emotion_cols = [c for c in got.columns if c.startswith("emotion_") and c != "emotion_top"]
    for _, row in scored.iterrows():
        sent = {lab: row[f"sentiment_{lab}"] for lab in ("negative", "neutral", "positive")}
        emo = {"labels": row["emotions"].split(";"), "scores": {c[len("emotion_"):]: row[c] for c in emotion_cols}}
        assert verdict(sent, json.loads(row["aspects"]), emo).label == row["verdict"]
    counts = example_job.summary["verdict_counts"]
    assert sum(counts.values()) == len(scored)
    report = Path(example_job.files["report"]).read_text(encoding="utf-8")
    share = f"{100 * counts.get('mixed', 0) / len(scored):.1f}% mixed"
    assert share in report

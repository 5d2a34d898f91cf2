"""The review report: one self-contained HTML file, escaped data, exact agreement numbers, no crashes on edge cases.

All texts are written for these tests.
"""

from __future__ import annotations

import json
import math
import re

import pytest

pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

from affectkit.exceptions import InvalidInputError  # noqa: E402
from affectkit.labels import EMOTION_LABELS  # noqa: E402
from affectkit.reviews.report import agreement, write_report  # noqa: E402

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PNG = "data:image/png;base64,"
SENT = ["positive", "negative", "neutral", "positive", "negative", None, "positive", "positive"]
RATED = ["positive", "negative", "positive", "neutral", "positive", "negative", None, "positive"]


def make_reviews(n: int = 8, time: list[object] | None = None, rating: bool = True) -> pd.DataFrame:
    rows = []
    for i in range(n):
        s = SENT[i % len(SENT)]
        probs = {"negative": 0.1, "neutral": 0.2, "positive": 0.7} if s else dict.fromkeys(["negative", "neutral", "positive"], math.nan)
        row = {
            "row": i,
            "text": f"review number {i}",
            "flags": "" if s else "empty",
            "sentiment": s,
            **{f"sentiment_{k}": v for k, v in probs.items()},
            "emotion_top": "joy" if s else None,
            "emotions": "joy;gratitude" if s == "positive" else ("anger" if s == "negative" else ""),
            "ekman": "joy" if s == "positive" else ("anger" if s == "negative" else "neutral"),
            "topic": i % 3 - 1,
            "topic_label": f"topic {i % 3 - 1}",
        }
        for j, lab in enumerate(EMOTION_LABELS):
            row[f"emotion_{lab}"] = math.nan if s is None else (j + i) % 7 / 10
        if rating:
            row["rating_sentiment"] = RATED[i % len(RATED)]
            row["stars"] = {"positive": 5, "negative": 1, "neutral": 3, None: None}[RATED[i % len(RATED)]]
        if time is not None:
            row["date"] = time[i % len(time)]
        rows.append(row)
    return pd.DataFrame(rows)


def make_topics(n: int = 2) -> pd.DataFrame:
    rows = [{
        "topic": -1, "label": "outliers", "words": "", "size": 3, "share_negative": 0.3, "share_neutral": 0.3,
        "share_positive": 0.4, "net_sentiment": 0.1, "top_emotions": "", "top_aspects": "",
        "representative": "[]",
    }]
    for t in range(n):
        rows.append({
            "topic": t, "label": f"kettle_lid_{t}", "words": "kettle;lid;handle", "size": 10 + t,
            "share_negative": 0.2, "share_neutral": 0.3, "share_positive": 0.5, "net_sentiment": 0.3,
            "top_emotions": "joy;admiration", "top_aspects": "lid;handle",
            "representative": json.dumps([f"The kettle {t} boils fast.", "The lid sticks a little."]),
        })
    return pd.DataFrame(rows)


def make_info(time_col: str | None = None, rating_col: str | None = "stars", **extra) -> dict:
    return {
        "input": "reviews.csv", "n_rows": 8, "n_scored": 7, "n_flagged": 1,
        "models": {"sentiment": "sentiment-transformer-v1", "emotion": "emotion-transformer-v1"},
        "time_col": time_col, "rating_col": rating_col, "duration_s": 1.25,
        "created": "2026-05-01T10:00:00+00:00", "notes": ["Topics were found with 3 clusters."], **extra,
    }


def written(tmp_path, reviews, topics, info) -> str:
    """The PNG report (interactive=False); the interactive one is tested in test_reviews_charts.py."""
    out = write_report(tmp_path / "report.html", reviews, topics, info, interactive=False)
    assert out == tmp_path / "report.html" and out.is_file()
    assert not (tmp_path / "report.html.tmp").exists()
    return out.read_text(encoding="utf-8")


def assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "url(" not in page and "@import" not in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert all(s.startswith(PNG) for s in srcs)


DATES = ["2026-01-05", "2026-02-11", "2026-03-20", "2026-05-02", "2026-06-30", "2026-08-14", "2026-09-01",
         "2026-10-20"]


def test_full_report(tmp_path):
    page = written(tmp_path, make_reviews(time=DATES), make_topics(), make_info(time_col="date"))
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert_self_contained(page)
    # sentiment, topic sentiment, emotions + Ekman, trend, rating heatmap
    assert page.count(PNG) == 5
    for section in ("Sentiment distribution", "Sentiment by topic", "Emotion mix", "Trend over time",
                    "Rating vs predicted sentiment", "Topics", "Flagged rows", "Notes"):
        assert f">{section}</h2>" in page
    assert "reviews.csv" in page and "sentiment-transformer-v1" in page and "1.2 s" in page
    assert "Topics were found with 3 clusters." in page
    assert "Numbers per month" in page  # the span is ~10 months
    assert "The kettle 1 boils fast." in page and "kettle, lid, handle" in page
    assert "1–2 stars negative" in page and "3 excluded" in page


def test_escapes_data(tmp_path):
    reviews = make_reviews()
    reviews.loc[0, "flags"] = XSS
    reviews.loc[1, "emotions"] = XSS
    topics = make_topics()
    topics.loc[1, "label"] = XSS
    topics.loc[1, "words"] = f"{XSS};lid"
    topics.loc[1, "representative"] = json.dumps([XSS + " the kettle is great", "fine"])
    info = make_info(input=XSS, notes=[XSS], models={"sentiment": XSS})
    page = written(tmp_path, reviews, topics, info)
    assert "<script" not in page
    assert page.count(XSS_ESCAPED) >= 6
    assert_self_contained(page)


def test_truncates_representatives_and_odd_labels_plot_without_warnings(tmp_path):
    topics = make_topics()
    long = "word " * 200
    topics.loc[1, "representative"] = json.dumps([long, "short one"])
    topics.loc[2, "representative"] = "not json at all"
    topics.loc[1, "label"] = "price $ cost 😍😍 ümlaut 価格"  # mathtext dollar, emoji, CJK: no warning, no crash
    page = written(tmp_path, make_reviews(), topics, make_info())
    rep = re.search(r'<p class="rep">(word[^<]*)</p>', page).group(1)
    assert rep.endswith("…") and len(rep) <= 300
    assert "not json at all" in page and "price $ cost 😍😍" in page


def test_agreement_exact():
    frame = pd.DataFrame({
        "rating_sentiment": ["negative", "negative", "positive", "positive", "positive", "neutral", "negative",
                             None, "positive", math.nan],
        "sentiment": ["negative", "positive", "positive", "positive", None, "positive", "negative",
                      "negative", "neutral", "positive"],
    })
    got = agreement(frame)
    # polar rows with a prediction: (n,n) (n,p) (p,p) (p,p) (n,n) (p,neu) -> 4 of 6
    assert got["n"] == 6
    assert got["agreement"] == pytest.approx(4 / 6)
    assert got["confusion"] == {
        "negative": {"negative": 2, "neutral": 0, "positive": 1},
        "neutral": {"negative": 0, "neutral": 0, "positive": 1},
        "positive": {"negative": 0, "neutral": 1, "positive": 2},
    }


def test_agreement_without_ratings_or_polar_rows():
    assert agreement(pd.DataFrame({"sentiment": ["positive"]}))["agreement"] is None
    got = agreement(pd.DataFrame({"sentiment": ["positive", None], "rating_sentiment": ["neutral", "positive"]}))
    assert got["agreement"] is None and got["n"] == 0 and got["confusion"]["neutral"]["positive"] == 1
    with pytest.raises(InvalidInputError, match=r"reviews.*DataFrame.*got list"):
        agreement([{"sentiment": "positive"}])


def test_rating_section_only_with_rating_sentiment(tmp_path):
    page = written(tmp_path, make_reviews(rating=False), make_topics(), make_info(rating_col=None))
    assert "Rating vs predicted sentiment" not in page
    assert page.count(PNG) == 3
    page = written(tmp_path, make_reviews(), make_topics(), make_info())
    assert "Rating vs predicted sentiment" in page and "&#x27;stars&#x27;" in page
    expected = agreement(make_reviews())
    assert f"on {expected['n']} rows" in page
    assert page.count(PNG) == 4


@pytest.mark.parametrize(("dates", "unit"), [
    (["2026-03-01", "2026-03-02", "2026-03-05", "2026-03-20"], "day"),
    (["2026-01-01", "2026-02-15", "2026-04-30", "2026-06-01"], "week"),
    (DATES, "month"),
    (["2026-01-01T10:00:00+02:00", "2026/02/03", "March 9, 2026", "garbage"], "week"),  # mixed formats and zones
])
def test_trend_periods(tmp_path, dates, unit):
    page = written(tmp_path, make_reviews(time=dates), make_topics(), make_info(time_col="date"))
    assert "Trend over time" in page and f"Numbers per {unit}" in page
    assert page.count(PNG) == 5


def test_trend_only_with_time_column(tmp_path):
    page = written(tmp_path, make_reviews(time=DATES), make_topics(), make_info(time_col=None))
    assert "Trend over time" not in page and page.count(PNG) == 4


@pytest.mark.parametrize("dates", [["not a date", "", None, "soon"], ["2026-04-04"], [math.nan]])
def test_trend_that_cannot_be_drawn_is_a_note(tmp_path, dates):
    page = written(tmp_path, make_reviews(time=dates), make_topics(), make_info(time_col="date"))
    assert "Trend over time" in page and ("no trend is shown" in page or "could be read as a date" in page)
    assert page.count(PNG) == 4


def test_time_column_named_but_absent(tmp_path):
    page = written(tmp_path, make_reviews(), make_topics(), make_info(time_col="when"))
    assert "is not in the review table" in page


def test_all_rows_unscored(tmp_path):
    reviews = make_reviews()
    for col in reviews.columns:
        if col.startswith(("sentiment", "emotion")) or col in {"emotions", "ekman", "rating_sentiment"}:
            reviews[col] = None
    reviews["flags"] = "empty"
    page = written(tmp_path, reviews, make_topics(), make_info())
    assert "No row was scored" in page and "No emotion scores are available" in page
    assert "Agreement cannot be computed" in page
    assert page.count(PNG) == 1  # only the topic chart


def test_empty_topics_and_single_row(tmp_path):
    empty = make_topics().iloc[0:0]
    page = written(tmp_path, make_reviews(n=1, time=["2026-01-01"]), empty, make_info(time_col="date"))
    assert "No topics were found" in page
    assert_self_contained(page)
    page = written(tmp_path, make_reviews(n=1), pd.DataFrame(), {})
    assert "Review report: reviews" in page


def test_nan_everywhere_and_missing_columns(tmp_path):
    reviews = make_reviews()
    reviews["flags"] = math.nan
    reviews["emotions"] = math.nan
    reviews["topic_label"] = math.nan
    topics = make_topics()
    for col in topics.columns:
        if col != "topic":
            topics[col] = math.nan
    info = make_info(n_rows=math.nan, duration_s=None, models=None, notes=None)
    page = written(tmp_path, reviews, topics, info)
    assert "No row was flagged" in page and "topic 0" in page
    page = written(tmp_path, pd.DataFrame({"row": [0, 1]}), pd.DataFrame({"topic": [0]}), {"input": "x.csv"})
    assert "No row was scored" in page


def test_only_largest_topics_are_plotted(tmp_path):
    topics = make_topics(20)
    page = written(tmp_path, make_reviews(), topics, make_info())
    assert "The 15 largest of 20 topics are shown." in page
    assert page.count("<tr><td class=\"num\">") >= 21  # every topic is in the table


def test_overwrites_atomically(tmp_path):
    target = tmp_path / "sub" / "report.html"
    write_report(str(target), make_reviews(), make_topics(), make_info())
    first = target.read_text(encoding="utf-8")
    write_report(target, make_reviews(rating=False), make_topics(), make_info())
    assert target.read_text(encoding="utf-8") != first
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"reviews": [1, 2]}, "reviews"), ({"topics": {"topic": [0]}}, "topics"), ({"info": ["x"]}, "info"),
    ({"path": 3}, "path"),
])
def test_bad_arguments_name_the_parameter(tmp_path, kwargs, param):
    args = {"path": tmp_path / "r.html", "reviews": make_reviews(), "topics": make_topics(), "info": make_info()}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=rf"write_report\({param}=\.\.\.\) expected .* got"):
        write_report(**args)


def test_summary_aspects_and_flagged_rows(tmp_path):
    reviews = make_reviews(12)
    body = "The zipper broke on day two but the fabric is lovely and soft."
    reviews["text_clean"] = [body] * len(reviews)
    za, fa = body.index("zipper"), body.index("fabric")
    mention = json.dumps([{"aspect": "Zipper", "start": za, "end": za + 6, "polarity": "negative", "probability": 0.9},
                          {"aspect": "fabric", "start": fa, "end": fa + 6, "polarity": "positive", "probability": 0.9}])
    plural = json.dumps([{"aspect": "zippers", "start": za, "end": za + 6, "polarity": "negative", "probability": 0.8},
                         {"aspect": "works", "start": 0, "end": 3, "polarity": "positive", "probability": 0.8}])
    reviews["aspects"] = [mention, plural, "[]", "not json", None] + [mention] * 7
    reviews["id"] = [f"r{i}" for i in range(len(reviews))]
    page = written(tmp_path, reviews, make_topics(), make_info(id_col="id", n_flagged=4))
    # the summary at the top, computed from the numbers
    assert page.index(">In short</h2>") < page.index(">Sentiment distribution</h2>")
    assert "reviews scored:" in page and "What hurts most: the topic" in page
    assert "the most complained-about is \u201czipper\u201d (100.0% of 9 mentions negative)" in page
    assert "the most praised is \u201cfabric\u201d" in page and "rows were flagged (listed at the end)" in page
    # aspects case-folded, a plural with its singular, counts, shares and quotes around the mention
    assert ">Aspects</h2>" in page and "<strong>zipper</strong>" in page and "zippers" not in page
    assert "<strong>works</strong>" not in page  # a verb the extractor took for an aspect
    assert "The zipper broke on day two" in page
    # flagged rows listed with their id, flags and first words
    flagged = [i for i, f in enumerate(reviews["flags"]) if f]
    assert flagged and all(f"<td>r{i}</td><td>empty</td>" in page for i in flagged)


def test_no_aspect_section_without_mentions(tmp_path):
    page = written(tmp_path, make_reviews(), make_topics(), make_info())
    assert ">Aspects</h2>" not in page and ">In short</h2>" in page


def test_topic_emotions_are_the_distinctive_ones():
    from affectkit.reviews.topics import _distinctive

    overall = pd.Series({"emotion_admiration": 0.5, "emotion_anger": 0.1, "emotion_grief": 0.004,
                         "emotion_disappointment": 0.05, "emotion_annoyance": 0.02})
    topic = pd.Series({"emotion_admiration": 0.5, "emotion_anger": 0.3, "emotion_grief": 0.04,
                       "emotion_disappointment": 0.08, "emotion_annoyance": 0.1})
    # admiration is as common as everywhere; grief is 10x but too rare to count; ranked by the excess
    assert _distinctive(topic, overall) == "anger (x3.0);annoyance (x5.0);disappointment (x1.6)"
    assert _distinctive(overall, overall) == ""


def test_quotes_of_texts_without_spaces():
    from affectkit.reviews.sections import QUOTE_CHARS, _quote

    body = "这个拉链第二天就坏了" * 40  # no spaces to start a quote at
    start = body.index("拉链", 200)
    quote = _quote(body, start, start + 2)
    assert "拉链" in quote and len(quote) <= QUOTE_CHARS + 10
    assert _quote("short text", -1, -1) == "short text"


def test_a_topic_without_distinctive_emotions_says_so_only_when_emotions_were_scored(tmp_path):
    topics = make_topics()
    topics.loc[topics["topic"] == 0, "top_emotions"] = ""
    page = written(tmp_path, make_reviews(), topics, make_info())
    assert page.count("none stands out") == 2  # topic 0 and the outliers; topic 1 shows its emotions
    reviews = make_reviews().drop(columns=[c for c in make_reviews().columns if c.startswith("emotion") or c in ("ekman",)])
    page = written(tmp_path / "plain", reviews, topics.assign(top_emotions=""), make_info())
    assert "none stands out" not in page and "No emotion scores are available" in page

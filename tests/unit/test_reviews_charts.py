"""The report's interactive charts: plotly.js inlined once, one figure per chart, data that cannot escape."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")
pytest.importorskip("plotly")

from test_reviews_report import DATES, make_info, make_reviews, make_topics  # noqa: E402

from affectkit.reviews.plotly_charts import plotly_js, script_json  # noqa: E402
from affectkit.reviews.report import write_report  # noqa: E402

CALL = re.compile(r"<script>Plotly\.newPlot\((\"[^\"]+\"), (.*?)</script>", re.S)


def page(tmp_path, **kw) -> str:
    reviews = kw.pop("reviews", None)
    reviews = make_reviews(time=DATES) if reviews is None else reviews
    topics = kw.pop("topics", None)
    topics = make_topics() if topics is None else topics
    out = write_report(tmp_path / "report.html", reviews, topics, make_info(time_col="date", **kw))
    return out.read_text(encoding="utf-8")


def figures(html: str) -> list[tuple[list, dict]]:
    out = []
    for _, rest in CALL.findall(html):
        decoder = json.JSONDecoder()
        data, i = decoder.raw_decode(rest)
        layout, _ = decoder.raw_decode(rest[i + 2:])
        out.append((data, layout))
    return out


def test_plotly_is_inlined_once_and_every_chart_is_a_figure(tmp_path):
    html = page(tmp_path)
    assert html.count(plotly_js()[:200]) == 1  # the library itself, once, no CDN
    assert "http://" not in html.replace(plotly_js(), "") and "https://" not in html.replace(plotly_js(), "")
    body = html.replace(plotly_js(), "")
    assert "<img" not in body and "data:image/png" not in body
    figs = figures(html)
    assert len(figs) == 5  # sentiment, topics, emotions, trend, rating
    assert html.count('class="chart" role="img" aria-label=') == 5


def test_figures_carry_hover_numbers_and_filterable_series(tmp_path):
    figs = figures(page(tmp_path))
    topic_traces = next(d for d, lay in figs if lay.get("barmode") == "stack")
    assert [t["name"] for t in topic_traces] == ["negative", "neutral", "positive"]  # the legend toggles each
    assert all("%{x:.1%}" in t["hovertemplate"] for t in topic_traces)
    trend_traces, trend_layout = next((d, lay) for d, lay in figs if "rangeslider" in lay.get("xaxis", {}))
    assert [t["name"] for t in trend_traces] == ["reviews", "positive share", "negative share"]
    assert trend_layout["xaxis"]["rangeslider"]["visible"] is True  # 8 months: a slider to pick a span
    counts = next(d for d, lay in figs if not lay.get("showlegend", True) and d[0]["type"] == "bar"
                  and d[0].get("orientation") != "h")
    assert sum(t["y"][0] for t in counts) == len(make_reviews(time=DATES).dropna(subset=["sentiment"]))


def test_data_cannot_break_out_of_the_script(tmp_path):
    evil = "</script><script>alert(1)</script>"
    topics = make_topics()
    topics.loc[1, "label"] = evil
    reviews = make_reviews(time=DATES)
    html = page(tmp_path, topics=topics, reviews=reviews)
    body = html.replace(plotly_js(), "")
    assert "alert(1)</script>" not in body and "<script>alert" not in body
    assert "\\u003c/script\\u003e" in body  # the label is in the figure, escaped
    names = [y for d, lay in figures(html) if lay.get("barmode") == "stack" for y in d[0]["y"]]
    assert any(evil[:20] in n for n in names)  # and reads back as the label
    assert script_json("a\u2028b<&>") == '"a\\u2028b\\u003c\\u0026\\u003e"'


def test_png_fallback_without_plotly(tmp_path, monkeypatch):
    from affectkit.reviews import plotly_charts

    monkeypatch.setattr(plotly_charts, "available", lambda: False)
    html = page(tmp_path)
    assert "<script" not in html and html.count("data:image/png;base64,") == 5


def test_odd_inputs_draw(tmp_path):
    reviews = make_reviews()
    reviews["sentiment"] = None
    html = page(tmp_path, reviews=reviews, topics=make_topics().iloc[:2])
    assert html.startswith("<!DOCTYPE html>")
    for data, layout in figures(html):
        assert json.dumps(data, allow_nan=False) and json.dumps(layout, allow_nan=False)  # NaN-free, valid JSON

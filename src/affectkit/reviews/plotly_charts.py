"""The review report's interactive charts: Plotly figures, drawn by the plotly.js inlined once in the page.

The same five charts as :mod:`affectkit.reviews.charts` (same arguments), with hover text giving
the exact counts and shares, legends that hide and show a series on click, zoom, and a range
slider under the trend. Each returns a :class:`Chart`: a ``<div>`` and the inline script that
draws it. The figure's JSON holds strings from the data (topic names, dates): ``<``, ``>``, ``&``
and the line separators are written as ``\\u`` escapes, so no value can end the script.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from affectkit.exceptions import require
from affectkit.labels import SENTIMENT_LABELS
from affectkit.reviews.charts import COLOURS

__all__ = ["Chart", "available", "plotly_js", "sentiment_bars", "topic_sentiment_bars", "emotion_bars", "trend_chart",
           "confusion_heatmap"]

_ids = itertools.count()
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
CONFIG = {"displaylogo": False, "responsive": True}
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


class Chart(NamedTuple):
    """An interactive chart: ``html`` (a ``<div>`` and its script, safe to insert) and ``alt`` text."""

    html: Any  # markupsafe.Markup
    alt: str


def available() -> bool:
    """Whether plotly is installed (the ``[reviews]`` extra brings it)."""
    from importlib.util import find_spec

    return find_spec("plotly") is not None


@functools.cache
def plotly_js() -> str:
    """plotly.js itself, to inline once per page (no network)."""
    return require("plotly", "reviews", "Interactive report charts").offline.get_plotlyjs()


def script_json(value: Any) -> str:
    """JSON that is safe inside ``<script>``: nothing in it can close the element."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_plain)
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _clean(value: Any) -> Any:
    """NaN (not JSON) as None, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _chart(data: list[dict[str, Any]], layout: dict[str, Any], alt: str, height: int) -> Chart:
    from markupsafe import Markup, escape

    div = f"affectkit-chart-{next(_ids)}"
    layout = {"height": height, "margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "font": FONT,
              "plot_bgcolor": "#fff", "hovermode": "closest", **layout}
    call = f"Plotly.newPlot({script_json(div)}, {script_json(_clean(data))}, {script_json(_clean(layout))}, " \
           f"{script_json(CONFIG)});"
    html = f'<div id="{div}" class="chart" role="img" aria-label="{escape(alt)}"></div>\n<script>{call}</script>'
    return Chart(Markup(html), alt)


def _label(text: str) -> str:
    return text.replace(r"\$", "$")


def sentiment_bars(counts: Sequence[int]) -> Chart:
    values = [int(c) for c in counts]
    total = sum(values) or 1
    data = [{"type": "bar", "x": [lab], "y": [v], "name": lab, "marker": {"color": COLOURS[lab]},
             "text": [f"{v:,}"], "textposition": "outside", "customdata": [100 * v / total],
             "hovertemplate": "%{x}: %{y:,} reviews (%{customdata:.1f}% of scored)<extra></extra>"}
            for lab, v in zip(SENTIMENT_LABELS, values, strict=True)]
    layout = {"yaxis": {"title": {"text": "reviews"}, "rangemode": "tozero"}, "showlegend": False, "bargap": 0.4}
    return _chart(data, layout, "Bar chart: number of reviews per predicted sentiment", 320)


def topic_sentiment_bars(names: Sequence[str], shares: dict[str, list[float]]) -> Chart:
    names = [_label(n) for n in names]
    data = [{"type": "bar", "orientation": "h", "y": names, "name": lab, "marker": {"color": COLOURS[lab]},
             "x": [0.0 if math.isnan(w) else w for w in shares[lab]],
             "hovertemplate": "%{y}<br>" + lab + ": %{x:.1%}<extra></extra>"}
            for lab in SENTIMENT_LABELS]
    layout = {"barmode": "stack", "xaxis": {"range": [0, 1], "tickformat": ".0%",
                                            "title": {"text": "share of the topic's reviews (click the legend to filter)"}},
              "yaxis": {"autorange": "reversed", "automargin": True},
              "legend": {"orientation": "h", "y": 1.08, "x": 0, "traceorder": "normal"}}
    return _chart(data, layout, "Stacked bar chart: share of negative, neutral and positive reviews per topic",
                  120 + 28 * len(names))


def emotion_bars(top: Sequence[tuple[str, float]], measure: str, ekman: Sequence[tuple[str, int]]) -> Chart:
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"showlegend": False, "margin": {"l": 60, "r": 20, "t": 70, "b": 50}}
    both = bool(top) and bool(ekman)
    if top:
        data.append({"type": "bar", "orientation": "h", "y": [_label(k) for k, _ in top], "x": [v for _, v in top],
                     "marker": {"color": "#4c72b0"}, "name": "emotions", "xaxis": "x", "yaxis": "y",
                     "hovertemplate": "%{y}: %{x:.3f} " + measure + "<extra></extra>"})
        layout["xaxis"] = {"domain": [0, 0.55] if both else [0, 1], "title": {"text": measure}}
        layout["yaxis"] = {"autorange": "reversed", "automargin": True}
    if ekman:
        ax = "2" if top else ""
        data.append({"type": "bar", "orientation": "h", "y": [_label(k) for k, _ in ekman],
                     "x": [int(c) for _, c in ekman], "marker": {"color": "#8172b2"}, "name": "Ekman",
                     "xaxis": f"x{ax}", "yaxis": f"y{ax}", "hovertemplate": "%{y}: %{x:,} reviews<extra></extra>"})
        layout[f"xaxis{ax}"] = {"domain": [0.72, 1] if both else [0, 1], "title": {"text": "reviews with the label"}}
        layout[f"yaxis{ax}"] = {"autorange": "reversed", "automargin": True, **({"anchor": "x2"} if ax else {})}
    layout["annotations"] = ([{"text": f"Top {len(top)} emotions (without neutral)", "x": 0, "xref": "paper",
                               "y": 1.08, "yref": "paper", "showarrow": False, "xanchor": "left"}] if top else []) + \
        ([{"text": "Ekman mix", "x": 0.72 if both else 0, "xref": "paper", "y": 1.08, "yref": "paper",
           "showarrow": False, "xanchor": "left"}] if ekman else [])
    return _chart(data, layout, "Bar charts: most frequent emotions and the Ekman emotion mix",
                  max(300, 60 + 22 * max(len(top), len(ekman))))


def trend_chart(names: Sequence[str], counts: Sequence[int], pos: Sequence[float], neg: Sequence[float],
                unit: str) -> Chart:
    x = [_label(str(n)) for n in names]
    data = [
        {"type": "bar", "x": x, "y": [int(c) for c in counts], "name": "reviews", "marker": {"color": "#dddddd"},
         "hovertemplate": "%{x}: %{y:,} reviews<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": list(pos), "name": "positive share",
         "yaxis": "y2", "line": {"color": COLOURS["positive"]}, "hovertemplate": "%{x}: %{y:.1%} positive<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "x": x, "y": list(neg), "name": "negative share",
         "yaxis": "y2", "line": {"color": COLOURS["negative"]}, "hovertemplate": "%{x}: %{y:.1%} negative<extra></extra>"},
    ]
    layout = {"xaxis": {"type": "category", "rangeslider": {"visible": len(x) > 6}},
              "yaxis": {"title": {"text": f"reviews per {unit}"}, "rangemode": "tozero"},
              "yaxis2": {"title": {"text": "share of scored reviews"}, "overlaying": "y", "side": "right",
                         "range": [0, 1], "tickformat": ".0%"},
              "legend": {"orientation": "h", "y": 1.12, "x": 0}, "hovermode": "x unified"}
    return _chart(data, layout, f"Chart: reviews per {unit} and the share of positive and negative reviews", 380)


def confusion_heatmap(grid: Sequence[Sequence[int]]) -> Chart:
    z = [[int(v) for v in row] for row in grid]
    data = [{"type": "heatmap", "z": z, "x": list(SENTIMENT_LABELS), "y": list(SENTIMENT_LABELS),
             "colorscale": "Blues", "reversescale": True, "showscale": False, "text": [[f"{v:,}" for v in row] for row in z],
             "texttemplate": "%{text}", "hovertemplate": "from rating %{y}, predicted %{x}: %{z:,}<extra></extra>"}]
    layout = {"xaxis": {"title": {"text": "predicted"}}, "yaxis": {"title": {"text": "from rating"}, "autorange": "reversed"},
              "width": 420}
    return _chart(data, layout, "Heatmap: rating-derived sentiment (rows) against predicted sentiment (columns)", 360)

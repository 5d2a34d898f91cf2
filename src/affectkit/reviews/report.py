"""A self-contained HTML report for a review analysis run.

:func:`write_report` turns the per-review table and the per-topic table of a run into one HTML file
that opens offline: the charts are interactive Plotly figures (:mod:`affectkit.reviews.plotly_charts`:
hover with exact numbers, legend filtering, zoom, a range slider on the trend) drawn by plotly.js,
inlined once in the page (no network); without plotly, or with ``interactive=False``, they are PNGs
drawn with matplotlib's object API (:mod:`affectkit.reviews.charts`) as base64 ``data:`` URIs. The
only styling is a small ``<style>`` block. The page is the Jinja2 template
``templates/report.html.j2`` rendered with autoescaping, so every string that comes from the data
is HTML-escaped; what each section shows is computed in :mod:`affectkit.reviews.sections`.

:func:`agreement` compares the sentiment derived from star ratings with the predicted sentiment;
the report uses it and the pipeline puts its numbers in the run summary.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from affectkit._files import atomic_write_text
from affectkit.exceptions import InvalidInputError, require
from affectkit.labels import SENTIMENT_LABELS
from affectkit.reviews import sections
from affectkit.reviews.agreement import agreement

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["agreement", "write_report", "render_report"]

TEMPLATE = "report.html.j2"


@functools.cache
def _environment() -> Any:
    jinja2 = require("jinja2", "reviews", "The review report")
    return jinja2.Environment(loader=jinja2.PackageLoader("affectkit.reviews", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render_report(reviews: pd.DataFrame, topics: pd.DataFrame, info: Mapping[str, Any],
                  interactive: bool = True) -> str:
    """The report page as a string (see :func:`write_report` for the arguments)."""
    from affectkit.reviews import charts, plotly_charts

    template = _environment().get_template(TEMPLATE)
    draw = plotly_charts if interactive and plotly_charts.available() else charts
    aspects = sections.aspects(reviews, info)
    rating = sections.rating(reviews, info.get("rating_col"), draw)
    context = {
        "header": sections.header(info, reviews),
        "summary": sections.summary(reviews, topics, info, aspects, rating),
        "aspects": aspects,
        "sentiment": sections.sentiment(reviews, draw),
        "topic_sentiment": sections.topic_sentiment(topics, draw),
        "emotions": sections.emotions(reviews, draw),
        "trend": sections.trend(reviews, info.get("time_col"), draw),
        "rating": rating,
        "topics": sections.topics(topics, aspects),
        "flags": sections.flags(reviews, info),
        "notes": sections.notes(info),
        "sentiment_labels": SENTIMENT_LABELS,
        "plotly_js": plotly_charts.plotly_js() if draw is plotly_charts else "",
    }
    return template.render(context)


def write_report(path: str | Path, reviews: pd.DataFrame, topics: pd.DataFrame, info: dict,
                 interactive: bool = True) -> Path:
    """Write a self-contained HTML report of a review analysis run to ``path`` and return the path.

    ``reviews`` has one row per input review (``sentiment``, ``emotion_<label>``, ``emotions``,
    ``ekman``, ``topic``, ``flags``, optionally ``rating_sentiment`` and the time column named by
    ``info["time_col"]``), ``topics`` one row per topic (may be empty), ``info`` the run's metadata
    (``input``, ``n_rows``, ``n_scored``, ``n_flagged``, ``models``, ``time_col``, ``rating_col``,
    ``duration_s``, ``created``, optional ``notes``). Missing columns and NaN values are tolerated;
    the sections that need them say so or are left out. The file is written atomically (a
    temporary file next to it, then renamed). ``interactive``: Plotly charts (plotly.js inlined
    once; hover, legend filtering, zoom), else, or where plotly is not installed, PNGs.
    """
    require("matplotlib", "plot", "The review report")
    import pandas as pd

    if not isinstance(path, str | os.PathLike):
        raise InvalidInputError(f"write_report(path=...) expected a str or Path, got {type(path).__name__}")
    for name, value in (("reviews", reviews), ("topics", topics)):
        if not isinstance(value, pd.DataFrame):
            raise InvalidInputError(f"write_report({name}=...) expected a pandas DataFrame, "
                                    f"got {type(value).__name__}")
    if not isinstance(info, Mapping):
        raise InvalidInputError(f"write_report(info=...) expected a dict, got {type(info).__name__}")
    return atomic_write_text(path, render_report(reviews, topics, info, interactive))

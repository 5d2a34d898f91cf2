"""The review report's charts: PNGs drawn with matplotlib's object API, returned as ``data:`` URIs.

Never pyplot's global state: each chart is its own :class:`~matplotlib.figure.Figure`. Every
function takes plain lists and returns an :class:`Image` (the URI and its alt text).
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from affectkit.labels import SENTIMENT_LABELS
from affectkit.reviews.values import missing, truncate

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["Image", "COLOURS", "plot_text", "sentiment_bars", "topic_sentiment_bars", "emotion_bars", "trend_chart",
           "confusion_heatmap"]

COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
DPI = 100


class Image(NamedTuple):
    """An inline PNG: ``src`` is a ``data:image/png;base64,...`` URI, ``alt`` plain text."""

    src: str
    alt: str


def plot_text(value: object, limit: int = 40) -> str:
    """A label safe for matplotlib: short, and ``$`` does not start mathtext."""
    label = "" if missing(value) else " ".join(str(value).split())
    return truncate(label, limit).replace("$", r"\$")


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's warnings about glyphs (emoji, some scripts) its font cannot draw."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing from font")
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support .* natively")
        yield


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _image(fig: Figure, alt: str) -> Image:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with _quiet_glyphs():
        fig.savefig(buf, format="png", dpi=DPI)
    return Image("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), alt)


def sentiment_bars(counts: Sequence[int]) -> Image:
    """Reviews per predicted sentiment (``counts`` in ``SENTIMENT_LABELS`` order)."""
    fig = _figure(4.6, 2.6)
    ax = fig.add_subplot()
    values = list(counts)
    bars = ax.bar(list(SENTIMENT_LABELS), values, color=[COLOURS[lab] for lab in SENTIMENT_LABELS])
    ax.bar_label(bars, fontsize=8)
    ax.set_ylabel("reviews")
    ax.set_ylim(0, max(values) * 1.15 + 1)
    ax.spines[["top", "right"]].set_visible(False)
    return _image(fig, "Bar chart: number of reviews per predicted sentiment")


def topic_sentiment_bars(names: Sequence[str], shares: dict[str, list[float]]) -> Image:
    """One stacked bar per topic: the shares of each sentiment (``shares[label]``, one per topic; NaN is 0)."""
    fig = _figure(7.2, 0.9 + 0.32 * len(names))
    ax = fig.add_subplot()
    y = list(range(len(names)))
    left = [0.0] * len(names)
    for lab in SENTIMENT_LABELS:
        widths = [0.0 if math.isnan(w) else w for w in shares[lab]]
        ax.barh(y, widths, left=left, color=COLOURS[lab], label=lab, height=0.7)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(y, list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the topic's reviews")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _image(fig, "Stacked bar chart: share of negative, neutral and positive reviews per topic")


def emotion_bars(top: Sequence[tuple[str, float]], measure: str, ekman: Sequence[tuple[str, int]]) -> Image:
    """The most frequent emotions (``top``, measured by ``measure``) and the Ekman mix, side by side."""
    fig = _figure(8.4, 3.2)
    axes = fig.subplots(1, 2, width_ratios=[3, 2]) if top and ekman else [fig.add_subplot()]
    i = 0
    if top:
        ax = axes[i]
        i += 1
        ax.barh(range(len(top)), [v for _, v in top], color="#4c72b0", height=0.7)
        ax.set_yticks(range(len(top)), [plot_text(k, 20) for k, _ in top], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(measure, fontsize=8)
        ax.set_title(f"Top {len(top)} emotions (without neutral)", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    if ekman:
        ax = axes[i]
        ax.barh(range(len(ekman)), [c for _, c in ekman], color="#8172b2", height=0.7)
        ax.set_yticks(range(len(ekman)), [plot_text(lab, 20) for lab, _ in ekman], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("reviews with the label", fontsize=8)
        ax.set_title("Ekman mix", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    return _image(fig, "Bar charts: most frequent emotions and the Ekman emotion mix")


def trend_chart(names: Sequence[str], counts: Sequence[int], pos: Sequence[float], neg: Sequence[float],
                unit: str) -> Image:
    """Reviews per period (bars) and the positive and negative shares (lines)."""
    fig = _figure(8.0, 3.0)
    ax = fig.add_subplot()
    x = list(range(len(names)))
    ax.bar(x, list(counts), color="#dddddd", label="reviews", zorder=1)
    ax.set_ylabel(f"reviews per {unit}", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, list(pos), color=COLOURS["positive"], marker="o", markersize=3, label="positive share")
    ax2.plot(x, list(neg), color=COLOURS["negative"], marker="o", markersize=3, label="negative share")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("share of scored reviews", fontsize=8)
    step = max(1, math.ceil(len(x) / 16))
    ax.set_xticks(x[::step], list(names)[::step], rotation=45, ha="right", fontsize=7)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax2.legend(handles, ["reviews", "positive share", "negative share"], loc="lower center",
               bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    return _image(fig, f"Chart: reviews per {unit} and the share of positive and negative reviews")


def confusion_heatmap(grid: Sequence[Sequence[int]]) -> Image:
    """Rating-derived sentiment (rows) against predicted sentiment (columns), ``SENTIMENT_LABELS`` order."""
    fig = _figure(3.8, 3.2)
    ax = fig.add_subplot()
    peak = max(max(row) for row in grid)
    ax.imshow([list(row) for row in grid], cmap="Blues", vmin=0, vmax=max(peak, 1))
    ax.set_xticks(range(3), list(SENTIMENT_LABELS), fontsize=8)
    ax.set_yticks(range(3), list(SENTIMENT_LABELS), fontsize=8)
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("from rating", fontsize=8)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:,}", ha="center", va="center", fontsize=9,
                    color="white" if v > 0.5 * peak else "black")
    return _image(fig, "Heatmap: rating-derived sentiment (rows) against predicted sentiment (columns)")

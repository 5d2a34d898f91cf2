"""A self-contained HTML report for a review analysis run.

:func:`write_report` turns the per-review table and the per-topic table of a run into one HTML file
that opens offline: the charts are PNGs drawn with matplotlib's object API (never pyplot's global
state) and embedded as base64 ``data:`` URIs, the only styling is a small ``<style>`` block, and
there is no JavaScript. Every string that comes from the data is HTML-escaped.

:func:`agreement` compares the sentiment derived from star ratings with the predicted sentiment;
the report uses it and the pipeline can put its numbers in the run summary.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from affectkit.exceptions import InvalidInputError
from affectkit.labels import EKMAN_LABELS, SENTIMENT_LABELS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["agreement", "write_report"]

#: Agreement is computed on the rating-derived labels that carry a polarity.
_POLAR = ("negative", "positive")
_COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
_MAX_TOPICS_PLOTTED = 15
_MAX_EMOTIONS_PLOTTED = 12
_REPRESENTATIVE_CHARS = 300
_DPI = 100

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.note { color: #666; font-style: italic; }
.meta td:first-child { font-weight: 600; }
.rep { margin: 0 0 0.4em 0; padding-left: 0.6em; border-left: 3px solid #ddd; }
.topics td { max-width: 28em; }
"""


# --------------------------------------------------------------------------- small helpers


def _e(value: object) -> str:
    """HTML-escape anything (``None``/NaN become an empty string)."""
    if _missing(value):
        return ""
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in {"NAType", "NaTType"}


def _float(value: object) -> float:
    """A float, NaN for anything missing or not numeric."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out


def _int(value: object, default: int = 0) -> int:
    f = _float(value)
    return int(f) if math.isfinite(f) else default


def _pct(value: object) -> str:
    f = _float(value)
    return "–" if math.isnan(f) else f"{100 * f:.1f}%"


def _signed(value: object) -> str:
    f = _float(value)
    return "–" if math.isnan(f) else f"{f:+.2f}"


def _split(value: object) -> list[str]:
    """``"a; b;"`` -> ``["a", "b"]``; anything that is not a string -> ``[]``."""
    if not isinstance(value, str):
        return []
    return [p.strip() for p in value.split(";") if p.strip()]


def _label(value: object) -> str | None:
    """A sentiment label, or ``None`` for missing or unknown values."""
    return value if isinstance(value, str) and value in SENTIMENT_LABELS else None


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plot_text(value: object, limit: int = 40) -> str:
    """A label safe for matplotlib: short, and ``$`` does not start mathtext."""
    text = "" if _missing(value) else " ".join(str(value).split())
    return _truncate(text, limit).replace("$", r"\$")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None,
           css_class: str = "") -> str:
    """An HTML table; cells must already be escaped."""
    numeric = numeric or set()
    cls = f' class="{css_class}"' if css_class else ""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _note(text: str) -> str:
    """A one-line note; ``text`` must already be escaped."""
    return f'<p class="note">{text}</p>'


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's warnings about glyphs (emoji, some scripts) its font cannot draw."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph .* missing from font")
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support .* natively")
        yield


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _img(fig: Figure, alt: str) -> str:
    """Render ``fig`` to PNG and return an ``<img>`` tag with it inline; ``alt`` must be plain text."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with _quiet_glyphs():
        fig.savefig(buf, format="png", dpi=_DPI)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _column(df: pd.DataFrame, name: object) -> pd.Series | None:
    if not isinstance(name, str) or name not in df.columns:
        return None
    col = df[name]
    # A duplicated column name gives a DataFrame; use the first one.
    return col.iloc[:, 0] if getattr(col, "ndim", 1) == 2 else col


# --------------------------------------------------------------------------- agreement


def agreement(reviews: pd.DataFrame) -> dict[str, Any]:
    """Compare the sentiment derived from star ratings with the predicted sentiment.

    The rule: 1–2 stars are negative, 3 stars neutral, 4–5 stars positive (``rating_sentiment``).
    ``confusion[rating][predicted]`` counts the rows that have both a rating-derived label and a
    predicted label (``sentiment``; unscored rows have none and are left out). ``agreement`` is the
    share of rows rated negative or positive (3 stars excluded) whose predicted sentiment is the same;
    ``n`` is the number of rows it is computed on. ``agreement`` is ``None`` when ``n`` is 0, which
    includes a frame without a ``rating_sentiment`` column.
    """
    import pandas as pd

    if not isinstance(reviews, pd.DataFrame):
        raise InvalidInputError(f"agreement(reviews=...) expected a pandas DataFrame, got {type(reviews).__name__}")
    confusion = {r: dict.fromkeys(SENTIMENT_LABELS, 0) for r in SENTIMENT_LABELS}
    rated = _column(reviews, "rating_sentiment")
    predicted = _column(reviews, "sentiment")
    if rated is None or predicted is None:
        return {"agreement": None, "n": 0, "confusion": confusion}
    n = hits = 0
    for r_value, p_value in zip(rated.tolist(), predicted.tolist(), strict=True):
        r, p = _label(r_value), _label(p_value)
        if r is None or p is None:
            continue
        confusion[r][p] += 1
        if r in _POLAR:
            n += 1
            hits += r == p
    return {"agreement": hits / n if n else None, "n": n, "confusion": confusion}


# --------------------------------------------------------------------------- sections


def _header(info: Mapping[str, Any], reviews: pd.DataFrame) -> str:
    name = info.get("input") or "reviews"
    n_rows = _int(info.get("n_rows"), len(reviews))
    rows = [
        ["Input", _e(name)],
        ["Rows", f"{n_rows:,}"],
        ["Scored", f"{_int(info.get('n_scored')):,}"],
        ["Flagged", f"{_int(info.get('n_flagged')):,}"],
    ]
    models = info.get("models") or {}
    if isinstance(models, Mapping) and models:
        rows.append(["Models", "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in models.items())])
    for key, title in (("time_col", "Time column"), ("rating_col", "Rating column")):
        if info.get(key):
            rows.append([title, _e(info[key])])
    duration = _float(info.get("duration_s"))
    if not math.isnan(duration):
        rows.append(["Duration", f"{duration:.1f} s"])
    if info.get("created"):
        rows.append(["Created", _e(info["created"])])
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<h1>Review report: {_e(name)}</h1>\n<table class=\"meta\"><tbody>{body}</tbody></table>"


def _sentiment_section(reviews: pd.DataFrame) -> str:
    out = ['<h2 id="sentiment">Sentiment distribution</h2>']
    col = _column(reviews, "sentiment")
    labels = [_label(v) for v in col.tolist()] if col is not None else [None] * len(reviews)
    counts = Counter(lab for lab in labels if lab is not None)
    scored = sum(counts.values())
    unscored = len(labels) - scored
    if scored == 0:
        out.append(_note("No row was scored, so there is no sentiment distribution."))
    else:
        fig = _figure(4.6, 2.6)
        ax = fig.add_subplot()
        values = [counts[lab] for lab in SENTIMENT_LABELS]
        bars = ax.bar(list(SENTIMENT_LABELS), values, color=[_COLOURS[lab] for lab in SENTIMENT_LABELS])
        ax.bar_label(bars, fontsize=8)
        ax.set_ylabel("reviews")
        ax.set_ylim(0, max(values) * 1.15 + 1)
        ax.spines[["top", "right"]].set_visible(False)
        out.append(_img(fig, "Bar chart: number of reviews per predicted sentiment"))
    rows = [[lab, f"{counts[lab]:,}", _pct(counts[lab] / scored if scored else math.nan)] for lab in SENTIMENT_LABELS]
    rows.append(["not scored", f"{unscored:,}", ""])
    out.append(_table(["Sentiment", "Reviews", "Share of scored"], rows, numeric={1, 2}))
    return "\n".join(out)


def _sorted_topics(topics: pd.DataFrame) -> list[dict[str, Any]]:
    """Topic rows as dicts, largest first, the outlier topic (-1) last."""
    records = topics.to_dict("records")
    return sorted(records, key=lambda r: (_int(r.get("topic"), -1) == -1, -_int(r.get("size")), _int(r.get("topic"))))


def _topic_name(record: Mapping[str, Any]) -> str:
    label = record.get("label")
    tid = _int(record.get("topic"), -1)
    return str(label) if not _missing(label) and str(label).strip() else f"topic {tid}"


def _topic_sentiment_section(topics: pd.DataFrame) -> str:
    out = ['<h2 id="topic-sentiment">Sentiment by topic</h2>']
    records = [r for r in _sorted_topics(topics) if _int(r.get("topic"), -1) != -1][:_MAX_TOPICS_PLOTTED]
    if not records:
        out.append(_note("No topics were found (too few reviews, or every review is an outlier)."))
        return "\n".join(out)
    names = [f"{_int(r.get('topic'))}: {_plot_text(_topic_name(r), 36)} (n={_int(r.get('size'))})" for r in records]
    fig = _figure(7.2, 0.9 + 0.32 * len(records))
    ax = fig.add_subplot()
    y = list(range(len(records)))
    left = [0.0] * len(records)
    for lab in SENTIMENT_LABELS:
        widths = [_float(r.get(f"share_{lab}")) for r in records]
        widths = [0.0 if math.isnan(w) else w for w in widths]
        ax.barh(y, widths, left=left, color=_COLOURS[lab], label=lab, height=0.7)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the topic's reviews")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    out.append(_img(fig, "Stacked bar chart: share of negative, neutral and positive reviews per topic"))
    n_real = sum(1 for r in topics.to_dict("records") if _int(r.get("topic"), -1) != -1)
    if n_real > len(records):
        out.append(_note(f"The {len(records)} largest of {n_real} topics are shown."))
    return "\n".join(out)


def _emotion_float_columns(reviews: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [
        c for c in reviews.columns
        if isinstance(c, str) and c.startswith("emotion_") and c != "emotion_top"
        and pd.api.types.is_float_dtype(reviews[c])
    ]


def _emotion_section(reviews: pd.DataFrame) -> str:
    out = ['<h2 id="emotions">Emotion mix</h2>']
    scores: dict[str, float] = {}
    measure = ""
    columns = _emotion_float_columns(reviews)
    if columns and reviews[columns].notna().any().any():
        means = reviews[columns].mean(skipna=True)
        scores = {c.removeprefix("emotion_"): float(v) for c, v in means.items() if not math.isnan(float(v))}
        measure = "mean probability"
    else:
        col = _column(reviews, "emotions")
        if col is not None:
            scores = dict(Counter(lab for v in col.tolist() for lab in _split(v)))
            measure = "reviews with the label"
    top = sorted(((k, v) for k, v in scores.items() if k != "neutral" and v > 0), key=lambda kv: (-kv[1], kv[0]))
    top = top[:_MAX_EMOTIONS_PLOTTED]
    ekman_col = _column(reviews, "ekman")
    ekman = Counter(lab for v in (ekman_col.tolist() if ekman_col is not None else []) for lab in _split(v))
    ekman_order = [lab for lab in EKMAN_LABELS if lab in ekman] + sorted(set(ekman) - set(EKMAN_LABELS))
    if not top and not ekman:
        out.append(_note("No emotion scores are available."))
        return "\n".join(out)
    fig = _figure(8.4, 3.2)
    axes = fig.subplots(1, 2, width_ratios=[3, 2]) if top and ekman else [fig.add_subplot()]
    i = 0
    if top:
        ax = axes[i]
        i += 1
        ax.barh(range(len(top)), [v for _, v in top], color="#4c72b0", height=0.7)
        ax.set_yticks(range(len(top)), [_plot_text(k, 20) for k, _ in top], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(measure, fontsize=8)
        ax.set_title(f"Top {len(top)} emotions (without neutral)", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    if ekman:
        ax = axes[i]
        ax.barh(range(len(ekman_order)), [ekman[lab] for lab in ekman_order], color="#8172b2", height=0.7)
        ax.set_yticks(range(len(ekman_order)), [_plot_text(lab, 20) for lab in ekman_order], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("reviews with the label", fontsize=8)
        ax.set_title("Ekman mix", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    out.append(_img(fig, "Bar charts: most frequent emotions and the Ekman emotion mix"))
    if top:
        fmt = (lambda v: f"{v:.3f}") if measure == "mean probability" else (lambda v: f"{int(v):,}")
        out.append(_table(["Emotion", _e(measure.capitalize())], [[_e(k), fmt(v)] for k, v in top], numeric={1}))
    if ekman:
        total = len(reviews)
        rows = [[_e(lab), f"{ekman[lab]:,}", _pct(ekman[lab] / total if total else math.nan)] for lab in ekman_order]
        out.append(_table(["Ekman emotion", "Reviews", "Share of rows"], rows, numeric={1, 2}))
    return "\n".join(out)


def _parse_times(values: pd.Series) -> pd.Series:
    """Parse a column of date strings; what does not parse becomes NaT. Naive UTC, never a warning."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(values.astype(object), errors="coerce", format="mixed", utc=True)
        except (ValueError, TypeError, OverflowError):
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    return parsed.dt.tz_convert(None)


def _trend_section(reviews: pd.DataFrame, info: Mapping[str, Any]) -> str:
    time_col = info.get("time_col")
    if not time_col:
        return ""
    out = ['<h2 id="trend">Trend over time</h2>']
    col = _column(reviews, time_col)
    if col is None:
        out.append(_note(f"The time column &#x27;{_e(time_col)}&#x27; is not in the review table; no trend is shown."))
        return "\n".join(out)
    times = _parse_times(col)
    ok = times.notna()
    if not ok.any():
        out.append(_note(f"No value of the time column &#x27;{_e(time_col)}&#x27; could be read as a date."))
        return "\n".join(out)
    span = times[ok].max() - times[ok].min()
    # Days under two months, weeks under six, months beyond: enough reviews per point to read a share.
    freq, unit, fmt = ("D", "day", "%Y-%m-%d") if span.days < 60 else (
        ("W", "week", "%Y-%m-%d") if span.days < 183 else ("M", "month", "%Y-%m"))
    periods = times[ok].dt.to_period(freq)
    sent = _column(reviews, "sentiment")
    labels = [_label(v) for v in (sent[ok].tolist() if sent is not None else [None] * int(ok.sum()))]
    groups: dict[Any, list[str | None]] = {}
    for period, lab in zip(periods.tolist(), labels, strict=True):
        groups.setdefault(period, []).append(lab)
    if len(groups) < 2:
        out.append(_note(f"All dated reviews fall in one {unit}; no trend is shown."))
        return "\n".join(out)
    keys = sorted(groups)
    names, counts, pos, neg = [], [], [], []
    for key in keys:
        labs = groups[key]
        scored = [lab for lab in labs if lab is not None]
        names.append(key.start_time.strftime(fmt))
        counts.append(len(labs))
        pos.append(scored.count("positive") / len(scored) if scored else math.nan)
        neg.append(scored.count("negative") / len(scored) if scored else math.nan)
    fig = _figure(8.0, 3.0)
    ax = fig.add_subplot()
    x = list(range(len(keys)))
    ax.bar(x, counts, color="#dddddd", label="reviews", zorder=1)
    ax.set_ylabel(f"reviews per {unit}", fontsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, pos, color=_COLOURS["positive"], marker="o", markersize=3, label="positive share")
    ax2.plot(x, neg, color=_COLOURS["negative"], marker="o", markersize=3, label="negative share")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("share of scored reviews", fontsize=8)
    step = max(1, math.ceil(len(x) / 16))
    ax.set_xticks(x[::step], names[::step], rotation=45, ha="right", fontsize=7)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax2.legend(handles, ["reviews", "positive share", "negative share"], loc="lower center",
               bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=8, frameon=False)
    out.append(_img(fig, f"Chart: reviews per {unit} and the share of positive and negative reviews"))
    n_bad = int((~ok).sum())
    if n_bad:
        out.append(_note(f"{n_bad:,} rows have no readable date and are left out of the trend."))
    rows = [[_e(n), f"{c:,}", _pct(p), _pct(q)] for n, c, p, q in zip(names, counts, pos, neg, strict=True)]
    out.append(f"<details><summary>Numbers per {unit} ({len(rows)} {unit}s)</summary>"
               + _table([unit.capitalize(), "Reviews", "Positive", "Negative"], rows, numeric={1, 2, 3})
               + "</details>")
    return "\n".join(out)


def _rating_section(reviews: pd.DataFrame, info: Mapping[str, Any]) -> str:
    if "rating_sentiment" not in reviews.columns:
        return ""
    out = ['<h2 id="rating">Rating vs predicted sentiment</h2>']
    result = agreement(reviews)
    confusion = result["confusion"]
    rating_col = info.get("rating_col")
    source = f"the rating column &#x27;{_e(rating_col)}&#x27;" if rating_col else "the star ratings"
    out.append(f"<p>Stars from {source} are mapped to a sentiment. Rule for the agreement: "
               "<strong>1–2 stars negative, 4–5 positive, 3 excluded</strong> (3 stars are the neutral row "
               "of the table). Agreement is the share of those rows whose predicted sentiment is the same; "
               "unscored rows are left out.</p>")
    if result["agreement"] is None:
        out.append(_note("Agreement cannot be computed: no scored row has a 1–2 or 4–5 star rating."))
    else:
        out.append(f"<p><strong>Agreement: {_pct(result['agreement'])}</strong> on {result['n']:,} rows.</p>")
    total = sum(v for row in confusion.values() for v in row.values())
    if total:
        fig = _figure(3.8, 3.2)
        ax = fig.add_subplot()
        grid = [[confusion[r][p] for p in SENTIMENT_LABELS] for r in SENTIMENT_LABELS]
        peak = max(max(row) for row in grid)
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(peak, 1))
        ax.set_xticks(range(3), list(SENTIMENT_LABELS), fontsize=8)
        ax.set_yticks(range(3), list(SENTIMENT_LABELS), fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("from rating", fontsize=8)
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:,}", ha="center", va="center", fontsize=9,
                        color="white" if v > 0.5 * peak else "black")
        out.append(_img(fig, "Heatmap: rating-derived sentiment (rows) against predicted sentiment (columns)"))
    rows = [[f"<strong>{r}</strong>"] + [f"{confusion[r][p]:,}" for p in SENTIMENT_LABELS] for r in SENTIMENT_LABELS]
    out.append(_table(["from rating \\ predicted", *SENTIMENT_LABELS], rows, numeric={1, 2, 3}))
    return "\n".join(out)


def _representatives(value: object) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = [value]
    else:
        parsed = value
    if isinstance(parsed, str) or not hasattr(parsed, "__iter__"):
        parsed = [parsed]
    return [str(t) for t in parsed if not _missing(t) and str(t).strip()]


def _topics_section(topics: pd.DataFrame) -> str:
    out = ['<h2 id="topics">Topics</h2>']
    records = _sorted_topics(topics)
    if not records:
        out.append(_note("No topics were found (too few reviews for a topic model)."))
        return "\n".join(out)
    rows = []
    for r in records:
        tid = _int(r.get("topic"), -1)
        name = _e(_topic_name(r)) + (" <em>(outliers)</em>" if tid == -1 else "")
        words = ", ".join(_e(w) for w in _split(r.get("words")))
        mix = " / ".join(_pct(r.get(f"share_{lab}")) for lab in SENTIMENT_LABELS)
        reps = "".join(f'<p class="rep">{_e(_truncate(t, _REPRESENTATIVE_CHARS))}</p>'
                       for t in _representatives(r.get("representative")))
        rows.append([
            str(tid), f"<strong>{name}</strong><br>{words}", f"{_int(r.get('size')):,}", mix,
            _signed(r.get("net_sentiment")), ", ".join(_e(x) for x in _split(r.get("top_emotions"))),
            ", ".join(_e(x) for x in _split(r.get("top_aspects"))), reps,
        ])
    header = ["Id", "Label and words", "Size", "Neg / neu / pos", "Net", "Top emotions", "Top aspects",
              "Representative reviews"]
    out.append(_table(header, rows, numeric={0, 2, 4}, css_class="topics"))
    return "\n".join(out)


def _flags_section(reviews: pd.DataFrame, info: Mapping[str, Any]) -> str:
    out = ['<h2 id="flags">Flagged rows</h2>']
    col = _column(reviews, "flags")
    counts = Counter(f for v in (col.tolist() if col is not None else []) for f in set(_split(v)))
    n_flagged = _int(info.get("n_flagged"), sum(1 for v in (col.tolist() if col is not None else []) if _split(v)))
    if not counts:
        out.append(_note("No row was flagged."))
        return "\n".join(out)
    out.append(f"<p>{n_flagged:,} rows carry at least one flag (a row can carry several).</p>")
    rows = [[_e(f), f"{c:,}"] for f, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    out.append(_table(["Flag", "Rows"], rows, numeric={1}))
    return "\n".join(out)


def _notes_section(info: Mapping[str, Any]) -> str:
    notes = info.get("notes")
    if isinstance(notes, str):
        notes = [notes]
    items = [n for n in (notes or []) if not _missing(n) and str(n).strip()]
    if not items:
        return ""
    return '<h2 id="notes">Notes</h2>\n<ul>' + "".join(f"<li>{_e(n)}</li>" for n in items) + "</ul>"


# --------------------------------------------------------------------------- entry point


def write_report(path: str | Path, reviews: pd.DataFrame, topics: pd.DataFrame, info: dict) -> Path:
    """Write a self-contained HTML report of a review analysis run to ``path`` and return the path.

    ``reviews`` has one row per input review (``sentiment``, ``emotion_<label>``, ``emotions``,
    ``ekman``, ``topic``, ``flags``, optionally ``rating_sentiment`` and the time column named by
    ``info["time_col"]``), ``topics`` one row per topic (may be empty), ``info`` the run's metadata
    (``input``, ``n_rows``, ``n_scored``, ``n_flagged``, ``models``, ``time_col``, ``rating_col``,
    ``duration_s``, ``created``, optional ``notes``). Missing columns and NaN values are tolerated;
    the sections that need them say so or are left out. The file is written atomically (a
    ``.html.tmp`` file next to it, then renamed).
    """
    from affectkit.exceptions import require

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

    sections = [
        _header(info, reviews),
        _sentiment_section(reviews),
        _topic_sentiment_section(topics),
        _emotion_section(reviews),
        _trend_section(reviews, info),
        _rating_section(reviews, info),
        _topics_section(topics),
        _flags_section(reviews, info),
        _notes_section(info),
    ]
    title = f"Review report: {_e(info.get('input') or 'reviews')}"
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(s for s in sections if s)
        + "\n</body>\n</html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path

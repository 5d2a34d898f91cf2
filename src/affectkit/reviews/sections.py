"""What each section of the review report shows: plain data (and charts) for its template.

The chart-drawing sections take ``draw``: :mod:`affectkit.reviews.charts` (PNGs) or
:mod:`affectkit.reviews.plotly_charts` (interactive), which have the same functions.
Each function reads the run's tables leniently (missing columns and NaN values are tolerated)
and returns a small dict; the prose and the markup are in ``templates/report.html.j2``, which
escapes every value. A section that does not apply is ``None``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from affectkit.labels import EKMAN_LABELS, SENTIMENT_LABELS
from affectkit.reviews import charts
from affectkit.reviews.agreement import agreement
from affectkit.reviews.terms import fold_term, is_about_term, term_groups
from affectkit.reviews.values import (
    as_float,
    as_int,
    column,
    missing,
    pct,
    sentiment_label,
    signed,
    split_cell,
    text,
    truncate,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["header", "summary", "sentiment", "topic_sentiment", "emotions", "trend", "rating", "topics", "aspects",
           "flags", "notes", "MAX_TOPICS_PLOTTED", "MAX_EMOTIONS_PLOTTED", "REPRESENTATIVE_CHARS", "MAX_ASPECTS_LISTED",
           "MAX_FLAGGED_LISTED"]

MAX_TOPICS_PLOTTED = 15
MAX_EMOTIONS_PLOTTED = 12
REPRESENTATIVE_CHARS = 300
MAX_ASPECTS_LISTED = 15
#: Aspects listed per topic in "Aspects by topic", for at most :data:`MAX_TOPICS_PLOTTED` topics.
MAX_TOPIC_ASPECTS = 5
MAX_FLAGGED_LISTED = 50
QUOTE_CHARS = 160


def header(info: Mapping[str, Any], reviews: pd.DataFrame) -> dict[str, Any]:
    """The run's name and its metadata rows (``(key, value)``; the models' value is a list of lines)."""
    name = info.get("input") or "reviews"
    rows: list[tuple[str, Any]] = [
        ("Input", text(name)),
        ("Rows", f"{as_int(info.get('n_rows'), len(reviews)):,}"),
        ("Scored", f"{as_int(info.get('n_scored')):,}"),
        ("Flagged", f"{as_int(info.get('n_flagged')):,}"),
    ]
    models = info.get("models") or {}
    if isinstance(models, Mapping) and models:
        rows.append(("Models", [f"{text(k)}: {text(v)}" for k, v in models.items()]))
    for key, title in (("time_col", "Time column"), ("rating_col", "Rating column")):
        if info.get(key):
            rows.append((title, text(info[key])))
    duration = as_float(info.get("duration_s"))
    if not math.isnan(duration):
        rows.append(("Duration", f"{duration:.1f} s"))
    if info.get("created"):
        rows.append(("Created", text(info["created"])))
    return {"name": text(name), "rows": rows}


def sentiment(reviews: pd.DataFrame, draw: Any = charts) -> dict[str, Any]:
    """Reviews per predicted sentiment; ``image`` is ``None`` when no row was scored."""
    col = column(reviews, "sentiment")
    labels = [sentiment_label(v) for v in col.tolist()] if col is not None else [None] * len(reviews)
    counts = Counter(lab for lab in labels if lab is not None)
    scored = sum(counts.values())
    image = draw.sentiment_bars([counts[lab] for lab in SENTIMENT_LABELS]) if scored else None
    rows = [[lab, f"{counts[lab]:,}", pct(counts[lab] / scored if scored else math.nan)] for lab in SENTIMENT_LABELS]
    rows.append(["not scored", f"{len(labels) - scored:,}", ""])
    return {"image": image, "rows": rows}


def _sorted_topics(topic_table: pd.DataFrame) -> list[dict[str, Any]]:
    """Topic rows as dicts, largest first, the outlier topic (-1) last."""
    records = topic_table.to_dict("records")
    return sorted(records, key=lambda r: (as_int(r.get("topic"), -1) == -1, -as_int(r.get("size")),
                                          as_int(r.get("topic"))))


def _topic_name(record: Mapping[str, Any]) -> str:
    label = record.get("label")
    tid = as_int(record.get("topic"), -1)
    return str(label) if not missing(label) and str(label).strip() else f"topic {tid}"


def topic_sentiment(topic_table: pd.DataFrame, draw: Any = charts) -> dict[str, Any]:
    """The sentiment shares of the largest topics; ``image`` is ``None`` when there is no topic."""
    records = [r for r in _sorted_topics(topic_table) if as_int(r.get("topic"), -1) != -1][:MAX_TOPICS_PLOTTED]
    if not records:
        return {"image": None, "shown": 0, "total": 0}
    names = [f"{as_int(r.get('topic'))}: {charts.plot_text(_topic_name(r), 36)} (n={as_int(r.get('size'))})"
             for r in records]
    shares = {lab: [as_float(r.get(f"share_{lab}")) for r in records] for lab in SENTIMENT_LABELS}
    total = sum(1 for r in topic_table.to_dict("records") if as_int(r.get("topic"), -1) != -1)
    return {"image": draw.topic_sentiment_bars(names, shares), "shown": len(records), "total": total}


def _emotion_float_columns(reviews: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [
        c for c in reviews.columns
        if isinstance(c, str) and c.startswith("emotion_") and c != "emotion_top"
        and pd.api.types.is_float_dtype(reviews[c])
    ]


def emotions(reviews: pd.DataFrame, draw: Any = charts) -> dict[str, Any] | None:
    """The most frequent emotions (mean probability, else label counts) and the Ekman mix; ``None`` without either."""
    scores: dict[str, float] = {}
    measure = ""
    columns = _emotion_float_columns(reviews)
    if columns and reviews[columns].notna().any().any():
        means = reviews[columns].mean(skipna=True)
        scores = {c.removeprefix("emotion_"): float(v) for c, v in means.items() if not math.isnan(float(v))}
        measure = "mean probability"
    else:
        col = column(reviews, "emotions")
        if col is not None:
            scores = dict(Counter(lab for v in col.tolist() for lab in split_cell(v)))
            measure = "reviews with the label"
    top = sorted(((k, v) for k, v in scores.items() if k != "neutral" and v > 0), key=lambda kv: (-kv[1], kv[0]))
    top = top[:MAX_EMOTIONS_PLOTTED]
    ekman_col = column(reviews, "ekman")
    counts = Counter(lab for v in (ekman_col.tolist() if ekman_col is not None else []) for lab in split_cell(v))
    order = [lab for lab in EKMAN_LABELS if lab in counts] + sorted(set(counts) - set(EKMAN_LABELS))
    if not top and not counts:
        return None
    ekman = [(lab, counts[lab]) for lab in order]
    fmt = (lambda v: f"{v:.3f}") if measure == "mean probability" else (lambda v: f"{int(v):,}")
    total = len(reviews)
    return {
        "image": draw.emotion_bars(top, measure, ekman),
        "measure": measure.capitalize(),
        "top": [[k, fmt(v)] for k, v in top],
        "ekman": [[lab, f"{c:,}", pct(c / total if total else math.nan)] for lab, c in ekman],
    }


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


def trend(reviews: pd.DataFrame, time_col: object, draw: Any = charts) -> dict[str, Any] | None:
    """Reviews and sentiment shares per day, week or month; ``None`` without a time column.

    ``problem`` says why no chart is drawn: ``"absent"`` (no such column), ``"unreadable"`` (no
    value reads as a date) or ``"one_period"``.
    """
    if not time_col:
        return None
    out: dict[str, Any] = {"time_col": text(time_col), "problem": None}
    col = column(reviews, time_col)
    if col is None:
        return {**out, "problem": "absent"}
    times = _parse_times(col)
    ok = times.notna()
    if not ok.any():
        return {**out, "problem": "unreadable"}
    span = times[ok].max() - times[ok].min()
    # Days under two months, weeks under six, months beyond: enough reviews per point to read a share.
    freq, unit, fmt = ("D", "day", "%Y-%m-%d") if span.days < 60 else (
        ("W", "week", "%Y-%m-%d") if span.days < 183 else ("M", "month", "%Y-%m"))
    out["unit"] = unit
    periods = times[ok].dt.to_period(freq)
    sent = column(reviews, "sentiment")
    labels = [sentiment_label(v) for v in (sent[ok].tolist() if sent is not None else [None] * int(ok.sum()))]
    groups: dict[Any, list[str | None]] = {}
    for period, lab in zip(periods.tolist(), labels, strict=True):
        groups.setdefault(period, []).append(lab)
    if len(groups) < 2:
        return {**out, "problem": "one_period"}
    names, counts, pos, neg = [], [], [], []
    for key in sorted(groups):
        labs = groups[key]
        scored = [lab for lab in labs if lab is not None]
        names.append(key.start_time.strftime(fmt))
        counts.append(len(labs))
        pos.append(scored.count("positive") / len(scored) if scored else math.nan)
        neg.append(scored.count("negative") / len(scored) if scored else math.nan)
    rows = [[n, f"{c:,}", pct(p), pct(q)] for n, c, p, q in zip(names, counts, pos, neg, strict=True)]
    return {**out, "image": draw.trend_chart(names, counts, pos, neg, unit), "undated": f"{int((~ok).sum()):,}",
            "any_undated": bool((~ok).any()), "rows": rows}


def rating(reviews: pd.DataFrame, rating_col: object, draw: Any = charts) -> dict[str, Any] | None:
    """Agreement of the rating-derived sentiment with the predicted one; ``None`` without ``rating_sentiment``."""
    if "rating_sentiment" not in reviews.columns:
        return None
    result = agreement(reviews)
    confusion = result["confusion"]
    grid = [[confusion[r][p] for p in SENTIMENT_LABELS] for r in SENTIMENT_LABELS]
    total = sum(sum(row) for row in grid)
    return {
        "rating_col": text(rating_col) if rating_col else None,
        "agreement": None if result["agreement"] is None else pct(result["agreement"]),
        "n": f"{result['n']:,}",
        "image": draw.confusion_heatmap(grid) if total else None,
        "rows": [(r, [f"{v:,}" for v in row]) for r, row in zip(SENTIMENT_LABELS, grid, strict=True)],
    }


def _representatives(value: object) -> list[str]:
    if missing(value):
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
    return [str(t) for t in parsed if not missing(t) and str(t).strip()]


def topics(topic_table: pd.DataFrame, aspect_section: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One entry per topic, largest first, the outliers last; ``aspect_rows`` are the topic's most
    mentioned aspects with their quotes (from :func:`aspects`, for the largest topics)."""
    rows = []
    by_topic = (aspect_section or {}).get("by_topic") or {}
    for rank, r in enumerate(_sorted_topics(topic_table)):
        tid = as_int(r.get("topic"), -1)
        auto = r.get("auto_label")
        renamed = not missing(auto) and str(auto).strip() and str(auto) != _topic_name(r)
        rows.append({
            "aspect_rows": by_topic.get(tid, []) if tid >= 0 and rank < MAX_TOPICS_PLOTTED else [],
            "auto_label": str(auto) if renamed else "",
            "id": str(tid), "name": _topic_name(r), "outliers": tid == -1, "words": split_cell(r.get("words")),
            "size": f"{as_int(r.get('size')):,}",
            "mix": " / ".join(pct(r.get(f"share_{lab}")) for lab in SENTIMENT_LABELS),
            "net": signed(r.get("net_sentiment")), "emotions": split_cell(r.get("top_emotions")),
            "aspects": split_cell(r.get("top_aspects")),
            "representatives": [truncate(t, REPRESENTATIVE_CHARS) for t in _representatives(r.get("representative"))],
        })
    return rows


def _row_ids(reviews: pd.DataFrame, info: Mapping[str, Any]) -> list[str]:
    """Each row's id: the id column of the run, else its ``row`` number (1-based), else its position."""
    ids = column(reviews, info.get("id_col")) if info.get("id_col") else None
    if ids is not None:
        return [text(v) for v in ids.tolist()]
    rows = column(reviews, "row")
    if rows is not None:
        return [str(as_int(v, i) + 1) for i, v in enumerate(rows.tolist())]
    return [str(i + 1) for i in range(len(reviews))]


def _texts(reviews: pd.DataFrame, info: Mapping[str, Any]) -> list[str]:
    for name in ("text_clean", info.get("text_col"), "text"):
        col = column(reviews, name) if name else None
        if col is not None:
            return [text(v) for v in col.tolist()]
    return [""] * len(reviews)


def flags(reviews: pd.DataFrame, info: Mapping[str, Any]) -> dict[str, Any]:
    """How many rows carry each flag (most first), how many carry any, and the first
    :data:`MAX_FLAGGED_LISTED` of them: id, flags and first words."""
    col = column(reviews, "flags")
    values = col.tolist() if col is not None else []
    counts = Counter(f for v in values for f in set(split_cell(v)))
    n_flagged = as_int(info.get("n_flagged"), sum(1 for v in values if split_cell(v)))
    rows = [[f, f"{c:,}"] for f, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    flagged = [i for i, v in enumerate(values) if split_cell(v)]
    ids, texts = _row_ids(reviews, info), _texts(reviews, info)
    listed = [[ids[i], ", ".join(split_cell(values[i])), truncate(" ".join(texts[i].split()), 80) or "(empty)"]
              for i in flagged[:MAX_FLAGGED_LISTED]]
    return {"n_flagged": f"{n_flagged:,}", "rows": rows, "listed": listed,
            "more": f"{len(flagged) - len(listed):,}" if len(flagged) > len(listed) else ""}


def _aspect_mentions(reviews: pd.DataFrame, info: Mapping[str, Any]) -> list[tuple[str, str, str, int]]:
    """(aspect, polarity, quote, topic id) for every aspect mention of the run (topic -1 without topics)."""
    col = column(reviews, "aspects")
    if col is None:
        return []
    texts = _texts(reviews, info)
    topic_col = column(reviews, "topic")
    topic_ids = [as_int(v, -1) for v in topic_col.tolist()] if topic_col is not None else [-1] * len(texts)
    out = []
    for value, body, tid in zip(col.tolist(), texts, topic_ids, strict=True):
        if missing(value) or not str(value).strip():
            continue
        try:
            items = json.loads(value) if isinstance(value, str) else list(value)
        except (TypeError, ValueError):
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or item.get("polarity") not in SENTIMENT_LABELS:
                continue
            name = fold_term(text(item.get("aspect")))
            if not name or not is_about_term(name):  # "works", "love": words the extractor took for aspects
                continue
            start, end = as_int(item.get("start"), -1), as_int(item.get("end"), -1)
            out.append((name, str(item["polarity"]), _quote(body, start, end), tid))
    return out


def _quote(body: str, start: int, end: int) -> str:
    """The words around a mention (about :data:`QUOTE_CHARS` characters), or the start of the text."""
    if not 0 <= start < end <= len(body):
        return truncate(" ".join(body.split()), QUOTE_CHARS)
    half = QUOTE_CHARS // 2
    a, b = max(0, start - half), min(len(body), end + half)
    while 0 < a < start and not body[a - 1].isspace():  # start at a word (never past the mention)
        a += 1
    snippet = " ".join(body[a:b].split())
    return ("…" if a > 0 else "") + snippet + ("…" if b < len(body) else "")


def aspects(reviews: pd.DataFrame, info: Mapping[str, Any]) -> dict[str, Any] | None:
    """The most mentioned aspects over the run: mentions, share negative and positive, the main
    polarity, and a quote for the complaint and the praise (``None`` without aspect mentions)."""
    mentions = _aspect_mentions(reviews, info)
    if not mentions:
        return None
    names = term_groups(Counter(m[0] for m in mentions))
    rows, distinct = _aspect_rows(mentions, names, MAX_ASPECTS_LISTED)
    by_topic: dict[int, list[tuple[str, str, str, int]]] = {}
    for m in mentions:
        if m[3] >= 0:
            by_topic.setdefault(m[3], []).append(m)
    topics = {t: _aspect_rows(items, names, MAX_TOPIC_ASPECTS)[0] for t, items in by_topic.items()}
    return {"rows": rows, "total": f"{len(mentions):,}", "distinct": f"{distinct:,}", "by_topic": topics}


def _aspect_rows(mentions: list[tuple[str, str, str, int]], names: Mapping[str, str], limit: int) -> tuple[list[dict[str, Any]], int]:
    """The ``limit`` most mentioned aspect groups of ``mentions``: counts, shares, main polarity and two
    quotes (a complaint and a praise, where there is one); and how many groups there are."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name, pol, quote, _ in mentions:
        groups.setdefault(names[name], []).append((pol, quote))
    rows = []
    for name, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]:
        n = len(items)
        neg = sum(p == "negative" for p, _ in items)
        pos = sum(p == "positive" for p, _ in items)
        quotes = [q for p, q in items if p == "negative"][:1] + [q for p, q in items if p == "positive"][:1]
        rows.append({"aspect": name, "mentions": f"{n:,}", "negative": pct(neg / n), "positive": pct(pos / n),
                     "main": "negative" if neg > pos else "positive" if pos > neg else "mixed",
                     "n": n, "n_negative": neg, "n_positive": pos, "quotes": quotes})
    return rows, len(groups)


def summary(reviews: pd.DataFrame, topic_table: pd.DataFrame, info: Mapping[str, Any],
            aspect_section: dict[str, Any] | None, rating_section: dict[str, Any] | None) -> list[str]:
    """Three or four sentences for the top of the report, each computed from the sections' numbers."""
    out = []
    verdicts = column(reviews, "verdict")  # the one verdict per review that the page and the API show
    col = verdicts if verdicts is not None else column(reviews, "sentiment")
    kinds = (*SENTIMENT_LABELS, "mixed") if verdicts is not None else SENTIMENT_LABELS
    labels = [v if isinstance(v, str) and v in kinds else None for v in col.tolist()] if col is not None else []
    scored = [x for x in labels if x]
    if scored:
        share = {lab: sum(x == lab for x in scored) / len(scored) for lab in kinds}
        line = (f"{len(scored):,} reviews scored: {pct(share['positive'])} positive, {pct(share['negative'])} "
                f"negative, {pct(share['neutral'])} neutral")
        out.append(line + (f", {pct(share['mixed'])} mixed (praise and complaint both strong)." if "mixed" in share
                           else "."))
    records = [r for r in _sorted_topics(topic_table) if as_int(r.get("topic"), -1) != -1 and as_int(r.get("size")) >= 5]
    if records:
        worst = max(records, key=lambda r: (as_float(r.get("share_negative")), as_int(r.get("size"))))
        if as_float(worst.get("share_negative")) > 0:
            out.append(f"What hurts most: the topic \u201c{_topic_name(worst)}\u201d, "
                       f"{pct(worst.get('share_negative'))} negative over {as_int(worst.get('size')):,} reviews.")
    if aspect_section:  # among the ten most mentioned aspects: the largest negative and positive shares
        rows = [r for r in aspect_section["rows"][:10] if r["n"] >= 2]
        complaint = max(rows, key=lambda r: (r["n_negative"] / r["n"], r["n"]), default=None)
        praise = max(rows, key=lambda r: (r["n_positive"] / r["n"], r["n"]), default=None)
        parts = []
        if complaint and complaint["n_negative"]:
            parts.append(f"the most complained-about is \u201c{complaint['aspect']}\u201d "
                         f"({complaint['negative']} of {complaint['n']:,} mentions negative)")
        if praise and praise["n_positive"] and praise is not complaint:
            parts.append(f"the most praised is \u201c{praise['aspect']}\u201d "
                         f"({praise['positive']} of {praise['n']:,} positive)")
        if parts:
            out.append("Of the ten most mentioned aspects, " + "; ".join(parts) + ".")
    if rating_section and rating_section.get("agreement") not in (None, "–"):
        out.append(f"Predicted sentiment agrees with the star ratings on {rating_section['agreement']} of the rated reviews.")
    n_flagged = as_int(info.get("n_flagged"))
    if n_flagged:
        out.append(f"{n_flagged:,} rows were flagged (listed at the end).")
    return out[:5]


def notes(info: Mapping[str, Any]) -> list[str]:
    """The run's notes (none missing or blank)."""
    items = info.get("notes")
    if isinstance(items, str):
        items = [items]
    return [str(n) for n in (items or []) if not missing(n) and str(n).strip()]

"""How well star ratings and predicted sentiment agree (the report and the run summary use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from affectkit.exceptions import InvalidInputError
from affectkit.labels import SENTIMENT_LABELS
from affectkit.reviews.values import column, sentiment_label

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["agreement", "POLAR"]

#: Agreement is computed on the rating-derived labels that carry a polarity.
POLAR = ("negative", "positive")


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
    rated = column(reviews, "rating_sentiment")
    predicted = column(reviews, "sentiment")
    if rated is None or predicted is None:
        return {"agreement": None, "n": 0, "confusion": confusion}
    n = hits = 0
    for r_value, p_value in zip(rated.tolist(), predicted.tolist(), strict=True):
        r, p = sentiment_label(r_value), sentiment_label(p_value)
        if r is None or p is None:
            continue
        confusion[r][p] += 1
        if r in POLAR:
            n += 1
            hits += r == p
    return {"agreement": hits / n if n else None, "n": n, "confusion": confusion}

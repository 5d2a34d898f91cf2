"""Reading cells of the review tables leniently: missing values, numbers, ``;``-joined lists, labels.

The report reads tables that may come from anywhere (NaN, ``None``, ``pd.NA``, odd types); these
helpers turn a cell into what a section needs without raising.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from affectkit.labels import SENTIMENT_LABELS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["missing", "text", "as_float", "as_int", "pct", "signed", "split_cell", "sentiment_label", "truncate",
           "column"]


def missing(value: object) -> bool:
    """``None``, NaN, ``pd.NA`` and ``NaT``."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in {"NAType", "NaTType"}


def text(value: object) -> str:
    """``str(value)``; an empty string for anything missing."""
    return "" if missing(value) else str(value)


def as_float(value: object) -> float:
    """A float, NaN for anything missing or not numeric."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out


def as_int(value: object, default: int = 0) -> int:
    """An int (truncated), ``default`` for anything missing, infinite or not numeric."""
    f = as_float(value)
    return int(f) if math.isfinite(f) else default


def pct(value: object) -> str:
    """``0.1234`` -> ``"12.3%"``; ``"–"`` for anything missing."""
    f = as_float(value)
    return "–" if math.isnan(f) else f"{100 * f:.1f}%"


def signed(value: object) -> str:
    """``0.3`` -> ``"+0.30"``; ``"–"`` for anything missing."""
    f = as_float(value)
    return "–" if math.isnan(f) else f"{f:+.2f}"


def split_cell(value: object) -> list[str]:
    """``"a; b;"`` -> ``["a", "b"]``; anything that is not a string -> ``[]``."""
    if not isinstance(value, str):
        return []
    return [p.strip() for p in value.split(";") if p.strip()]


def sentiment_label(value: object) -> str | None:
    """A sentiment label, or ``None`` for missing or unknown values."""
    return value if isinstance(value, str) and value in SENTIMENT_LABELS else None


def truncate(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` characters, ending in ``…`` when cut."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def column(df: pd.DataFrame, name: object) -> pd.Series | None:
    """The column ``name`` (the first one if the name is duplicated), ``None`` when absent."""
    if not isinstance(name, str) or name not in df.columns:
        return None
    col = df[name]
    # A duplicated column name gives a DataFrame; use the first one.
    return col.iloc[:, 0] if getattr(col, "ndim", 1) == 2 else col

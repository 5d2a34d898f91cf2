"""Validation and coercion of public inputs."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from affectkit.exceptions import InvalidInputError

# C0/C1 control characters except tab, newline and carriage return.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class TextBatch:
    """Texts ready for a model, with what was repaired on the way."""

    texts: list[str]
    missing: list[bool]
    notes: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.texts)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas.NA / NaT and numpy NaN scalars without importing pandas.
    if type(value).__name__ in {"NAType", "NaTType"}:
        return True
    return isinstance(value, np.floating) and bool(np.isnan(value))


def clean_text(value: object, index: int | None = None, param: str = "texts") -> tuple[str, bool, tuple[str, ...]]:
    """Coerce one input to ``(text, missing, notes)`` or raise a clear error."""
    where = f"{param}[{index}]" if index is not None else param
    if _is_missing(value):
        return "", True, ("missing value (None/NaN): scored as an empty text",)
    notes: list[str] = []
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            notes.append("invalid UTF-8 bytes were replaced with U+FFFD")
    elif isinstance(value, str):
        text = value
    elif isinstance(value, np.str_):
        text = str(value)
    else:
        kind = "a number" if isinstance(value, numbers.Number) else type(value).__name__
        raise InvalidInputError(
            f"{where} must be a str (or bytes, None/NaN for a missing value). Got {kind}: {value!r:.60}. "
            f"Convert it with str() if it is meant as text."
        )
    if _CONTROL_RE.search(text):
        text = _CONTROL_RE.sub(" ", text)
        notes.append("control characters were replaced with spaces")
    # Lone surrogates cannot be encoded; replace them so every later step is safe.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
        notes.append("unpaired surrogates were replaced")
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        notes.append("empty text")
    return text, False, tuple(notes)


def as_text_batch(texts: object, param: str = "texts", method: str = "predict_proba") -> TextBatch:
    """Coerce a batch of texts (list, tuple, array, pandas Series, generator)."""
    if isinstance(texts, str | bytes | bytearray):
        raise InvalidInputError(
            f"The '{param}' parameter of {method} must be a list of texts. Got a single "
            f"{type(texts).__name__}. Wrap it in a list ([text]) or call analyze(text) for one result."
        )
    if texts is None:
        raise InvalidInputError(f"The '{param}' parameter of {method} must be a list of texts. Got None.")
    if hasattr(texts, "tolist") and not isinstance(texts, list):  # numpy / pandas
        arr = texts
        if getattr(arr, "ndim", 1) != 1:
            raise InvalidInputError(
                f"The '{param}' parameter of {method} must be one-dimensional. Got shape {arr.shape}."
            )
        items: Iterable[object] = arr.tolist()
    elif isinstance(texts, Iterable):
        items = texts
    else:
        raise InvalidInputError(
            f"The '{param}' parameter of {method} must be a list of texts. Got {type(texts).__name__}."
        )
    out, missing, notes = [], [], []
    for i, item in enumerate(items):
        t, m, n = clean_text(item, i, param)
        out.append(t)
        missing.append(m)
        notes.append(n)
    return TextBatch(out, missing, notes)


def check_threshold(
    threshold: object, labels: Sequence[str], owner: str, default: np.ndarray | None = None
) -> np.ndarray:
    """Return per-label thresholds from a scalar, a sequence or a {label: value} mapping."""
    n = len(labels)
    if threshold is None:
        return np.full(n, 0.5) if default is None else np.asarray(default, dtype=float)
    if isinstance(threshold, Mapping):
        unknown = sorted(set(threshold) - set(labels))
        if unknown:
            raise InvalidInputError(
                f"The 'threshold' parameter of {owner} names unknown labels {unknown}. Known labels: {list(labels)}."
            )
        base = check_threshold(None, labels, owner, default).copy()
        for label, value in threshold.items():
            base[labels.index(label)] = _scalar_threshold(value, owner)
        return base
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        return np.full(n, _scalar_threshold(threshold, owner))
    arr = np.asarray(threshold, dtype=float) if not isinstance(threshold, str) else None
    if arr is None or arr.shape != (n,):
        raise InvalidInputError(
            f"The 'threshold' parameter of {owner} must be a number in [0, 1], a sequence of {n} numbers "
            f"(one per label) or a {{label: number}} mapping. Got {threshold!r:.80}."
        )
    for v in arr:
        _scalar_threshold(v, owner)
    return arr


def _scalar_threshold(value: object, owner: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"The 'threshold' parameter of {owner} must be a number in [0, 1]. Got {value!r}."
        ) from None
    if not (0.0 <= v <= 1.0):
        raise InvalidInputError(f"The 'threshold' parameter of {owner} must be in [0, 1]. Got {v}.")
    return v

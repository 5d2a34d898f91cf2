"""The emotion hierarchy of GoEmotions (Demszky et al., 2020).

Fine level: the 27 emotions + neutral. Ekman level: anger, disgust, fear, joy, sadness,
surprise + neutral. Polarity level: positive, negative, ambiguous + neutral. The mappings
are those of GoEmotions' ``ekman_mapping.json`` and ``sentiment_dict.json``.

How the levels stay consistent: a coarse label is *predicted* exactly when at least one of
its fine labels is predicted, and its *score* is the largest marginal among its fine
labels. So the three levels never contradict each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from affectkit.labels import EKMAN_LABELS, EMOTION_LABELS, POLARITY_LABELS

_EKMAN_GROUPS: dict[str, tuple[str, ...]] = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}  # fmt: skip

_POLARITY_GROUPS: dict[str, tuple[str, ...]] = {
    "positive": ("amusement", "excitement", "joy", "love", "desire", "optimism", "caring",
                 "pride", "admiration", "gratitude", "relief", "approval"),
    "negative": ("fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness",
                 "grief", "disgust", "anger", "annoyance", "disapproval"),
    "ambiguous": ("realization", "surprise", "curiosity", "confusion"),
    "neutral": ("neutral",),
}  # fmt: skip

#: fine label -> Ekman label
EKMAN_MAP: dict[str, str] = {f: c for c, fs in _EKMAN_GROUPS.items() for f in fs}
#: fine label -> polarity label
POLARITY_MAP: dict[str, str] = {f: c for c, fs in _POLARITY_GROUPS.items() for f in fs}

_LEVELS = {"ekman": (EKMAN_MAP, EKMAN_LABELS), "polarity": (POLARITY_MAP, POLARITY_LABELS)}

assert set(EKMAN_MAP) == set(EMOTION_LABELS) == set(POLARITY_MAP)


def _level(level: str) -> tuple[Mapping[str, str], tuple[str, ...]]:
    try:
        return _LEVELS[level]
    except KeyError:
        raise ValueError(
            f"The 'level' parameter must be one of {sorted(_LEVELS)}. Got {level!r}."
        ) from None


def coarsen(labels: Iterable[str], level: str = "ekman") -> tuple[str, ...]:
    """Map predicted fine labels to the labels of a coarser ``level``, in canonical order."""
    mapping, order = _level(level)
    got = {mapping[label] for label in labels}
    return tuple(label for label in order if label in got)


def coarsen_proba(
    proba: np.ndarray, labels: Iterable[str] = EMOTION_LABELS, level: str = "ekman"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Scores of a coarser level: per coarse label, the max marginal of its fine labels.

    Returns ``(scores, coarse_labels)`` with ``scores`` of shape ``(n, len(coarse_labels))``.
    """
    mapping, order = _level(level)
    labels = tuple(labels)
    proba = np.asarray(proba, dtype=np.float64).reshape(-1, len(labels))
    out = np.zeros((proba.shape[0], len(order)))
    for j, coarse in enumerate(order):
        cols = [i for i, f in enumerate(labels) if mapping.get(f) == coarse]
        if cols:
            out[:, j] = proba[:, cols].max(axis=1)
    return out, order

"""Canonical label sets."""

from __future__ import annotations

from collections.abc import Sequence

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")

#: The 27 GoEmotions emotions plus ``neutral``, in the order of GoEmotions' ``emotions.txt``.
EMOTION_LABELS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
)  # fmt: skip

#: Ekman's six basic emotions plus neutral.
EKMAN_LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

#: The polarity level of the emotion hierarchy.
POLARITY_LABELS: tuple[str, ...] = ("positive", "negative", "ambiguous", "neutral")


def canonical_order(labels: Sequence[str]) -> tuple[str, ...]:
    """``labels`` in affectkit's order when they are sentiment labels or GoEmotions labels
    (all of them or some), else as given."""
    for canon in (SENTIMENT_LABELS, EMOTION_LABELS):
        if set(labels) <= set(canon):
            return tuple(sorted(labels, key=canon.index))
    return tuple(labels)

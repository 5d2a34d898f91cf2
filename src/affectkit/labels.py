"""Canonical label sets."""

from __future__ import annotations

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

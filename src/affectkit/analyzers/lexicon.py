"""Lexicon generation: VADER (Hutto & Gilbert, 2014) through the ``vaderSentiment`` package.

VADER gives a ``compound`` score in [-1, 1] and its authors' rule: compound >= 0.05 is
positive, <= -0.05 negative, otherwise neutral. We turn the compound score into three
probabilities with a softmax over the logits

    negative: -k * (c + 0.05)      neutral: 0      positive: k * (c - 0.05)

so the argmax is exactly VADER's own rule (ties at the boundaries go VADER's way), and
``k`` (``sharpness``, default 4) only sets how confident the probabilities are.

VADER is built for sentences and its rules are quadratic in the number of words, so a
text longer than ``max_chars`` (default 2,000 characters) is split into sentence-aligned
pieces of at most that size; its compound score is the length-weighted mean of the
pieces' scores (the VADER authors' advice for paragraphs). Nothing is truncated, and
texts up to ``max_chars`` get exactly VADER's own score.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.base import Analyzer, Tags
from affectkit.labels import SENTIMENT_LABELS
from affectkit.params import Interval
from affectkit.text.segment import chunk_text

__all__ = ["VaderAnalyzer", "compound_to_proba"]

_BOUND = 0.05
_EPS = 1e-9  # breaks the tie at compound == +/-0.05 the way VADER does (not neutral)


def compound_to_proba(compound: np.ndarray, sharpness: float = 4.0) -> np.ndarray:
    """Map VADER compound scores to (negative, neutral, positive) probabilities."""
    c = np.asarray(compound, dtype=np.float64)
    logits = np.stack(
        [-sharpness * (c + _BOUND) + _EPS, np.zeros_like(c), sharpness * (c - _BOUND) + _EPS], axis=-1
    )
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


class VaderAnalyzer(Analyzer):
    """Rule-based sentiment from VADER's lexicon, mapped to negative/neutral/positive.

    Parameters
    ----------
    sharpness:
        ``k`` in the mapping above; larger gives more confident probabilities. Must be > 0.
    """

    kind = "lexicon"
    #: Not trainable: the lexicon is the model, so the labels are known from the start.
    labels_ = SENTIMENT_LABELS

    _parameter_constraints = {
        "sharpness": [Interval(float, 0, None, closed="neither")],
        "max_chars": [Interval(int, 100, None)],
    }

    def __init__(self, sharpness: float = 4.0, max_chars: int = 2000):
        self.sharpness = sharpness
        self.max_chars = max_chars

    @property
    def tags(self) -> Tags:
        return Tags(task="sentiment", multi_label=False, trainable=False, generation="lexicon")

    @property
    def _vader(self):
        vader = getattr(self, "_vader_obj", None)
        if vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            vader = self._vader_obj = SentimentIntensityAnalyzer()
        return vader

    def polarity_scores(self, text: str) -> dict[str, float]:
        """VADER's own scores (neg, neu, pos, compound) for one text."""
        return self._vader.polarity_scores(text)

    def compound(self, texts: list[str]) -> np.ndarray:
        """VADER's compound score per text (long texts: length-weighted mean over pieces)."""
        return np.array([self._compound(t) for t in texts], dtype=np.float64)

    def _compound(self, text: str) -> float:
        if not text.strip():
            return 0.0
        vader = self._vader
        if len(text) <= self.max_chars:
            return float(vader.polarity_scores(text)["compound"])
        pieces = chunk_text(text, self.max_chars)
        weights = np.array([len(p) for p in pieces], dtype=np.float64)
        scores = np.array([vader.polarity_scores(p)["compound"] for p in pieces])
        return float(scores @ weights / weights.sum())

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        self._validate_params()
        return compound_to_proba(self.compound(texts), self.sharpness)

    def word_scores(self, text: str) -> list[tuple[str, float]]:
        """The lexicon valence of each word of ``text`` (0.0 for words not in the lexicon)."""
        lex = self._vader.lexicon
        return [(w, float(lex.get(w.lower().strip(".,!?;:\"'()"), 0.0))) for w in text.split()]

    #: How ``explain`` attributes this analyzer's predictions (see :meth:`_token_weights`).
    explanation_method = "lexicon"

    def word_valences(self, text: str) -> list[tuple[int, int, float]]:
        """VADER's valence of each word of ``text`` as it enters the compound score.

        Spans ``(start, end, valence)`` into ``text``, after VADER's rules (negation, boosters,
        capitals, "but"); an emoji gets the valence of VADER's description of it. These
        valences, plus punctuation emphasis, are what VADER sums and normalises.
        """
        import string

        from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

        vader = self._vader
        converted: list[str] = []  # VADER's emoji-to-description rewrite, with a source index per character
        source: list[int] = []
        prev_space = True
        for i, ch in enumerate(text):
            if ch in vader.emojis:
                piece = ("" if prev_space else " ") + vader.emojis[ch]
                converted.extend(piece)
                source.extend([i] * len(piece))
                prev_space = False
            else:
                converted.append(ch)
                source.append(i)
                prev_space = ch == " "
        flat = "".join(converted)
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        for m in re.finditer(r"\S+", flat):
            token = m.group()
            stripped = token.strip(string.punctuation)
            word = token if len(stripped) <= 2 else stripped
            off = m.start() + token.find(word)
            words.append(word)
            spans.append((source[off], source[off + len(word) - 1] + 1))
        if not words:
            return []
        sentitext = SentiText(" ".join(words))
        sentitext.words_and_emoticons = words
        sentiments: list[float] = []
        for i, item in enumerate(words):
            if item.lower() in BOOSTER_DICT or (
                i < len(words) - 1 and item.lower() == "kind" and words[i + 1].lower() == "of"
            ):
                sentiments.append(0.0)
                continue
            sentiments = vader.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = vader._but_check(words, sentiments)
        merged: dict[tuple[int, int], float] = {}
        for span, val in zip(spans, sentiments, strict=True):
            merged[span] = merged.get(span, 0.0) + float(val)
        return [(s, e, v) for (s, e), v in merged.items()]

    def _token_weights(self, text: str, label_index: int) -> list[tuple[int, int, float]]:
        """Word scores for ``explain``: valence for positive, minus valence for negative and
        minus its size for neutral (a strongly scored word speaks against neutral)."""
        label = self.labels_[label_index]
        sign = {"positive": 1.0, "negative": -1.0}.get(label)
        return [(s, e, v * sign if sign is not None else -abs(v)) for s, e, v in self.word_valences(text)]

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["lexicon"] = "vaderSentiment"
        return config

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> VaderAnalyzer:
        return cls(**config.get("params", {}))

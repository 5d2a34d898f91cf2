"""Normalisation of raw text before a subword tokenizer (the transformer generation).

The same function runs at training and at inference, so the model sees the same text:
URLs become ``http``, user mentions ``@user`` (as in TweetEval's preprocessing), and emoji
become their names ("😍" -> "smiling face with heart-eyes") so that an uncased WordPiece
vocabulary, which lacks most emoji, still sees their meaning. Whitespace is collapsed.
"""

from __future__ import annotations

import re

__all__ = ["normalize_for_transformer"]

_URL = re.compile(r"(?:https?://|www\.)\S+")
_USER = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")


def _demojize(text: str) -> str:
    try:
        import emoji
    except ImportError:  # pragma: no cover - emoji is a core dependency
        return text
    return emoji.demojize(text, delimiters=(" ", " ")).replace("_", " ")


def normalize_for_transformer(text: str) -> str:
    text = _URL.sub("http", text)
    text = _USER.sub("@user", text)
    if any(ord(ch) > 0x2000 for ch in text):
        text = _demojize(text)
    return _SPACE.sub(" ", text).strip()

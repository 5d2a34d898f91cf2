"""BIO tags over word pieces for aspect terms, shared by the aspect model's training and inference."""

from __future__ import annotations

import re

import numpy as np

_WORD = re.compile(r"\S+")

__all__ = ["TAGS", "POLARITIES", "CATEGORIES_2014", "CATEGORIES_2016", "CATEGORIES", "token_tags", "term_tokens",
           "decode_tags", "continuation", "EDGE_WORDS"]

TAGS = ("O", "B", "I")
POLARITIES = ("negative", "neutral", "positive")
CATEGORIES_2014 = ("food", "service", "price", "ambience", "anecdotes/miscellaneous")
CATEGORIES_2016 = (
    "FOOD#QUALITY", "FOOD#STYLE_OPTIONS", "FOOD#PRICES", "DRINKS#QUALITY", "DRINKS#STYLE_OPTIONS", "DRINKS#PRICES",
    "SERVICE#GENERAL", "AMBIENCE#GENERAL", "LOCATION#GENERAL", "RESTAURANT#GENERAL", "RESTAURANT#PRICES",
    "RESTAURANT#MISCELLANEOUS",
)
CATEGORIES = CATEGORIES_2014 + CATEGORIES_2016

#: Closed-class words an aspect term neither starts nor ends with (5 of the 7,794 terms in the three
#: SemEval train files do); :func:`decode_tags` trims them off a span's edges ("price of" -> "price").
EDGE_WORDS = frozenset({
    "a", "an", "the", "of", "by", "with", "for", "to", "in", "on", "at", "from", "and", "or", "but",
    "my", "our", "their", "your", "his", "her", "its", "this", "that", "these", "those",
    "is", "was", "are", "were", "be", "very", "so", "too",
})


def continuation(offsets: list[tuple[int, int]], text: str) -> list[bool]:
    """Whether each token continues the word of the token before it (a ``##`` word piece): it starts
    where the previous one ends, between two letters or digits."""
    out = [False] * len(offsets)
    for t in range(1, len(offsets)):
        a, b = offsets[t]
        if a != b and a == offsets[t - 1][1] and 0 < a < len(text) and text[a - 1].isalnum() and text[a].isalnum():
            out[t] = True
    return out


def token_tags(offsets: list[tuple[int, int]], special: list[int], terms: list[tuple[int, int, str]],
               text: str) -> np.ndarray:
    """BIO tag ids per token, at the first piece of each word: B on the first word inside a term, I on the
    next ones; -100 (no loss) on special tokens and on the pieces that continue a word."""
    cont = continuation(offsets, text)
    tags = np.zeros(len(offsets), dtype=np.int64)
    for s, e, _ in terms:
        first = True
        for t, (a, b) in enumerate(offsets):
            if special[t] or cont[t] or b <= s or a >= e or a == b:
                continue
            tags[t] = 1 if first else 2
            first = False
    for t, sp in enumerate(special):
        if sp or cont[t]:
            tags[t] = -100
    return tags


def term_tokens(offsets: list[tuple[int, int]], special: list[int], s: int, e: int) -> list[int]:
    return [t for t, (a, b) in enumerate(offsets) if not special[t] and a < e and b > s and a != b]


def decode_tags(tag_ids: np.ndarray, offsets: list[tuple[int, int]], special: list[int], text: str) -> list[tuple[int, int]]:
    """Character spans from BIO tag ids read at the first piece of each word (an ``I`` without ``B``
    starts a term), widened to whole words."""
    cont = continuation(offsets, text)
    spans: list[list[int]] = []
    prev = 0
    for t, tag in enumerate(tag_ids[: len(offsets)]):
        a, b = offsets[t]
        if cont[t]:
            continue
        if special[t] or a == b:
            prev = 0
            continue
        if tag == 1 or (tag == 2 and prev == 0):
            spans.append([a, b])
        elif tag == 2:
            spans[-1][1] = b
        prev = int(tag)
    out = []
    for a, b in spans:
        while a > 0 and (text[a - 1].isalnum()):
            a -= 1
        while b < len(text) and text[b].isalnum():
            b += 1
        trimmed = _trim_edges(text, a, b)
        if trimmed is not None and (not out or out[-1] != trimmed):
            out.append(trimmed)
    return out


def _trim_edges(text: str, a: int, b: int) -> tuple[int, int] | None:
    """``(a, b)`` without the :data:`EDGE_WORDS` at its edges; ``None`` when nothing else is left."""
    words = [m.span() for m in _WORD.finditer(text, a, b)]
    while words and text[words[0][0]:words[0][1]].lower() in EDGE_WORDS:
        words.pop(0)
    while words and text[words[-1][0]:words[-1][1]].lower() in EDGE_WORDS:
        words.pop()
    return (words[0][0], words[-1][1]) if words else None

"""BIO tags over word pieces for aspect terms, shared by the aspect model's training and inference."""

from __future__ import annotations

import numpy as np

__all__ = ["TAGS", "POLARITIES", "CATEGORIES_2014", "CATEGORIES_2016", "CATEGORIES", "token_tags", "term_tokens",
           "decode_tags", "continuation"]

TAGS = ("O", "B", "I")
POLARITIES = ("negative", "neutral", "positive")
CATEGORIES_2014 = ("food", "service", "price", "ambience", "anecdotes/miscellaneous")
CATEGORIES_2016 = (
    "FOOD#QUALITY", "FOOD#STYLE_OPTIONS", "FOOD#PRICES", "DRINKS#QUALITY", "DRINKS#STYLE_OPTIONS", "DRINKS#PRICES",
    "SERVICE#GENERAL", "AMBIENCE#GENERAL", "LOCATION#GENERAL", "RESTAURANT#GENERAL", "RESTAURANT#PRICES",
    "RESTAURANT#MISCELLANEOUS",
)
CATEGORIES = CATEGORIES_2014 + CATEGORIES_2016


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
        if not out or out[-1] != (a, b):
            out.append((a, b))
    return out

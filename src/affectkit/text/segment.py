"""Splitting long texts into pieces that a model scores well, without losing any text."""

from __future__ import annotations

import re

__all__ = ["split_sentences", "sentence_spans", "chunk_text"]

_SENT_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n{2,}|\n(?=\s*[-*•\d])")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (a light rule-based splitter); empty pieces are dropped."""
    return [s for s in (p.strip() for p in _SENT_END.split(text)) if s]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (whitespace trimmed)."""
    spans = []
    pos = 0
    for m in _SENT_END.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Cover ``text`` with pieces of at most ``max_chars``, cutting at sentence ends, then
    at spaces, then anywhere. Joined with spaces, the pieces hold every word of ``text``."""
    if max_chars < 1:
        raise ValueError(f"The 'max_chars' parameter must be >= 1. Got {max_chars}.")
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if not sentence:
            continue
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        pieces.append(current)
    return [p for p in pieces if p]

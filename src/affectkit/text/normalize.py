"""Normalisation of raw text before a subword tokenizer (the transformer generation).

The same function runs at training and at inference, so the model sees the same text:
URLs become ``http``, user mentions ``@user`` (as in TweetEval's preprocessing), and emoji
become their names ("😍" -> "smiling face with heart-eyes") so that an uncased WordPiece
vocabulary, which lacks most emoji, still sees their meaning. Whitespace is collapsed.
"""

from __future__ import annotations

import re

__all__ = ["normalize_for_transformer", "normalize_with_offsets"]

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


def _sub_spans(chars: list[str], spans: list[tuple[int, int]], matches: list[tuple[int, int, str]]
               ) -> tuple[list[str], list[tuple[int, int]]]:
    """Replace ``(start, end, replacement)`` ranges of ``chars``; each new char maps to the replaced raw range."""
    out_c: list[str] = []
    out_s: list[tuple[int, int]] = []
    pos = 0
    for a, b, rep in matches:
        out_c += chars[pos:a]
        out_s += spans[pos:a]
        raw = (spans[a][0], spans[b - 1][1]) if b > a else (spans[a][0] if a < len(spans) else 0,) * 2
        out_c += list(rep)
        out_s += [raw] * len(rep)
        pos = b
    return out_c + chars[pos:], out_s + spans[pos:]


def normalize_with_offsets(text: str) -> tuple[str, list[tuple[int, int]]]:
    """:func:`normalize_for_transformer` and, for each of its characters, the raw ``(start, end)`` it came
    from, so that spans found in the normalised text map back to the raw text."""
    chars, spans = list(text), [(i, i + 1) for i in range(len(text))]
    for pattern, rep in ((_URL, "http"), (_USER, "@user")):
        s = "".join(chars)
        chars, spans = _sub_spans(chars, spans, [(m.start(), m.end(), rep) for m in pattern.finditer(s)])
    if any(ord(ch) > 0x2000 for ch in chars):
        try:
            import emoji
        except ImportError:  # pragma: no cover - emoji is a core dependency
            emoji = None
        if emoji is not None:
            s = "".join(chars)
            found = [(e["match_start"], e["match_end"], emoji.demojize(e["emoji"], delimiters=(" ", " ")))
                     for e in emoji.emoji_list(s)]
            chars, spans = _sub_spans(chars, spans, found)
            chars = [" " if c == "_" else c for c in chars]
    s = "".join(chars)
    chars, spans = _sub_spans(chars, spans, [(m.start(), m.end(), " ") for m in _SPACE.finditer(s)])
    while chars and chars[0] == " ":
        chars, spans = chars[1:], spans[1:]
    while chars and chars[-1] == " ":
        chars, spans = chars[:-1], spans[:-1]
    return "".join(chars), spans

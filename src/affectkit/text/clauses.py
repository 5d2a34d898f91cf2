"""Sentence and clause splitting with character offsets.

A review sentence often holds several verdicts: "The product works great but delivery was
delayed". Clauses are cut
* at sentence ends (``.``, ``!``, ``?``, ellipses, line breaks, bullets);
* before contrastive conjunctions and adverbs (but, although, though, however, yet,
  whereas, while, except, even though, on the other hand, apart from that ...);
* at semicolons, dashes between words, and emoji runs that close a statement;
* at ", and" / ", so" / ", which" when what follows is long enough to be a clause.

Every span points into the original text (``text[start:end]``), so aspect offsets
and clause offsets agree. Nothing is dropped except surrounding whitespace and the
separators themselves.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from affectkit.text.segment import sentence_spans

__all__ = ["Span", "split_clauses", "split_sentences_spans", "CONTRASTIVE"]

CONTRASTIVE = (
    "but", "although", "though", "even though", "however", "yet", "whereas", "while", "except",
    "except that", "on the other hand", "apart from that", "nevertheless", "nonetheless", "still",
    "unfortunately", "sadly", "otherwise",
)  # fmt: skip

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_CONTRAST_RE = re.compile(
    r"(?:^|(?<=[\s,;(]))(?=(?:" + "|".join(sorted((re.escape(c) for c in CONTRASTIVE), key=len, reverse=True)) + r")\b)",
    re.IGNORECASE,
)
# hard separators: semicolons, dashes between spaces, bullets, runs of emoji followed by more text
_HARD_RE = re.compile(rf"\s*;\s*|\s*[•·]\s*|(?<=[{_EMOJI}])\s+(?=[^\s{_EMOJI}])")
_SEMI_RE = re.compile(r"\s*;\s*")
_DASH_RE = re.compile(r"\s+[-–—]+\s+")
_LEADING_SUB_RE = re.compile(r"\s*(?:although|though|even though|while|whereas|despite|even if)\b[^,]{3,}?(,)", re.IGNORECASE)
_SOFT_RE = re.compile(r",\s+(?=(?:and|so|which|plus|then|also)\b)", re.IGNORECASE)
_MIN_WORDS = 3


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and (text[s].isspace() or text[s] in ",;:"):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in ",;:"):
        e -= 1
    return s, e


_NOT_CONTRAST_BEFORE = re.compile(
    r"\b(?:all|anything|everything|nothing|none|everyone|anyone|nobody|last|next|not only|cannot help)\s*$", re.IGNORECASE
)
_PARENTHETICAL_AFTER = re.compile(r"[a-z ]+?,", re.IGNORECASE)


def _real_contrast(text: str, m: re.Match, s: int) -> bool:
    """False for 'all but one' and for a parenthetical 'the service, however, was slow'."""
    before = text[s : m.start()]
    if _NOT_CONTRAST_BEFORE.search(before):
        return False
    word_end = m.start() + len(re.match(r"[a-z ]+", text[m.start() :], re.IGNORECASE).group().split()[0])
    after = text[word_end : word_end + 2]
    return not (before.rstrip().endswith(",") and after.startswith(","))


def _cut(text: str, s: int, e: int, pattern: re.Pattern, keep_match: bool, min_words: int) -> list[tuple[int, int]]:
    pieces, pos = [], s
    for m in pattern.finditer(text, s, e):
        if pattern is _CONTRAST_RE and not _real_contrast(text, m, s):
            continue
        cut_end = m.start()
        nxt = m.start() if keep_match else m.end()
        left = text[pos:cut_end]
        right = text[nxt:e]
        if len(left.split()) >= min_words and len(right.split()) >= min_words:
            pieces.append((pos, cut_end))
            pos = nxt
    pieces.append((pos, e))
    return pieces


def split_sentences_spans(text: str) -> list[Span]:
    return [Span(s, e, text[s:e]) for s, e in sentence_spans(text)]


def split_clauses(text: str, min_words: int = 1, level: str = "clause") -> list[Span]:
    """Clauses of ``text`` as :class:`Span` objects with offsets into ``text``.

    ``level="clause"`` cuts at every boundary listed above; ``level="contrast"`` only at
    sentence ends, semicolons and contrastive links, the boundaries across which
    verdicts tend to change (lists and relative clauses usually share their verdict).
    """
    if level not in ("clause", "contrast"):
        raise ValueError(f"The 'level' parameter must be 'clause' or 'contrast'. Got {level!r}.")
    fine = level == "clause"
    never = re.compile(r"(?!x)x")
    out: list[Span] = []
    for s, e in sentence_spans(text):
        for hs, he in _cut(text, s, e, _HARD_RE if fine else _SEMI_RE, keep_match=False, min_words=1):
            for ds, de in _cut(text, hs, he, _DASH_RE if fine else never, keep_match=False, min_words=_MIN_WORDS):
                for ls, le in _leading_subordinate(text, ds, de):
                    for cs, ce in _cut(text, ls, le, _CONTRAST_RE, keep_match=True, min_words=min_words):
                        for ss, se in _cut(text, cs, ce, _SOFT_RE if fine else never, keep_match=False, min_words=_MIN_WORDS):
                            a, b = _trim(text, ss, se)
                            if b > a:
                                out.append(Span(a, b, text[a:b]))
    return out


def _leading_subordinate(text: str, s: int, e: int) -> list[tuple[int, int]]:
    """'Although X, Y' -> 'Although X' and 'Y'."""
    m = _LEADING_SUB_RE.match(text, s, e)
    if m is None or len(text[m.end(1) : e].split()) < 2:
        return [(s, e)]
    return [(s, m.start(1)), (m.end(1), e)]


def governing_regions(clauses: list[Span], aspect_spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each aspect span, the text region whose opinions govern it.

    Clauses holding an aspect anchor a region; a clause that holds no aspect ("which was
    above average", "but couldn't make up for it") belongs to the nearest anchor before it
    (or, at the start, after it). An aspect's region runs from the first to the last clause
    of its group, so a lone aspect is judged by its whole sentence and aspects in
    contrasted clauses each by their own side.
    """
    if not clauses:
        return [(s, e) for s, e in aspect_spans]
    starts = [c.start for c in clauses]
    ordered = all(a.end <= b.start for a, b in zip(clauses, clauses[1:], strict=False))  # split_clauses gives this

    def clause_index(start: int, end: int) -> int:
        if ordered:  # O(log n): only the last clause starting at or before `start` can hold it
            k = bisect.bisect_right(starts, start) - 1
            if k >= 0 and start < clauses[k].end:
                return k
            near = [j for j in (k, k + 1) if 0 <= j < len(clauses)]
            return min(near, key=lambda j: (abs(clauses[j].start - start), j))
        for k, c in enumerate(clauses):
            if c.start <= start and end <= c.end:
                return k
        for k, c in enumerate(clauses):
            if c.start <= start < c.end:
                return k
        return min(range(len(clauses)), key=lambda k: abs(clauses[k].start - start))

    owners = [clause_index(s, e) for s, e in aspect_spans]
    anchors = sorted(set(owners))
    if not anchors:
        return []
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    pointer = -1
    for k in range(len(clauses)):
        while pointer + 1 < len(anchors) and anchors[pointer + 1] <= k:
            pointer += 1
        anchor = anchors[pointer] if pointer >= 0 else anchors[0]
        first.setdefault(anchor, k)
        last[anchor] = k
    # a region never spans two sentences' worth of other anchors: members are contiguous by construction
    regions = {a: (clauses[first[a]].start, clauses[last[a]].end) for a in anchors}
    return [regions[k] for k in owners]

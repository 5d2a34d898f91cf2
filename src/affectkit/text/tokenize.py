"""A small, deterministic tokenizer for social-media and review text.

It keeps what carries sentiment: emoji and emoticons become tokens, elongations are
shortened ("sooooo" -> "soo") and counted, URLs and user mentions become placeholders,
and (optionally) words inside a negation scope get a ``_NEG`` suffix, the classic
treatment of Das & Chen (2001) and Pang et al. (2002): the scope runs from a negation
word to the next clause punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TokenStats", "tokenize", "normalize_for_chars", "NEGATION_WORDS"]

NEGATION_WORDS = frozenset(
    "not no never none nobody nothing neither nor nowhere cannot cant without hardly barely "
    "aint isnt arent wasnt werent dont doesnt didnt wont wouldnt shouldnt couldnt hasnt havent hadnt".split()
)
_CLAUSE_END = frozenset(".,:;!?") | {"but", "however", "although", "though", "yet"}

_URL = r"(?:https?://|www\.)\S+"
_USER = r"@\w+"
_EMOTICON = r"(?:[<>]?[:;=8xX][\-o\*']?[\)\]\(\[dDpP/\\\|@3]+|[\)\]\(\[dDpP/\\\|@3]+[\-o\*']?[:;=8]|<3|</3|\^_*\^|[oO]_[oO]|-_-)"
_EMOJI = (
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002300-\U000023ff\U00002b00-\U00002bff"
    "\U0001f900-\U0001f9ff\u2764\u2665\u263a\u2639]"
)
_WORD = r"[^\W_]+(?:['’][^\W_]+)*"
_TOKEN_RE = re.compile(
    rf"(?P<url>{_URL})|(?P<user>{_USER})|(?P<hashtag>#{_WORD})|(?P<emoticon>{_EMOTICON})|(?P<emoji>{_EMOJI})"
    rf"|(?P<word>{_WORD})|(?P<punct>[!?]+|[.,:;]+)"
)
_ELONG_RE = re.compile(r"(\w)\1{2,}")
_DIGIT_RE = re.compile(r"^\d+(?:[.,]\d+)*$")

_POS_EMOTICONS = frozenset(":) :-) :] :d :-d =) ;) ;-) :p :-p (: <3 ^_^ ^^ xd 8)".split())
_NEG_EMOTICONS = frozenset(":( :-( :[ ): :'( :/ :\\ </3 -_- :| d:".split())


@dataclass
class TokenStats:
    """Counts of the surface cues that the hand features use."""

    n_tokens: int = 0
    exclamations: int = 0
    questions: int = 0
    all_caps: int = 0
    elongated: int = 0
    negations: int = 0
    emoji: int = 0
    pos_emoticons: int = 0
    neg_emoticons: int = 0


def tokenize(text: str, negation: bool = True) -> tuple[list[str], TokenStats]:
    """Tokens (lower-cased, normalised) and the surface statistics of ``text``."""
    stats = TokenStats()
    tokens: list[str] = []
    in_neg = False
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        raw = m.group()
        if kind == "url":
            tok = "<url>"
        elif kind == "user":
            tok = "<user>"
        elif kind == "emoticon":
            tok = raw.lower()
            if tok in _POS_EMOTICONS:
                stats.pos_emoticons += 1
            elif tok in _NEG_EMOTICONS:
                stats.neg_emoticons += 1
        elif kind == "emoji":
            tok = raw
            stats.emoji += 1
        elif kind == "punct":
            stats.exclamations += raw.count("!")
            stats.questions += raw.count("?")
            tok = raw[:2] if raw[0] in "!?" else raw[0]
        else:  # word or hashtag
            if len(raw) >= 2 and raw.isupper() and raw.isalpha():
                stats.all_caps += 1
            tok = raw.lower().replace("’", "'")
            short = _ELONG_RE.sub(r"\1\1", tok)
            if short != tok:
                stats.elongated += 1
                tok = short
            if _DIGIT_RE.match(tok):
                tok = "<num>"
        stats.n_tokens += 1
        bare = tok.replace("'", "")
        if tok in _CLAUSE_END or (kind == "punct" and tok[0] in ".,:;!?"):
            in_neg = False
            tokens.append(tok)
            continue
        if negation and in_neg and kind in ("word", "hashtag"):
            tokens.append(tok + "_NEG")
        else:
            tokens.append(tok)
        if kind == "word" and (bare in NEGATION_WORDS or bare.endswith("nt") and tok.endswith("n't")):
            stats.negations += 1
            in_neg = True
    return tokens, stats


_SPACE_RE = re.compile(r"\s+")
_URL_RE = re.compile(_URL)
_USER_RE = re.compile(_USER)


def normalize_for_chars(text: str) -> str:
    """Lower-cased text with URLs and mentions replaced and spaces collapsed (for char n-grams)."""
    text = _URL_RE.sub(" ", text)
    text = _USER_RE.sub("@", text)
    text = _ELONG_RE.sub(r"\1\1", text.lower())
    return " " + _SPACE_RE.sub(" ", text).strip() + " "

"""Aspect term extraction that works offline with what ships: rules over word shapes.

No part-of-speech model ships with affectkit, so candidates come from patterns that mark
noun phrases in review text (after Hu & Liu, 2004, and the opinion-target patterns of
Qiu et al., 2011):

* a determiner or possessive, optional modifiers, then 1-3 content words
  ("the battery life", "our waiter");
* an opinion word (from VADER's lexicon) right before 1-3 content words ("great food");
* 1-3 content words before a form of *be* or *have* at the start of a clause
  ("Food was great", "Battery has died").

A content word is one that is not a function word, an opinion word, an adverb in -ly, a
number or a common verb; the last word must not be a generic noun (thing, time, ...).
An extractor is any object with ``extract(text) -> list[tuple[int, int]]`` (character spans).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["RuleAspectExtractor", "NoExtractor", "EXTRACTORS", "is_content"]

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")

DETERMINERS = frozenset(
    "the a an this that these those my our their his her its your some any every each no another "
    "both either neither whose".split()
)
BE_HAVE = frozenset("is was are were be been being am 's has have had seems seemed looks looked feels felt tastes tasted".split())
FUNCTION = frozenset(
    """i me my mine we us our you your he him his she her it its they them their this that these those
    who whom whose which what where when why how there here then than also just only even still too very so
    really quite rather pretty much many more most less least few lot lots enough all both each either neither
    not no nor never always often sometimes usually ever again already yet soon now today tonight yesterday
    and or but if because although though while whereas as since until unless however therefore thus
    of in on at for with without to from by about into onto over under after before during between through
    against among around across along up down out off above below near behind beyond within upon per via
    is was are were be been being am has have had do does did done doing will would shall should can could
    may might must ought get got gets getting go went goes going gone come came comes coming make made makes
    take took takes give gave gives say said says see saw seen know knew think thought want wanted need needed
    like liked try tried use used using let put keep kept seem seemed look looked feel felt find found
    work works worked working arrive arrived arrives broke broken break run runs ran last lasts lasted
    order ordered wait waited waiting eat ate eaten buy bought return returned recommend recommended
    love loved hate hated enjoy enjoyed expect expected told tell asked ask took bring brought
    one two three four five six seven eight nine ten first second last next other others another same
    such own something anything everything nothing someone anyone everyone nobody none
    yes ok okay oh well please thanks thank
    """.split()
)
#: The reviewed thing itself, people around the reviewer, and occasions are not aspects of it.
NOT_ASPECTS = frozenset(
    """restaurant restaurants laptop laptops computer computers
    machine machines pc pcs notebook netbook netbooks desktop device devices phone unit model brand company
    store shop seller vendor husband wife boyfriend girlfriend friend friends family kids son daughter mom dad
    mother father group party date evening birthday occasion trip visit past couple deal market world city
    neighborhood area street village name point idea matter rest difference change side needs review reviews""".split()
)
#: Frequent adjectives that are not in the opinion lexicon (they modify aspects, they are not aspects).
ADJECTIVES = frozenset(
    """little new small big old large whole entire same different last next few several other own main
    real full high low long short hot cold fresh""".split()
)
GENERIC = frozenset(
    """thing things time times way ways lot bit kind sort type day days night nights place places
    experience experiences people person guy guys stuff one ones year years month months week weeks
    minute minutes hour hours part parts reason reasons fact problem problems issue issues job end""".split()
)


@lru_cache(maxsize=1)
def _opinion_words() -> frozenset[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return frozenset(w for w, v in SentimentIntensityAnalyzer().lexicon.items() if abs(v) >= 0.5 and w.isalpha())


def is_content(word: str) -> bool:
    """Whether ``word`` can head an aspect term: not a function word, opinion word, adverb or adjective."""
    w = word.lower()
    return not (
        w in FUNCTION or w in DETERMINERS or w in BE_HAVE or w in _opinion_words() or w.endswith("ly") or w in ADJECTIVES
        or len(w) < 2 or w.endswith("n't") or "'" in w
    )


_CONJ = frozenset("but and or although though while whereas yet however so because".split())


class RuleAspectExtractor:
    """Noun-phrase-like aspect candidates from determiner, opinion and copula patterns."""

    def __init__(self, max_words: int = 3):
        self.max_words = max_words

    def extract(self, text: str) -> list[tuple[int, int]]:
        words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        found: list[tuple[int, int]] = []
        i = 0
        n = len(words)
        while i < n:
            w = words[i][0].lower()
            start_run = None
            if w in DETERMINERS or w in _opinion_words():
                j = i + 1
                while j < n and words[j][0].lower() in _opinion_words() and j - i <= 2:
                    j += 1  # "the really great"... modifiers that are opinion words
                start_run = j
            elif is_content(words[i][0]) and (
                i == 0 or _clause_start(text, words[i - 1][2], words[i][1]) or words[i - 1][0].lower() in _CONJ
            ):
                start_run = i
            if start_run is not None:
                k = start_run
                while k < n and k - start_run < self.max_words and is_content(words[k][0]) and _adjacent(text, words, k, start_run):
                    k += 1
                if k > start_run:
                    last = words[k - 1][0].lower()
                    after = words[k][0].lower() if k < n else ""
                    needs_copula = w not in DETERMINERS and w not in _opinion_words()
                    if last not in GENERIC and last not in NOT_ASPECTS and (not needs_copula or after in BE_HAVE):
                        found.append((words[start_run][1], words[k - 1][2]))
                        i = k
                        continue
            i += 1
        return found


def _adjacent(text: str, words, k: int, start: int) -> bool:
    """Words of one phrase are separated by spaces or hyphens only."""
    if k == start:
        return True
    gap = text[words[k - 1][2] : words[k][1]]
    return gap.strip(" -") == ""


def _clause_start(text: str, prev_end: int, start: int) -> bool:
    gap = text[prev_end:start]
    return any(ch in gap for ch in ".!?;,:\n") or gap.strip() in ("-", "–")


class NoExtractor:
    """Extract nothing: use only the aspects the user passes."""

    def extract(self, text: str) -> list[tuple[int, int]]:
        return []


EXTRACTORS = {"rules": RuleAspectExtractor, "none": NoExtractor}

"""Aspect terms as the review report counts them: case-folded, plurals grouped with their singular.

Shared by the topic names (:mod:`affectkit.reviews.naming`), the per-topic aspect column
(:mod:`affectkit.reviews.topics`) and the report's aspect sections, so one mention is counted
under one name everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["EDGE_PUNCTUATION", "DESCRIPTIVE", "ASPECT_NOUNS", "fold_term", "is_about_term", "term_groups"]

#: Left off a term's ends ("tee," and 'tee"' are "tee").
EDGE_PUNCTUATION = " ,.;:!?\"()[]{}*"


#: Words reviews judge things with that VADER's lexicon leaves out: never a topic term.
DESCRIPTIVE = frozenset(
    """cheap expensive overpriced affordable pricey polite slow fast quick hard loud quiet noisy stiff sturdy
    flimsy heavy thin thick soft tight loose tiny huge unflattering flattering scratchy itchy bulky""".split()
)


#: Nouns that reviews are about which the word lists also hold as opinion words or verbs ("fit" and
#: "value" are in VADER's lexicon, "look" and "feel" are copulas): a topic term when the extractor
#: found them as aspects.
ASPECT_NOUNS = frozenset("fit look feel cut comfort support value finish".split())


def _is_topic_word(word: str) -> bool:
    from affectkit.aspects.extract import GENERIC, is_content

    w = word.lower()
    if w in ASPECT_NOUNS:
        return True
    return is_content(word) and w not in GENERIC and w not in DESCRIPTIVE and any(ch.isalpha() for ch in w)


def is_about_term(term: str) -> bool:
    """Whether a (folded) term says what a review is about: its last word and at least one word are
    content words that are not opinion words (VADER's and :data:`DESCRIPTIVE`), common verbs or
    generic nouns ("works", "love", "cheap", "days" are not; "battery life" is)."""
    words = term.split()
    return bool(words) and _is_topic_word(words[-1]) and any(_is_topic_word(w) for w in words)


def fold_term(term: str) -> str:
    """An aspect term as it is counted: lower case, one space between words, no punctuation at its
    ends, no possessive ("Kettle's," -> "kettle")."""
    term = " ".join(str(term).lower().replace("\u2019", "'").split()).strip(EDGE_PUNCTUATION)
    return term[:-2] if term.endswith("'s") else term


def term_groups(counts: Mapping[str, int]) -> dict[str, str]:
    """Each term's group name: a plural goes with its singular when the singular occurs too
    ("sizes" -> "size", "dresses" -> "dress", "batteries" -> "battery"), and a group is named by
    its most frequent form, so words used in the plural stay plural ("pants", "jeans").

    ``counts``: how often each (case-folded) term occurs; ties go to the shorter form.
    """
    names = set(counts)

    def singular(t: str) -> str:
        found = [c for c, ok in ((t[:-3] + "y", t.endswith("ies")), (t[:-2], t.endswith("es")),
                                 (t[:-1], t.endswith("s") and not t.endswith("ss"))) if ok and c in names]
        return max(found, key=lambda c: counts[c]) if found else t  # "tees": "tee" (309), not "te" (1)

    members: dict[str, list[str]] = {}
    for t in sorted(names):
        members.setdefault(singular(t), []).append(t)
    shown = {k: max(v, key=lambda t: (counts[t], -len(t))) for k, v in members.items()}
    return {t: shown[singular(t)] for t in names}

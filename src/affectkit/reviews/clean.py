"""Cleaning review text: HTML, URLs, control characters and whitespace; emoji are kept as signal.

:func:`clean_review` returns the cleaned text (``None`` when there is none) and the row's flags:

* ``missing``: no value at all; ``empty``: nothing left after cleaning;
* ``encoding``: bytes that were not UTF-8 were replaced (U+FFFD);
* ``long``: longer than :data:`LONG_TEXT` characters (still scored whole, segment by segment);
* ``not_english``: the cheap language check found another language (still scored).
"""

from __future__ import annotations

import html
import math
import re
from typing import NamedTuple

__all__ = ["CleanText", "clean_review", "detect_language", "LONG_TEXT"]

#: Texts longer than this many characters are flagged ``long`` (they are still scored in full).
LONG_TEXT = 20_000

_TAG = re.compile(r"<(?:br|p|div|li|/p|/div|/li)\b[^>]*>|</?[a-zA-Z][^<>]{0,200}>", re.I)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")
_WORD = re.compile(r"[^\W\d_]+", re.U)

# frequent function words per language: cheap evidence of the language of a text
_FUNCTION_WORDS = {
    "en": "the a an and or but if of to in on at for with from by as is are was were be been it its this that "
          "these those i me my we our you your he she they them their his her not no so very too just have has "
          "had do does did will would can could should than then there here what which who when all any some",
    "fr": "le la les un une des et ou mais est sont était de du au aux en dans pour avec sur par ce cette ces "
          "je tu il elle nous vous ils elles ne pas très qui que",
    "es": "el la los las un una unos y o pero es son era de del al en para con por este esta estos yo tú él "
          "ella nosotros no muy que se lo",
    "de": "der die das ein eine und oder aber ist sind war von zu mit für auf im nicht sehr ich du er sie wir "
          "ihr es den dem",
    "it": "il lo la gli le un una e o ma è sono era di da in per con su questo questa io tu lui lei noi voi "
          "non molto che",
    "pt": "o a os as um uma e ou mas é são era de do da em para com por este esta eu você ele ela nós não "
          "muito que",
    "nl": "de het een en of maar is zijn was van te met voor op niet heel ik jij hij zij wij dat",
}
_WORDSETS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS.items()}


def detect_language(text: str) -> str:
    """A cheap guess: ``"en"``, ``"fr"``, ``"es"``, ``"de"``, ``"it"``, ``"pt"``, ``"nl"``, ``"other"``
    (mostly non-Latin script) or ``"und"`` (no evidence, e.g. emoji only or "Great kettle!").

    Counts function words per language; another language wins only with at least two hits and
    more hits than English, so short English reviews without function words are never flagged.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return "und"
    latin = sum(1 for w in words if all(ch < "\u0250" for ch in w))
    if latin < len(words) / 2:
        return "other"
    hits = {lang: sum(1 for w in words if w in ws) for lang, ws in _WORDSETS.items()}
    best = max((lang for lang in hits if lang != "en"), key=hits.__getitem__)
    if hits[best] >= 2 and hits[best] > hits["en"]:
        return best
    return "en" if hits["en"] else "und"


class CleanText(NamedTuple):
    text: str | None  # None when missing or empty
    flags: list[str]
    language: str  # see detect_language


def clean_review(value: object) -> CleanText:
    """The cleaned text (``None`` when missing or empty), the row's flags and its language."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in ("NAType", "NaTType"):
        return CleanText(None, ["missing"], "und")
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else str(value)
    flags: list[str] = []
    if "\ufffd" in text:
        flags.append("encoding")
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _CTRL.sub("", text)
    text = _LINES.sub("\n", _SPACE.sub(" ", text)).strip()
    if not text or not any(ch.isalnum() or ord(ch) > 0x2000 for ch in text):
        return CleanText(None, [*flags, "empty"], "und")
    if len(text) > LONG_TEXT:
        flags.append("long")
    language = detect_language(text)
    if language not in ("en", "und"):
        flags.append("not_english")
    return CleanText(text, flags, language)

"""One verdict per text: the sentence sentiment, its aspects and its emotions, reconciled.

The heads of a model answer separately: a sentence sentiment, a polarity per aspect, emotions
over their thresholds. Shown side by side they can contradict each other ("negative 43%" beside
"product: positive" and "joy"). :func:`verdict` turns them into one answer that every interface
shows (the library, ``/v1/analyze``, the web page, the review job and its report), by these rules:

1. **Mixed from the sentence.** When the sentence's positive and negative probabilities are both
   at least ``MIXED_MIN`` (0.30), the verdict is ``mixed``: both kinds of evidence are strong and a
   forced choice between two near-equal answers would be noise.
2. **Mixed from the aspects.** When at least one aspect is positive and one negative, each with a
   probability of at least ``ASPECT_MIN`` (0.60), the verdict is ``mixed``.
3. Otherwise the verdict is the sentence's most probable label, with its probability as
   ``confidence``.
4. **Emotions agree with the verdict.** For a positive or negative verdict, emotions whose polarity
   (GoEmotions' hierarchy: positive, negative, ambiguous) is the opposite one are not among the
   verdict's emotions; they stay in the emotion result with their scores, listed as ``contrary``.
   When that leaves no emotion, the verdict takes the best-scoring emotion of its own polarity
   (or an ambiguous one) if its score is at least ``FALLBACK_MIN`` (0.25), else none. A neutral or mixed verdict
   keeps every emotion.

A ``mixed`` verdict's ``confidence`` is the weaker side's evidence: min(p(positive), p(negative))
from the sentence (rule 1) or the weaker of the two strongest opposite aspects (rule 2).
The thresholds were set on the ABSA-derived validation sentences (sentences whose aspects disagree
against those whose aspects agree; see ``benchmarks/contrast.py``), never on the contrast set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from affectkit.emotion.taxonomy import POLARITY_MAP as EMOTION_POLARITY

__all__ = ["ASPECT_MIN", "FALLBACK_MIN", "MIXED_LABEL", "MIXED_MIN", "Verdict", "mixed_rate", "verdict"]

#: The verdict of a text with strong positive and negative evidence.
MIXED_LABEL = "mixed"
#: Rule 1: both sentence probabilities at least this.
MIXED_MIN = 0.30
#: Rule 2: a positive and a negative aspect, each at least this probable.
ASPECT_MIN = 0.60
#: Rule 4: the least score of an emotion the verdict falls back on.
FALLBACK_MIN = 0.25


@dataclass(frozen=True)
class Verdict:
    """The overall answer for one text.

    label:
        ``negative``, ``neutral``, ``positive`` or ``mixed``.
    confidence:
        The verdict's probability (for ``mixed``: the weaker side's evidence).
    reason:
        ``"sentence"`` (rule 3), ``"sentence: positive and negative both strong"`` (rule 1) or
        ``"aspects: positive and negative"`` (rule 2).
    emotions:
        The emotion labels shown with the verdict (rule 4), best first.
    contrary:
        Emotions over their thresholds left out because their polarity contradicts the verdict.
    """

    label: str
    confidence: float
    reason: str
    emotions: tuple[str, ...] = ()
    contrary: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "confidence": round(float(self.confidence), 6), "reason": self.reason,
                "emotions": list(self.emotions), "contrary": list(self.contrary), "evidence": dict(self.evidence)}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def _aspect_items(aspects: Any) -> list[tuple[str, float]]:
    """(polarity, probability) of each found aspect of an AspectAnalysis, its dict, or pairs."""
    if aspects is None:
        return []
    items = _get(aspects, "aspects", aspects)
    out = []
    for a in items or ():
        if isinstance(a, tuple | list) and len(a) == 2:
            out.append((str(a[0]), float(a[1])))
            continue
        if _get(a, "found", True) is False or not _get(a, "polarity"):
            continue
        out.append((str(_get(a, "polarity")), float(_get(a, "probability", 0.0) or 0.0)))
    return out


def verdict(sentiment: Any, aspects: Any = None, emotion: Any = None, *, mixed_min: float = MIXED_MIN,
            aspect_min: float = ASPECT_MIN) -> Verdict:
    """The one verdict of a text from its sentiment result (a :class:`~affectkit.results.Result`, its
    ``to_dict()``, or a ``{label: probability}`` mapping), and optionally its aspects (an
    :class:`~affectkit.aspects.analyze.AspectAnalysis`, its dict, or ``(polarity, probability)``
    pairs) and its emotion result (a Result or its dict). See the module for the rules."""
    scores = sentiment if isinstance(sentiment, Mapping) and "scores" not in sentiment else _get(sentiment, "scores")
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(f"verdict: 'sentiment' must be a sentiment result or a label -> probability mapping. "
                         f"Got {type(sentiment).__name__}.")
    p = {str(k): float(v) for k, v in scores.items()}
    if _get(sentiment, "empty", False):  # nothing to judge: say so, whatever the model answers for ""
        return Verdict("neutral", p.get("neutral", 0.0), "empty text", evidence={"sentence": p})
    pos, neg = p.get("positive", 0.0), p.get("negative", 0.0)
    evidence: dict[str, Any] = {"sentence": p}
    pairs = _aspect_items(aspects)
    best_pos = max((q for pol, q in pairs if pol == "positive"), default=0.0)
    best_neg = max((q for pol, q in pairs if pol == "negative"), default=0.0)
    if pairs:
        evidence["aspects"] = {"positive": round(best_pos, 6), "negative": round(best_neg, 6)}
    if pos >= mixed_min and neg >= mixed_min:
        label, confidence, reason = MIXED_LABEL, min(pos, neg), "sentence: positive and negative both strong"
    elif best_pos >= aspect_min and best_neg >= aspect_min:
        label, confidence, reason = MIXED_LABEL, min(best_pos, best_neg), "aspects: positive and negative"
    else:
        label = max(p, key=p.__getitem__)
        confidence, reason = p[label], "sentence"
    shown, contrary = _emotions(label, emotion)
    return Verdict(label, confidence, reason, shown, contrary, evidence)


def _emotions(label: str, emotion: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if emotion is None:
        return (), ()
    escores = {str(k): float(v) for k, v in (_get(emotion, "scores") or {}).items()}
    chosen = [str(x) for x in (_get(emotion, "labels") or ())]
    chosen.sort(key=lambda e: -escores.get(e, 0.0))
    if label not in ("positive", "negative"):
        return tuple(chosen), ()
    opposite = "negative" if label == "positive" else "positive"
    keep = [e for e in chosen if EMOTION_POLARITY.get(e) != opposite]
    contrary = tuple(e for e in chosen if EMOTION_POLARITY.get(e) == opposite)
    if not keep and contrary:
        fits = [e for e in escores if EMOTION_POLARITY.get(e) in (label, "ambiguous")]
        fits.sort(key=lambda e: -escores[e])
        if fits and escores[fits[0]] >= FALLBACK_MIN:
            keep = [fits[0]]
    return tuple(keep), contrary


def mixed_rate(results: Sequence[Any], **kwargs: Any) -> float:
    """The share of ``results`` (sentiment results or score mappings) whose verdict is mixed."""
    if not results:
        return 0.0
    return sum(verdict(r, **kwargs).label == MIXED_LABEL for r in results) / len(results)

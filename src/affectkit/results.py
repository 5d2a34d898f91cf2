"""Typed, stable result objects returned by ``Analyzer.analyze``.

Arrays come from ``predict_proba``; results are built from them in a second step
(compute, then annotate), so the numbers in a result are exactly the model's scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Level", "Result", "Segment"]


@dataclass(frozen=True)
class Level:
    """One level of a label hierarchy (e.g. Ekman or polarity for emotions)."""

    labels: tuple[str, ...]
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "scores": dict(self.scores)}


@dataclass(frozen=True)
class Segment:
    """Scores of one part of a long text: ``text[start:end]``."""

    start: int
    end: int
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "scores": dict(self.scores)}


@dataclass(frozen=True)
class Result:
    """The analysis of one text.

    Attributes
    ----------
    text:
        The text as analysed (after decoding and control-character clean-up).
    task:
        ``"sentiment"``, ``"emotion"`` or another task name of the analyzer.
    label:
        The top label: the argmax for single-label models; for multi-label models the
        highest-scoring label among ``labels`` (or the overall highest if none passed).
    labels:
        Predicted labels: ``(label,)`` for single-label models; every label whose
        marginal reaches its threshold for multi-label models (possibly empty).
    scores:
        Label -> probability (single-label, sums to 1) or marginal (multi-label).
    multi_label:
        Whether ``scores`` are independent marginals.
    empty:
        True when the input was empty, whitespace-only or missing (None/NaN). The scores
        are then the model's answer for an empty text, and ``warnings`` says why.
    levels:
        Coarser levels of the label hierarchy, e.g. ``{"ekman": Level, "polarity": Level}``.
    warnings:
        Human-readable notes about the input (missing value, decoding repairs, ...).
    segments:
        For a text too long for the model in one piece: the scores of each segment and its
        character span. Empty when the text was scored whole.
    explanation:
        Per-token contributions to ``label`` (an :class:`affectkit.explain.Explanation`) when
        ``analyze(..., explain=True)`` asked for them, else ``None``.
    abstained:
        True when ``analyze(..., abstain=margin)`` found the top two labels closer than
        ``margin``: ``label`` is then ``"mixed"`` and ``labels`` is empty; ``scores`` are
        unchanged.
    """

    text: str
    task: str
    label: str
    labels: tuple[str, ...]
    scores: dict[str, float]
    multi_label: bool = False
    empty: bool = False
    levels: dict[str, Level] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    segments: tuple[Segment, ...] = ()
    explanation: Any = None
    abstained: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the CLI's ``--json`` output)."""
        return {
            "text": self.text,
            "task": self.task,
            "label": self.label,
            "labels": list(self.labels),
            "scores": dict(self.scores),
            "multi_label": self.multi_label,
            "empty": self.empty,
            "levels": {k: v.to_dict() for k, v in self.levels.items()},
            "warnings": list(self.warnings),
            "segments": [s.to_dict() for s in self.segments],
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
            "abstained": self.abstained,
        }

"""Token explanations for any analyzer, by occlusion.

A token's weight is how much the probability of the explained label drops when that token
is removed from the text: ``p(label | text) - p(label | text without the token)``. Positive
weights support the label, negative ones speak against it. It needs nothing but
``predict_proba``, so it works the same for every generation of model (lexicon, classic,
neural, transformer, ensembles), at the price of one extra prediction per token, all in
one batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError

__all__ = ["Explanation", "TokenWeight", "explain", "MAX_TOKENS"]

#: Texts with more tokens than this are explained on their first MAX_TOKENS tokens only (said in ``note``).
MAX_TOKENS = 128

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]+", re.UNICODE)


@dataclass(frozen=True)
class TokenWeight:
    token: str
    start: int
    end: int
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "start": self.start, "end": self.end, "weight": self.weight}


@dataclass(frozen=True)
class Explanation:
    """Per-token contributions to the probability of ``label``."""

    label: str
    score: float
    tokens: tuple[TokenWeight, ...]
    method: str = "occlusion"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "method": self.method,
                "tokens": [t.to_dict() for t in self.tokens], "note": self.note}

    def top(self, k: int = 5) -> list[TokenWeight]:
        """The ``k`` tokens that support the label most."""
        return sorted(self.tokens, key=lambda t: -t.weight)[:k]


def _spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _without(text: str, start: int, end: int) -> str:
    left, right = text[:start].rstrip(), text[end:].lstrip()
    return f"{left} {right}".strip() if left and right else left or right


def explain(analyzer: Any, texts: str | list[str], label: str | None = None,
            max_tokens: int = MAX_TOKENS) -> Explanation | list[Explanation]:
    """Explain the predictions of ``analyzer`` on ``texts`` token by token.

    ``label`` picks the label to explain (default: the predicted top label of each text).
    One text in, one :class:`Explanation` out; a list in, a list out.
    """
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidInputError(f"The 'max_tokens' parameter must be a positive integer. Got {max_tokens!r}.")
    labels = list(analyzer.labels_)
    if label is not None and label not in labels:
        raise InvalidInputError(f"The 'label' parameter must be one of {labels}. Got {label!r}.")
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    results = analyzer.analyze(batch)
    out: list[Explanation] = []
    for r in results:
        target = label or r.label
        j = labels.index(target)
        spans = _spans(r.text)
        note = ""
        if len(spans) > max_tokens:
            note = f"explained the first {max_tokens} of {len(spans)} tokens"
            spans = spans[:max_tokens]
        if not spans:
            out.append(Explanation(target, float(r.scores[target]), (), note="no tokens to explain"))
            continue
        proba = analyzer.predict_proba([_without(r.text, s, e) for s, e in spans])
        base = float(r.scores[target])
        weights = base - np.asarray(proba)[:, j]
        out.append(Explanation(target, base, tuple(
            TokenWeight(r.text[s:e], s, e, round(float(w), 6)) for (s, e), w in zip(spans, weights, strict=True)
        ), note=note))
    return out[0] if single else out

"""Token explanations for every generation of model.

Each analyzer is explained the way its generation allows (``Explanation.method``):

* ``lexicon`` (VADER): the valence each word brings to VADER's sum, after its rules
  (negation, boosters, capitals, "but"); sign-flipped for the negative label.
* ``linear`` (classic linear models: logreg, SVM, Naive Bayes): each active feature's value
  times its weight for the label (its log-odds against the other labels for a softmax
  head), word and character n-grams summed onto the words they cover.
* ``occlusion`` (neural, transformer, trees, ensembles and anything else): how much the
  probability of the label drops when the token is removed,
  ``p(label | text) - p(label | text without the token)``. It needs nothing but
  ``predict_proba``, at the price of one extra prediction per token, all in one batch.

Positive weights support the label, negative ones speak against it. The units differ by
method (valence, log-odds, probability), so compare weights within one explanation.
An analyzer takes part by defining ``explanation_method`` and
``_token_weights(text, label_index) -> [(start, end, weight)]`` (or ``None`` to fall back
to occlusion).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError
from affectkit.params import Interval, validate_params

__all__ = ["Explanation", "TokenWeight", "explain", "explain_results", "token_spans", "MAX_TOKENS", "METHODS"]

#: Values of ``explain``'s ``method`` parameter.
METHODS = ("auto", "occlusion")

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


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words, numbers, emoji and punctuation runs of ``text``."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _without(text: str, start: int, end: int) -> str:
    left, right = text[:start].rstrip(), text[end:].lstrip()
    return f"{left} {right}".strip() if left and right else left or right


def explain(analyzer: Any, texts: str | list[str], label: str | None = None,
            max_tokens: int = MAX_TOKENS, method: str = "auto") -> Explanation | list[Explanation]:
    """Explain the predictions of ``analyzer`` on ``texts`` token by token.

    ``label`` picks the label to explain (default: the predicted top label of each text).
    ``method="auto"`` uses the analyzer's own attribution when it has one (lexicon word
    scores, linear feature weights) and occlusion otherwise; ``"occlusion"`` forces
    occlusion. One text in, one :class:`Explanation` out; a list in, a list out.
    """
    _check(analyzer, label, max_tokens, method)
    single = isinstance(texts, str)
    results = analyzer.analyze([texts] if single else list(texts))
    out = explain_results(analyzer, results, label, max_tokens, method)
    return out[0] if single else out


def _check(analyzer: Any, label: str | None, max_tokens: int, method: str) -> None:
    validate_params("explain", {"max_tokens": max_tokens}, {"max_tokens": [Interval(int, 1, None)]})
    labels = list(analyzer.labels_)
    if label is not None and label not in labels:
        raise InvalidInputError(f"The 'label' parameter must be one of {labels}. Got {label!r}.")
    if method not in METHODS:
        raise InvalidInputError(f"The 'method' parameter of explain must be one of {list(METHODS)}. Got {method!r}.")


def explain_results(analyzer: Any, results: list[Any], label: str | None = None,
                    max_tokens: int = MAX_TOKENS, method: str = "auto") -> list[Explanation]:
    """Explanations of results ``analyzer`` already computed (no second prediction of the texts)."""
    _check(analyzer, label, max_tokens, method)
    labels = list(analyzer.labels_)
    native = getattr(analyzer, "_token_weights", None) if method == "auto" else None
    name = getattr(analyzer, "explanation_method", "occlusion") if native is not None else "occlusion"
    out: list[Explanation] = []
    occlude: list[tuple[int, int, list[tuple[int, int]]]] = []  # (result index, label index, spans)
    for r in results:
        target = label or r.label
        j = labels.index(target) if target in labels else int(np.argmax([r.scores[lab] for lab in labels]))
        target = labels[j]
        base = float(r.scores[target])
        spans = token_spans(r.text)
        note = f"explained the first {max_tokens} of {len(spans)} tokens" if len(spans) > max_tokens else ""
        if not spans:
            out.append(Explanation(target, base, (), method=name, note="no tokens to explain"))
            continue
        weights = native(r.text, j) if native is not None and name != "occlusion" else None
        if weights is None:
            out.append(Explanation(target, base, (), method="occlusion", note=note))
            occlude.append((len(out) - 1, j, spans[:max_tokens]))
            continue
        weights = sorted(weights)[:max_tokens] if note else sorted(weights)
        out.append(Explanation(target, base, tuple(
            TokenWeight(r.text[s:e], s, e, round(float(w), 6)) for s, e, w in weights
        ), method=name, note=note))
    if occlude:
        variants = [_without(results[i].text, s, e) for i, _, spans in occlude for s, e in spans]
        proba = np.asarray(analyzer.predict_proba(variants))
        row = 0
        for i, j, spans in occlude:
            r, e = results[i], out[i]
            drops = e.score - proba[row : row + len(spans), j]
            row += len(spans)
            out[i] = Explanation(e.label, e.score, tuple(
                TokenWeight(r.text[s:t], s, t, round(float(w), 6)) for (s, t), w in zip(spans, drops, strict=True)
            ), method="occlusion", note=e.note)
    return out

"""Evaluation of aspect extraction and aspect polarity (SemEval-2014 Task 4 style).

* Aspect term extraction: precision, recall and F1 of exact character spans.
* Aspect polarity given the gold aspects (``conflict`` excluded, as in most work):
  accuracy and macro-F1 over negative/neutral/positive, for two methods:
  ``sentence``: the whole sentence's polarity for each of its aspects (the baseline);
  ``clause``: the polarity of the opinion clauses that govern the aspect, exactly as
  :class:`~affectkit.aspects.AspectAnalyzer` decides it (fine region when clearly polar,
  else the contrast-bounded region);
  ``model``: the trained aspect model (:mod:`affectkit.aspects.model`), for the analyzers it
  serves (the default transformer).

Extraction is scored for the rule extractor (``extraction``) and, when a model has the aspect
model, for its tagger too (``extraction_model``).

Both methods are also scored on the ``mixed`` subset: the aspects of sentences whose gold
aspects disagree ("great food but slow service"), the only sentences where a per-aspect
method can do better than one verdict per sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit.aspects.analyze import AspectAnalyzer
from affectkit.aspects.extract import EXTRACTORS
from affectkit.datasets import AbsaSentence
from affectkit.metrics import score_single
from affectkit.registry import load

__all__ = ["extraction_scores", "polarity_scores", "evaluate_aspects"]


def extraction_scores(sentences: Sequence[AbsaSentence], extractor: Any) -> dict[str, float]:
    if callable(getattr(extractor, "prepare", None)):
        extractor.prepare([s.text for s in sentences])
    tp = fp = fn = 0
    for s in sentences:
        gold = {(a[1], a[2]) for a in s.aspects}
        pred = set(extractor.extract(s.text))
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "gold_aspects": tp + fn}


POLARITIES = ("negative", "neutral", "positive")


def polarity_scores(sentences: Sequence[AbsaSentence], model: Any) -> dict[str, Any]:
    """``{"sentence": ..., "clause": ..., "mixed": {"sentence": ..., "clause": ...}}``, each with
    accuracy, macro-F1 and n (accuracy and macro-F1 are None when n is 0)."""
    labels = tuple(model.labels_)
    keep = [s for s in sentences if any(a[3] in POLARITIES for a in s.aspects)]
    from affectkit.aspects.model import aspect_model_for

    gold, mixed = [], []
    preds: dict[str, list[str]] = {"sentence": [], "clause": []}
    sent_proba = model.predict_proba([s.text for s in keep])
    texts = [s.text for s in keep]
    by_method = {"clause": AspectAnalyzer(model, extractor=_GoldSpans(keep), method="clauses").analyze(texts)}
    if aspect_model_for(model) is not None:
        preds["model"] = []
        by_method["model"] = AspectAnalyzer(model, extractor=_GoldSpans(keep), method="model").analyze(texts)
    for k, (s, p) in enumerate(zip(keep, sent_proba, strict=True)):
        spans = {m: {(v.start, v.end): v.polarity for v in res[k].aspects} for m, res in by_method.items()}
        aspects = [a for a in s.aspects if a[3] in POLARITIES]
        disagree = len({a[3] for a in aspects}) > 1
        for _, start, end, polarity in aspects:
            gold.append(polarity)
            mixed.append(disagree)
            preds["sentence"].append(labels[int(p.argmax())])
            for m in by_method:
                preds[m].append(spans[m][(start, end)])
    out: dict[str, Any] = _method_scores(gold, preds)
    subset = np.flatnonzero(mixed)
    out["mixed"] = _method_scores([gold[i] for i in subset], {m: [v[i] for i in subset] for m, v in preds.items()})
    return out


def _method_scores(gold: list[str], preds: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, pred in preds.items():
        m = score_single(gold, pred, POLARITIES) if gold else {"accuracy": None, "macro_f1": None}
        out[name] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": len(gold)}
    return out


class _GoldSpans:
    """An extractor that returns the gold aspect spans of known sentences."""

    def __init__(self, sentences: Sequence[AbsaSentence]):
        self._spans = {s.text: [(a[1], a[2]) for a in s.aspects] for s in sentences}

    def extract(self, text: str) -> list[tuple[int, int]]:
        return self._spans.get(text, [])


class _ModelExtractor:
    """The aspect model's tagger as an extractor (all texts of a batch in one call, cached)."""

    def __init__(self, model: Any):
        self._analyzer = AspectAnalyzer(model, method="model")
        self._spans: dict[str, list[tuple[int, int]]] = {}

    def prepare(self, texts: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._spans]
        for t, res in zip(todo, self._analyzer.analyze(todo, clause_scores=False) if todo else [], strict=True):
            self._spans[t] = [(v.start, v.end) for v in res.aspects if v.start is not None]

    def extract(self, text: str) -> list[tuple[int, int]]:
        if text not in self._spans:
            self.prepare([text])
        return self._spans[text]


def evaluate_aspects(models: Sequence[Any], sentences: Sequence[AbsaSentence], extractor: Any = "rules") -> dict[str, Any]:
    ext = EXTRACTORS[extractor]() if isinstance(extractor, str) else extractor
    from affectkit.aspects.model import aspect_model_for

    result: dict[str, Any] = {"extraction": extraction_scores(sentences, ext), "polarity": {}}
    for spec in models:
        model = load(spec) if isinstance(spec, str) else spec
        name = spec if isinstance(spec, str) else type(spec).__name__
        result["polarity"][name] = polarity_scores(sentences, model)
        if "extraction_model" not in result and aspect_model_for(model) is not None:
            result["extraction_model"] = extraction_scores(sentences, _ModelExtractor(model))
    result["n_sentences"] = len(sentences)
    result["n_aspects"] = int(np.sum([len(s.aspects) for s in sentences]))
    return result

"""Aspect-level sentiment on top of any sentiment analyzer.

With the default transformer (``affectkit.load("sentiment")``) the trained aspect model reads
the aspects (:mod:`affectkit.aspects.model`): terms found by its tagger or given by the user, each
with the polarity of its own head, and restaurant categories, from the encoder pass the sentence
scores come from. Any other analyzer (lexicon, classic, neural, yours) uses the method below;
``method="clauses"`` forces it.

For each aspect (extracted, or given by the user), the polarity comes from the opinion
clauses that govern it (:func:`affectkit.text.clauses.governing_regions`): the clause that
holds the aspect plus the following clauses that hold no other aspect. "The product works
great but delivery was delayed" gives product -> positive and delivery -> negative.
Two granularities are scored: fine clauses (cut at lists, relative clauses, dashes,
contrast) and contrast-bounded regions (cut only at sentence ends, semicolons and
contrastive links). The fine region decides when it is clearly polar (probability >=
``FINE_CONFIDENCE``); otherwise the contrast region does, so an opinion-free list item
("..., and the dals") inherits the verdict of its sentence. All regions of a batch are
scored in one call, so any sentiment analyzer works (lexicon, classic, transformer, yours).

User aspects are matched in the text case-insensitively, on word boundaries, with an
optional plural ``s``; a known category ("price", "shipping", ...) also matches its cue
words ("expensive", "delivery", ...). An aspect that is not mentioned gets a verdict with
``found=False`` and no polarity, never a guess.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affectkit._validation import clean_text
from affectkit.aspects.extract import EXTRACTORS
from affectkit.aspects.model import CATEGORY_THRESHOLD, aspect_model_for
from affectkit.exceptions import InvalidInputError
from affectkit.registry import load
from affectkit.text.clauses import governing_regions, split_clauses

__all__ = ["AspectVerdict", "CategoryVerdict", "AspectAnalysis", "AspectAnalyzer", "analyze_aspects", "CATEGORY_CUES"]

#: Cue words of common review categories, used when a given aspect is not itself in the text.
CATEGORY_CUES: dict[str, tuple[str, ...]] = {
    "price": ("price", "cost", "expensive", "cheap", "pricey", "overpriced", "value", "money", "affordable"),
    "quality": ("quality", "build", "material", "materials", "made", "durable", "sturdy", "flimsy"),
    "shipping": ("shipping", "delivery", "delivered", "arrived", "shipped", "package", "courier"),
    "delivery": ("delivery", "delivered", "arrived", "shipping", "shipped", "late", "courier"),
    "service": ("service", "staff", "waiter", "waitress", "support", "customer service", "server"),
    "food": ("food", "dish", "dishes", "meal", "taste", "flavor", "flavour", "menu"),
    "battery": ("battery", "charge", "charging", "battery life"),
    "screen": ("screen", "display", "resolution"),
    "size": ("size", "fit", "fits", "small", "large", "tight", "loose"),
}


#: A fine clause region decides an aspect's polarity when it is polar with at least this probability.
FINE_CONFIDENCE = 0.6


@dataclass(frozen=True)
class AspectVerdict:
    """The verdict on one aspect."""

    aspect: str
    start: int | None
    end: int | None
    polarity: str | None
    probability: float | None
    scores: dict[str, float] = field(default_factory=dict)
    clause: tuple[int, int] | None = None
    found: bool = True
    source: str = "extracted"  # or "given"
    note: str = ""
    method: str = "clauses"  # or "model"

    def to_dict(self) -> dict[str, Any]:
        return {
            "aspect": self.aspect, "start": self.start, "end": self.end, "polarity": self.polarity,
            "probability": self.probability, "scores": dict(self.scores),
            "clause": list(self.clause) if self.clause else None, "found": self.found, "source": self.source,
            "note": self.note, "method": self.method,
        }


@dataclass(frozen=True)
class CategoryVerdict:
    """An aspect category the text speaks of (SemEval restaurant categories), with its polarity."""

    category: str
    scheme: str  # "semeval2014" (food, service, price, ambience, anecdotes/miscellaneous) or "semeval2016"
    probability: float  # that the text speaks of the category
    polarity: str
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "scheme": self.scheme, "probability": self.probability,
                "polarity": self.polarity, "scores": dict(self.scores)}


@dataclass(frozen=True)
class AspectAnalysis:
    """Aspects of one text, with the clauses and a document-level summary."""

    text: str
    aspects: tuple[AspectVerdict, ...]
    clauses: tuple[tuple[int, int, str, dict[str, float]], ...]
    summary: dict[str, Any]
    notes: tuple[str, ...] = ()
    categories: tuple[CategoryVerdict, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "aspects": [a.to_dict() for a in self.aspects],
            "categories": [c.to_dict() for c in self.categories],
            "clauses": [{"start": s, "end": e, "label": lab, "scores": sc} for s, e, lab, sc in self.clauses],
            "summary": self.summary,
            "notes": list(self.notes),
        }


def _find(text: str, term: str) -> list[tuple[int, int]]:
    pattern = re.compile(r"(?<!\w)" + re.escape(term.strip()) + r"(?:s|es)?(?!\w)", re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


class AspectAnalyzer:
    """Aspect-based sentiment with any sentiment analyzer.

    Parameters
    ----------
    analyzer:
        A sentiment analyzer object or a model name (default ``"sentiment"``).
    extractor:
        ``"auto"`` (default: the aspect model's tagger when the model is used, else ``"rules"``),
        ``"rules"``, ``"none"`` (only user aspects), or any object with
        ``extract(text) -> list[(start, end)]``.
    method:
        ``"auto"`` (default): the trained aspect model when ``analyzer`` is the default transformer
        it was trained on, else opinion clauses; ``"model"`` requires the model; ``"clauses"``
        scores the clauses around each aspect with ``analyzer``.
    aspect_model:
        An aspect model directory (written by ``affectkit train --arch aspect``); ``None`` for the
        shipped one. It must branch from ``analyzer``'s model directory.
    """

    def __init__(self, analyzer: Any = "sentiment", extractor: Any = "auto", method: str = "auto",
                 aspect_model: str | None = None):
        self.analyzer = analyzer
        self.extractor = extractor
        self.method = method
        self.aspect_model = aspect_model

    def _parts(self):
        """The loaded analyzer and extractor, resolved once and reused while the parameters stay the same."""
        cached = self.__dict__.get("_resolved")
        key = (id(self.analyzer), id(self.extractor), self.method, self.aspect_model)
        if cached is not None and cached[:4] == key:
            return cached[4], cached[5], cached[6]
        model, ext, aspect_model = self._resolve()
        self._resolved = (*key, model, ext, aspect_model)
        return model, ext, aspect_model

    def _resolve(self):
        model = load(self.analyzer) if isinstance(self.analyzer, str) else self.analyzer
        if model.tags.multi_label or "positive" not in model.labels_ or "negative" not in model.labels_:
            raise InvalidInputError(
                f"The 'analyzer' of AspectAnalyzer must be a single-label sentiment analyzer with 'positive' and "
                f"'negative' labels. Got one with labels {list(model.labels_)[:6]}."
            )
        if self.method not in ("auto", "model", "clauses"):
            raise InvalidInputError(
                f"The 'method' parameter of AspectAnalyzer must be 'auto', 'model' or 'clauses'. Got {self.method!r}."
            )
        aspect_model = None
        if self.method != "clauses":
            aspect_model = aspect_model_for(model, self.aspect_model)
            if aspect_model is None and (self.method == "model" or self.aspect_model is not None):
                raise InvalidInputError(
                    "AspectAnalyzer(method='model') and 'aspect_model' need the transformer analyzer whose encoder "
                    "the aspect model shares (the default: affectkit.load('sentiment')). Got "
                    f"{type(model).__name__}{'' if self.aspect_model is None else ' for aspect model ' + str(self.aspect_model)}; "
                    "use method='clauses' for other analyzers."
                )
        ext = self.extractor
        if isinstance(ext, str):
            if ext == "auto":
                ext = "model" if aspect_model is not None else "rules"
            if ext == "model":
                if aspect_model is None:
                    raise InvalidInputError("extractor='model' needs the aspect model (method 'auto' or 'model' with the default analyzer).")
                return model, None, aspect_model
            if ext not in EXTRACTORS:
                raise InvalidInputError(
                    f"The 'extractor' parameter of AspectAnalyzer must be 'auto', 'model', one of {sorted(EXTRACTORS)} "
                    f"or an object with extract(text). Got {ext!r}."
                )
            ext = EXTRACTORS[ext]()
        elif not callable(getattr(ext, "extract", None)):
            raise InvalidInputError("The 'extractor' of AspectAnalyzer must have an extract(text) method.")
        return model, ext, aspect_model

    def analyze(self, texts: str | Sequence[str], aspects: Sequence[str] | None = None, clause_scores: bool = True):
        """One text in, one :class:`AspectAnalysis` out; a list in, a list out.

        ``clause_scores=False`` scores only the regions that govern an aspect, not every clause:
        the result's ``clauses`` and ``summary["document"]`` are then empty, and batch jobs
        that only need the verdicts do less work.
        """
        single = isinstance(texts, str | bytes)
        items = [texts] if single else list(texts)
        if aspects is not None:
            if isinstance(aspects, str):
                aspects = aspects.split(",")
            aspects = [a.strip() for a in aspects if isinstance(a, str) and a.strip()]
            if not aspects:
                raise InvalidInputError("The 'aspects' parameter was given but holds no aspect names.")
        model, ext, aspect_model = self._parts()
        if aspect_model is not None:
            out, _ = self._with_model(items, single, aspects, model, ext, aspect_model, clause_scores)
            return out[0] if single else out
        plans = []
        pieces: dict[str, int] = {}

        def piece(t: str) -> int:
            return pieces.setdefault(t, len(pieces))

        for i, raw in enumerate(items):
            text, _missing, notes = clean_text(raw, None if single else i, "texts")
            found = self._aspect_spans(text, ext, aspects)
            clauses = split_clauses(text) if text.strip() else []
            spans = [(s, e) for _, s, e, _, _ in found if s is not None]
            fine = governing_regions(clauses, spans)
            coarse = governing_regions(split_clauses(text, level="contrast"), spans)
            plans.append((text, notes, found, clauses if clause_scores else [], fine, coarse))
            for c in clauses if clause_scores else ():
                piece(c.text)
            for a, b in fine + coarse:
                piece(text[a:b])
        order = sorted(pieces, key=pieces.__getitem__)
        proba = model.predict_proba(order) if order else np.zeros((0, len(model.labels_)))
        out = [self._one(model, plan, proba, pieces) for plan in plans]
        return out[0] if single else out

    def uses_model(self) -> bool:
        """Whether the trained aspect model reads the aspects (see ``method``)."""
        return self._parts()[2] is not None

    def analyze_all(self, texts: Sequence[str]) -> tuple[list[AspectAnalysis], dict[str, np.ndarray]]:
        """Aspects of ``texts`` (no clause scores) and the sentence heads' probabilities of the
        analyzer's model (``{"sentiment": ..., "emotion": ...}``), from one encoder pass per text.
        Needs the aspect model (:meth:`uses_model`)."""
        model, ext, aspect_model = self._parts()
        if aspect_model is None:
            raise InvalidInputError("analyze_all needs the aspect model: the default transformer analyzer and method 'auto' or 'model'.")
        analyses, passes = self._with_model(list(texts), False, None, model, ext, aspect_model, False)
        return analyses, aspect_model.head_scores(passes)

    def _with_model(self, items: list[Any], single: bool, aspects: Sequence[str] | None, model: Any, ext: Any,
                    aspect_model: Any, clause_scores: bool) -> tuple[list[AspectAnalysis], list[Any]]:
        """The trained aspect model's verdicts (one encoder pass per text; clauses scored by ``model``)."""
        texts, notes_of, found_of = [], [], []
        for i, raw in enumerate(items):
            text, _missing, notes = clean_text(raw, None if single else i, "texts")
            texts.append(text)
            notes_of.append(notes)
            # given aspects (and an explicit extractor's spans) are scored at their spans; None: the model's tagger
            found_of.append(None if aspects is None and ext is None else self._aspect_spans(text, ext, aspects))
        given = [[(s, e) for _, s, e, _, _ in f if s is not None] if f is not None else [] for f in found_of]
        passes = aspect_model.run(texts, given=given, extract=aspects is None and ext is None)
        polarities = aspect_model.polarities
        clause_rows_of: list[list[Any]] = [[] for _ in texts]
        if clause_scores:
            clause_lists = [split_clauses(t) if t.strip() else [] for t in texts]
            order = list(dict.fromkeys(c.text for cl in clause_lists for c in cl))
            proba = model.predict_proba(order) if order else np.zeros((0, len(model.labels_)))
            row_of = {t: k for k, t in enumerate(order)}
            labels = tuple(model.labels_)
            for i, cl in enumerate(clause_lists):
                for c in cl:
                    p = proba[row_of[c.text]]
                    clause_rows_of[i].append((c.start, c.end, labels[int(p.argmax())],
                                              {lab: float(v) for lab, v in zip(labels, p, strict=True)}))
        out = []
        for text, notes, found, ap, clause_rows in zip(texts, notes_of, found_of, passes, clause_rows_of, strict=True):
            notes = list(notes)
            by_span = {(t.start, t.end): t for t in ap.terms if not t.extracted}
            verdicts: list[AspectVerdict] = []
            if found is None:
                for t in ap.terms:
                    verdicts.append(self._verdict(text[t.start : t.end], t.start, t.end, t.scores, "extracted", ""))
            else:
                for name, s, e, source, note in found:
                    t = by_span.get((s, e)) if s is not None else None
                    if t is None:
                        verdicts.append(AspectVerdict(name, None, None, None, None, {}, None, False, source,
                                                      note or "not mentioned in the text", "model"))
                    else:
                        verdicts.append(self._verdict(name if source == "given" else text[s:e], s, e, t.scores, source, note))
            cats = tuple(
                CategoryVerdict(c.category, c.scheme, round(c.probability, 6), c.polarity, dict(c.scores))
                for c in ap.categories if c.probability >= CATEGORY_THRESHOLD
            )
            if text.strip() and not verdicts:
                notes.append("no aspects found")
            if not text.strip():
                notes.append("empty text")
            out.append(self._summarise(text, verdicts, clause_rows, notes, polarities, cats))
        return out, passes

    @staticmethod
    def _verdict(name: str, s: int, e: int, scores: dict[str, float], source: str, note: str) -> AspectVerdict:
        label = max(scores, key=scores.__getitem__)
        return AspectVerdict(name, s, e, label, float(scores[label]), dict(scores), None, True, source, note, "model")

    @staticmethod
    def _summarise(text: str, verdicts: list[AspectVerdict], clause_rows: list[Any], notes: list[str],
                   labels: Sequence[str], categories: tuple[CategoryVerdict, ...] = ()) -> AspectAnalysis:
        counts = Counter(v.polarity for v in verdicts if v.polarity)
        overall = None
        if clause_rows:
            labels = tuple(clause_rows[0][3])
            weights = np.array([r[1] - r[0] for r in clause_rows], dtype=float)
            mat = np.array([[r[3][lab] for lab in labels] for r in clause_rows])
            overall = weights @ mat / weights.sum()
        summary = {
            "n_aspects": sum(1 for v in verdicts if v.found),
            "polarity_counts": dict(counts),
            "mixed": counts.get("positive", 0) > 0 and counts.get("negative", 0) > 0,
            "document": None if overall is None else {
                "label": labels[int(overall.argmax())],
                "scores": {lab: float(p) for lab, p in zip(labels, overall, strict=True)},
            },
        }
        return AspectAnalysis(text, tuple(verdicts), tuple(clause_rows), summary, tuple(dict.fromkeys(notes)), categories)

    @staticmethod
    def _aspect_spans(text: str, ext: Any, aspects: Sequence[str] | None) -> list[tuple[str, int | None, int | None, str, str]]:
        """(name, start, end, source, note) for each aspect mention; start None when not mentioned."""
        if not text.strip():
            return [(a, None, None, "given", "not mentioned in the text") for a in aspects or ()]
        if aspects is None:
            return [(text[s:e], s, e, "extracted", "") for s, e in ext.extract(text)]
        found = []
        for name in aspects:
            spans = _find(text, name)
            note = ""
            if not spans and name.lower() in CATEGORY_CUES:
                for cue in CATEGORY_CUES[name.lower()]:
                    spans += _find(text, cue)
                spans = sorted(set(spans))
                note = "matched through category cue words" if spans else ""
            if not spans:
                found.append((name, None, None, "given", "not mentioned in the text"))
            found += [(name, s, e, "given", note) for s, e in spans]
        return found

    def _one(self, model, plan, proba: np.ndarray, pieces: dict[str, int]) -> AspectAnalysis:
        text, notes, found, clauses, fine, coarse = plan
        labels = tuple(model.labels_)
        notes = list(notes)
        neutral = labels.index("neutral") if "neutral" in labels else -1
        verdicts: list[AspectVerdict] = []
        k = 0
        for name, s, e, source, note in found:
            if s is None:
                verdicts.append(AspectVerdict(name, None, None, None, None, {}, None, False, source, note))
                continue
            pf, pc = proba[pieces[text[fine[k][0] : fine[k][1]]]], proba[pieces[text[coarse[k][0] : coarse[k][1]]]]
            # the finest region that holds an opinion wins; an opinion-free fine region defers to the
            # region bounded by contrastive links (often the whole sentence)
            use_fine = int(pf.argmax()) != neutral and float(pf.max()) >= FINE_CONFIDENCE
            row, region = (pf, fine[k]) if use_fine else (pc, coarse[k])
            j = int(row.argmax())
            verdicts.append(AspectVerdict(name, s, e, labels[j], float(row[j]),
                                          {lab: float(p) for lab, p in zip(labels, row, strict=True)},
                                          region, True, source, note))
            k += 1
        if text.strip() and not any(v.found for v in verdicts) and not found:
            notes.append("no aspects found")
        if not text.strip():
            notes.append("empty text")
        clause_rows = []
        for c in clauses:
            p = proba[pieces[c.text]]
            clause_rows.append((c.start, c.end, labels[int(p.argmax())], {lab: float(v) for lab, v in zip(labels, p, strict=True)}))
        return self._summarise(text, verdicts, clause_rows, notes, labels)


def analyze_aspects(text: str | Sequence[str], analyzer: Any = "sentiment", aspects: Sequence[str] | None = None,
                    extractor: Any = "auto", method: str = "auto"):
    """Shortcut: ``AspectAnalyzer(analyzer, extractor, method).analyze(text, aspects)``."""
    return AspectAnalyzer(analyzer, extractor, method).analyze(text, aspects)

"""Scoring a batch of cleaned reviews: sentiment, emotion, aspects and (for the topic sample) embeddings.

A :class:`ReviewScorer` loads its models once and is called on many batches, in this process, in
each worker process of the local engine, or in each Ray actor. It is described by a plain
:class:`ScorerSpec`, which is what travels to workers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from affectkit.emotion.taxonomy import coarsen

__all__ = ["ScorerSpec", "ReviewScorer", "SEP"]

#: Separator of multi-valued cells (emotions, Ekman labels, flags), the same in Parquet, CSV and SQLite.
SEP = ";"


@dataclass(frozen=True)
class ScorerSpec:
    """What to score with: model names or directories (``None`` skips that analysis)."""

    sentiment: str | None = "sentiment"
    emotion: str | None = "emotion"
    aspects: bool = True
    embed: bool = True
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load(name: str, threads: int | None):
    from affectkit.registry import load

    model = load(name)
    if threads and model.tags.threads:
        model.set_params(threads=threads)
    return model


class ReviewScorer:
    """Callable on a frame with ``row``, ``text`` and ``embed`` columns; returns the score columns."""

    def __init__(self, spec: ScorerSpec):
        self.spec = spec
        self.sentiment = _load(spec.sentiment, spec.threads) if spec.sentiment else None
        self.emotion = _load(spec.emotion, spec.threads) if spec.emotion else None
        if self.sentiment is not None and (self.sentiment.tags.multi_label or "positive" not in self.sentiment.labels_):
            from affectkit.exceptions import InvalidInputError

            raise InvalidInputError(
                f"The sentiment model must be single-label with a 'positive' label; {spec.sentiment!r} has "
                f"labels {list(self.sentiment.labels_)[:6]}. Pass a sentiment model (e.g. 'sentiment')."
            )
        self.aspects = None
        if spec.aspects and self.sentiment is not None:
            from affectkit.aspects.analyze import AspectAnalyzer

            self.aspects = AspectAnalyzer(self.sentiment)
        self.encoder = None
        if spec.embed:
            from affectkit.reviews.embed import general_encoder

            self.encoder = general_encoder(spec.threads)

    def _shared_pass(self) -> bool:
        """Both heads come from one encoder pass when they are the same transformer directory."""
        s, e = self.sentiment, self.emotion
        return (s is not None and e is not None and hasattr(s, "predict_all")
                and getattr(s, "path", None) == getattr(e, "path", None))

    def _verdicts(self, n: int, live: list[int], sent: Any, emo: Any, out: dict[str, Any]) -> list[str | None]:
        """Each review's one verdict (:func:`affectkit.verdicts.verdict`) from the columns just made."""
        from affectkit.verdicts import verdict

        labels = list(self.sentiment.labels_)
        elabels = list(self.emotion.labels_) if self.emotion is not None else []
        cells: list[str | None] = [None] * n
        for k, i in enumerate(live):
            found = json.loads(out["aspects"][i]) if out.get("aspects") and out["aspects"][i] else None
            feelings = None
            if emo is not None and out.get("emotions") and out["emotions"][i]:
                feelings = {"labels": out["emotions"][i].split(SEP), "scores": dict(zip(elabels, emo[k], strict=True))}
            scores = dict(zip(labels, sent[k], strict=True))
            cells[i] = verdict(scores, found, feelings).label
        return cells

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        rows = batch["row"].to_numpy()
        texts = batch["text"].tolist()
        live = [i for i, t in enumerate(texts) if isinstance(t, str) and t]
        live_texts = [texts[i] for i in live]
        out: dict[str, Any] = {"row": rows}
        n = len(rows)
        sent = emo = None
        analyses = None
        if self._shared_pass() and live_texts and self.aspects is not None and self.aspects.uses_model():
            # one encoder pass per review: sentence heads and the aspect branch read the same states
            analyses, both = self.aspects.analyze_all(live_texts)
            sent, emo = both[self.sentiment.head], both[self.emotion.head]
        elif self._shared_pass() and live_texts:
            both = self.sentiment.predict_all(live_texts)
            sent, emo = both[self.sentiment.head], both[self.emotion.head]
        else:
            if self.sentiment is not None and live_texts:
                sent = self.sentiment.predict_proba(live_texts)
            if self.emotion is not None and live_texts:
                emo = self.emotion.predict_proba(live_texts)
        if self.sentiment is not None:
            labels = list(self.sentiment.labels_)
            full = np.full((n, len(labels)), np.nan)
            if sent is not None:
                full[live] = sent
            out["sentiment"] = [None] * n
            for k, i in enumerate(live):
                out["sentiment"][i] = labels[int(np.argmax(sent[k]))]
            for j, lab in enumerate(labels):
                out[f"sentiment_{lab}"] = full[:, j]
        if self.emotion is not None:
            labels = list(self.emotion.labels_)
            full = np.full((n, len(labels)), np.nan)
            emotions: list[str | None] = [None] * n
            ekman: list[str | None] = [None] * n
            top: list[str | None] = [None] * n
            if emo is not None:
                full[live] = emo
                if self.emotion.tags.multi_label:
                    on = self.emotion.labels_from_proba(emo)
                else:
                    on = np.eye(len(labels), dtype=np.int64)[emo.argmax(axis=1)]
                for k, i in enumerate(live):
                    names = [labels[j] for j in np.flatnonzero(on[k])] or [labels[int(emo[k].argmax())]]
                    names.sort(key=lambda lab: -emo[k][labels.index(lab)])
                    emotions[i] = SEP.join(names)
                    top[i] = names[0]
                    try:
                        ekman[i] = SEP.join(coarsen(names, "ekman"))
                    except (KeyError, ValueError):  # a model whose labels are not GoEmotions'
                        ekman[i] = None
            out["emotions"], out["emotion_top"], out["ekman"] = emotions, top, ekman
            for j, lab in enumerate(labels):
                out[f"emotion_{lab}"] = full[:, j]
        if self.aspects is not None:
            cells: list[str | None] = [None] * n
            counts = np.zeros(n, dtype=np.int64)
            if live_texts:
                if analyses is None:
                    analyses = self.aspects.analyze(live_texts, clause_scores=False)
                for i, analysis in zip(live, analyses, strict=True):
                    found = [
                        {"aspect": v.aspect, "start": v.start, "end": v.end, "polarity": v.polarity,
                         "probability": round(float(v.probability), 4)}
                        for v in analysis.aspects if v.found
                    ]
                    cells[i] = json.dumps(found, ensure_ascii=False)
                    counts[i] = len(found)
            out["aspects"], out["n_aspects"] = cells, counts
        if self.sentiment is not None and set(self.sentiment.labels_) == {"negative", "neutral", "positive"}:
            out["verdict"] = self._verdicts(n, live, sent, emo, out)
        if self.encoder is not None:
            want = [i for i in live if bool(batch["embed"].iloc[i])]
            emb = self.encoder.encode([texts[i] for i in want])
            cells_b: list[bytes] = [b""] * n
            for k, i in enumerate(want):
                cells_b[i] = emb[k].astype(np.float32).tobytes()
            out["_embedding"] = cells_b
        return pd.DataFrame(out)

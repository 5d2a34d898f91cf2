"""Topics, BERTopic-style, with the BERTopic library: embeddings -> UMAP -> HDBSCAN -> c-TF-IDF.

* Embeddings come from a general encoder (:mod:`affectkit.reviews.embed`), never the
  sentiment-tuned one, so topics follow what reviews are about rather than how they feel.
* On a large corpus the model is fitted on a seeded sample of reviews and the others are
  placed afterwards, in one of two ways (``assign``):

  - ``"embeddings"`` (default): every review is embedded and goes to the topic whose
    embedding is nearest (BERTopic's ``reduce_outliers(strategy="embeddings")``), when the
    cosine similarity reaches ``outlier_threshold``;
  - ``"tfidf"``: only the sample is embedded; a TF-IDF + logistic-regression classifier
    trained on the sample's topics places the others. Much faster on big files; on 1,500
    clothing reviews it agreed with the embedding placement on 72% of reviews (BERTopic's
    c-TF-IDF similarity, tried first, agreed on 55%).

  HDBSCAN's outliers in the sample are placed by embedding similarity the same way; what
  stays below the threshold is topic -1.
* Fixed ``seed``: the same input gives the same topics, bit for bit (UMAP seeded, on one
  thread and started from PCA, HDBSCAN and c-TF-IDF deterministic; tested across processes,
  hash seeds and thread counts). UMAP's default spectral start was not: when reviews repeat
  ("Love it!"), duplicates split the neighbour graph into many components, and the spectral
  layout of those differed between two processes on the same graph (3,000 such rows: 46 and
  45 topics, 2,247 rows placed differently, with the same input fingerprint). The embeddings are the same whatever the batch size, worker count and onnxruntime
  thread count (measured: 3,000 clothing reviews, identical bytes). The fit itself is chaotic
  in its input, though: a change of 1e-7 to every embedding moved 188 of those 3,000 reviews
  (15 topics became 14), so another CPU or another onnxruntime, numba or BLAS build may give
  other topics for the same file. :attr:`TopicResult.input_sha256` (``topic_input_sha256`` in
  the job's summary) fingerprints what the fit was given: two runs with the same fingerprint
  give the same topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from affectkit.reviews._libs import topic_libraries
from affectkit.reviews.terms import fold_term, is_about_term, term_groups

__all__ = ["TopicResult", "fit_topics", "fit_fingerprint", "MIN_DOCS", "choose_sample"]

#: Fewer texts than this give no topics (a note says so).
MIN_DOCS = 30


@dataclass
class TopicResult:
    """Per-document topic ids (-1: none) and, per topic, its words and representative texts.

    ``words`` are BERTopic's c-TF-IDF words; ``about`` the aspect terms that name the topic
    (:func:`affectkit.reviews.naming.name_topics`); ``names`` the names a user gave.
    """

    assignments: np.ndarray
    words: dict[int, list[str]] = field(default_factory=dict)
    representative: dict[int, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    about: dict[int, list[str]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    #: SHA-256 of what the fit was given (seed, texts, embeddings): equal for two runs that must agree.
    input_sha256: str = ""

    def auto_label(self, topic: int) -> str:
        """The label made from the topic's aspect terms, else from its first four words."""
        if topic < 0 or topic not in self.words:
            return ""
        return ", ".join(self.about.get(topic) or self.words[topic][:4])

    def label(self, topic: int) -> str:
        """The name a user gave the topic, else :meth:`auto_label`."""
        if topic < 0 or topic not in self.words:
            return ""
        return self.names.get(topic) or self.auto_label(topic)


def choose_sample(eligible: np.ndarray, sample_size: int, seed: int = 0) -> np.ndarray:
    """The rows whose embeddings fit the topic model: all of them, or a seeded sample."""
    eligible = np.asarray(eligible, dtype=np.int64)
    if len(eligible) <= sample_size:
        return eligible
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=sample_size, replace=False))


def fit_fingerprint(docs: list[str], embeddings: np.ndarray, seed: int) -> str:
    """SHA-256 of the seed, the texts and the float32 embeddings: the whole input of the fit."""
    import hashlib

    h = hashlib.sha256(f"seed={seed};n={len(docs)};".encode())
    for d in docs:
        h.update(d.encode("utf-8", "surrogatepass") + b"\0")
    h.update(np.ascontiguousarray(embeddings, dtype=np.float32).tobytes())
    return h.hexdigest()


def min_topic_size(n: int) -> int:
    """HDBSCAN's min_cluster_size for n texts: about sqrt(n)/2, at least 5 (120 -> 5, 10,000 -> 50).

    With ``min_samples=5`` this gave 22 topics and 24% outliers on 5,000 clothing reviews, where
    BERTopic's defaults gave a few giant topics ("dress", "pants").
    """
    return max(5, round(n**0.5 / 2))


def fit_topics(docs: list[str], embeddings: np.ndarray, others: list[str] | None = None,
               others_embeddings: np.ndarray | None = None, seed: int = 0,
               outlier_threshold: float = 0.3) -> tuple[TopicResult, np.ndarray]:
    """Fit topics on ``docs`` (with their embeddings) and place ``others``.

    ``others`` are placed by embedding similarity when ``others_embeddings`` is given, else by
    a TF-IDF classifier trained on the sample (see the module docstring). Returns the result
    for ``docs`` and the topic ids of ``others``.
    """
    others = list(others or [])
    digest = fit_fingerprint(docs, embeddings, seed)
    if len(docs) < MIN_DOCS:
        note = f"{len(docs)} reviews with text: too few for topics (at least {MIN_DOCS} are needed)"
        return TopicResult(np.full(len(docs), -1), notes=[note], input_sha256=digest), np.full(len(others), -1)
    bertopic, umap, hdbscan = topic_libraries()  # without torch & co., numba's cache on (see _libs)
    from sklearn.feature_extraction.text import CountVectorizer

    n = len(docs)
    model = bertopic.BERTopic(
        embedding_model=None,
        umap_model=umap.UMAP(n_neighbors=min(15, n - 1), n_components=5, min_dist=0.0, metric="cosine",
                             random_state=seed, low_memory=True, n_jobs=1, init="pca"),
        hdbscan_model=hdbscan.HDBSCAN(min_cluster_size=min_topic_size(n), min_samples=5, metric="euclidean",
                                      cluster_selection_method="eom", prediction_data=True),
        vectorizer_model=CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=2 if n >= 100 else 1),
        # words frequent in every topic ("love", "great" in reviews) say nothing about any one of them
        ctfidf_model=bertopic.vectorizers.ClassTfidfTransformer(reduce_frequent_words=True),
        calculate_probabilities=False,
        verbose=False,
    )
    embeddings = np.asarray(embeddings, dtype=np.float32)
    try:
        topics, _ = model.fit_transform(docs, embeddings=embeddings)
    except ValueError as exc:  # e.g. no words left after stop words and min_df: texts of dates or numbers
        if "terms remain" not in str(exc) and "vocabulary" not in str(exc):
            raise
        note = f"topics skipped: the texts have too few distinct words to describe topics ({exc})"
        return TopicResult(np.full(len(docs), -1), notes=[note], input_sha256=digest), np.full(len(others), -1)
    topics = np.asarray(topics, dtype=np.int64)
    result = TopicResult(topics, input_sha256=digest)
    found = sorted(t for t in set(topics.tolist()) if t >= 0)
    if not found:
        result.notes.append("HDBSCAN found no dense groups of reviews: every review is topic -1")
        return result, np.full(len(others), -1)
    if (topics < 0).any():
        topics = np.asarray(model.reduce_outliers(docs, topics.tolist(), strategy="embeddings",
                                                  embeddings=embeddings, threshold=outlier_threshold))
    for t in found:
        result.words[t] = [w for w, _ in (model.get_topic(t) or []) if w][:10]
        result.representative[t] = list((model.get_representative_docs(t) or [])[:3])
    result.assignments = topics
    assigned = np.full(len(others), -1, dtype=np.int64)
    if others and others_embeddings is not None:
        assigned = _nearest_topic(model, np.asarray(others_embeddings, dtype=np.float32), outlier_threshold)
        how = "by nearest topic embedding"
    elif others:
        assigned = _tfidf_assign(docs, topics, others)
        how = "by a TF-IDF classifier trained on the sample"
    if others:
        result.notes.append(f"topics fitted on a sample of {n} reviews; the other {len(others)} were placed {how}")
    return result, assigned


def _nearest_topic(model: Any, embeddings: np.ndarray, threshold: float, chunk: int = 8192) -> np.ndarray:
    """``reduce_outliers(strategy="embeddings")`` for texts outside the sample, in chunks.

    The same rule as BERTopic's (cosine similarity to its ``topic_embeddings_``, the best topic
    when it reaches ``threshold``, else -1), without copying every embedding first.
    """
    topics = np.asarray(model.topic_embeddings_[model._outliers :], dtype=np.float32)
    topics = topics / np.maximum(np.linalg.norm(topics, axis=1, keepdims=True), 1e-12)
    out = np.full(len(embeddings), -1, dtype=np.int64)
    for start in range(0, len(embeddings), chunk):
        block = embeddings[start : start + chunk]
        sim = (block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)) @ topics.T
        best = sim.argmax(axis=1)
        ok = sim[np.arange(len(block)), best] >= threshold
        out[start : start + chunk] = np.where(ok, best, -1)
    return out


def _tfidf_assign(docs: list[str], topics: np.ndarray, others: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    keep = topics >= 0
    classes = np.unique(topics[keep])
    if len(classes) == 1:
        return np.full(len(others), int(classes[0]), dtype=np.int64)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english")
    x = vec.fit_transform([d for d, k in zip(docs, keep, strict=True) if k])
    clf = LogisticRegression(max_iter=300, C=5.0).fit(x, topics[keep])
    return np.asarray(clf.predict(vec.transform(others)), dtype=np.int64)


def _with_polarity(term: str, counts: Any) -> str:
    """``"fit (12, 75% negative)"``: a topic's aspect term, its mentions and its main polarity."""
    if not counts:
        return term
    label, k = counts.most_common(1)[0]
    n = sum(counts.values())
    return f"{term} ({n}, {100 * k / n:.0f}% {label})"


#: An emotion is distinctive of a topic when its mean score there is at least this many times its
#: mean over all reviews (the lift) and at least :data:`EMOTION_FLOOR`, so that rare emotions do not
#: win on noise; the distinctive ones are ranked by how much more of them the topic has.
EMOTION_LIFT = 1.2
EMOTION_FLOOR = 0.05


def _distinctive(means: Any, overall: Any, k: int = 3) -> str:
    """``"anger (x2.1);disappointment (x1.7)"``: the emotions most over-represented in a topic against
    the whole run's mix, ranked by the excess (topic mean - overall mean), shown with their lift."""
    found = []
    for c in means.index:
        m, o = float(means[c]), float(overall[c])
        if m >= EMOTION_FLOOR and o > 0 and m / o >= EMOTION_LIFT:
            found.append((m - o, m / o, c))
    return ";".join(f"{c[len('emotion_'):]} (x{lift:.1f})" for _, lift, c in sorted(found, reverse=True)[:k])


def summarize_topics(frame: Any, result: TopicResult | None) -> Any:
    """One row per topic: label, words, size, sentiment mix, top emotions, top aspects, representatives."""
    import json
    from collections import Counter

    import pandas as pd

    columns = ["topic", "label", "words", "size", "share_negative", "share_neutral", "share_positive",
               "net_sentiment", "top_emotions", "top_aspects", "representative", "about", "auto_label"]
    if result is None or not result.words:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    emotion_cols = [c for c in frame.columns if c.startswith("emotion_") and c not in ("emotion_top",)
                    and frame[c].dtype.kind == "f" and c != "emotion_neutral"]
    all_scored = frame[frame["sentiment"].notna()] if "sentiment" in frame else frame.iloc[:0]
    overall = all_scored[emotion_cols].mean() if emotion_cols and len(all_scored) else None
    mentions = group = None
    if "aspects" in frame:  # every mention under its group's name (plurals with their singular)
        mentions = np.empty(len(frame), dtype=object)  # filled one by one: lists of equal length stay lists
        for i, c in enumerate(frame["aspects"].tolist()):
            mentions[i] = json.loads(c) if isinstance(c, str) and c.strip() else []
        group = term_groups(Counter(fold_term(a["aspect"]) for found in mentions for a in found))
    rows = []
    for t in sorted(result.words) + ([-1] if (frame["topic"] == -1).any() else []):
        part = frame[frame["topic"] == t]
        scored = part[part["sentiment"].notna()] if "sentiment" in part else part.iloc[:0]
        share = scored["sentiment"].value_counts(normalize=True) if len(scored) else pd.Series(dtype=float)
        top_emotions = ""
        if overall is not None and len(scored):
            top_emotions = _distinctive(scored[emotion_cols].mean(), overall)
        terms: Counter[str] = Counter()
        polar: dict[str, Counter[str]] = {}
        for found in mentions[frame["topic"].to_numpy() == t] if mentions is not None else []:
            kept = [(a, group[n]) for a in found if is_about_term(n := fold_term(a["aspect"]))]
            terms.update(dict.fromkeys(name for _, name in kept).keys())  # not a set: ties keep text order
            for a, name in kept:
                if a.get("polarity"):
                    polar.setdefault(name, Counter())[a["polarity"]] += 1
        reps = result.representative.get(t, []) if t >= 0 else []
        rows.append({
            "topic": int(t),
            "label": result.label(t) if t >= 0 else "(no topic)",
            "words": ";".join(result.words.get(t, [])),
            "size": int(len(part)),
            "share_negative": float(share.get("negative", 0.0)),
            "share_neutral": float(share.get("neutral", 0.0)),
            "share_positive": float(share.get("positive", 0.0)),
            "net_sentiment": float(share.get("positive", 0.0) - share.get("negative", 0.0)),
            "top_emotions": top_emotions,
            "top_aspects": ";".join(_with_polarity(w, polar.get(w)) for w, _ in terms.most_common(5)),
            "representative": json.dumps(reps, ensure_ascii=False),
            "about": ";".join(result.about.get(t, [])) if t >= 0 else "",
            "auto_label": result.auto_label(t) if t >= 0 else "(no topic)",
        })
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["topic"], key=lambda s: s.where(s >= 0, 10**9)).reset_index(drop=True)

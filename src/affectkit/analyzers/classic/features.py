"""Features of the classic generation, computed with numpy/scipy only (no scikit-learn at inference).

Blocks, each L2-normalised on its own and then concatenated:

* word n-grams of :func:`affectkit.text.tokenize.tokenize` tokens (negation-marked),
* character n-grams of the lower-cased text (URLs and mentions removed),
* hand features: exclamations, questions, all-caps words, elongations, negations,
  emoji and emoticons (log-scaled counts), and optionally VADER's scores (``lexicon``).

TF-IDF uses a sublinear term frequency ``1 + log(tf)`` and the smoothed idf
``log((1 + n) / (1 + df)) + 1`` (the same formulas as scikit-learn's TfidfVectorizer).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from affectkit.text.tokenize import normalize_for_chars, tokenize

__all__ = ["FeatureConfig", "Featurizer", "HAND_FEATURES"]

HAND_FEATURES = (
    "exclamations", "questions", "all_caps", "elongated", "negations", "emoji",
    "pos_emoticons", "neg_emoticons",
)  # fmt: skip
LEXICON_FEATURES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound_pos", "vader_compound_neg")


@dataclass(frozen=True)
class FeatureConfig:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)
    max_word_features: int = 100_000
    max_char_features: int = 100_000
    min_df: int = 2
    negation: bool = True
    hand_features: bool = True
    lexicon: bool = False
    char_weight: float = 1.0
    hand_weight: float = 1.0

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> FeatureConfig:
        d = dict(d or {})
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"Unknown feature options {unknown}. Valid options: {sorted(cls.__dataclass_fields__)}."
            )
        for key in ("word_ngrams", "char_ngrams"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ngrams(tokens: Sequence[str], lo: int, hi: int) -> list[str]:
    out = []
    n = len(tokens)
    for size in range(lo, hi + 1):
        if size == 1:
            out.extend(tokens)
        else:
            out.extend(" ".join(tokens[i : i + size]) for i in range(n - size + 1))
    return out


def _char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    n = len(text)
    return [text[i : i + size] for size in range(lo, hi + 1) for i in range(n - size + 1)]


class Featurizer:
    """Turns texts into a sparse feature matrix. ``fit`` learns the vocabularies and idf."""

    def __init__(self, config: FeatureConfig):
        self.config = config

    # -- analysis ----------------------------------------------------------------------------
    def _analyze(self, text: str) -> tuple[list[str], list[str], np.ndarray]:
        cfg = self.config
        tokens, stats = tokenize(text, negation=cfg.negation)
        words = _ngrams(tokens, *cfg.word_ngrams)
        chars = _char_ngrams(normalize_for_chars(text), *cfg.char_ngrams) if cfg.char_ngrams else []
        hand = np.array([math.log1p(getattr(stats, f)) for f in HAND_FEATURES]) if cfg.hand_features else np.zeros(0)
        return words, chars, hand

    def _lexicon(self, texts: Sequence[str]) -> np.ndarray:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = getattr(self, "_vader", None) or SentimentIntensityAnalyzer()
        self._vader = vader
        rows = []
        for t in texts:
            s = vader.polarity_scores(t) if t.strip() else {"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0}
            c = s["compound"]
            rows.append([s["neg"], s["neu"], s["pos"], max(c, 0.0), max(-c, 0.0)])
        return np.asarray(rows, dtype=np.float64).reshape(len(texts), len(LEXICON_FEATURES))

    # -- learning ----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str]) -> Featurizer:
        cfg = self.config
        df_word: Counter[str] = Counter()
        df_char: Counter[str] = Counter()
        for t in texts:
            words, chars, _ = self._analyze(t)
            df_word.update(set(words))
            df_char.update(set(chars))
        n = len(texts)
        self.vocab_word_, self.idf_word_ = self._select(df_word, n, cfg.max_word_features)
        self.vocab_char_, self.idf_char_ = self._select(df_char, n, cfg.max_char_features)
        self._index()
        return self

    def _select(self, df: Counter[str], n: int, max_features: int) -> tuple[list[str], np.ndarray]:
        items = [(term, c) for term, c in df.items() if c >= self.config.min_df]
        items.sort(key=lambda kv: (-kv[1], kv[0]))  # deterministic: by df, then alphabetically
        items = items[:max_features]
        items.sort(key=lambda kv: kv[0])
        vocab = [t for t, _ in items]
        dfs = np.array([c for _, c in items], dtype=np.float64)
        idf = np.log((1.0 + n) / (1.0 + dfs)) + 1.0
        return vocab, idf.astype(np.float32)

    def _index(self) -> None:
        self._word_index = {t: i for i, t in enumerate(self.vocab_word_)}
        self._char_index = {t: i for i, t in enumerate(self.vocab_char_)}

    @property
    def n_features(self) -> int:
        return len(self.vocab_word_) + len(self.vocab_char_) + len(self.dense_names)

    @property
    def dense_names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = HAND_FEATURES if self.config.hand_features else ()
        return names + (LEXICON_FEATURES if self.config.lexicon else ())

    def feature_names(self) -> list[str]:
        return (
            [f"w:{t}" for t in self.vocab_word_]
            + [f"c:{t}" for t in self.vocab_char_]
            + [f"h:{t}" for t in self.dense_names]
        )

    # -- transform ---------------------------------------------------------------------------
    @staticmethod
    def _block(rows: list[Counter[int]], idf: np.ndarray, weight: float) -> sp.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for counts in rows:
            if counts:
                keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                order = np.argsort(keys)
                keys, tf = keys[order], tf[order]
                v = (1.0 + np.log(tf)) * idf[keys]
                norm = math.sqrt(float(v @ v))
                if norm > 0:
                    v *= weight / norm
                indices.extend(keys.tolist())
                data.extend(v.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(rows), len(idf)),
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        cfg = self.config
        wi, ci = self._word_index, self._char_index
        word_rows, char_rows, hand_rows = [], [], []
        for t in texts:
            words, chars, hand = self._analyze(t)
            word_rows.append(Counter(wi[w] for w in words if w in wi))
            char_rows.append(Counter(ci[c] for c in chars if c in ci))
            hand_rows.append(hand)
        blocks = [
            self._block(word_rows, self.idf_word_, 1.0),
            self._block(char_rows, self.idf_char_, cfg.char_weight),
        ]
        dense = []
        if cfg.hand_features:
            dense.append(np.vstack(hand_rows) if hand_rows else np.zeros((0, len(HAND_FEATURES))))
        if cfg.lexicon:
            dense.append(self._lexicon(texts))
        if dense:
            blocks.append(sp.csr_matrix(np.hstack(dense) * cfg.hand_weight))
        return sp.hstack(blocks, format="csr", dtype=np.float64)

    # -- persistence -------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return (
            {"config": self.config.to_dict(), "vocab_word": self.vocab_word_, "vocab_char": self.vocab_char_},
            {"idf_word": self.idf_word_, "idf_char": self.idf_char_},
        )

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Featurizer:
        f = cls(FeatureConfig.from_dict(meta["config"]))
        f.vocab_word_ = list(meta["vocab_word"])
        f.vocab_char_ = list(meta["vocab_char"])
        f.idf_word_ = np.asarray(arrays["idf_word"], dtype=np.float32)
        f.idf_char_ = np.asarray(arrays["idf_char"], dtype=np.float32)
        f._index()
        return f

"""The classic-ML analyzer: :class:`Featurizer` + a linear model or a decision tree.

Training uses scikit-learn; inference needs numpy and scipy only, because every
estimator is stored in an explicit form:

* ``logreg``  logistic regression: ``softmax(XW + b)`` (single-label) or ``sigmoid`` per label.
* ``svm``     linear SVM, Platt-calibrated on out-of-fold decision values (3-fold): per class
  ``sigmoid(a * d + c)``, which is again linear in ``X``; single-label rows are normalised to 1.
* ``nb``      multinomial Naive Bayes: its joint log-likelihood is linear in ``X``.
* ``tree``    a decision tree, stored as node arrays.

Nothing is pickled: a model directory holds ``config.json``, ``vocab.json`` and ``weights.npz``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from affectkit._files import read_json
from affectkit._runtime import sigmoid, softmax
from affectkit._validation import as_text_batch
from affectkit.analyzers.classic.features import FeatureConfig, Featurizer
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError
from affectkit.explain import token_spans
from affectkit.metrics import best_f1_thresholds
from affectkit.params import Interval, Options
from affectkit.targets import encode_targets
from affectkit.text.tokenize import tokenize

logger = logging.getLogger(__name__)

__all__ = ["ClassicAnalyzer", "ESTIMATORS"]

ESTIMATORS = ("logreg", "svm", "nb", "tree")
_LINKS = ("softmax", "sigmoid", "sigmoid_normalized")


class ClassicAnalyzer(Analyzer):
    """TF-IDF word + char n-grams and hand features, with a selectable estimator.

    Parameters
    ----------
    estimator:
        One of ``"logreg"``, ``"svm"`` (calibrated linear SVM), ``"nb"`` (Naive Bayes), ``"tree"``.
    task:
        Name of the task (``"sentiment"``, ``"emotion"`` or your own); used in results.
    multi_label:
        Train one binary model per label (marginals) instead of one multi-class model.
        ``None`` detects it from ``y`` in ``fit``.
    C:
        Inverse regularisation strength of ``logreg`` and ``svm``.
    alpha:
        Additive smoothing of ``nb``.
    class_weight:
        ``"balanced"`` (reweights rare classes; good for macro-recall) or ``None``.
    max_depth, min_samples_leaf:
        Size limits of ``tree``.
    features:
        Options of :class:`FeatureConfig` as a dict (n-gram ranges, vocabulary sizes, ...).
    threshold:
        Decision threshold(s) for multi-label prediction; ``None`` uses the tuned ``thresholds_``.
    weight_dtype:
        ``"float32"`` or ``"float16"``; the precision of stored weights (float16 halves the size).
    random_state:
        Seed of the estimators that use randomness.
    """

    kind = "classic"

    _parameter_constraints = {
        "estimator": [Options(ESTIMATORS)],
        "task": [str],
        "multi_label": ["boolean", None],
        "C": [Interval(float, 0, None, closed="neither")],
        "alpha": [Interval(float, 0, None, closed="neither")],
        "class_weight": [Options(("balanced",)), None],
        "max_depth": [Interval(int, 1, None), None],
        "min_samples_leaf": [Interval(int, 1, None), Interval(float, 0, 1, closed="neither")],
        "features": [dict, None],
        "weight_dtype": [Options(("float32", "float16"))],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
    }

    def __init__(
        self,
        estimator: str = "logreg",
        *,
        task: str = "sentiment",
        multi_label: bool | None = None,
        C: float = 1.0,
        alpha: float = 0.1,
        class_weight: str | None = "balanced",
        max_depth: int | None = 40,
        min_samples_leaf: int = 2,
        features: dict[str, Any] | None = None,
        threshold: object = None,
        weight_dtype: str = "float32",
        random_state: int = 0,
    ):
        self.estimator = estimator
        self.task = task
        self.multi_label = multi_label
        self.C = C
        self.alpha = alpha
        self.class_weight = class_weight
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.features = features
        self.threshold = threshold
        self.weight_dtype = weight_dtype
        self.random_state = random_state

    @property
    def tags(self) -> Tags:
        multi = bool(self.multi_label_ if hasattr(self, "multi_label_") else self.multi_label)
        return Tags(task=self.task, multi_label=multi, trainable=True, generation="classic")

    def _is_multi(self) -> bool:
        return bool(getattr(self, "multi_label_", self.multi_label))

    # -- validation --------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        try:
            FeatureConfig.from_dict(self.features)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"The 'features' parameter of {type(self).__name__} is invalid: {exc}") from None

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: object, labels: Sequence[str] | None = None) -> ClassicAnalyzer:
        """Learn features and the estimator from ``texts`` and their labels ``y``.

        ``y`` is a sequence of label names (single-label), a sequence of label collections
        (multi-label), or a 0/1 matrix with ``labels`` naming its columns.
        """
        self._validate_params()
        batch = as_text_batch(texts, method=f"{type(self).__name__}.fit")
        if len(batch) == 0:
            raise InvalidInputError(f"{type(self).__name__}.fit needs at least one text. Got an empty list.")
        target, names, multi = encode_targets(y, len(batch), labels, self.multi_label, f"{type(self).__name__}.fit")
        featurizer = Featurizer(FeatureConfig.from_dict(self.features)).fit(batch.texts)
        X = featurizer.transform(batch.texts)
        logger.info("classic: %d texts, %d features, estimator=%s", X.shape[0], X.shape[1], self.estimator)
        head: dict[str, Any]
        if self.estimator == "tree":
            head = self._fit_tree(X, target, multi, len(names))
        else:
            head = self._fit_linear(X, target, multi, len(names))
        self.featurizer_ = featurizer
        self.head_ = head
        self.__dict__.pop("_W32", None)  # drop the float32 cache of an earlier fit
        self.labels_ = names
        self.multi_label_ = multi
        if multi and not hasattr(self, "thresholds_"):
            self.thresholds_ = np.full(len(names), 0.5)
        return self

    def _fit_linear(self, X: sp.csr_matrix, target: np.ndarray, multi: bool, k: int) -> dict[str, Any]:
        if multi:
            W = np.zeros((X.shape[1], k))
            b = np.zeros(k)
            for j in range(k):
                W[:, j], b[j] = self._binary_linear(X, target[:, j])
            link = "sigmoid"
        else:
            W, b, link = self._multiclass_linear(X, target, k)
        dtype = np.float16 if self.weight_dtype == "float16" else np.float32
        # Weights are kept in memory at the stored precision, so save -> load is exact.
        return {"kind": "linear", "link": link, "W": np.ascontiguousarray(W.astype(dtype)), "b": b.astype(np.float64)}

    def _binary_linear(self, X: sp.csr_matrix, y: np.ndarray) -> tuple[np.ndarray, float]:
        """One label of a multi-label model: weights and bias of the positive-class logit."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.naive_bayes import MultinomialNB

        if y.min() == y.max():  # constant label: a bias that predicts the constant
            return np.zeros(X.shape[1]), (20.0 if y[0] == 1 else -20.0)
        if self.estimator == "logreg":
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear", max_iter=1000)
            clf.fit(X, y)
            return clf.coef_[0], float(clf.intercept_[0])
        if self.estimator == "nb":
            clf = MultinomialNB(alpha=self.alpha, fit_prior=self.class_weight is None)
            clf.fit(X, y)
            flp, prior = clf.feature_log_prob_, clf.class_log_prior_
            return flp[1] - flp[0], float(prior[1] - prior[0])
        w, c = self._svm_decision(X, y)
        a, d = _platt(self._svm_oof(X, y), y)
        return a * w[0], float(a * c[0] + d)

    def _multiclass_linear(self, X: sp.csr_matrix, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, str]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.naive_bayes import MultinomialNB

        if self.estimator == "logreg":
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000)
            clf.fit(X, y)
            return full_softmax_weights(clf.coef_, clf.intercept_, clf.classes_, k)
        if self.estimator == "nb":
            clf = MultinomialNB(alpha=self.alpha, fit_prior=self.class_weight is None)
            clf.fit(X, y)
            W = np.full((X.shape[1], k), 0.0)
            b = np.full(k, -50.0)
            W[:, clf.classes_] = clf.feature_log_prob_.T
            b[clf.classes_] = clf.class_log_prior_
            return W, b, "softmax"
        # svm: one-vs-rest LinearSVC, per-class Platt scaling on out-of-fold decisions.
        w, c = self._svm_decision(X, y)
        oof = self._svm_oof(X, y)
        if k == 2:
            a, d = _platt(oof, y)
            W = np.zeros((X.shape[1], 2))
            W[:, 1] = a * w[0]
            return W, np.array([0.0, a * c[0] + d]), "softmax"
        W = np.zeros((X.shape[1], k))
        b = np.zeros(k)
        for j in range(k):
            a, d = _platt(oof[:, j], (y == j).astype(int))
            W[:, j] = a * w[j]
            b[j] = a * c[j] + d
        return W, b, "sigmoid_normalized"

    def _svm(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state, max_iter=5000)

    def _svm_decision(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        clf = self._svm().fit(X, y)
        return clf.coef_, clf.intercept_

    def _svm_oof(self, X, y) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        n_splits = max(2, min(3, int(np.bincount(y).min()) if y.ndim == 1 else 3))
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        return cross_val_predict(self._svm(), X, y, cv=cv, method="decision_function")

    def _fit_tree(self, X: sp.csr_matrix, target: np.ndarray, multi: bool, k: int) -> dict[str, Any]:
        from sklearn.tree import DecisionTreeClassifier

        clf = DecisionTreeClassifier(
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            random_state=self.random_state,
        )
        clf.fit(X, target)
        t = clf.tree_
        value = np.asarray(t.value, dtype=np.float64)  # (nodes, outputs, classes)
        value = value / np.clip(value.sum(axis=2, keepdims=True), 1e-12, None)
        if multi:
            # P(label present) per output; classes_ of each output are a subset of [0, 1].
            probs = np.zeros((t.node_count, k))
            for j, classes in enumerate(clf.classes_):
                if 1 in classes:
                    probs[:, j] = value[:, j, list(classes).index(1)]
        else:
            probs = np.zeros((t.node_count, k))
            probs[:, clf.classes_] = value[:, 0, :]
        return {
            "kind": "tree",
            "children_left": t.children_left.astype(np.int32),
            "children_right": t.children_right.astype(np.int32),
            "feature": t.feature.astype(np.int32),
            "threshold": t.threshold.astype(np.float64),
            "probs": probs.astype(np.float32),
        }

    # -- multi-label thresholds ---------------------------------------------------------------
    def tune_thresholds(self, texts: Sequence[str], y: object, grid: Sequence[float] | None = None) -> ClassicAnalyzer:
        """Choose, per label, the threshold that maximises F1 on ``(texts, y)`` (validation data)."""
        self._check_fitted()
        if not self._is_multi():
            raise InvalidInputError("tune_thresholds applies to multi-label models only.")
        batch = as_text_batch(texts, method="tune_thresholds")
        Y, _, _ = encode_targets(y, len(batch), self.labels_, True, f"{type(self).__name__}.tune_thresholds")
        self.thresholds_ = best_f1_thresholds(self._proba_of_batch(batch), Y, grid)
        return self

    # -- inference ---------------------------------------------------------------------------
    def decision_scores(self, X: sp.csr_matrix) -> np.ndarray:
        head = self.head_
        if head["kind"] == "linear":
            W = head["W"]
            if W.dtype == np.float16:  # stored at half precision, computed in float32 (same values)
                W32 = self.__dict__.get("_W32")
                if W32 is None or W32.shape != W.shape:
                    W32 = self._W32 = W.astype(np.float32)
                W = W32
            return np.asarray(X @ W) + head["b"]
        raise InvalidInputError("decision_scores is defined for linear estimators only.")

    # -- explanations ------------------------------------------------------------------------
    @property
    def explanation_method(self) -> str:
        """``"linear"`` (feature weights) for linear heads; trees are explained by occlusion."""
        return "linear" if getattr(self, "head_", {}).get("kind") == "linear" else "occlusion"

    def _token_weights(self, text: str, label_index: int) -> list[tuple[int, int, float]] | None:
        """Feature weights for ``explain``: each active feature's value times its weight for the
        label (for a softmax head, minus the mean weight over labels: the label's log-odds),
        summed onto the words it covers.

        A word n-gram is split evenly over its words; a character n-gram over the places it
        occurs in the lower-cased text. Hand features (punctuation, capitals, emoji counts)
        have no span and are left out. ``None`` for trees (explained by occlusion).
        """
        head = self.head_
        if head["kind"] != "linear":
            return None
        feat = self.featurizer_
        X = feat.transform([text])
        idx, x = X.indices, X.data
        W = np.asarray(head["W"], dtype=np.float64)[idx]
        d = W[:, label_index] - W.mean(axis=1) if head["link"] == "softmax" else W[:, label_index]
        contrib = x * d
        n_word, n_char = len(feat.vocab_word_), len(feat.vocab_char_)
        weights: dict[tuple[int, int], float] = {}

        def add(span: tuple[int, int], value: float) -> None:
            weights[span] = weights.get(span, 0.0) + value

        tokens, spans = _token_spans(text, feat.config.negation)
        lower = text.lower()
        for f, c in zip(idx, contrib, strict=True):
            if c == 0.0:
                continue
            if f < n_word:
                gram = feat.vocab_word_[f].split(" ")
                n = len(gram)
                places = [i for i in range(len(tokens) - n + 1) if tokens[i : i + n] == gram]
                hits = [spans[i + k] for i in places for k in range(n) if spans[i + k] is not None]
                for span in hits:
                    add(span, c / len(hits))
            elif f < n_word + n_char:
                gram = feat.vocab_char_[f - n_word].strip()
                if not gram:
                    continue
                starts = [m for m in _find_all(lower, gram)]
                for m in starts:
                    add((m, m + len(gram)), c / len(starts))
        return _onto_words(text, weights)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        X = self.featurizer_.transform(texts)
        head = self.head_
        if head["kind"] == "tree":
            return _tree_proba(head, X)
        z = self.decision_scores(X)
        link = head["link"]
        if link == "softmax":
            return softmax(z)
        p = sigmoid(z)
        if link == "sigmoid_normalized":
            s = p.sum(axis=1, keepdims=True)
            p = np.where(s > 0, p / np.where(s > 0, s, 1.0), 1.0 / p.shape[1])
        return p

    # -- persistence -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["head"] = {"kind": self.head_["kind"], "link": self.head_.get("link")}
        config["thresholds"] = None if not self._is_multi() else [float(t) for t in self.thresholds_]
        config["features"] = self.featurizer_.config.to_dict()
        config["n_features"] = self.featurizer_.n_features
        return config

    def _save_arrays(self, path: Path, config: dict[str, Any]) -> None:
        meta, arrays = self.featurizer_.state()
        vocab = {"word": meta["vocab_word"], "char": meta["vocab_char"]}
        (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        head_arrays = {f"head_{k}": v for k, v in self.head_.items() if isinstance(v, np.ndarray)}
        np.savez_compressed(path / "weights.npz", **arrays, **head_arrays)

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> ClassicAnalyzer:
        try:
            vocab = read_json(path / "vocab.json")
            with np.load(path / "weights.npz", allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"Cannot read the classic model in {path}: {exc}") from exc
        _check_vocab(path, vocab, arrays)
        params = dict(config.get("params", {}))
        model = cls(**params)
        model.featurizer_ = Featurizer.from_state(
            {"config": config["features"], "vocab_word": vocab["word"], "vocab_char": vocab["char"]}, arrays
        )
        head: dict[str, Any] = {"kind": config["head"]["kind"], "link": config["head"]["link"]}
        head.update({k[5:]: v for k, v in arrays.items() if k.startswith("head_")})
        _check_width(path, model.featurizer_.n_features, head, config)
        model.head_ = head
        model.labels_ = tuple(config["labels"])
        model.multi_label_ = bool(config["multi_label"])
        if model.multi_label_:
            model.thresholds_ = np.asarray(config["thresholds"], dtype=np.float64)
        model.card_ = config.get("card", {})
        return model


# -- helpers ---------------------------------------------------------------------------------
def _check_vocab(path: Path, vocab: Any, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a ``vocab.json`` that is not the one ``weights.npz`` was fitted with: one idf per word
    and per character n-gram (the head's width is checked once the features are built)."""
    if not isinstance(vocab, dict) or not all(isinstance(vocab.get(k), list) for k in ("word", "char")):
        raise ModelFormatError(f"{path / 'vocab.json'} should hold the lists 'word' and 'char'. {_KEEP_TOGETHER}")
    for kind in ("word", "char"):
        idf = arrays.get(f"idf_{kind}")
        if idf is None or idf.shape != (len(vocab[kind]),):
            raise ModelFormatError(
                f"{path / 'vocab.json'} has {len(vocab[kind])} {kind} features, but idf_{kind} in "
                f"{path / 'weights.npz'} has shape {None if idf is None else idf.shape}: the vocabulary does not "
                f"match the weights. {_KEEP_TOGETHER}"
            )


def _check_width(path: Path, n_features: int, head: dict[str, Any], config: dict[str, Any]) -> None:
    """The head reads exactly the ``n_features`` features that the vocabulary and hand features make."""
    W, feature = head.get("W"), head.get("feature")
    reads = (W.shape[0] if isinstance(W, np.ndarray) and W.ndim == 2 else
             int(feature.max()) + 1 if isinstance(feature, np.ndarray) and feature.size else None)
    wrong_head = reads is not None and (reads != n_features if W is not None else reads > n_features)
    stated = config.get("n_features")
    if wrong_head or (isinstance(stated, int) and stated != n_features):
        raise ModelFormatError(
            f"{path / 'vocab.json'} and the feature settings of {path / 'config.json'} make {n_features} features, "
            f"but the head in {path / 'weights.npz'} reads {reads} and config.json says n_features {stated!r}: "
            f"the vocabulary does not match the weights. {_KEEP_TOGETHER}"
        )


_KEEP_TOGETHER = ("Keep vocab.json, weights.npz and config.json of one save together (save the model again with "
                  "analyzer.save(path)).")


def full_softmax_weights(coef, intercept, classes, k) -> tuple[np.ndarray, np.ndarray, str]:
    """A scikit-learn linear model's ``coef_``/``intercept_`` over ``classes`` as softmax weights over all
    ``k`` labels (a binary model's logit goes to ``classes[1]``; absent classes get a very low logit)."""
    W = np.zeros((coef.shape[1], k))
    b = np.zeros(k)
    if coef.shape[0] == 1:  # binary: logit of classes[1] against classes[0]
        W[:, classes[1]] = coef[0]
        b[classes[1]] = intercept[0]
        if k > 2:  # classes absent from the training data get a very low logit
            b[[j for j in range(k) if j not in classes]] = -50.0
        return W, b, "softmax"
    b[:] = -50.0
    W[:, classes] = coef.T
    b[classes] = intercept
    return W, b, "softmax"


def _platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: P(y=1 | d) = sigmoid(a * d + c), fitted by logistic regression."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, max_iter=1000)
    lr.fit(np.asarray(decision, dtype=np.float64).reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _tree_proba(head: dict[str, Any], X: sp.csr_matrix) -> np.ndarray:
    left, right = head["children_left"], head["children_right"]
    feature, threshold = head["feature"], head["threshold"]
    n = X.shape[0]
    node = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    X = X.tocsr()
    while True:
        active = left[node] != -1
        if not active.any():
            break
        r = rows[active]
        nd = node[active]
        vals = np.asarray(X[r, feature[nd]]).ravel()
        node[active] = np.where(vals <= threshold[nd], left[nd], right[nd])
    return head["probs"][node].astype(np.float64)


def _find_all(haystack: str, needle: str) -> list[int]:
    out, at = [], haystack.find(needle)
    while at >= 0:
        out.append(at)
        at = haystack.find(needle, at + 1)
    return out


def _token_spans(text: str, negation: bool) -> tuple[list[str], list[tuple[int, int] | None]]:
    """The featurizer's word tokens and, where it can be found, each one's span in ``text``."""
    import re

    tokens, _ = tokenize(text, negation=negation)
    lower = text.lower()
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    special = {"<user>": re.compile(r"@\w+"), "<url>": re.compile(r"(?:https?://|www\.)\S+", re.I)}
    for tok in tokens:
        base = tok[:-4] if tok.endswith("_NEG") else tok
        if base in special:
            m = special[base].search(text, cursor)
            span = (m.start(), m.end()) if m else None
        else:
            at = lower.find(base, cursor)
            span = (at, at + len(base)) if at >= 0 else None
        if span is not None:
            cursor = span[1]
        spans.append(span)
    return tokens, spans


def _onto_words(text: str, weights: dict[tuple[int, int], float]) -> list[tuple[int, int, float]]:
    """Spread weights given on arbitrary spans onto ``explain``'s word tokens, by overlap."""
    words = token_spans(text)
    out = [0.0] * len(words)
    starts = np.asarray([s for s, _ in words], dtype=np.int64)
    for (s, e), w in weights.items():
        first = max(int(np.searchsorted(starts, s, side="right")) - 1, 0)
        overlap = []
        for k in range(first, len(words)):
            ws, we = words[k]
            if ws >= e:
                break
            ov = min(e, we) - max(s, ws)
            if ov > 0:
                overlap.append((k, ov))
        total = sum(ov for _, ov in overlap)
        for k, ov in overlap:
            out[k] += w * ov / total
    return [(s, e, w) for (s, e), w in zip(words, out, strict=True)]

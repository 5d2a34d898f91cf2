"""The explicit (pickle-free) forms of each estimator reproduce scikit-learn's probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.analyzers.classic import ClassicAnalyzer
from affectkit.exceptions import InvalidInputError, NotFittedError
from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y, TINY_FEATURES


def _X(model, texts):
    return model.featurizer_.transform(texts)


def test_logreg_matches_sklearn():
    from sklearn.linear_model import LogisticRegression

    m = ClassicAnalyzer("logreg", features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    X = _X(m, SENTIMENT_TEXTS)
    y = [m.labels_.index(v) for v in SENTIMENT_Y]
    ref = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(SENTIMENT_TEXTS), ref.predict_proba(X), atol=1e-5)


def test_nb_matches_sklearn():
    from sklearn.naive_bayes import MultinomialNB

    m = ClassicAnalyzer("nb", features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    X = _X(m, SENTIMENT_TEXTS)
    y = [m.labels_.index(v) for v in SENTIMENT_Y]
    ref = MultinomialNB(alpha=0.1, fit_prior=False).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(SENTIMENT_TEXTS), ref.predict_proba(X), atol=1e-5)


def test_tree_matches_sklearn():
    from sklearn.tree import DecisionTreeClassifier

    m = ClassicAnalyzer("tree", features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    X = _X(m, SENTIMENT_TEXTS)
    y = [m.labels_.index(v) for v in SENTIMENT_Y]
    ref = DecisionTreeClassifier(max_depth=40, min_samples_leaf=2, class_weight="balanced", random_state=0).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(SENTIMENT_TEXTS), ref.predict_proba(X), atol=1e-6)


def test_multilabel_tree_gives_marginals():
    m = ClassicAnalyzer("tree", task="emotion", multi_label=True, features=TINY_FEATURES).fit(EMOTION_TEXTS, EMOTION_Y)
    p = m.predict_proba(EMOTION_TEXTS)
    assert p.shape == (len(EMOTION_TEXTS), len(m.labels_))


def test_svm_is_calibrated_and_linear():
    m = ClassicAnalyzer("svm", features=TINY_FEATURES).fit(SENTIMENT_TEXTS * 3, SENTIMENT_Y * 3)
    assert m.head_["link"] == "sigmoid_normalized"
    p = m.predict_proba(SENTIMENT_TEXTS)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    acc = np.mean([m.labels_[i] == y for i, y in zip(p.argmax(1), SENTIMENT_Y, strict=True)])
    assert acc > 0.9


def test_binary_labels():
    texts = SENTIMENT_TEXTS[:16]
    y = SENTIMENT_Y[:16]
    for est in ("logreg", "svm", "nb", "tree"):
        m = ClassicAnalyzer(est, features=TINY_FEATURES).fit(texts, y)
        assert m.labels_ == ("negative", "positive")
        p = m.predict_proba(["I love it", "I hate it"])
        assert p.shape == (2, 2)
        np.testing.assert_allclose(p.sum(axis=1), 1)


def test_multilabel_from_indicator_matrix():
    labels = ("gratitude", "anger")
    Y = np.array([[("gratitude" in y) * 1, ("anger" in y) * 1] for y in EMOTION_Y])
    m = ClassicAnalyzer(task="emotion", features=TINY_FEATURES).fit(EMOTION_TEXTS, Y, labels=labels)
    assert m.labels_ == labels and m.tags.multi_label


def test_tune_thresholds_sets_per_label_values():
    m = ClassicAnalyzer(task="emotion", multi_label=True, features=TINY_FEATURES).fit(EMOTION_TEXTS, EMOTION_Y)
    m.tune_thresholds(EMOTION_TEXTS, EMOTION_Y)
    assert m.thresholds_.shape == (len(m.labels_),)
    assert ((m.thresholds_ > 0) & (m.thresholds_ < 1)).all()


def test_custom_labels_are_learned():
    y = ["good" if t in SENTIMENT_TEXTS[:8] else "other" for t in SENTIMENT_TEXTS]
    m = ClassicAnalyzer(task="quality", features=TINY_FEATURES).fit(SENTIMENT_TEXTS, y)
    assert m.labels_ == ("good", "other")
    assert m.analyze("great").task == "quality"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"estimator": "forest"}, "'estimator'"),
        ({"C": -1}, "'C'"),
        ({"class_weight": "auto"}, "'class_weight'"),
        ({"weight_dtype": "int8"}, "'weight_dtype'"),
        ({"features": {"ngrams": 3}}, "'features'"),
    ],
)
def test_parameter_errors(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        ClassicAnalyzer(**kwargs).fit(SENTIMENT_TEXTS, SENTIMENT_Y)


def test_fit_errors():
    with pytest.raises(InvalidInputError, match="2 distinct labels"):
        ClassicAnalyzer().fit(["a", "b"], ["x", "x"])
    with pytest.raises(InvalidInputError, match="must match"):
        ClassicAnalyzer().fit(["a", "b"], ["x"])
    with pytest.raises(InvalidInputError, match="at least one text"):
        ClassicAnalyzer().fit([], [])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        ClassicAnalyzer().predict_proba(["x"])


def test_init_only_stores_params():
    m = ClassicAnalyzer("svm", C=2.0)
    assert m.get_params()["C"] == 2.0 and m.get_params()["estimator"] == "svm"
    assert not hasattr(m, "labels_")
    assert "ClassicAnalyzer(estimator='svm'" in repr(m)

"""The analyzer contract, checked over every registered analyzer and every estimator.

Like scikit-learn's ``parametrize_with_checks``: each analyzer gets the same checks.
"""

from __future__ import annotations

import numpy as np
import pytest

import affectkit
from affectkit.results import Result

TEXTS = [
    "I really love this, it's brilliant!",
    "This is the worst thing ever :(",
    "The train leaves at 6pm.",
    "not bad at all",
    "😍😍😍",
    "",
    "THANK YOU so much for the help!!!",
]

# the text contract; speech analyzers have their own (tests/unit/test_audio_analyzer.py)
REGISTERED = [spec.name for spec in affectkit.list_models() if spec.task in ("sentiment", "emotion")]
TINY = [f"tiny-{task}-{est}" for task in ("sentiment", "emotion") for est in ("logreg", "svm", "nb", "tree")]
TINY_TRANSFORMER = ["tiny-transformer-sentiment", "tiny-transformer-emotion"]
TINY_BILSTM = ["tiny-bilstm-sentiment", "tiny-bilstm-emotion"]
TINY_TEXTCNN = ["tiny-textcnn-sentiment", "tiny-textcnn-emotion"]
TINY_ENSEMBLE = ["tiny-ensemble-soft", "tiny-ensemble-hard", "tiny-ensemble-stacking", "tiny-ensemble-emotion"]
TINY_CALIBRATED = ["tiny-calibrated-sentiment", "tiny-calibrated-emotion"]


@pytest.fixture(scope="module",
                params=REGISTERED + TINY + TINY_TRANSFORMER + TINY_BILSTM + TINY_TEXTCNN + TINY_ENSEMBLE
                + TINY_CALIBRATED)
def analyzer(request, tiny_models):
    if request.param in tiny_models:
        return tiny_models[request.param]
    if request.param in TINY_CALIBRATED:
        from affectkit.calibration import calibrate
        from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y

        if request.param.endswith("emotion"):
            return calibrate(tiny_models["tiny-emotion-logreg"], EMOTION_TEXTS, EMOTION_Y)
        return calibrate(tiny_models["tiny-sentiment-logreg"], SENTIMENT_TEXTS, SENTIMENT_Y)
    if request.param in TINY_ENSEMBLE:
        return _tiny_ensemble(request.param, tiny_models)
    if request.param in TINY_BILSTM:
        return request.getfixturevalue("tiny_bilstm")[request.param]
    if request.param in TINY_TEXTCNN:
        return request.getfixturevalue("tiny_textcnn")[request.param]
    if request.param in TINY_TRANSFORMER:
        built = request.getfixturevalue("tiny_transformer")
        return affectkit.load(built["dir"], head=request.param.rsplit("-", 1)[1])
    if request.param.startswith("emotion-lexicon-nrc"):
        pytest.importorskip("nrclex")
        return affectkit.load(request.param, accept_terms=True)
    return affectkit.load(request.param)


def _tiny_ensemble(name, tiny_models):
    from affectkit.analyzers.ensemble import EnsembleAnalyzer
    from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y

    if name == "tiny-ensemble-emotion":
        members = [tiny_models["tiny-emotion-logreg"], tiny_models["tiny-emotion-nb"]]
        return EnsembleAnalyzer(members).fit(EMOTION_TEXTS, EMOTION_Y)
    members = [tiny_models["tiny-sentiment-logreg"], tiny_models["tiny-sentiment-svm"], "lexicon"]
    return EnsembleAnalyzer(members, mode=name.rsplit("-", 1)[1]).fit(SENTIMENT_TEXTS, SENTIMENT_Y)


def tolerance(analyzer) -> float:
    # A transformer pads each batch to its longest text; the matrix kernels then see other
    # shapes, so scores agree to float32 rounding rather than bit for bit.
    return 1e-5 if analyzer.tags.generation in ("transformer", "neural") else 1e-12


def test_labels(analyzer):
    labels = analyzer.labels_
    assert isinstance(labels, tuple) and len(labels) >= 2
    assert len(set(labels)) == len(labels)
    if analyzer.tags.task == "sentiment":
        assert labels == affectkit.SENTIMENT_LABELS
    if analyzer.tags.task == "emotion" and len(labels) == 28:
        assert labels == affectkit.EMOTION_LABELS


def test_shapes_and_ranges(analyzer):
    proba = analyzer.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), len(analyzer.labels_))
    assert proba.dtype == np.float64
    assert np.isfinite(proba).all()
    assert (proba >= 0).all() and (proba <= 1).all()
    if not analyzer.tags.multi_label:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_order_kept(analyzer):
    proba = analyzer.predict_proba(TEXTS)
    reversed_proba = analyzer.predict_proba(TEXTS[::-1])
    np.testing.assert_allclose(reversed_proba[::-1], proba, rtol=0, atol=tolerance(analyzer))


def test_batch_equals_one_by_one(analyzer):
    batch = analyzer.predict_proba(TEXTS)
    single = np.vstack([analyzer.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(batch, single, rtol=0, atol=tolerance(analyzer))


def test_empty_list(analyzer):
    proba = analyzer.predict_proba([])
    assert proba.shape == (0, len(analyzer.labels_))
    assert analyzer.analyze([]) == []
    pred = analyzer.predict([])
    assert len(pred) == 0


def test_save_load_identical(analyzer, tmp_path):
    analyzer.save(tmp_path / "model")
    # acceptance of a lexicon's terms is never stored: pass it again
    extra = {"accept_terms": True} if "accept_terms" in analyzer.get_params() else {}
    loaded = affectkit.load(tmp_path / "model", **extra)
    assert loaded.labels_ == analyzer.labels_
    assert loaded.tags == analyzer.tags
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), analyzer.predict_proba(TEXTS))
    loaded_by_str = affectkit.load(str(tmp_path / "model"), **extra)
    np.testing.assert_array_equal(loaded_by_str.predict_proba(TEXTS), analyzer.predict_proba(TEXTS))


def test_predict_matches_proba(analyzer):
    proba = analyzer.predict_proba(TEXTS)
    pred = analyzer.predict(TEXTS)
    if analyzer.tags.multi_label:
        assert pred.shape == proba.shape
        assert set(np.unique(pred)) <= {0, 1}
        np.testing.assert_array_equal(pred, (proba >= analyzer._thresholds()).astype(int))
        everything = analyzer.predict(TEXTS, threshold=0.0)
        assert everything.all()
    else:
        assert pred.shape == (len(TEXTS),)
        assert list(pred) == [analyzer.labels_[i] for i in proba.argmax(axis=1)]


def test_analyze_types(analyzer):
    one = analyzer.analyze(TEXTS[0])
    assert isinstance(one, Result)
    many = analyzer.analyze(TEXTS)
    assert isinstance(many, list) and len(many) == len(TEXTS)
    assert all(isinstance(r, Result) for r in many)
    proba = analyzer.predict_proba(TEXTS)
    for r, row in zip(many, proba, strict=True):
        assert list(r.scores) == list(analyzer.labels_)
        np.testing.assert_allclose(list(r.scores.values()), row)
        assert r.label in analyzer.labels_
        assert set(r.labels) <= set(analyzer.labels_)
        if not analyzer.tags.multi_label:
            assert r.labels == (r.label,)
        assert r.to_dict()["label"] == r.label
    assert many[TEXTS.index("")].empty


def test_single_string_is_a_clear_error(analyzer):
    with pytest.raises(ValueError, match="list of texts"):
        analyzer.predict_proba("just one text")

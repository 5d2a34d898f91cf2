"""EnsembleAnalyzer: label alignment, the three modes, tuning, persistence, load strings, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import affectkit
from affectkit.analyzers.classic import ClassicAnalyzer
from affectkit.analyzers.ensemble import EnsembleAnalyzer, crossfit_proba
from affectkit.exceptions import InvalidInputError, NotFittedError
from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y, TINY_FEATURES

TEXTS = ["I adore this little cafe", "The parcel never came, useless", "It is a blue chair", "", "meh"]
PERMUTED = ("positive", "negative", "neutral")


@pytest.fixture(scope="module")
def classic():
    return ClassicAnalyzer(features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)


@pytest.fixture(scope="module")
def permuted():
    """A classic model whose labels are in another order than the canonical one."""
    return ClassicAnalyzer("nb", features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y, labels=PERMUTED)


@pytest.fixture(scope="module")
def emotion_members():
    return [
        ClassicAnalyzer(est, task="emotion", multi_label=True, features=TINY_FEATURES).fit(EMOTION_TEXTS, EMOTION_Y)
        for est in ("logreg", "nb")
    ]


def test_label_alignment_with_permuted_orders(classic, permuted):
    assert permuted.labels_ == PERMUTED
    ens = EnsembleAnalyzer([classic, permuted], weights=[0.0, 1.0])
    assert ens.predict_proba(TEXTS).shape == (len(TEXTS), 3)
    assert ens.labels_ == affectkit.SENTIMENT_LABELS
    # all the weight on the permuted member: its scores, reordered by label name
    expected = permuted.predict_proba(TEXTS)[:, [PERMUTED.index(lab) for lab in ens.labels_]]
    np.testing.assert_allclose(ens.predict_proba(TEXTS), expected)
    decided = [t for t in TEXTS if t]  # the empty text is a tie that each order breaks its own way
    assert list(ens.predict(decided)) == list(permuted.predict(decided))


@pytest.mark.parametrize("mode", ["soft", "hard", "stacking"])
def test_rows_sum_to_one(mode, classic, permuted):
    ens = EnsembleAnalyzer([classic, permuted, "lexicon"], mode=mode)
    if mode == "stacking":
        with pytest.raises(NotFittedError, match="fit"):
            ens.predict_proba(TEXTS)
        ens.fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    proba = ens.predict_proba(TEXTS)
    assert proba.shape == (len(TEXTS), 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert ens.predict_proba([]).shape == (0, 3)


def test_soft_is_the_weighted_mean(classic):
    lex = affectkit.load("lexicon")
    ens = EnsembleAnalyzer([classic, lex], weights=[3, 1])
    expected = 0.75 * classic.predict_proba(TEXTS) + 0.25 * lex.predict_proba(TEXTS)
    np.testing.assert_allclose(ens.predict_proba(TEXTS), expected, atol=1e-12)


def test_hard_votes_and_ties(classic):
    ens = EnsembleAnalyzer([classic, "lexicon"], mode="hard")
    probas = [np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]), np.array([[0.2, 0.1, 0.7], [0.1, 0.1, 0.8]])]
    p = ens.combine(probas)
    assert p[0].argmax() == 2 and p[0, 2] > 0.999  # both vote positive
    # a 1-1 tie between negative and positive: the soft mean (0.35 vs 0.45) decides
    assert p[1].argmax() == 2 and abs(p[1, 0] - 0.5) < 1e-5
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_tuned_weights_change_scores_and_beat_equal(classic, permuted):
    tune_texts = SENTIMENT_TEXTS[::2] + TEXTS[:3]
    tune_y = SENTIMENT_Y[::2] + ["positive", "negative", "neutral"]
    equal = EnsembleAnalyzer([classic, "lexicon"])
    tuned = EnsembleAnalyzer([classic, "lexicon"], grid_step=0.25).fit(tune_texts, tune_y)
    assert tuned.weights_.sum() == pytest.approx(1.0)
    probas = tuned.member_proba(tune_texts)
    from affectkit.metrics import score_single
    from affectkit.targets import encode_targets

    target, _, _ = encode_targets(tune_y, len(tune_y), tuned.labels_, False)

    def recall(p):
        return score_single(target, p.argmax(axis=1), range(p.shape[1]))["macro_recall"]

    assert recall(tuned.combine(probas)) >= recall(equal.combine(probas))
    if not np.allclose(tuned.weights_, 0.5):
        assert not np.allclose(tuned.predict_proba(TEXTS), equal.predict_proba(TEXTS))
    # explicit weights are kept by fit
    fixed = EnsembleAnalyzer([classic, "lexicon"], weights=[1, 3]).fit(tune_texts, tune_y)
    np.testing.assert_allclose(fixed.weights_, [0.25, 0.75])


def test_stacking_and_crossfit(classic, permuted):
    ens = EnsembleAnalyzer([classic, permuted, "lexicon"], mode="stacking")
    ens.fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    assert ens.stacker_["coef"].shape == (3, 9)
    assert (ens.predict(SENTIMENT_TEXTS) == np.array(SENTIMENT_Y)).mean() >= 0.9
    pooled, pred, parts = crossfit_proba(ens, ens.member_proba(SENTIMENT_TEXTS), SENTIMENT_Y, seed=1)
    assert pooled.shape == (24, 3) and len(pred) == 24 and len(parts) == 2


@pytest.mark.parametrize("mode", ["soft", "hard", "stacking"])
def test_save_load_identical(mode, classic, permuted, tmp_path):
    ens = EnsembleAnalyzer([classic, permuted, "lexicon"], mode=mode).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    ens.save(tmp_path / "ens")
    config = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert config["params"]["members"] == [{"path": "members/0"}, {"path": "members/1"}, {"name": "lexicon"}]
    assert (tmp_path / "ens" / "members" / "1" / "config.json").is_file()
    loaded = affectkit.load(tmp_path / "ens")
    assert isinstance(loaded, EnsembleAnalyzer) and loaded.mode == mode
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), ens.predict_proba(TEXTS))
    np.testing.assert_array_equal(loaded.weights_, ens.weights_)
    # saving the loaded ensemble again gives the same scores
    loaded.save(tmp_path / "again")
    np.testing.assert_array_equal(affectkit.load(str(tmp_path / "again")).predict_proba(TEXTS), ens.predict_proba(TEXTS))


def test_multi_label(emotion_members, tmp_path):
    soft = EnsembleAnalyzer(emotion_members)
    assert soft.tags.multi_label and soft.predict_proba(EMOTION_TEXTS).shape == (16, len(soft.labels_))
    np.testing.assert_allclose(soft.thresholds_, 0.5)
    fitted = EnsembleAnalyzer(emotion_members, mode="stacking").fit(EMOTION_TEXTS, EMOTION_Y)
    pred = fitted.predict(EMOTION_TEXTS)
    assert pred.shape == (16, len(fitted.labels_)) and set(np.unique(pred)) <= {0, 1}
    hard = EnsembleAnalyzer(emotion_members, mode="hard").fit(EMOTION_TEXTS, EMOTION_Y)
    hard.save(tmp_path / "m")
    np.testing.assert_array_equal(affectkit.load(tmp_path / "m").predict(EMOTION_TEXTS), hard.predict(EMOTION_TEXTS))


def test_load_strings(tmp_path, classic):
    ens = affectkit.load("ensemble:lexicon+classic")
    assert isinstance(ens, EnsembleAnalyzer) and ens.members == ["lexicon", "classic"]
    np.testing.assert_allclose(ens.predict_proba(TEXTS).sum(axis=1), 1.0)
    hard = affectkit.load("ensemble:lexicon+classic?mode=hard&weights=1,3")
    assert hard.mode == "hard" and list(hard._weights()) == [0.25, 0.75]
    classic.save(tmp_path / "mine")
    (tmp_path / "ens.json").write_text(json.dumps({"members": ["lexicon", "mine"], "mode": "soft", "weights": [1, 1]}))
    from_file = affectkit.load(str(tmp_path / "ens.json"))
    np.testing.assert_allclose(
        from_file.predict_proba(TEXTS), EnsembleAnalyzer(["lexicon", classic]).predict_proba(TEXTS), atol=1e-12)
    with pytest.raises(InvalidInputError, match="at least 2 members"):
        affectkit.load("ensemble:lexicon")
    with pytest.raises(InvalidInputError, match="Unknown option 'colour'"):
        affectkit.load("ensemble:lexicon+classic?colour=red")


def test_mismatched_labels_error(classic, emotion_members):
    with pytest.raises(InvalidInputError, match="share a task and a label set") as info:
        EnsembleAnalyzer([classic, emotion_members[0]]).predict_proba(TEXTS)
    assert "positive" in str(info.value) and "gratitude" in str(info.value)
    two = ClassicAnalyzer(features=TINY_FEATURES).fit(SENTIMENT_TEXTS[:16], SENTIMENT_Y[:16])
    with pytest.raises(InvalidInputError, match="'lexicon'"):
        EnsembleAnalyzer(["lexicon", two]).predict_proba(TEXTS)


def test_bad_params(classic):
    with pytest.raises(InvalidInputError, match="'mode'"):
        EnsembleAnalyzer([classic, "lexicon"], mode="average").predict_proba(TEXTS)
    with pytest.raises(InvalidInputError, match="'weights'"):
        EnsembleAnalyzer([classic, "lexicon"], weights=[1, -1]).predict_proba(TEXTS)
    with pytest.raises(InvalidInputError, match="at least 2"):
        EnsembleAnalyzer([classic]).predict_proba(TEXTS)


def test_cli_train_ensemble(tmp_path, classic):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    classic.save(tmp_path / "mine")
    data = tmp_path / "val.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True))
    for mode in ("soft", "stacking"):
        out = tmp_path / f"ens-{mode}"
        result = CliRunner().invoke(app, ["train", str(data), "--out", str(out), "--arch", "ensemble",
                                          "--members", f"lexicon,{tmp_path / 'mine'}", "--mode", mode])
        assert result.exit_code == 0, result.output
        card = (out / "README.md").read_text()
        assert "Members:" in card and "'lexicon' (weight" in card and "cross-fitted" in card
        loaded = affectkit.load(out)
        assert loaded.mode == mode and loaded.predict_proba(TEXTS).shape == (len(TEXTS), 3)
    result = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "x"), "--arch", "ensemble"])
    assert result.exit_code == 2 and "--members" in result.output

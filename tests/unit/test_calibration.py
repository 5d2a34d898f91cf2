"""Calibration (temperature scaling, per-label thresholds, ECE), abstaining and analyze(explain=True)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import affectkit
from affectkit.calibration import (
    CalibratedAnalyzer,
    apply_temperature,
    calibrate,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    log_loss,
)
from affectkit.exceptions import InvalidInputError, NotFittedError

POSITIVE = ["I love this lovely kettle", "great service and a brilliant price", "what a wonderful day",
            "best coffee I have had", "really happy with it", "nice and friendly staff"]
NEGATIVE = ["I hate this awful kettle", "terrible service and a bad price", "what a horrible day",
            "worst coffee I have had", "really sad about it", "rude and unhelpful staff"]
NEUTRAL = ["the kettle is in the box", "the shop opens at nine", "it is a day", "coffee is a drink",
           "the order has a number", "staff were at the desk"]
TEXTS = POSITIVE + NEGATIVE + NEUTRAL
GOLD = ["positive"] * 6 + ["negative"] * 6 + ["neutral"] * 6


def test_ece_of_known_cases():
    # confident and always right: 0; confident (0.9) and right half the time: 0.4
    right = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert expected_calibration_error(right, np.array([1, 0])) == 0.0
    half = np.array([[0.9, 0.1]] * 4)
    assert expected_calibration_error(half, np.array([0, 0, 1, 1])) == pytest.approx(0.4)
    # multi-label: every marginal against its gold 0/1
    P = np.array([[0.5, 1.0], [0.5, 0.0]])
    assert expected_calibration_error(P, np.array([[1, 1], [0, 0]])) == pytest.approx(0.0)


def test_fit_temperature_recovers_an_overconfident_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 3)) * 2.0
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in true])
    overconfident = apply_temperature(true, 0.5)  # logits doubled
    t = fit_temperature(overconfident, y)
    assert t == pytest.approx(2.0, rel=0.15)
    fixed = apply_temperature(overconfident, t)
    assert expected_calibration_error(fixed, y) < expected_calibration_error(overconfident, y)
    assert log_loss(fixed, y) < log_loss(overconfident, y)
    assert np.array_equal(fixed.argmax(axis=1), overconfident.argmax(axis=1))


def test_calibrated_analyzer_keeps_labels_and_round_trips(tmp_path):
    cal = calibrate("lexicon", TEXTS, GOLD)
    base = affectkit.load("lexicon")
    assert cal.temperature is None and cal.temperature_ > 0 and cal.labels_ == base.labels_
    p0, p1 = base.predict_proba(TEXTS), cal.predict_proba(TEXTS)
    assert np.array_equal(p0.argmax(axis=1), p1.argmax(axis=1))
    np.testing.assert_allclose(p1.sum(axis=1), 1.0)
    gold = np.array([list(base.labels_).index(g) for g in GOLD])
    assert log_loss(p1, gold) <= log_loss(p0, gold) + 1e-9
    loaded = affectkit.load(cal.save(tmp_path / "by-name"))
    assert json.loads((tmp_path / "by-name" / "config.json").read_text())["base"] == {"name": "lexicon"}
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), p1)
    # an analyzer object is saved beside the calibration
    obj = CalibratedAnalyzer(base=base, temperature=2.0)
    again = affectkit.load(obj.save(tmp_path / "by-object"))
    assert (tmp_path / "by-object" / "base" / "config.json").is_file()
    np.testing.assert_array_equal(again.predict_proba(TEXTS), obj.predict_proba(TEXTS))


def test_multi_label_gets_per_label_thresholds(tmp_path):
    texts = ["thank you so much", "thanks, that is kind", "I am so angry", "this makes me furious"] * 3
    gold = [["gratitude"], ["gratitude"], ["anger"], ["anger"]] * 3
    cal = calibrate("emotion-classic", texts, gold)
    assert cal.tags.multi_label and cal.thresholds_.shape == (28,)
    assert "gratitude" in cal.analyze("thank you, really").labels
    loaded = affectkit.load(cal.save(tmp_path / "emo"))
    np.testing.assert_array_equal(loaded.thresholds_, cal.thresholds_)
    summary = calibration_summary("emotion-classic", texts, gold)
    assert summary["multi_label"] and set(summary["crossfit"]) >= {"macro_f1", "ece"}


def test_summary_and_errors():
    summary = calibration_summary("lexicon", TEXTS, GOLD)
    assert summary["after"]["log_loss"] <= summary["before"]["log_loss"] + 1e-9
    assert summary["after"]["accuracy"] == summary["before"]["accuracy"]
    with pytest.raises(NotFittedError, match="fit"):
        CalibratedAnalyzer(base="lexicon").predict_proba(["x"])
    with pytest.raises(InvalidInputError, match="'temperature'"):
        CalibratedAnalyzer(base="lexicon", temperature=-1).predict_proba(["x"])
    with pytest.raises(InvalidInputError, match="not labels of the model"):
        calibrate("lexicon", ["a", "b"], ["joy", "anger"])


def test_abstain_says_mixed_on_close_calls_only():
    model = affectkit.load("lexicon")
    texts = ["good", "great and wonderful, I love it"]
    p = model.predict_proba(texts)
    margin = np.sort(p, axis=1)[:, -1] - np.sort(p, axis=1)[:, -2]
    cut = float((margin[0] + margin[1]) / 2)
    assert margin[0] < cut < margin[1]
    close, clear = model.analyze(texts, abstain=cut)
    assert close.label == "mixed" and close.abstained and close.labels == ()
    assert close.scores == model.analyze("good").scores
    assert clear.label == "positive" and not clear.abstained
    assert close.to_dict()["abstained"] is True
    assert model.analyze("good", abstain=0.0).label != "mixed"
    with pytest.raises(InvalidInputError, match="'abstain'"):
        model.analyze("good", abstain=1.5)
    with pytest.raises(InvalidInputError, match="single-label"):
        affectkit.load("emotion-classic").analyze("good", abstain=0.1)


def test_analyze_explain_attaches_explanations():
    model = affectkit.load("classic")
    one = model.analyze("I love this brilliant kettle", explain=True)
    assert one.explanation.method == "linear" and one.explanation.label == one.label
    assert one.to_dict()["explanation"]["tokens"]
    assert model.analyze("I love it").explanation is None
    many = model.analyze(["awful", "", None], explain=True)
    assert [r.explanation is not None for r in many] == [True, True, True]
    assert many[1].explanation.tokens == ()


def test_cli_calibrate_and_explain(tmp_path):
    from affectkit.cli.main import app

    csv = tmp_path / "val.csv"
    csv.write_text("text,label\n" + "\n".join(f'"{t}",{g}' for t, g in zip(TEXTS, GOLD, strict=True)) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", "lexicon", "--data", str(csv), "--label-col", "label",
                              "--out", str(tmp_path / "cal"), "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["temperature"] > 0 and payload["after"]["ece"] >= 0
    assert affectkit.load(tmp_path / "cal").temperature_ == pytest.approx(payload["temperature"])
    res = runner.invoke(app, ["analyze", "I love this brilliant kettle", "-m", "lexicon", "--explain"])
    assert res.exit_code == 0 and "(lexicon)" in res.stdout and "top: brilliant" in res.stdout
    res = runner.invoke(app, ["analyze", "good", "-m", "lexicon", "--abstain", "0.99", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["label"] == "mixed"


def test_cli_colours_tokens_by_sign():
    from affectkit.cli.main import _coloured_explanation

    result = affectkit.load("lexicon").analyze("the bread was great but the soup was awful", explain=True)
    line = _coloured_explanation(1, result)
    styles = {line.plain[s.start:s.end]: str(s.style) for s in line.spans}
    label_is_positive = result.explanation.label == "positive"
    assert ("rgb(0," in styles["great"]) == label_is_positive
    assert ("rgb(0," in styles["awful"]) != label_is_positive and "rgb(" in styles["awful"]

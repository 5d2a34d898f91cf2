"""Checks on the shared data sets; skipped when ../shared/data is absent."""

from __future__ import annotations

import pytest

import affectkit
from affectkit.datasets import load_dataset
from affectkit.evaluation import evaluate

pytestmark = pytest.mark.data


def test_classic_sentiment_on_tweeteval_val(data_dir):
    val = load_dataset("tweeteval-sentiment:val", data_dir)
    report = evaluate(["classic"], val.texts, val.y)
    assert report.results[0].metrics["macro_recall"] >= 0.63


def test_lexicon_on_tweeteval_val_agrees_with_vader(data_dir):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    val = load_dataset("tweeteval-sentiment:val", data_dir)
    texts = val.texts[:300]
    ours = affectkit.load("lexicon").predict(texts)
    for text, label in zip(texts, ours, strict=True):
        c = vader.polarity_scores(text)["compound"] if text.strip() else 0.0
        assert label == ("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")


def test_classic_emotion_on_goemotions_dev(data_dir):
    dev = load_dataset("goemotions:dev", data_dir)
    report = evaluate(["emotion"], dev.texts, dev.y)
    assert report.results[0].metrics["macro_f1"] >= 0.45


def test_dataset_loaders(data_dir):
    assert len(load_dataset("semeval2017-sentiment:train", data_dir).texts) == 47346
    ge = load_dataset("goemotions:train", data_dir)
    assert len(ge.texts) == 43410 and ge.multi_label


def test_default_transformer_on_validation_splits(data_dir):
    val = load_dataset("tweeteval-sentiment:val", data_dir)
    dev = load_dataset("goemotions:dev", data_dir)
    sentiment = evaluate(["sentiment"], val.texts, val.y).results[0]
    emotion = evaluate(["emotion"], dev.texts, dev.y).results[0]
    assert sentiment.metrics["macro_recall"] >= 0.73
    assert emotion.metrics["macro_f1"] >= 0.53


@pytest.mark.slow
def test_training_recipe_smoke_on_real_data(data_dir, tmp_path):
    """A few steps of the real recipe (packaged MiniLM, shared data), then export and load."""
    pytest.importorskip("torch")
    from affectkit.train.export import export_onnx
    from affectkit.train.multitask import TrainConfig, default_base, train

    report = train(TrainConfig(out=str(tmp_path / "run"), data=str(data_dir), epochs=1, limit=64, eval_limit=64,
                               max_steps=4, log_every=1))
    out = export_onnx(tmp_path / "run" / "best.pt", default_base(), tmp_path / "model",
                      thresholds=report["best"]["thresholds"])
    assert affectkit.load(out).predict_proba(["fine"]).shape == (1, 3)


def test_absa_loader_and_evaluation(data_dir):
    from affectkit.aspects.evaluation import evaluate_aspects
    from affectkit.datasets import load_absa

    sentences = load_absa("semeval2014-absa:laptops", data_dir)
    assert len(sentences) > 3000
    s = sentences[0]
    for term, start, end, _ in s.aspects:
        assert s.text[start:end] == term
    result = evaluate_aspects(["classic"], sentences[:300])
    assert 0 < result["extraction"]["f1"] < 1
    pol = result["polarity"]["classic"]
    assert pol["sentence"]["n"] == pol["clause"]["n"] > 0


def test_cli_evaluate_absa(data_dir, monkeypatch):
    import json

    from typer.testing import CliRunner

    from affectkit.cli.main import app

    monkeypatch.setenv("AFFECTKIT_DATA", str(data_dir))
    r = CliRunner().invoke(app, ["evaluate", "--data", "semeval2014-absa:restaurants", "--models", "lexicon", "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert set(obj["polarity"]["lexicon"]) == {"sentence", "clause", "mixed"}
    mixed = obj["polarity"]["lexicon"]["mixed"]
    assert 0 < mixed["clause"]["n"] == mixed["sentence"]["n"] < obj["polarity"]["lexicon"]["clause"]["n"]


def test_speech_model_on_unseen_ravdess_actors(data_dir):
    """The shipped speech model on actors 17-20 (never trained on): the model card's 7-class accuracy."""
    import csv

    pytest.importorskip("soundfile")
    from affectkit.audio import EMOTIONS7
    from affectkit.audio.analyzer import SpeechEmotionAnalyzer

    to7 = {"neutral": "neutral", "calm": "neutral", "happy": "joy", "sad": "sadness", "angry": "anger",
           "fearful": "fear", "disgust": "disgust", "surprised": "surprise"}
    root = data_dir / "ravdess-speech"
    with (root / "labels.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if int(r["actor"]) in (17, 18, 19, 20)]
    model = SpeechEmotionAnalyzer()
    pred = model.predict([root / r["path"] for r in rows])
    acc = sum(p == to7[r["emotion"]] for p, r in zip(pred, rows, strict=True)) / len(rows)
    assert len(rows) == 240 and set(pred) <= set(EMOTIONS7)
    assert acc >= 0.70, acc

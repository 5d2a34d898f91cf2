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

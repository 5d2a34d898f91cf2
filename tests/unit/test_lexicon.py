import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

import affectkit
from affectkit.analyzers.lexicon import compound_to_proba

VADER = SentimentIntensityAnalyzer()


def vader_rule(text: str) -> str:
    c = VADER.polarity_scores(text)["compound"]
    return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"


SENTENCES = [
    "I love it", "I do not love it", "It is okay I guess", "HORRIBLE!!!", "meh", "Not bad :)",
    "The sky is blue", "great, just great... another delay", "😍", "💔",
]  # fmt: skip


@pytest.mark.parametrize("text", SENTENCES)
def test_agrees_with_vader_compound(text):
    assert affectkit.load("lexicon").predict([text])[0] == vader_rule(text)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["good", "bad", "not", "very", "!", "terrible", "nice", "the", "but", "LOVE", ":)"]),
                min_size=1, max_size=8))
def test_agrees_with_vader_on_generated_text(words):
    text = " ".join(words)
    assert affectkit.load("lexicon").predict([text])[0] == vader_rule(text)


@pytest.mark.parametrize("c,label", [(0.05, 2), (-0.05, 0), (0.0499, 1), (-0.0499, 1), (1.0, 2), (-1.0, 0)])
def test_boundaries_follow_vader(c, label):
    assert compound_to_proba(np.array([c])).argmax() == label


def test_probabilities_monotone_in_compound():
    p = compound_to_proba(np.linspace(-1, 1, 101))
    assert (np.diff(p[:, 2]) >= 0).all() and (np.diff(p[:, 0]) <= 0).all()


@pytest.mark.parametrize("params,match", [({"sharpness": 0}, "'sharpness'"), ({"max_chars": 10}, "'max_chars'")])
def test_parameter_validation(params, match):
    analyzer = affectkit.VaderAnalyzer(**params)  # __init__ only stores, as in scikit-learn
    assert analyzer.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=match):
        analyzer.predict_proba(["fine"])
    with pytest.raises(ValueError, match=match):
        affectkit.load("lexicon", **params).predict_proba(["fine"])


def test_word_scores():
    scores = dict(affectkit.load("lexicon").word_scores("I love terrible food"))
    assert scores["love"] > 0 > scores["terrible"] and scores["food"] == 0

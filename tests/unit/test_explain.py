"""Token explanations, for every generation of model: native (lexicon, linear) and occlusion."""

from __future__ import annotations

import random

import numpy as np
import pytest

import affectkit
from affectkit.exceptions import InvalidInputError
from affectkit.explain import explain

TEXTS = [
    "The blender is wonderful and the staff were so helpful, I love it",
    "Awful kettle, it broke after two days and support was useless",
    "Honestly the best purchase I made this year, brilliant little fan",
    "The lid cracked, the handle wobbles and the whole thing feels cheap",
]


def _drop(text, spans):
    keep, last = [], 0
    for s, e in sorted(spans):
        keep.append(text[last:s])
        last = e
    keep.append(text[last:])
    return " ".join(" ".join(keep).split())


@pytest.mark.parametrize(("model", "method", "expected"), [
    ("lexicon", "auto", "lexicon"),
    ("lexicon", "occlusion", "occlusion"),
    ("sentiment-classic", "auto", "linear"),
    ("sentiment-classic", "occlusion", "occlusion"),
    ("sentiment", "auto", "occlusion"),
])
def test_top_tokens_matter_more_than_random_tokens(model, method, expected):
    analyzer = affectkit.load(model)
    labels = list(analyzer.labels_)
    rng = random.Random(0)
    top_moves, random_moves = [], []
    explanations = explain(analyzer, TEXTS, method=method)
    assert {e.method for e in explanations} == {expected}
    for e, text in zip(explanations, TEXTS, strict=True):
        j = labels.index(e.label)
        k = 2
        top = [(t.start, t.end) for t in e.top(k)]
        rand = [(t.start, t.end) for t in rng.sample(list(e.tokens), k)]
        p = analyzer.predict_proba([text, _drop(text, top), _drop(text, rand)])[:, j]
        top_moves.append(p[0] - p[1])
        random_moves.append(p[0] - p[2])
    assert np.mean(top_moves) > np.mean(random_moves)
    assert np.mean(top_moves) > 0.05


def test_offsets_and_shapes():
    analyzer = affectkit.load("lexicon")
    e = explain(analyzer, "Great  coffee 😀, bad lid!")
    for t in e.tokens:
        assert "Great  coffee 😀, bad lid!"[t.start:t.end] == t.token
    assert {t.token for t in e.top(2)} == {"Great", "😀"} or e.top(1)[0].token == "Great"
    assert e.to_dict()["method"] == "lexicon"
    assert explain(analyzer, "Great coffee", method="occlusion").method == "occlusion"
    many = explain(analyzer, ["good", "", "bad"])
    assert len(many) == 3 and many[1].tokens == () and many[1].note


def test_multi_label_and_explicit_label():
    analyzer = affectkit.load("emotion-classic")
    e = explain(analyzer, "Thank you so much, I am really grateful", label="gratitude")
    assert e.label == "gratitude"
    assert e.top(1)[0].token.lower() in ("thank", "grateful", "thanks")


def test_long_text_is_capped_and_said():
    e = explain(affectkit.load("lexicon"), "good " * 300, max_tokens=50)
    assert len(e.tokens) == 50 and "first 50 of 300" in e.note


def test_bad_parameters():
    analyzer = affectkit.load("lexicon")
    with pytest.raises(InvalidInputError, match="'label'"):
        explain(analyzer, "x", label="joy")
    with pytest.raises(InvalidInputError, match="'max_tokens'"):
        explain(analyzer, "x", max_tokens=0)
    with pytest.raises(InvalidInputError, match="'method'"):
        explain(analyzer, "x", method="shap")


def test_lexicon_word_scores_follow_vader_rules():
    analyzer = affectkit.load("lexicon")
    text = "The soup was not good, but the bread was GREAT 😀"
    weights = {text[s:e]: w for s, e, w in analyzer.word_valences(text)}
    assert weights["good"] < 0  # negated
    assert weights["GREAT"] > 0 and weights["😀"] > 0
    e = explain(analyzer, text)
    assert e.label == "positive" and e.top(1)[0].token == "GREAT"
    neg = explain(analyzer, text, label="negative")
    assert {t.token: t.weight for t in neg.tokens}["GREAT"] < 0


def test_linear_weights_land_on_words_and_trees_fall_back_to_occlusion():
    from affectkit.analyzers.classic import ClassicAnalyzer

    texts = ["lovely soup", "lovely bread", "awful soup", "awful bread"] * 5
    y = ["positive", "positive", "negative", "negative"] * 5
    linear = ClassicAnalyzer("logreg", features={"min_df": 1}).fit(texts, y)
    e = explain(linear, "awful bread")
    assert e.method == "linear" and e.label == "negative"
    assert e.top(1)[0].token == "awful"
    tree = ClassicAnalyzer("tree", features={"min_df": 1}).fit(texts, y)
    assert explain(tree, "awful bread").method == "occlusion"

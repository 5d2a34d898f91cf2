"""One verdict per text: the rules of affectkit.verdict, and that every interface shows it."""

from __future__ import annotations

import pytest

from affectkit.verdicts import ASPECT_MIN, MIXED_LABEL, MIXED_MIN, Verdict, verdict

SEED = "The product works great but delivery was delayed"


def scores(neg, neu, pos):
    return {"negative": neg, "neutral": neu, "positive": pos}


def test_both_strong_sentence_is_mixed():
    v = verdict(scores(0.43, 0.15, 0.42))
    assert v.label == MIXED_LABEL and v.confidence == pytest.approx(0.42)
    assert "both strong" in v.reason


def test_one_side_below_the_rule_is_not_mixed():
    v = verdict(scores(MIXED_MIN - 0.01, 0.2, 1 - MIXED_MIN - 0.19))
    assert v.label == "positive" and v.reason == "sentence"


def test_opposite_aspects_make_mixed_even_when_the_sentence_leans():
    aspects = {"aspects": [{"aspect": "product", "polarity": "positive", "probability": 0.95, "found": True},
                           {"aspect": "delivery", "polarity": "negative", "probability": ASPECT_MIN, "found": True}]}
    v = verdict(scores(0.7, 0.1, 0.2), aspects)
    assert v.label == MIXED_LABEL and v.reason.startswith("aspects")
    assert v.evidence["aspects"] == {"positive": 0.95, "negative": ASPECT_MIN}


def test_weak_or_absent_aspects_do_not_make_mixed():
    weak = [("positive", 0.9), ("negative", ASPECT_MIN - 0.01)]
    assert verdict(scores(0.1, 0.1, 0.8), weak).label == "positive"
    not_found = {"aspects": [{"polarity": "negative", "probability": 0.99, "found": False},
                             {"polarity": "positive", "probability": 0.99, "found": True}]}
    assert verdict(scores(0.1, 0.1, 0.8), not_found).label == "positive"


def test_emotions_never_contradict_a_polar_verdict():
    emo = {"labels": ["joy", "admiration"], "scores": {"joy": 0.7, "admiration": 0.6, "disappointment": 0.4}}
    v = verdict(scores(0.9, 0.05, 0.05), emotion=emo)
    assert v.label == "negative"
    assert v.emotions == ("disappointment",) and set(v.contrary) == {"joy", "admiration"}
    # nothing of the verdict's polarity strong enough: no emotion rather than a contrary one
    v = verdict(scores(0.9, 0.05, 0.05), emotion={"labels": ["joy"], "scores": {"joy": 0.7, "anger": 0.1}})
    assert v.emotions == () and v.contrary == ("joy",)


def test_mixed_and_neutral_verdicts_keep_every_emotion():
    emo = {"labels": ["joy", "anger"], "scores": {"joy": 0.5, "anger": 0.6}}
    assert verdict(scores(0.4, 0.2, 0.4), emotion=emo).emotions == ("anger", "joy")
    assert verdict(scores(0.1, 0.8, 0.1), emotion=emo).emotions == ("anger", "joy")


def test_empty_text_and_bad_input():
    v = verdict({"scores": scores(0.5, 0.2, 0.3), "empty": True})
    assert v.label == "neutral" and v.reason == "empty text"
    with pytest.raises(ValueError, match="'sentiment' must be"):
        verdict({})
    assert isinstance(Verdict("mixed", 0.4, "x").to_dict()["emotions"], list)


def test_library_result_objects():
    import affectkit

    model = affectkit.load("sentiment")
    res = model.analyze(SEED)
    v = affectkit.verdict(res)
    assert v.label in ("negative", "neutral", "positive", "mixed")
    assert v.evidence["sentence"] == pytest.approx(res.scores)
    # the seed sentence with its two aspects given: product positive, delivery negative -> mixed
    from affectkit.aspects.analyze import AspectAnalyzer

    aspects = AspectAnalyzer(model).analyze([SEED], aspects=["product", "delivery"])[0]
    assert [a.polarity for a in aspects.aspects] == ["positive", "negative"]
    assert affectkit.verdict(res, aspects).label == MIXED_LABEL

"""affectkit.evaluate on data that has fewer labels than the model (SST-2 on a 3-class model)."""

from __future__ import annotations

import numpy as np

from affectkit.evaluation import evaluate


class _Fixed:
    """A 3-class analyzer that answers fixed probabilities, in the order of its texts."""

    labels_ = ("negative", "neutral", "positive")

    class tags:  # noqa: N801 - the analyzer contract's attribute
        multi_label = False

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, texts):
        return self.proba[: len(texts)]


def test_binary_data_also_scores_with_neutral_ignored():
    # argmax: neutral, neutral, positive, negative; without neutral: negative, positive, positive, negative
    model = _Fixed([[0.4, 0.5, 0.1], [0.1, 0.5, 0.4], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    gold = ["negative", "positive", "positive", "negative"]
    r = evaluate([model], ["a", "b", "c", "d"], gold).results[0]
    assert r.metrics["accuracy"] == 0.5  # two neutral answers count as wrong
    assert r.metrics["accuracy_data_labels"] == 1.0  # the argmax over negative/positive only


def test_data_with_every_label_gets_no_extra_metric():
    model = _Fixed([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    r = evaluate([model], ["a", "b", "c"], ["negative", "neutral", "positive"]).results[0]
    assert r.metrics["accuracy"] == 1.0 and "accuracy_data_labels" not in r.metrics

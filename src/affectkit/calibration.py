"""Calibration: probabilities that mean what they say, fitted on validation data.

* Single-label models get **temperature scaling** (Guo et al., 2017): ``p' = softmax(log p / T)``
  with the one number ``T`` that minimises the log loss on validation data. It never changes
  the predicted label, only how confident the probabilities are.
* Multi-label models get **per-label thresholds**: for each label, the threshold on its
  marginal that maximises F1 on validation data.
* :func:`expected_calibration_error` measures the gap between confidence and accuracy
  (``affectkit evaluate`` reports it as ``ece``).

:class:`CalibratedAnalyzer` wraps any analyzer with the same contract and saves to a model
directory; :func:`calibrate` fits one::

    cal = affectkit.calibration.calibrate("sentiment", val_texts, val_labels)
    cal.save("sentiment-calibrated")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit._validation import as_text_batch
from affectkit.analyzers.calibrated import CalibratedAnalyzer, apply_temperature, fit_temperature, gold_index
from affectkit.exceptions import InvalidInputError
from affectkit.metrics import (
    ECE_BINS,
    crossfit_predictions,
    expected_calibration_error,
    indicator,
    log_loss,
    score_multi,
)

__all__ = [
    "CalibratedAnalyzer", "calibrate", "expected_calibration_error", "fit_temperature", "apply_temperature", "log_loss",
    "calibration_summary",
    "ECE_BINS",
]


def calibrate(model: Any, texts: Sequence[str], y: object) -> CalibratedAnalyzer:
    """``CalibratedAnalyzer(model).fit(texts, y)``: calibrate any model on validation data."""
    return CalibratedAnalyzer(base=model).fit(texts, y)


def calibration_summary(model: Any, texts: Sequence[str], y: Sequence[Any], seed: int = 0) -> dict[str, Any]:
    """Calibrate ``model`` on ``(texts, y)`` and measure it: before, after, and 2-fold cross-fitted.

    The cross-fitted numbers calibrate on one random half and measure on the other (and the
    other way round): what to expect on new data, where the in-sample "after" is optimistic.
    Returns ``{"analyzer": CalibratedAnalyzer, "multi_label": bool, "before": {...},
    "after": {...}, "crossfit": {...}, "temperature" or "thresholds": ...}``.
    """
    cal = CalibratedAnalyzer(base=model)
    base = cal._base()
    batch = as_text_batch(texts, method="calibration_summary")
    y = list(y)
    if len(y) != len(batch) or len(batch) == 0:
        raise InvalidInputError(
            f"calibration_summary needs one label per text and at least one text. Got {len(batch)} texts "
            f"and {len(y)} labels."
        )
    proba = np.asarray(base.predict_proba(batch.texts), dtype=np.float64)
    cal.fit_proba(proba, y)
    labels = list(base.labels_)
    idx = np.random.RandomState(seed).permutation(len(y))
    halves = (idx[: len(y) // 2], idx[len(y) // 2 :])
    if base.tags.multi_label:
        Y = indicator(y, labels)
        t0 = base._thresholds(None)

        def scores(P: np.ndarray) -> dict[str, float]:
            return {**score_multi(Y, P)[0], "ece": expected_calibration_error(proba, Y)}

        cross = crossfit_predictions(proba, Y, seed)
        return {"analyzer": cal, "multi_label": True, "thresholds": [float(t) for t in cal.thresholds_],
                "before": scores((proba >= t0).astype(np.int64)),
                "after": scores((proba >= cal.thresholds_).astype(np.int64)),
                "crossfit": scores(cross.astype(np.int64))}
    gold = gold_index(y, labels)
    crossed = np.zeros_like(proba)
    for a, b in (halves, halves[::-1]):
        crossed[b] = apply_temperature(proba[b], fit_temperature(proba[a], gold[a]))

    def measure(P: np.ndarray) -> dict[str, float]:
        return {"ece": expected_calibration_error(P, gold), "log_loss": log_loss(P, gold),
                "accuracy": float((P.argmax(axis=1) == gold).mean())}

    return {"analyzer": cal, "multi_label": False, "temperature": cal.temperature_,
            "before": measure(proba), "after": measure(apply_temperature(proba, cal.temperature_)),
            "crossfit": measure(crossed)}

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

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._runtime import softmax
from affectkit._validation import TextBatch, as_text_batch
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError
from affectkit.results import Segment

logger = logging.getLogger(__name__)

__all__ = [
    "CalibratedAnalyzer", "calibrate", "expected_calibration_error", "fit_temperature", "apply_temperature", "log_loss",
    "calibration_summary",
    "ECE_BINS",
]

#: Equal-width confidence bins of :func:`expected_calibration_error`.
ECE_BINS = 15
_TINY = 1e-12


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-width confidence bins.

    Single-label (``y`` holds class indices, shape ``(n,)``): the top-label ECE, the mean over
    texts of ``|confidence - accuracy|`` within each bin, weighted by the bin's size.
    Multi-label (``y`` is a 0/1 matrix shaped like ``proba``): the same over every
    (text, label) marginal, against whether the label is gold.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    if proba.shape[0] == 0:
        return 0.0
    if y.ndim == 1:
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y).astype(np.float64)
    else:
        conf, hit = proba.ravel(), y.ravel().astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        sel = bins == b
        total += sel.sum() * abs(conf[sel].mean() - hit[sel].mean())
    return float(total / len(conf))


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / temperature)``, row by row."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.size == 0:
        return proba
    return softmax(np.log(np.clip(proba, _TINY, 1.0)) / float(temperature))


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 20] minimising the log loss of ``apply_temperature(proba, T)``."""
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), _TINY, 1.0))
    y = np.asarray(y, dtype=np.int64)
    rows = np.arange(len(y))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, y] - np.log(np.exp(z).sum(axis=1))).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the gold class indices ``y``."""
    p = np.clip(np.asarray(proba, dtype=np.float64)[np.arange(len(y)), np.asarray(y)], _TINY, 1.0)
    return float(-np.log(p).mean())


def _gold_index(y: Sequence[Any], labels: list[str]) -> np.ndarray:
    """Column index of each gold label; an error naming the labels the model does not have."""
    unknown = sorted({str(v) for v in y} - set(labels))
    if unknown:
        raise InvalidInputError(f"Labels {unknown} are not labels of the model {labels}.")
    return np.asarray([labels.index(str(v)) for v in y], dtype=np.int64)


class CalibratedAnalyzer(Analyzer):
    """Any analyzer, calibrated: a temperature (single-label) or per-label thresholds (multi-label).

    Parameters
    ----------
    base:
        The analyzer to calibrate: a registered name, a model directory or an analyzer.
    temperature:
        Single-label: the temperature (``None`` until :meth:`fit`; 1.0 changes nothing).
    threshold:
        Multi-label: threshold(s) overriding the fitted per-label ones.
    """

    kind = "calibrated"

    def __init__(self, base: Any = "sentiment", temperature: float | None = None, threshold: object = None):
        self.base = base
        self.temperature = temperature
        self.threshold = threshold

    # -- the wrapped analyzer ----------------------------------------------------------------
    def _base(self) -> Any:
        cached = self.__dict__.get("_base_cached")
        if cached is not None and cached[0] is self.base:
            return cached[1]
        from affectkit.registry import load

        model = load(self.base) if isinstance(self.base, str | Path) else self.base
        if not hasattr(model, "predict_proba") or not hasattr(model, "labels_"):
            raise InvalidInputError(
                f"The 'base' parameter of CalibratedAnalyzer must be a model name, a model directory or an "
                f"analyzer. Got {type(self.base).__name__}."
            )
        self.__dict__["_base_cached"] = (self.base, model)
        return model

    @property
    def labels_(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._base().labels_)

    @property
    def tags(self) -> Tags:
        t = self._base().tags
        return Tags(task=t.task, multi_label=t.multi_label, trainable=t.trainable, modalities=t.modalities,
                    generation=t.generation)

    def _check_fitted(self) -> None:
        multi = self._base().tags.multi_label
        if (self.temperature is None and not multi) or (multi and not hasattr(self, "thresholds_")):
            from affectkit.exceptions import NotFittedError

            raise NotFittedError(
                "This CalibratedAnalyzer is not fitted yet. Call fit(val_texts, val_y) on validation data, "
                "or pass temperature=... for a single-label model."
            )
        if self.temperature is not None and (
            not isinstance(self.temperature, int | float) or isinstance(self.temperature, bool) or self.temperature <= 0
        ):
            raise InvalidInputError(
                f"The 'temperature' parameter of CalibratedAnalyzer must be a number > 0. Got {self.temperature!r}."
            )

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: object) -> CalibratedAnalyzer:
        """Fit the temperature (single-label) or the per-label thresholds (multi-label) on validation data."""
        base = self._base()
        batch = as_text_batch(texts, method="CalibratedAnalyzer.fit")
        y = list(y)  # type: ignore[call-overload]
        if len(y) != len(batch) or len(batch) == 0:
            raise InvalidInputError(
                f"CalibratedAnalyzer.fit needs one label per text and at least one text. Got {len(batch)} texts "
                f"and {len(y)} labels."
            )
        return self.fit_proba(base.predict_proba(batch.texts), y)

    def fit_proba(self, proba: np.ndarray, y: Sequence[Any]) -> CalibratedAnalyzer:
        """:meth:`fit` from the base model's scores already computed (saves predicting twice)."""
        from affectkit.analyzers.classic.model import best_f1_thresholds
        from affectkit.evaluation import indicator

        base = self._base()
        labels = list(base.labels_)
        if base.tags.multi_label:
            self.thresholds_ = best_f1_thresholds(proba, indicator(y, labels))
        else:
            self.temperature = fit_temperature(proba, _gold_index(y, labels))
        return self

    # -- prediction --------------------------------------------------------------------------
    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        proba = np.asarray(self._base().predict_proba(texts), dtype=np.float64)
        return proba if self.tags.multi_label else apply_temperature(proba, self.temperature)

    def _predict_detailed(self, batch: TextBatch) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        proba, segments = self._base()._predict_detailed(batch)
        if self.tags.multi_label or len(batch) == 0:
            return proba, segments
        labels = self.labels_

        def scaled(seg: Segment) -> Segment:
            row = apply_temperature(np.asarray([[seg.scores[lab] for lab in labels]]), self.temperature)[0]
            return Segment(seg.start, seg.end, {lab: float(v) for lab, v in zip(labels, row, strict=True)})

        return apply_temperature(proba, self.temperature), [tuple(scaled(s) for s in segs) for segs in segments]

    @property
    def explanation_method(self) -> str:
        return getattr(self._base(), "explanation_method", "occlusion")

    def _token_weights(self, text: str, label_index: int) -> list[tuple[int, int, float]] | None:
        native = getattr(self._base(), "_token_weights", None)
        return native(text, label_index) if native is not None else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_base_cached", None)
        return state

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a model directory; the base is saved in ``base/`` unless it is a registered name."""
        from affectkit.base import _jsonable
        from affectkit.registry import registry

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = super()._config()
        if isinstance(self.base, str) and self.base in registry.names(include_aliases=True):
            config["base"] = {"name": self.base}
        else:
            self._base().save(path / "base")
            config["base"] = {"dir": "base"}
        config["params"] = _jsonable({"temperature": self.temperature, "threshold": self.threshold})
        if hasattr(self, "thresholds_"):
            config["thresholds"] = [float(t) for t in self.thresholds_]
        (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> CalibratedAnalyzer:
        base = config.get("base") or {}
        if "name" in base:
            target: Any = base["name"]
        elif "dir" in base and (path / base["dir"]).is_dir():
            target = str(path / base["dir"])
        else:
            raise ModelFormatError(f"{path}/config.json does not say which model it calibrates ('base').")
        model = cls(base=target, **config.get("params", {}))
        if config.get("thresholds") is not None:
            model.thresholds_ = np.asarray(config["thresholds"], dtype=np.float64)
        return model


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
    from affectkit.analyzers.classic.model import best_f1_thresholds
    from affectkit.evaluation import indicator, score_multi

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

        cross = np.zeros_like(Y)
        for a, b in (halves, halves[::-1]):
            cross[b] = proba[b] >= best_f1_thresholds(proba[a], Y[a])
        return {"analyzer": cal, "multi_label": True, "thresholds": [float(t) for t in cal.thresholds_],
                "before": scores((proba >= t0).astype(np.int64)),
                "after": scores((proba >= cal.thresholds_).astype(np.int64)),
                "crossfit": scores(cross.astype(np.int64))}
    gold = _gold_index(y, labels)
    crossed = np.zeros_like(proba)
    for a, b in (halves, halves[::-1]):
        crossed[b] = apply_temperature(proba[b], fit_temperature(proba[a], gold[a]))

    def measure(P: np.ndarray) -> dict[str, float]:
        return {"ece": expected_calibration_error(P, gold), "log_loss": log_loss(P, gold),
                "accuracy": float((P.argmax(axis=1) == gold).mean())}

    return {"analyzer": cal, "multi_label": False, "temperature": cal.temperature,
            "before": measure(proba), "after": measure(apply_temperature(proba, cal.temperature)),
            "crossfit": measure(crossed)}

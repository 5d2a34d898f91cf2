"""An analyzer calibrated on validation data: a temperature (single-label) or per-label thresholds
(multi-label) over any other analyzer. :mod:`affectkit.calibration` fits and measures one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._runtime import softmax
from affectkit._validation import TextBatch, as_text_batch
from affectkit.base import Analyzer, Tags, jsonable, write_config
from affectkit.exceptions import InvalidInputError, NotFittedError
from affectkit.metrics import best_f1_thresholds, indicator
from affectkit.params import Interval
from affectkit.registry import load, load_component, model_tags, save_component
from affectkit.results import Segment

logger = logging.getLogger(__name__)

__all__ = ["CalibratedAnalyzer", "apply_temperature", "fit_temperature", "gold_index"]

_TINY = 1e-12


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


def gold_index(y: Sequence[Any], labels: list[str]) -> np.ndarray:
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
        Single-label: a fixed temperature, used when the model is not fitted (1.0 changes nothing).
        :meth:`fit` learns ``temperature_``, which takes its place; the parameter is never changed.
    threshold:
        Multi-label: threshold(s) overriding the fitted per-label ones.
    """

    kind = "calibrated"

    _parameter_constraints = {"temperature": [Interval(float, 0, None, closed="neither"), None]}

    def __init__(self, base: Any = "sentiment", temperature: float | None = None, threshold: object = None):
        self.base = base
        self.temperature = temperature
        self.threshold = threshold

    # -- the wrapped analyzer ----------------------------------------------------------------
    def _base(self) -> Any:
        cached = self.__dict__.get("_base_cached")
        if cached is not None and cached[0] is self.base:
            return cached[1]
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
        """The base model's tags; reading them loads nothing that is not loaded yet."""
        cached = self.__dict__.get("_base_cached")
        t = cached[1].tags if cached is not None and cached[0] is self.base else model_tags(self.base)
        if t is None:
            t = self._base().tags
        return Tags(task=t.task, multi_label=t.multi_label, trainable=t.trainable, modalities=t.modalities,
                    generation=t.generation)

    def _check_fitted(self) -> None:
        multi = self._base().tags.multi_label
        if (self._temperature() is None and not multi) or (multi and not hasattr(self, "thresholds_")):
            raise NotFittedError(
                "This CalibratedAnalyzer is not fitted yet. Call fit(val_texts, val_y) on validation data, "
                "or pass temperature=... for a single-label model."
            )
        self._validate_params()

    def _temperature(self) -> float | None:
        """The fitted ``temperature_``, else the ``temperature`` parameter."""
        return getattr(self, "temperature_", self.temperature)

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
        base = self._base()
        labels = list(base.labels_)
        if base.tags.multi_label:
            self.thresholds_ = best_f1_thresholds(proba, indicator(y, labels))
        else:
            self.temperature_ = fit_temperature(proba, gold_index(y, labels))
        return self

    # -- prediction --------------------------------------------------------------------------
    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        proba = np.asarray(self._base().predict_proba(texts), dtype=np.float64)
        return proba if self.tags.multi_label else apply_temperature(proba, self._temperature())

    def _predict_detailed(self, batch: TextBatch) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        proba, segments = self._base()._predict_detailed(batch)
        if self.tags.multi_label or len(batch) == 0:
            return proba, segments
        labels = self.labels_

        def scaled(seg: Segment) -> Segment:
            row = apply_temperature(np.asarray([[seg.scores[lab] for lab in labels]]), self._temperature())[0]
            return Segment(seg.start, seg.end, {lab: float(v) for lab, v in zip(labels, row, strict=True)})

        return apply_temperature(proba, self._temperature()), [tuple(scaled(s) for s in segs) for segs in segments]

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
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = super()._config()
        config["base"] = save_component(self.base, path, "base")
        config["params"] = jsonable({"temperature": self.temperature, "threshold": self.threshold})
        if hasattr(self, "temperature_"):
            config["temperature"] = float(self.temperature_)
        if hasattr(self, "thresholds_"):
            config["thresholds"] = [float(t) for t in self.thresholds_]
        write_config(path, config)
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> CalibratedAnalyzer:
        target = load_component(config.get("base"), path, "base model")
        model = cls(base=target, **config.get("params", {}))
        if config.get("temperature") is not None:
            model.temperature_ = float(config["temperature"])
        if config.get("thresholds") is not None:
            model.thresholds_ = np.asarray(config["thresholds"], dtype=np.float64)
        return model

"""The analyzer contract shared by every generation of method.

An analyzer behaves like a scikit-learn estimator:

* ``__init__`` only stores its keyword arguments; learned state ends in ``_``.
* ``labels_`` is the tuple of label names; ``predict_proba(texts)`` returns an array of
  shape ``(len(texts), len(labels_))`` with columns in ``labels_`` order.
* Single-label analyzers: each row sums to 1. Multi-label analyzers: each entry is an
  independent marginal in [0, 1]; ``threshold`` (scalar, per-label sequence or
  ``{label: value}``) turns marginals into labels. The default is the model's tuned
  ``thresholds_`` when it has them, else 0.5.
* ``predict(texts)`` returns an array of label strings (single-label) or a 0/1 indicator
  matrix (multi-label). ``analyze(text)`` returns one :class:`~affectkit.results.Result`,
  ``analyze(texts)`` a list of them.
* ``save(path)`` writes a model directory; ``affectkit.load(path)`` reads it back and gives
  identical scores.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self, overload

import numpy as np

from affectkit._files import read_json
from affectkit._validation import TextBatch, as_text_batch, check_threshold, clean_text
from affectkit._version import __version__
from affectkit.emotion.taxonomy import coarsen, coarsen_proba
from affectkit.exceptions import InvalidInputError, ModelFormatError, NotFittedError
from affectkit.explain import explain_results
from affectkit.labels import EMOTION_LABELS
from affectkit.params import Interval, validate_params
from affectkit.results import Level, Result, Segment

logger = logging.getLogger(__name__)

FORMAT_NAME = "affectkit-model"
FORMAT_VERSION = 1

__all__ = ["Estimator", "Analyzer", "Tags", "analyzer_kinds", "jsonable", "read_config", "write_config", "FORMAT_NAME", "FORMAT_VERSION", "ABSTAIN_LABEL", "abstain_result"]


@dataclass(frozen=True)
class Tags:
    """What an analyzer can do: data, not ``hasattr`` probing."""

    task: str = "sentiment"
    multi_label: bool = False
    trainable: bool = False
    modalities: tuple[str, ...] = ("text",)
    generation: str = "other"
    #: It has a ``threads`` parameter: the number of CPU threads its inference may use.
    threads: bool = False
    #: It has a ``spin`` parameter: ``False`` lets its idle inference threads sleep (for servers).
    spin: bool = False


@functools.cache
def _init_params(init: Any) -> tuple[str, ...]:
    """The keyword parameters of an ``__init__`` (cached: ``get_params`` runs on every prediction)."""
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in inspect.signature(init).parameters.values() if p.name != "self" and p.kind in kinds)


#: Every analyzer class with a ``kind``, by kind: filled as classes are defined (see ``__init_subclass__``).
_KINDS: dict[str, type] = {}


def analyzer_kinds() -> dict[str, type]:
    """The analyzer classes defined so far, by their ``kind`` (what ``config.json`` names)."""
    return dict(_KINDS)


def _register_kind(cls: type) -> None:
    kind = cls.__dict__.get("kind")
    if not isinstance(kind, str):
        return
    other = _KINDS.get(kind)
    if other is not None and (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} declares kind {kind!r}, already taken by "
            f"{other.__module__}.{other.__qualname__}; each kind of model directory names one class."
        )
    _KINDS[kind] = cls


class Estimator:
    """What every model of affectkit shares, whatever it reads: parameters as in scikit-learn
    (``__init__`` only stores them; ``fit`` never changes them; learned state ends in ``_``),
    declared parameter constraints, capability tags, and a model directory (``save`` /
    ``affectkit.load``). :class:`Analyzer` adds the text contract; speech analyzers have their own
    (:class:`affectkit.audio.analyzer.SpeechAnalyzer`)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register_kind(cls)

    #: The class's name in model directories (``config.json`` ``"analyzer"``).
    kind: ClassVar[str] = "base"
    #: Declared constraints of the constructor's parameters (see :mod:`affectkit.params`),
    #: checked by ``_validate_params`` at ``fit`` and before the first prediction.
    _parameter_constraints: ClassVar[dict[str, list[object]]] = {}

    # -- scikit-learn style parameters ---------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return list(_init_params(cls.__init__))

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InvalidInputError(
                    f"{type(self).__name__} has no parameter {key!r}. Valid parameters: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def _validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints`` (one message format for all)."""
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- capabilities ----------------------------------------------------------------------
    @property
    def tags(self) -> Tags:
        return Tags()

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call fit(texts, y) first, "
                f"or load a trained model with affectkit.load(name_or_path)."
            )

    # -- persistence -----------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        """JSON-able description of this analyzer (subclasses extend it)."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "analyzer": self.kind,
            "module": type(self).__module__,
            "affectkit_version": __version__,
            "task": self.tags.task,
            "labels": list(self.labels_),
            "multi_label": self.tags.multi_label,
            "params": jsonable(self.get_params()),
        }

    def save(self, path: str | Path) -> Path:
        """Write this analyzer to the directory ``path`` (created if needed)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = self._config()
        self._save_arrays(path, config)
        write_config(path, config)
        return path

    def _save_arrays(self, path: Path, config: dict[str, Any]) -> None:
        """Write learned arrays next to config.json (subclasses override)."""

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> Self:  # pragma: no cover - abstract
        raise NotImplementedError


class Analyzer(Estimator):
    """Base class of every text analyzer. Subclasses implement ``_predict_proba(list[str])``."""

    # -- prediction ------------------------------------------------------------------------
    def _predict_proba(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of shape ``(n_texts, len(labels_))``, columns in ``labels_`` order."""
        self._check_fitted()
        batch = as_text_batch(texts, method=f"{type(self).__name__}.predict_proba")
        return self._proba_of_batch(batch)

    def _proba_of_batch(self, batch: TextBatch) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, len(self.labels_)), dtype=np.float64)
        proba = np.asarray(self._predict_proba(batch.texts), dtype=np.float64)
        if proba.shape != (len(batch), len(self.labels_)):  # pragma: no cover - internal guard
            raise RuntimeError(f"{type(self).__name__} returned shape {proba.shape}")
        return proba

    def _thresholds(self, threshold: object = None) -> np.ndarray:
        default = getattr(self, "thresholds_", None)
        if threshold is None and getattr(self, "threshold", None) is not None:
            threshold = self.threshold
        return check_threshold(threshold, list(self.labels_), type(self).__name__, default)

    def predict(self, texts: Sequence[str], threshold: object = None) -> np.ndarray:
        """Labels: an array of label names (single-label) or a 0/1 matrix (multi-label)."""
        proba = self.predict_proba(texts)
        return self.labels_from_proba(proba, threshold)

    def labels_from_proba(self, proba: np.ndarray, threshold: object = None) -> np.ndarray:
        """:meth:`predict` from scores already computed (``predict_proba``'s output)."""
        labels = np.asarray(self.labels_, dtype=object)
        if not self.tags.multi_label:
            if proba.shape[0] == 0:
                return np.empty(0, dtype=object)
            return labels[proba.argmax(axis=1)]
        return (proba >= self._thresholds(threshold)[None, :]).astype(np.int64)

    @overload
    def analyze(self, texts: str, threshold: object = None, *, explain: bool = False,
                abstain: float | None = None) -> Result: ...
    @overload
    def analyze(self, texts: Sequence[str], threshold: object = None, *, explain: bool = False,
                abstain: float | None = None) -> list[Result]: ...

    def analyze(self, texts, threshold=None, *, explain=False, abstain=None):
        """Typed results: one text in, one :class:`Result` out; a batch in, a list out.

        ``explain=True`` adds per-token contributions to each result's label
        (``Result.explanation``; see :mod:`affectkit.explain` for the method of each
        generation). ``abstain`` (single-label models) is a margin in [0, 1]: when the top two
        probabilities are closer than it, the result's label is ``"mixed"`` instead of a
        forced choice (``Result.abstained``); the scores are unchanged.
        """
        self._check_fitted()
        margin = self._check_abstain(abstain)
        if isinstance(texts, str | bytes | bytearray):
            t, m, n = clean_text(texts, None, "text")
            batch = TextBatch([t], [m], [n])
        else:
            batch = as_text_batch(texts, method=f"{type(self).__name__}.analyze")
        results = self._results(batch, threshold)
        if explain:
            results = [replace(r, explanation=e) for r, e in zip(results, explain_results(self, results), strict=True)]
        if margin is not None:
            results = [abstain_result(r, margin) for r in results]
        return results[0] if isinstance(texts, str | bytes | bytearray) else results

    def _check_abstain(self, abstain: object) -> float | None:
        validate_params(f"{type(self).__name__}.analyze", {"abstain": abstain},
                        {"abstain": [Interval(float, 0, 1), None]})
        if abstain is None:
            return None
        if self.tags.multi_label:
            raise InvalidInputError(
                f"The 'abstain' parameter applies to single-label models; {type(self).__name__} is multi-label. "
                f"Use 'threshold' to choose how sure each label must be."
            )
        return float(abstain)

    def _predict_detailed(self, batch: TextBatch) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        """Scores plus per-text segment details (analyzers that split long texts override this)."""
        return self._proba_of_batch(batch), [() for _ in range(len(batch))]

    def _results(self, batch: TextBatch, threshold: object) -> list[Result]:
        proba, segments = self._predict_detailed(batch)
        return self._results_from(batch, proba, segments, threshold)

    def _results_from(self, batch: TextBatch, proba: np.ndarray, segments: list[tuple[Segment, ...]],
                      threshold: object) -> list[Result]:
        """Annotate: results from scores already computed (the second step of ``analyze``)."""
        labels = tuple(self.labels_)
        tags = self.tags
        thr = self._thresholds(threshold) if tags.multi_label else None
        chosen_all = []
        for row in proba:
            if tags.multi_label:
                chosen_all.append(tuple(label for label, p, t in zip(labels, row, thr, strict=True) if p >= t))
            else:
                chosen_all.append((labels[int(row.argmax())],))
        levels = self._levels(proba, labels, tags.task, chosen_all)
        out = []
        for i, (row, chosen) in enumerate(zip(proba, chosen_all, strict=True)):
            scores = {label: float(p) for label, p in zip(labels, row, strict=True)}
            top = max(chosen, key=scores.__getitem__) if chosen else labels[int(row.argmax())]
            notes = tuple(batch.notes[i])
            if tags.multi_label and not chosen and batch.texts[i].strip():
                j = labels.index(top)
                notes += (f"no label reached its threshold; the highest is {top} {row[j]:.2f} "
                          f"(threshold {thr[j]:.2f})",)
            out.append(
                Result(
                    text=batch.texts[i],
                    task=tags.task,
                    label=top,
                    labels=chosen,
                    scores=scores,
                    multi_label=tags.multi_label,
                    empty=batch.missing[i] or not batch.texts[i].strip(),
                    levels=levels[i],
                    warnings=notes,
                    segments=segments[i],
                )
            )
        return out

    @staticmethod
    def _levels(
        proba: np.ndarray, labels: tuple[str, ...], task: str, chosen: list[tuple[str, ...]]
    ) -> list[dict[str, Level]]:
        """Coarser levels of the hierarchy; emotion analyzers with GoEmotions labels get Ekman and polarity."""
        if task != "emotion" or set(labels) != set(EMOTION_LABELS):
            return [{} for _ in chosen]
        coarse = {level: coarsen_proba(proba, labels, level) for level in ("ekman", "polarity")}
        return [
            {
                level: Level(
                    labels=coarsen(picked, level),
                    scores={n: float(v) for n, v in zip(names, scores[i], strict=True)},
                )
                for level, (scores, names) in coarse.items()
            }
            for i, picked in enumerate(chosen)
        ]


#: The label of a single-label result that abstained (``analyze(..., abstain=margin)``).
ABSTAIN_LABEL = "mixed"


def abstain_result(result: Result, margin: float) -> Result:
    """``result`` relabelled ``"mixed"`` (``abstained=True``, no labels) when its top two scores are
    closer than ``margin``; otherwise ``result`` itself. Scores are never changed."""
    top = sorted(result.scores.values(), reverse=True)
    if len(top) < 2 or top[0] - top[1] >= margin:
        return result
    return replace(result, label=ABSTAIN_LABEL, labels=(), abstained=True)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a model directory's ``config.json`` (sorted keys, one trailing newline)."""
    out = Path(path) / "config.json"
    out.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def read_config(path: Path) -> dict[str, Any]:
    """Read and check a model directory's ``config.json``."""
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelFormatError(
            f"{path} is not an affectkit model directory: it has no config.json. "
            f"Save a model with analyzer.save(path) or `affectkit train`."
        )
    config = read_json(cfg_path)  # nested too deep: a ModelFormatError naming the file and key
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{cfg_path} is not an affectkit model config (missing 'format': '{FORMAT_NAME}').")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{cfg_path} has format_version {version!r}; this affectkit reads version {FORMAT_VERSION}. "
            f"Upgrade affectkit or re-save the model."
        )
    return config

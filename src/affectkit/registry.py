"""The model registry: names -> analyzers.

Names are versioned (``sentiment-classic-v1``); short aliases (``classic``, ``lexicon``)
and task defaults (``sentiment``, ``emotion``) point at them. Third-party packages add
models through the ``affectkit.analyzers`` entry-point group: the entry point's name is
the model name and its object a zero-argument callable returning an analyzer.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from affectkit.exceptions import UnknownModelError

logger = logging.getLogger(__name__)

__all__ = ["ModelSpec", "Registry", "registry", "load", "list_models", "load_dir"]

ENTRY_POINT_GROUP = "affectkit.analyzers"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    generation: str
    description: str
    factory: Callable[..., Any] = field(repr=False)
    aliases: tuple[str, ...] = ()


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._aliases: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, spec: ModelSpec) -> ModelSpec:
        if spec.name in self._specs or spec.name in self._aliases:
            raise ValueError(f"A model named {spec.name!r} is already registered.")
        self._specs[spec.name] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec.name
        return spec

    def alias(self, alias: str, name: str) -> None:
        """Point ``alias`` at the registered model ``name`` (used for task defaults)."""
        self._aliases[alias] = name

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self._specs or ep.name in self._aliases:
                logger.warning("entry point %r shadows a built-in model name; ignored", ep.name)
                continue
            self._specs[ep.name] = ModelSpec(
                name=ep.name, task="?", generation="plugin", description=f"plug-in {ep.value}", factory=_lazy(ep)
            )

    def resolve(self, name: str) -> ModelSpec:
        self._load_entry_points()
        target = self._aliases.get(name, name)
        if target in self._specs:
            return self._specs[target]
        known = self.names(include_aliases=True)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {name!r}.{hint} Known models: {', '.join(known)}. "
            f"A path to a saved model directory also works."
        )

    def names(self, include_aliases: bool = False) -> list[str]:
        self._load_entry_points()
        names = sorted(self._specs)
        if include_aliases:
            names = sorted(set(names) | set(self._aliases))
        return names

    def specs(self) -> list[ModelSpec]:
        self._load_entry_points()
        return [self._specs[n] for n in sorted(self._specs)]

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)


def _lazy(ep: metadata.EntryPoint) -> Callable[..., Any]:
    def factory(**kwargs: Any) -> Any:
        return ep.load()(**kwargs)

    return factory


# -- model directories ------------------------------------------------------------------------
_ANALYZER_CLASSES: dict[str, str] = {
    "lexicon": "affectkit.analyzers.lexicon:VaderAnalyzer",
    "classic": "affectkit.analyzers.classic.model:ClassicAnalyzer",
    "transformer": "affectkit.analyzers.transformer:TransformerAnalyzer",
    "lexicon-nrc": "affectkit.analyzers.nrc:NRCEmotionAnalyzer",
    "bilstm": "affectkit.analyzers.neural:BiLSTMAnalyzer",
    "calibrated": "affectkit.calibration:CalibratedAnalyzer",
    "ensemble": "affectkit.analyzers.ensemble:EnsembleAnalyzer",
    "textcnn": "affectkit.analyzers.neural:TextCNNAnalyzer",
    "hf": "affectkit.analyzers.hf:HFAnalyzer",
}


def load_dir(path: str | Path) -> Any:
    """Load an analyzer saved with ``save(path)``."""

    from affectkit.base import read_config
    from affectkit.exceptions import ModelFormatError

    path = Path(path)
    config = read_config(path)
    kind = config.get("analyzer")
    target = _ANALYZER_CLASSES.get(kind)  # type: ignore[arg-type]
    if target is None:
        raise ModelFormatError(
            f"{path}/config.json names analyzer {kind!r}; this affectkit knows {sorted(_ANALYZER_CLASSES)}."
        )
    return _class(target)._from_dir(path, config)


def _class(target: str) -> Any:
    """The class named by ``"module:Class"``, imported now."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def shipped_model_path(dirname: str) -> Path:
    """Path of a model directory shipped inside the package."""
    ref = resources.files("affectkit") / "models" / dirname
    return Path(str(ref))


def _shipped(dirname: str) -> Callable[..., Any]:
    """Factory of a model saved in the package's models/ directory."""

    def factory(**kwargs: Any) -> Any:
        return load_dir(shipped_model_path(dirname)).set_params(**kwargs)

    return factory


def _new(target: str, **fixed: Any) -> Callable[..., Any]:
    """Factory of ``module:Class(**fixed)``, imported on first use; keyword arguments become parameters."""

    def factory(**kwargs: Any) -> Any:
        return _class(target)(**fixed).set_params(**kwargs)

    return factory


TRANSFORMER_DIR = "affect-transformer-v1"
_TRANSFORMER = _ANALYZER_CLASSES["transformer"]
_TRANSFORMER_PATH = str(shipped_model_path(TRANSFORMER_DIR))

registry = Registry()
for _spec in (
    ModelSpec("sentiment-lexicon-v1", "sentiment", "lexicon",
              "VADER lexicon and rules (vaderSentiment), compound mapped to 3 probabilities",
              _new(_ANALYZER_CLASSES["lexicon"]), ("lexicon", "vader")),
    ModelSpec("sentiment-classic-v1", "sentiment", "classic",
              "TF-IDF word+char n-grams + hand features, logistic regression; SemEval-2017 train",
              _shipped("sentiment-classic-v1"), ("classic", "sentiment-classic")),
    ModelSpec("emotion-classic-v1", "emotion", "classic",
              "TF-IDF + one-vs-rest logistic regression, 28 GoEmotions labels, dev-tuned thresholds",
              _shipped("emotion-classic-v1"), ("emotion-classic",)),
    ModelSpec("emotion-lexicon-nrc-v1", "emotion", "lexicon",
              "opt-in: NRC EmoLex word counts, Plutchik's 8 emotions (research/non-commercial terms; "
              "needs affectkit[nrc] and accept_terms=True)",
              _new(_ANALYZER_CLASSES["lexicon-nrc"]), ("emotion-lexicon-nrc", "nrc")),
    ModelSpec("sentiment-transformer-v1", "sentiment", "transformer",
              "all-MiniLM-L6-v2 fine-tuned on SemEval-2017 + GoEmotions (one encoder, two heads), ONNX",
              _new(_TRANSFORMER, path=_TRANSFORMER_PATH, head="sentiment"), ("transformer", "sentiment-transformer")),
    ModelSpec("emotion-transformer-v1", "emotion", "transformer",
              "the emotion head of affect-transformer-v1: 28 GoEmotions labels, dev-tuned thresholds, ONNX",
              _new(_TRANSFORMER, path=_TRANSFORMER_PATH, head="emotion"), ("emotion-transformer",)),
    ModelSpec("speech-emotion-v1", "speech-emotion", "neural",
              "acoustic branch: 7 emotions from speech, trained on RAVDESS (CC BY-NC-SA 4.0); needs affectkit[audio]",
              _new("affectkit.audio.analyzer:SpeechEmotionAnalyzer"), ("speech-emotion",)),
    ModelSpec("speech-text-emotion-v1", "speech-emotion", "neural",
              "late fusion of speech-emotion-v1 and the emotion model's Ekman level (7 classes); transcripts "
              "from Whisper tiny.en when none is given; needs affectkit[audio]",
              _new("affectkit.audio.analyzer:SpeechTextEmotionAnalyzer"), ("audio", "speech-text-emotion")),
):
    registry.register(_spec)
# Task defaults: the best shipped generation for each task.
registry.alias("sentiment", "sentiment-transformer-v1")
registry.alias("emotion", "emotion-transformer-v1")


def load(name_or_path: str | Path, **params: Any) -> Any:
    """Load an analyzer by registered name or from a saved model directory.

    ``"sentiment"`` and ``"emotion"`` give the best shipped default for the task;
    ``"lexicon"`` and ``"classic"`` pick a generation; ``list_models()`` lists every name.
    Keyword arguments set analyzer parameters (e.g. ``threshold=0.3``).
    ``"ensemble:default+classic+lexicon?mode=hard"`` or a JSON file ``{"members": [...], "mode": ...}``
    gives an :class:`~affectkit.analyzers.ensemble.EnsembleAnalyzer`.
    ``"hf:<Hub id or directory>"`` loads any Hugging Face sequence-classification model
    (:class:`~affectkit.analyzers.hf.HFAnalyzer`; needs ``affectkit[train]``).
    """
    if isinstance(name_or_path, str) and name_or_path.startswith("hf:"):
        from affectkit.analyzers.hf import load_hf

        return load_hf(name_or_path[len("hf:"):], **params)
    if isinstance(name_or_path, str) and name_or_path.startswith("ensemble:"):
        from affectkit.analyzers.ensemble import from_spec

        return from_spec(name_or_path[len("ensemble:"):], **params)
    if isinstance(name_or_path, str | Path) and str(name_or_path).endswith(".json") and Path(name_or_path).is_file():
        from affectkit.analyzers.ensemble import from_config_file

        return from_config_file(name_or_path, **params)
    if isinstance(name_or_path, Path) or (isinstance(name_or_path, str) and Path(name_or_path).is_dir()):
        model = load_dir(name_or_path)
        return model.set_params(**params) if params else model
    if not isinstance(name_or_path, str):
        raise TypeError(f"affectkit.load expects a model name or a path. Got {type(name_or_path).__name__}.")
    if ("/" in name_or_path or name_or_path.startswith(".")) and name_or_path not in registry.names(True):
        raise UnknownModelError(
            f"No model directory at {name_or_path!r} (it does not exist), and it is not a registered name. "
            f"Known models: {', '.join(registry.names(include_aliases=True))}."
        )
    return registry.resolve(name_or_path).factory(**params)


def list_models() -> list[ModelSpec]:
    """Every registered model (aliases: ``registry.aliases()``)."""
    return registry.specs()

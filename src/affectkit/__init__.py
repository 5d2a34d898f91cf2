"""affectkit: sentiment analysis and emotion recognition with one contract for every generation of method.

>>> import affectkit
>>> analyzer = affectkit.load("sentiment")          # doctest: +SKIP
>>> analyzer.analyze("I love this!").label          # doctest: +SKIP
'positive'

Heavy parts are imported lazily (PEP 562), so ``import affectkit`` is cheap and never
imports torch, transformers or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from affectkit._version import __version__

_LAZY = {
    "load": "affectkit.registry",
    "list_models": "affectkit.registry",
    "registry": "affectkit.registry",
    "Analyzer": "affectkit.base",
    "Tags": "affectkit.base",
    "Result": "affectkit.results",
    "Level": "affectkit.results",
    "VaderAnalyzer": "affectkit.analyzers.lexicon",
    "ClassicAnalyzer": "affectkit.analyzers.classic.model",
    "evaluate": "affectkit.evaluation",
    "verdict": "affectkit.verdicts",
    "Verdict": "affectkit.verdicts",
    "SENTIMENT_LABELS": "affectkit.labels",
    "EMOTION_LABELS": "affectkit.labels",
    "EKMAN_LABELS": "affectkit.labels",
    "POLARITY_LABELS": "affectkit.labels",
}

__all__ = [
    "EKMAN_LABELS", "EMOTION_LABELS", "POLARITY_LABELS", "SENTIMENT_LABELS", "Analyzer", "ClassicAnalyzer",
    "Level", "Result", "Tags", "VaderAnalyzer", "Verdict", "__version__", "evaluate", "list_models", "load",
    "registry", "verdict",
]  # fmt: skip

if TYPE_CHECKING:  # pragma: no cover
    from affectkit.analyzers.classic.model import ClassicAnalyzer
    from affectkit.analyzers.lexicon import VaderAnalyzer
    from affectkit.base import Analyzer, Tags
    from affectkit.evaluation import evaluate
    from affectkit.labels import EKMAN_LABELS, EMOTION_LABELS, POLARITY_LABELS, SENTIMENT_LABELS
    from affectkit.registry import list_models, load, registry
    from affectkit.results import Level, Result
    from affectkit.verdicts import Verdict, verdict


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'affectkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""BERTopic, UMAP and HDBSCAN, imported without the machinery the review job never uses.

Two costs used to dominate the topic stage of a small job, and neither bought anything:

* **Imports.** ``import bertopic`` imports torch, transformers and sentence-transformers (for
  its multimodal backend), and ``import umap`` imports TensorFlow or Keras when they are
  installed (for ``ParametricUMAP``), although the job passes its own embeddings. Both
  libraries guard those imports with ``try/except ImportError``; :func:`topic_libraries`
  imports them with those backends reported missing, *for the duration of that import only and
  only on the importing thread*, so the guards take their "not installed" branch. A backend that
  is already imported is left alone. In that process, BERTopic's ``MultiModalBackend`` and
  UMAP's ``ParametricUMAP`` then stay the placeholders the libraries put in their place; every
  other part of BERTopic, including ``BERTopic(embedding_model="...")`` (its backend is imported
  when used), works as usual.
* **JIT compilation.** UMAP and pynndescent compile their numba functions on first use in every
  process (about 9 s for a hundred reviews on 2 cores). :func:`topic_libraries` turns on numba's
  on-disk cache for the module-level functions of both packages, so they compile once per
  machine. numba stores the cache beside the package's sources (``__pycache__``), or in
  ``NUMBA_CACHE_DIR`` when set, else in the user's cache folder, and recompiles when a
  package's source changes. The compiled code is the same, so the topics are the same.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import warnings
from types import ModuleType

from affectkit.exceptions import require

__all__ = ["topic_libraries", "LEFT_OUT", "enable_numba_cache"]

#: Packages that BERTopic and UMAP import only for features the topic stage does not use.
LEFT_OUT = ("torch", "transformers", "sentence_transformers", "tensorflow", "keras", "jax", "tf_keras",
            "flair", "spacy", "gensim", "tensorflow_hub", "model2vec")

_LOCK = threading.Lock()
_CACHED: set[str] = set()


class _ReportMissing(importlib.abc.MetaPathFinder):
    """A finder that reports ``names`` as not installed, to one thread."""

    def __init__(self, names: frozenset[str]):
        self.names = names
        self.thread = threading.get_ident()

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 (importlib's protocol)
        if fullname.partition(".")[0] in self.names and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {fullname!r} (left out by affectkit's topic stage)",
                                      name=fullname)
        return None


def _import_light(module: str) -> ModuleType:
    if module in sys.modules:
        return sys.modules[module]
    finder = _ReportMissing(frozenset(n for n in LEFT_OUT if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():  # umap warns at import that TensorFlow (ParametricUMAP) is absent
            warnings.simplefilter("ignore")
            return require(module, "topics", "Topic modelling")
    finally:
        sys.meta_path.remove(finder)


def enable_numba_cache(packages: tuple[str, ...] = ("umap", "pynndescent")) -> int:
    """Turn on numba's on-disk cache for the module-level jitted functions of ``packages``.

    Returns how many functions it turned on now (0 when done before in this process or when numba is
    absent). A function numba cannot cache keeps compiling in memory, as before.
    """
    try:
        from numba.core.caching import NullCache
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - umap always brings numba
        return 0
    done = 0
    for name, module in list(sys.modules.items()):
        if module is None or name in _CACHED or name.partition(".")[0] not in packages:
            continue
        _CACHED.add(name)
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and isinstance(value._cache, NullCache):
                try:
                    value.enable_caching()
                except Exception:  # noqa: BLE001 - e.g. no writable cache location: stay in memory
                    continue
                done += 1
    return done


def topic_libraries() -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(bertopic, umap, hdbscan)``, imported light (see the module docstring), numba cache on."""
    with _LOCK:
        umap = _import_light("umap")
        hdbscan = _import_light("hdbscan")
        bertopic = _import_light("bertopic")
        _import_light("pynndescent")
        with warnings.catch_warnings():  # numba warns about functions it cannot cache
            warnings.simplefilter("ignore")
            enable_numba_cache()
    return bertopic, umap, hdbscan

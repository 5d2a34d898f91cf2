"""The model registry: names -> analyzers.

Names are versioned (``sentiment-classic-v1``); short aliases (``classic``, ``lexicon``)
and task defaults (``sentiment``, ``emotion``) point at them. The registry imports no
analyzer: everything it can build is found by name, the way spaCy's registries work.

* **Models**: the ``affectkit.analyzers`` entry-point group adds named models; the entry point's
  name is the model name and its object a callable returning an analyzer.
* **Schemes**: ``affectkit.load("hf:<id>")`` and ``"ensemble:a+b"`` are loaders found in the
  ``affectkit.schemes`` entry-point group (affectkit declares its own ``hf`` and ``ensemble``
  there, in ``pyproject.toml``), or added with :meth:`Registry.register_scheme`.
* **Kinds of model directory**: every :class:`~affectkit.base.Analyzer` subclass with a ``kind``
  registers itself when its class is defined; :func:`analyzer_class` imports affectkit's analyzer
  packages (and the ``affectkit.kinds`` entry-point group) the first time a kind is not known yet.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from affectkit.base import Tags, analyzer_kinds, read_config
from affectkit.exceptions import ModelFormatError, UnknownModelError

logger = logging.getLogger(__name__)

__all__ = ["ModelSpec", "Registry", "registry", "load", "list_models", "load_dir", "analyzer_class", "save_component", "model_tags",
           "load_component", "inner_dir", "MAX_NESTED_MODELS"]

ENTRY_POINT_GROUP = "affectkit.analyzers"
SCHEME_ENTRY_POINT_GROUP = "affectkit.schemes"
KIND_ENTRY_POINT_GROUP = "affectkit.kinds"
#: Packages whose modules define affectkit's own analyzer kinds (imported on demand by analyzer_class).
ANALYZER_PACKAGES = ("affectkit.analyzers", "affectkit.audio")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    generation: str
    description: str
    factory: Callable[..., Any] = field(repr=False)
    aliases: tuple[str, ...] = ()
    #: Whether the model is multi-label (known without loading it).
    multi_label: bool = False


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._aliases: dict[str, str] = {}
        self._schemes: dict[str, Callable[..., Any]] = {}
        self._groups_read: set[str] = set()

    def _new_entry_points(self, group: str) -> list[metadata.EntryPoint]:
        """The entry points of ``group`` the first time it is asked for; then none (each group is read once)."""
        if group in self._groups_read:
            return []
        self._groups_read.add(group)
        return list(metadata.entry_points(group=group))

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
        for ep in self._new_entry_points(ENTRY_POINT_GROUP):
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

    # -- schemes ("hf:...", "ensemble:...") ------------------------------------------------
    def register_scheme(self, scheme: str, loader: Callable[..., Any]) -> None:
        """``affectkit.load(f"{scheme}:{spec}", **params)`` calls ``loader(spec, **params)``."""
        self._schemes[scheme] = loader

    def _load_scheme_entry_points(self) -> None:
        for ep in self._new_entry_points(SCHEME_ENTRY_POINT_GROUP):
            self._schemes.setdefault(ep.name, _lazy(ep, call=False))

    def schemes(self) -> list[str]:
        self._load_scheme_entry_points()
        return sorted(self._schemes)

    def scheme_loader(self, scheme: str) -> Callable[..., Any]:
        self._load_scheme_entry_points()
        loader = self._schemes.get(scheme)
        if loader is None:
            raise UnknownModelError(
                f"No loader for {scheme + ':'!r} names. Known schemes: {', '.join(self.schemes()) or 'none'}. "
                f"If affectkit is not installed (only on sys.path), install it: pip install -e ."
            )
        return loader

    def split_scheme(self, name: str) -> tuple[str, str] | None:
        """``("hf", "some/model")`` for ``"hf:some/model"`` when ``hf`` is a known scheme, else None."""
        scheme, sep, rest = name.partition(":")
        if not sep or not scheme.isidentifier():
            return None
        self._load_scheme_entry_points()
        return (scheme, rest) if scheme in self._schemes else None


def _lazy(ep: metadata.EntryPoint, call: bool = True) -> Callable[..., Any]:
    """The entry point's object, imported on first use: called with keyword arguments only
    (``call=True``, model factories) or with the loader's arguments as given (schemes)."""

    def factory(*args: Any, **kwargs: Any) -> Any:
        return ep.load()(**kwargs) if call else ep.load()(*args, **kwargs)

    return factory


# -- model directories ------------------------------------------------------------------------
def analyzer_class(kind: str, module: str | None = None) -> type:
    """The analyzer class whose ``kind`` is ``kind`` (the ``"analyzer"`` of a model directory's config).

    Classes register themselves when defined (:meth:`Analyzer.__init_subclass__`); the first
    time a kind is unknown, the ``module`` a model directory names (only inside affectkit's analyzer
    packages), else all of affectkit's analyzer packages and the ``affectkit.kinds`` entry points are
    imported, so the table is derived from the classes and never written by hand.
    """
    kinds = analyzer_kinds()
    if kind not in kinds and isinstance(module, str) and module.startswith(tuple(f"{p}." for p in ANALYZER_PACKAGES)):
        import importlib

        try:  # the module the directory names: one import instead of all of them
            importlib.import_module(module)
        except ImportError:
            pass
        kinds = analyzer_kinds()
    if kind not in kinds:
        discover_kinds()
        kinds = analyzer_kinds()
    if kind not in kinds:
        raise ModelFormatError(f"Unknown analyzer kind {kind!r}; this affectkit knows {sorted(kinds)}.")
    return kinds[kind]


@functools.cache
def discover_kinds() -> None:
    """Import every module of :data:`ANALYZER_PACKAGES` and the ``affectkit.kinds`` entry points (once)."""
    import importlib
    import pkgutil

    for package in ANALYZER_PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, f"{package}."):
            importlib.import_module(info.name)
    for ep in metadata.entry_points(group=KIND_ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must not stop affectkit's own kinds from loading
            logger.warning("entry point %r of %s failed to load: %s", ep.name, KIND_ENTRY_POINT_GROUP, exc)


#: How many model directories may hold one another (an ensemble of calibrated models of ...). Ours nest 2 or
#: 3 deep; the bound turns a directory that holds itself, or an endless chain, into a clear error.
MAX_NESTED_MODELS = 8
#: The model directories being loaded, outermost first (for the bound above and for cycles).
_LOADING: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("affectkit_loading", default=())


def load_dir(path: str | Path) -> Any:
    """Load an analyzer saved with ``save(path)``."""
    path = Path(path)
    where, chain = path.resolve(), _LOADING.get()
    if where in chain or len(chain) >= MAX_NESTED_MODELS:
        trail = " -> ".join(str(p) for p in (*chain, where))
        problem = "holds itself" if where in chain else f"nests model directories more than {MAX_NESTED_MODELS} deep"
        raise ModelFormatError(
            f"The model directory {chain[0]} {problem} ({trail}). A model keeps its parts in folders inside it, "
            f"a few levels deep: fix the 'path' or 'dir' entries of these config.json files, or save the model "
            f"again with analyzer.save(path)."
        )
    token = _LOADING.set((*chain, where))
    try:
        config = read_config(path)
        kind = config.get("analyzer")
        try:
            cls = analyzer_class(str(kind), config.get("module"))
        except ModelFormatError as exc:
            raise ModelFormatError(f"{path}/config.json names analyzer {kind!r}. {exc}") from None
        return cls._from_dir(path, config)
    finally:
        _LOADING.reset(token)


def inner_dir(path: Path, rel: Any, key: str) -> Path:
    """The folder ``rel`` inside the model directory ``path``, whose ``config.json`` names it at ``key``.

    ``rel`` must be a relative path that stays inside ``path``: not absolute, no ``..``, no symbolic link
    that leads out, and not ``path`` itself (a model that holds itself would load forever). Returns the
    resolved folder; anything else is a :class:`ModelFormatError` naming the file and the key.
    """
    path = Path(path)
    where = f"{path / 'config.json'} has {key} = {rel!r}"
    fix = "Save the model again with analyzer.save(path): it keeps its parts in folders inside the directory."
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel:
        raise ModelFormatError(f"{where}; expected the relative path of a folder inside {path}, "
                               f"e.g. 'members/0'. {fix}")
    if (PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive
            or ".." in PureWindowsPath(rel).parts):
        raise ModelFormatError(f"{where}: an absolute path, or one that climbs out with '..'. The parts of a model "
                               f"are folders inside its directory, named relative to it (e.g. 'members/0'). {fix}")
    root, target = path.resolve(), (path / rel).resolve()
    if target == root:
        raise ModelFormatError(f"{where}, which is the model directory itself; a model cannot hold itself. "
                               f"Name the folder inside {path} that holds the part (e.g. 'members/0'). {fix}")
    if root not in target.parents:
        raise ModelFormatError(f"{where}, which leads outside {path} (through a symbolic link, to {target}). "
                               f"Copy the part into the directory instead of linking to it. {fix}")
    if not target.is_dir():
        raise ModelFormatError(f"{where}, which is not a folder inside {path}. {fix}")
    return target


def model_tags(model: Any) -> Any:
    """The :class:`~affectkit.base.Tags` of a model name, directory or object, without loading a model
    (a registered name's spec, a directory's ``config.json``); ``None`` when only loading could tell."""
    if hasattr(model, "tags") and not isinstance(model, str | Path):
        return model.tags
    if isinstance(model, str) and model in registry.names(include_aliases=True):
        spec = registry.resolve(model)
        return Tags(task=spec.task, multi_label=spec.multi_label, generation=spec.generation)
    if isinstance(model, str | Path) and Path(model).is_dir():
        try:
            config = read_config(Path(model))
        except ModelFormatError:
            return None
        return Tags(task=str(config.get("task", "sentiment")), multi_label=bool(config.get("multi_label", False)))
    return None


def save_component(model: Any, path: Path, subdir: str) -> dict[str, str] | None:
    """How a model that holds another one (a calibration's base, a fusion's text branch) stores it:
    a registered name as ``{"name": ...}``; anything else saved in ``path/subdir`` as ``{"dir": subdir}``."""
    if model is None:
        return None
    if isinstance(model, str) and model in registry.names(include_aliases=True):
        return {"name": model}
    if isinstance(model, str | Path):
        model = load(model)
    model.save(Path(path) / subdir)
    return {"dir": subdir}


def load_component(spec: Any, path: Path, what: str) -> str | None:
    """The name or directory that :func:`save_component` stored (loaded later, by its holder).

    A name must be a registered one (a path stored as a name would load whatever lies there); a
    directory must be a folder inside ``path`` (:func:`inner_dir`)."""
    if spec is None:
        return None
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        if spec["name"] not in registry.names(include_aliases=True):
            raise ModelFormatError(
                f"{path}/config.json names its {what} {spec['name']!r}, which is not a registered model name "
                f"(affectkit.list_models() lists them). A saved model names registered models, or keeps its {what} "
                f"in a folder inside its directory ({{'dir': 'base'}}): save it again with analyzer.save(path)."
            )
        return spec["name"]
    if isinstance(spec, dict) and "dir" in spec:
        return str(inner_dir(Path(path), spec["dir"], f"the {what}'s 'dir'"))
    raise ModelFormatError(f"{path}/config.json does not say which model is its {what}: got {spec!r}.")


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
_TRANSFORMER = "affectkit.analyzers.transformer:TransformerAnalyzer"
_TRANSFORMER_PATH = str(shipped_model_path(TRANSFORMER_DIR))

registry = Registry()
for _spec in (
    ModelSpec("sentiment-lexicon-v1", "sentiment", "lexicon",
              "VADER lexicon and rules (vaderSentiment), compound mapped to 3 probabilities",
              _new("affectkit.analyzers.lexicon:VaderAnalyzer"), ("lexicon", "vader")),
    ModelSpec("sentiment-classic-v1", "sentiment", "classic",
              "TF-IDF word+char n-grams + hand features, logistic regression; SemEval-2017 train",
              _shipped("sentiment-classic-v1"), ("classic", "sentiment-classic")),
    ModelSpec("emotion-classic-v1", "emotion", "classic",
              "TF-IDF + one-vs-rest logistic regression, 28 GoEmotions labels, dev-tuned thresholds",
              _shipped("emotion-classic-v1"), ("emotion-classic",), multi_label=True),
    ModelSpec("emotion-lexicon-nrc-v1", "emotion", "lexicon",
              "opt-in: NRC EmoLex word counts, Plutchik's 8 emotions (research/non-commercial terms; "
              "needs affectkit[nrc] and accept_terms=True)",
              _new("affectkit.analyzers.nrc:NRCEmotionAnalyzer"), ("emotion-lexicon-nrc", "nrc"), multi_label=True),
    ModelSpec("sentiment-transformer-v1", "sentiment", "transformer",
              "all-MiniLM-L6-v2 fine-tuned on SemEval-2017 + GoEmotions (one encoder, two heads), ONNX",
              _new(_TRANSFORMER, path=_TRANSFORMER_PATH, head="sentiment"), ("transformer", "sentiment-transformer")),
    ModelSpec("emotion-transformer-v1", "emotion", "transformer",
              "the emotion head of affect-transformer-v1: 28 GoEmotions labels, dev-tuned thresholds, ONNX",
              _new(_TRANSFORMER, path=_TRANSFORMER_PATH, head="emotion"), ("emotion-transformer",), multi_label=True),
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
    scheme = registry.split_scheme(name_or_path) if isinstance(name_or_path, str) else None
    if scheme is not None:
        return registry.scheme_loader(scheme[0])(scheme[1], **params)
    if isinstance(name_or_path, str | Path) and str(name_or_path).endswith(".json") and Path(name_or_path).is_file():
        # a JSON model config lists an ensemble's members (the only kind of config file there is)
        return registry.scheme_loader("ensemble")(str(name_or_path), **params)
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

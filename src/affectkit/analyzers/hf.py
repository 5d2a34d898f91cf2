"""Any Hugging Face sequence-classification model as an analyzer (torch + transformers).

``affectkit.load("hf:cardiffnlp/twitter-roberta-base-sentiment-latest")`` (a Hub id, loaded
with ``from_pretrained`` and its cache) or ``affectkit.load("hf:/path/to/model")`` (a directory
written by ``save_pretrained``) gives an :class:`HFAnalyzer` with the usual contract.

Labels come from the model's ``config.id2label``, mapped to affectkit's names:

* ``NEG``/``NEU``/``POS`` and ``negative``/``neutral``/``positive`` in any case -> the sentiment
  labels; GoEmotions names stay as they are (lower-cased);
* ``LABEL_0``..``LABEL_2`` (a 3-class model that never named its labels) -> negative, neutral,
  positive, and ``LABEL_0``/``LABEL_1`` -> negative, positive: an assumption, logged as a warning;
  pass ``label_map`` when it is wrong;
* anything else keeps its name, or ``label_map={their_label: our_label}`` renames it.

The task is ``"sentiment"`` when every label is a sentiment label, ``"emotion"`` when every label is
a GoEmotions label, else ``"classification"``; columns of the first two follow affectkit's label
order. ``config.problem_type == "multi_label_classification"`` makes a multi-label analyzer
(sigmoid marginals and a ``threshold``); otherwise rows are a softmax and sum to 1.

Long texts are never truncated: as in :class:`~affectkit.analyzers.transformer.TransformerAnalyzer`
(the same splitting code), a text longer than ``max_length`` tokens is cut at sentence ends into
segments that fit, each is scored, and the document gets the token-weighted mean of the segments'
probabilities (single-label) or, per label, their largest marginal (multi-label).

``save(path)`` writes ``path/config.json`` (affectkit's) and ``path/hf/`` (``save_pretrained`` of
the model and tokenizer); :func:`affectkit.train.hf_export.export_hf` turns the model into an
ONNX model directory that runs without torch.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._cancel import checkpoint
from affectkit._files import read_json
from affectkit._validation import TextBatch
from affectkit.analyzers.transformer import pool_units, split_units
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError, UnknownModelError, require
from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS, canonical_order
from affectkit.params import Interval
from affectkit.registry import load_dir
from affectkit.results import Segment

logger = logging.getLogger(__name__)

__all__ = ["HFAnalyzer", "load_hf", "map_labels", "infer_task"]

#: Where ``HFAnalyzer.save`` puts the Hugging Face files inside a model directory.
HF_SUBDIR = "hf"
_FEATURE = "Hugging Face models (hf:...)"

_SENTIMENT_NAMES = {
    "neg": "negative", "negative": "negative",
    "neu": "neutral", "neutral": "neutral",
    "pos": "positive", "positive": "positive",
}  # fmt: skip
_GENERIC = re.compile(r"label_(\d+)")
# Models whose position ids start after the padding index (so max_position_embeddings - pad - 1 tokens fit).
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "bertweet"}


# -- labels -----------------------------------------------------------------------------------
def label_names(id2label: Mapping[Any, Any] | None, n: int) -> list[str]:
    """The model's ``n`` output names in order, from ``config.id2label`` (``LABEL_i`` where it has none)."""
    names = {int(k): str(v) for k, v in (id2label or {}).items()}
    return [names.get(i, f"LABEL_{i}") for i in range(n)]


def map_labels(names: Sequence[str], label_map: Mapping[str, str] | None = None, model: str = "the model",
               warn: bool = True) -> list[str]:
    """affectkit label names for a model's labels (in the model's order); see the module docs.
    ``warn=False``: no warning when generic names are taken for sentiment labels."""
    names = [str(n) for n in names]
    if label_map is not None:
        unknown = sorted(set(label_map) - set(names))
        if unknown:
            raise InvalidInputError(
                f"The 'label_map' parameter of HFAnalyzer names labels {unknown} that {model} does not have. "
                f"Its labels (config.id2label): {names}."
            )
        mapped = [str(label_map.get(n, n)) for n in names]
    else:
        mapped = _auto_labels(names, model, warn)
    if len(set(mapped)) != len(mapped):
        raise InvalidInputError(
            f"The labels of {model} map to duplicate names: {names} -> {mapped}. "
            f"Pass label_map={{their_label: our_label}} with one distinct name per label."
        )
    return mapped


def _auto_labels(names: list[str], model: str, warn: bool = True) -> list[str]:
    keys = [n.strip().lower() for n in names]
    generic = [_GENERIC.fullmatch(k) for k in keys]
    if all(generic) and sorted(int(m.group(1)) for m in generic) == list(range(len(names))) and len(names) in (2, 3):
        guess = SENTIMENT_LABELS if len(names) == 3 else ("negative", "positive")
        out = [guess[int(m.group(1))] for m in generic]
        (logger.warning if warn else logger.debug)(
            "%s names its labels %s; assuming they mean %s (the usual order of sentiment models). "
            "Pass label_map={...} if that is wrong.", model, names, out,
        )
        return out
    out = []
    for name, key in zip(names, keys, strict=True):
        if key in _SENTIMENT_NAMES:
            out.append(_SENTIMENT_NAMES[key])
        elif key in EMOTION_LABELS:
            out.append(key)
        else:
            out.append(name)
    return out


def infer_task(labels: Sequence[str]) -> str:
    """``"sentiment"``, ``"emotion"`` or ``"classification"`` from a model's (mapped) labels."""
    if set(labels) <= set(SENTIMENT_LABELS):
        return "sentiment"
    if set(labels) <= set(EMOTION_LABELS):
        return "emotion"
    return "classification"


# -- loading ----------------------------------------------------------------------------------
def _looks_local(source: str) -> bool:
    return source.startswith((".", "/", "~", "\\")) or source.count("/") > 1 or Path(source).expanduser().exists()


def _is_affectkit_dir(path: Path) -> bool:
    try:
        config = read_json(path / "config.json")
    except (OSError, ModelFormatError):
        return False
    return isinstance(config, dict) and config.get("format") == "affectkit-model"


def _from_pretrained(source: str, local_files_only: bool, device: str, **model_kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) of a Hub id or a local directory, with errors that say what to do."""
    require("torch", "train", _FEATURE)
    transformers = require("transformers", "train", _FEATURE)
    local = _looks_local(source)
    where = str(Path(source).expanduser()) if local else source
    if local and not Path(where).is_dir():
        raise UnknownModelError(
            f"No Hugging Face model directory at {source!r} (it does not exist). Give a directory written by "
            f"save_pretrained (config.json, weights, tokenizer files) or a Hub id such as "
            f"'hf:cardiffnlp/twitter-roberta-base-sentiment-latest'."
        )
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, local_files_only=local_files_only)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            where, local_files_only=local_files_only, **model_kwargs
        )
    except OSError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if local:
            raise ModelFormatError(
                f"{where} is not a complete Hugging Face model directory ({detail}). It needs config.json, the "
                f"weights and the tokenizer files, as written by model.save_pretrained and tokenizer.save_pretrained."
            ) from exc
        offline = " (local_files_only=True)" if local_files_only else ""
        raise UnknownModelError(
            f"Could not load the Hugging Face model {source!r}: the Hugging Face Hub is unreachable or has no such "
            f"model, and it is not in the local cache{offline}. Download it where there is internet "
            f"(`hf download {source}`, or save_pretrained to a directory) and load the local copy: "
            f"affectkit.load('hf:/path/to/model'). Details: {detail}"
        ) from exc
    except ValueError as exc:  # e.g. config.json without model_type, or no sequence-classification class
        raise ModelFormatError(
            f"{source} cannot be loaded as a Hugging Face sequence-classification model: {exc}"
        ) from exc
    model.eval()
    return model.to(device), tokenizer


@dataclass
class _Loaded:
    """A loaded model with what the analyzer derives from it."""

    model: Any
    tokenizer: Any
    labels: tuple[str, ...]
    order: np.ndarray  # model column of each of our columns
    task: str
    multi_label: bool
    max_length: int
    pad_id: int
    device: str

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids with special tokens, never truncated."""
        if not texts:
            return []
        # verbose=False: no "longer than the maximum" warning, long texts are split before the model sees them
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]]


def _model_max_length(model: Any, tokenizer: Any) -> int:
    """The most tokens the model takes: the tokenizer's limit capped by the position embeddings."""
    limit = int(tokenizer.model_max_length) if 0 < (tokenizer.model_max_length or 0) < 100_000 else 512
    config = model.config
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        offset = (getattr(config, "pad_token_id", None) or 0) + 1 if config.model_type in _OFFSET_POSITIONS else 0
        limit = min(limit, int(positions) - offset)
    return limit


class HFAnalyzer(Analyzer):
    """A Hugging Face sequence-classification model, run by torch.

    Parameters
    ----------
    model:
        A Hub id (``"cardiffnlp/twitter-roberta-base-sentiment-latest"``) or a local directory
        written by ``save_pretrained``.
    label_map:
        ``{their label: our label}`` for the names in ``config.id2label``; ``None`` maps common
        spellings (see the module docs). Labels it does not name keep their names.
    task:
        ``"sentiment"``, ``"emotion"``, or any name; ``None`` infers it from the labels.
    threshold:
        Multi-label models: threshold(s) on the marginals (default 0.5).
    batch_size:
        Segments per forward pass, after sorting by token length.
    max_length:
        Tokens per segment (special tokens included); ``None``: the model's limit. Longer texts
        are split at sentence ends, never truncated.
    device:
        torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).
    local_files_only:
        Never contact the Hub: load from a directory or the local cache only.
    """

    kind = "hf"

    #: ``model=None`` (the default) or a blank name is refused first, with an example of a model to load.
    _parameter_constraints = {
        "model": [str, Path, None],
        "label_map": [Mapping, None],
        "task": [str, None],
        "batch_size": [Interval(int, 1, None)],
        "max_length": [Interval(int, 4, None), None],
        "device": [str],
        "local_files_only": ["boolean"],
    }

    def __init__(self, model: str | None = None, label_map: Mapping[str, str] | None = None, task: str | None = None,
                 threshold: object = None, batch_size: int = 16, max_length: int | None = None, device: str = "cpu",
                 local_files_only: bool = False):
        self.model = model
        self.label_map = label_map
        self.task = task
        self.threshold = threshold
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.local_files_only = local_files_only

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_weights_cached", None)  # reloaded from ``model`` where the analyzer lands
        state.pop("_hf_cached", None)
        return state

    # -- state -------------------------------------------------------------------------------
    def _validate_params(self) -> None:
        name = type(self).__name__
        if not isinstance(self.model, str | Path) or not str(self.model).strip():
            raise InvalidInputError(
                f"{name} needs 'model', a Hugging Face Hub id or a local model directory. "
                f"Got {self.model!r}. Example: affectkit.load('hf:cardiffnlp/twitter-roberta-base-sentiment-latest')."
            )
        super()._validate_params()
        if self.label_map is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.label_map.items()
        ):
            raise InvalidInputError(
                f"The 'label_map' parameter of {name} must be None or a {{their label: our label}} mapping of "
                f"strings. Got {self.label_map!r:.80}."
            )
        if self.task is not None and not self.task:
            raise InvalidInputError(f"The 'task' parameter of {name} must be None (inferred) or a name. Got {self.task!r}.")
        if not self.device:
            raise InvalidInputError(f"The 'device' parameter of {name} must be a torch device name such as 'cpu'. Got {self.device!r}.")

    def _weights(self) -> tuple[Any, Any]:
        key = (str(self.model), self.device, bool(self.local_files_only))
        cached = self.__dict__.get("_weights_cached")
        if cached is None or cached[0] != key:
            cached = (key, _from_pretrained(str(self.model), bool(self.local_files_only), self.device))
            self.__dict__["_weights_cached"] = cached
        return cached[1]

    def _hf(self) -> _Loaded:
        self._validate_params()
        key = (str(self.model), self.device, bool(self.local_files_only), json.dumps(self.label_map, sort_keys=True),
               self.task, self.max_length)
        cached = self.__dict__.get("_hf_cached")
        if cached is not None and cached[0] == key:
            return cached[1]
        model, tokenizer = self._weights()
        config = model.config
        names = label_names(config.id2label, int(config.num_labels))
        mapped = map_labels(names, self.label_map, model=repr(str(self.model)))
        order = [mapped.index(lab) for lab in canonical_order(mapped)]  # our columns in affectkit order
        limit = _model_max_length(model, tokenizer)
        if self.max_length is not None and self.max_length > limit:
            raise InvalidInputError(
                f"The 'max_length' parameter of HFAnalyzer must be at most {limit} for {self.model!r} "
                f"(its position embeddings). Got {self.max_length}."
            )
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else getattr(config, "pad_token_id", None)
        loaded = _Loaded(
            model=model, tokenizer=tokenizer, labels=tuple(mapped[i] for i in order),
            order=np.asarray(order, dtype=np.int64), task=self.task or infer_task(mapped),
            multi_label=getattr(config, "problem_type", None) == "multi_label_classification",
            max_length=int(self.max_length or limit), pad_id=int(pad or 0), device=self.device,
        )
        self.__dict__["_hf_cached"] = (key, loaded)
        return loaded

    @property
    def labels_(self) -> tuple[str, ...]:  # type: ignore[override]
        return self._hf().labels

    @property
    def tags(self) -> Tags:
        """Task and label kind; reading them loads no weights (a local model's config.json tells them)."""
        cached = self.__dict__.get("_hf_cached")
        config_path = Path(str(self.model)).expanduser() / "config.json"
        if cached is None and config_path.is_file():
            config = read_json(config_path)
            id2label = config.get("id2label") or {}
            names = label_names(id2label, len(id2label) or int(config.get("num_labels", 2)))
            mapped = map_labels(names, self.label_map, model=repr(str(self.model)), warn=False)
            return Tags(task=self.task or infer_task(mapped), trainable=False, generation="transformer",
                        multi_label=config.get("problem_type") == "multi_label_classification")
        hf = self._hf()
        return Tags(task=hf.task, multi_label=hf.multi_label, trainable=False, generation="transformer")

    # -- inference ---------------------------------------------------------------------------
    def _logits(self, hf: _Loaded, seqs: list[list[int]]) -> np.ndarray:
        """Logits (our column order) of token sequences, each at most ``max_length`` long."""
        torch = require("torch", "train", _FEATURE)
        out = np.zeros((len(seqs), len(hf.labels)), dtype=np.float32)
        order = np.argsort([len(s) for s in seqs], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(seqs), self.batch_size):
                checkpoint()
                rows = order[start : start + self.batch_size]
                width = max(len(seqs[i]) for i in rows)
                ids = torch.full((len(rows), width), hf.pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for k, i in enumerate(rows):
                    ids[k, : len(seqs[i])] = torch.as_tensor(seqs[i], dtype=torch.long)
                    mask[k, : len(seqs[i])] = 1
                logits = hf.model(input_ids=ids.to(hf.device), attention_mask=mask.to(hf.device)).logits
                out[rows] = logits.float().cpu().numpy()[:, hf.order]
        return out

    def _score(self, texts: list[str]) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        hf = self._hf()
        units, counts, spans_of = split_units(hf, texts)  # the ONNX runner's splitting of long texts
        z = self._logits(hf, units) if units else np.zeros((0, len(hf.labels)))
        return pool_units(z, units, counts, spans_of, hf.labels, hf.multi_label)

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        return self._score(texts)[0]

    def _predict_detailed(self, batch: TextBatch) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        if len(batch) == 0:
            return np.zeros((0, len(self.labels_))), []
        return self._score(batch.texts)

    # -- persistence -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        config = super()._config()
        for name in ("model", "device", "local_files_only"):  # where it came from and runs: not saved params
            config["params"].pop(name, None)
        config["source_model"] = str(self.model)
        config["max_length"] = self._hf().max_length
        return config

    def _save_arrays(self, path: Path, config: dict[str, Any]) -> None:
        model, tokenizer = self._weights()
        target = path / HF_SUBDIR
        model.save_pretrained(str(target))
        tokenizer.save_pretrained(str(target))

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> HFAnalyzer:
        if not (path / HF_SUBDIR / "config.json").is_file():
            raise ModelFormatError(
                f"{path} is an affectkit 'hf' model directory without its {HF_SUBDIR}/ folder "
                f"(the save_pretrained files). Save the model again with analyzer.save(path)."
            )
        names = ("label_map", "task", "threshold", "batch_size", "max_length")
        params = {k: v for k, v in config.get("params", {}).items() if k in names}
        return cls(model=str(path / HF_SUBDIR), local_files_only=True, **params)


def load_hf(source: str | Path, **params: Any) -> Analyzer:
    """``affectkit.load("hf:" + source)``: a Hub id, a ``save_pretrained`` directory, or a directory
    saved by :meth:`HFAnalyzer.save`. The model is loaded now, so a bad name fails here."""
    source = str(source).strip()
    if not source:
        raise InvalidInputError(
            "'hf:' needs a Hugging Face model id or a local directory after it, e.g. "
            "affectkit.load('hf:cardiffnlp/twitter-roberta-base-sentiment-latest') or affectkit.load('hf:./my-model')."
        )
    path = Path(source).expanduser()
    if path.is_dir() and _is_affectkit_dir(path):
        model = load_dir(path)
        return model.set_params(**params) if params else model
    analyzer = HFAnalyzer(model=source).set_params(**params)
    analyzer._hf()
    return analyzer

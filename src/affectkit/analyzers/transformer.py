"""Transformer generation: a fine-tuned encoder with a sentiment and an emotion head, in ONNX.

Inference needs onnxruntime and tokenizers only (no torch). One encoder pass gives both
heads (:meth:`TransformerAnalyzer.predict_all`); an analyzer object serves one ``head``
(``"sentiment"`` or ``"emotion"``) with the usual contract, and analyzers of the same model
directory share one onnxruntime session.

Speed: texts are sorted by token length and padded per batch (``batch_size``), so a batch
of short tweets costs what its longest tweet costs. ``threads`` sets onnxruntime's intra-op
threads (default: all cores the process may use).

Long texts are never truncated: a text longer than ``max_length`` tokens is cut into
segments at sentence ends (a sentence that is itself too long is cut between words), each
segment is scored, and the document's scores are
* sentiment: the mean of the segments' probabilities weighted by their token counts;
* emotion: per label, the largest marginal over segments (a document expresses an emotion
  if one of its parts does).
The per-segment scores and character spans are kept in ``Result.segments``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._cancel import checkpoint
from affectkit._files import read_json
from affectkit._runtime import available_cores, onnx_embedding_rows, onnx_session, sigmoid, softmax
from affectkit._validation import TextBatch, as_text_batch
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError, require
from affectkit.params import Interval
from affectkit.results import Result, Segment
from affectkit.text.normalize import normalize_for_transformer
from affectkit.text.segment import sentence_spans

__all__ = ["TransformerAnalyzer", "split_units", "pool_units", "backbone", "check_vocab"]

MODEL_FILE = "model.onnx"


class _Backbone:
    """The ONNX session and tokenizer of one model directory (shared by its analyzers)."""

    def __init__(self, path: Path, threads: int, spin: bool = True):
        tokenizers = require("tokenizers", "serve", "The transformer models")
        self.path = path
        self.config = read_json(path / "config.json")
        self.session = onnx_session(path / MODEL_FILE, threads, spin=spin, optimize=True,
                                    feature="The transformer models")
        # head outputs are [batch, labels]; a [batch, seq, hidden] output exposes shared layer states
        # (read by a branch model such as the aspect model, see affectkit.aspects.model)
        self.outputs = [o.name for o in self.session.get_outputs() if len(o.shape) == 2]
        self.state_outputs = [o.name for o in self.session.get_outputs() if len(o.shape) == 3]
        tok = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
        check_vocab(path, tok)
        tok.no_padding()
        tok.no_truncation()
        self.tokenizer = tok
        self.max_length = int(self.config.get("max_length", 128))
        # our tweet normalisation (URLs, @mentions, emoji names); models exported from other
        # Hugging Face models set "normalize": false and see the text as their tokenizer does
        self.normalize = bool(self.config.get("normalize", True))

    def encode(self, texts: list[str]) -> list[list[int]]:
        if self.normalize:
            texts = [normalize_for_transformer(t) for t in texts]
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def segments(self, text: str) -> list[tuple[int, int]]:
        """Character spans covering ``text``, each at most ``max_length`` tokens (see :meth:`TransformerAnalyzer._segments`)."""
        return TransformerAnalyzer._segments(self, text)

    def run(self, seqs: list[list[int]], batch_size: int, states: str | None = None) -> Any:
        """Logits of every head output for token sequences (each at most max_length long).

        With ``states`` (the name of a states output), returns ``(logits, per-sequence states)``:
        the states of sequence ``i`` are a ``[len(seqs[i]), hidden]`` array, from the same pass."""
        n = len(seqs)
        shapes = {o.name: o.shape[-1] for o in self.session.get_outputs() if o.name in self.outputs}
        out = {name: np.zeros((n, int(width)), dtype=np.float32) for name, width in shapes.items()}
        names = self.outputs + ([states] if states else [])
        kept: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * n
        order = np.argsort([len(s) for s in seqs], kind="stable")
        for start in range(0, n, batch_size):
            checkpoint()  # a cancelled request stops here (affectkit._cancel)
            rows = order[start : start + batch_size]
            width = max(len(seqs[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, i in enumerate(rows):
                ids[k, : len(seqs[i])] = seqs[i]
                mask[k, : len(seqs[i])] = 1
            results = self.session.run(names, {"input_ids": ids, "attention_mask": mask})
            for name, value in zip(self.outputs, results, strict=False):
                out[name][rows] = value
            if states:
                for k, i in enumerate(rows):
                    kept[i] = results[-1][k, : len(seqs[i])]
        return (out, kept) if states else out


def check_vocab(path: Path, tokenizer: Any) -> None:
    """Refuse a ``tokenizer.json`` that does not belong to the weights of ``path/model.onnx``.

    Its largest token id must index a row of the embedding table (else the model reads past it), and it
    must cover at least half the table: a model's table can have a few spare rows (some are padded to a
    round size) but never twice its vocabulary, so a smaller tokenizer is another model's. Nothing is
    checked when the graph does not show its table (:func:`~affectkit._runtime.onnx_embedding_rows`).
    """
    rows = onnx_embedding_rows(path / MODEL_FILE)
    if rows is None:
        return
    size = max(tokenizer.get_vocab(with_added_tokens=True).values(), default=-1) + 1
    if size > rows or 2 * size < rows:
        raise ModelFormatError(
            f"{path / 'tokenizer.json'} gives token ids 0 to {size - 1}, but the embedding table of "
            f"{path / MODEL_FILE} has {rows} rows: the tokenizer does not belong to these weights. Put the "
            f"tokenizer.json the model was trained with beside model.onnx (copy the whole model directory)."
        )


@lru_cache(maxsize=8)
def _heads(path: str) -> dict[str, Any]:
    """The ``heads`` of a model directory's config.json."""
    return read_json(Path(path) / "config.json").get("heads", {})


@lru_cache(maxsize=8)
def backbone(path: str, threads: int, spin: bool = True) -> _Backbone:
    """The shared session and tokenizer of the model directory ``path`` (one per path and settings)."""
    return _Backbone(Path(path), threads, spin)


class TransformerAnalyzer(Analyzer):
    """A fine-tuned transformer served by onnxruntime; ``head`` picks the task.

    Parameters
    ----------
    path:
        The model directory (``config.json``, ``model.onnx``, ``tokenizer.json``).
    head:
        ``"sentiment"`` or ``"emotion"`` (the heads listed in the directory's config).
    threshold:
        Multi-label threshold(s); ``None`` uses the per-label thresholds tuned on dev.
    batch_size:
        Texts per onnxruntime call, after sorting by length. Small batches of similar length
        waste little on padding: 16 was fastest on 2 cores for tweets (about 520 tweets/s on
        large calls, 445/s on calls of 64 texts; 480/s and 280/s with 64).
    threads:
        onnxruntime intra-op threads; ``None`` uses every core available to the process.
    spin:
        Let onnxruntime's idle threads busy-wait for the next call (its default). Fastest for a
        process that only computes (about 15% more texts/s on calls of one text); ``False``
        suits a server, where spinning threads take the cores its other threads need.
    """

    kind = "transformer"

    #: ``path=None`` (the default) is refused in ``_bb`` with a message that says how to load a model.
    _parameter_constraints = {
        "path": [str, Path, None],
        "head": [str],
        "batch_size": [Interval(int, 1, None)],
        "threads": [Interval(int, 1, None), None],
        "spin": ["boolean"],
    }

    def __init__(self, path: str | None = None, head: str = "sentiment", threshold: object = None,
                 batch_size: int = 16, threads: int | None = None, spin: bool = True):
        self.path = path
        self.head = head
        self.threshold = threshold
        self.batch_size = batch_size
        self.threads = threads
        self.spin = spin

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_bb_cached", None)  # an onnxruntime session: rebuilt where the analyzer lands
        return state

    # -- state -------------------------------------------------------------------------------
    def _bb(self) -> _Backbone:
        key = (self.path, self.head, self.batch_size, self.threads, self.spin)
        cached = self.__dict__.get("_bb_cached")
        if cached is not None and cached[0] == key:
            return cached[1]
        if self.path is None:
            raise InvalidInputError(
                "TransformerAnalyzer needs 'path', a model directory. Use affectkit.load('sentiment') "
                "or affectkit.load('/path/to/model')."
            )
        self._validate_params()
        if not (Path(self.path) / "config.json").is_file():
            raise ModelFormatError(
                f"The transformer model directory {self.path} is missing or incomplete. Reinstall affectkit, "
                f"or point 'path' at a directory written by scripts/train_transformer_defaults.py."
            )
        bb = backbone(str(Path(self.path).resolve()), self.threads or available_cores(), bool(self.spin))
        heads = bb.config.get("heads", {})
        if self.head not in heads:
            raise InvalidInputError(
                f"The 'head' parameter of TransformerAnalyzer must be one of {sorted(heads)}. Got {self.head!r}."
            )
        self.__dict__["_bb_cached"] = (key, bb)
        return bb

    @property
    def _head(self) -> dict[str, Any]:
        """The head's entry in the model directory's config (read from config.json: no session is built)."""
        cached = self.__dict__.get("_bb_cached")
        if cached is not None and cached[0][:2] == (self.path, self.head):
            return cached[1].config["heads"][self.head]
        if not isinstance(self.path, str | Path) or not (Path(self.path) / "config.json").is_file():
            return self._bb().config["heads"][self.head]  # raises the error that says what is wrong
        heads = _heads(str(Path(self.path).resolve()))
        if self.head not in heads:
            raise InvalidInputError(
                f"The 'head' parameter of TransformerAnalyzer must be one of {sorted(heads)}. Got {self.head!r}."
            )
        return heads[self.head]

    @property
    def labels_(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self._head["labels"])

    @property
    def thresholds_(self) -> np.ndarray:
        return np.asarray(self._head.get("thresholds") or [0.5] * len(self.labels_), dtype=np.float64)

    @property
    def tags(self) -> Tags:
        multi = bool(self._head["multi_label"]) if self.path is not None else False
        return Tags(task=self.head, multi_label=multi, trainable=False, generation="transformer",
                    threads=True, spin=True)

    # -- inference ---------------------------------------------------------------------------
    @staticmethod
    def _segments(bb: _Backbone, text: str) -> list[tuple[int, int]]:
        """Character spans covering ``text``, each at most ``max_length`` tokens (``bb``: any object
        with ``max_length`` and ``encode(texts) -> token ids``, special tokens included)."""
        limit = bb.max_length - 2
        pieces: list[tuple[int, int, int]] = []  # start, end, tokens
        todo = sentence_spans(text)
        while todo:
            counts = [len(ids) - 2 for ids in bb.encode([text[s:e] for s, e in todo])]
            nxt: list[tuple[int, int]] = []
            for (s, e), n in zip(todo, counts, strict=True):
                if n <= limit or e - s <= 1:
                    pieces.append((s, e, n))
                    continue
                mid = s + (e - s) * limit // (2 * n) * 2 if n > 2 * limit else (s + e) // 2
                cut = text.rfind(" ", s, max(mid, s + 1) + 1)
                cut = cut if cut > s else max(mid, s + 1)
                nxt += [(s, cut), (cut, e)]
            todo = nxt
        pieces.sort()
        spans: list[tuple[int, int]] = []
        cur_start, cur_end, cur_n = None, None, 0
        for s, e, n in pieces:
            if cur_start is not None and cur_n + n <= limit:
                cur_end, cur_n = e, cur_n + n
            else:
                if cur_start is not None:
                    spans.append((cur_start, cur_end))
                cur_start, cur_end, cur_n = s, e, n
        if cur_start is not None:
            spans.append((cur_start, cur_end))
        return spans or [(0, len(text))]

    def predict_all(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Scores of every head from one encoder pass: ``{"sentiment": (n, 3), "emotion": (n, 28)}``."""
        batch = as_text_batch(texts, method="TransformerAnalyzer.predict_all")
        scores, _ = self._score(batch.texts)
        return scores

    def _score(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[tuple[Segment, ...]]]:
        scores, segments = self._score_heads(texts)
        return scores, segments[self.head]

    def _score_heads(self, texts: list[str]) -> tuple[dict[str, np.ndarray], dict[str, list[tuple[Segment, ...]]]]:
        """Scores and long-text segments of every head, from one encoder pass."""
        bb = self._bb()
        units, counts, spans_of = split_units(bb, texts)
        logits = bb.run(units, self.batch_size) if units else {}
        out: dict[str, np.ndarray] = {}
        segments: dict[str, list[tuple[Segment, ...]]] = {}
        for name, head in bb.config["heads"].items():
            z = logits.get(head["output"], np.zeros((0, len(head["labels"]))))
            out[name], segments[name] = pool_units(
                z, units, counts, spans_of, head["labels"], bool(head["multi_label"]))
        return out, segments

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        scores, _ = self._score(texts)
        return scores[self.head]

    def _predict_detailed(self, batch: TextBatch) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
        if len(batch) == 0:
            return np.zeros((0, len(self.labels_))), []
        scores, segments = self._score(batch.texts)
        return scores[self.head], segments

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Copy the model directory to ``path``, with this analyzer's parameters as defaults."""
        import shutil

        bb = self._bb()
        path = Path(path)
        if path.resolve() != bb.path.resolve():
            path.mkdir(parents=True, exist_ok=True)
            for name in (MODEL_FILE, "tokenizer.json", "README.md"):
                if (bb.path / name).is_file():
                    shutil.copyfile(bb.path / name, path / name)
        config = dict(bb.config)
        head = config["heads"][self.head]
        config.update(task=self.head, labels=list(head["labels"]), multi_label=bool(head["multi_label"]))
        params = self.get_params()
        params.pop("path")
        config["params"] = params
        (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> TransformerAnalyzer:
        if not (path / MODEL_FILE).is_file() or not (path / "tokenizer.json").is_file():
            raise ModelFormatError(f"{path} is missing {MODEL_FILE} or tokenizer.json.")
        tokenizers = require("tokenizers", "serve", "The transformer models")
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - the tokenizers library raises a bare Exception
            raise ModelFormatError(f"Cannot read {path / 'tokenizer.json'}: {exc}. Copy the model directory "
                                   f"whole, or export the model again.") from exc
        check_vocab(path, tokenizer)  # a tokenizer of other weights fails here, not at the first text
        params = {k: v for k, v in config.get("params", {}).items() if k in ("head", "threshold", "batch_size", "threads")}
        return cls(path=str(path), **params)


def split_units(encoder: Any, texts: list[str]) -> tuple[list[list[int]], np.ndarray, dict[int, list[tuple[int, int]]]]:
    """Token sequences to score for ``texts``, none longer than ``encoder.max_length``.

    A text that fits is one unit; a longer one is cut at sentence ends (:meth:`TransformerAnalyzer._segments`)
    into several, contiguous and in order. ``encoder`` has ``encode(texts)`` and ``max_length``.
    Returns the units, the number of units of each text and each long text's character spans.
    """
    units: list[list[int]] = []
    counts = np.ones(len(texts), dtype=np.int64)
    spans_of: dict[int, list[tuple[int, int]]] = {}
    limit = encoder.max_length
    for i, ids in enumerate(encoder.encode(texts) if texts else []):
        if len(ids) <= limit:
            units.append(ids)
            continue
        spans_of[i] = TransformerAnalyzer._segments(encoder, texts[i])
        counts[i] = len(spans_of[i])
        for piece in encoder.encode([texts[i][s:e] for s, e in spans_of[i]]):
            units.append(piece[: limit - 1] + piece[-1:] if len(piece) > limit else piece)
    return units, counts, spans_of


def pool_units(logits: np.ndarray, units: list[list[int]], counts: np.ndarray,
               spans_of: dict[int, list[tuple[int, int]]], labels: Sequence[str],
               multi_label: bool) -> tuple[np.ndarray, list[tuple[Segment, ...]]]:
    """Texts' scores from their units' logits (:func:`split_units`), and the long texts' segments.

    Multi-label: per label, the largest marginal over a text's segments (a document shows an
    emotion if one of its parts does). Single-label: the segments' probabilities averaged with
    their token counts as weights; a text scored whole keeps its own scores.
    """
    n = len(counts)
    if n == 0:
        return np.zeros((0, len(labels))), []
    p = (sigmoid(logits) if multi_label else softmax(logits)).astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    if multi_label:
        proba = np.maximum.reduceat(p, starts, axis=0)
    else:
        lengths = np.asarray([len(u) for u in units], dtype=np.float64)[:, None]
        # a tokenizer without special tokens gives an empty text no tokens: guard the 0/0 (np.where keeps p then)
        mean = np.add.reduceat(p * lengths, starts, axis=0) / np.maximum(np.add.reduceat(lengths, starts, axis=0), 1e-12)
        proba = np.where(counts[:, None] == 1, p[starts], mean)
    segments: list[tuple[Segment, ...]] = [() for _ in range(n)]
    for i, spans in spans_of.items():
        rows = p[starts[i] : starts[i] + counts[i]]
        segments[i] = tuple(
            Segment(start=s, end=e, scores={lab: float(v) for lab, v in zip(labels, row, strict=True)})
            for (s, e), row in zip(spans, rows, strict=True)
        )
    return proba, segments


def analyze_heads(analyzers: list[TransformerAnalyzer], texts: list[Any]) -> list[list[Result]]:
    """``[a.analyze(texts) for a in analyzers]`` from one encoder pass, for heads of one model.

    Every analyzer must be a head of the same model directory with the same threads; each builds
    its own results (its thresholds, its labels) from the shared scores.
    """
    if not analyzers:
        return []
    first = analyzers[0]
    for a in analyzers:
        if not isinstance(a, TransformerAnalyzer) or a._bb() is not first._bb():
            raise InvalidInputError("analyze_heads needs heads of one transformer model (the same directory).")
    batch = as_text_batch(texts, method="analyze_heads")
    if len(batch) == 0:
        return [[] for _ in analyzers]
    scores, segments = first._score_heads(batch.texts)
    return [a._results_from(batch, scores[a.head], segments[a.head], None) for a in analyzers]

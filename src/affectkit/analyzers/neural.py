"""The neural generation: word-level text classifiers trained from scratch (BiLSTM, TextCNN).

Words come from :func:`affectkit.text.tokenize.tokenize` (lower-cased, no negation
suffixes); a vocabulary is built at fit time (ids 0 = padding, 1 = unknown). Two networks:

* :class:`BiLSTMAnalyzer`: embedding -> one bidirectional LSTM layer -> masked mean + max
  pooling -> dropout -> linear.
* :class:`TextCNNAnalyzer` (Kim, 2014): embedding -> parallel 1-D convolutions of several
  widths -> ReLU -> max over time (padding masked) -> dropout -> linear.

Both share fitting, inference and persistence (:class:`_NeuralAnalyzer`); a subclass only
builds its torch network. Networks are trained with torch (the ``[train]`` extra), then
exported to ONNX; prediction runs in onnxruntime only, so loading a saved model and
predicting never imports torch.

Texts longer than ``max_len`` tokens are never truncated: they are split into chunks of
``max_len`` tokens, each chunk is scored, and the chunk scores are averaged (single-label)
or max-pooled (multi-label). Texts of one batch are grouped by token count and run without
padding, so a text's scores do not depend on the other texts of its batch.

A model directory holds ``config.json``, ``vocab.json`` and ``model.onnx``.
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from affectkit._cancel import checkpoint
from affectkit._files import read_json
from affectkit._runtime import onnx_embedding_rows, onnx_session, sigmoid, softmax
from affectkit._validation import as_text_batch
from affectkit.base import Analyzer, Tags
from affectkit.exceptions import InvalidInputError, ModelFormatError, require
from affectkit.metrics import best_f1_thresholds
from affectkit.params import Interval, Options
from affectkit.targets import encode_targets

logger = logging.getLogger(__name__)

__all__ = ["BiLSTMAnalyzer", "TextCNNAnalyzer"]

PAD, UNK = 0, 1
MODEL_FILE = "model.onnx"
VOCAB_FILE = "vocab.json"


def _tokens(text: str) -> list[str]:
    from affectkit.text.tokenize import tokenize

    return tokenize(text, negation=False)[0]


class _NeuralAnalyzer(Analyzer):
    """What the neural analyzers share: vocabulary, chunking, the training loop with early
    stopping, ONNX export and onnxruntime inference, save/load.

    A subclass defines ``kind``, ``__init__`` (its parameters, stored as given), ``title``,
    ``_parameter_constraints`` (the shared ones and its own) and ``_network`` (the torch
    module to train).
    """

    title: ClassVar[str] = "neural"
    _parameter_constraints: ClassVar[dict[str, list[object]]] = {
        "max_len": [Interval(int, 1, None)],
        "embed_dim": [Interval(int, 1, None)],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "min_count": [Interval(int, 1, None)],
        "max_vocab": [Interval(int, 3, None)],
        "lr": [Interval(float, 0, None, closed="neither")],
        "batch_size": [Interval(int, 1, None)],
        "max_epochs": [Interval(int, 1, None)],
        "patience": [Interval(int, 0, None)],
        "class_weight": [Options(("balanced",)), None],
    }

    # shared parameters, set by the subclasses' __init__
    task: str
    multi_label: bool | None
    max_len: int
    embed_dim: int
    dropout: float
    min_count: int
    max_vocab: int
    lr: float
    batch_size: int
    max_epochs: int
    patience: int
    class_weight: str | None
    threshold: object
    threads: int
    random_state: int

    @property
    def tags(self) -> Tags:
        multi = bool(self.multi_label_ if hasattr(self, "multi_label_") else self.multi_label)
        return Tags(task=self.task, multi_label=multi, trainable=True, generation="neural", threads=True)

    def _store(self, params: dict[str, Any]) -> None:
        """Store the constructor's arguments (``locals()`` of ``__init__``) as attributes, unchanged."""
        for name in self._param_names():
            setattr(self, name, params[name])

    def _network(self, torch: Any, vocab_size: int, n_out: int) -> Any:  # pragma: no cover - abstract
        """The torch module: ``forward(ids, lengths=None) -> logits``; padding ids (0) must not matter."""
        raise NotImplementedError

    @classmethod
    def _params_from_config(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments from the JSON ``params`` of ``config.json`` (lists back to tuples, say)."""
        return params

    # -- tokens ------------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        vocab = self.vocab_
        return [vocab.get(t, UNK) for t in _tokens(text)]

    def _chunks(self, ids: list[int]) -> list[list[int]]:
        """Chunks of at most ``max_len`` ids; an empty text is one padding id (pooled to zeros)."""
        if not ids:
            return [[PAD]]
        m = int(self.max_len)
        return [ids[i:i + m] for i in range(0, len(ids), m)]

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        y: object,
        val_texts: Sequence[str] | None = None,
        val_y: object = None,
        labels: Sequence[str] | None = None,
    ) -> Self:
        """Train on ``texts`` and labels ``y`` (like :class:`ClassicAnalyzer`), then export to ONNX.

        With validation data, training stops early when the validation loss has not improved
        for ``patience`` epochs (the best epoch is kept), and multi-label thresholds are tuned
        for F1 per label.
        """
        from affectkit.train.loop import EarlyStopping, class_weights, fit_loop, format_record

        torch = require("torch", "train", f"Training a {self.title}")
        self._validate_params()
        name = type(self).__name__
        batch = as_text_batch(texts, method=f"{name}.fit")
        if len(batch) == 0:
            raise InvalidInputError(f"{name}.fit needs at least one text. Got an empty list.")
        target, names, multi = encode_targets(y, len(batch), labels, self.multi_label, owner=f"{name}.fit")
        has_val = val_texts is not None and len(val_texts) > 0
        if has_val:
            vbatch = as_text_batch(val_texts, method=f"{name}.fit")
            vtarget, _, _ = encode_targets(val_y, len(vbatch), names, multi, owner=f"{name}.fit")

        tokenized = [_tokens(t) for t in batch.texts]
        counts = Counter(tok for toks in tokenized for tok in toks)
        kept = sorted((t for t, c in counts.items() if c >= self.min_count), key=lambda t: (-counts[t], t))
        self.vocab_ = {t: i + 2 for i, t in enumerate(kept[: self.max_vocab - 2])}
        self.labels_ = names
        self.multi_label_ = multi
        self.__dict__.pop("_ort", None)

        def examples(toks_list: list[list[str]], tgt: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
            seqs, rows = [], []
            for i, toks in enumerate(toks_list):
                for chunk in self._chunks([self.vocab_.get(t, UNK) for t in toks]):
                    seqs.append(chunk)
                    rows.append(i)
            return seqs, tgt[np.asarray(rows, dtype=np.int64)]

        train_seqs, train_tgt = examples(tokenized, target)
        if has_val:
            val_seqs, val_tgt = examples([_tokens(t) for t in vbatch.texts], vtarget)

        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        net = self._network(torch, len(self.vocab_) + 2, len(names))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        if multi:
            loss_fn = torch.nn.BCEWithLogitsLoss()
        elif self.class_weight == "balanced":
            w = class_weights(train_tgt, len(names), "balanced")
            loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float32))
        else:
            loss_fn = torch.nn.CrossEntropyLoss()

        def tensors(seqs: list[list[int]], tgt: np.ndarray, idx: np.ndarray):
            lengths = [len(seqs[i]) for i in idx]
            ids = torch.zeros((len(idx), max(lengths)), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, : lengths[r]] = torch.tensor(seqs[i], dtype=torch.long)
            t = torch.tensor(tgt[idx], dtype=torch.float32 if multi else torch.long)
            return ids, torch.tensor(lengths, dtype=torch.long), t

        def batches(epoch: int) -> list[np.ndarray]:
            perm = rng.permutation(len(train_seqs))
            return [perm[s:s + self.batch_size] for s in range(0, len(perm), self.batch_size)]

        def step_loss(model: Any, idx: np.ndarray) -> Any:
            ids, lengths, t = tensors(train_seqs, train_tgt, idx)
            return loss_fn(model(ids, lengths), t)

        def val_loss() -> dict[str, float]:
            net.eval()
            total = 0.0
            order = np.argsort([len(s) for s in val_seqs], kind="stable")
            with torch.no_grad():
                for s in range(0, len(order), 256):
                    ids, lengths, t = tensors(val_seqs, val_tgt, order[s:s + 256])
                    total += float(loss_fn(net(ids, lengths), t)) * len(lengths)
            return {"val_loss": total / len(order)}

        self.history_ = fit_loop(
            net, batches, step_loss, optimizer=opt, epochs=self.max_epochs, clip_norm=5.0, mean="examples",
            evaluate=val_loss if has_val else None,
            stopping=EarlyStopping.lowest("val_loss", max(self.patience, 1), min_delta=1e-6) if has_val else None,
            on_epoch=lambda rec, _: logger.info("%s epoch: %s", self.kind, format_record(rec)),
            log=logger.info,
        )
        self.onnx_ = _export(torch, net)
        self.__dict__.pop("thresholds_", None)
        if multi:
            self.thresholds_ = np.full(len(names), 0.5)
            if has_val:
                self.tune_thresholds(vbatch.texts, val_y)
        return self

    def tune_thresholds(self, texts: Sequence[str], y: object, grid: Sequence[float] | None = None) -> Self:
        """Choose, per label, the threshold that maximises F1 on ``(texts, y)`` (validation data)."""
        self._check_fitted()
        if not self.multi_label_:
            raise InvalidInputError("tune_thresholds applies to multi-label models only.")
        name = type(self).__name__
        batch = as_text_batch(texts, method=f"{name}.tune_thresholds")
        Y, _, _ = encode_targets(y, len(batch), self.labels_, True, owner=f"{name}.tune_thresholds")
        self.thresholds_ = best_f1_thresholds(self._proba_of_batch(batch), Y, grid)
        return self

    # -- prediction --------------------------------------------------------------------------
    def _session(self) -> Any:
        sess = self.__dict__.get("_ort")
        if sess is None:
            sess = onnx_session(self.onnx_, int(self.threads), feature=f"The {self.title} models")
            self.__dict__["_ort"] = sess
        return sess

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        sess = self._session()
        chunks: list[list[int]] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for c in self._chunks(self._ids(text)):
                chunks.append(c)
                owner.append(i)
        by_len: dict[int, list[int]] = {}
        for j, c in enumerate(chunks):
            by_len.setdefault(len(c), []).append(j)
        logits = np.zeros((len(chunks), len(self.labels_)), dtype=np.float64)
        for _, idx in sorted(by_len.items()):
            for s in range(0, len(idx), 256):
                checkpoint()
                part = idx[s:s + 256]
                ids = np.asarray([chunks[j] for j in part], dtype=np.int64)
                logits[part] = sess.run(None, {"input_ids": ids})[0]
        p = sigmoid(logits) if self.multi_label_ else softmax(logits)
        owner_arr = np.asarray(owner)
        out = np.zeros((len(texts), len(self.labels_)), dtype=np.float64)
        if self.multi_label_:
            np.maximum.at(out, owner_arr, p)
        else:
            np.add.at(out, owner_arr, p)
            out /= np.bincount(owner_arr, minlength=len(texts))[:, None]
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_ort", None)
        return state

    # -- persistence -------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config["thresholds"] = [float(t) for t in self.thresholds_] if self.multi_label_ else None
        config["vocab_size"] = len(self.vocab_) + 2
        config["onnx"] = {"file": MODEL_FILE, "inputs": ["input_ids"], "outputs": ["logits"],
                          "link": "sigmoid" if self.multi_label_ else "softmax"}
        if getattr(self, "history_", None):
            config["history"] = self.history_
        return config

    def _save_arrays(self, path: Path, config: dict[str, Any]) -> None:
        words = sorted(self.vocab_, key=self.vocab_.__getitem__)
        (path / VOCAB_FILE).write_text(json.dumps({"pad": PAD, "unk": UNK, "words": words}, ensure_ascii=False),
                                       encoding="utf-8")
        (path / MODEL_FILE).write_bytes(self.onnx_)

    @classmethod
    def _from_dir(cls, path: Path, config: dict[str, Any]) -> Self:
        try:
            vocab = read_json(path / VOCAB_FILE)
            onnx_bytes = (path / MODEL_FILE).read_bytes()
            words = vocab["words"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFormatError(f"Cannot read the {cls.title} model in {path}: {exc}") from exc
        _check_vocab(path, words, config.get("vocab_size"), onnx_embedding_rows(onnx_bytes))
        model = cls(**cls._params_from_config(dict(config.get("params", {}))))
        model.vocab_ = {w: i + 2 for i, w in enumerate(words)}
        model.onnx_ = onnx_bytes
        model.labels_ = tuple(config["labels"])
        model.multi_label_ = bool(config["multi_label"])
        if model.multi_label_:
            model.thresholds_ = np.asarray(config["thresholds"], dtype=np.float64)
        model.history_ = config.get("history", [])
        model.card_ = config.get("card", {})
        return model


def _check_vocab(path: Path, words: Any, vocab_size: Any, rows: int | None) -> None:
    """Refuse a vocabulary that is not the one the weights were trained with: ids are 2 + a word's
    place in ``words``, so ``len(words) + 2`` must equal the embedding's rows (and the config's count)."""
    fix = (f"Keep {VOCAB_FILE}, {MODEL_FILE} and config.json of one save together (save the model again with "
           f"analyzer.save(path), or copy the whole directory).")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
        raise ModelFormatError(f"{path / VOCAB_FILE} has 'words' that are not a list of distinct strings. {fix}")
    size = len(words) + 2  # ids 0 (padding) and 1 (unknown) come first
    if rows is not None and rows != size:
        raise ModelFormatError(
            f"{path / VOCAB_FILE} has {len(words)} words (token ids 0 to {size - 1}), but the embedding of "
            f"{path / MODEL_FILE} has {rows} rows: the vocabulary does not match the weights. {fix}"
        )
    if vocab_size is not None and vocab_size != size:
        raise ModelFormatError(
            f"{path / 'config.json'} has vocab_size {vocab_size!r}, but {path / VOCAB_FILE} has {len(words)} words "
            f"(vocab_size {size}): the vocabulary does not match the model. {fix}"
        )


def _doc(summary: str, arch: str) -> str:
    """A neural analyzer's docstring: ``summary``, then its parameters (``arch``: its own)."""
    return summary + """

    Parameters
    ----------
    task:
        Name of the task (``"sentiment"``, ``"emotion"`` or your own); used in results.
    multi_label:
        Sigmoid per label (marginals) instead of a softmax; ``None`` detects it from ``y``.
    max_len:
        Tokens per chunk; longer texts are split into chunks and the chunk scores combined.
""" + arch + """    dropout:
        Dropout before the output layer.
    min_count, max_vocab:
        Words seen fewer than ``min_count`` times are unknown; at most ``max_vocab`` ids.
    lr, batch_size, max_epochs, patience:
        Adam learning rate, batch size, epoch limit, and epochs without improvement of the
        validation loss before stopping (early stopping needs validation data).
    class_weight:
        ``"balanced"`` weighs each class of a single-label model by the inverse of its frequency
        in the loss (good for macro-recall), or ``None``. Multi-label models tune thresholds instead.
    threshold:
        Decision threshold(s) for multi-label prediction; ``None`` uses the tuned ``thresholds_``.
    threads:
        onnxruntime threads for prediction.
    random_state:
        Seed of initialisation, shuffling and dropout.
    """


class BiLSTMAnalyzer(_NeuralAnalyzer):
    __doc__ = _doc(
        "A bidirectional LSTM over words, trained on your labelled texts (single- or multi-label).",
        """    embed_dim, hidden:
        Size of the word embeddings (trained from scratch) and of each LSTM direction.
""",
    )

    kind = "bilstm"
    title = "BiLSTM"
    _parameter_constraints = {**_NeuralAnalyzer._parameter_constraints, "hidden": [Interval(int, 1, None)]}

    def __init__(
        self,
        *,
        task: str = "sentiment",
        multi_label: bool | None = None,
        max_len: int = 128,
        embed_dim: int = 100,
        hidden: int = 128,
        dropout: float = 0.3,
        min_count: int = 2,
        max_vocab: int = 30000,
        lr: float = 2e-3,
        batch_size: int = 64,
        max_epochs: int = 10,
        patience: int = 2,
        class_weight: str | None = "balanced",
        threshold: object = None,
        threads: int = 1,
        random_state: int = 0,
    ):
        self._store(locals())

    def _network(self, torch: Any, vocab_size: int, n_out: int) -> Any:
        return _bilstm_network(torch, vocab_size, self.embed_dim, self.hidden, self.dropout, n_out)


class TextCNNAnalyzer(_NeuralAnalyzer):
    __doc__ = _doc(
        """A convolutional network over words (Kim, 2014), trained on your labelled texts
    (single- or multi-label).

    Each kernel width ``k`` of ``kernel_sizes`` has ``filters`` convolution filters that look
    at ``k`` consecutive words; each filter's ReLU output is max-pooled over the text (windows
    starting on padding are masked), the pooled features are concatenated, and a dropout
    layer and a linear layer give the label scores. The network pads every text on the right
    by ``max(kernel_sizes) - 1`` zero vectors itself, so a text shorter than the widest kernel
    (one word, or none) still has a window of every width.""",
        """    embed_dim:
        Size of the word embeddings (trained from scratch).
    kernel_sizes, filters:
        Widths of the convolution windows (in words) and the number of filters per width.
""",
    )

    kind = "textcnn"
    title = "TextCNN"
    _parameter_constraints = {**_NeuralAnalyzer._parameter_constraints, "filters": [Interval(int, 1, None)],
                              "kernel_sizes": [list, tuple]}

    def __init__(
        self,
        *,
        task: str = "sentiment",
        multi_label: bool | None = None,
        max_len: int = 128,
        embed_dim: int = 100,
        kernel_sizes: Sequence[int] = (2, 3, 4, 5),
        filters: int = 100,
        dropout: float = 0.5,
        min_count: int = 2,
        max_vocab: int = 30000,
        lr: float = 2e-3,
        batch_size: int = 64,
        max_epochs: int = 10,
        patience: int = 2,
        class_weight: str | None = "balanced",
        threshold: object = None,
        threads: int = 1,
        random_state: int = 0,
    ):
        self._store(locals())

    def _validate_params(self) -> None:
        super()._validate_params()
        ks = self.kernel_sizes  # declared a list or tuple; its items are widths >= 1
        if not (ks and all(Interval(int, 1, None).accepts(k) for k in ks)):
            raise InvalidInputError(
                f"The 'kernel_sizes' parameter of {type(self).__name__} must be a non-empty list of integers >= 1 "
                f"(window widths in words), e.g. (2, 3, 4, 5). Got {ks!r}."
            )

    @classmethod
    def _params_from_config(cls, params: dict[str, Any]) -> dict[str, Any]:
        if isinstance(params.get("kernel_sizes"), list):
            params["kernel_sizes"] = tuple(params["kernel_sizes"])
        return params

    def _network(self, torch: Any, vocab_size: int, n_out: int) -> Any:
        return _textcnn_network(torch, vocab_size, self.embed_dim, tuple(int(k) for k in self.kernel_sizes),
                                int(self.filters), self.dropout, n_out)



# -- torch parts (training only) ---------------------------------------------------------------
def _bilstm_network(torch: Any, vocab_size: int, embed_dim: int, hidden: int, dropout: float, n_out: int) -> Any:
    nn = torch.nn

    class BiLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
            self.lstm = nn.LSTM(embed_dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(4 * hidden, n_out)

        def forward(self, ids, lengths=None):
            mask = (ids != PAD).unsqueeze(-1).to(torch.float32)
            x = self.embed(ids)
            if lengths is not None:  # training: packed, so padding never enters the recurrence
                packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                h, _ = self.lstm(packed)
                h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
            else:  # inference (and the ONNX graph): texts of one length, no padding
                h, _ = self.lstm(x)
            count = mask.sum(dim=1)
            mean = (h * mask).sum(dim=1) / count.clamp(min=1.0)
            mx = (h * mask - (1.0 - mask) * 1e4).max(dim=1).values * (count > 0).to(torch.float32)
            return self.out(self.drop(torch.cat([mean, mx], dim=1)))

    return BiLSTM()


def _textcnn_network(torch: Any, vocab_size: int, embed_dim: int, kernel_sizes: tuple[int, ...], filters: int,
                     dropout: float, n_out: int) -> Any:
    nn = torch.nn
    extra = max(kernel_sizes) - 1

    class TextCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
            self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, k) for k in kernel_sizes)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(filters * len(kernel_sizes), n_out)

        def forward(self, ids, lengths=None):
            # A window starting at position t covers ids[t:t+k]; the right pad of zero vectors
            # (the padding id's embedding is zero) gives every real position a window of each
            # width, so a text's features do not depend on how much padding follows it.
            mask = (ids != PAD).unsqueeze(1).to(torch.float32)  # (batch, 1, seq)
            x = self.embed(ids).transpose(1, 2)  # (batch, embed, seq)
            x = nn.functional.pad(x, (0, extra))
            n = ids.shape[1]
            # ReLU outputs are >= 0, so zeroing windows that start on padding leaves the max of
            # the real windows (and gives zeros for an empty text)
            pooled = [(torch.relu(conv(x)[:, :, :n]) * mask).max(dim=2).values for conv in self.convs]
            return self.out(self.drop(torch.cat(pooled, dim=1)))

    return TextCNN()


def _export(torch: Any, net: Any) -> bytes:
    """The network as ONNX bytes, with dynamic batch and length axes."""
    from affectkit.train.export import torch_to_onnx

    buf = io.BytesIO()
    torch_to_onnx(torch, net, (torch.ones((1, 5), dtype=torch.long),), buf,
                  input_names=("input_ids",), output_names=("logits",))
    return buf.getvalue()

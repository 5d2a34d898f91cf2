"""Train a neural analyzer on a user's labelled file (``affectkit train --arch bilstm|textcnn``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError
from affectkit.train.card import write_model_card
from affectkit.train.data import known_val, load_splits, seen_labels
from affectkit.train.loop import format_record

logger = logging.getLogger(__name__)

__all__ = ["train_neural"]


def train_neural(
    data: str | Path,
    out_dir: str | Path,
    *,
    text_col: str = "text",
    label_col: str | None = None,
    labels_col: str | None = None,
    label_cols: Sequence[str] | None = None,
    task: str = "sentiment",
    val: str | Path | None = None,
    val_fraction: float = 0.1,
    epochs: int = 10,
    seed: int = 0,
    arch: str = "bilstm",
    params: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a neural analyzer on a labelled file and save it to ``out_dir``.

    ``arch`` is ``"bilstm"`` (:class:`BiLSTMAnalyzer`) or ``"textcnn"`` (:class:`TextCNNAnalyzer`);
    ``params`` are extra constructor arguments of that class. Data handling is that of
    :func:`train_classic`; the validation data also drives early stopping (the best epoch is
    kept) and the multi-label thresholds.
    """
    import time

    from affectkit.analyzers.neural import BiLSTMAnalyzer, TextCNNAnalyzer
    from affectkit.evaluation import evaluate

    classes = {"bilstm": BiLSTMAnalyzer, "textcnn": TextCNNAnalyzer}
    if arch not in classes:
        raise InvalidInputError(f"The 'arch' parameter of train_neural must be one of {sorted(classes)}. Got {arch!r}.")
    cls = classes[arch]
    say = log or logger.info
    train, texts, y, val_texts, val_y = load_splits(
        data, val, val_fraction, seed, (text_col, label_col, labels_col, label_cols), say
    )
    if val_texts:
        val_texts, val_y = known_val(seen_labels(y, train.multi_label), train.multi_label, val_texts, val_y, say)
    say(f"training {arch} on {len(texts)} texts ({'multi' if train.multi_label else 'single'}-label), "
        f"{len(val_texts)} validation texts")
    model = cls(task=task, multi_label=train.multi_label, max_epochs=epochs, random_state=seed, **(params or {}))
    start = time.perf_counter()
    model.fit(texts, y, val_texts or None, val_y or None, labels=train.labels)
    seconds = time.perf_counter() - start
    for rec in model.history_:
        say(format_record(rec))
    validation: dict[str, float] = {}
    if val_texts:
        validation = evaluate([model], val_texts, val_y, data_name="validation").results[0].metrics
    path = model.save(out_dir)
    write_model_card(
        path,
        title=f"affectkit {cls.title} {task} model",
        data=str(data),
        metrics={"validation": validation} if validation else {},
        command=None,
        extra=f"Trained for {len(model.history_)} epochs in {seconds:.0f} s.",
    )
    return {"path": str(path), "validation": validation, "labels": list(model.labels_),
            "epochs": len(model.history_), "seconds": seconds}

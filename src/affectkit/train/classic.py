"""Train a classic analyzer on a user's labelled file (``affectkit train --arch logreg|svm|nb|tree``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affectkit.train.card import write_model_card
from affectkit.train.data import known_val, load_splits

logger = logging.getLogger(__name__)

__all__ = ["train_classic"]


def train_classic(
    data: str | Path,
    out_dir: str | Path,
    *,
    text_col: str = "text",
    label_col: str | None = None,
    labels_col: str | None = None,
    label_cols: Sequence[str] | None = None,
    estimator: str = "logreg",
    task: str = "sentiment",
    val: str | Path | None = None,
    val_fraction: float = 0.1,
    C: float = 1.0,
    seed: int = 0,
    features: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train a :class:`ClassicAnalyzer` on a labelled file and save it to ``out_dir``.

    Validation data (``val``, or a ``val_fraction`` hold-out of ``data``) tunes the
    per-label thresholds of multi-label models and gives the scores written to the card.
    """
    from affectkit.analyzers.classic.model import ClassicAnalyzer
    from affectkit.evaluation import evaluate

    say = log or logger.info
    train, texts, y, val_texts, val_y = load_splits(
        data, val, val_fraction, seed, (text_col, label_col, labels_col, label_cols), say
    )
    say(f"training {estimator} on {len(texts)} texts ({'multi' if train.multi_label else 'single'}-label)")
    model = ClassicAnalyzer(estimator, task=task, multi_label=train.multi_label, C=C, features=features)
    model.fit(texts, y, labels=train.labels)
    validation: dict[str, float] = {}
    if val_texts:
        val_texts, val_y = known_val(model.labels_, train.multi_label, val_texts, val_y, say)
    if val_texts:
        if model.tags.multi_label:
            model.tune_thresholds(val_texts, val_y)
        report = evaluate([model], val_texts, val_y, data_name="validation")
        validation = report.results[0].metrics
    path = model.save(out_dir)
    write_model_card(
        path,
        title=f"affectkit classic {task} model ({estimator})",
        data=str(data),
        metrics={"validation": validation} if validation else {},
        command=None,
    )
    return {"path": str(path), "validation": validation, "labels": list(model.labels_)}

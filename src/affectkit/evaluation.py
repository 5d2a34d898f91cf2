"""Side-by-side evaluation of analyzers on one labelled set.

Single-label: macro-recall (the SemEval-2017 Task 4 measure), macro-F1, accuracy, and the
expected calibration error of the top label (``ece``, 15 bins).
When the data has fewer labels than the model (SST-2 for a 3-class model), ``accuracy_data_labels``
is the accuracy of the argmax over the data's labels only (SST-2 "neutral ignored").
Multi-label: macro-F1, micro-F1, Jaccard (per sample), and the ECE over every marginal. Both: throughput (texts/s over
``predict_proba`` in batches) and the peak resident memory of the process while that
model predicted (Linux ``VmHWM``, reset before each model where the kernel allows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from affectkit._runtime import peak_rss_mb, reset_peak_rss
from affectkit._validation import as_text_batch
from affectkit.exceptions import InvalidInputError, require
from affectkit.metrics import (  # noqa: F401 - score_multi, indicator and crossfit_scores are re-exported
    crossfit_scores,
    expected_calibration_error,
    indicator,
    score_multi,
    score_single,
)
from affectkit.registry import load

logger = logging.getLogger(__name__)

__all__ = [
    "ModelEvaluation", "EvaluationReport", "evaluate", "score_single", "score_multi", "indicator", "crossfit_scores",
]


@dataclass
class ModelEvaluation:
    name: str
    multi_label: bool
    n_texts: int
    metrics: dict[str, float]
    texts_per_s: float
    peak_rss_mb: float | None
    load_s: float
    labels: tuple[str, ...]
    confusion: list[list[int]] | None = None  # single-label: rows gold, columns predicted
    per_label_f1: dict[str, float] | None = None  # multi-label

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "multi_label": self.multi_label,
            "n_texts": self.n_texts,
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "texts_per_s": round(self.texts_per_s, 1),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "load_s": round(self.load_s, 3),
            "labels": list(self.labels),
            "confusion": self.confusion,
            "per_label_f1": self.per_label_f1,
        }


@dataclass
class EvaluationReport:
    data: str
    results: list[ModelEvaluation] = field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        names: list[str] = []
        for r in self.results:
            names += [k for k in r.metrics if k not in names]
        return names

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "results": [r.to_dict() for r in self.results]}


def evaluate(
    models: Sequence[Any],
    texts: Sequence[str],
    y: Sequence[Any],
    *,
    data_name: str = "data",
    batch_size: int = 256,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvaluationReport:
    """Evaluate each of ``models`` (names, paths or analyzers) on ``texts`` with gold ``y``.

    ``y`` holds one label name per text (single-label data) or a collection of label
    names per text (multi-label data).
    """
    if batch_size < 1:
        raise InvalidInputError(f"The 'batch_size' parameter of evaluate must be >= 1. Got {batch_size}.")
    batch = as_text_batch(texts, method="evaluate")
    if len(batch) != len(y):
        raise InvalidInputError(f"evaluate got {len(batch)} texts but {len(y)} labels; they must match.")
    if len(batch) == 0:
        raise InvalidInputError("evaluate needs at least one labelled text. Got none.")
    gold_multi = any(isinstance(v, list | tuple | set | frozenset) for v in y)
    report = EvaluationReport(data_name)
    for spec in models:
        name = spec if isinstance(spec, str) else getattr(spec, "name_", type(spec).__name__)
        t0 = time.perf_counter()
        model = load(spec) if isinstance(spec, str | Path) else spec
        load_s = time.perf_counter() - t0
        labels = tuple(model.labels_)
        multi = model.tags.multi_label
        _check_labels(name, labels, y, gold_multi)
        can_reset = reset_peak_rss()
        n = len(batch)
        chunks = []
        t0 = time.perf_counter()
        for start in range(0, n, batch_size):
            chunks.append(model.predict_proba(batch.texts[start : start + batch_size]))
            if progress is not None:
                progress(str(name), min(start + batch_size, n), n)
        elapsed = time.perf_counter() - t0
        peak = peak_rss_mb() if can_reset else None
        proba = np.vstack(chunks)
        if multi:
            Y = indicator(y, labels)
            P = model.labels_from_proba(proba)
            metrics, per_label = score_multi(Y, P)
            metrics["ece"] = expected_calibration_error(proba, Y)
            result = ModelEvaluation(
                str(name), True, n, metrics, n / max(elapsed, 1e-9), peak, load_s, labels,
                per_label_f1={lab: round(float(f), 4) for lab, f in zip(labels, per_label, strict=True)},
            )
        else:
            from sklearn.metrics import confusion_matrix

            pred = [labels[i] for i in proba.argmax(axis=1)]
            gold = [str(v) for v in y]
            metrics = score_single(gold, pred, labels)
            present = [i for i, lab in enumerate(labels) if lab in set(gold)]
            if len(present) < len(labels):  # e.g. SST-2 on a 3-class model: also "neutral ignored"
                sub = [labels[present[j]] for j in proba[:, present].argmax(axis=1)]
                metrics["accuracy_data_labels"] = float(np.mean([p == g for p, g in zip(sub, gold, strict=True)]))
            metrics["ece"] = expected_calibration_error(proba, np.asarray([labels.index(g) for g in gold]))
            cm = confusion_matrix(gold, pred, labels=list(labels)).tolist()
            result = ModelEvaluation(str(name), False, n, metrics, n / max(elapsed, 1e-9), peak, load_s, labels, cm)
        report.results.append(result)
        logger.info("evaluated %s: %s", name, result.metrics)
    return report


def _check_labels(name: str, labels: tuple[str, ...], y: Sequence[Any], gold_multi: bool) -> None:
    found: set[str] = set()
    for v in y:
        found.update(v if gold_multi else (v,))
    unknown = sorted(map(str, found - set(labels)))
    if unknown:
        raise InvalidInputError(
            f"Model {name!r} predicts {list(labels)}, but the data has labels {unknown[:10]} it does not know. "
            f"Evaluate sentiment models on sentiment data and emotion models on emotion data."
        )


def plot_confusion(report: EvaluationReport, path: str | Path) -> Path:
    """Write confusion matrices (single-label) or a per-label F1 heatmap (multi-label) to a PNG."""
    require("matplotlib", "plot", "Writing the confusion-matrix PNG")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    single = [r for r in report.results if not r.multi_label]
    multi = [r for r in report.results if r.multi_label]
    panels = len(single) + (1 if multi else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * len(single) + (6 if multi else 0), 4.6 if not multi else 9),
                             squeeze=False)
    for ax, r in zip(axes[0], single, strict=False):
        cm = np.asarray(r.confusion, dtype=float)
        norm = cm / np.clip(cm.sum(axis=1, keepdims=True), 1, None)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(r.labels)), r.labels, rotation=45, ha="right")
        ax.set_yticks(range(len(r.labels)), r.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{r.name}\nmacro-recall {r.metrics['macro_recall']:.3f}", fontsize=10)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    if multi:
        ax = axes[0][-1]
        labels = list(multi[0].labels)
        grid = np.array([[r.per_label_f1.get(lab, np.nan) if r.per_label_f1 else np.nan for r in multi] for lab in labels])
        ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_xticks(range(len(multi)), [r.name for r in multi], rotation=30, ha="right")
        ax.set_title("per-label F1 (multi-label)")
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=6, color="white")
    fig.suptitle(f"affectkit evaluate: {report.data}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""Scores, thresholds and calibration measures: one home for the numbers every module reports.

numpy only at import; scikit-learn is imported by the functions that use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from affectkit.exceptions import InvalidInputError

__all__ = [
    "ECE_BINS", "score_single", "score_multi", "indicator", "best_f1_thresholds", "crossfit_predictions",
    "crossfit_scores", "expected_calibration_error", "log_loss",
]  # fmt: skip

#: Equal-width confidence bins of :func:`expected_calibration_error`.
ECE_BINS = 15
_TINY = 1e-12


def score_single(gold: Sequence[Any], pred: Sequence[Any], labels: Sequence[Any]) -> dict[str, float]:
    """Macro-recall, macro-F1 (over the labels present in ``gold``) and accuracy."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    present = [lab for lab in labels if lab in set(gold)]
    return {
        "macro_recall": float(recall_score(gold, pred, labels=present, average="macro", zero_division=0)),
        "macro_f1": float(f1_score(gold, pred, labels=present, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(gold, pred)),
    }


def score_multi(Y: np.ndarray, P: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Multi-label scores of the 0/1 predictions ``P`` against ``Y``, and the per-label F1."""
    from sklearn.metrics import f1_score, jaccard_score

    per_label = f1_score(Y, P, average=None, zero_division=0)
    return {
        "macro_f1": float(np.mean(per_label)),
        "micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
        "jaccard": float(jaccard_score(Y, P, average="samples", zero_division=1)),
    }, per_label


def indicator(y: Sequence[Any], labels: Sequence[str]) -> np.ndarray:
    """0/1 matrix (n, len(labels)) from one label or one collection of labels per row."""
    index = {lab: i for i, lab in enumerate(labels)}
    Y = np.zeros((len(y), len(labels)), dtype=np.int64)
    for i, v in enumerate(y):
        for lab in v if isinstance(v, list | tuple | set | frozenset) else (v,):
            if lab not in index:
                raise InvalidInputError(
                    f"Label {lab!r} (row {i} of y) is not one of the model's labels {list(labels)}. "
                    f"Check that the data and the model are of the same task."
                )
            Y[i, index[lab]] = 1
    return Y


def best_f1_thresholds(proba: np.ndarray, Y: np.ndarray, grid: Sequence[float] | None = None) -> np.ndarray:
    """Per label, the threshold of ``grid`` with the best F1 (ties: the one closest to 0.5)."""
    grid_arr = np.asarray(grid if grid is not None else np.round(np.arange(0.02, 0.96, 0.01), 2))
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        y = Y[:, j].astype(bool)
        if not y.any():
            continue
        pred = proba[:, j][:, None] >= grid_arr[None, :]
        tp = (pred & y[:, None]).sum(axis=0)
        fp = (pred & ~y[:, None]).sum(axis=0)
        fn = (~pred & y[:, None]).sum(axis=0)
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = np.flatnonzero(f1 == f1.max())
        out[j] = float(grid_arr[best[np.argmin(np.abs(grid_arr[best] - 0.5))]])
    return out


def crossfit_predictions(P: np.ndarray, Y: np.ndarray, seed: int = 0) -> np.ndarray:
    """0/1 predictions whose per-label thresholds never saw the rows they judge: tuned on one
    random half (``RandomState(seed)``), applied to the other, and the other way round."""
    idx = np.random.RandomState(seed).permutation(len(Y))
    a, b = idx[: len(Y) // 2], idx[len(Y) // 2 :]
    pred = np.zeros_like(Y)
    pred[b] = P[b] >= best_f1_thresholds(P[a], Y[a])
    pred[a] = P[a] >= best_f1_thresholds(P[b], Y[b])
    return pred


def crossfit_scores(P: np.ndarray, Y: np.ndarray, seed: int = 0) -> dict[str, float]:
    """:func:`score_multi` of :func:`crossfit_predictions`."""
    return score_multi(Y, crossfit_predictions(P, Y, seed))[0]


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-width confidence bins.

    Single-label (``y`` holds class indices, shape ``(n,)``): the top-label ECE, the mean over
    texts of ``|confidence - accuracy|`` within each bin, weighted by the bin's size.
    Multi-label (``y`` is a 0/1 matrix shaped like ``proba``): the same over every
    (text, label) marginal, against whether the label is gold.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    if proba.shape[0] == 0:
        return 0.0
    if y.ndim == 1:
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == y).astype(np.float64)
    else:
        conf, hit = proba.ravel(), y.ravel().astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        sel = bins == b
        total += sel.sum() * abs(conf[sel].mean() - hit[sel].mean())
    return float(total / len(conf))


def log_loss(proba: np.ndarray, y: np.ndarray, eps: float = _TINY) -> float:
    """Mean negative log-likelihood, probabilities clipped to ``[eps, 1 - eps]``.

    Single-label: ``y`` holds gold class indices. Multi-label: ``y`` is a 0/1 matrix shaped like
    ``proba`` and each marginal counts as a binary prediction.
    """
    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y)
    if y.ndim == 2:
        q = np.clip(p, eps, 1 - eps)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    gold = np.clip(p[np.arange(len(y)), y.astype(np.int64)], eps, 1 - eps)
    return float(-np.log(gold).mean())

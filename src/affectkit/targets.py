"""Turning users' labels ``y`` into training targets: one encoder for every trainable analyzer.

``y`` may be a list of label names (single-label), a list of lists/sets of names (multi-label)
or a 0/1 indicator matrix with ``labels`` naming its columns. Targets are class indices
(``int64``, single-label) or an indicator matrix (``int8``, multi-label).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from affectkit.exceptions import InvalidInputError
from affectkit.labels import canonical_order

__all__ = ["encode_targets", "order_labels"]

_SETS = (list, tuple, set, frozenset)


def order_labels(found: set) -> tuple[str, ...]:
    """Label names in their canonical order (sentiment, GoEmotions) when they are a subset of one,
    else sorted."""
    return canonical_order(sorted({str(v) for v in found}))


def encode_targets(
    y: object, n: int, labels: Sequence[str] | None = None, multi_label: bool | None = None,
    owner: str = "fit",
) -> tuple[np.ndarray, tuple[str, ...], bool]:
    """``(targets, labels, multi_label)`` for ``n`` texts.

    ``labels`` fixes the label names and their order (else they are found in ``y``);
    ``multi_label=None`` decides from ``y`` (any list/set value makes it multi-label).
    ``owner`` names the caller in messages (``"ClassicAnalyzer.fit"``).
    """
    if hasattr(y, "tolist") and getattr(y, "ndim", 1) == 2:
        Y = np.asarray(y)
        if labels is None or len(labels) != Y.shape[1]:
            raise InvalidInputError(
                f"{owner} got a 0/1 matrix for y with {Y.shape[1]} columns; pass labels=[...] with one name per column."
            )
        if Y.shape[0] != n:
            raise InvalidInputError(f"{owner} got {n} texts but {Y.shape[0]} rows in y; they must match.")
        if not np.isin(Y, (0, 1)).all():
            raise InvalidInputError(f"{owner}: a 0/1 matrix y must hold only 0 and 1.")
        return Y.astype(np.int8), tuple(labels), True
    items = list(y.tolist() if hasattr(y, "tolist") else y)  # type: ignore[union-attr]
    if len(items) != n:
        raise InvalidInputError(f"{owner} got {n} texts but {len(items)} labels in y; they must match.")
    multi = multi_label
    if multi is None:
        multi = any(isinstance(v, _SETS) for v in items)
    if multi:
        sets = [set(v) if isinstance(v, _SETS) else {v} for v in items]
        found = set().union(*sets) if sets else set()
        names = tuple(labels) if labels is not None else order_labels(found)
        unknown = sorted(map(str, found - set(names)))
        if unknown:
            raise InvalidInputError(f"{owner}: labels {unknown} in y are not in labels={list(names)}.")
        index = {lab: i for i, lab in enumerate(names)}
        Y = np.zeros((n, len(names)), dtype=np.int8)
        for i, s in enumerate(sets):
            for lab in s:
                Y[i, index[lab]] = 1
        return Y, names, True
    bad = [v for v in items if not isinstance(v, str | int | np.integer)]
    if bad:
        raise InvalidInputError(f"{owner}: labels in y must be strings. Got {bad[0]!r}.")
    items = [str(v) for v in items]
    found = set(items)
    names = tuple(labels) if labels is not None else order_labels(found)
    unknown = sorted(found - set(names))
    if unknown:
        raise InvalidInputError(f"{owner}: labels {unknown} in y are not in labels={list(names)}.")
    if len(found) < 2:
        raise InvalidInputError(f"{owner} needs at least 2 distinct labels in y. Got {sorted(found)}.")
    index = {lab: i for i, lab in enumerate(names)}
    return np.array([index[v] for v in items], dtype=np.int64), names, False

"""Training data of users' files: the training rows and the validation rows (a ``val`` file, or a
seeded hold-out of the training file), and validation rows restricted to the labels a model knows."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError

__all__ = ["Columns", "split_indices", "load_splits", "known_val", "seen_labels"]

#: ``(text_col, label_col, labels_col, label_cols)``, the column arguments of ``read_labelled``.
Columns = tuple[str, str | None, str | None, Sequence[str] | None]


def split_indices(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices): a seeded shuffle, ``round(n * fraction)`` held out."""
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * fraction))
    return sorted(idx[k:]), sorted(idx[:k])


def load_splits(
    data: str | Path, val: str | Path | None, val_fraction: float, seed: int, cols: Columns,
    say: Callable[[str], None],
) -> tuple[Any, list[str], list[Any], list[str], list[Any]]:
    """``(table, texts, y, val_texts, val_y)``: the training rows and the validation rows (the ``val``
    file, or a ``val_fraction`` hold-out of ``data`` when it has at least 20 rows)."""
    from affectkit.io import read_labelled

    train = read_labelled(data, *cols)
    for note in train.notes:
        say(f"note: {note}")
    texts, y = train.texts, train.y
    if val is not None:
        v = read_labelled(val, *cols)
        val_texts, val_y = v.texts, v.y
    elif val_fraction > 0 and len(texts) >= 20:
        tr_idx, va_idx = split_indices(len(texts), val_fraction, seed)
        val_texts, val_y = [texts[i] for i in va_idx], [y[i] for i in va_idx]
        texts, y = [texts[i] for i in tr_idx], [y[i] for i in tr_idx]
    else:
        val_texts, val_y = [], []
    if len(texts) < 2:
        raise InvalidInputError(f"{Path(data).name} has {len(texts)} labelled rows; training needs at least 2.")
    return train, texts, y, val_texts, val_y


def known_val(
    labels: Any, multi: bool, val_texts: list[str], val_y: list[Any], say: Callable[[str], None]
) -> tuple[list[str], list[Any]]:
    """Validation rows whose labels the model knows."""
    known = set(labels)
    keep = [i for i, v in enumerate(val_y) if (set(v) <= known if multi else v in known)]
    if len(keep) < len(val_y):
        say(f"note: {len(val_y) - len(keep)} validation rows have labels unseen in training; skipped")
    return [val_texts[i] for i in keep], [val_y[i] for i in keep]


def seen_labels(y: Sequence[Any], multi: bool) -> set[str]:
    """The labels that occur in ``y`` (label names, or sets of names when ``multi``)."""
    return set().union(*map(set, y)) if multi else set(y)

"""Training entry points for users' files (``affectkit train``) and the shipped defaults."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["train_classic", "train_neural", "train_ensemble", "write_model_card"]


def _split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = int(round(n * fraction))
    return sorted(idx[k:]), sorted(idx[:k])


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
    train, texts, y, val_texts, val_y = _load_splits(
        data, val, val_fraction, seed, (text_col, label_col, labels_col, label_cols), say
    )
    say(f"training {estimator} on {len(texts)} texts ({'multi' if train.multi_label else 'single'}-label)")
    model = ClassicAnalyzer(estimator, task=task, multi_label=train.multi_label, C=C, features=features)
    model.fit(texts, y, labels=train.labels)
    validation: dict[str, float] = {}
    if val_texts:
        val_texts, val_y = _known_val(model.labels_, train.multi_label, val_texts, val_y, say)
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


def _load_splits(data, val, val_fraction, seed, cols, say):
    """Training rows and validation rows (``val`` file, or a hold-out of ``data``)."""
    from affectkit.io import read_labelled

    train = read_labelled(data, *cols)
    for note in train.notes:
        say(f"note: {note}")
    texts, y = train.texts, train.y
    if val is not None:
        v = read_labelled(val, *cols)
        val_texts, val_y = v.texts, v.y
    elif val_fraction > 0 and len(texts) >= 20:
        tr_idx, va_idx = _split(len(texts), val_fraction, seed)
        val_texts, val_y = [texts[i] for i in va_idx], [y[i] for i in va_idx]
        texts, y = [texts[i] for i in tr_idx], [y[i] for i in tr_idx]
    else:
        val_texts, val_y = [], []
    if len(texts) < 2:
        raise InvalidInputError(f"{Path(data).name} has {len(texts)} labelled rows; training needs at least 2.")
    return train, texts, y, val_texts, val_y


def _known_val(labels, multi, val_texts, val_y, say):
    """Validation rows whose labels the model knows."""
    known = set(labels)
    keep = [i for i, v in enumerate(val_y) if (set(v) <= known if multi else v in known)]
    if len(keep) < len(val_y):
        say(f"note: {len(val_y) - len(keep)} validation rows have labels unseen in training; skipped")
    return [val_texts[i] for i in keep], [val_y[i] for i in keep]


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
    train, texts, y, val_texts, val_y = _load_splits(
        data, val, val_fraction, seed, (text_col, label_col, labels_col, label_cols), say
    )
    if val_texts:
        val_texts, val_y = _known_val(set().union(*map(set, y)) if train.multi_label else set(y),
                                      train.multi_label, val_texts, val_y, say)
    say(f"training {arch} on {len(texts)} texts ({'multi' if train.multi_label else 'single'}-label), "
        f"{len(val_texts)} validation texts")
    model = cls(task=task, multi_label=train.multi_label, max_epochs=epochs, random_state=seed, **(params or {}))
    start = time.perf_counter()
    model.fit(texts, y, val_texts or None, val_y or None, labels=train.labels)
    seconds = time.perf_counter() - start
    for rec in model.history_:
        say("epoch " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
    validation: dict[str, float] = {}
    if val_texts:
        validation = evaluate([model], val_texts, val_y, data_name="validation").results[0].metrics
    path = model.save(out_dir)
    write_model_card(
        path,
        title=f"affectkit {cls._title} {task} model",
        data=str(data),
        metrics={"validation": validation} if validation else {},
        command=None,
        extra=f"Trained for {len(model.history_)} epochs in {seconds:.0f} s.",
    )
    return {"path": str(path), "validation": validation, "labels": list(model.labels_),
            "epochs": len(model.history_), "seconds": seconds}


def train_ensemble(
    data: str | Path,
    out_dir: str | Path,
    *,
    members: Sequence[Any],
    mode: str = "soft",
    weights: Sequence[float] | None = None,
    objective: str | None = None,
    text_col: str = "text",
    label_col: str | None = None,
    labels_col: str | None = None,
    label_cols: Sequence[str] | None = None,
    val: str | Path | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Tune an :class:`EnsembleAnalyzer` of fitted ``members`` on labelled rows and save it.

    The rows of ``data`` are the validation data that tune the weights (soft, hard) or fit
    the stacker (stacking); with ``val`` given, ``val`` tunes and ``data`` is only scored.
    Members are never re-trained. The card records the members, the weights, the scores on
    the tuning rows (optimistic), 2-fold cross-fitted scores on them (tuned on one half,
    scored on the other) and, with ``val``, the scores on ``data``.
    """
    from affectkit.analyzers.ensemble import EnsembleAnalyzer, crossfit_proba
    from affectkit.evaluation import evaluate, indicator, score_multi, score_single
    from affectkit.io import read_labelled

    say = log or logger.info
    cols = (text_col, label_col, labels_col, label_cols)
    rows = read_labelled(val if val is not None else data, *cols)
    for note in rows.notes:
        say(f"note: {note}")
    model = EnsembleAnalyzer(list(members), mode=mode, weights=weights, objective=objective)
    model._resolve()
    texts, y = _known_val(model.labels_, model.multi_label_, rows.texts, rows.y, say)
    if len(texts) < 2:
        raise InvalidInputError(
            f"{Path(val if val is not None else data).name} has {len(texts)} usable labelled rows; "
            f"tuning an ensemble needs at least 2."
        )
    say(f"tuning a {mode} ensemble of {len(model.members_)} members on {len(texts)} texts")
    probas = model.member_proba(texts)
    model.fit_proba(probas, y)

    def scored(pred: Any) -> dict[str, float]:
        if model.multi_label_:
            return score_multi(indicator(y, model.labels_), pred)[0]
        return score_single([str(v) for v in y], list(pred), model.labels_)

    metrics: dict[str, Any] = {"tuning rows (optimistic)": scored(model._labels_from_proba(model.combine(probas)))}
    tuned = mode == "stacking" or weights is None
    if tuned and len(texts) >= 20:
        try:
            _, pred, _ = crossfit_proba(model, probas, y, n_splits=2, seed=seed)
        except ValueError as exc:  # e.g. a class with a single row cannot be stratified
            say(f"note: no cross-fitted scores ({exc})")
        else:
            metrics["tuning rows (2-fold cross-fitted)"] = scored(pred)
    if val is not None:
        held = read_labelled(data, *cols)
        h_texts, h_y = _known_val(model.labels_, model.multi_label_, held.texts, held.y, say)
        if h_texts:
            metrics["data"] = evaluate([model], h_texts, h_y, data_name="data").results[0].metrics
    path = model.save(out_dir)
    names = [model._member_name(i) for i in range(len(model.members_))]
    described = ", ".join(f"{n} (weight {w:.3f})" for n, w in zip(names, model.weights_, strict=True))
    write_model_card(
        path,
        title=f"affectkit {mode} ensemble ({model.tags.task})",
        data=str(val if val is not None else data),
        metrics=metrics,
        command=None,
        extra=f"Members: {described}."
        + (" The weights are unused: a logistic-regression stacker combines the members." if mode == "stacking" else ""),
    )
    return {"path": str(path), "validation": metrics.get("tuning rows (2-fold cross-fitted)",
                                                         metrics["tuning rows (optimistic)"]),
            "metrics": metrics, "labels": list(model.labels_), "weights": [float(w) for w in model.weights_],
            "members": names}


def write_model_card(
    path: str | Path,
    *,
    title: str,
    data: str,
    metrics: dict[str, Any],
    command: str | None,
    licence: str = "Apache-2.0 (code); see the data's own terms for the weights",
    extra: str = "",
) -> Path:
    """Write ``README.md`` (the model card) and record the card's facts in ``config.json``."""
    path = Path(path)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    card = {"title": title, "data": data, "metrics": metrics, "command": command, "licence": licence}
    config["card"] = card
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    lines = [
        f"# {title}",
        "",
        f"- affectkit version: {config.get('affectkit_version')}; format version {config.get('format_version')}",
        f"- analyzer: `{config.get('analyzer')}`; task: `{config.get('task')}`; multi-label: {config.get('multi_label')}",
        f"- labels: {', '.join(config.get('labels', []))}",
        f"- parameters: `{json.dumps(config.get('params', {}), sort_keys=True)}`",
        f"- training data: {data}",
        f"- licence: {licence}",
        f"- size on disk: {size / 1e6:.1f} MB",
        "",
        "## Metrics",
        "",
    ]
    if metrics:
        for split, values in metrics.items():
            if isinstance(values, dict):
                lines.append(f"- {split}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()))
            else:
                lines.append(f"- {split}: {values}")
    else:
        lines.append("- none recorded")
    if command:
        lines += ["", "## Reproduce", "", "```", command, "```"]
    if extra:
        lines += ["", extra.strip()]
    (path / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path / "README.md"

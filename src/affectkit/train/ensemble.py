"""Tune an ensemble of fitted analyzers on a user's labelled file (``affectkit train --arch ensemble``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from affectkit.exceptions import InvalidInputError
from affectkit.train.card import write_model_card
from affectkit.train.data import known_val

logger = logging.getLogger(__name__)

__all__ = ["train_ensemble"]


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
    from affectkit.evaluation import evaluate
    from affectkit.io import read_labelled
    from affectkit.metrics import indicator, score_multi, score_single

    say = log or logger.info
    cols = (text_col, label_col, labels_col, label_cols)
    rows = read_labelled(val if val is not None else data, *cols)
    for note in rows.notes:
        say(f"note: {note}")
    model = EnsembleAnalyzer(list(members), mode=mode, weights=weights, objective=objective)
    model.resolve_members()
    texts, y = known_val(model.labels_, model.multi_label_, rows.texts, rows.y, say)
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

    metrics: dict[str, Any] = {"tuning rows (optimistic)": scored(model.labels_from_proba(model.combine(probas)))}
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
        h_texts, h_y = known_val(model.labels_, model.multi_label_, held.texts, held.y, say)
        if h_texts:
            metrics["data"] = evaluate([model], h_texts, h_y, data_name="data").results[0].metrics
    path = model.save(out_dir)
    names = [model.member_name(i) for i in range(len(model.members_))]
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

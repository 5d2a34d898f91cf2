"""The one training loop of affectkit's torch models, and its small parts.

Every torch model we train (the neural analyzers, fine-tuned and multi-task transformers, the
speech-emotion heads) goes through :func:`fit_loop`: per epoch, ``model.train()``, the epoch's
batches, for each one ``loss.backward()``, optional gradient clipping, ``optimizer.step()``,
``scheduler.step()`` and ``optimizer.zero_grad(set_to_none=True)``; then the epoch's record
(``epoch``, ``train_loss``, ``seconds`` and what ``evaluate`` returns), :class:`EarlyStopping`
(keeps the best epoch's weights and restores them at the end) and the stop conditions.

The parts a caller combines with it: :func:`param_groups` (weight decay except on biases and
layer norms, a separate learning rate for the head), :func:`warmup_schedule` (linear warm-up,
then linear decay to zero) and :func:`class_weights` (loss weights against class imbalance).

torch is imported inside the functions (the ``[train]`` extra), never at import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from affectkit.exceptions import require

logger = logging.getLogger(__name__)

__all__ = ["NO_DECAY", "EarlyStopping", "class_weights", "fit_loop", "format_record", "param_groups",
           "warmup_schedule"]

#: Parameter names (substrings) that get no weight decay: biases and layer norms.
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight")


def _torch() -> Any:
    return require("torch", "train", "Training")


def param_groups(
    model: Any,
    weight_decay: float,
    *,
    body: str | None = "encoder.",
    no_decay: tuple[str, ...] = NO_DECAY,
    head_lr: float | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: the body's parameters with ``weight_decay`` except those whose
    name contains one of ``no_decay`` (decay 0); the head's (parameters outside ``body``, a name
    prefix) with decay 0 and learning rate ``head_lr`` (default: the optimizer's). With
    ``body=None`` every parameter is body. Empty groups are left out; order is the model's."""
    named = list(model.named_parameters())
    body_params = [(n, p) for n, p in named if body is None or n.startswith(body)]
    head = [p for n, p in named if body is not None and not n.startswith(body)]
    groups = [
        {"params": [p for n, p in body_params if not any(k in n for k in no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in body_params if any(k in n for k in no_decay)], "weight_decay": 0.0},
        {"params": head, "weight_decay": 0.0, **({"lr": head_lr} if head_lr is not None else {})},
    ]
    return [g for g in groups if g["params"]]


def warmup_schedule(optimizer: Any, total_steps: int, warmup: float) -> Any:
    """A ``LambdaLR``: the learning rate rises linearly over the first ``warmup`` fraction of
    ``total_steps`` (at least one step), then falls linearly to zero at ``total_steps``."""
    torch = _torch()
    warm = max(1, int(total_steps * warmup))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (total_steps - step) / max(1, total_steps - warm)))
    )


def class_weights(y: np.ndarray, n_classes: int, kind: str = "balanced") -> np.ndarray:
    """Loss weights per class from class indices ``y`` (float64).

    ``"balanced"``: ``n / (n_classes * count)`` (scikit-learn's; a class absent from ``y`` counts 1);
    ``"sqrt"``: ``1 / sqrt(count)`` scaled so that the mean weight over the rows of ``y`` is 1.
    """
    counts = np.bincount(np.asarray(y), minlength=n_classes).astype(np.float64)
    if kind == "balanced":
        return len(y) / (n_classes * np.maximum(counts, 1))
    if kind == "sqrt":
        w = 1.0 / np.sqrt(np.maximum(counts, 1.0))
        return w / (w * counts).sum() * counts.sum()
    raise ValueError(f"class_weights: kind must be 'balanced' or 'sqrt'. Got {kind!r}.")


def format_record(record: dict[str, Any]) -> str:
    """``"epoch 1, train_loss 0.6931, ..."``: a history record on one line."""
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items())


class EarlyStopping:
    """Tracks the best epoch by ``key`` (a record -> number or tuple; higher is better), keeps a
    copy of its weights (``keep_state``), and says when ``patience`` epochs in a row did not
    improve by more than ``min_delta`` (``patience=None``: never stop).

    ``name`` names what is monitored in the log line of an early stop.
    """

    def __init__(self, key: Callable[[dict[str, Any]], Any], patience: int | None, *, min_delta: float = 0.0,
                 keep_state: bool = True, name: str = "loss"):
        self.key = key
        self.patience = patience
        self.min_delta = min_delta
        self.keep_state = keep_state
        self.name = name
        self.best: dict[str, Any] | None = None
        self.best_state: dict[str, Any] | None = None
        self.stale = 0

    @classmethod
    def lowest(cls, field: str, patience: int | None, **kwargs: Any) -> EarlyStopping:
        """Monitor ``record[field]``, lower is better (a loss)."""
        return cls(lambda r: -r[field], patience, **kwargs)

    def update(self, record: dict[str, Any], model: Any) -> bool:
        """Record an epoch; True when it is the best so far (its weights are then kept)."""
        if self.best is not None:
            now, best = self.key(record), self.key(self.best)
            if not (now > best + self.min_delta if self.min_delta else now > best):
                self.stale += 1
                return False
        self.best, self.stale = record, 0
        if self.keep_state:
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.stale >= self.patience

    def restore(self, model: Any) -> None:
        """Load the best epoch's weights into ``model`` (if any were kept)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def fit_loop(
    model: Any,
    batches: Callable[[int], Iterable[Any]],
    step_loss: Callable[[Any, Any], Any],
    *,
    optimizer: Any,
    epochs: int,
    scheduler: Any = None,
    clip_norm: float | None = None,
    evaluate: Callable[[], dict[str, Any]] | None = None,
    stopping: EarlyStopping | None = None,
    mean: str = "batches",
    max_steps: int | None = None,
    max_seconds: float | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
    on_epoch: Callable[[dict[str, Any], bool], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` for up to ``epochs`` epochs; return the history (one record per epoch).

    ``batches(epoch)`` gives the epoch's batches (epochs count from 1), called after
    ``model.train()``; ``step_loss(model, batch)`` returns the batch's loss tensor. The record's
    ``train_loss`` is the mean of the batch losses (``mean="batches"``) or weighted by
    ``len(batch)`` (``mean="examples"``). After each epoch ``evaluate()`` adds its values to the
    record and ``stopping`` sees it; ``on_epoch(record, improved)`` runs last. Training stops
    early when ``stopping`` says so, after ``max_seconds`` of training or ``max_steps`` steps;
    at the end the best epoch's weights are restored (when ``stopping`` kept them) and the
    model is left in eval mode.
    """
    torch = _torch()
    say = log or logger.info
    history: list[dict[str, Any]] = []
    step = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, count, out_of_time = 0.0, 0, False
        for batch in batches(epoch):
            if max_steps is not None and step >= max_steps:
                break
            loss = step_loss(model, batch)
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(loss.detach())
            n = len(batch) if mean == "examples" else 1
            total += value * n
            count += n
            step += 1
            if on_step is not None:
                on_step(epoch, step, value)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                out_of_time = True
                break
        record: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(1, count),
                                  "seconds": time.perf_counter() - start}
        if evaluate is not None:
            record.update(evaluate())
        history.append(record)
        improved = stopping.update(record, model) if stopping is not None and evaluate is not None else False
        if on_epoch is not None:
            on_epoch(record, improved)
        if stopping is not None and stopping.should_stop:
            say(f"early stop: no improvement of the validation {stopping.name} for {stopping.patience} epochs")
            break
        if out_of_time:
            say(f"stopped after the time limit of {max_seconds} s")
            break
        if max_steps is not None and step >= max_steps:
            break
    if stopping is not None:
        stopping.restore(model)
    model.eval()
    return history

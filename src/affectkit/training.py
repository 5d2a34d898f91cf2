"""Deprecated: the training entry points moved to :mod:`affectkit.train`.

Use ``affectkit.train.classic.train_classic``, ``affectkit.train.neural.train_neural``,
``affectkit.train.ensemble.train_ensemble`` and ``affectkit.train.card.write_model_card``.
This module only re-exports them.
"""

from __future__ import annotations

from affectkit.train.card import write_model_card
from affectkit.train.classic import train_classic
from affectkit.train.ensemble import train_ensemble
from affectkit.train.neural import train_neural

__all__ = ["train_classic", "train_neural", "train_ensemble", "write_model_card"]

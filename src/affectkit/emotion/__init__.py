"""Emotion taxonomy: fine-grained GoEmotions labels -> Ekman 6 + neutral -> polarity."""

from affectkit.emotion.taxonomy import EKMAN_MAP, POLARITY_MAP, coarsen, coarsen_proba

__all__ = ["EKMAN_MAP", "POLARITY_MAP", "coarsen", "coarsen_proba"]

"""Speech emotion: audio front end, acoustic model, text branch and late fusion (``[audio]`` extra).

``affectkit.load("audio")`` gives the fused speech + text recogniser; ``affectkit.load("speech-emotion")``
the acoustic branch alone. Both answer over 7 classes: anger, disgust, fear, joy, neutral, sadness,
surprise.
"""

from __future__ import annotations

__all__ = ["EMOTIONS7"]

EMOTIONS7 = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

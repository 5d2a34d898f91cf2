"""Shared fixtures: small models trained once per session on text we wrote ourselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Text written for these tests (not taken from any data set).
POSITIVE = [
    "I love this phone, the screen is gorgeous",
    "What a wonderful day, thank you all!",
    "Great service and friendly staff :)",
    "Best purchase I have made this year",
    "The food was delicious and the view amazing",
    "Absolutely fantastic, would recommend to everyone",
    "So happy with how this turned out 😍",
    "Brilliant performance, I enjoyed every minute",
]
NEGATIVE = [
    "I hate waiting, this delivery is so late",
    "Terrible quality, it broke after a day",
    "The staff were rude and the room was dirty :(",
    "Worst movie I have ever seen",
    "Awful experience, never buying again",
    "This is disappointing and a waste of money",
    "I am so angry about the cancelled flight",
    "Horrible noise all night, could not sleep",
]
NEUTRAL = [
    "The meeting is at three on Tuesday",
    "The package contains a charger and a cable",
    "She moved to Lisbon last spring",
    "The store opens at nine",
    "This model comes in blue and grey",
    "The report has four sections",
    "We took the train to the city",
    "The manual is available online",
]
SENTIMENT_TEXTS = POSITIVE + NEGATIVE + NEUTRAL
SENTIMENT_Y = ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8

EMOTION_TEXTS = [
    "Thank you so much for the help!", "Thanks a lot, really kind of you",
    "I am furious about this", "This makes me so angry",
    "I'm scared of what comes next", "That noise frightened me",
    "Haha that is hilarious", "LOL this is so funny",
    "I miss her so much, it hurts", "Feeling sad and lonely tonight",
    "Wow, I did not expect that!", "What a surprise, really?",
    "The bus leaves at noon", "It is a table with four legs",
    "Thank you, that was hilarious", "I'm angry and scared at the same time",
]  # fmt: skip
EMOTION_Y = [
    ("gratitude",), ("gratitude",), ("anger",), ("anger",), ("fear",), ("fear",),
    ("amusement",), ("amusement",), ("sadness",), ("sadness",), ("surprise",), ("surprise",),
    ("neutral",), ("neutral",), ("gratitude", "amusement"), ("anger", "fear"),
]  # fmt: skip

TINY_FEATURES = {"max_word_features": 2000, "max_char_features": 2000, "min_df": 1, "char_ngrams": [2, 4]}


@pytest.fixture(scope="session")
def tiny_models():
    """name -> fitted analyzer, for each estimator, single- and multi-label."""
    from affectkit.analyzers.classic import ClassicAnalyzer

    models = {}
    for est in ("logreg", "svm", "nb", "tree"):
        models[f"tiny-sentiment-{est}"] = ClassicAnalyzer(est, features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
        models[f"tiny-emotion-{est}"] = ClassicAnalyzer(
            est, task="emotion", multi_label=True, features=TINY_FEATURES
        ).fit(EMOTION_TEXTS, EMOTION_Y)
    return models


def shared_data_dir() -> Path | None:
    env = os.environ.get("AFFECTKIT_DATA")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[1]
    candidates += [root.parent / "shared" / "data", root / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not present")
    return d

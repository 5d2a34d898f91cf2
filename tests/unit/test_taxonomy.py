import json

import numpy as np
import pytest

from affectkit.emotion.taxonomy import EKMAN_MAP, POLARITY_MAP, coarsen, coarsen_proba
from affectkit.labels import EMOTION_LABELS


def test_mappings_match_goemotions_files(data_dir):
    ekman = json.loads((data_dir / "goemotions" / "ekman_mapping.json").read_text())
    polarity = json.loads((data_dir / "goemotions" / "sentiment_dict.json").read_text())
    for coarse, fines in ekman.items():
        assert all(EKMAN_MAP[f] == coarse for f in fines)
    for coarse, fines in polarity.items():
        assert all(POLARITY_MAP[f] == coarse for f in fines)
    labels = (data_dir / "goemotions" / "emotions.txt").read_text().split()
    assert tuple(labels) == EMOTION_LABELS


def test_coarsen_levels_never_contradict():
    rng = np.random.default_rng(0)
    for _ in range(50):
        chosen = tuple(rng.choice(EMOTION_LABELS, size=rng.integers(0, 4), replace=False))
        ekman = coarsen(chosen, "ekman")
        polarity = coarsen(chosen, "polarity")
        assert set(ekman) == {EKMAN_MAP[c] for c in chosen}
        assert set(polarity) == {POLARITY_MAP[c] for c in chosen}


def test_coarsen_proba_is_max_of_members():
    p = np.zeros((1, 28))
    p[0, EMOTION_LABELS.index("annoyance")] = 0.7
    p[0, EMOTION_LABELS.index("anger")] = 0.2
    scores, names = coarsen_proba(p, EMOTION_LABELS, "ekman")
    assert scores[0, names.index("anger")] == pytest.approx(0.7)
    scores, names = coarsen_proba(p, EMOTION_LABELS, "polarity")
    assert scores[0, names.index("negative")] == pytest.approx(0.7)


def test_unknown_level():
    with pytest.raises(ValueError, match="'level'"):
        coarsen(["joy"], "plutchik")

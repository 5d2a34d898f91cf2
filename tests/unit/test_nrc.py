import numpy as np
import pytest

import affectkit
from affectkit.exceptions import InvalidInputError

pytest.importorskip("nrclex")


def test_terms_must_be_accepted(monkeypatch):
    monkeypatch.delenv("AFFECTKIT_ACCEPT_NRC_TERMS", raising=False)
    with pytest.raises(InvalidInputError, match="non-commercial") as info:
        affectkit.load("nrc").predict_proba(["I am afraid"])
    assert "accept_terms=True" in str(info.value)


def test_terms_accepted_by_environment(monkeypatch):
    monkeypatch.setenv("AFFECTKIT_ACCEPT_NRC_TERMS", "1")
    assert affectkit.load("nrc").predict(["happy"]).shape == (1, 8)


def test_scores_and_negation(caplog):
    m = affectkit.load("emotion-lexicon-nrc", accept_terms=True)
    p = m.predict_proba(["I am so happy and joyful", "I am not happy", "the table"])
    joy = m.labels_.index("joy")
    assert p[0, joy] == pytest.approx(0.75) and p[1, joy] == 0 and p[2].sum() == 0
    assert "non-commercial" in caplog.text


def test_acceptance_is_not_saved(tmp_path, monkeypatch):
    monkeypatch.delenv("AFFECTKIT_ACCEPT_NRC_TERMS", raising=False)
    affectkit.load("nrc", accept_terms=True).save(tmp_path)
    with pytest.raises(InvalidInputError):
        affectkit.load(tmp_path).predict_proba(["x"])
    np.testing.assert_array_equal(affectkit.load(tmp_path, accept_terms=True).predict_proba(["sad"]).shape, (1, 8))

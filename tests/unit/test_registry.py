import numpy as np
import pytest

import affectkit
from affectkit.exceptions import ModelFormatError, UnknownModelError


def test_unknown_name_lists_known_models():
    with pytest.raises(UnknownModelError) as info:
        affectkit.load("sentimant")
    msg = str(info.value)
    assert "Did you mean 'sentiment'" in msg
    assert "lexicon" in msg and "classic" in msg


def test_unknown_error_is_a_key_error():
    with pytest.raises(KeyError):
        affectkit.load("no-such-model")


def test_missing_path(tmp_path):
    with pytest.raises(UnknownModelError, match="does not exist"):
        affectkit.load(str(tmp_path / "nothing-here") + "/")


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelFormatError, match="no config.json"):
        affectkit.load(tmp_path)


def test_future_format_version(tmp_path):
    m = affectkit.load("lexicon")
    m.save(tmp_path)
    cfg = (tmp_path / "config.json").read_text().replace('"format_version": 1', '"format_version": 99')
    (tmp_path / "config.json").write_text(cfg)
    with pytest.raises(ModelFormatError, match="format_version 99"):
        affectkit.load(tmp_path)


def test_aliases_resolve():
    assert affectkit.load("vader").tags.generation == "lexicon"
    assert affectkit.load("classic").tags.generation == "classic"
    s = affectkit.load("sentiment")
    assert s.labels_ == ("negative", "neutral", "positive")
    assert s.tags.generation == "transformer"
    e = affectkit.load("emotion")
    assert e.labels_ == affectkit.EMOTION_LABELS and e.tags.multi_label
    assert e.tags.generation == "transformer"
    assert affectkit.load("emotion-classic").tags.generation == "classic"


def test_params_at_load():
    texts = ["thank you so much", "I am furious", "what a surprise"]
    e = affectkit.load("emotion", threshold=0.9)
    assert e.threshold == 0.9
    np.testing.assert_array_equal(e.predict(texts), affectkit.load("emotion").predict(texts, threshold=0.9))
    assert affectkit.load("emotion", threshold=0.0).predict(texts).all()


def test_bad_param_at_load():
    with pytest.raises(ValueError, match="has no parameter 'treshold'"):
        affectkit.load("emotion", treshold=0.9)


def test_every_model_has_a_description():
    for spec in affectkit.list_models():
        assert spec.description and spec.task in ("sentiment", "emotion", "speech-emotion")


def test_model_directory_names_its_module_and_only_affectkit_modules_are_imported_from_it(tmp_path):
    import json
    import sys

    from affectkit.registry import analyzer_class

    path = affectkit.load("lexicon").save(tmp_path / "lex")
    config = json.loads((path / "config.json").read_text())
    assert config["module"] == "affectkit.analyzers.lexicon"
    # a directory cannot make the registry import a module outside affectkit's analyzer packages
    assert "this" not in sys.modules
    with pytest.raises(ModelFormatError, match="no-such-kind"):
        analyzer_class("no-such-kind", module="this")
    assert "this" not in sys.modules

"""Bad input never gives a traceback: a clear result or a clear error (property tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import affectkit
from affectkit.exceptions import InvalidInputError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=["lexicon", "sentiment", "emotion", "tiny-sentiment-logreg", "tiny-emotion-svm",
                                        "tiny-sentiment-tree"])
def model(request, tiny_models):
    return tiny_models.get(request.param) or affectkit.load(request.param)


def _check(model, texts):
    proba = model.predict_proba(texts)
    assert proba.shape == (len(texts), len(model.labels_))
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    return proba


@SETTINGS
@given(texts=st.lists(st.text(max_size=200), max_size=8))
def test_any_unicode_text(model, texts):
    _check(model, texts)
    results = model.analyze(texts)
    assert len(results) == len(texts)


@SETTINGS
@given(text=st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003"), max_size=50))
def test_whitespace_is_an_empty_result(model, text):
    r = model.analyze(text)
    assert r.empty
    assert "empty text" in r.warnings


@SETTINGS
@given(text=st.text(alphabet=st.characters(codec="utf-8", categories=("So", "Sk", "Cs")), min_size=1, max_size=30))
def test_emoji_and_symbols_only(model, text):
    _check(model, [text])


@SETTINGS
@given(text=st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), min_size=1, max_size=30))
def test_control_characters(model, text):
    r = model.analyze(text)
    assert "\x00" not in r.text
    assert set(r.scores) == set(model.labels_)


@SETTINGS
@given(raw=st.binary(max_size=100))
def test_arbitrary_bytes(model, raw):
    r = model.analyze(raw)
    assert isinstance(r.text, str)
    assert isinstance(r.text.encode("utf-8"), bytes)  # always encodable after repair
    assert r.empty == (not r.text.strip())


@pytest.mark.parametrize("missing", [None, float("nan"), np.float64("nan")])
def test_missing_values_in_a_list(model, missing):
    texts = ["good", missing, "bad"]
    proba = _check(model, texts)
    empty = _check(model, [""])
    np.testing.assert_allclose(proba[1], empty[0])
    results = model.analyze(texts)
    assert results[1].empty and not results[0].empty
    assert any("missing" in w for w in results[1].warnings)


def test_pandas_series_with_nan(model):
    pd = pytest.importorskip("pandas")
    s = pd.Series(["great", None, math.nan, pd.NA, "awful"])
    proba = _check(model, s)
    assert proba.shape[0] == 5


def _long_text(model, size):
    text = ("The battery life is great but the screen scratches easily. " * 20_000)[:size]
    r = model.analyze(text)
    assert len(r.text) == len(text) == size  # nothing silently cut
    assert np.isfinite(list(r.scores.values())).all()
    if model.tags.generation == "transformer":
        assert r.segments[0].start == 0 and r.segments[-1].end == len(text.rstrip())


def test_one_megabyte_text(model):
    # the transformer scores 1 MB as about 1,500 segments (13 s here): the full size runs with -m slow
    _long_text(model, 50_000 if model.tags.generation == "transformer" else 1_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sentiment", "emotion"])
def test_one_megabyte_text_transformer(name):
    _long_text(affectkit.load(name), 1_000_000)


@pytest.mark.parametrize("bad", [42, 3.5, ["nested"], {"a": 1}, object()])
def test_non_text_items_are_clear_errors(model, bad):
    with pytest.raises(InvalidInputError, match=r"texts\[1\] must be a str"):
        model.predict_proba(["ok", bad])


@pytest.mark.parametrize("bad", [None, 42])
def test_non_list_inputs_are_clear_errors(model, bad):
    with pytest.raises(InvalidInputError, match="must be a list of texts"):
        model.predict_proba(bad)


def test_threshold_validation(tiny_models):
    m = tiny_models["tiny-emotion-logreg"]
    with pytest.raises(InvalidInputError, match=r"must be in \[0, 1\]. Got 1.5"):
        m.predict(["x"], threshold=1.5)
    with pytest.raises(InvalidInputError, match="unknown labels"):
        m.predict(["x"], threshold={"nope": 0.3})
    with pytest.raises(InvalidInputError, match="sequence of"):
        m.predict(["x"], threshold=[0.5, 0.5])
    per_label = m.predict(["x"], threshold={m.labels_[0]: 0.0})
    assert per_label[0, 0] == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_reading_files_with_arbitrary_bytes(tmp_path_factory, body, suffix):
    from affectkit.io import read_table

    path = tmp_path_factory.mktemp("bytes") / f"input{suffix}"
    header = b'{"text": "ok"}\n' if suffix == ".jsonl" else b"text\n"
    path.write_bytes(header + body)
    try:
        table = read_table(path)
    except InvalidInputError as exc:  # a clear error (e.g. a line that is not JSON), never a crash
        assert suffix == ".jsonl" and "line" in str(exc)
        return
    for row in table.rows:
        for value in row.values():
            assert value is None or isinstance(value, str | int | float | bool | list | dict)

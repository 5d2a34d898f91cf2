"""Declared parameter constraints (affectkit.params) and the analyzers that declare them."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest

import affectkit
from affectkit.analyzers.classic.model import ClassicAnalyzer
from affectkit.analyzers.ensemble import EnsembleAnalyzer
from affectkit.analyzers.hf import HFAnalyzer
from affectkit.analyzers.lexicon import VaderAnalyzer
from affectkit.analyzers.nrc import NRCEmotionAnalyzer
from affectkit.analyzers.transformer import TransformerAnalyzer
from affectkit.exceptions import InvalidInputError
from affectkit.explain import explain
from affectkit.params import Interval, Options, describe, validate_params


def ok(constraints: list[object], value: object) -> bool:
    try:
        validate_params("Owner", {"p": value}, {"p": constraints})
    except InvalidInputError:
        return False
    return True


# -- the constraints ------------------------------------------------------------------------
def test_interval_bounds_and_closedness():
    assert ok([Interval(float, 0, 1)], 0) and ok([Interval(float, 0, 1)], 1.0)
    assert not ok([Interval(float, 0, 1, closed="neither")], 0)
    assert not ok([Interval(float, 0, 1, closed="neither")], 1)
    assert ok([Interval(float, 0, 1, closed="left")], 0) and not ok([Interval(float, 0, 1, closed="left")], 1)
    assert not ok([Interval(float, 0, 1, closed="right")], 0) and ok([Interval(float, 0, 1, closed="right")], 1)
    assert ok([Interval(float, None, None)], -1e300) and ok([Interval(float, 0, None, closed="neither")], 1e300)
    assert not ok([Interval(float, 0, 1)], 1.0000001) and not ok([Interval(float, 0, 1)], -0.1)


def test_interval_kinds():
    assert ok([Interval(float, 0, None)], 3)  # a real-number interval takes ints
    assert not ok([Interval(int, 0, None)], 3.0)  # an int interval takes no floats, even whole ones
    assert ok([Interval(int, 1, None)], np.int64(5)) and ok([Interval(float, 0, 1)], np.float32(0.5))
    assert not ok([Interval(int, 1, None)], "5") and not ok([Interval(float, 0, 1)], None)
    with pytest.raises(ValueError):
        Interval(str, 0, 1)
    with pytest.raises(ValueError):
        Interval(int, 0, 1, closed="open")


@pytest.mark.parametrize("constraint", [Interval(int, None, None), Interval(float, None, None), int, float])
def test_bool_is_never_a_number(constraint):
    assert not ok([constraint], True) and not ok([constraint], False)
    assert not ok([constraint], np.bool_(True))


def test_nan_is_rejected_by_intervals():
    assert not ok([Interval(float, None, None)], float("nan"))
    assert not ok([Interval(float, 0, 1)], math.nan) and not ok([Interval(float, 0, 1)], np.float64("nan"))


def test_options_boolean_none_types_callable():
    assert ok([Options(("a", "b"))], "a") and not ok([Options(("a", "b"))], "c")
    assert not ok([Options((1, 2))], True) and not ok([Options((1, 2))], 1.0)  # same value, other type
    assert ok(["boolean"], True) and ok(["boolean"], False)
    assert not ok(["boolean"], 1) and not ok(["boolean"], 0) and not ok(["boolean"], "yes")
    assert ok([None], None) and not ok([None], 0) and not ok([None], "")
    assert ok([str], "x") and not ok([str], b"x")
    assert ok([int], 3) and not ok([int], 3.0) and ok([float], 3) and ok([float], 0.5)
    assert ok([dict], {}) and not ok([dict], [])
    assert ok([Path], Path("x")) and not ok([Path], "x")
    assert ok(["callable"], len) and not ok(["callable"], 3)
    assert ok([Interval(int, 1, None), None], None) and ok([Interval(int, 1, None), None], 4)


def test_unknown_constraint_is_a_bug():
    with pytest.raises(TypeError, match="Unknown parameter constraint"):
        validate_params("Owner", {"p": 1}, {"p": ["positive"]})


def test_names_without_constraints_are_not_checked():
    validate_params("Owner", {"free": object(), "p": 2}, {"p": [int]})


def test_the_first_invalid_value_is_reported():
    with pytest.raises(InvalidInputError, match="'a'"):
        validate_params("Owner", {"a": -1, "b": -1}, {"a": [Interval(int, 0, None)], "b": [Interval(int, 0, None)]})


def test_message_names_parameter_owner_expectation_and_value():
    with pytest.raises(InvalidInputError) as info:
        validate_params("ClassicAnalyzer", {"C": -1}, {"C": [Interval(float, 0, None, closed="neither")]})
    assert str(info.value) == "The 'C' parameter of ClassicAnalyzer must be a number in (0, inf). Got -1."
    with pytest.raises(InvalidInputError) as info:
        validate_params("X", {"n": True}, {"n": [Interval(int, 1, None), None]})
    assert str(info.value) == "The 'n' parameter of X must be an int >= 1 or None. Got True."
    with pytest.raises(InvalidInputError) as info:
        validate_params("X", {"mode": "avg"}, {"mode": [Options(("soft", "hard"))]})
    assert str(info.value) == "The 'mode' parameter of X must be one of {'soft', 'hard'}. Got 'avg'."
    with pytest.raises(InvalidInputError) as info:
        validate_params("X", {"s": "x" * 500}, {"s": [int]})
    assert len(str(info.value)) < 150  # a huge value is cut short


def test_describe():
    assert describe([Interval(int, 1, None), None]) == "an int >= 1 or None"
    assert describe([Interval(float, 0, 0.5, closed="right")]) == "a number in (0, 0.5]"
    assert describe([Interval(int, 1, 10)]) == "an int in [1, 10]"
    assert describe(["boolean", None, str]) == "a bool, None or a str"


# -- the analyzers that declare constraints ---------------------------------------------------
DECLARING = [VaderAnalyzer, TransformerAnalyzer, HFAnalyzer, NRCEmotionAnalyzer, ClassicAnalyzer, EnsembleAnalyzer]
CANDIDATES = [True, -1, 0, 0.5, 3, float("nan"), "bogus", None, b"x", object()]


def _bad_values(constraints: list[object]) -> list[object]:
    return [v for v in CANDIDATES if not ok(constraints, v)]


@pytest.mark.parametrize("cls", DECLARING, ids=lambda c: c.__name__)
def test_declarations_name_real_parameters_and_accept_the_defaults(cls):
    assert cls._parameter_constraints, f"{cls.__name__} declares no constraints"
    params = inspect.signature(cls.__init__).parameters
    assert set(cls._parameter_constraints) <= set(params) - {"self"}
    defaults = {k: params[k].default for k in cls._parameter_constraints}
    validate_params(cls.__name__, defaults, cls._parameter_constraints)


def _each_bad(cls):
    return [(name, bad) for name, allowed in cls._parameter_constraints.items() for bad in _bad_values(allowed)]


TRAIN_TEXTS = ["I love it", "great fun", "I hate it", "awful mess", "it is a chair", "the bus is blue"]
TRAIN_Y = ["positive", "positive", "negative", "negative", "neutral", "neutral"]


@pytest.mark.parametrize("name,bad", _each_bad(ClassicAnalyzer))
def test_classic_rejects_each_invalid_parameter_at_fit(name, bad):
    model = ClassicAnalyzer(**{name: bad})  # nothing is checked before fit
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        model.fit(TRAIN_TEXTS, TRAIN_Y)


def test_classic_fits_with_valid_parameters():
    m = ClassicAnalyzer(features={"min_df": 1}, min_samples_leaf=0.2, max_depth=None, random_state=None).fit(
        TRAIN_TEXTS, TRAIN_Y)
    assert m.predict_proba(["great"]).shape == (1, 3)


@pytest.mark.parametrize("name,bad", _each_bad(VaderAnalyzer))
def test_vader_rejects_each_invalid_parameter(name, bad):
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        VaderAnalyzer(**{name: bad}).predict_proba(["x"])


@pytest.mark.parametrize("name,bad", _each_bad(TransformerAnalyzer))
def test_transformer_rejects_each_invalid_parameter_at_session_load(name, bad):
    model = affectkit.load("sentiment").set_params(**{name: bad})
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        model.predict_proba(["x"])


def test_transformer_batch_size_zero_via_load():
    model = affectkit.load("sentiment", batch_size=0)
    with pytest.raises(InvalidInputError, match="'batch_size' parameter of TransformerAnalyzer"):
        model.predict_proba(["x"])


@pytest.mark.parametrize("name,bad", _each_bad(HFAnalyzer))
def test_hf_rejects_each_invalid_parameter_before_loading(name, bad):
    kwargs = {"model": "nobody-here/no-such-model-xyz", "local_files_only": True, name: bad}
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        HFAnalyzer(**kwargs).predict_proba(["x"])


@pytest.mark.parametrize("name,bad", _each_bad(NRCEmotionAnalyzer))
def test_nrc_rejects_each_invalid_parameter(name, bad):
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        NRCEmotionAnalyzer(**{name: bad}).predict_proba(["x"])


@pytest.mark.parametrize("name,bad", _each_bad(EnsembleAnalyzer))
def test_ensemble_rejects_each_invalid_parameter(name, bad):
    with pytest.raises(InvalidInputError, match=f"'{name}'"):
        EnsembleAnalyzer(["lexicon", "lexicon"], **{name: bad}).predict_proba(["x"])


@pytest.mark.parametrize("bad", _bad_values([Interval(float, 0, 1), None]))
def test_abstain_is_a_margin_in_0_1(bad):
    with pytest.raises(InvalidInputError, match="'abstain' parameter of VaderAnalyzer.analyze"):
        VaderAnalyzer().analyze("x", abstain=bad)


@pytest.mark.parametrize("bad", _bad_values([Interval(int, 1, None)]))
def test_explain_max_tokens(bad):
    with pytest.raises(InvalidInputError, match="'max_tokens' parameter of explain"):
        explain(VaderAnalyzer(), "x", max_tokens=bad)

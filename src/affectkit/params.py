"""Declared parameter constraints, checked by one function with one message format.

Modelled on scikit-learn's ``_parameter_constraints``: a class declares, per parameter, the
list of things a valid value may be, and :func:`validate_params` checks a mapping of values
against it. A constraint is one of

* a type (``str``, ``dict``, ...): ``isinstance``; ``int`` and ``float`` never accept ``bool``;
* ``None``: the value ``None``;
* ``"boolean"``: ``True`` or ``False`` (not 0/1);
* ``"callable"``: any callable;
* :class:`Interval`: a real number (or an integer, with ``int``) in a range;
* :class:`Options`: one of a fixed set of values.

The message names the parameter, the owner, what was expected and what was got::

    The 'C' parameter of ClassicAnalyzer must be a float in (0, inf). Got -1.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from affectkit.exceptions import InvalidInputError

__all__ = ["Interval", "Options", "validate_params", "describe"]


@dataclass(frozen=True)
class Interval:
    """Real numbers (``kind=float``, ints accepted) or integers (``kind=int``) between ``left`` and
    ``right`` (``None``: unbounded); ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in (int, float) or self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"Interval(kind={self.kind!r}, closed={self.closed!r}) is not a valid constraint.")

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        lo_ok = self.left is None or (v >= self.left if self.closed in ("both", "left") else v > self.left)
        hi_ok = self.right is None or (v <= self.right if self.closed in ("both", "right") else v < self.right)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        lo = "-inf" if self.left is None else _num(self.left)
        hi = "inf" if self.right is None else _num(self.right)
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        if self.kind is int:
            if self.right is None and lb == "[":
                return f"an int >= {lo}"
            return f"an int in {lb}{lo}, {hi}{rb}"
        return f"a number in {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]):
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: object) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return f"one of {{{', '.join(repr(v) for v in self.values)}}}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _accepts(constraint: object, value: object) -> bool:
    if constraint is None:
        return value is None
    if constraint == "boolean":
        return isinstance(value, bool)
    if constraint == "callable":
        return callable(value)
    if isinstance(constraint, Interval | Options):
        return constraint.accepts(value)
    if isinstance(constraint, type):
        if constraint in (int, float) and isinstance(value, bool):
            return False
        if constraint is float:
            return isinstance(value, numbers.Real)
        if constraint is int:
            return isinstance(value, numbers.Integral)
        return isinstance(value, constraint)
    raise TypeError(f"Unknown parameter constraint {constraint!r}.")


def _describe_one(constraint: object) -> str:
    if constraint is None:
        return "None"
    if constraint == "boolean":
        return "a bool"
    if constraint == "callable":
        return "a callable"
    if isinstance(constraint, type):
        return {int: "an int", float: "a number", str: "a str", dict: "a dict", list: "a list",
                tuple: "a tuple"}.get(constraint, f"an instance of {constraint.__name__}")
    return str(constraint)


def describe(constraints: list[object]) -> str:
    """``[Interval(int, 1, None), None]`` -> ``"an int >= 1 or None"``."""
    parts = [_describe_one(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def validate_params(owner: str, params: Mapping[str, object], constraints: Mapping[str, list[object]]) -> None:
    """Raise :class:`~affectkit.exceptions.InvalidInputError` for the first value of ``params`` that
    no constraint of its name accepts. Names without constraints are not checked."""
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None or any(_accepts(c, value) for c in allowed):
            continue
        raise InvalidInputError(
            f"The {name!r} parameter of {owner} must be {describe(allowed)}. Got {value!r:.80}."
        )

"""Checking the parameters of a fix: one place for the rules every parameter dataclass shares."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from engine.errors import ParameterError


def params_from_dict(cls, values: Mapping[str, object], what: str):
    """Build the parameter dataclass ``cls`` from a mapping (e.g. a fix request's stored JSON);
    missing keys take their defaults.

    Raises:
        ParameterError: ``values`` is not a mapping, has unknown keys (named in the message),
            or ``cls`` refuses a value.
    """
    if not isinstance(values, Mapping):
        raise ParameterError(f"{what} parameters must be a mapping, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(key) for key in values if key not in known)
    if unknown:
        raise ParameterError(
            f"unknown {what} parameter(s): {', '.join(unknown)}; known parameters are {', '.join(sorted(known))}"
        )
    return cls(**values)


def check_number(name: str, value: object, *, low: float, high: float = math.inf, integer: bool = False) -> float:
    """``value`` as a float (an int when ``integer``), if it is a finite number in
    ``[low, high]``. Raises ``ParameterError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if integer and float(value) != int(value):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ParameterError(f"{name} must be between {low} and {high}, got {value!r}")
    return int(value) if integer else float(value)


def check_limits(instance: object, limits: Mapping[str, tuple[float, float, bool]]) -> None:
    """Check and normalise the number fields of a frozen parameter dataclass in place:
    ``limits`` maps each field name to ``(low, high, integer)`` for :func:`check_number`.

    Raises:
        ParameterError: naming the first field out of range.
    """
    for name, (low, high, integer) in limits.items():
        object.__setattr__(instance, name, check_number(name, getattr(instance, name), low=low, high=high,
                                                        integer=integer))

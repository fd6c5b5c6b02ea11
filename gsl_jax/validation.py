"""Small validators for configuration fields, shared by every config of the library.

Each takes the field's full name (``"ppo.learning_rate"``) and its value and raises a
``ValueError`` that starts with that name. They exist because the obvious checks slip: a NaN
passes ``x <= 0`` and ``x < 0``, ``inf`` passes ``x > 0``, ``True`` is an ``int`` and ``'no'`` is
truthy. Config ``__post_init__`` methods call them, so that bad input fails before anything
compiles.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_finite(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> None:
    """Require ``value`` to be a finite real number (an integer when ``integer``) in a range.

    Bools are rejected (``True`` is not the number 1 here), as are strings, ``None``, NaN and
    infinities. The range is ``[low, high]``; ``low_open`` / ``high_open`` exclude an end, and
    ``None`` leaves that side unbounded.

    Raises:
        ValueError: naming ``name``, the value and what was expected.
    """
    wanted = numbers.Integral if integer else numbers.Real
    if _is_bool(value) or not isinstance(value, wanted):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name}: must be {kind}, got {_describe(value)}")
    if not integer and not math.isfinite(float(value)):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not (too_low or too_high):
        return
    if high is None:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ValueError(f"{name}: must be {bound}, got {value!r}")
    if low is None:
        bound = f"< {high:g}" if high_open else f"<= {high:g}"
        raise ValueError(f"{name}: must be {bound}, got {value!r}")
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    raise ValueError(f"{name}: must lie in {left}{low:g}, {high:g}{right}, got {value!r}")


def check_positive(name: str, value: Any, *, integer: bool = False) -> None:
    """:func:`check_finite` with ``value > 0``."""
    check_finite(name, value, integer=integer)
    if not value > 0:
        kind = "a positive integer" if integer else "positive"
        raise ValueError(f"{name}: must be {kind}, got {value!r}")


def check_non_negative(name: str, value: Any, *, integer: bool = False) -> None:
    """:func:`check_finite` with ``value >= 0``."""
    check_finite(name, value, integer=integer)
    if not value >= 0:
        kind = "a non-negative integer" if integer else "non-negative"
        raise ValueError(f"{name}: must be {kind}, got {value!r}")


def check_bool(name: str, value: Any) -> None:
    """Require a real bool (``True``/``False``, or a numpy bool): not ``'no'``, not ``0``."""
    if not _is_bool(value):
        raise ValueError(f"{name}: must be True or False, got {_describe(value)}")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Require ``value`` to be one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: must be one of {options}, got {_describe(value)}")


def check_sizes(name: str, value: Any) -> None:
    """Require a non-empty tuple or list of positive integers (layer sizes)."""
    if not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"{name}: must be a non-empty tuple of positive integers, got {value!r}")
    for i, size in enumerate(value):
        check_positive(f"{name}[{i}]", size, integer=True)


def check_instance(name: str, value: Any, cls: type | tuple[type, ...]) -> None:
    """Require ``isinstance(value, cls)`` (nested configs)."""
    if not isinstance(value, cls):
        names = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
        raise ValueError(f"{name}: must be a {names}, got {_describe(value)}")


def check_fields(prefix: str, obj: Any, check: Any, names: Sequence[str], **kwargs: Any) -> None:
    """Run ``check(f"{prefix}.{field}", getattr(obj, field), **kwargs)`` for each field name."""
    for field in names:
        check(f"{prefix}.{field}", getattr(obj, field), **kwargs)

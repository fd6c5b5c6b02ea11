"""The plateau criterion H: when has the generalist stopped improving?

The paper leaves H unspecified. Ours works on the curve of mean training returns, one point per
logged chunk, and fires at the first point ``t`` where all of these hold:

1. at least ``min_steps`` env-steps have been taken;
2. at least ``2 * window`` points exist;
3. the smoothed return (mean of the last ``window`` points) improved by less than
   ``rel_improvement`` times the curve's range over the previous ``window`` points:

       mean(r[t-w+1 .. t]) - mean(r[t-2w+1 .. t-w])  <  rel_improvement * (max(m) - min(m))

   where ``m`` is the sequence of ``window``-point moving averages so far. Measuring progress
   against the range the curve has already covered makes the test independent of the reward
   scale and sign, and the moving average keeps episode noise from firing it early.

Independently, ``max_steps`` is a hard budget: H fires there whatever the curve does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gsl_jax.validation import check_finite, check_non_negative, check_positive


@dataclass(frozen=True)
class PlateauConfig:
    """Settings of the plateau criterion (see the module docstring).

    Attributes:
        window: points (chunks) per moving-average window.
        rel_improvement: required improvement per window, as a fraction of the curve's range.
        min_steps: never fire before this many env-steps.
        max_steps: always fire at this many env-steps (the hard phase-I budget).
    """

    window: int = 5
    rel_improvement: float = 0.05
    min_steps: int = 0
    max_steps: int = 10_000_000

    def __post_init__(self) -> None:
        check_positive("plateau.window", self.window, integer=True)
        check_finite(
            "plateau.rel_improvement", self.rel_improvement, low=0.0, high=1.0, high_open=True
        )
        check_non_negative("plateau.min_steps", self.min_steps, integer=True)
        check_positive("plateau.max_steps", self.max_steps, integer=True)
        if self.max_steps < self.min_steps:
            raise ValueError(
                f"plateau.max_steps: must be >= min_steps = {self.min_steps}, got {self.max_steps}"
            )


def plateau_reached(
    returns: Sequence[float], steps: Sequence[int], config: PlateauConfig
) -> tuple[bool, str]:
    """Whether H fires after the last point of the curve, and why.

    Args:
        returns: mean training return per logged point (NaN points, e.g. chunks in which no
            episode finished, are skipped).
        steps: env-steps at each point (same length).

    Returns:
        ``(fired, reason)`` with ``reason`` one of ``"budget"``, ``"plateau"`` or ``""``.
    """
    if len(returns) != len(steps):
        raise ValueError(f"returns: {len(returns)} points but steps has {len(steps)}")
    if not steps:
        return False, ""
    if steps[-1] >= config.max_steps:
        return True, "budget"
    if steps[-1] < config.min_steps:
        return False, ""
    r = np.asarray(returns, np.float64)
    r = r[np.isfinite(r)]
    w = config.window
    if r.size < 2 * w:
        return False, ""
    moving = np.convolve(r, np.ones(w) / w, mode="valid")  # moving[i] = mean(r[i .. i+w-1])
    improvement = moving[-1] - moving[-1 - w]
    span = moving.max() - moving.min()
    if span <= 0.0 or improvement < config.rel_improvement * span:
        return True, "plateau"
    return False, ""


# ------------------------------------------------------------------------------------------------
# Reading a finished curve (the plateau map of docs/gsl_study.md, protocol docs/gsl_protocol.md)
# ------------------------------------------------------------------------------------------------


def window_mean(curve: Sequence[float], end_fraction: float, width: float = 0.05) -> float:
    """Mean of the points of ``curve`` (one per equally spaced chunk) whose position lies in
    ``(end_fraction - width, end_fraction]`` of the run, at least the one point at
    ``end_fraction``: the smoothed value of the curve there. NaN points are skipped."""
    check_finite("end_fraction", end_fraction, low=0.0, high=1.0)
    check_finite("width", width, low=0.0, high=1.0, low_open=True)
    r = np.asarray(curve, np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"curve: expected a non-empty 1-D sequence, got shape {r.shape}")
    n = r.size
    # Rounded first so that e.g. (1 - 0.4) * 10 is 6, not 6.000000000000001.
    last = max(int(np.ceil(round(end_fraction * n, 9))) - 1, 0)  # the point at end_fraction
    first = min(max(int(np.floor(round((end_fraction - width) * n, 9))), 0), last)
    values = r[first : last + 1]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def late_gain(curve: Sequence[float], fraction: float = 0.4, width: float = 0.05) -> float:
    """How much the smoothed curve rose over the last ``fraction`` of the run:
    ``window_mean(curve, 1) - window_mean(curve, 1 - fraction)``."""
    check_finite("fraction", fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    return window_mean(curve, 1.0, width) - window_mean(curve, 1.0 - fraction, width)


def plateau_onset(curve: Sequence[float], tolerance: float, window: int = 5) -> int:
    """Index of the first point ``t`` of the ``window``-point moving average ``m`` of ``curve``
    after which ``m`` never rises more than ``tolerance`` above ``m[t]``: where the curve's
    plateau starts (the last point if it never settles). The index refers to ``curve``'s points
    (the moving average's point ``i`` is placed at the last point of its window)."""
    check_finite("tolerance", tolerance, low=0.0)
    check_positive("window", window, integer=True)
    r = np.asarray(curve, np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError("curve: expected a non-empty 1-D sequence of finite values")
    w = min(window, r.size)
    moving = np.convolve(r, np.ones(w) / w, mode="valid")
    future_max = np.maximum.accumulate(moving[::-1])[::-1]  # max of moving[t:]
    settled = np.nonzero(future_max <= moving + tolerance)[0]
    return int(settled[0]) + w - 1


def first_firing(
    returns: Sequence[float], steps: Sequence[int], config: PlateauConfig
) -> tuple[int | None, str]:
    """``(index, reason)`` of the first point of a finished curve at which :func:`plateau_reached`
    fires on the curve up to that point (``(None, "")`` if it never does): where criterion H
    would have ended phase I."""
    for i in range(1, len(returns) + 1):
        fired, reason = plateau_reached(returns[:i], steps[:i], config)
        if fired:
            return i - 1, reason
    return None, ""

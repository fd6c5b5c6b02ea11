"""The plateau criterion on synthetic curves: rising, plateaued, noisy, budget."""

import numpy as np
import pytest

from gsl_jax.plateau import (
    PlateauConfig,
    first_firing,
    late_gain,
    plateau_onset,
    plateau_reached,
    window_mean,
)

CFG = PlateauConfig(window=5, rel_improvement=0.05, min_steps=0, max_steps=10**9)


def first_fire(curve, config=CFG):
    """1-based point at which H first fires on ``curve`` (steps 1, 2, ...), and why."""
    index, reason = first_firing(list(curve), list(range(1, len(curve) + 1)), config)
    return (None if index is None else index + 1), reason


def test_rising_curve_never_fires():
    assert first_fire(np.linspace(0.0, 100.0, 60)) == (None, "")


def test_saturating_curve_fires_after_it_flattens():
    t = np.arange(80)
    curve = 100.0 * (1.0 - np.exp(-t / 8.0))  # 95% of the way up by t = 24
    fired_at, reason = first_fire(curve)
    assert reason == "plateau"
    # The moving-average gain per window drops below 5% of the range near t ~ 30.
    assert 25 <= fired_at <= 45


def test_noisy_plateau_fires_but_noisy_rise_does_not():
    rng = np.random.default_rng(0)
    t = np.arange(100)
    rise = np.minimum(t, 50) * 2.0  # rises to 100 by t = 50, then flat
    noisy = rise + rng.normal(0.0, 5.0, size=t.size)
    fired_at, reason = first_fire(noisy)
    assert reason == "plateau" and 50 <= fired_at <= 75
    assert first_fire(noisy[:50])[0] is None  # while it still rises, noise does not fire H


def test_budget_and_minimum_steps():
    flat = [1.0] * 20
    steps = [i * 1000 for i in range(1, 21)]
    cfg = PlateauConfig(window=2, min_steps=15_000, max_steps=10**9)
    assert plateau_reached(flat[:10], steps[:10], cfg) == (False, "")  # too early
    assert plateau_reached(flat[:15], steps[:15], cfg) == (True, "plateau")
    budget = PlateauConfig(window=2, max_steps=3000)
    assert plateau_reached([0.0, 50.0, 100.0], [1000, 2000, 3000], budget) == (True, "budget")


def test_nan_points_are_skipped():
    curve = [np.nan] * 5 + [1.0] * 10
    assert plateau_reached(curve, list(range(15)), CFG) == (True, "plateau")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(window=0), "plateau.window"),
        (dict(rel_improvement=1.5), "plateau.rel_improvement"),
        (dict(min_steps=10, max_steps=5), "plateau.max_steps"),
    ],
)
def test_bad_config(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PlateauConfig(**kwargs)


def test_window_mean_by_hand():
    curve = [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]  # ten equally spaced chunks
    assert window_mean(curve, 1.0, 0.2) == 5.0  # points 8, 9
    assert window_mean(curve, 0.5, 0.2) == 3.5  # points 3, 4
    assert window_mean(curve, 0.6, 0.01) == 5.0  # only the point at 60%: index 5
    assert window_mean([np.nan, 2.0], 1.0, 1.0) == 2.0  # NaN skipped
    with pytest.raises(ValueError, match="curve"):
        window_mean([], 1.0)


def test_late_gain_by_hand():
    rising = list(range(10))  # 0 .. 9
    # last point 9, point at 60% is index 5 (value 5): gain 4 with one-point windows
    assert late_gain(rising, 0.4, 0.01) == 4.0
    assert late_gain([0, 1, 2, 3, 4, 5, 5, 5, 5, 5], 0.4, 0.1) == 0.0


def test_plateau_onset_by_hand():
    curve = [0, 1, 2, 3, 4, 5, 5, 5, 5, 5]
    assert plateau_onset(curve, tolerance=0.0, window=1) == 5  # first point of the flat tail
    # window 2: moving = [.5, 1.5, 2.5, 3.5, 4.5, 5, ...]; 4.5 + 0.5 reaches the max 5 at
    # moving index 4, i.e. curve point 5
    assert plateau_onset(curve, tolerance=0.5, window=2) == 5
    assert plateau_onset(list(range(10)), tolerance=0.0, window=1) == 9  # never settles
    with pytest.raises(ValueError, match="curve"):
        plateau_onset([1.0, np.nan], 0.1)

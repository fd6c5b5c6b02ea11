"""The plateau criterion on synthetic curves: rising, plateaued, noisy, budget."""

import numpy as np
import pytest

from gsl_jax.plateau import PlateauConfig, plateau_reached

CFG = PlateauConfig(window=5, rel_improvement=0.05, min_steps=0, max_steps=10**9)


def first_fire(curve, config=CFG):
    steps = list(range(1, len(curve) + 1))
    for t in range(1, len(curve) + 1):
        fired, reason = plateau_reached(list(curve[:t]), steps[:t], config)
        if fired:
            return t, reason
    return None, ""


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

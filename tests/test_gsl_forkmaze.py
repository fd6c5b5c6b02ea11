"""The mechanism works: on ForkMaze, where one PPO policy plateaus at the easy variations' share,
GSL ends clearly above PPO at an equal budget of total env-steps (fixed seed)."""

import numpy as np
import pytest

from gsl_jax.comparison import compare_gsl_ppo
from gsl_jax.envs.forkmaze import ForkMaze
from gsl_jax.presets import FORKMAZE_GSL

pytestmark = pytest.mark.slow


def test_gsl_beats_ppo_on_forkmaze_at_equal_total_steps():
    env = ForkMaze()  # 32 variations, ids 0-3 hard
    result = compare_gsl_ppo(env, FORKMAZE_GSL, log=lambda _: None)
    s = result.summary()
    # equal budgets: PPO got GSL's total (specialists, evaluation, demos) rounded up to a chunk
    assert 0 <= s["ppo_total_steps"] - s["gsl_total_steps"] < 20 * FORKMAZE_GSL.ppo.batch_size
    # selection found the hard variations, and the specialists' demonstrations were kept
    assert sorted(result.gsl.low_variations.tolist()) == [0, 1, 2, 3]
    assert result.gsl.demos_kept[0] > 0
    ppo_rates = np.asarray(s["ppo_success_per_variation"])
    gsl_rates = np.asarray(s["gsl_success_per_variation"])
    # PPO solves the easy 28 and plateaus there; GSL solves hard ones too.
    assert ppo_rates[4:].mean() >= 0.95 and ppo_rates[:4].mean() <= 0.25, ppo_rates
    # Across seeds 0-3 and two CPUs (AMD EPYC, Intel Xeon with AVX-512, whose float rounding
    # differs) GSL's mean on the hard four was 0.72-1.0: a specialist now and then misses its
    # variation. PPO's was 0.0 every time.
    assert gsl_rates[:4].mean() >= 0.6, gsl_rates
    assert s["success_margin"] >= 0.08, s

"""The GSL driver end to end on a tiny budget: phases, selection, demos, honest accounting."""

import numpy as np
import pytest

from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, run_gsl
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import PPOConfig

PPO = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99)


def test_gsl_runs_every_phase_and_counts_all_samples():
    env = GymnaxEnv("CartPole-v1")
    config = GSLConfig(
        ppo=PPO,
        plateau=PlateauConfig(window=2, max_steps=1280),  # phase I: the budget fires
        num_specialists=2,
        num_low=4,
        specialist_steps=1280,
        phase2_steps=640,
        updates_per_chunk=5,
        demo_steps=64,
        specialist_demo_episodes=4,
        generalist_demo_episodes=2,
        demo_return_threshold=5.0,  # young policies rarely survive 500 steps
        eval_episodes=2,
    )
    lines = []
    result = run_gsl(env, config, log=lines.append)
    phases = [r["phase"] for r in result.records]
    assert phases == ["generalist"] * 2 + ["specialists"] * 2 + ["generalist+dapg"]
    assert len(result.low_variations) == 4
    assert sorted(np.concatenate(result.subsets).tolist()) == sorted(result.low_variations.tolist())
    kept_s, kept_g = result.demos_kept
    assert kept_s == 4 and kept_g == 2  # episodes of >= 5 steps are easy to come by
    assert any("phase II: PPO + DAPG" in line for line in lines)
    # Honest accounting: generalist steps, plus 2 specialists, plus evaluation and demo rollouts.
    last = result.records[-1]
    assert last["generalist_steps"] == 2 * 640 + 640
    eval_steps = last["total_steps"] - (3 * 640 + 2 * 2 * 640) - 3 * 64 * 4
    assert 16 * 2 * 9 <= eval_steps <= 16 * 2 * 500  # 16 variations x 2 episodes, 9..500 steps


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(num_specialists=5, num_low=4), "gsl.num_specialists"),
        (dict(specialist_steps=0), "gsl.specialist_steps"),
        (dict(split="sorted"), "gsl.split"),
        (dict(generalist_demo_episodes=-1), "gsl.generalist_demo_episodes"),
    ],
)
def test_bad_gsl_configs(changes, field):
    with pytest.raises(ValueError, match=field):
        GSLConfig(**changes)


def test_num_low_beyond_the_variations():
    with pytest.raises(ValueError, match="gsl.num_low: N_lenv = 20 exceeds the 16 variations"):
        run_gsl(GymnaxEnv("CartPole-v1"), GSLConfig(num_low=20))

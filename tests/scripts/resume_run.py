"""Small runs on CartPole's 16 variations for the resume tests (run as a subprocess).

    python tests/scripts/resume_run.py {gsl,ppo} RUN_DIR [--resume]

Checkpoints after every chunk; at the end writes the generalist's parameters to
``RUN_DIR/final_params.npz`` (one array per leaf, in tree order).
"""

import sys
from pathlib import Path

import jax
import numpy as np

from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, run_gsl
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import PPOConfig
from gsl_jax.training import PPORunConfig, run_ppo

GSL_CONFIG = GSLConfig(
    ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99),
    plateau=PlateauConfig(window=2, max_steps=1024),  # 4 chunks of 256 steps
    num_specialists=2,
    num_low=4,
    specialist_steps=256 * 30,  # 30 chunks: a wide window to be killed in
    phase2_steps=256 * 4,
    updates_per_chunk=2,
    demo_steps=64,
    specialist_demo_episodes=4,
    generalist_demo_episodes=2,
    demo_return_threshold=5.0,
    eval_episodes=2,
)

PPO_CONFIG = PPORunConfig(
    ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99),
    total_steps=256 * 30,  # 30 chunks: a wide window to be killed in
    updates_per_chunk=2,
)

if __name__ == "__main__":
    method, run_dir = sys.argv[1], Path(sys.argv[2])
    run, config = (run_gsl, GSL_CONFIG) if method == "gsl" else (run_ppo, PPO_CONFIG)
    result = run(
        GymnaxEnv("CartPole-v1", family="pole"),
        config,
        run_dir=run_dir,
        resume="--resume" in sys.argv,
        checkpoint_every=1,
        log=lambda line: print(line, flush=True),
    )
    generalist = result.generalist if method == "gsl" else result.state
    leaves = jax.tree.leaves(jax.device_get(generalist.params))
    np.savez(run_dir / "final_params.npz", *[np.asarray(x) for x in leaves])

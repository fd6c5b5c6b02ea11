"""A small plain-PPO run on CartPole's 16 variations, for the resume tests (run as a subprocess).

    python tests/scripts/ppo_run.py RUN_DIR [--resume]

Checkpoints after every chunk; at the end writes the generalist's parameters to
``RUN_DIR/final_params.npz`` (one array per leaf, in tree order).
"""

import sys
from pathlib import Path

import jax
import numpy as np

from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.ppo import PPOConfig
from gsl_jax.training import PPORunConfig, run_ppo

CONFIG = PPORunConfig(
    ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99),
    total_steps=256 * 30,  # 30 chunks: a wide window to be killed in
    updates_per_chunk=2,
)

if __name__ == "__main__":
    run_dir = Path(sys.argv[1])
    result = run_ppo(
        GymnaxEnv("CartPole-v1"),
        CONFIG,
        run_dir=run_dir,
        resume="--resume" in sys.argv,
        checkpoint_every=1,
        log=lambda line: print(line, flush=True),
    )
    leaves = jax.tree.leaves(jax.device_get(result.state.params))
    np.savez(run_dir / "final_params.npz", *[np.asarray(x) for x in leaves])

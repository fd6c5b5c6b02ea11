"""Small runs on CartPole's 16 variations for the resume tests (run as a subprocess).

    python tests/scripts/resume_run.py {gsl,gsl-cycles,ppo} RUN_DIR [--resume]

``gsl-cycles`` runs two cycles on MountainCar's 3 variations (phase II's flat curve of -200
returns fires criterion H after two chunks; see tests/test_gsl_population.py).

Checkpoints after every chunk; at the end writes the generalist's parameters to
``RUN_DIR/final_params.npz`` (one array per leaf, in tree order).
"""

import sys
from pathlib import Path

import jax
import numpy as np

from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, run_gsl
from gsl_jax.networks import NetworkConfig
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

GSL_CYCLES = GSLConfig(
    ppo=PPOConfig(num_envs=2, num_steps=200, num_minibatches=2, update_epochs=1, gamma=0.99),
    network=NetworkConfig(hidden=(16, 16)),
    plateau=PlateauConfig(window=1, max_steps=400),
    num_low=2,
    num_specialists=2,
    specialist_num_envs=1,
    specialist_steps_per_variation=200 * 20,  # 20 chunks per cycle: a window to be killed in
    phase2_steps=5 * 400,
    max_cycles=2,
    updates_per_chunk=1,
    eval_episodes=1,
    demo_steps=200,
    specialist_demo_episodes=2,
    generalist_demo_episodes=1,
    demo_return_threshold=-1000.0,
)

PPO_CONFIG = PPORunConfig(
    ppo=PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99),
    total_steps=256 * 30,  # 30 chunks: a wide window to be killed in
    updates_per_chunk=2,
)

if __name__ == "__main__":
    method, run_dir = sys.argv[1], Path(sys.argv[2])
    run, config, env, family = {
        "gsl": (run_gsl, GSL_CONFIG, "CartPole-v1", "pole"),
        "gsl-cycles": (run_gsl, GSL_CYCLES, "MountainCar-v0", "force"),
        "ppo": (run_ppo, PPO_CONFIG, "CartPole-v1", "pole"),
    }[method]
    result = run(
        GymnaxEnv(env, family=family),
        config,
        run_dir=run_dir,
        resume="--resume" in sys.argv,
        checkpoint_every=1,
        log=lambda line: print(line, flush=True),
    )
    generalist = result.state if method == "ppo" else result.generalist
    leaves = jax.tree.leaves(jax.device_get(generalist.params))
    np.savez(run_dir / "final_params.npz", *[np.asarray(x) for x in leaves])

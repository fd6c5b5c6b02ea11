"""Named hyperparameter presets, each written as its differences from a base, so that every
value is stated once.

``PROCGEN`` is :class:`~gsl_jax.ppo.PPOConfig`'s own default (the Procgen paper's PPO settings);
``PROCGEN_COMPACT`` is that PPO with 128-step rollouts and gamma 0.99, for the Procgen ports'
compact observations on a CPU. ``CLASSIC_CONTROL`` is the PureJaxRL / CleanRL setting for
CartPole-sized tasks: 4 envs x 128 steps, 4 minibatches, 4 epochs, lr 2.5e-4 annealed linearly to
0 over the run, gamma 0.99, no reward normalisation. ``CONTINUOUS_CONTROL`` suits Pendulum-sized
continuous tasks (lr annealed linearly too). The annealed presets' horizon is the run's number
of updates, which the drivers derive from the budget
(:meth:`~gsl_jax.ppo_config.PPOConfig.with_lr_horizon`).
``FORKMAZE_PPO`` and ``FORKMAZE_GSL`` train :class:`~gsl_jax.envs.forkmaze.ForkMaze`.
``MLP_64`` and ``LOG_PROB_DAPG`` are the network and the DAPG term the GSL presets (these and
the Procgen experiment's, :mod:`gsl_jax.experiments.procgen.presets`) build on.
"""

from __future__ import annotations

from gsl_jax.gsl import GSLConfig
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import DAPGConfig, PPOConfig

PROCGEN = PPOConfig()

#: PPO for the Procgen ports' compact (symbolic) observations on a CPU: shorter rollouts than the
#: pixel setting, so an update takes well under a second with a small network.
PROCGEN_COMPACT = PROCGEN.replace(num_steps=128, gamma=0.99)

CLASSIC_CONTROL = PPOConfig(
    num_envs=4,
    num_steps=128,
    num_minibatches=4,
    update_epochs=4,
    learning_rate=2.5e-4,
    gamma=0.99,
    normalize_rewards=False,
    lr_schedule="linear",
)

CONTINUOUS_CONTROL = PPOConfig(
    num_envs=16,
    num_steps=128,
    update_epochs=10,
    learning_rate=1e-3,
    gamma=0.95,
    ent_coef=0.0,
    clip_value=False,
    lr_schedule="linear",
)

PRESETS: dict[str, PPOConfig] = {
    "procgen": PROCGEN,
    "classic_control": CLASSIC_CONTROL,
    "continuous_control": CONTINUOUS_CONTROL,
    "procgen_compact": PROCGEN_COMPACT,
}

#: PPO for :class:`~gsl_jax.envs.forkmaze.ForkMaze` (episodes of at most ``depth`` steps).
FORKMAZE_PPO = PPOConfig(
    num_steps=32, num_minibatches=4, update_epochs=4, gamma=0.99, normalize_rewards=False
)

#: The actor-critic of the GSL presets on compact observations.
MLP_64 = NetworkConfig(kind="mlp", hidden=(64, 64))

#: DAPG with log pi and the normalised max advantage: with pi(a|s) itself the demo gradient
#: vanishes on the actions the generalist has all but ruled out, which are exactly the ones the
#: specialists' demonstrations teach (measured in docs/gsl_forkmaze.md).
LOG_PROB_DAPG = DAPGConfig(use_log_prob=True, normalized_max_advantage=True)

#: GSL on :class:`~gsl_jax.envs.forkmaze.ForkMaze`: the tiny preset of ``gsl-jax train``.
FORKMAZE_GSL = GSLConfig(
    ppo=FORKMAZE_PPO,
    network=MLP_64,
    dapg=LOG_PROB_DAPG,
    plateau=PlateauConfig(min_steps=150_000, max_steps=400_000),
    num_low=4,
    specialist_steps=200_000,
    fresh_specialist_optimizer=True,
    specialist_demo_episodes=256,
    generalist_demo_episodes=256,
    demo_steps=64,
    eval_episodes=8,
    phase2_steps=250_000,
    updates_per_chunk=20,
)

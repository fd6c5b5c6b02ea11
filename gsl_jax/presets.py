"""Named hyperparameter presets.

``PROCGEN`` is :class:`~gsl_jax.ppo.PPOConfig`'s own default (the Procgen paper's PPO settings).
``CLASSIC_CONTROL`` is the PureJaxRL / CleanRL setting for CartPole-sized tasks: 4 envs x 128
steps, 4 minibatches, 4 epochs, lr 2.5e-4 annealed, gamma 0.99, no reward normalisation.
``CONTINUOUS_CONTROL`` suits Pendulum-sized continuous tasks. ``PROCGEN_COMPACT`` trains the
Procgen ports' compact observations on a CPU.
"""

from __future__ import annotations

from gsl_jax.gsl import GSLConfig
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import DAPGConfig, PPOConfig

PROCGEN = PPOConfig()

CLASSIC_CONTROL = PPOConfig(
    num_envs=4,
    num_steps=128,
    num_minibatches=4,
    update_epochs=4,
    learning_rate=2.5e-4,
    gamma=0.99,
    gae_lambda=0.95,
    ent_coef=0.01,
    normalize_rewards=False,
)

CONTINUOUS_CONTROL = PPOConfig(
    num_envs=16,
    num_steps=128,
    num_minibatches=8,
    update_epochs=10,
    learning_rate=1e-3,
    gamma=0.95,
    gae_lambda=0.95,
    ent_coef=0.0,
    normalize_rewards=True,
    clip_value=False,
)

#: PPO for the Procgen ports' compact (symbolic) observations on a CPU: fewer envs and steps than
#: the pixel setting, so an update takes well under a second with a small network.
PROCGEN_COMPACT = PPOConfig(
    num_envs=64,
    num_steps=128,
    num_minibatches=8,
    update_epochs=3,
    learning_rate=5e-4,
    gamma=0.99,
    gae_lambda=0.95,
    ent_coef=0.01,
    normalize_rewards=True,
)

PRESETS: dict[str, PPOConfig] = {
    "procgen": PROCGEN,
    "classic_control": CLASSIC_CONTROL,
    "continuous_control": CONTINUOUS_CONTROL,
    "procgen_compact": PROCGEN_COMPACT,
}


#: PPO for :class:`~gsl_jax.envs.forkmaze.ForkMaze` (episodes of at most ``depth`` steps).
FORKMAZE_PPO = PPOConfig(
    num_envs=64,
    num_steps=32,
    num_minibatches=4,
    update_epochs=4,
    learning_rate=5e-4,
    gamma=0.99,
    gae_lambda=0.95,
    ent_coef=0.01,
    normalize_rewards=False,
)

#: GSL on :class:`~gsl_jax.envs.forkmaze.ForkMaze`: the tiny preset of ``gsl-jax train``.
FORKMAZE_GSL = GSLConfig(
    ppo=FORKMAZE_PPO,
    network=NetworkConfig(kind="mlp", hidden=(64, 64)),
    # log pi and the normalised max advantage: with pi(a|s) itself the demo gradient
    # vanishes on the actions the generalist has all but ruled out, which are exactly the
    # ones the specialists' demonstrations teach (measured in docs/gsl_forkmaze.md).
    dapg=DAPGConfig(use_log_prob=True, normalized_max_advantage=True),
    plateau=PlateauConfig(window=5, min_steps=150_000, max_steps=400_000),
    num_specialists=4,
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

"""Named hyperparameter presets.

``PROCGEN`` is :class:`~gsl_jax.ppo.PPOConfig`'s own default (the Procgen paper's PPO settings).
``CLASSIC_CONTROL`` is the PureJaxRL / CleanRL setting for CartPole-sized tasks: 4 envs x 128
steps, 4 minibatches, 4 epochs, lr 2.5e-4 annealed, gamma 0.99, no reward normalisation.
``CONTINUOUS_CONTROL`` suits Pendulum-sized continuous tasks. ``PROCGEN_COMPACT`` trains the
Procgen ports' compact observations on a CPU.
"""

from __future__ import annotations

from gsl_jax.ppo import PPOConfig

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

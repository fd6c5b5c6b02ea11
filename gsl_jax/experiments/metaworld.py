"""The GSL release's Meta-World MT-10 configuration as presets, and the experiment's budgets.

The release (``SeanJia/GSL``, ``fine_tune_mt10.py`` on garage's PyTorch PPO) trains a
``GaussianMLPPolicy`` (512, 512, tanh) with its standard deviation clamped to [0.5, 1.5] and a
value MLP (512, 512, tanh), PPO with gamma 0.99, GAE lambda 0.95, no advantage centring, clip
0.2, the "maximum-entropy" bonus 5e-3 added to the rewards (no entropy term in the loss), Adam
2.5e-4, 10 epochs of minibatches of 64, batches of 1024 env-steps (garage completes the episodes
it starts, so ~1,500), one specialist per task, only successful demonstrations, and DAPG in the
likelihood form with coefficient 0.5 every 4th minibatch on demo batches of 64.

:data:`RELEASED_NETWORK`, :func:`released_ppo` and :data:`RELEASED_DAPG` state it in our
configs; :func:`released_gsl` adds GSL's phase settings (one specialist per task, tasks ranked
by success rate). How garage's PPO and ours differ (docs/metaworld.md has the full list):

* one Adam over policy and value together (separate networks, so only the shared step count
  and ``vf_coef`` differ) where garage has one optimiser each; the value net is fit by a
  squared error to the GAE returns of the bonus-augmented rewards, where garage fits a Gaussian
  likelihood to Monte-Carlo returns of the raw rewards;
* orthogonal initialisation instead of garage's Xavier-uniform;
* a rollout is ``num_steps`` steps of every task's env at once (128 x 10 = 1,280 env-steps on
  MT-10), not ~3 whole episodes of tasks taken in turn; episodes cut by the rollout's end are
  bootstrapped from the value, a truncation at 500 steps is not (garage: neither);
* no gradient clipping in garage: ``max_grad_norm`` is set so large that it never acts.
"""

from __future__ import annotations

from gsl_jax.gsl import GSLConfig
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import DAPGConfig, PPOConfig

#: The released policy and value networks.
RELEASED_NETWORK = NetworkConfig(
    kind="mlp", hidden=(512, 512), head="gaussian", log_std_init=0.0, min_std=0.5, max_std=1.5
)

#: The released DAPG term (our DAPGConfig's defaults are the release's).
RELEASED_DAPG = DAPGConfig(demo_coeff=0.5, demo_freq=4, demo_batch_size=64, use_log_prob=False)

#: Minibatch rows of the release.
MINIBATCH = 64


def released_ppo(num_tasks: int = 10, num_steps: int = 128) -> PPOConfig:
    """The released PPO for ``num_tasks`` envs (one per task) of ``num_steps`` steps per update,
    in minibatches of 64 rows (``num_tasks * num_steps`` must be a multiple of 64)."""
    batch = num_tasks * num_steps
    if batch % MINIBATCH:
        raise ValueError(
            f"num_steps: num_tasks * num_steps = {batch} is not a multiple of the minibatch 64"
        )
    return PPOConfig(
        num_envs=num_tasks,
        num_steps=num_steps,
        num_minibatches=batch // MINIBATCH,
        update_epochs=10,
        learning_rate=2.5e-4,
        lr_decay_updates=0,
        gamma=0.99,
        gae_lambda=0.95,
        clip_eps=0.2,
        clip_value=False,
        ent_coef=0.0,
        entropy_reward_coef=5e-3,
        max_grad_norm=1e9,  # garage clips no gradient
        adam_eps=1e-8,  # torch.optim.Adam's default
        normalize_advantages=False,
        normalize_rewards=False,
    )


def released_gsl(
    num_tasks: int = 10,
    phase1_steps: int = 2_000_000,
    specialist_steps: int = 200_000,
    phase2_steps: int = 2_000_000,
    seed: int = 0,
    num_steps: int = 128,
    demo_episodes: int = 20,
) -> GSLConfig:
    """GSL on MT-10 / MT-50 as released: the presets above, one specialist per task (every task
    goes to a specialist: ``num_low = num_specialists = num_tasks``), tasks ranked by success
    rate, only successful demonstrations (Meta-World has a success flag), the phase budgets
    given here (the release's are not published; phase I ends at its budget, the plateau
    criterion may end it from 3/4 of it)."""
    return GSLConfig(
        ppo=released_ppo(num_tasks, num_steps),
        network=RELEASED_NETWORK,
        dapg=RELEASED_DAPG,
        plateau=PlateauConfig(min_steps=(3 * phase1_steps) // 4, max_steps=phase1_steps),
        num_specialists=num_tasks,
        num_low=num_tasks,
        split="contiguous",
        select_metric="success",
        eval_episodes=2,
        specialist_steps=specialist_steps,
        specialist_demo_episodes=demo_episodes * num_tasks,
        generalist_demo_episodes=demo_episodes,
        demo_steps=500,
        phase2_steps=phase2_steps,
        updates_per_chunk=5,
        seed=seed,
    )


def budget_split(
    steps: int, num_tasks: int, phase1_fraction: float, specialist_fraction: float, chunk: int
) -> dict[str, int]:
    """Phase budgets cut from a total of ``steps`` env-steps, each a whole number of chunks:
    phase I ``phase1_fraction``, the ``num_tasks`` specialists together
    ``specialist_fraction``, phase II the rest (selection and demo rollouts come on top; the PPO
    arm gets what GSL used in all)."""
    if not (
        0 < phase1_fraction
        and 0 < specialist_fraction
        and phase1_fraction + specialist_fraction < 1
    ):
        raise ValueError(
            "specialist_fraction: phase1_fraction and specialist_fraction must be positive and "
            f"leave a phase II, got {phase1_fraction} and {specialist_fraction}"
        )

    def up(x: float) -> int:
        return max(chunk, -(-int(x) // chunk) * chunk)

    phase1 = up(steps * phase1_fraction)
    specialist = up(steps * specialist_fraction / num_tasks)
    phase2 = up(steps - phase1 - num_tasks * specialist)
    return {"phase1_steps": phase1, "specialist_steps": specialist, "phase2_steps": phase2}


__all__ = [
    "MINIBATCH",
    "RELEASED_DAPG",
    "RELEASED_NETWORK",
    "budget_split",
    "released_gsl",
    "released_ppo",
]

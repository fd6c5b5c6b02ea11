"""The settings of a PPO learner: :class:`PPOConfig` and the DAPG term's :class:`DAPGConfig`.

Both are frozen dataclasses that validate every field on construction (type, finiteness, range;
:mod:`gsl_jax.validation`), so that a bad value fails with its field named before anything
compiles. :mod:`gsl_jax.ppo` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import jax
import optax

from gsl_jax.validation import (
    check_bool,
    check_choice,
    check_fields,
    check_finite,
    check_non_negative,
    check_positive,
)

LoopMode = Literal["auto", "scan", "unroll"]
ScheduleName = Literal["constant", "linear", "cosine"]
SCHEDULES = ("constant", "linear", "cosine")


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Defaults are the Procgen settings of the Procgen paper / CleanRL
    ``ppo_procgen`` (64 envs x 256 steps, 8 minibatches, 3 epochs, lr 5e-4, gamma 0.999, ...).

    Attributes:
        num_envs: parallel environments per learner (B).
        num_steps: rollout length per update (T); the batch is ``T * B`` transitions.
        num_minibatches: minibatches per epoch; must divide ``T * B``.
        update_epochs: passes over the batch per update.
        learning_rate: Adam step size (the initial one under a schedule).
        lr_decay_updates: the anneal horizon in updates; 0 (default): the run's own number of
            updates, which the drivers derive from the budget (see ``lr_schedule``).
        gamma: discount.
        gae_lambda: GAE lambda.
        clip_eps: PPO ratio clip (also the value clip).
        clip_value: clip the value update around the rollout's values.
        ent_coef: entropy bonus coefficient.
        vf_coef: value loss coefficient.
        max_grad_norm: global gradient-norm clip.
        adam_eps: Adam epsilon.
        normalize_advantages: normalise advantages per minibatch.
        normalize_rewards: scale rewards by a running std of the discounted return.
        reward_clip: clip of the scaled rewards.
        loop: minibatch/chunk loop form, ``"auto"``, ``"scan"`` or ``"unroll"`` (see
            :mod:`gsl_jax.ppo`'s docstring).
        entropy_reward_coef: if > 0, the "maximum-entropy" bonus of garage's PPO
            (``entropy_method='max'``, the GSL release's Meta-World setting, 5e-3): before GAE,
            ``r_t += entropy_reward_coef * H(pi(. | s_t))`` with the entropy of the policy that
            collected the rollout, no gradient through it, added to the rewards GAE sees (after
            reward normalisation, if that is on). 0 (default): off. It is separate from
            ``ent_coef`` (the loss's entropy term), which the release sets to 0 with it.
        lr_schedule: the learning-rate schedule (:func:`lr_schedule`): ``"constant"``,
            ``"linear"`` (to 0 at the horizon, as PureJaxRL anneals) or ``"cosine"`` (to 0).
            ``"constant"`` with ``lr_decay_updates > 0`` anneals linearly (the older spelling).
    """

    num_envs: int = 64
    num_steps: int = 256
    num_minibatches: int = 8
    update_epochs: int = 3
    learning_rate: float = 5e-4
    lr_decay_updates: int = 0
    gamma: float = 0.999
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    clip_value: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    normalize_advantages: bool = True
    normalize_rewards: bool = True
    reward_clip: float = 10.0
    loop: LoopMode = "auto"
    # -- Meta-World / garage options (the GSL release's configuration) --------------------
    entropy_reward_coef: float = 0.0
    # --- learning-rate schedule (issue 25) ---
    lr_schedule: ScheduleName = "constant"

    def __post_init__(self) -> None:
        integers = ("num_envs", "num_steps", "num_minibatches", "update_epochs")
        check_fields("ppo", self, check_positive, integers, integer=True)
        check_non_negative("ppo.lr_decay_updates", self.lr_decay_updates, integer=True)
        positive = ("learning_rate", "clip_eps", "max_grad_norm", "adam_eps", "reward_clip")
        check_fields("ppo", self, check_positive, positive)
        check_fields("ppo", self, check_finite, ("gamma", "gae_lambda"), low=0.0, high=1.0)
        check_fields("ppo", self, check_non_negative, ("ent_coef", "vf_coef"))
        flags = ("clip_value", "normalize_advantages", "normalize_rewards")
        check_fields("ppo", self, check_bool, flags)
        check_choice("ppo.loop", self.loop, ("auto", "scan", "unroll"))
        # -- Meta-World / garage options --
        check_non_negative("ppo.entropy_reward_coef", self.entropy_reward_coef)
        check_choice("ppo.lr_schedule", self.lr_schedule, SCHEDULES)
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"ppo.num_minibatches: the batch num_envs * num_steps = {self.batch_size} is not "
                f"divisible by num_minibatches = {self.num_minibatches}"
            )

    @property
    def batch_size(self) -> int:
        """Transitions per update, ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    def resolved_loop(self, network_kind: str = "mlp") -> Literal["scan", "unroll"]:
        """``loop`` with ``"auto"`` resolved: ``"unroll"`` for a CNN on the CPU backend (the
        jax #12868 trap), ``"scan"`` otherwise (MLPs on CPU are faster with ``scan``)."""
        if self.loop != "auto":
            return self.loop
        cnn_on_cpu = jax.default_backend() == "cpu" and network_kind != "mlp"
        return "unroll" if cnn_on_cpu else "scan"

    def replace(self, **changes: Any) -> PPOConfig:
        """A copy with ``changes`` applied (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f"ppo: unknown fields {sorted(unknown)}")
        return PPOConfig(**{**values, **changes})

    # --- learning-rate schedule (issue 25) ---
    @property
    def anneals(self) -> bool:
        """Whether the learning rate follows a decaying schedule."""
        return self.lr_schedule != "constant" or self.lr_decay_updates > 0

    def with_lr_horizon(self, num_updates: int) -> PPOConfig:
        """This config with the anneal horizon set to ``num_updates`` where it is unset (a
        driver calls it with the run's number of updates; a constant rate is left alone)."""
        if self.lr_schedule == "constant" or self.lr_decay_updates > 0:
            return self
        return self.replace(lr_decay_updates=num_updates)


def lr_schedule(config: PPOConfig) -> float | optax.Schedule:
    """The learning rate of ``config`` as optax sees it: a float, or an optax schedule of the
    optimizer step (one per minibatch: ``update_epochs * num_minibatches`` per update) that
    reaches 0 after ``lr_decay_updates`` updates. ``ValueError`` naming ``ppo.lr_schedule`` for
    a schedule without a horizon (a driver sets it with :meth:`PPOConfig.with_lr_horizon`)."""
    if not config.anneals:
        return config.learning_rate
    if config.lr_decay_updates == 0:
        raise ValueError(
            f"ppo.lr_schedule: {config.lr_schedule!r} needs a horizon: set ppo.lr_decay_updates, "
            "or train through a driver that derives it from the budget (train_ppo, run_ppo)"
        )
    steps = config.lr_decay_updates * config.update_epochs * config.num_minibatches
    if config.lr_schedule == "cosine":
        return optax.cosine_decay_schedule(config.learning_rate, steps)
    return optax.linear_schedule(config.learning_rate, 0.0, steps)


@dataclass(frozen=True)
class DAPGConfig:
    """The DAPG demonstration term of GSL's phase II (defaults: the released scripts).

    Attributes:
        demo_coeff: lambda_0, the weight of the demo term (0.5).
        demo_freq: add the term on every ``demo_freq``-th minibatch (4).
        demo_batch_size: demo rows per such minibatch (64).
        use_log_prob: use log pi(a|s) (original DAPG) instead of pi(a|s) (GSL's release).
        decay: lambda_1; the term is scaled by ``decay ** k`` at update ``k`` (1.0: no decay,
            as released; the original DAPG uses 0.95).
        normalized_max_advantage: take max_adv over normalised advantages instead of raw GAE
            values (the release uses raw ones).
    """

    demo_coeff: float = 0.5
    demo_freq: int = 4
    demo_batch_size: int = 64
    use_log_prob: bool = False
    decay: float = 1.0
    normalized_max_advantage: bool = False

    def __post_init__(self) -> None:
        check_non_negative("dapg.demo_coeff", self.demo_coeff)
        check_fields("dapg", self, check_positive, ("demo_freq", "demo_batch_size"), integer=True)
        check_finite("dapg.decay", self.decay, low=0.0, high=1.0, low_open=True)
        check_fields("dapg", self, check_bool, ("use_log_prob", "normalized_max_advantage"))

"""The settings of a PPO learner: :class:`PPOConfig` and the DAPG term's :class:`DAPGConfig`.

Both are frozen dataclasses that validate every field on construction (type, finiteness, range;
:mod:`gsl_jax.validation`), so that a bad value fails with its field named before anything
compiles. :mod:`gsl_jax.ppo` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import jax

from gsl_jax.validation import (
    check_bool,
    check_choice,
    check_fields,
    check_finite,
    check_non_negative,
    check_positive,
)

LoopMode = Literal["auto", "scan", "unroll"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Defaults are the Procgen settings of the Procgen paper / CleanRL
    ``ppo_procgen`` (64 envs x 256 steps, 8 minibatches, 3 epochs, lr 5e-4, gamma 0.999, ...).

    Attributes:
        num_envs: parallel environments per learner (B).
        num_steps: rollout length per update (T); the batch is ``T * B`` transitions.
        num_minibatches: minibatches per epoch; must divide ``T * B``.
        update_epochs: passes over the batch per update.
        learning_rate: Adam step size.
        lr_decay_updates: if > 0, anneal the learning rate linearly to 0 over this many updates.
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

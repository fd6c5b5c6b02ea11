"""The settings of a PPG learner: :class:`PPGConfig`.

PPG reads its rollout and PPO-objective settings from the :class:`~gsl_jax.ppo.PPOConfig` it is
paired with -- ``num_envs``, ``num_steps``, ``num_minibatches``, ``learning_rate``, ``gamma``,
``gae_lambda``, ``clip_eps``, ``ent_coef``, ``vf_coef``, ``normalize_advantages`` (over the full
batch, as the reference), ``normalize_rewards``, ``reward_clip`` -- and ignores the PPO-only ones
(``update_epochs``, ``clip_value``, ``lr_schedule``, ``lr_decay_updates``, ``adam_eps``,
``max_grad_norm``, ``loop``): their PPG counterparts are the fields below. :func:`check_pair`
checks the pair.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from gsl_jax.ppo_config import PPOConfig
from gsl_jax.validation import (
    check_choice,
    check_fields,
    check_finite,
    check_non_negative,
    check_positive,
    check_sizes,
)


@dataclass(frozen=True)
class PPGConfig:
    """PPG's own hyperparameters; defaults are openai/phasic-policy-gradient's ``train.py``.

    Attributes:
        n_pi: N_pi, policy iterations (rollout + one policy/value epoch) per phase (32).
        aux_epochs: E_aux, epochs of the auxiliary phase over the phase's stored rollouts (6).
        aux_minibatch_envs: rollout rows (one env's ``num_steps`` steps of one iteration) per
            auxiliary minibatch (4, the reference's ``aux_mbsize``); must divide the
            ``n_pi * num_envs`` stored rows.
        policy_epochs: epochs of the policy phase per iteration (E_pi = E_V = 1); each minibatch
            step trains the policy and the value network together, as the reference does when
            E_pi = E_V.
        beta_clone: weight of the behaviour-cloning KL to the pre-auxiliary-phase policy (1.0).
        vf_true_weight: weight of the value network's loss in the auxiliary phase (1.0).
        aux_learning_rate: Adam step size of the auxiliary phase (5e-4).
        adam_eps: Adam epsilon of both optimisers (1e-8, PyTorch's default, as the reference).
        max_grad_norm: global gradient-norm clip of both phases; ``None`` (the reference) clips
            nothing.
        arch: ``"dual"`` (separate policy and value networks, the paper's PPG) or ``"shared"``
            (one torso for the policy, value and auxiliary heads).
        value_hidden: MLP hidden sizes of the separate value network (``arch="dual"`` only);
            ``None``: the policy's.
    """

    n_pi: int = 32
    aux_epochs: int = 6
    aux_minibatch_envs: int = 4
    policy_epochs: int = 1
    beta_clone: float = 1.0
    vf_true_weight: float = 1.0
    aux_learning_rate: float = 5e-4
    adam_eps: float = 1e-8
    max_grad_norm: float | None = None
    arch: Literal["dual", "shared"] = "dual"
    value_hidden: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        integers = ("n_pi", "aux_minibatch_envs", "policy_epochs")
        check_fields("ppg", self, check_positive, integers, integer=True)
        check_non_negative("ppg.aux_epochs", self.aux_epochs, integer=True)
        check_fields("ppg", self, check_non_negative, ("beta_clone", "vf_true_weight"))
        check_fields("ppg", self, check_positive, ("aux_learning_rate", "adam_eps"))
        if self.max_grad_norm is not None:
            check_positive("ppg.max_grad_norm", self.max_grad_norm)
        check_choice("ppg.arch", self.arch, ("dual", "shared"))
        if self.value_hidden is not None:
            check_sizes("ppg.value_hidden", self.value_hidden)
            if self.arch == "shared":
                raise ValueError(
                    "ppg.value_hidden: sizes a separate value network, but arch='shared' has "
                    "none (one torso feeds every head); drop value_hidden or use arch='dual'"
                )
        check_finite("ppg.beta_clone", self.beta_clone)

    def replace(self, **changes: Any) -> PPGConfig:
        """A copy with ``changes`` applied (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f"ppg: unknown fields {sorted(unknown)}")
        return PPGConfig(**{**values, **changes})


def check_pair(ppg: PPGConfig, ppo: PPOConfig, network_kind: str = "mlp") -> None:
    """Checks of PPG against its PPO settings and network, each error naming the field.

    The auxiliary phase cannot be longer than the stored rollouts: one auxiliary minibatch of
    ``aux_minibatch_envs`` rows must fit (and divide) the ``n_pi * num_envs`` rows of a phase.
    ``value_hidden`` sizes an MLP, so it needs ``network.kind == "mlp"``.
    """
    rows = ppg.n_pi * ppo.num_envs
    if ppg.aux_minibatch_envs > rows or rows % ppg.aux_minibatch_envs:
        raise ValueError(
            f"ppg.aux_minibatch_envs: {ppg.aux_minibatch_envs} rows per auxiliary minibatch, but "
            f"a phase stores n_pi * num_envs = {ppg.n_pi} * {ppo.num_envs} = {rows} rollout rows; "
            "it must divide them (and cannot exceed them)"
        )
    if ppg.value_hidden is not None and network_kind != "mlp":
        raise ValueError(
            f"ppg.value_hidden: sizes an MLP value network, but network.kind is {network_kind!r}"
        )

"""Actor-critic networks: the IMPALA CNN for pixels, a narrow CNN and an MLP for CPU-sized work.

Every network maps a batch of observations ``[N, *obs_shape]`` to ``(dist, value)``: the
parameters of the action distribution (:mod:`gsl_jax.distributions`) and a value ``[N]``.

Presets (:class:`NetworkConfig.kind`):

* ``"impala"``: the Procgen IMPALA CNN. Three stacks of conv3x3 (16, 32, 32 channels) -> maxpool
  3x3 stride 2 -> two residual blocks (relu-conv-relu-conv + skip); flatten -> relu -> dense 256 ->
  relu; shared by the policy and value heads. About 0.6 GFLOP of PPO training compute per env-step
  at 64x64x3: meant for accelerators.
* ``"small_cnn"``: the same shape with 8/16/16 channels, one residual block per stack and a dense
  128 layer; ~10x cheaper, trainable on a CPU.
* ``"mlp"``: separate actor and critic MLPs (``hidden`` sizes, tanh), the usual choice for vector
  observations.

Pixel inputs (uint8) are scaled by 1/255. Weights use orthogonal initialisation (sqrt(2) for
hidden layers, 0.01 for the policy output, 1.0 for the value output), as in the Procgen baselines.
The Gaussian head's log-std is a free parameter vector, independent of the state, initialised to
``log_std_init`` (0.0, i.e. std 1); ``min_std`` / ``max_std`` (off by default) clip it to
``[log min_std, log max_std]`` in the forward pass, as garage's ``GaussianMLPPolicy(min_std=...,
max_std=...)`` clamps its log-std (no gradient flows to the parameter while it lies outside).

PPG (:mod:`gsl_jax.ppg`) uses :class:`PhasicActorCritic`: a policy network with an auxiliary value
head and, with ``arch="dual"``, a separate value network (the same torso kind twice). Its heads use
openai/phasic-policy-gradient's "normed" initialisation (:func:`normed_init`: each output unit's
weight vector rescaled to norm 0.1, zero bias); the torsos keep the orthogonal initialisation above.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.distributions import CategoricalParams, GaussianParams
from gsl_jax.envs.core import Box, Discrete, Space
from gsl_jax.validation import check_choice, check_finite, check_positive, check_sizes

NetworkKind = Literal["impala", "small_cnn", "mlp"]
HeadKind = Literal["auto", "categorical", "gaussian"]


@dataclass(frozen=True)
class NetworkConfig:
    """Which actor-critic to build.

    Attributes:
        kind: ``"impala"``, ``"small_cnn"`` or ``"mlp"`` (see the module docstring).
        hidden: MLP hidden sizes (``kind="mlp"`` only).
        head: ``"auto"`` (categorical for discrete actions, Gaussian for continuous ones) or an
            explicit ``"categorical"`` / ``"gaussian"``, checked against the action space.
        log_std_init: initial log standard deviation of the Gaussian head.
        min_std, max_std: bounds of the Gaussian head's standard deviation (``None``: unbounded,
            the default). The GSL release's Meta-World policy uses 0.5 and 1.5.
    """

    kind: NetworkKind = "mlp"
    hidden: tuple[int, ...] = (64, 64)
    head: HeadKind = "auto"
    log_std_init: float = 0.0
    # -- garage's Gaussian policy (the GSL release's Meta-World configuration) --------------
    min_std: float | None = None
    max_std: float | None = None

    def __post_init__(self) -> None:
        check_choice("network.kind", self.kind, ("impala", "small_cnn", "mlp"))
        check_sizes("network.hidden", self.hidden)
        check_choice("network.head", self.head, ("auto", "categorical", "gaussian"))
        check_finite("network.log_std_init", self.log_std_init)
        for name in ("min_std", "max_std"):
            if getattr(self, name) is not None:
                check_positive(f"network.{name}", getattr(self, name))
        if None not in (self.min_std, self.max_std) and not self.min_std < self.max_std:
            raise ValueError(
                f"network.max_std: must exceed min_std = {self.min_std}, got {self.max_std}"
            )

    @property
    def std_bounded(self) -> bool:
        return self.min_std is not None or self.max_std is not None


def _ortho(scale: float) -> nn.initializers.Initializer:
    return nn.initializers.orthogonal(scale)


class ResidualBlock(nn.Module):
    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.relu(x)
        y = nn.Conv(self.channels, (3, 3), kernel_init=_ortho(np.sqrt(2)))(y)
        y = nn.relu(y)
        y = nn.Conv(self.channels, (3, 3), kernel_init=_ortho(np.sqrt(2)))(y)
        return x + y


class ImpalaTorso(nn.Module):
    """IMPALA CNN torso: ``[N, H, W, C]`` -> ``[N, dense]``."""

    channels: Sequence[int] = (16, 32, 32)
    blocks_per_stack: int = 2
    dense: int = 256

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.dtype == jnp.uint8:
            x = x.astype(jnp.float32) / 255.0
        for ch in self.channels:
            x = nn.Conv(ch, (3, 3), kernel_init=_ortho(np.sqrt(2)))(x)
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
            for _ in range(self.blocks_per_stack):
                x = ResidualBlock(ch)(x)
        x = nn.relu(x.reshape(x.shape[0], -1))
        return nn.relu(nn.Dense(self.dense, kernel_init=_ortho(np.sqrt(2)))(x))


class MLP(nn.Module):
    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1).astype(jnp.float32)
        for h in self.hidden:
            x = nn.tanh(nn.Dense(h, kernel_init=_ortho(np.sqrt(2)))(x))
        return x


class PolicyHead(nn.Module):
    """Maps features ``[N, F]`` to distribution parameters for ``action_space``."""

    action_space: Space
    log_std_init: float = 0.0
    min_std: float | None = None
    max_std: float | None = None
    normed: bool = False  # PPG's normed init (norm 0.1) instead of orthogonal (gain 0.01)

    @nn.compact
    def __call__(self, x: jax.Array) -> CategoricalParams | GaussianParams:
        init = normed_init(0.1) if self.normed else _ortho(0.01)
        if isinstance(self.action_space, Discrete):
            return CategoricalParams(nn.Dense(self.action_space.n, kernel_init=init)(x))
        dim = int(np.prod(self.action_space.shape))
        mean = nn.Dense(dim, kernel_init=init)(x)
        log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (dim,))
        if self.min_std is not None or self.max_std is not None:
            low = None if self.min_std is None else float(np.log(self.min_std))
            high = None if self.max_std is None else float(np.log(self.max_std))
            log_std = jnp.clip(log_std, low, high)
        return GaussianParams(mean, jnp.broadcast_to(log_std, mean.shape))


class ActorCritic(nn.Module):
    """``obs [N, *obs_shape]`` -> ``(dist, value [N])``."""

    config: NetworkConfig
    action_space: Space

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[CategoricalParams | GaussianParams, jax.Array]:
        cfg = self.config
        head = PolicyHead(self.action_space, cfg.log_std_init, cfg.min_std, cfg.max_std)
        if self.config.kind == "mlp":
            dist = head(MLP(self.config.hidden)(obs))
            value = MLP(self.config.hidden)(obs)
        else:
            if self.config.kind == "impala":
                torso = ImpalaTorso()
            else:
                torso = ImpalaTorso(channels=(8, 16, 16), blocks_per_stack=1, dense=128)
            features = torso(obs)
            dist, value = head(features), features
        value = nn.Dense(1, kernel_init=_ortho(1.0))(value)[..., 0]
        return dist, value


def make_network(
    config: NetworkConfig, action_space: Space, obs_shape: Sequence[int]
) -> ActorCritic:
    """Build the actor-critic for ``action_space``, checking that ``config`` fits the observation.

    Raises ``ValueError`` naming ``network.kind`` if a CNN is asked for non-image observations and
    ``network.head`` if the head does not match the action space.
    """
    if config.kind != "mlp" and len(obs_shape) != 3:
        raise ValueError(
            f"network.kind: {config.kind!r} needs image observations [H, W, C], "
            f"got shape {tuple(obs_shape)}; use kind='mlp'"
        )
    if not isinstance(action_space, Discrete | Box):
        raise ValueError(f"action_space: unsupported space {action_space!r}")
    if config.head == "categorical" and not isinstance(action_space, Discrete):
        raise ValueError(
            f"network.head: a categorical (discrete) head cannot drive the continuous action "
            f"space {action_space}; use head='gaussian' or 'auto'"
        )
    if config.std_bounded and not isinstance(action_space, Box):
        raise ValueError(
            f"network.min_std: std bounds need a Gaussian head, but the action space "
            f"{action_space} is discrete; leave min_std and max_std unset"
        )
    if config.head == "gaussian" and not isinstance(action_space, Box):
        raise ValueError(
            f"network.head: a Gaussian head cannot drive the discrete action space "
            f"{action_space}; use head='categorical' or 'auto'"
        )
    return ActorCritic(config, action_space)


def normed_init(scale: float) -> nn.initializers.Initializer:
    """The reference PPG code's ``NormedLinear`` / ``NormedConv2d`` initialiser: a Gaussian kernel
    ``[..., in, out]`` whose weight vector of every output unit (all axes but the last) is
    rescaled to L2 norm ``scale``."""

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        w = jax.random.normal(key, shape, dtype)
        axes = tuple(range(len(shape) - 1))
        return w * scale / jnp.sqrt(jnp.sum(w**2, axis=axes, keepdims=True))

    return init


PhasicArch = Literal["dual", "shared"]


class PhasicActorCritic(nn.Module):
    """PPG's networks: ``obs [N, *obs_shape]`` -> ``(dist, value [N])`` from ``__call__`` (so
    evaluation and demo collection use it as an :class:`ActorCritic`), and ``(dist, value [N],
    aux_value [N])`` from :meth:`with_aux`.

    ``arch="dual"``: a policy torso (policy head + auxiliary value head) and a separate value
    torso (value head), the paper's setting; ``value_hidden`` sizes the value MLP (default: as
    the policy's). ``arch="shared"``: one torso feeds all three heads.
    """

    config: NetworkConfig
    action_space: Space
    arch: PhasicArch = "dual"
    value_hidden: tuple[int, ...] | None = None

    def _torso(self, hidden: Sequence[int]) -> nn.Module:
        if self.config.kind == "mlp":
            return MLP(hidden)
        if self.config.kind == "impala":
            return ImpalaTorso()
        return ImpalaTorso(channels=(8, 16, 16), blocks_per_stack=1, dense=128)

    def setup(self) -> None:
        self.policy_torso = self._torso(self.config.hidden)
        self.policy_head = PolicyHead(
            self.action_space,
            self.config.log_std_init,
            self.config.min_std,
            self.config.max_std,
            normed=True,
        )
        self.aux_head = nn.Dense(1, kernel_init=normed_init(0.1))
        if self.arch == "dual":
            self.value_torso = self._torso(self.value_hidden or self.config.hidden)
        self.value_head = nn.Dense(1, kernel_init=normed_init(0.1))

    def with_aux(self, obs: jax.Array):
        features = self.policy_torso(obs)
        dist = self.policy_head(features)
        value_features = self.value_torso(obs) if self.arch == "dual" else features
        value = self.value_head(value_features)[..., 0]
        return dist, value, self.aux_head(features)[..., 0]

    def __call__(self, obs: jax.Array) -> tuple[CategoricalParams | GaussianParams, jax.Array]:
        dist, value, _ = self.with_aux(obs)
        return dist, value


def make_phasic_network(
    config: NetworkConfig,
    action_space: Space,
    obs_shape: Sequence[int],
    arch: PhasicArch = "dual",
    value_hidden: tuple[int, ...] | None = None,
) -> PhasicActorCritic:
    """PPG's networks for ``action_space``, with :func:`make_network`'s checks."""
    make_network(config, action_space, obs_shape)
    return PhasicActorCritic(config, action_space, arch, value_hidden)

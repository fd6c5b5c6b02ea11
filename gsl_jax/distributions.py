"""Action distributions as pure functions of the policy head's output.

Two families, chosen from the action space:

* :class:`Categorical` for ``Discrete(n)``: the head outputs ``logits [..., n]``.
* :class:`DiagGaussian` for ``Box(shape)``: the head outputs ``mean [..., d]`` and a
  state-independent ``log_std [d]`` parameter (broadcast to ``[..., d]``). Actions are unsquashed
  samples ``mean + exp(log_std) * eps``; the environment clips them to its bounds, and the
  log-likelihood is that of the unclipped sample (the usual PPO convention).

Each distribution is described by a pytree of parameters (``dist``) so it can flow through
``jit``/``vmap``; the classes only hold static methods.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Discrete, Space


class CategoricalParams(NamedTuple):
    logits: jax.Array  # [..., n]


class GaussianParams(NamedTuple):
    mean: jax.Array  # [..., d]
    log_std: jax.Array  # [..., d]


class Categorical:
    """Softmax distribution over ``n`` actions."""

    @staticmethod
    def sample(key: jax.Array, dist: CategoricalParams) -> jax.Array:
        """int32 ``[...]``."""
        return jax.random.categorical(key, dist.logits).astype(jnp.int32)

    @staticmethod
    def mode(dist: CategoricalParams) -> jax.Array:
        return jnp.argmax(dist.logits, axis=-1).astype(jnp.int32)

    @staticmethod
    def log_prob(dist: CategoricalParams, action: jax.Array) -> jax.Array:
        """``log pi(a)`` with ``action [...]`` int; returns ``[...]``."""
        logp = jax.nn.log_softmax(dist.logits)
        # A one-hot select rather than take_along_axis: its gradient is an elementwise select,
        # where the gather's is a scatter-add (a separate, slower op on CPU).
        chosen = action[..., None].astype(jnp.int32) == jnp.arange(logp.shape[-1])
        return jnp.sum(jnp.where(chosen, logp, 0.0), axis=-1)

    @staticmethod
    def entropy(dist: CategoricalParams) -> jax.Array:
        logp = jax.nn.log_softmax(dist.logits)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)


_LOG_2PI = math.log(2.0 * math.pi)


class DiagGaussian:
    """Independent normal distribution over ``d`` action dimensions."""

    @staticmethod
    def sample(key: jax.Array, dist: GaussianParams) -> jax.Array:
        """float32 ``[..., d]``."""
        eps = jax.random.normal(key, dist.mean.shape, dist.mean.dtype)
        return dist.mean + jnp.exp(dist.log_std) * eps

    @staticmethod
    def mode(dist: GaussianParams) -> jax.Array:
        return dist.mean

    @staticmethod
    def log_prob(dist: GaussianParams, action: jax.Array) -> jax.Array:
        """Log-density summed over the action dimensions; returns ``[...]``."""
        z = (action - dist.mean) * jnp.exp(-dist.log_std)
        return jnp.sum(-0.5 * z**2 - dist.log_std - 0.5 * _LOG_2PI, axis=-1)

    @staticmethod
    def entropy(dist: GaussianParams) -> jax.Array:
        return jnp.sum(dist.log_std + 0.5 * (1.0 + _LOG_2PI), axis=-1)


def distribution_for(
    dist: CategoricalParams | GaussianParams,
) -> type[Categorical] | type[DiagGaussian]:
    """The distribution class matching a parameter pytree."""
    return Categorical if isinstance(dist, CategoricalParams) else DiagGaussian


def action_noise(key: jax.Array, action_space: Space, shape: tuple[int, ...]) -> jax.Array:
    """The sampling noise of ``shape`` actions in one PRNG call: Gumbel ``[*shape, n]`` for
    ``Discrete(n)``, standard normal ``[*shape, d]`` for a ``Box`` of ``d`` dimensions.

    Drawing a rollout's noise ahead of its loop keeps the PRNG work out of the loop body; turn it
    into actions with :func:`sample_with_noise`.
    """
    if isinstance(action_space, Discrete):
        return jax.random.gumbel(key, shape + (action_space.n,))
    return jax.random.normal(key, shape + (math.prod(action_space.shape),))


def sample_with_noise(dist: CategoricalParams | GaussianParams, noise: jax.Array) -> jax.Array:
    """An action from :func:`action_noise`'s noise: the Gumbel-max trick for a categorical (what
    ``jax.random.categorical`` does; int32 ``[...]``), ``mean + std * eps`` for a diagonal
    Gaussian (float32 ``[..., d]``)."""
    if isinstance(dist, CategoricalParams):
        return jnp.argmax(dist.logits + noise, axis=-1).astype(jnp.int32)
    return dist.mean + jnp.exp(dist.log_std) * noise

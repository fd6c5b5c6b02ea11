"""Reward normalisation by a running estimate of the discounted return's standard deviation.

The Procgen PPO baselines divide rewards by ``sqrt(Var[G] + eps)``, where ``G`` is the per-env
discounted return accumulated along the rollout (reset at episode ends), and clip the result to
``[-clip, clip]``. The running variance uses the parallel (Chan et al.) mean/variance update over
each batch of ``B`` returns.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RewardNormState:
    """``returns [B]`` per-env discounted return; ``mean``, ``var``, ``count`` scalars."""

    returns: jax.Array
    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, num_envs: int) -> RewardNormState:
        return cls(
            returns=jnp.zeros(num_envs, jnp.float32),
            mean=jnp.zeros((), jnp.float32),
            var=jnp.ones((), jnp.float32),
            count=jnp.full((), 1e-4, jnp.float32),
        )


def update_running_moments(
    mean: jax.Array, var: jax.Array, count: jax.Array, batch: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Merge the moments of ``batch [B]`` into running ``(mean, var, count)``."""
    b_mean, b_var, b_count = batch.mean(), batch.var(), batch.size
    delta = b_mean - mean
    total = count + b_count
    new_mean = mean + delta * b_count / total
    m2 = var * count + b_var * b_count + delta**2 * count * b_count / total
    return new_mean, m2 / total, total


def normalize_reward(
    state: RewardNormState,
    reward: jax.Array,
    done: jax.Array,
    gamma: float,
    clip: float,
    eps: float = 1e-8,
) -> tuple[jax.Array, RewardNormState]:
    """Scale ``reward [B]`` by the running std of the discounted return; returns ``(r', state)``."""
    returns = state.returns * gamma + reward
    mean, var, count = update_running_moments(state.mean, state.var, state.count, returns)
    scaled = jnp.clip(reward / jnp.sqrt(var + eps), -clip, clip)
    returns = jnp.where(done, 0.0, returns)
    return scaled, RewardNormState(returns, mean, var, count)

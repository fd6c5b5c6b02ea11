"""Per-variation evaluation of a policy: K episodes on each of V variations, in one jitted call.

Every (variation, episode) pair gets its own env, pinned to its variation (no auto-reset), run
until its first episode ends or ``max_steps`` pass. Keys are derived from a fixed evaluation
seed, so two policies evaluated with the same seed face the same start states.

:func:`random_policy_return` is the baseline a learning test or curve compares with: the mean
first-episode return of uniformly random actions.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.distributions import distribution_for
from gsl_jax.envs.core import Discrete, Environment, VariationSet, VecEnv
from gsl_jax.networks import ActorCritic
from gsl_jax.validation import check_finite, check_positive


class VariationScores(NamedTuple):
    """Evaluation results; arrays are ``[V, K]`` (variation, episode) unless noted.

    Attributes:
        variations: ``[V]`` the evaluated variation ids.
        returns: undiscounted episode returns.
        lengths: episode lengths (``max_steps`` where the episode did not end).
        success: episode ended in success.
        finished: episode ended within ``max_steps``.
    """

    variations: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    success: np.ndarray
    finished: np.ndarray

    def mean_return(self) -> np.ndarray:
        """``[V]`` mean return per variation."""
        return self.returns.mean(axis=1)

    def success_rate(self) -> np.ndarray:
        """``[V]`` fraction of successful episodes per variation."""
        return self.success.mean(axis=1)


@partial(jax.jit, static_argnames=("env", "network", "episodes", "max_steps", "greedy"))
def _evaluate(
    params: Any,
    variations: jax.Array,
    key: jax.Array,
    env: Environment,
    network: ActorCritic,
    episodes: int,
    max_steps: int,
    greedy: bool,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    num = variations.shape[0] * episodes
    var = jnp.repeat(variations, episodes)
    k_reset, k_run = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(k_reset, num), var)

    def body(carry, step_key):
        obs, state, active, ret, length, success = carry
        k_act, k_env = jax.random.split(step_key)
        dist, _ = network.apply(params, obs)
        D = distribution_for(dist)
        action = D.mode(dist) if greedy else D.sample(k_act, dist)
        obs, state, reward, done, info = jax.vmap(env.step)(
            jax.random.split(k_env, num), state, action
        )
        ret = ret + jnp.where(active, reward, 0.0)
        length = length + active.astype(jnp.int32)
        success = success | (active & done & info["success"])
        active = active & ~done
        return (obs, state, active, ret, length, success), None

    zeros = jnp.zeros(num)
    carry = (obs, state, jnp.ones(num, bool), zeros, zeros.astype(jnp.int32), zeros.astype(bool))
    (_, _, active, ret, length, success), _ = jax.lax.scan(
        body, carry, jax.random.split(k_run, max_steps)
    )
    shape = (variations.shape[0], episodes)
    return ret.reshape(shape), length.reshape(shape), success.reshape(shape), ~active.reshape(shape)


def evaluate_variations(
    env: Environment,
    network: ActorCritic,
    params: Any,
    variations: np.ndarray | list[int],
    episodes: int = 4,
    max_steps: int | None = None,
    seed: int = 0,
    greedy: bool = False,
) -> VariationScores:
    """Run ``episodes`` episodes of the policy on each variation.

    Args:
        env: the environment (not vectorised).
        network: the actor-critic; ``params`` its parameters (no population axis).
        variations: ``[V]`` variation ids (validated against the environment).
        episodes: episodes per variation (K).
        max_steps: step cap per episode; default ``env.max_episode_steps``.
        seed: evaluation seed (fixed keys: the same seed gives the same start states).
        greedy: act with the distribution's mode instead of sampling.
    """
    if not isinstance(env, Environment):
        raise ValueError(
            f"env: evaluate_variations needs a JAX Environment, got the host env "
            f"{type(env).__name__}; use gsl_jax.host.evaluate_host"
        )
    ids = np.asarray(variations, np.int32).reshape(-1)
    env.validate_variations(ids, "variations")
    if episodes <= 0:
        raise ValueError(f"episodes: must be positive, got {episodes}")
    max_steps = int(max_steps or env.max_episode_steps)
    out = _evaluate(
        params, jnp.asarray(ids), jax.random.key(seed), env, network, episodes, max_steps, greedy
    )
    returns, lengths, success, finished = (np.asarray(x) for x in out)
    return VariationScores(ids, returns, lengths, success, finished)


def random_policy_return(
    env: Environment, levels: np.ndarray | list[int], num_envs: int = 256, seed: int = 123
) -> float:
    """Mean first-episode return of uniformly random actions on ``levels``.

    ``num_envs`` envs (a :class:`~gsl_jax.envs.core.VecEnv`, each starting on a level drawn
    uniformly from ``levels``) take uniformly random actions for ``env.max_episode_steps`` steps,
    by when every env has finished its first episode (the time limit ends it at the latest);
    the result is the mean of those ``[num_envs]`` first-episode returns. Only the first episode
    counts, so short episodes are not over-counted as in a training log.

    Args:
        env: the environment (not vectorised), with a ``Discrete`` action space.
        levels: ``[V]`` variation ids to draw start levels from (validated against ``env``).
        num_envs: envs, hence first episodes, averaged over.
        seed: PRNG seed of the level draws, the actions and the env's own randomness.

    Raises ``ValueError`` naming the argument for bad input, and if an env's first episode did
    not end within ``env.max_episode_steps`` (an environment whose time limit is longer).
    """
    if not isinstance(env.action_space, Discrete):
        raise ValueError(f"env: needs a Discrete action space, got {env.action_space}")
    ids = np.asarray(levels, np.int64).reshape(-1)
    env.validate_variations(ids, "levels")
    check_positive("num_envs", num_envs, integer=True)
    check_finite("seed", seed, low=0, integer=True)
    first, finished = _random_first_returns(env, VariationSet.from_ids(ids), int(num_envs), seed)
    if not bool(np.all(finished)):
        raise ValueError(
            f"env: {int(np.sum(~finished))} of {num_envs} first episodes of {env.name} did not "
            f"end within max_episode_steps = {env.max_episode_steps}"
        )
    return float(np.mean(first))


def _random_first_returns(
    env: Environment, variations: VariationSet, num_envs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(first_return [B], finished [B])`` of one random rollout of ``max_episode_steps``."""
    vec = VecEnv(env, num_envs)

    def rollout(key):
        def body(carry, step_key):
            state, first, seen = carry
            k_act, k_step = jax.random.split(step_key)
            action = jax.random.randint(k_act, (num_envs,), 0, env.action_space.n)
            state, _, done, _ = vec.step(k_step, state, action, variations)
            first = jnp.where(done & ~seen, state.stats.last_return, first)
            return (state, first, seen | done), None

        carry = (vec.reset(key, variations), jnp.zeros(num_envs), jnp.zeros(num_envs, bool))
        steps = jax.random.split(key, env.max_episode_steps)
        (_, first, seen), _ = jax.lax.scan(body, carry, steps)
        return first, seen

    first, seen = jax.jit(rollout)(jax.random.key(seed))
    return np.asarray(first), np.asarray(seen)

"""Host rollouts of a fixed policy: per-variation evaluation and demonstration trajectories.

Both step a host env batch with actions sampled on device by one jitted policy call per step
(keys ``split(key)`` per step, as the JAX rollouts), and return the same host arrays their JAX
counterparts (:func:`gsl_jax.evaluation.evaluate_variations`,
:func:`gsl_jax.demos.rollout_trajectory`) return, so the phases consume them unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from gsl_jax.distributions import distribution_for
from gsl_jax.evaluation import VariationScores
from gsl_jax.networks import ActorCritic

#: Most envs one evaluation batch of :func:`evaluate_host` builds.
EVAL_BATCH_ENVS = 64


@functools.lru_cache(maxsize=8)
def _sampler(network: ActorCritic):
    """The jitted ``sample(params, obs [B, ...], key) -> action [B, ...]``."""

    @jax.jit
    def sample(params, obs, key):
        dist, _ = network.apply(params, obs)
        return distribution_for(dist).sample(key, dist)

    return sample


def _close(env: Any) -> None:
    close = getattr(env, "close", None)
    if close is not None:
        close()


def policy_rollout(
    env: Any, network: ActorCritic, params: Any, key: jax.Array, num_steps: int
) -> dict[str, np.ndarray]:
    """Reset ``env`` (a host vector env) and run the stochastic policy for ``num_steps`` steps.

    Returns host arrays ``[T, B, ...]``: ``obs`` (the observation each action was taken in),
    ``action``, ``reward``, ``done``, ``success`` -- the layout of
    :func:`gsl_jax.demos.rollout_trajectory`, so :func:`gsl_jax.demos.successful_episodes` cuts
    episodes out of it."""
    sample = _sampler(network)
    obs = np.asarray(env.reset())
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "action", "reward", "done")}
    rows["success"] = []
    for step_key in jax.random.split(key, num_steps):
        action = np.asarray(sample(params, obs, step_key))
        next_obs, reward, done, info = env.step(action)
        for name, value in (("obs", obs), ("action", action), ("reward", reward)):
            rows[name].append(np.asarray(value))
        rows["done"].append(np.asarray(done, np.bool_))
        rows["success"].append(np.asarray(info["success"], np.bool_))
        obs = np.asarray(next_obs)
    return {k: np.stack(v) for k, v in rows.items()}


def _first_episodes(
    env: Any, network: ActorCritic, params: Any, key: jax.Array, max_steps: int
) -> tuple[np.ndarray, ...]:
    """``(variation, return, length, success, finished)``, each ``[B]``, of every env's first
    episode (``max_steps`` at most)."""
    sample = _sampler(network)
    B = env.num_envs
    obs = np.asarray(env.reset())
    active = np.ones(B, bool)
    ret, length = np.zeros(B, np.float32), np.zeros(B, np.int32)
    success, variation = np.zeros(B, bool), np.full(B, -1, np.int64)
    for step_key in jax.random.split(key, max_steps):
        action = np.asarray(sample(params, obs, step_key))
        obs, reward, done, info = env.step(action)
        obs = np.asarray(obs)
        variation = np.where(active, info["variation"], variation)
        ret += np.where(active, reward, 0.0).astype(np.float32)
        length += active
        success |= active & done & np.asarray(info["success"], bool)
        active &= ~np.asarray(done, bool)
        if not active.any():
            break
    return variation, ret, length, success, ~active


def evaluate_host(
    env: Any,
    network: ActorCritic,
    params: Any,
    ids: np.ndarray,
    episodes: int,
    seed: int,
    max_steps: int | None = None,
) -> VariationScores:
    """The first episode of ``episodes`` envs pinned to each variation of ``ids``, as
    :func:`gsl_jax.evaluation.evaluate_variations` scores a JAX env.

    ``env`` is a host env with ``with_levels`` (:mod:`gsl_jax.host`); variations are evaluated in
    batches of at most :data:`EVAL_BATCH_ENVS` envs, each batch a fresh pinned env built with
    seed ``seed + first index of the batch``. Returns arrays ``[V, episodes]``.
    """
    ids = np.asarray(ids, np.int64).reshape(-1)
    if episodes <= 0:
        raise ValueError(f"episodes: must be positive, got {episodes}")
    max_steps = int(max_steps or env.max_episode_steps)
    per_batch = max(1, EVAL_BATCH_ENVS // episodes)
    out = {k: np.zeros((ids.size, episodes), t) for k, t in _FIELDS.items()}
    key = jax.random.key(seed)
    for start in range(0, ids.size, per_batch):
        chunk = ids[start : start + per_batch]
        batch = env.with_levels(chunk, chunk.size * episodes, seed + start, pinned=True)
        try:
            k = jax.random.fold_in(key, start)
            var, *values = _first_episodes(batch, network, params, k, max_steps)
        finally:
            _close(batch)
        for row, v in enumerate(chunk):
            mine = np.flatnonzero(var == v)
            if mine.size != episodes:
                raise RuntimeError(
                    f"env: a pinned batch gave variation {v} {mine.size} first episodes, "
                    f"expected {episodes} (with_levels(pinned=True) must pin envs to levels)"
                )
            for name, value in zip(_FIELDS, values, strict=True):
                out[name][start + row] = value[mine]
    return VariationScores(ids, out["returns"], out["lengths"], out["success"], out["finished"])


_FIELDS = {"returns": np.float32, "lengths": np.int32, "success": np.bool_, "finished": np.bool_}

"""Demonstrations: collect episodes with a policy, keep the successful ones, store them safely.

Collection runs ``B`` auto-resetting envs for ``T`` steps in one jitted ``lax.scan`` and brings
the trajectory to the host, where complete episodes are cut out and kept if they succeeded: by the
environment's ``success`` flag, or, for environments without one, by a return threshold.

:class:`DemoBuffer` is a fixed-capacity device buffer of ``(obs, action)`` pairs with a count, so
it can sit in a jitted update; it is saved to ``.npz`` (never pickle) and validated on load.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.distributions import distribution_for
from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.networks import ActorCritic

FORMAT = "gsl_jax.demos/1"


@struct.dataclass
class DemoBuffer:
    """``capacity`` demonstration transitions.

    Attributes:
        obs: ``[capacity, *obs_shape]`` observations.
        action: ``[capacity, *action_shape]`` actions taken in them.
        count: int32 ``[]``, the number of valid rows (rows past it are zero padding).
        episodes: int32 ``[]``, how many episodes the rows came from.
    """

    obs: jax.Array
    action: jax.Array
    count: jax.Array
    episodes: jax.Array

    @property
    def capacity(self) -> int:
        return int(self.obs.shape[0])

    @classmethod
    def from_arrays(
        cls, obs: np.ndarray, action: np.ndarray, episodes: int, capacity: int | None = None
    ) -> DemoBuffer:
        """Pack host arrays ``obs [N, ...]``, ``action [N, ...]`` into a buffer of ``capacity``
        rows (default ``max(N, 1)``); extra rows beyond ``capacity`` are dropped."""
        n = int(obs.shape[0])
        if action.shape[0] != n:
            raise ValueError(f"action: {action.shape[0]} rows but obs has {n}")
        capacity = max(n, 1) if capacity is None else int(capacity)
        if capacity <= 0:
            raise ValueError(f"capacity: must be positive, got {capacity}")
        keep = min(n, capacity)
        obs_buf = np.zeros((capacity,) + obs.shape[1:], obs.dtype)
        act_buf = np.zeros((capacity,) + action.shape[1:], action.dtype)
        obs_buf[:keep], act_buf[:keep] = obs[:keep], action[:keep]
        return cls(
            jnp.asarray(obs_buf),
            jnp.asarray(act_buf),
            jnp.asarray(keep, jnp.int32),
            jnp.asarray(episodes, jnp.int32),
        )

    def sample(self, key: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
        """Draw ``batch_size`` rows uniformly from the valid ones: ``(obs [N, ...], action [N])``.
        An empty buffer returns its (zero) first rows; callers gate on ``count > 0``."""
        index = jax.random.randint(key, (batch_size,), 0, jnp.maximum(self.count, 1))
        return self.obs[index], self.action[index]

    def save(self, path: str | Path) -> Path:
        """Write the valid rows to ``path`` (``.npz``); refuses to overwrite an existing file."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"demo file {path} exists already; not overwriting it")
        n = int(self.count)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            format=np.array(FORMAT),
            obs=np.asarray(self.obs[:n]),
            action=np.asarray(self.action[:n]),
            episodes=np.asarray(int(self.episodes)),
        )
        tmp.replace(path)  # atomic: a killed save leaves no half-written demo file
        return path

    @classmethod
    def load(
        cls,
        path: str | Path,
        obs_shape: tuple[int, ...] | None = None,
        obs_dtype: Any = None,
        action_shape: tuple[int, ...] | None = None,
        action_dtype: Any = None,
        capacity: int | None = None,
    ) -> DemoBuffer:
        """Read a file written by :meth:`save`, checking its format, shapes and dtypes.

        Raises ``ValueError`` naming the file and the offending entry for a foreign, corrupt or
        truncated file, or one whose shapes/dtypes differ from the expected ones.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except FileNotFoundError:
            raise
        except Exception as err:  # zipfile/npy errors: corrupt or truncated file
            raise ValueError(f"demo file {path}: unreadable ({err})") from None
        for key in ("format", "obs", "action", "episodes"):
            if key not in arrays:
                raise ValueError(
                    f"demo file {path}: missing entry {key!r}; not a gsl_jax demo file"
                )
        if str(arrays["format"]) != FORMAT:
            raise ValueError(f"demo file {path}: format {arrays['format']!s}, expected {FORMAT}")
        obs, action = arrays["obs"], arrays["action"]
        if obs.shape[0] != action.shape[0]:
            raise ValueError(
                f"demo file {path}: {obs.shape[0]} observations, {action.shape[0]} actions"
            )
        checks = (
            ("obs", obs, obs_shape, obs_dtype),
            ("action", action, action_shape, action_dtype),
        )
        for name, arr, shape, dtype in checks:
            if shape is not None and tuple(arr.shape[1:]) != tuple(shape):
                raise ValueError(
                    f"demo file {path}: {name} rows have shape {arr.shape[1:]}, "
                    f"expected {tuple(shape)}"
                )
            if dtype is not None and arr.dtype != np.dtype(dtype):
                raise ValueError(
                    f"demo file {path}: {name} dtype {arr.dtype}, expected {np.dtype(dtype)}"
                )
        return cls.from_arrays(obs, action, int(arrays["episodes"]), capacity)


def _rollout(vec_env: VecEnv, network: ActorCritic, num_steps: int):
    """``run(params, variations, key) -> (obs, action, reward, done, success)``, each
    ``[T, B, ...]``: the stochastic policy on ``num_steps`` steps of ``vec_env``."""

    def run(params, variations, key):
        k_reset, k_run = jax.random.split(key)
        state = vec_env.reset(k_reset, variations)

        def body(state, step_key):
            k_act, k_env = jax.random.split(step_key)
            dist, _ = network.apply(params, state.obs)
            action = distribution_for(dist).sample(k_act, dist)
            next_state, reward, done, info = vec_env.step(k_env, state, action, variations)
            return next_state, (state.obs, action, reward, done, info["success"])

        _, out = jax.lax.scan(body, state, jax.random.split(k_run, num_steps))
        return out

    return run


@functools.lru_cache(maxsize=32)
def _rollout_fn(vec_env: VecEnv, network: ActorCritic, num_steps: int, vmapped: bool = False):
    """The jitted rollout behind :func:`rollout_trajectory` (with ``vmapped``: over a leading
    policy axis of params, variations and keys, for :func:`rollout_population`)."""
    run = _rollout(vec_env, network, num_steps)
    return jax.jit(jax.vmap(run) if vmapped else run)


def _cached_rollout(vec_env: VecEnv, network: ActorCritic, num_steps: int, vmapped: bool):
    try:
        return _rollout_fn(vec_env, network, num_steps, vmapped)
    except TypeError:  # an unhashable env or network: compile without the cache
        return _rollout_fn.__wrapped__(vec_env, network, num_steps, vmapped)


_TRAJ_KEYS = ("obs", "action", "reward", "done", "success")


def rollout_trajectory(
    vec_env: VecEnv,
    network: ActorCritic,
    params: Any,
    variations: VariationSet,
    key: jax.Array,
    num_steps: int,
) -> dict[str, np.ndarray]:
    """Run the stochastic policy for ``num_steps`` steps of ``vec_env`` (auto-reset onto
    ``variations``); returns host arrays ``[T, B, ...]``: obs, action, reward, done, success.

    The compiled rollout is cached per ``(vec_env, network, num_steps)``, so collecting for
    several policies (or variation sets of one capacity) compiles once."""
    out = _cached_rollout(vec_env, network, num_steps, False)(params, variations, key)
    return dict(zip(_TRAJ_KEYS, (np.asarray(x) for x in out), strict=True))


def rollout_population(
    vec_env: VecEnv,
    network: ActorCritic,
    params: Any,
    variations: VariationSet,
    keys: jax.Array,
    num_steps: int,
    group: int = 16,
):
    """:func:`rollout_trajectory` for ``P`` policies at once: ``params`` with a leading axis
    ``P``, stacked ``variations`` (``ids [P, C]``), ``keys [P]``. Yields member ``p``'s host
    trajectory (``[T, B, ...]`` arrays) in order.

    Members run ``group`` at a time in one vmapped program (the last group padded with copies
    of member ``P - 1``, whose results are dropped), so host memory holds ``group``
    trajectories, not ``P``, and a population of any size compiles once."""
    num = int(keys.shape[0])
    size = min(num, group)
    run = _cached_rollout(vec_env, network, num_steps, True)
    for begin in range(0, num, size):
        index = np.minimum(np.arange(begin, begin + size), num - 1)
        take = lambda x, index=index: x[index]  # noqa: E731
        out = run(jax.tree.map(take, params), jax.tree.map(take, variations), keys[index])
        host = [np.asarray(x) for x in out]
        for j in range(min(size, num - begin)):
            yield {k: x[j] for k, x in zip(_TRAJ_KEYS, host, strict=True)}


def successful_episodes(
    traj: dict[str, np.ndarray],
    max_episodes: int,
    return_threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cut complete episodes out of a ``[T, B]`` trajectory and keep the successful ones.

    An episode is kept if its last step has ``success`` (or, with ``return_threshold``, if its
    return reaches the threshold). Episodes still running at the end are dropped.

    Returns ``(obs [N, ...], action [N, ...], kept_episodes, finished_episodes)``.
    """
    obs_rows, act_rows = [], []
    kept = finished = 0
    num_steps, num_envs = traj["done"].shape
    for b in range(num_envs):
        start = 0
        for t in np.flatnonzero(traj["done"][:, b]):
            finished += 1
            if return_threshold is None:
                good = bool(traj["success"][t, b])
            else:
                good = float(traj["reward"][start : t + 1, b].sum()) >= return_threshold
            if good and kept < max_episodes:
                obs_rows.append(traj["obs"][start : t + 1, b])
                act_rows.append(traj["action"][start : t + 1, b])
                kept += 1
            start = t + 1
    if not obs_rows:
        obs_shape, act_shape = traj["obs"].shape[2:], traj["action"].shape[2:]
        return (
            np.zeros((0,) + obs_shape, traj["obs"].dtype),
            np.zeros((0,) + act_shape, traj["action"].dtype),
            0,
            finished,
        )
    return np.concatenate(obs_rows), np.concatenate(act_rows), kept, finished


def count_successes(traj: dict[str, np.ndarray], return_threshold: float | None = None) -> int:
    """How many complete episodes of a ``[T, B]`` trajectory succeeded, by the rule of
    :func:`successful_episodes` (whose ``kept`` stops at ``max_episodes``; this count does not)."""
    if return_threshold is None:
        return int(np.sum(traj["done"] & traj["success"]))
    count = 0
    for b in range(traj["done"].shape[1]):
        start = 0
        for t in np.flatnonzero(traj["done"][:, b]):
            count += float(traj["reward"][start : t + 1, b].sum()) >= return_threshold
            start = t + 1
    return int(count)

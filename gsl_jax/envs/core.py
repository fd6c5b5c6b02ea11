"""The functional environment interface of gsl_jax, with variations as explicit data.

An environment is a pair of pure functions over an explicit state pytree:

    reset(key, variation)       -> (obs, state)
    step(key, state, action)    -> (obs, state, reward, done, info)

A *variation* is an int32 in ``[0, env.num_variations)``: a level seed, a task id or an index into
a parameter family. It is chosen at reset and lives in the state, so a batch of environments can
each play a different variation under ``jax.vmap``. ``info`` always carries

    success   bool   the episode ended in success (level complete / survived to the time limit)
    truncated bool   the episode ended at the time limit rather than a terminal state
    variation int32  the variation of the episode this step belongs to

A :class:`VariationSet` is a fixed-capacity int32 array plus a count, so sets of different sizes
stack along a population axis and batch under ``vmap``. :class:`VecEnv` adds a batch axis B,
auto-reset (the next episode's variation is drawn uniformly from the set) and
:class:`EpisodeStats`, fixed-shape per-env statistics that are usable inside ``jit``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

PyTree = Any
Info = dict[str, jax.Array]


# --------------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Discrete:
    """``n`` discrete actions ``0 .. n-1``."""

    n: int


@dataclass(frozen=True)
class Box:
    """Continuous actions or observations of ``shape`` bounded by ``low`` and ``high``."""

    shape: tuple[int, ...]
    low: float | np.ndarray = -np.inf
    high: float | np.ndarray = np.inf
    dtype: Any = jnp.float32


Space = Discrete | Box


# --------------------------------------------------------------------------------------------
# The environment interface
# --------------------------------------------------------------------------------------------
class Environment(abc.ABC):
    """A functional environment with integer variations.

    Subclasses set ``num_variations``, ``observation_space`` and ``action_space`` and implement
    :meth:`reset` and :meth:`step`. Both must be pure and jittable; ``step`` returns ``done`` as a
    bool scalar and an ``info`` dict with at least ``success``, ``truncated`` and ``variation``.
    """

    #: Number of distinct variations; valid ids are ``0 .. num_variations - 1``.
    num_variations: int
    observation_space: Box
    action_space: Space
    #: The time limit: episodes are truncated after this many steps.
    max_episode_steps: int = 1000

    @abc.abstractmethod
    def reset(self, key: jax.Array, variation: jax.Array) -> tuple[PyTree, PyTree]:
        """Start an episode of ``variation`` (int32 scalar). Returns ``(obs, state)``."""

    @abc.abstractmethod
    def step(
        self, key: jax.Array, state: PyTree, action: jax.Array
    ) -> tuple[PyTree, PyTree, jax.Array, jax.Array, Info]:
        """Advance one step. Returns ``(obs, state, reward [], done [], info)``."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def validate_variations(
        self, ids: Sequence[int] | np.ndarray, field: str = "variations"
    ) -> None:
        """Raise ``ValueError`` naming ``field`` if any id is outside ``[0, num_variations)``."""
        arr = np.asarray(ids)
        if arr.size == 0:
            raise ValueError(f"{field}: the variation set is empty")
        bad = arr[(arr < 0) | (arr >= self.num_variations)]
        if bad.size:
            raise ValueError(
                f"{field}: variation ids {bad[:5].tolist()} are outside the range "
                f"[0, {self.num_variations}) of {self.name}"
            )


class StateEnvironment(Environment):
    """An environment whose observation is a pure function of its state (e.g. a rendered frame).

    Subclasses implement :meth:`init_state`, :meth:`transition` and :meth:`observe`; ``reset`` and
    ``step`` follow. :class:`VecEnv` uses the split to observe once per step, after the auto-reset
    has picked each env's state, instead of observing both the stepped and the reset state (which
    for a pixel game means rendering every frame twice).

    Set ``deterministic_reset = True`` when :meth:`init_state` ignores its key (a variation always
    starts from the same state, as a Procgen level does): then :meth:`VecEnv.level_bank` builds
    each variation's start state once per rollout and resets gather from it, instead of
    regenerating a level for every env at every step.
    """

    deterministic_reset: bool = False

    @abc.abstractmethod
    def init_state(self, key: jax.Array, variation: jax.Array) -> PyTree:
        """The start state of an episode of ``variation`` (int32 scalar)."""

    @abc.abstractmethod
    def transition(
        self, key: jax.Array, state: PyTree, action: jax.Array
    ) -> tuple[PyTree, jax.Array, jax.Array, Info]:
        """Advance one step. Returns ``(state, reward [], done [], info)``."""

    @abc.abstractmethod
    def observe(self, state: PyTree) -> PyTree:
        """The observation of ``state``."""

    def next_episode(self, last: PyTree, start: PyTree) -> PyTree:
        """The start state of the episode that follows ``last`` (the state its final step left)
        when auto-reset onto ``start`` (from :meth:`init_state`). The identity: a new episode
        depends on its variation alone. A game whose original carries something over from one
        episode to the next (Procgen's miner) overrides this."""
        del last
        return start

    def reset(self, key: jax.Array, variation: jax.Array) -> tuple[PyTree, PyTree]:
        state = self.init_state(key, variation)
        return self.observe(state), state

    def step(
        self, key: jax.Array, state: PyTree, action: jax.Array
    ) -> tuple[PyTree, PyTree, jax.Array, jax.Array, Info]:
        state, reward, done, info = self.transition(key, state, action)
        return self.observe(state), state, reward, done, info


def make_info(success: jax.Array, truncated: jax.Array, variation: jax.Array) -> Info:
    """The three ``info`` entries every environment must return, with canonical dtypes."""
    return {
        "success": jnp.asarray(success, jnp.bool_),
        "truncated": jnp.asarray(truncated, jnp.bool_),
        "variation": jnp.asarray(variation, jnp.int32),
    }


# --------------------------------------------------------------------------------------------
# Variation sets
# --------------------------------------------------------------------------------------------
@struct.dataclass
class VariationSet:
    """A set of variation ids in a fixed-capacity array.

    Attributes:
        ids: int32 ``[capacity]``; entries past ``count`` are padding and never sampled.
        count: int32 ``[]``, the number of valid ids (>= 1).

    Sets stacked along a leading axis (``ids [P, capacity]``, ``count [P]``) describe one set per
    population member; see :func:`stack_variation_sets`.
    """

    ids: jax.Array
    count: jax.Array

    @classmethod
    def from_ids(
        cls,
        ids: Sequence[int] | np.ndarray,
        capacity: int | None = None,
        env: Environment | None = None,
        field: str = "variations",
    ) -> VariationSet:
        """Build a set from a list of ids, padded to ``capacity`` (default: ``len(ids)``).

        Raises ``ValueError`` naming ``field`` if the set is empty, larger than ``capacity``,
        or (when ``env`` is given) holds ids outside the environment's range.
        """
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if arr.size == 0:
            raise ValueError(f"{field}: the variation set is empty")
        if env is not None:
            env.validate_variations(arr, field)
        elif arr.min() < 0 or arr.max() > np.iinfo(np.int32).max:
            raise ValueError(f"{field}: variation ids must lie in [0, 2**31)")
        capacity = arr.size if capacity is None else int(capacity)
        if arr.size > capacity:
            raise ValueError(f"{field}: {arr.size} ids do not fit a capacity of {capacity}")
        padded = np.zeros(capacity, np.int32)
        padded[: arr.size] = arr
        return cls(ids=jnp.asarray(padded), count=jnp.asarray(arr.size, jnp.int32))

    @classmethod
    def range(cls, n: int, start: int = 0) -> VariationSet:
        """The set ``{start, ..., start + n - 1}``."""
        if n <= 0:
            raise ValueError(f"n: a variation range needs n >= 1, got {n}")
        return cls.from_ids(np.arange(start, start + n))

    @property
    def capacity(self) -> int:
        return self.ids.shape[-1]

    def sample(self, key: jax.Array) -> jax.Array:
        """Draw one id uniformly from the valid entries. Returns int32 ``[]``."""
        return self.ids[self.sample_index(key)]

    def sample_index(self, key: jax.Array) -> jax.Array:
        """Draw one position in ``[0, count)`` uniformly. Returns int32 ``[]``."""
        return jax.random.randint(key, (), 0, self.count)


def stack_variation_sets(
    sets: Sequence[Sequence[int] | np.ndarray],
    env: Environment | None = None,
    field: str = "variation_sets",
) -> VariationSet:
    """Stack id lists of possibly different sizes into one :class:`VariationSet` with a leading
    population axis: ``ids [P, max_size]``, ``count [P]``."""
    if len(sets) == 0:
        raise ValueError(f"{field}: no variation sets given")
    capacity = max(len(np.asarray(s).reshape(-1)) for s in sets)
    built = [
        VariationSet.from_ids(s, capacity=max(capacity, 1), env=env, field=f"{field}[{i}]")
        for i, s in enumerate(sets)
    ]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *built)


# --------------------------------------------------------------------------------------------
# Episode statistics
# --------------------------------------------------------------------------------------------
@struct.dataclass
class EpisodeStats:
    """Per-env running and last-finished episode statistics, all of shape ``[B]``.

    ``episode_*`` accumulate the episode in progress; ``last_*`` describe the most recently
    finished episode of each env and are valid where ``finished`` > 0 (the number of episodes
    that env has finished so far).
    """

    episode_return: jax.Array
    episode_length: jax.Array
    last_return: jax.Array
    last_length: jax.Array
    last_success: jax.Array
    last_variation: jax.Array
    finished: jax.Array

    @classmethod
    def zeros(cls, num_envs: int) -> EpisodeStats:
        f = jnp.zeros(num_envs, jnp.float32)
        i = jnp.zeros(num_envs, jnp.int32)
        return cls(f, i, f, i, jnp.zeros(num_envs, jnp.bool_), i, i)

    def update(self, reward: jax.Array, done: jax.Array, info: Info) -> EpisodeStats:
        """Account one step of every env: ``reward [B]``, ``done [B]``, ``info`` entries ``[B]``."""
        ret = self.episode_return + reward
        length = self.episode_length + 1
        return EpisodeStats(
            episode_return=jnp.where(done, 0.0, ret),
            episode_length=jnp.where(done, 0, length),
            last_return=jnp.where(done, ret, self.last_return),
            last_length=jnp.where(done, length, self.last_length),
            last_success=jnp.where(done, info["success"], self.last_success),
            last_variation=jnp.where(done, info["variation"], self.last_variation),
            finished=self.finished + done.astype(jnp.int32),
        )


# --------------------------------------------------------------------------------------------
# Vectorised, auto-resetting environments
# --------------------------------------------------------------------------------------------
@struct.dataclass
class VecEnvState:
    """State of ``B`` auto-resetting envs: the wrapped env states (leaves ``[B, ...]``), the
    current observations ``[B, *obs_shape]`` and the episode statistics."""

    env_state: PyTree
    obs: jax.Array
    stats: EpisodeStats


def _select(done: jax.Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    """Per-env ``where`` over two pytrees whose leaves have a leading batch axis ``[B, ...]``."""

    def pick(a, b):
        mask = done.reshape(done.shape + (1,) * (a.ndim - done.ndim))
        return jnp.where(mask, a, b)

    return jax.tree.map(pick, on_true, on_false)


class StepDraws(NamedTuple):
    """The random inputs of one :meth:`VecEnv.step`, leaves ``[B, ...]``.

    Attributes:
        step_keys: the envs' step keys.
        next_variation: the variation each env restarts on if its episode ends.
        reset_keys: the keys of those resets.
        reset: ``(obs, env_state)`` of those resets computed ahead of time (``obs`` is ``None``
            for a :class:`StateEnvironment`), or ``None`` to compute them inside the step.
            Either way the step's result is the same.
    """

    step_keys: jax.Array
    next_variation: jax.Array
    reset_keys: jax.Array
    reset: tuple[jax.Array, PyTree] | None = None


#: Largest variation-set capacity for which :meth:`VecEnv.level_bank` builds a bank.
MAX_LEVEL_BANK = 4096


@dataclass(frozen=True)
class VecEnv:
    """``num_envs`` copies of ``env`` stepped together, auto-resetting on ``done``.

    After a finished episode the env restarts on a variation drawn uniformly from the
    :class:`VariationSet` passed to :meth:`step`; the returned observation is the first of the new
    episode, while ``reward``, ``done`` and ``info`` describe the step that ended the old one.
    """

    env: Environment
    num_envs: int

    def __post_init__(self) -> None:
        if self.num_envs <= 0:
            raise ValueError(f"num_envs: must be positive, got {self.num_envs}")

    def reset(self, key: jax.Array, variations: VariationSet) -> VecEnvState:
        """Start ``num_envs`` episodes on variations drawn from ``variations``."""
        sample_keys, reset_keys = jax.random.split(key, (2, self.num_envs))
        var = jax.vmap(variations.sample)(sample_keys)
        obs, state = jax.vmap(self.env.reset)(reset_keys, var)
        return VecEnvState(state, obs, EpisodeStats.zeros(self.num_envs))

    def step(
        self, key: jax.Array, state: VecEnvState, action: jax.Array, variations: VariationSet
    ) -> tuple[VecEnvState, jax.Array, jax.Array, Info]:
        """Step all envs with ``action [B, ...]``.

        Returns ``(state, reward [B], done [B], info)``; the next observation is ``state.obs``.
        """
        return self.step_with_draws(self.draw(key, variations), state, action)

    def level_bank(self, variations: VariationSet) -> PyTree | None:
        """Start states of every entry of ``variations`` (leaves ``[C, ...]``), or ``None``.

        Only for a :class:`StateEnvironment` with ``deterministic_reset`` and a set of capacity at
        most :data:`MAX_LEVEL_BANK`; pass the bank to :meth:`draw` so that resets gather from it.
        """
        env = self.env
        if not (isinstance(env, StateEnvironment) and env.deterministic_reset):
            return None
        if variations.capacity > MAX_LEVEL_BANK:
            return None
        keys = jax.random.split(jax.random.key(0), variations.capacity)  # unused by the env
        return jax.vmap(env.init_state)(keys, variations.ids)

    def draw(
        self,
        key: jax.Array,
        variations: VariationSet,
        resets: bool = False,
        bank: PyTree | None = None,
    ) -> StepDraws:
        """The randomness :meth:`step` consumes, drawn ahead of time (see :class:`StepDraws`);
        ``resets=True`` also runs the resets the step may need; with a ``bank`` from
        :meth:`level_bank` the resets are gathered from it (cheap, so always done).

        ``jax.vmap(lambda k: vec_env.draw(k, variations))(keys)`` draws for many steps at once,
        which keeps the PRNG work (and, with ``resets``, the resets) out of a rollout loop.
        """
        # One split for all three uses: fewer PRNG ops.
        step_keys, var_keys, reset_keys = jax.random.split(key, (3, self.num_envs))
        index = jax.vmap(variations.sample_index)(var_keys)
        draws = StepDraws(step_keys, variations.ids[index], reset_keys)
        if bank is not None:
            draws = draws._replace(reset=(None, jax.tree.map(lambda x: x[index], bank)))
        elif resets:
            draws = draws._replace(reset=self._reset_from(draws))
        return draws

    def _reset_from(self, draws: StepDraws) -> tuple[jax.Array | None, PyTree]:
        """``(obs [B, ...], env_state [B, ...])`` of the resets described by ``draws``; the
        observation is ``None`` for a :class:`StateEnvironment` (it is observed after the
        auto-reset)."""
        if draws.reset is not None:
            return draws.reset
        if isinstance(self.env, StateEnvironment):
            return None, jax.vmap(self.env.init_state)(draws.reset_keys, draws.next_variation)
        return jax.vmap(self.env.reset)(draws.reset_keys, draws.next_variation)

    def step_with_draws(
        self, draws: StepDraws, state: VecEnvState, action: jax.Array
    ) -> tuple[VecEnvState, jax.Array, jax.Array, Info]:
        """:meth:`step` with its randomness given by ``draws`` (from :meth:`draw`)."""
        obs0, env_state0 = self._reset_from(draws)
        if isinstance(self.env, StateEnvironment):
            env_state, reward, done, info = jax.vmap(self.env.transition)(
                draws.step_keys, state.env_state, action
            )
            env_state0 = jax.vmap(self.env.next_episode)(env_state, env_state0)
            env_state = _select(done, env_state0, env_state)
            obs = jax.vmap(self.env.observe)(env_state)
        else:
            obs, env_state, reward, done, info = jax.vmap(self.env.step)(
                draws.step_keys, state.env_state, action
            )
            env_state = _select(done, env_state0, env_state)
            obs = _select(done, obs0, obs)
        stats = state.stats.update(reward.astype(jnp.float32), done, info)
        return VecEnvState(env_state, obs, stats), reward, done, info

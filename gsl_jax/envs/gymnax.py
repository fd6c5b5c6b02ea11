"""Every gymnax environment, with its standard parameters or a named family of variations.

``GymnaxEnv(id)`` is the gymnax environment ``id`` (any of :func:`gymnax_ids`: classic control,
MinAtar, bsuite, misc) with gymnax's default ``EnvParams``: one variation, the environment
PureJaxRL and rejax train on. Variations are opt-in: ``GymnaxEnv(id, family=name)`` picks a
*parameter family* registered for that id (:func:`families`, :func:`register_family`), or
``family={field: values}`` gives a grid directly.

A family is a grid of values for some fields of ``EnvParams``; variation ``v`` is the ``v``-th
point of the grid in row-major order (the last field varies fastest). The built-in families:

=========================  ===========  ======================================================
id                         family       what each variation changes
=========================  ===========  ======================================================
CartPole-v1                ``pole``     pole half-length 0.25/0.5/0.75/1.0 m x pole mass
                                        0.05/0.1/0.2/0.4 kg (16; variation 1 = 0.25 m, 0.1 kg)
Pendulum-v1                ``pendulum`` mass 0.5/1/1.5/2 kg x length 0.5/1/1.5 m (12)
Acrobot-v1                 ``links``    mass of link 1 x mass of link 2, 0.5/1/1.5 kg each (9)
MountainCar-v0             ``force``    engine force 0.0008/0.001/0.0012 (3)
MountainCarContinuous-v0   ``power``    engine power 0.0012/0.0015/0.0018 (3)
=========================  ===========  ======================================================

Fields that other fields are derived from (CartPole's ``total_mass`` and ``polemass_length``) are
recomputed by the family's ``derived`` function, so a variation is a physically consistent system.

Success follows the task: surviving to the time limit for balancing tasks (CartPole), reaching
the goal for goal tasks (MountainCar, Acrobot), and never elsewhere (Pendulum, MinAtar, ...;
judge those by return).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Environment, Info, make_info

SuccessRule = Literal["truncated", "terminated", "never"]

#: Success rules of the environments that have a goal (every other id: ``"never"``).
SUCCESS: dict[str, SuccessRule] = {
    "CartPole-v1": "truncated",
    "Acrobot-v1": "terminated",
    "MountainCar-v0": "terminated",
    "MountainCarContinuous-v0": "terminated",
}


def _same(params: Any) -> Any:
    return params


def _cartpole_derived(params: Any) -> Any:
    total_mass = params.masscart + params.masspole
    return params.replace(total_mass=total_mass, polemass_length=params.masspole * params.length)


@dataclass(frozen=True)
class Family:
    """A named grid of ``EnvParams`` values: ``grid`` ``{field: values}``, what it varies
    (``description``) and ``derived``, which recomputes dependent fields of one point."""

    grid: Mapping[str, Sequence[float]]
    description: str = ""
    derived: Callable[[Any], Any] = field(default=_same)


_FAMILIES: dict[str, dict[str, Family]] = {}


def gymnax_ids() -> list[str]:
    """Every gymnax environment id :class:`GymnaxEnv` accepts (gymnax's registry)."""
    import gymnax

    return list(gymnax.registered_envs)


def register_family(
    env_id: str,
    name: str,
    grid: Mapping[str, Sequence[float]],
    description: str = "",
    derived: Callable[[Any], Any] | None = None,
) -> Family:
    """Register a parameter family ``name`` for the gymnax environment ``env_id``, so that
    ``GymnaxEnv(env_id, family=name)`` builds it. ``grid`` maps ``EnvParams`` fields to their
    values; ``derived(params) -> params`` recomputes fields that depend on the varied ones.

    The grid is checked when an env is built (an unknown field is a ``ValueError`` then); here
    ``ValueError`` names ``env_id`` if gymnax has no such id, ``name`` if it is registered already
    or not an identifier, ``grid`` if a field has no values.
    """
    if env_id not in gymnax_ids():
        raise ValueError(f"env_id: unknown gymnax environment {env_id!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: a family name must be an identifier, got {name!r}")
    if name in _FAMILIES.get(env_id, {}):
        raise ValueError(f"name: {env_id} has a family {name!r} already")
    grid = {key: tuple(float(v) for v in values) for key, values in grid.items()}
    empty = [key for key, values in grid.items() if not values]
    if empty:
        raise ValueError(f"grid[{empty[0]!r}]: needs at least one value")
    family = Family(grid, description, derived or _same)
    _FAMILIES.setdefault(env_id, {})[name] = family
    return family


def families(env_id: str) -> dict[str, Family]:
    """The families registered for ``env_id`` (name -> :class:`Family`)."""
    return dict(_FAMILIES.get(env_id, {}))


register_family(
    "CartPole-v1",
    "pole",
    {"length": (0.25, 0.5, 0.75, 1.0), "masspole": (0.05, 0.1, 0.2, 0.4)},
    "pole half-length (m) x pole mass (kg)",
    _cartpole_derived,
)
register_family(
    "Pendulum-v1", "pendulum", {"m": (0.5, 1.0, 1.5, 2.0), "l": (0.5, 1.0, 1.5)}, "mass x length"
)
register_family(
    "Acrobot-v1",
    "links",
    {"link_mass_1": (0.5, 1.0, 1.5), "link_mass_2": (0.5, 1.0, 1.5)},
    "mass of link 1 x mass of link 2 (kg)",
)
register_family("MountainCar-v0", "force", {"force": (0.0008, 0.001, 0.0012)}, "engine force")
register_family(
    "MountainCarContinuous-v0", "power", {"power": (0.0012, 0.0015, 0.0018)}, "engine power"
)


def resolve_family(name: str, family: str | Mapping[str, Sequence[float]] | None) -> Family:
    """The :class:`Family` that ``family`` names for env ``name``: ``None`` or ``{}`` the
    standard parameters (one variation), a string a registered family, a mapping a grid."""
    if family is None:
        return Family({})
    if isinstance(family, str):
        known = families(name)
        if family not in known:
            raise ValueError(
                f"family: {name} has no family {family!r}; registered: {sorted(known) or 'none'} "
                "(gsl_jax.envs.gymnax.register_family adds one)"
            )
        return known[family]
    if isinstance(family, Mapping):
        return Family({key: tuple(values) for key, values in family.items()})
    raise ValueError(f"family: expected a family name or a {{field: values}} grid, got {family!r}")


@struct.dataclass
class GymnaxState:
    """The wrapped gymnax state plus the episode's variation (int32 ``[]``)."""

    inner: Any
    variation: jax.Array


class GymnaxEnv(Environment):
    """A gymnax environment whose variations index a parameter grid (module docstring).

    Args:
        name: a gymnax environment id (:func:`gymnax_ids`, e.g. ``"CartPole-v1"``,
            ``"Breakout-MinAtar"``).
        family: ``None`` (default): gymnax's standard parameters, one variation; a registered
            family's name (e.g. ``"pole"``); or a grid ``{field: values}`` (``{}``: standard).
    """

    def __init__(self, name: str, family: str | Mapping[str, Sequence[float]] | None = None):
        import gymnax  # local import: gymnax pulls in optional modules at import time

        if name not in gymnax_ids():
            raise ValueError(f"env: unknown gymnax environment {name!r}; known: {gymnax_ids()}")
        spec = resolve_family(name, family)
        self._env, self._default = gymnax.make(name)
        grid_spec = dict(spec.grid)
        for key, values in grid_spec.items():
            if not hasattr(self._default, key):
                raise ValueError(f"family: {name} has no parameter {key!r}")
            if len(values) == 0:
                raise ValueError(f"family[{key!r}]: needs at least one value")
        self._derived = spec.derived
        self._success = SUCCESS.get(name, "never")
        self.family = grid_spec
        self._name = name
        grid = list(itertools.product(*grid_spec.values())) or [()]
        self.num_variations = len(grid)
        self.max_episode_steps = int(self._default.max_steps_in_episode)
        # [V, F] table of parameter values, looked up by variation inside jit.
        self._table = jnp.asarray(np.array(grid, np.float32).reshape(len(grid), len(grid_spec)))

        obs_space = self._env.observation_space(self._default)
        if hasattr(obs_space, "n"):  # a discrete observation (FrozenLake's cell index)
            self.observation_space = Box(tuple(obs_space.shape), 0, int(obs_space.n) - 1)
        else:
            self.observation_space = Box(tuple(obs_space.shape), obs_space.low, obs_space.high)
        act_space = self._env.action_space(self._default)
        if hasattr(act_space, "n"):
            self.action_space = Discrete(int(act_space.n))
        else:
            self.action_space = Box(tuple(act_space.shape), act_space.low, act_space.high)

    @property
    def name(self) -> str:
        return self._name

    def params(self, variation: jax.Array) -> Any:
        """The gymnax ``EnvParams`` of ``variation`` (int32 ``[]``)."""
        if not self.family:  # standard parameters: nothing looked up, nothing traced
            return self._default
        row = self._table[variation]
        overrides = {key: row[i] for i, key in enumerate(self.family)}
        return self._derived(self._default.replace(**overrides))

    def variation_params(self, variation: int) -> dict[str, float]:
        """The varied parameter values of ``variation`` (host side, for logs and docs)."""
        row = np.asarray(self._table[variation])
        return {key: float(row[i]) for i, key in enumerate(self.family)}

    def reset(self, key: jax.Array, variation: jax.Array) -> tuple[jax.Array, GymnaxState]:
        variation = jnp.asarray(variation, jnp.int32)
        obs, inner = self._env.reset_env(key, self.params(variation))
        return obs, GymnaxState(inner, variation)

    def step(
        self, key: jax.Array, state: GymnaxState, action: jax.Array
    ) -> tuple[jax.Array, GymnaxState, jax.Array, jax.Array, Info]:
        params = self.params(state.variation)
        if isinstance(self.action_space, Box):
            action = jnp.clip(action, self.action_space.low, self.action_space.high)
        obs, inner, reward, terminated, _ = self._env.step_env(key, state.inner, action, params)
        terminated = jnp.asarray(terminated, jnp.bool_).reshape(())
        truncated = jnp.logical_and(self._env.is_truncated(inner, params), ~terminated)
        done = jnp.logical_or(terminated, truncated)
        success = {
            "truncated": truncated,
            "terminated": terminated,
            "never": jnp.zeros((), jnp.bool_),
        }[self._success]
        info = make_info(success, truncated, state.variation)
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        return obs, GymnaxState(inner, state.variation), reward, done, info

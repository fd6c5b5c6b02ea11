"""gymnax environments with variations drawn from a parameter family.

A *parameter family* is a grid of values for some fields of the gymnax ``EnvParams``; variation
``v`` is the ``v``-th point of the grid in row-major order (the last field varies fastest). For
example the default CartPole family

    length   (pole half-length, m): 0.25, 0.5, 0.75, 1.0
    masspole (kg):                  0.05, 0.1, 0.2, 0.4

has 16 variations; variation 0 is (0.25 m, 0.05 kg), variation 1 is (0.25 m, 0.1 kg), ...
Fields that other fields are derived from (CartPole's ``total_mass`` and ``polemass_length``) are
recomputed, so a variation is always a physically consistent system.

Success follows the task: surviving to the time limit for balancing tasks (CartPole), reaching
the goal for goal tasks (MountainCar, Acrobot) and never for Pendulum, which has no goal (use a
return threshold there).
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


def _cartpole_derived(params: Any) -> Any:
    total_mass = params.masscart + params.masspole
    return params.replace(total_mass=total_mass, polemass_length=params.masspole * params.length)


@dataclass(frozen=True)
class GymnaxSpec:
    """How one gymnax environment is varied and judged."""

    family: Mapping[str, Sequence[float]]
    success: SuccessRule
    derived: Callable[[Any], Any] = field(default=lambda p: p)


#: Default parameter families and success rules of the supported gymnax environments.
SPECS: dict[str, GymnaxSpec] = {
    "CartPole-v1": GymnaxSpec(
        {"length": (0.25, 0.5, 0.75, 1.0), "masspole": (0.05, 0.1, 0.2, 0.4)},
        "truncated",
        _cartpole_derived,
    ),
    "Pendulum-v1": GymnaxSpec({"m": (0.5, 1.0, 1.5, 2.0), "l": (0.5, 1.0, 1.5)}, "never"),
    "Acrobot-v1": GymnaxSpec(
        {"link_mass_1": (0.5, 1.0, 1.5), "link_mass_2": (0.5, 1.0, 1.5)}, "terminated"
    ),
    "MountainCar-v0": GymnaxSpec({"force": (0.0008, 0.001, 0.0012)}, "terminated"),
    "MountainCarContinuous-v0": GymnaxSpec({"power": (0.0012, 0.0015, 0.0018)}, "terminated"),
}


@struct.dataclass
class GymnaxState:
    """The wrapped gymnax state plus the episode's variation (int32 ``[]``)."""

    inner: Any
    variation: jax.Array


class GymnaxEnv(Environment):
    """A gymnax environment whose variations index a parameter grid.

    Args:
        name: a gymnax environment id with an entry in :data:`SPECS` (e.g. ``"CartPole-v1"``).
        family: optional override of the parameter grid, ``{field: values}``; ``{}`` gives a single
            variation with gymnax's default parameters.
    """

    def __init__(self, name: str, family: Mapping[str, Sequence[float]] | None = None):
        import gymnax  # local import: gymnax pulls in optional modules at import time

        if name not in SPECS:
            raise ValueError(f"env: unknown gymnax environment {name!r}; known: {sorted(SPECS)}")
        spec = SPECS[name]
        self._env, self._default = gymnax.make(name)
        self._spec = spec
        family = dict(spec.family if family is None else family)
        for key, values in family.items():
            if not hasattr(self._default, key):
                raise ValueError(f"family: {name} has no parameter {key!r}")
            if len(values) == 0:
                raise ValueError(f"family[{key!r}]: needs at least one value")
        self.family = family
        self._name = name
        grid = list(itertools.product(*family.values())) or [()]
        self.num_variations = len(grid)
        self.max_episode_steps = int(self._default.max_steps_in_episode)
        # [V, F] table of parameter values, looked up by variation inside jit.
        self._table = jnp.asarray(np.array(grid, np.float32).reshape(len(grid), len(family)))

        obs_space = self._env.observation_space(self._default)
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
        row = self._table[variation]
        overrides = {key: row[i] for i, key in enumerate(self.family)}
        return self._spec.derived(self._default.replace(**overrides))

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
        truncated = jnp.logical_and(self._env.is_truncated(inner, params), ~terminated)
        done = jnp.logical_or(terminated, truncated)
        success = {
            "truncated": truncated,
            "terminated": terminated,
            "never": jnp.zeros((), jnp.bool_),
        }[self._spec.success]
        info = make_info(success, truncated, state.variation)
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        return obs, GymnaxState(inner, state.variation), reward, done, info

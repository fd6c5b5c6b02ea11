"""Our Procgen ports behind gymnax's own ``Environment`` API, for other people's pipelines.

A PureJaxRL, rejax or Stoix user can train on the ports without adopting our learner:

    env, params = gymnax_make("coinrun", levels=range(200), obs_mode="symbolic")
    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

:class:`ProcgenGymnax` implements gymnax 1.x's ``reset_env``/``step_env`` (gymnax's ``step``
adds the auto-reset), its spaces, and :class:`ProcgenParams`, whose ``levels`` hold the level
set episodes are drawn from (so one compiled program can train on different level sets, and a
population can vmap over them). ``gymnax.wrappers`` apply as to any gymnax env, e.g.
``LogWrapper``, ``FlattenObservationWrapper``, and ``LegacyStepAPIWrapper`` for pipelines
written against gymnax's older five-value ``step``.

Differences from the port's own interface: the level set lives in ``params`` rather than in
:class:`~gsl_jax.envs.core.VecEnv`'s argument; resets regenerate the level instead of gathering
it from a level bank (gymnax resets one env at a time), which is slower for the games whose
generation is costly (coinrun, heist); ``info`` carries ``success`` and ``variation`` besides
gymnax's own keys. :meth:`ProcgenGymnax.step` is gymnax's, except that the auto-reset state
passes through the port's ``next_episode`` (what the original game carries from one episode into
the next: miner's diamond count) and the observation is rendered once, from the chosen state.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from gsl_jax.envs.core import VariationSet
from gsl_jax.envs.procgen.port import ProcgenPort


@struct.dataclass
class ProcgenParams(environment.EnvParams):
    """gymnax ``EnvParams`` of a Procgen port.

    Attributes:
        levels: the level seeds episodes are drawn from, uniformly at every reset.
        max_steps_in_episode: the time limit; at most the port's own ``timeout`` (which ends
            the episode anyway).
    """

    levels: VariationSet = None  # type: ignore[assignment]
    max_steps_in_episode: int = 1000


class ProcgenGymnax(environment.Environment):
    """A :class:`~gsl_jax.envs.procgen.port.ProcgenPort` as a gymnax ``Environment``.

    Args:
        port: the port (any mode, either observation mode).
        levels: the default level set (``default_params.levels``); ids in ``[0, 2**31 - 1)``.
    """

    def __init__(self, port: ProcgenPort, levels: Sequence[int] | np.ndarray = range(200)):
        if not isinstance(port, ProcgenPort):
            raise ValueError(f"port: expected a ProcgenPort, got {type(port).__name__}")
        self.port = port
        self._levels = VariationSet.from_ids(np.asarray(levels), env=port, field="levels")

    @property
    def default_params(self) -> ProcgenParams:
        return ProcgenParams(levels=self._levels, max_steps_in_episode=self.port.timeout)

    def reset_env(self, key: jax.Array, params: ProcgenParams) -> tuple[jax.Array, Any]:
        """Start an episode on a level drawn from ``params.levels``: ``(obs, state)``."""
        k_level, k_reset = jax.random.split(key)
        return self.port.reset(k_reset, params.levels.sample(k_level))

    def step_env(
        self, key: jax.Array, state: Any, action: jax.Array, params: ProcgenParams
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, dict[str, jax.Array]]:
        """One step without the reset: ``(obs, state, reward [], terminated [], info)``; a time
        limit is reported by :meth:`is_truncated`, not as ``terminated``."""
        obs, state, reward, done, info = self.port.step(key, state, jnp.asarray(action, jnp.int32))
        terminated = done & ~info["truncated"]
        return obs, state, reward, terminated, dict(info)

    @partial(jax.jit, static_argnames=("self",))
    def step(
        self,
        key: jax.Array,
        state: Any,
        action: int | float | jax.Array,
        params: ProcgenParams | None = None,
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """gymnax's ``step`` (auto-reset on termination or truncation; ``info`` adds
        ``terminated``, ``truncated`` and ``final_observation``), with the reset state passed
        through the port's ``next_episode``."""
        params = self.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, terminated, info = self.step_env(key_step, state, action, params)
        truncated = self.is_truncated(state_st, params)
        done = terminated | truncated
        _, state_re = self.reset_env(key_reset, params)
        state_re = self.port.next_episode(state_st, state_re)
        state = jax.tree.map(lambda a, b: jax.lax.select(done, a, b), state_re, state_st)
        info = {
            **info,
            "terminated": terminated,
            "truncated": truncated,
            "final_observation": obs_st,
        }
        return self.port.observe(state), state, reward, terminated, truncated, info

    def is_truncated(self, state: Any, params: ProcgenParams) -> jax.Array:
        return state.time >= jnp.minimum(params.max_steps_in_episode, self.port.timeout)

    def is_terminated(self, state: Any, params: ProcgenParams) -> jax.Array:
        raise NotImplementedError(
            "a Procgen port reports termination from step_env; it is not a function of the state"
        )

    @property
    def name(self) -> str:
        return self.port.name

    @property
    def num_actions(self) -> int:
        return self.port.action_space.n

    def action_space(self, params: ProcgenParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(self.port.action_space.n)

    def observation_space(self, params: ProcgenParams | None = None) -> spaces.Box:
        space = self.port.observation_space
        return spaces.Box(space.low, space.high, space.shape, space.dtype)


def gymnax_make(
    game: str, levels: Sequence[int] | np.ndarray = range(200), **options: Any
) -> tuple[ProcgenGymnax, ProcgenParams]:
    """``(env, params)`` of Procgen ``game`` behind gymnax's API, as ``gymnax.make`` returns.

    Args:
        game: a registered port (:data:`gsl_jax.envs.procgen.GAMES`).
        levels: the training level seeds (default the 200 levels of Procgen's usual protocol).
        **options: the port's options (``distribution_mode``, ``obs_mode``, ``timeout``, ...).
    """
    from gsl_jax.envs.procgen import make

    env = ProcgenGymnax(make(game, **options), levels)
    return env, env.default_params

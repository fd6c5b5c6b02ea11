"""brax environments with variations drawn from a grid of physical parameter scalings.

Variation ``v`` is the ``v``-th point of the grid ``mass_scales x friction_scales`` in row-major
order (the last field, friction, varies fastest), like the gymnax adapter. With the defaults

    mass_scales:     0.5, 1.0, 1.5
    friction_scales: 0.5, 1.0, 1.5

there are 9 variations; variation 0 is (0.5, 0.5), variation 1 is (0.5, 1.0), variation 4 is the
unmodified system (1.0, 1.0).

What a scale does (see :func:`scale_system`):

* **mass** multiplies every body's mass *and* rotational inertia, i.e. the bodies keep their
  shape and become uniformly denser. Both copies brax keeps are scaled: the MuJoCo fields
  (``body_mass``, ``body_inertia``, ``body_subtreemass``, read by the ``mjx`` backend) and the
  brax link fields (``link.inertia.mass``, ``link.inertia.i``, read by ``generalized``,
  ``positional`` and ``spring``). Actuator gears, joint damping and armature are unchanged, so a
  heavier system responds more slowly to the same action. The constraint-softness heuristics
  ``*_invweight0`` that MuJoCo precomputes at compile time are left as they are, as brax's and
  MuJoCo Playground's own domain randomisation do.
* **friction** multiplies all geom friction coefficients (``geom_friction``, and ``pair_friction``
  for explicit contact pairs). It only matters for tasks with contacts (hopper, walker2d, ant,
  ...); ``inverted_pendulum`` has no contacts, so its friction variations play alike.

The per-variation system is built inside ``jit`` from a ``[V, 2]`` table indexed by the variation
in the state, and swapped in for ``env.unwrapped.sys`` while the brax env's ``reset``/``step`` is
traced (the same trick as brax's ``DomainRandomizationVmapWrapper``; the original is restored
afterwards), so a ``vmap``-ed batch can play different variations at once.

Episodes: brax envs do not truncate, so the state counts steps; an episode is *truncated* when
it reaches ``episode_length`` steps without terminating. brax locomotion tasks have no success
flag; **success = truncated**, i.e. the agent survived to the time limit without falling (for
tasks that never terminate, such as halfcheetah or swimmer, every episode succeeds: use a return
threshold there). Actions are clipped to ``[-1, 1]``; observations are brax's observation vector.

Backend: the default is ``"generalized"``, brax's own default for these tasks (their reward
weights and termination thresholds were tuned for it). ``"spring"`` is not a safe default: its
compile of a batched hopper can be pathologically slow. ``backend="mjx"`` (the maintained MuJoCo
pipeline) is a reasonable choice for contact-rich envs. The compile and run times behind this
choice are in ``docs/benchmarks.md`` ("brax backends").
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Environment, Info, make_info

DEFAULT_MASS_SCALES: tuple[float, ...] = (0.5, 1.0, 1.5)
DEFAULT_FRICTION_SCALES: tuple[float, ...] = (0.5, 1.0, 1.5)
DEFAULT_BACKEND = "generalized"
BACKENDS = ("generalized", "positional", "spring", "mjx")


def _validate_scales(values: Sequence[float] | None, default: Sequence[float], field: str):
    """The scales as a tuple of floats; ``ValueError`` naming ``field`` unless all are > 0."""
    values = tuple(default if values is None else values)
    if len(values) == 0:
        raise ValueError(f"{field}: needs at least one value")
    for value in values:
        if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
            raise ValueError(f"{field}: scales must be finite and positive, got {value!r}")
    return tuple(float(v) for v in values)


def scale_system(sys: Any, mass_scale: jax.Array, friction_scale: jax.Array) -> Any:
    """A copy of the brax ``System`` with masses, inertias and friction scaled.

    Args:
        sys: a ``brax.base.System``.
        mass_scale: float ``[]``; multiplies body masses and rotational inertias.
        friction_scale: float ``[]``; multiplies geom (and contact-pair) friction coefficients.

    Jittable: the scales may be tracers, so the result can depend on a traced variation.
    """
    m = jnp.asarray(mass_scale, jnp.float32)
    f = jnp.asarray(friction_scale, jnp.float32)
    # Keep each field's dtype (brax stores float32) so traced and default systems match.
    scaled = lambda x, s: (jnp.asarray(x) * s).astype(jnp.asarray(x).dtype)
    return sys.tree_replace(
        {
            # MuJoCo model fields: [nbody], [nbody], [nbody, 3], [ngeom, 3], [npair, 5].
            "body_mass": scaled(sys.body_mass, m),
            "body_subtreemass": scaled(sys.body_subtreemass, m),
            "body_inertia": scaled(sys.body_inertia, m),
            "geom_friction": scaled(sys.geom_friction, f),
            "pair_friction": scaled(sys.pair_friction, f),
            # brax link fields (world body excluded): [nbody - 1], [nbody - 1, 3, 3].
            "link.inertia.mass": scaled(sys.link.inertia.mass, m),
            "link.inertia.i": scaled(sys.link.inertia.i, m),
        }
    )


@contextlib.contextmanager
def _system_swapped(env: Any, sys: Any) -> Iterator[Any]:
    """Run the brax env with ``sys`` in place of its own system, restoring it afterwards.

    brax envs read ``self.sys`` inside ``reset``/``step`` (pipeline calls, action scaling), so
    swapping the attribute while they are traced makes the traced computation use ``sys``.
    Not thread-safe: do not trace the same env from two threads at once.
    """
    base = env.unwrapped
    saved = base.sys
    base.sys = sys
    try:
        yield base
    finally:
        base.sys = saved


def _canonical(tree: Any) -> Any:
    """Give every leaf a concrete (non-weak) dtype.

    brax returns e.g. ``reward=1.0`` as a Python float from ``step`` but a float32 array from
    ``reset``; fixed dtypes keep the state a valid ``lax.scan`` carry and ``jnp.where`` operand.
    """
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.asarray(x).dtype), tree)


@struct.dataclass
class BraxState:
    """The wrapped brax ``State`` plus the episode's variation and step count.

    Attributes:
        inner: the brax ``envs.State`` (``obs [obs_dim]``, ``reward []``, ``done []`` float32).
        variation: int32 ``[]``, the variation of this episode.
        steps: int32 ``[]``, steps taken in this episode.
    """

    inner: Any
    variation: jax.Array
    steps: jax.Array


class BraxEnv(Environment):
    """A brax environment whose variations index a (mass scale, friction scale) grid.

    Args:
        name: a brax environment name (``brax.envs.get_environment``), e.g. ``"hopper"``.
        mass_scales: mass multipliers, all > 0 (default 0.5, 1.0, 1.5).
        friction_scales: friction multipliers, all > 0 (default 0.5, 1.0, 1.5).
        episode_length: time limit in env steps (> 0); reaching it truncates the episode.
        backend: brax physics pipeline, one of :data:`BACKENDS` (default :data:`DEFAULT_BACKEND`).
        **env_kwargs: passed on to the brax environment's constructor.
    """

    def __init__(
        self,
        name: str,
        mass_scales: Sequence[float] | None = None,
        friction_scales: Sequence[float] | None = None,
        episode_length: int = 1000,
        backend: str = DEFAULT_BACKEND,
        **env_kwargs: Any,
    ):
        from brax import envs  # local import: brax is heavy and only needed for these envs

        # Validate everything before the (slow) MJCF load.
        known = sorted(envs._envs)  # brax has no public listing of its registry
        if name not in known:
            raise ValueError(f"env: unknown brax environment {name!r}; known: {known}")
        if backend not in BACKENDS:
            raise ValueError(f"backend: must be one of {BACKENDS}, got {backend!r}")
        if isinstance(episode_length, bool) or not isinstance(episode_length, int | np.integer):
            raise ValueError(f"episode_length: must be an int, got {episode_length!r}")
        if episode_length <= 0:
            raise ValueError(f"episode_length: must be positive, got {episode_length}")
        self.mass_scales = _validate_scales(mass_scales, DEFAULT_MASS_SCALES, "mass_scales")
        self.friction_scales = _validate_scales(
            friction_scales, DEFAULT_FRICTION_SCALES, "friction_scales"
        )
        self.episode_length = int(episode_length)
        self.backend = backend
        self._name = name
        self._env = envs.get_environment(name, backend=backend, **env_kwargs)

        grid = list(itertools.product(self.mass_scales, self.friction_scales))
        self.num_variations = len(grid)
        # [V, 2] table of (mass scale, friction scale), looked up by variation inside jit.
        self._table = jnp.asarray(np.array(grid, np.float32))

        self.action_space = Box((int(self._env.action_size),), -1.0, 1.0)
        # eval_shape traces reset without compiling or running the physics.
        obs = jax.eval_shape(self.reset, jax.random.key(0), jnp.int32(0))[0]
        self.observation_space = Box(tuple(obs.shape))

    @property
    def name(self) -> str:
        return self._name

    @property
    def brax_env(self) -> Any:
        """The wrapped brax environment, holding the default (unscaled) system."""
        return self._env

    def variation_params(self, variation: int) -> dict[str, float]:
        """The scales of ``variation`` (host side, for logs and docs)."""
        mass, friction = np.asarray(self._table[variation]).tolist()
        return {"mass_scale": mass, "friction_scale": friction}

    def system(self, variation: jax.Array) -> Any:
        """The brax ``System`` of ``variation`` (int32 ``[]``); jittable."""
        mass, friction = self._table[variation]
        return scale_system(self._env.unwrapped.sys, mass, friction)

    def reset(self, key: jax.Array, variation: jax.Array) -> tuple[jax.Array, BraxState]:
        """Start an episode of ``variation``. Returns ``(obs [obs_dim], state)``."""
        variation = jnp.asarray(variation, jnp.int32)
        with _system_swapped(self._env, self.system(variation)) as env:
            inner = _canonical(env.reset(key))
        return inner.obs, BraxState(inner, variation, jnp.zeros((), jnp.int32))

    def step(
        self, key: jax.Array, state: BraxState, action: jax.Array
    ) -> tuple[jax.Array, BraxState, jax.Array, jax.Array, Info]:
        """Advance with ``action [act_dim]`` (clipped to [-1, 1]).

        brax dynamics are deterministic, so ``key`` is unused. Returns ``(obs [obs_dim], state,
        reward [] float32, done [] bool, info)``.
        """
        del key
        action = jnp.clip(action, self.action_space.low, self.action_space.high)
        with _system_swapped(self._env, self.system(state.variation)) as env:
            inner = _canonical(env.step(state.inner, action))
        steps = state.steps + 1
        terminated = inner.done > 0.5  # brax encodes done as float 0.0 / 1.0
        truncated = jnp.logical_and(steps >= self.episode_length, ~terminated)
        done = jnp.logical_or(terminated, truncated)
        # No success flag in brax locomotion: surviving to the time limit counts as success.
        info = make_info(truncated, truncated, state.variation)
        reward = jnp.asarray(inner.reward, jnp.float32).reshape(())
        return inner.obs, BraxState(inner, state.variation, steps), reward, done, info

"""The base every JAX Procgen port builds on: what is the same in all sixteen games.

A game supplies only what is its own (:class:`ProcgenPort`'s abstract methods):

* :meth:`~ProcgenPort.setup` checks the game's own options and builds its static art;
* :meth:`~ProcgenPort.generate` builds a level from its seed alone;
* :meth:`~ProcgenPort.transition` advances one step (the rules);
* :meth:`~ProcgenPort.render` draws the 64x64 frame;
* :meth:`~ProcgenPort.symbolic` and :meth:`~ProcgenPort.symbolic_space` give the compact view.

The base owns the rest: the constructor's shared arguments (``distribution_mode``, ``obs_mode``,
``timeout``) and their checks, the rejection of unknown options, the name, the spaces, reset (a
level is a function of its seed, so :class:`~gsl_jax.envs.core.VecEnv` builds a level bank once
per rollout and auto-resets gather from it), the pixel/compact observation dispatch, the
``info`` every step returns (:meth:`~ProcgenPort.end_of_step`) and :meth:`~ProcgenPort.frame`
for GIFs whatever the observation mode. ``docs/adding_a_game.md`` is the checklist for a new
port.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.core import Box, Discrete, Info, PyTree, StateEnvironment, make_info
from gsl_jax.envs.procgen.grid import NUM_ACTIONS
from gsl_jax.envs.procgen.render import FRAME_SIZE

#: The observation modes of every port: the 64x64 RGB frame or the game's compact view.
OBS_MODES: tuple[str, ...] = ("pixels", "symbolic")
#: Level seeds are int32 in ``[0, 2**31 - 1)``, as Procgen's ``start_level + num_levels``.
NUM_LEVEL_SEEDS = 2**31 - 1
#: The pixel observation space of every port.
PIXEL_SPACE = Box((FRAME_SIZE, FRAME_SIZE, 3), 0, 255, jnp.uint8)


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int; ``ValueError`` naming ``name`` unless it is an int (not a bool) in
    ``[low, high]`` (no upper bound when ``high`` is ``None``)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}: must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}: must be {bound}, got {value}")
    return int(value)


def check_view_radius(view_radius: Any, world_dim: int) -> int:
    """The ``view_radius`` option of a grid game's compact window: ``world_dim - 1`` (the whole
    world always in view) when ``None``, else a positive int (``ValueError`` naming it)."""
    return check_int("view_radius", world_dim - 1 if view_radius is None else view_radius, 1)


class ProcgenPort(StateEnvironment):
    """A JAX port of a Procgen game: 15 discrete actions, level seed = variation.

    Args:
        distribution_mode: one of the game's :attr:`modes` (Procgen's ``"easy"``/``"hard"``...).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (the game's compact
            float32 view, :meth:`symbolic_space`).
        timeout: the episode step limit; default the game's :attr:`default_timeout`.
        **options: the game's own options (:attr:`option_defaults`); any other raises
            ``ValueError`` naming it.

    Subclasses set :attr:`game`, :attr:`modes`, :attr:`default_timeout` and
    :attr:`option_defaults`, and implement the abstract methods.
    """

    #: The Procgen game's name, e.g. ``"maze"``.
    game: ClassVar[str]
    #: The distribution modes the port implements.
    modes: ClassVar[tuple[str, ...]] = ("easy", "hard")
    #: The game's step limit (Procgen's default is 1000; some games override it).
    default_timeout: ClassVar[int] = 1000
    #: The game's own constructor options and their defaults (checked by :meth:`setup`).
    option_defaults: ClassVar[dict[str, Any]] = {}

    num_variations = NUM_LEVEL_SEEDS
    action_space = Discrete(NUM_ACTIONS)
    deterministic_reset = True  # a level is a function of its seed alone

    def __init__(
        self,
        distribution_mode: str = "easy",
        obs_mode: str = "pixels",
        timeout: int | None = None,
        **options: Any,
    ):
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            known = ["distribution_mode", "obs_mode", "timeout", *self.option_defaults]
            raise ValueError(
                f"{unknown[0]}: unknown {type(self).__name__} option; known options are "
                f"{', '.join(known[:-1])} and {known[-1]}"
            )
        if distribution_mode not in self.modes:
            raise ValueError(
                f"distribution_mode: {distribution_mode!r} is not supported by "
                f"{type(self).__name__}; choose one of {list(self.modes)}"
            )
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode: {obs_mode!r} is not one of {list(OBS_MODES)}")
        timeout = self.default_timeout if timeout is None else timeout
        self.distribution_mode = distribution_mode
        self.obs_mode = obs_mode
        self.timeout = check_int("timeout", timeout, 1)
        self.max_episode_steps = self.timeout
        self.setup(**{**self.option_defaults, **options})
        self.observation_space = PIXEL_SPACE if obs_mode == "pixels" else self.symbolic_space()

    @property
    def name(self) -> str:
        return f"{self.game}-{self.distribution_mode}"

    # ----------------------------------------------------------------------------------------
    # What a game supplies
    # ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def setup(self, **options: Any) -> None:
        """Check the game's own ``options`` (all of :attr:`option_defaults`, given or default;
        ``ValueError`` naming the bad one) and build its static art and tables."""

    @abc.abstractmethod
    def generate(self, seed: jax.Array) -> PyTree:
        """The start state of level ``seed`` (int32 ``[]``), from the seed alone."""

    @abc.abstractmethod
    def render(self, state: PyTree) -> jax.Array:
        """The frame of ``state``: uint8 ``[64, 64, 3]``."""

    @abc.abstractmethod
    def symbolic(self, state: PyTree) -> jax.Array:
        """The compact observation of ``state``, float32 of :meth:`symbolic_space`'s shape."""

    @abc.abstractmethod
    def symbolic_space(self) -> Box:
        """The compact observation's space (called once :meth:`setup` has run)."""

    # ----------------------------------------------------------------------------------------
    # What the base owns
    # ----------------------------------------------------------------------------------------
    def init_state(self, key: jax.Array, variation: jax.Array) -> PyTree:
        """Start level ``variation``; ``key`` is unused (the level depends on the seed only)."""
        del key
        return self.generate(jnp.asarray(variation, jnp.int32))

    def observe(self, state: PyTree) -> jax.Array:
        """The observation of ``state`` in this env's ``obs_mode``."""
        if self.obs_mode == "pixels":
            return self.render(state)
        return self.symbolic(state)

    def frame(self, state: PyTree) -> jax.Array:
        """The uint8 ``[64, 64, 3]`` frame of ``state`` whatever the ``obs_mode`` (for GIFs)."""
        return self.render(state)

    def end_of_step(
        self, time: jax.Array, success: jax.Array, terminal: jax.Array, variation: jax.Array
    ) -> tuple[jax.Array, Info]:
        """``(done [], info)`` of a step after which ``time`` (int32 ``[]``) steps have been
        taken: the episode ends on ``terminal`` (bool ``[]``: the level is complete or lost) or
        at the time limit (Procgen's ``cur_time >= timeout``); it is *truncated* only where it
        ran out of time without ending otherwise. ``success`` is the level-complete flag."""
        timed_out = time >= self.timeout
        return terminal | timed_out, make_info(success, timed_out & ~terminal, variation)

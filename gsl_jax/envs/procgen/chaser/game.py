"""Procgen *chaser* in JAX: a Pac-Man-like maze; eat every small orb while three enemies hunt
the agent, and eat a large orb to turn the tables for a while.

The state and level generator are in :mod:`.levels`, one step of the rules in :mod:`.rules`,
the frame and compact view in :mod:`.observe`, our own art in :mod:`.art`. Summary (from
openai/procgen ``src/games/chaser.cpp``, ``basic-abstract-game.cpp``, ``game.cpp`` and
``mazegen.cpp``; our own code):

* World: a maze of ``W = 11`` (easy) or ``13`` (hard) cells without dead ends; small orbs on
  every open cell but the large orbs' (4 large orbs in easy mode, 3 in hard); the agent and
  three enemy eggs on four distinct small-orb cells; eggs hatch after 50 steps.
* Actions (the 15 Procgen buttons): the 3x3 move grid sets the agent's direction per pressed
  axis (LEFT+UP presses both); an axis not pressed keeps its direction, so NOOP (4) and the
  special buttons 9-14 keep the agent moving; the agent moves 1/2 cell per step until a wall
  stops it and can turn only at a cell centre.
* Rewards: 0.04 per small or large orb; eating the last small orb gives +10 and completes the
  level (``info["success"]``). Touching an enemy ends the episode (no reward) unless a large orb
  was eaten in the last 75 steps, in which case the enemy is eaten (no reward) and a new egg
  spawns. Otherwise the episode ends after 1000 steps (game.cpp's default; chaser does not
  override it) with ``info["truncated"]``.

Variation = level seed (int32 in ``[0, 2**31 - 1)``): the same seed always gives the same maze,
orbs, start, eggs and theme. Our generator draws from ``jax.random`` rather than Procgen's
mt19937, so level ``s`` here is *not* Procgen's level ``s``; the level *distribution* follows
the same procedure. After reset, enemies' random choices use the step's PRNG key (one
``step_rand_int`` per step, shared by every choice in the step as in Procgen). Procgen's
"extreme" mode (19 cells, 5 enemies) is not implemented.

Observations (``obs_mode``): ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
``[(2 r + 1)^2 * 6 + 5]``, an egocentric window of (wall, small orb, large orb, enemy, edible
enemy, egg) around the agent and five scalars; see :mod:`.observe`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.chaser import rules
from gsl_jax.envs.procgen.chaser.art import OVERLAY_RGB, chaser_atlas
from gsl_jax.envs.procgen.chaser.levels import WORLD_DIM, ChaserState, generate_level
from gsl_jax.envs.procgen.chaser.observe import (
    SYMBOLIC_CHANNELS,
    SYMBOLIC_EXTRAS,
    render_frame,
    symbolic_view,
)
from gsl_jax.envs.procgen.port import ProcgenPort, check_view_radius
from gsl_jax.envs.procgen.render import TileRenderer

#: game.cpp's default step limit (chaser does not set ``timeout``).
TIMEOUT = 1000


class Chaser(ProcgenPort):
    """Procgen chaser (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (11x11 maze, 4 large orbs) or ``"hard"`` (13x13, 3).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[(2 r + 1)^2 * 6 + 5]``, :mod:`.observe`).
        timeout: episode step limit (Procgen's chaser uses 1000).
        view_radius: ``r`` of the symbolic window, a positive int; default ``W - 1`` (the whole
            world is always in view). Ignored in pixel mode.
    """

    game = "chaser"
    modes = tuple(sorted(WORLD_DIM))
    default_timeout = TIMEOUT
    option_defaults = {"view_radius": None}

    def setup(self, view_radius: int | None) -> None:
        self.world_dim = WORLD_DIM[self.distribution_mode]
        self.view_radius = check_view_radius(view_radius, self.world_dim)
        self.renderer = TileRenderer(self.world_dim, chaser_atlas(), overlay_rgb=OVERLAY_RGB)
        self.view = ent.View.whole_world(self.world_dim, self.world_dim)

    def symbolic_space(self) -> Box:
        side = 2 * self.view_radius + 1
        size = side * side * len(SYMBOLIC_CHANNELS) + SYMBOLIC_EXTRAS
        return Box((size,), -1.0, 1.0, jnp.float32)

    def generate(self, seed: jax.Array) -> ChaserState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone; ``time`` starts at 0."""
        return generate_level(seed, self.distribution_mode)

    def transition(
        self, key: jax.Array, state: ChaserState, action: jax.Array
    ) -> tuple[ChaserState, jax.Array, jax.Array, Info]:
        state, reward, died, complete = rules.step(key, state, action)
        done, info = self.end_of_step(state.time, complete, died | complete, state.variation)
        return state, reward, done, info

    def render(self, state: ChaserState) -> jax.Array:
        """uint8 ``[64, 64, 3]`` frame (:func:`.observe.render_frame`)."""
        return render_frame(state, self.renderer, self.view)

    def symbolic(self, state: ChaserState) -> jax.Array:
        """float32 ``[(2 r + 1)^2 * 6 + 5]`` (:func:`.observe.symbolic_view`)."""
        return symbolic_view(state, self.view_radius)

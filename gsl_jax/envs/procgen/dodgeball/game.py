"""Procgen *dodgeball* in JAX: a walled arena of rooms, enemies that walk about and throw balls
at the agent, the agent's own throws; the exit opens once every enemy is hit.

Rules (from openai/procgen ``src/games/dodgeball.cpp``, ``basic-abstract-game.cpp``,
``entity.cpp`` and ``game.cpp``; our own code; constants in :mod:`.levels`, one step in
:mod:`.rules`, the level generator in :mod:`.levels`):

* World ``20 x 20`` world units (y up), all of it drawn. The room walls are boxes that do *not*
  block: touching one kills the agent. The world's edge blocks the agent.
* Sizes per mode (easy / hard): agent and enemy half-size 1 / 0.75, ball radius 0.5 / 0.375,
  ball speed 0.5 / 0.375 per step, exit door half-size 1.5 / 0.75, wall half-thickness
  0.6 / 0.45, 2 / 4 room splits, the agent's ``maxspeed`` 0.75 / 0.5.
* Actions: Procgen's 15; ``a < 9`` moves by ``(a // 3 - 1, a % 3 - 1)`` (BasicAbstractGame's
  velocity mixing: ``v <- 0.9 (0.5 v + 0.5 maxspeed action)``, 4 sub-steps against the world's
  edge). Actions 9-14 stand still; ``9`` also throws a ball along the last moving direction
  (right at the start, diagonals included) when at least 7 steps have passed since the last
  throw (or the start). A ball flies straight for at most 50 steps and vanishes at a wall or
  within a radius of the world's edge.
* Enemies (3-6) walk at 0.05 per step along one axis, bounce off walls and the world's edge (an
  edge bounce also slows them to 3/4, as in Procgen's sub-stepping), and pick a new random
  direction every 25-74 steps. An enemy whose last throw was at least 50 steps ago (the first
  at step 60) throws a ball at the agent when the agent is within 1 unit of its column
  (vertically) or else of its row (horizontally), and turns to walk toward it; its next throw
  comes 50-53 steps later.
* Rewards: 2 for each enemy a ball of the agent hits (the enemy and the ball vanish); 10 for
  touching the door when no enemy was left at the start of the step, which completes the level
  (``info["success"]``). The episode ends, with no further reward, when the agent touches an
  enemy, an enemy's ball or a wall; otherwise at the time limit of 1000 steps
  (``info["truncated"]``). The most a level gives is ``2 n + 10`` for ``n`` enemies.

Randomness: a level (rooms, door, start, enemies) and all of its step draws are functions of the
level seed (:mod:`.levels`); the key passed to :meth:`Dodgeball.transition` is unused.

Differences from the C++ game:

* Our generator is ``jax.random``, not mt19937: level ``s`` here is not Procgen's level ``s``
  (the distributions are the same).
* An enemy moves only along its moving axis; Procgen also runs the other axis's zero move,
  which can shift an enemy only if it overlaps a wall after its move (it never does). An
  enemy's speed is never equal on both axes (one is always zero), so Procgen's random sub-step
  order for ties never applies.
* When one of the agent's balls overlaps two enemies at once, the one in the higher slot takes
  it (Procgen: the one later in its entity vector, the same order for enemies spawned together).
* No dust cloud where an enemy was hit (decoration that lasts 4 steps), no sprite rotation.
* Art: our own (:mod:`.art`) instead of Kenney's sprites and the top-down backgrounds.

Observations: uint8 ``[64, 64, 3]`` frames or the compact float32 vector of :mod:`.observe`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen.dodgeball import observe
from gsl_jax.envs.procgen.dodgeball.art import floor_pattern, palettes
from gsl_jax.envs.procgen.dodgeball.levels import MODES, DodgeballState, start_state
from gsl_jax.envs.procgen.dodgeball.rules import advance
from gsl_jax.envs.procgen.port import ProcgenPort

#: game.cpp's default step limit (dodgeball.cpp keeps it).
TIMEOUT = 1000


class Dodgeball(ProcgenPort):
    """Procgen dodgeball (see the module docstring for the rules and differences).

    Args:
        distribution_mode: ``"easy"`` or ``"hard"``.
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[observe.SYMBOLIC_SIZE]``).
        timeout: episode step limit (Procgen: 1000).
    """

    game = "dodgeball"
    modes = tuple(MODES)
    default_timeout = TIMEOUT
    option_defaults: ClassVar[dict[str, Any]] = {}

    def setup(self) -> None:
        """Pick the mode's constants and build the art."""
        self.mode = MODES[self.distribution_mode]
        self._background = floor_pattern()
        self._palettes = palettes()

    def symbolic_space(self) -> Box:
        """float32 ``[observe.SYMBOLIC_SIZE]`` in ``[-3, 3]``."""
        bound = observe.SYMBOLIC_BOUND
        return Box((observe.SYMBOLIC_SIZE,), -bound, bound, jnp.float32)

    def generate(self, seed: jax.Array) -> DodgeballState:
        """The start of level ``seed`` (int32 ``[]``), from the seed alone."""
        return start_state(seed, self.mode)

    def transition(
        self, key: jax.Array, state: DodgeballState, action: jax.Array
    ) -> tuple[DodgeballState, jax.Array, jax.Array, Info]:
        """One step (:func:`.rules.advance`); ``key`` is unused (see the module docstring)."""
        del key
        state, reward, success, terminal = advance(state, action, self.mode)
        done, info = self.end_of_step(state.time, success, terminal, state.variation)
        return state, reward, done, info

    def render(self, state: DodgeballState) -> jax.Array:
        """uint8 ``[64, 64, 3]`` (:func:`.observe.render`)."""
        m = self.mode
        return observe.render(state, m["agent_r"], m["exit_r"], self._background, self._palettes)

    def symbolic(self, state: DodgeballState) -> jax.Array:
        """float32 ``[observe.SYMBOLIC_SIZE]`` (:func:`.observe.symbolic`)."""
        return observe.symbolic(state, self.mode["maxspeed"], self.mode["ball_speed"])

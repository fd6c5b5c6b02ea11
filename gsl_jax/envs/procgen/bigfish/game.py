"""Procgen *bigfish* in JAX: the player fish eats smaller fish, grows, and dies when it touches a
bigger one; the level is complete after 30 fish.

Rules (from openai/procgen ``src/games/bigfish.cpp``, ``basic-abstract-game.cpp``,
``entity.cpp`` and ``game.cpp``; our own code; the constants are in :mod:`.levels`):

* World: ``20 x 20`` world units, no walls; the outside of the world blocks the player. The whole
  world is drawn (bigfish turns ``center_agent`` off), 3.2 pixels per unit.
* The player is a box of half-size ``r`` (``rx = ry``), ``r = 1`` in easy mode and ``0.5`` in
  hard mode (the only difference between the modes). It starts at ``y = 1 + r`` and at
  ``x = 0.4 + 19.2 u`` (``u`` uniform; BasicAbstractGame draws ``x`` for a radius of 0.4 before
  bigfish sets ``r``), at rest, facing right.
* Movement (BasicAbstractGame): the 15 actions are Procgen's button combos; ``a % 9`` gives
  ``(vx, vy) = (a // 3 - 1, a % 3 - 1)`` (y up) and actions 9-14 do not move. Each step the
  velocity becomes ``0.9 (0.5 v + 0.25 action)`` (mixrate 0.5, maxspeed 0.5, decay 0.9); the
  player then moves in 4 sub-steps, x and y separately (x first when the action moves
  horizontally, y first when it moves vertically, otherwise the larger speed first, a tie broken
  by the episode RNG), blocked at the world's edges with Procgen's corner test and edge snapping
  (:func:`~gsl_jax.envs.procgen.entities.smart_step`); each velocity component keeps the fraction
  of unblocked sub-steps. The sprite faces the last horizontal action.
  A faithful quirk: a start ``x`` within 0.98 r of a side (about 6% of easy levels, 1% of hard
  ones) leaves the player partly outside the world. There Procgen's corner test blocks every
  move: a move into that side snaps the player inside (``x = r``), but a move away from it snaps
  it to ``x = 0`` (or 20), where it is stuck for the rest of the episode, as in the C++ game.
* Fish: each step, with probability 1/10, a fish of radius ``r_f = 1.75 u^1.4 + 0.25`` (in
  ``[0.25, 2]``) enters: with probability 1/2 from the left edge (centre ``x = -r_f``, moving
  right) else from the right (``x = 20 + r_f``, moving left), at centre height
  ``y = u (20 - 2 r_f)``, with speed ``0.15 + 0.25 u`` and one of three looks; its box is
  ``rx = r_f`` by ``ry = r_f / aspect`` with the look's sprite aspect ratio (78/46, 112/88,
  108/58 from the C++ assets). Fish move in a straight line at constant speed and vanish once
  entirely outside the world.
* Eating: after moving, every fish whose box overlaps the player's (strictly) is compared by
  half-width: a fish with ``rx > r`` kills the player (the episode ends, no reward); any other is
  eaten: reward 1, the player's ``r`` grows by ``(2 - r_start) / 30`` and the eaten count by 1.
* After 30 fish the episode ends with reward 10 more and the level complete
  (``info["success"]``); the maximum return is 40. Otherwise the episode ends at the timeout of
  6000 steps (bigfish.cpp; game.cpp ends it once ``cur_time >= timeout``) with
  ``info["truncated"]``.

Randomness: a level, its start and its whole fish schedule are functions of the level seed
(:mod:`.levels`). The key passed to :meth:`BigFish.transition` is unused: the same seed and the
same actions always give the same episode.

Differences from the C++ game (all rare or invisible to the agent):

* At most ``max_fish`` (default 32) fish live at once; a spawn into a full pool is dropped. The
  number on screen is about Poisson with mean 9 (22 was the largest seen in 1.2M simulated
  steps), so this practically never happens.
* The C++ game resolves the fish touching the player one at a time, newest first, the player
  growing after each; we compare all of them with the player's size before this step's meals.
  The two differ only when, in one step, the player eats a fish and touches another whose size
  lies within one growth increment (0.033 easy) of its own.
* Fish are drawn in slot order (a new fish takes the first free slot), not in spawn order, so
  where two fish overlap either may be on top. The player is always on top, as in Procgen.
* Art: our own drawing (:mod:`.art`) instead of Kenney's fish sprites and the 7 water
  backgrounds.

Observations: uint8 ``[64, 64, 3]`` frames or a float32 ``[6 + 8 * max_fish]`` vector of the
player and the fish sorted by distance (:mod:`.observe`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.bigfish import observe
from gsl_jax.envs.procgen.bigfish.art import background_pattern, palettes
from gsl_jax.envs.procgen.bigfish.levels import (
    COMPLETION_REWARD,
    EAT_REWARD,
    FISH_ASPECT,
    FISH_MAX_R,
    FISH_MIN_R,
    FISH_MIN_SPEED,
    FISH_QUOTA,
    FISH_SPEED_RANGE,
    MAX_FISH,
    MAXSPEED,
    MIXRATE,
    SPAWN_PROB,
    START_R,
    TIMEOUT,
    WORLD,
    BigFishState,
    start_state,
)
from gsl_jax.envs.procgen.grid import action_velocity
from gsl_jax.envs.procgen.port import ProcgenPort, check_int


class BigFish(ProcgenPort):
    """Procgen bigfish (see the module docstring for the rules and differences).

    Args:
        distribution_mode: ``"easy"`` (player starts at radius 1) or ``"hard"`` (0.5).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[6 + 8 * max_fish]``).
        timeout: episode step limit (Procgen's bigfish uses 6000).
        max_fish: capacity of the fish pool, an int in ``[1, 64]``.
    """

    game = "bigfish"
    modes = tuple(START_R)  # Procgen's bigfish has no extreme / memory / exploration modes
    default_timeout = TIMEOUT
    option_defaults: ClassVar[dict[str, Any]] = {"max_fish": MAX_FISH}

    def setup(self, max_fish: int) -> None:
        """Check ``max_fish`` and build the art and the player's growth step."""
        self.max_fish = check_int("max_fish", max_fish, 1, 64)
        self.start_r = START_R[self.distribution_mode]
        self.r_inc = (FISH_MAX_R - self.start_r) / FISH_QUOTA
        self._blocked = ent.outside_world(WORLD, WORLD)
        self._background = background_pattern()
        self._palettes = palettes()

    def symbolic_space(self) -> Box:
        """float32 ``[6 + 8 * max_fish]`` in ``[-3, 3]``."""
        size = observe.AGENT_FEATURES + observe.FISH_FEATURES * self.max_fish
        return Box((size,), -observe.SYMBOLIC_BOUND, observe.SYMBOLIC_BOUND, jnp.float32)

    def generate(self, seed: jax.Array) -> BigFishState:
        """The start of level ``seed`` (int32 ``[]``), from the seed alone."""
        return start_state(seed, self.start_r, self.max_fish)

    def transition(
        self, key: jax.Array, state: BigFishState, action: jax.Array
    ) -> tuple[BigFishState, jax.Array, jax.Array, Info]:
        """One step (order of bigfish.cpp ``game_step``); ``key`` is unused, the step's
        randomness comes from the episode key in ``state``."""
        del key
        time = state.time + 1
        # This step's draws: spawn?, radius, height, side, speed, look, sub-step order tie.
        u = jax.random.uniform(jax.random.fold_in(jax.random.wrap_key_data(state.rng), time), (7,))

        # The player: velocity, then smart stepping against the world's edges.
        ax, ay = action_velocity(action)
        ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
        vx, vy = ent.mix_velocity(state.vx, state.vy, ax, ay, MIXRATE, MAXSPEED)
        cmp = jnp.abs(vx) - jnp.abs(vy)
        x_first = jnp.where(cmp == 0, u[6] < 0.5, cmp > 0)
        x_first = jnp.where(ax != 0, True, x_first)
        x_first = jnp.where(ay != 0, False, x_first)  # checked last in the C++ code, so it wins
        x, y, vx, vy = ent.smart_step(
            state.x, state.y, vx, vy, state.r, state.r, x_first, self._blocked
        )

        # Fish swim, then the player meets every fish it overlaps.
        fish = ent.move(state.fish)
        touching = ent.box_overlap(fish, x, y, state.r, state.r)
        bigger = fish.rx > state.r
        died = jnp.any(touching & bigger)
        meals = touching & ~bigger
        n_meals = jnp.sum(meals).astype(jnp.int32)
        r = state.r + self.r_inc * n_meals
        eaten = state.eaten + n_meals
        fish = ent.remove(fish, meals | ent.out_of_bounds(fish, WORLD, WORLD))

        # A new fish enters with probability 1/10 (bigfish.cpp game_step).
        fr = (FISH_MAX_R - FISH_MIN_R) * u[1] ** 1.4 + FISH_MIN_R
        fy = u[2] * (WORLD - 2 * fr)
        moves_right = u[3] < 0.5
        fvx = (FISH_MIN_SPEED + FISH_SPEED_RANGE * u[4]) * jnp.where(moves_right, 1.0, -1.0)
        fx = jnp.where(moves_right, -fr, WORLD + fr)
        look = jnp.minimum((u[5] * len(FISH_ASPECT)).astype(jnp.int32), len(FISH_ASPECT) - 1)
        fry = fr / jnp.asarray(FISH_ASPECT)[look]
        fish, _ = ent.spawn(fish, u[0] < SPAWN_PROB, fx, fy, fvx, 0.0, fr, fry, look)

        complete = eaten >= FISH_QUOTA
        reward = n_meals.astype(jnp.float32) * EAT_REWARD + jnp.where(
            complete, COMPLETION_REWARD, 0.0
        )
        facing_right = jnp.where(ax > 0, True, jnp.where(ax < 0, False, state.facing_right))
        state = state.replace(
            x=x,
            y=y,
            vx=vx,
            vy=vy,
            r=r,
            facing_right=facing_right,
            fish=fish,
            eaten=eaten,
            time=time,
        )
        done, info = self.end_of_step(time, complete, died | complete, state.variation)
        return state, reward.astype(jnp.float32), done, info

    def render(self, state: BigFishState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: the level's water, the fish, then the player on top."""
        return observe.render(state, self._background, self._palettes)

    def symbolic(self, state: BigFishState) -> jax.Array:
        """float32 ``[6 + 8 * max_fish]`` (layout in :mod:`.observe`)."""
        return observe.symbolic(state)

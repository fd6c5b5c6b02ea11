"""Procgen *heist* in JAX: the rules. Levels are built by :mod:`.levels`, observations drawn by
:mod:`.observe`.

Rules (from openai/procgen ``src/games/heist.cpp``, ``basic-abstract-game.cpp`` and
``game.cpp``; our own code), in Procgen's coordinates (world units, ``x`` right, ``y`` up, see
:mod:`.levels`):

* Movement (``basic-abstract-game.cpp``; heist keeps ``grid_step`` off and sets ``maxspeed =
  0.75``, ``mixrate`` stays ``0.5``). A move action asks for ``(ax, ay)`` in ``{-1, 0, 1}``
  (``vx = a / 3 - 1``, ``vy = a % 3 - 1``; NOOP and the special buttons 9-14 ask for ``(0, 0)``).
  Every step, ``update_agent_velocity`` + ``decay_agent_velocity``::

      v <- 0.9 * ((1 - 0.5) * v + 0.5 * 0.75 * a)      (per axis: v <- 0.45 v + 0.3375 a)

  so a held direction converges to ``0.3375 / 0.55 = 0.614`` tiles per step (:data:`TOP_SPEED`)
  and the velocity keeps 0.45 of itself when the action changes (momentum).
  ``basic_step_object`` then moves the agent in 4 sub-steps of ``v / 4`` (``max(4, int(4
  |v|))``, always 4 here), each an x move and a y move: y first when the action has a vertical
  part, else x first when it has a horizontal part, else the faster axis first (an exact tie at
  random). A move whose shrunk corners (98% of the half-size) enter a wall or the outside of the
  world snaps the agent's leading edge to the tile boundary; a move that leaves it overlapping a
  lock whose key is not held (``has_collision`` with a 0.001 margin) pushes it back to touching
  the lock and zeroes that velocity component (``push_obj``). After the sub-steps each velocity
  component keeps the fraction of its moves that were not blocked.
  (:func:`~gsl_jax.envs.procgen.entities.mix_velocity`,
  :func:`~gsl_jax.envs.procgen.movement.smart_step` with the locks as blockers.) So alternating
  RIGHT and UP carries the agent diagonally, and it slides along a wall into a side corridor once
  its corners clear the corridor's edges (the 0.75-wide body has 0.25 of play in a one-tile
  corridor).
* After moving, the agent touches every body its box overlaps (``has_collision``: ``|dx| < rx_a +
  rx_b`` and ``|dy| < ry_a + ry_b``, strict). Touching a key takes it (``has_keys[c]``; keys are
  never used up). A lock of colour ``c`` blocks until key ``c`` is held (as of the start of the
  step); touching it with the key opens it for good. Touching the gem gives reward 10 and ends the
  episode with the level complete (``info["success"]``). Otherwise the episode ends after 1000
  steps (game.cpp's default; heist does not override it) with ``info["truncated"]``.
* The sprite turns to the requested direction (``face_direction``) even when blocked.

Procgen's "memory" mode (W = 23, agent-centred view) is not implemented.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen import movement as mv
from gsl_jax.envs.procgen.grid import NUM_ACTIONS, action_velocity
from gsl_jax.envs.procgen.heist.art import (
    FLOOR,
    KEY,
    LOCK,
    NUM_COLOURS,
    OVERLAY_RGB,
    WALL,
    agent_sprites,
    heist_atlas,
)
from gsl_jax.envs.procgen.heist.levels import (
    AGENT_R,
    GEM_SLOT,
    KEY_SLOTS,
    LOCK_SLOTS,
    WORLD_DIM,
    HeistState,
    generate_level,
)
from gsl_jax.envs.procgen.heist.observe import SYMBOLIC_CHANNELS, render_frame, symbolic_view
from gsl_jax.envs.procgen.port import ProcgenPort, check_view_radius
from gsl_jax.envs.procgen.render import TileRenderer

#: game.cpp's default step limit (heist does not set ``timeout``).
TIMEOUT = 1000
#: heist.cpp ``COMPLETION_BONUS``.
REWARD = 10.0
#: basic-abstract-game.cpp's ``mixrate`` (heist keeps the default) and heist.cpp's ``maxspeed``.
MIXRATE = 0.5
MAXSPEED = 0.75
#: The speed a held direction converges to: ``v = 0.9 (0.5 v + 0.375)``.
TOP_SPEED = 0.9 * MIXRATE * MAXSPEED / (1 - 0.9 * (1 - MIXRATE))


class Heist(ProcgenPort):
    """Procgen heist (rules in this module's docstring, levels in :mod:`.levels`, observations
    in :mod:`.observe`).

    Args:
        distribution_mode: ``"easy"`` (9x9 world) or ``"hard"`` (13x13).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[2r + 1, 2r + 1, 14]``, channels :data:`~.observe.SYMBOLIC_CHANNELS`).
        timeout: episode step limit (Procgen: 1000).
        view_radius: ``r`` of the symbolic window in tiles, a positive int; default ``W - 1``
            (the whole world is always in view). Ignored in pixel mode.
    """

    game = "heist"
    modes = tuple(sorted(WORLD_DIM))
    default_timeout = TIMEOUT
    option_defaults = {"view_radius": None}

    def setup(self, view_radius: int | None) -> None:
        self.world_dim = w = WORLD_DIM[self.distribution_mode]
        self.view_radius = check_view_radius(view_radius, w)
        self.renderer = TileRenderer(w, heist_atlas(), overlay_rgb=OVERLAY_RGB)
        # The agent sprite covers 0.75 of a tile, as heist.cpp's agent radius 0.375 does.
        self.sprites = agent_sprites(max(3, int(np.ceil(0.75 * 64 / w))))

    def symbolic_space(self) -> Box:
        side = 2 * self.view_radius + 1
        return Box((side, side, len(SYMBOLIC_CHANNELS)), 0.0, 1.0, jnp.float32)

    def generate(self, seed: jax.Array) -> HeistState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone (:mod:`.levels`)."""
        return generate_level(seed, self.world_dim, self.renderer.atlas.num_themes)

    # ----------------------------------------------------------------------------------------
    # Rules
    # ----------------------------------------------------------------------------------------
    def transition(
        self, key: jax.Array, state: HeistState, action: jax.Array
    ) -> tuple[HeistState, jax.Array, jax.Array, Info]:
        """One step of basic-abstract-game.cpp ``game_step`` for heist; ``key`` only breaks an
        exact tie ``|vx| == |vy|`` in the sub-step order (Procgen's ``step_rand_int``)."""
        action = jnp.clip(action, 0, NUM_ACTIONS - 1)
        ax, ay = action_velocity(action)
        ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
        vx, vy = mv.mix_velocity(state.vel[0], state.vel[1], ax, ay, MIXRATE, MAXSPEED)
        # basic_step_object: the faster axis first, a tie at random; for the player a
        # horizontal action means x first and a vertical one y first (checked last, so it wins).
        coin = (jax.random.bits(key, (), jnp.uint32) & 1) == 0
        x_first = mv.x_moves_first(vx, vy, ax, ay, coin)
        # Locks block until their key is held (as of the start of the step).
        items = state.items
        locks = jax.tree.map(lambda f: f[LOCK_SLOTS], items)
        locks = locks.replace(alive=locks.alive & ~state.has_keys)
        r = jnp.float32(AGENT_R)
        x, y, vx, vy = mv.smart_step(
            state.pos[0],
            state.pos[1],
            vx,
            vy,
            r,
            r,
            x_first,
            wall_test(state.tiles),
            blockers=locks,
            loop=True,  # unrolled, XLA:CPU recomputes the chain (see smart_step)
        )

        # game_step: the agent touches every body it overlaps (has_collision, margin 0).
        touching = ent.box_overlap(items, x, y, r, r)
        taken = touching[KEY_SLOTS]
        has_keys = state.has_keys | taken
        # A lock the agent overlaps can only be one whose key it held: it opens (is erased).
        opened = touching[LOCK_SLOTS] & has_keys
        reached = touching[GEM_SLOT]
        gone = jnp.concatenate([taken, opened, jnp.zeros(1, bool)])
        tiles = state.tiles.astype(jnp.int32)
        colour = jnp.arange(NUM_COLOURS)
        cleared = jnp.any(
            ((tiles[None] == KEY + colour[:, None, None]) & taken[:, None, None])
            | ((tiles[None] == LOCK + colour[:, None, None]) & opened[:, None, None]),
            axis=0,
        )
        time = state.time + 1
        done, info = self.end_of_step(time, reached, reached, state.variation)
        # face_direction turns the sprite toward the requested move, blocked or not.
        move_id = action % 9
        facing = jnp.where((action < 9) & (move_id != 4), move_id, state.facing)
        state = state.replace(
            tiles=jnp.where(cleared, FLOOR, tiles).astype(jnp.uint8),
            pos=jnp.stack([x, y]),
            vel=jnp.stack([vx, vy]),
            items=ent.remove(items, gone),
            facing=facing.astype(jnp.int32),
            has_keys=has_keys,
            time=time,
        )
        reward = jnp.where(reached, REWARD, 0.0).astype(jnp.float32)
        return state, reward, done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def render(self, state: HeistState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: the world, the agent at its position, the key ring."""
        return render_frame(self.renderer, self.sprites, state)

    def symbolic(self, state: HeistState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 14]`` around the agent (:func:`~.observe.symbolic_view`)."""
        return symbolic_view(state, self.view_radius, TOP_SPEED)


def wall_test(tiles: jax.Array) -> mv.BlockedFn:
    """The :data:`~gsl_jax.envs.procgen.entities.BlockedFn` of ``tiles``' (uint8 ``[W, W]``)
    walls: a world point ``(px, py)`` (y up) blocks when its tile is a wall or outside the world
    (Procgen's ``get_obj_from_floats`` with ``out_of_bounds_object = WALL_OBJ``; locks are
    entities)."""
    w = tiles.shape[0]
    # Rows flipped to y-up order, one wall ring around: index (floor(py) + 1, floor(px) + 1).
    walls = jnp.pad(tiles[::-1] == WALL, 1, constant_values=True).reshape(-1)

    def blocked(px: jax.Array, py: jax.Array) -> jax.Array:
        col = jnp.clip(jnp.floor(px).astype(jnp.int32) + 1, 0, w + 1)
        row = jnp.clip(jnp.floor(py).astype(jnp.int32) + 1, 0, w + 1)
        return walls[row * (w + 2) + col]

    return blocked

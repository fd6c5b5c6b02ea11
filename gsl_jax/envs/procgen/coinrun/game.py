"""Procgen *coinrun* in JAX: run right over platforms, crates and pits, past saws, lava and
enemies, to the coin at the end of the level.

Rules (from openai/procgen ``src/games/coinrun.cpp``, ``basic-abstract-game.cpp`` and
``game.cpp``; our own code):

* World: 64 x 64 tiles, ``y`` up; column 0, column 63 and everything right of the coin are wall.
  The agent (a ``1 x 1.157`` box, ``rx = 0.5, ry = 0.5787``) starts at ``(1.5, 1.5787)`` on
  the floor (row 0).
* Level: a difficulty ``dif`` uniform in ``{1, 2, 3}``, ``dif .. 2 dif - 1`` sections starting
  at column 5 and row 1. Each section rises by ``dy = randn(4) + 1 + dif / 3`` (at most 5,
  the jump's reach), or falls by it when above row 20, or with probability 1/2 above row 5, and
  is ``dx = randn(2 dif) + 3 + dif / 3`` columns long. A long section (``dx > 7``) above row 3
  is a pit with probability ``(20 - dif) / 20``: ground blocks of width ``x1, x2`` in
  ``{1, 2, 3}`` at both ends, a bottom of lava (``randn(y - 3) + 1`` rows), saws or walking
  enemies (one per column) depending on the level's danger type, and, when the pit is wider than
  4, a one-tile ledge at the rim's height in its middle. Any other section is flat ground with,
  with probability ``2 dif / 10``, a saw; in hard mode with probability ``dif / 10`` an enemy;
  and two tries (probability 1/2 each) at a pile of 1-3 crates. The coin sits on a one-column
  pillar after the last section.
* Easy mode differs from hard only in that no enemies walk on the flat sections (pits can still
  hold enemies) and the look is fixed (one background, ground and agent theme).
* Movement (:mod:`gsl_jax.envs.procgen.movement.platformer`): gravity 0.2, jump speed 1.5 (a
  jump rises 6.4 tiles), horizontal speed 0.5 reached with mixrate 0.2 on the ground and 0.03
  in the air; sub-stepped, axis-separated collision against walls; crates are one-way platforms
  (landed on from above, walked and jumped through, dropped through with DOWN). UP jumps only
  from the ground. Enemies walk at 0.15 tiles/step and turn at walls and at the ends of their
  section.
* Actions: Procgen's 15 (:data:`~gsl_jax.envs.procgen.grid.ACTION_NAMES`); ``move = action``
  for ``action < 9`` (``vx = move / 3 - 1``, ``vy = move % 3 - 1``) and NOOP for the special
  buttons 9-14.
* Touching the coin gives reward 10 and ends the episode with the level complete
  (``info["success"]``). Touching lava, a saw or an enemy ends it with no reward. Otherwise the
  episode is truncated after 1000 steps (game.cpp's default timeout).

Variation = level seed (int32 in ``[0, 2**31 - 1)``): the level is a function of the seed alone
(``deterministic_reset``). Our generator draws from ``jax.random``, not Procgen's mt19937, so
level ``s`` is not Procgen's level ``s``; the level *distribution* follows the same procedure.

Observations (``obs_mode``):

* ``"pixels"``: uint8 ``[64, 64, 3]``, Procgen's agent-centred camera (``center_agent``,
  ``visibility = 13``): the level scrolls under the agent, which is always drawn at the centre of
  the frame; outside the world reads as wall. We draw tiles 5 pixels wide on a camera that
  snaps to whole pixels (0.2 tiles), so the view is 12.8 tiles across (Procgen: 13 tiles of
  4.92 pixels, scrolled with sub-pixel offsets). Our own art: a themed background (6 themes),
  ground (6 themes), lava, crates, coin, saws, slimes and an alien (5 colours); hard mode draws
  the three themes per level, easy mode always uses the first, as Procgen does.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 9]`` (default ``r = 6``, a 13 x 13 window like the
  camera's), image order (row 0 at the top), centred on the agent's tile
  ``(floor(x), floor(y))``. Channels: 0 solid ground, 1 crate, 2 hazard (lava or saw),
  3 enemy (the fraction of the tile's width an enemy covers), 4 coin, then four constant
  planes: 5 ``vx / 0.5``, 6 ``vy / 1.5``, 7 ``x - floor(x) - 0.5`` and 8 ``y - floor(y) - 0.5``
  (the agent's velocity and its position inside its tile, repeated over the window so the
  observation stays one ``[H, W, C]`` array). Values lie in ``[-1, 1]``.

Differences from the C++ game (all on purpose):

* Enemy barriers are not tiles: each enemy's patrol bounds (and whether the wall it turns at also
  slows it, as Procgen's ``WALL_MID`` does) are computed at generation. Enemies ignore crates
  (Procgen lets them interact through a player-velocity-dependent crate rule, a C++ quirk).
* Crates are tiles of one look (Procgen draws 4 crate images), enemies have one look (Procgen
  9), and the ``TRAIL`` puffs behind enemies are not drawn. Where two enemies overlap, one is
  drawn; a (hard-mode) enemy in front of a crate or saw hides it.
* An exact speed tie ``|vx| == |vy|`` picks x first instead of at random (see
  :func:`~gsl_jax.envs.procgen.movement.platformer.move_body`).
* Rows 63 and above (never reached or seen) are wall.

Modules: :mod:`.levels` (state, tile queries, generator), :mod:`.art` (our palettes and
sprites), :mod:`.observe` (frame and compact view), this one (the class and the rules).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen.coinrun.art import CanvasArt
from gsl_jax.envs.procgen.coinrun.levels import (
    AGENT,
    COIN,
    LAVA_MID,
    LAVA_TOP,
    PAD,
    SAW,
    CoinRunState,
    Columns,
    generate_level,
)
from gsl_jax.envs.procgen.coinrun.observe import NUM_CHANNELS, render, symbolic
from gsl_jax.envs.procgen.grid import NUM_ACTIONS
from gsl_jax.envs.procgen.movement import box_overlap, move_body, patrol_step, tile_index
from gsl_jax.envs.procgen.port import ProcgenPort, check_int

#: Reward for the coin (coinrun.cpp ``GOAL_REWARD``).
REWARD = 10.0
#: game.cpp's default ``timeout``.
TIMEOUT = 1000


class CoinRun(ProcgenPort):
    """Procgen coinrun (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` or ``"hard"``.
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``, agent-centred camera) or
            ``"symbolic"`` (float32 ``[2r + 1, 2r + 1, 9]`` window).
        timeout: episode step limit (Procgen: 1000).
        view_radius: ``r`` of the symbolic window, an int from 1 to 8; default 6 (13 x 13
            tiles, the camera's view). Ignored in pixel mode.
    """

    game = "coinrun"
    default_timeout = TIMEOUT
    option_defaults = {"view_radius": 6}

    def setup(self, view_radius: int) -> None:
        # The window must stay inside the PAD wall columns stored on each side of the level.
        self.view_radius = check_int("view_radius", view_radius, 1, PAD)
        self.params = AGENT
        self.art = CanvasArt()

    def symbolic_space(self) -> Box:
        side = 2 * self.view_radius + 1
        return Box((side, side, NUM_CHANNELS), -1.0, 1.0, jnp.float32)

    def generate(self, seed: jax.Array) -> CoinRunState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone; ``time`` starts at 0."""
        return generate_level(seed, self.distribution_mode == "hard")

    def render(self, state: CoinRunState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: the view centred on the agent (:func:`.observe.render`)."""
        return render(state, self.art)

    def symbolic(self, state: CoinRunState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 9]`` window around the agent's tile."""
        return symbolic(state, self.view_radius)

    def transition(
        self, key: jax.Array, state: CoinRunState, action: jax.Array
    ) -> tuple[CoinRunState, jax.Array, jax.Array, Info]:
        del key  # coinrun has no randomness after generation
        p = self.params
        time = state.time + 1
        action = jnp.clip(jnp.asarray(action, jnp.int32), 0, NUM_ACTIONS - 1)
        move = jnp.where(action >= 9, 4, action)  # special buttons stand still
        action_vx = move // 3 - 1
        action_vy = move % 3 - 1
        facing_right = jnp.where(
            action_vx > 0, True, jnp.where(action_vx < 0, False, state.facing_right)
        )

        def solid(c: jax.Array, r: jax.Array) -> jax.Array:
            return Columns.gather(state, c).solid(r)

        def crate(c: jax.Array, r: jax.Array) -> jax.Array:
            return Columns.gather(state, c).crate(r)

        # Enemies move before the agent (Procgen steps its entity list backwards, agent last).
        enemy_x, enemy_vx = patrol_step(
            state.enemy_x,
            state.enemy_vx,
            state.enemy_lo,
            state.enemy_hi,
            state.enemy_slow_lo,
            state.enemy_slow_hi,
        )
        result, support = move_body(
            state.body,
            action_vx,
            action_vy,
            p,
            solid,
            on_platform=state.on_crate,
            platform=crate,
            last_y=state.last_y,
        )
        body = result.body

        # Contacts at the end of the step: the 3 x 3 tiles around the agent's centre tile.
        cx, cy = tile_index(body.x), tile_index(body.y)
        cols = cx - 1 + jnp.arange(3, dtype=jnp.int32)
        rows = cy - 1 + jnp.arange(3, dtype=jnp.int32)
        types = Columns.window(state, cx - 1, 3).types(rows[:, None])  # [row, col]
        # check_grid_collisions: the tiles under the box shrunk by 0.001 (coin, lava).
        eps = jnp.float32(0.001)
        in_x = (cols >= tile_index(body.x - (p.rx - eps))) & (
            cols <= tile_index(body.x + (p.rx - eps))
        )
        in_y = (rows >= tile_index(body.y - (p.ry - eps))) & (
            rows <= tile_index(body.y + (p.ry - eps))
        )
        under = in_y[:, None] & in_x[None, :]
        coin = jnp.any(under & (types == COIN))
        lava = jnp.any(under & ((types == LAVA_MID) | (types == LAVA_TOP)))
        # Saws and enemies are entities: strict box overlap (has_collision).
        saw_box = box_overlap(
            body.x,
            body.y,
            p.rx,
            p.ry,
            cols[None, :].astype(jnp.float32) + 0.5,
            rows[:, None].astype(jnp.float32) + 0.5,
            0.5,
            0.5,
        )
        saw = jnp.any(saw_box & (types == SAW))
        enemy_y = state.enemy_row.astype(jnp.float32) + 0.5
        hit = box_overlap(body.x, body.y, p.rx, p.ry, enemy_x, enemy_y, 0.5, 0.5)
        enemy = jnp.any(hit & state.enemy_alive)
        dead = lava | saw | enemy

        standing = (jnp.abs(body.vx) < 0.01) & (action_vx == 0) & support
        walk = jnp.where(((time // 5) % 2 == 0) | ~support, 1, 2)
        done, info = self.end_of_step(time, coin, coin | dead, state.variation)
        state = state.replace(
            enemy_x=enemy_x,
            enemy_vx=enemy_vx,
            body=body,
            last_y=body.y,
            on_crate=result.on_platform,
            facing_right=facing_right,
            pose=jnp.where(standing, 0, walk).astype(jnp.int32),
            time=time,
        )
        reward = jnp.where(coin, REWARD, 0.0).astype(jnp.float32)
        return state, reward, done, info

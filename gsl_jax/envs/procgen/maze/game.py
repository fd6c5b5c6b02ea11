"""Procgen *maze* in JAX: a mouse looks for the cheese in a procedurally generated maze.

Rules (from openai/procgen ``src/games/maze.cpp``, ``basic-abstract-game.cpp``, ``game.cpp`` and
``mazegen.cpp``; our own code):

* World: a square grid of ``W = 15`` cells (easy) or ``W = 25`` (hard), drawn whole over the
  64x64 frame. Per level the maze size is ``maze_dim = 2 * randn((W - 1) / 2) + 3``, i.e. a
  uniform odd size in ``{3, 5, ..., 15}`` (easy) or ``{3, 5, ..., 25}`` (hard), centred in the
  world; everything around it is wall.
* The maze is a randomized-Kruskal perfect maze (:func:`~gsl_jax.envs.procgen.grid.kruskal_maze`).
  The mouse starts in the maze's bottom-left cell (Procgen's ``(margin, margin)`` with y up); the
  cheese sits on a uniformly drawn open tile other than the start.
* Moves are one tile per step (``grid_step``). Of the 15 Procgen actions
  (:data:`~gsl_jax.envs.procgen.grid.ACTION_NAMES`) the three LEFT combos (0 LEFT+DOWN, 1 LEFT,
  2 LEFT+UP) move left, the three RIGHT combos (6, 7, 8) move right -- maze drops the vertical
  part of a diagonal -- 3 moves down, 5 moves up, and 4 (NOOP) and the special buttons 9-14
  (D, A, W, S, Q, E) leave the mouse where it is. A move into a wall or off the world is blocked
  (the mouse stays put; the step still counts).
* Reaching the cheese gives reward 10 and ends the episode with the level complete
  (``info["success"]``). Otherwise the episode ends after 500 steps (maze overrides Procgen's
  default timeout of 1000) with ``info["truncated"]``.

Variation = level seed (int32 in ``[0, 2**31 - 1)``): ``reset`` builds the level from the seed
alone, so the same seed always gives the same layout, size, cheese and theme. Our generator draws
from ``jax.random`` rather than Procgen's mt19937, so level ``s`` here is *not* Procgen's level
``s``; the level *distribution* is the same procedure (Kruskal, uniform odd size, uniform cheese
cell).

Observations (``obs_mode``):

* ``"pixels"`` (default): uint8 ``[64, 64, 3]``, the whole world as in Procgen (cells of
  ``64 / W`` px), drawn from our own tile art; the floor colour is one of eight themes drawn per
  level, as Procgen draws a background image per level.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 2]`` egocentric window centred on the mouse with
  channels (wall, cheese); cells outside the world read as wall. The default radius
  ``r = W - 1`` (window 29x29 easy, 49x49 hard) shows the whole world from any position, so the
  symbolic view holds the same information as the frame.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen.grid import (
    NUM_ACTIONS,
    action_velocity,
    egocentric_window,
    kruskal_maze,
    level_key,
    maze_tile,
)
from gsl_jax.envs.procgen.maze.art import FLOOR, GOAL, MOUSE_LEFT, MOUSE_RIGHT, WALL, maze_atlas
from gsl_jax.envs.procgen.port import ProcgenPort, check_view_radius
from gsl_jax.envs.procgen.render import TileRenderer

#: World size per distribution mode (maze.cpp ``choose_world_dim``). Procgen's "memory" mode
#: (W = 31 with an agent-centred view of radius 8) is not implemented.
WORLD_DIM = {"easy": 15, "hard": 25}
#: Step limit: maze.cpp sets ``timeout = 500`` (game.cpp's default is 1000) and game.cpp ends the
#: episode once ``cur_time >= timeout``.
TIMEOUT = 500
#: Reward for reaching the cheese (maze.cpp ``REWARD``).
REWARD = 10.0

_SALT = 0x4D415A45  # "MAZE": keeps maze levels independent of other games' levels


@struct.dataclass
class MazeState:
    """State of one maze episode.

    Attributes:
        tiles: uint8 ``[W, W]`` of ``FLOOR`` / ``WALL`` / ``GOAL`` (row 0 at the top).
        agent: int32 ``[2]`` mouse ``(row, col)``.
        facing_right: bool ``[]``; the sprite turns with the last horizontal move.
        theme: int32 ``[]`` colour theme of the level.
        maze_dim: int32 ``[]`` odd side of the maze proper.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    tiles: jax.Array
    agent: jax.Array
    facing_right: jax.Array
    theme: jax.Array
    maze_dim: jax.Array
    time: jax.Array
    variation: jax.Array


def _move_table() -> np.ndarray:
    """``[15, 2]`` int32 ``(d_row, d_col)`` of each action under maze's rules."""
    table = np.zeros((NUM_ACTIONS, 2), np.int32)
    for a in range(NUM_ACTIONS):
        vx, vy = (int(v) for v in action_velocity(jnp.int32(a)))
        if vx != 0:  # maze.cpp set_action_xy: a horizontal component cancels the vertical one
            vy = 0
        table[a] = (-vy, vx)  # y points up in Procgen, rows point down here
    return table


#: ``[15, 2]`` int32: the ``(d_row, d_col)`` each action asks for.
MOVES = _move_table()


class Maze(ProcgenPort):
    """Procgen maze (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (15x15 world) or ``"hard"`` (25x25).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[2r + 1, 2r + 1, 2]``, channels wall / cheese, centred on the mouse).
        timeout: episode step limit (Procgen's maze uses 500).
        view_radius: ``r`` of the symbolic window, a positive int; default ``W - 1`` (the whole
            world is always in view). Ignored in pixel mode.
    """

    game = "maze"
    modes = tuple(sorted(WORLD_DIM))
    default_timeout = TIMEOUT
    option_defaults = {"view_radius": None}

    def setup(self, view_radius: int | None) -> None:
        self.world_dim = WORLD_DIM[self.distribution_mode]
        self.view_radius = check_view_radius(view_radius, self.world_dim)
        self.renderer = TileRenderer(self.world_dim, maze_atlas())

    def symbolic_space(self) -> Box:
        side = 2 * self.view_radius + 1
        return Box((side, side, 2), 0.0, 1.0, jnp.float32)

    # ----------------------------------------------------------------------------------------
    # Levels
    # ----------------------------------------------------------------------------------------
    def generate(self, seed: jax.Array) -> MazeState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone; ``time`` starts at 0."""
        w = self.world_dim
        k_dim, k_maze, k_goal, k_theme = jax.random.split(level_key(seed, _SALT), 4)
        # maze.cpp: maze_dim = randn((world_dim - 1) / 2) * 2 + 3
        maze_dim = 2 * jax.random.randint(k_dim, (), 0, (w - 1) // 2) + 3
        open_grid, passages = kruskal_maze(k_maze, maze_dim, w)
        margin = (w - maze_dim) // 2
        n = (maze_dim + 1) // 2
        # Procgen's start (margin, margin) with y up is the maze's bottom-left cell, open tile
        # number n * (n - 1) (row-major cells). The cheese takes a uniform open tile other than
        # the start: draw among the 2 n^2 - 2 others and step over the start's number.
        start = jnp.stack([w - 1 - margin, margin]).astype(jnp.int32)
        pick = jax.random.randint(k_goal, (), 0, 2 * n * n - 2)
        goal = maze_tile(pick + (pick >= n * (n - 1)), maze_dim, w, passages)
        flat = jnp.arange(w * w).reshape(w, w)
        tiles = jnp.where(open_grid, FLOOR, WALL).astype(jnp.uint8)
        tiles = jnp.where(flat == goal, GOAL, tiles).astype(jnp.uint8)
        theme = jax.random.randint(k_theme, (), 0, self.renderer.atlas.num_themes)
        return MazeState(
            tiles=tiles,
            agent=start,
            facing_right=jnp.zeros((), jnp.bool_),
            theme=theme.astype(jnp.int32),
            maze_dim=maze_dim.astype(jnp.int32),
            time=jnp.zeros((), jnp.int32),
            variation=jnp.asarray(seed, jnp.int32),
        )

    # ----------------------------------------------------------------------------------------
    # Rules
    # ----------------------------------------------------------------------------------------
    def transition(
        self, key: jax.Array, state: MazeState, action: jax.Array
    ) -> tuple[MazeState, jax.Array, jax.Array, Info]:
        del key  # maze has no randomness after generation
        w = self.world_dim
        move = jnp.asarray(MOVES)[jnp.clip(action, 0, NUM_ACTIONS - 1)]
        target = state.agent + move
        inside = jnp.all((target >= 0) & (target < w))
        clipped = jnp.clip(target, 0, w - 1)
        blocked = ~inside | (state.tiles[clipped[0], clipped[1]] == WALL)
        agent = jnp.where(blocked, state.agent, target)
        # maze.cpp turns the sprite with the requested move, blocked or not.
        facing_right = jnp.where(
            move[1] > 0, True, jnp.where(move[1] < 0, False, state.facing_right)
        )
        reached = state.tiles[agent[0], agent[1]] == GOAL
        time = state.time + 1
        done, info = self.end_of_step(time, reached, reached, state.variation)
        state = state.replace(agent=agent, facing_right=facing_right, time=time)
        reward = jnp.where(reached, REWARD, 0.0).astype(jnp.float32)
        return state, reward, done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def render(self, state: MazeState) -> jax.Array:
        """uint8 ``[64, 64, 3]`` frame: the tile grid with the mouse sprite pasted on its cell."""
        w = self.world_dim
        flat = jnp.arange(w * w, dtype=jnp.int32).reshape(w, w)
        sprite = jnp.where(state.facing_right, MOUSE_RIGHT, MOUSE_LEFT).astype(jnp.uint8)
        tiles = jnp.where(flat == state.agent[0] * w + state.agent[1], sprite, state.tiles)
        return self.renderer.render(tiles, state.theme)

    def symbolic(self, state: MazeState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 2]``: (wall, cheese) around the mouse (at the centre)."""
        window = egocentric_window(
            state.tiles, state.agent[0], state.agent[1], self.view_radius, WALL
        )
        return jnp.stack([window == WALL, window == GOAL], axis=-1).astype(jnp.float32)

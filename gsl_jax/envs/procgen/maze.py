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

Speed (2-core shared CPU, ``VecEnv(Maze(), 256)``, random actions, jitted ``lax.scan`` of 100
steps, which also resets every env every step): easy about 40-70k steps/s in pixel mode and
115-140k in symbolic mode; hard about 20k and 30k (its 13x13-cell Kruskal loop dominates).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Info, StateEnvironment, make_info
from gsl_jax.envs.procgen.grid import (
    NUM_ACTIONS,
    action_velocity,
    egocentric_window,
    kruskal_maze,
    level_key,
    maze_tile,
)
from gsl_jax.envs.procgen.options import check_port_options
from gsl_jax.envs.procgen.render import (
    Atlas,
    TileRenderer,
    bricks,
    ellipse,
    speckle,
    texel_centres,
)

#: World size per distribution mode (maze.cpp ``choose_world_dim``). Procgen's "memory" mode
#: (W = 31 with an agent-centred view of radius 8) is not implemented.
WORLD_DIM = {"easy": 15, "hard": 25}
#: Step limit: maze.cpp sets ``timeout = 500`` (game.cpp's default is 1000) and game.cpp ends the
#: episode once ``cur_time >= timeout``.
TIMEOUT = 500
#: Reward for reaching the cheese (maze.cpp ``REWARD``).
REWARD = 10.0
OBS_MODES = ("pixels", "symbolic")

# Tile ids of the state grid and of the atlas.
FLOOR, WALL, GOAL, MOUSE_LEFT, MOUSE_RIGHT = 0, 1, 2, 3, 4

_SALT = 0x4D415A45  # "MAZE": keeps maze levels independent of other games' levels
_TEX = 8  # texels per tile side; a cell is only 2.6-4.3 px wide, so more detail is invisible


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


def maze_atlas() -> Atlas:
    """Our own art for maze: themed floor, sand-brick wall, cheese and a mouse (both facings)."""
    t = _TEX
    floor = speckle(t, 0.25, seed=1).astype(np.uint8)  # slot 1: darker speckle
    wall = bricks(t, rows=2).astype(np.uint8)  # slot 1: mortar

    y, x = texel_centres(t)
    cheese = np.zeros((t, t), np.uint8)
    wedge = (y > 0.15) & (y < 0.9) & (x > 0.05) & (x < 0.95) & (y - 0.15 > 0.45 * (0.95 - x))
    cheese[wedge] = 1
    cheese[wedge & (ellipse(t, 0.72, 0.55, 0.1, 0.1) | ellipse(t, 0.55, 0.8, 0.08, 0.08))] = 2

    mouse = np.zeros((t, t), np.uint8)  # facing left
    mouse[ellipse(t, 0.6, 0.56, 0.32, 0.4) | ellipse(t, 0.5, 0.26, 0.25, 0.23)] = 1
    mouse[ellipse(t, 0.3, 0.4, 0.14, 0.12)] = 2  # ear
    mouse[(y > 0.8) & (x > 0.85)] = 2  # tail
    mouse[ellipse(t, 0.5, 0.2, 0.07, 0.07)] = 3  # eye
    patterns = np.stack([floor, wall, cheese, mouse, mouse[:, ::-1]])

    floors = [  # (base, speckle) per theme: grass, dirt, stone, water, violet, teal, brick, ash
        ((62, 112, 52), (46, 92, 40)),
        ((112, 82, 52), (92, 66, 42)),
        ((92, 92, 104), (72, 72, 84)),
        ((42, 72, 124), (32, 56, 104)),
        ((82, 52, 104), (66, 40, 88)),
        ((32, 92, 92), (24, 76, 76)),
        ((104, 42, 42), (84, 32, 32)),
        ((52, 52, 52), (40, 40, 40)),
    ]
    fixed = [  # like Procgen, walls / cheese / mouse look the same in every theme
        [(216, 190, 128), (196, 170, 110), (0, 0, 0), (0, 0, 0)],
        [(0, 0, 0), (250, 206, 60), (200, 150, 30), (0, 0, 0)],
        [(0, 0, 0), (170, 170, 176), (236, 150, 170), (10, 10, 10)],
        [(0, 0, 0), (170, 170, 176), (236, 150, 170), (10, 10, 10)],
    ]
    palettes = np.array(
        [[[*f, (0, 0, 0), (0, 0, 0)], *fixed] for f in floors], np.uint8
    )  # [num_themes, 5, 4, 3]
    transparent = np.array([False, False, True, True, True])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)


class Maze(StateEnvironment):
    """Procgen maze (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (15x15 world) or ``"hard"`` (25x25).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[2r + 1, 2r + 1, 2]``, channels wall / cheese, centred on the mouse).
        view_radius: ``r`` of the symbolic window; default ``W - 1`` (the whole world is
            always in view). Ignored in pixel mode.
        timeout: episode step limit (Procgen's maze uses 500).
        **options: no other options exist; any given raises ``ValueError`` naming it.
    """

    num_variations = 2**31 - 1
    action_space = Discrete(NUM_ACTIONS)
    deterministic_reset = True  # a level is a function of its seed alone

    def __init__(
        self,
        distribution_mode: str = "easy",
        obs_mode: str = "pixels",
        view_radius: int | None = None,
        timeout: int = TIMEOUT,
        **options: Any,
    ):
        check_port_options(
            "Maze",
            options,
            ["distribution_mode", "obs_mode", "view_radius", "timeout"],
            distribution_mode,
            sorted(WORLD_DIM),
            obs_mode,
            OBS_MODES,
            timeout,
        )
        self.distribution_mode = distribution_mode
        self.obs_mode = obs_mode
        self.world_dim = WORLD_DIM[distribution_mode]
        self.timeout = int(timeout)
        self.max_episode_steps = self.timeout
        if view_radius is None:
            view_radius = self.world_dim - 1
        if not isinstance(view_radius, int | np.integer) or view_radius < 1:
            raise ValueError(f"view_radius: must be a positive int, got {view_radius!r}")
        self.view_radius = int(view_radius)
        self.renderer = TileRenderer(self.world_dim, maze_atlas())
        if obs_mode == "pixels":
            self.observation_space = Box((64, 64, 3), 0, 255, jnp.uint8)
        else:
            side = 2 * self.view_radius + 1
            self.observation_space = Box((side, side, 2), 0.0, 1.0, jnp.float32)

    @property
    def name(self) -> str:
        return f"maze-{self.distribution_mode}"

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
    # Environment interface
    # ----------------------------------------------------------------------------------------
    def init_state(self, key: jax.Array, variation: jax.Array) -> MazeState:
        """Start level ``variation``; ``key`` is unused (the level depends on the seed only)."""
        del key
        return self.generate(jnp.asarray(variation, jnp.int32))

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
        timed_out = time >= self.timeout
        done = reached | timed_out
        state = state.replace(agent=agent, facing_right=facing_right, time=time)
        reward = jnp.where(reached, REWARD, 0.0).astype(jnp.float32)
        info = make_info(reached, timed_out & ~reached, state.variation)
        return state, reward, done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def observe(self, state: MazeState) -> jax.Array:
        """The observation of ``state`` in this env's ``obs_mode``."""
        if self.obs_mode == "pixels":
            return self.render(state)
        return self.symbolic(state)

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

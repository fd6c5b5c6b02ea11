"""chaser's state and level generator (openai/procgen ``src/games/chaser.cpp`` ``game_reset`` and
``mazegen.cpp`` ``generate_maze_no_dead_ends``; our own code).

Coordinates: grids are ``[row, col]`` with row 0 at the top (image order, as everywhere in
:mod:`gsl_jax.envs.procgen.grid`); Procgen's ``y`` points up, so its ``y`` is ``W - 1 - row``.
Positions of moving bodies are int32 in *sixteenths of a cell* (:data:`UNIT`), measured from the
top-left corner of the world: a body centred on cell ``(row, col)`` sits at ``(16 row + 8,
16 col + 8)``. Every speed in chaser is a multiple of 1/16 cell per sub-step (the agent moves
1/8 per sub-step, enemies 1/8 or 1/16), so integer positions reproduce Procgen's float
arithmetic exactly.

A level (``game_reset``):

* The world is the maze itself, ``W = 11`` cells (easy) or ``13`` (hard). The maze is a
  randomized-Kruskal perfect maze (:func:`~gsl_jax.envs.procgen.grid.kruskal_maze`) with its
  dead ends opened: visiting the open cells in Procgen's order (``y`` up from the bottom row,
  ``x`` left to right), a cell with exactly one open neighbour opens one of its walled
  neighbours inside the world, chosen uniformly (:func:`remove_dead_ends`).
* Large orbs: the open cells fall in four quadrants (``x >= W / 2``, ``y >= W / 2``); each
  quadrant gets one large orb on a uniform open cell of it (easy); in hard mode one uniformly
  drawn quadrant gets none (three large orbs).
* Of the open cells without a large orb, four distinct ones are drawn uniformly: the agent's
  start and the three enemy eggs (``total_enemies = 3``). Every open cell without a large orb
  holds a small orb, the agent's start and the eggs' cells included.
* Eggs hatch after :data:`EGG_TIMEOUT` steps; the background theme is drawn per level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.procgen.grid import kruskal_maze, level_key

#: World (= maze) size per distribution mode (chaser.cpp ``game_reset``; "extreme", 19 with 5
#: enemies, is not implemented).
WORLD_DIM = {"easy": 11, "hard": 13}
#: Large orbs per mode: one per quadrant, hard mode leaves one quadrant without.
NUM_LARGE_ORBS = {"easy": 4, "hard": 3}
#: chaser.cpp ``total_enemies`` in easy and hard mode.
NUM_ENEMIES = 3
#: Slots of the large-orb pool (the most any mode uses).
LARGE_ORB_SLOTS = 4
#: Position units per cell.
UNIT = 16
#: chaser.cpp ``egg_timeout``: steps from an egg's spawn until it hatches.
EGG_TIMEOUT = 50
#: chaser.cpp ``eat_timeout``: steps after a large orb during which enemies can be eaten.
EAT_TIMEOUT = 75
#: Number of floor colour themes (Procgen draws one background image per level).
NUM_THEMES = 6
#: Tile ids of the state grid.
FLOOR, WALL, ORB = 0, 1, 2

_SALT = 0x43484153  # "CHAS": keeps chaser levels independent of other games' levels


@struct.dataclass
class ChaserState:
    """State of one chaser episode (``W`` the world size, positions in 1/16 cell from the
    top-left corner, see the module docstring).

    Attributes:
        tiles: uint8 ``[W, W]`` of ``FLOOR`` / ``WALL`` / ``ORB`` (a small orb on the floor).
        agent: int32 ``[2]`` agent centre ``(r, c)``.
        agent_dir: int32 ``[2]`` the sign of the agent's velocity ``(d_row, d_col)``, each in
            ``{-1, 0, 1}``: chaser keeps moving the agent until a wall stops it.
        enemy_kind: int32 ``[3]`` per enemy slot: 0 empty, 1 egg, 2 enemy.
        enemy_pos: int32 ``[3, 2]`` centre ``(r, c)`` of the egg or enemy.
        enemy_vel: int32 ``[3, 2]`` enemy velocity per step (0, +-4 or +-8 units).
        egg_timer: int32 ``[3]`` steps until the egg hatches.
        orb_cells: int32 ``[4, 2]`` cell ``(row, col)`` of each large orb slot.
        orb_alive: bool ``[4]`` whether the slot holds an uneaten large orb.
        eat_time: int32 ``[]`` step of the last large orb eaten (``-EAT_TIMEOUT`` at start).
        orbs_left: int32 ``[]`` small orbs still on the floor; the level is complete at 0.
        open_cells: int32 ``[W * W]`` flat indices ``row * W + col`` of the open cells in
            Procgen's order (``y`` up, then ``x``), padded with 0; eggs respawn on
            ``open_cells[k]``.
        num_open: int32 ``[]`` number of open cells.
        theme: int32 ``[]`` floor colour theme.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    tiles: jax.Array
    agent: jax.Array
    agent_dir: jax.Array
    enemy_kind: jax.Array
    enemy_pos: jax.Array
    enemy_vel: jax.Array
    egg_timer: jax.Array
    orb_cells: jax.Array
    orb_alive: jax.Array
    eat_time: jax.Array
    orbs_left: jax.Array
    open_cells: jax.Array
    num_open: jax.Array
    theme: jax.Array
    time: jax.Array
    variation: jax.Array


#: ``(d_row, d_col)`` of the four neighbours in Procgen's order (``x - 1``, ``y - 1``,
#: ``y + 1``, ``x + 1``: left, below, above, right), as ``get_neighbors`` / ``get_adjacent``
#: list them.
NEIGHBOURS = ((0, -1), (1, 0), (-1, 0), (0, 1))


def procgen_order(w: int) -> jax.Array:
    """int32 ``[W * W]``: flat indices ``row * W + col`` in Procgen's grid order (``y`` up from
    the bottom row, ``x`` left to right)."""
    rows = (w - 1 - jnp.arange(w))[:, None]
    return (rows * w + jnp.arange(w)[None, :]).reshape(-1).astype(jnp.int32)


def remove_dead_ends(key: jax.Array, open_grid: jax.Array) -> jax.Array:
    """``MazeGen::generate_maze_no_dead_ends`` on a perfect maze (bool ``[W, W]``).

    Only maze cells (even row and column) can be dead ends; they are visited in Procgen's
    order, and one with a single open neighbour opens a uniformly drawn walled neighbour inside
    the world. Later cells see the walls earlier ones opened, as in the C++ loop.
    """
    w = open_grid.shape[0]
    n = (w + 1) // 2
    draws = jax.random.uniform(key, (n * n,))
    offsets = jnp.asarray(NEIGHBOURS, jnp.int32)

    def body(k, flat):
        row = w - 1 - 2 * (k // n)
        col = 2 * (k % n)
        nr, nc = row + offsets[:, 0], col + offsets[:, 1]
        inside = (nr >= 0) & (nr < w) & (nc >= 0) & (nc < w)
        idx = jnp.clip(nr, 0, w - 1) * w + jnp.clip(nc, 0, w - 1)
        is_open = inside & flat[idx]
        walled = inside & ~flat[idx]
        dead_end = jnp.sum(is_open) == 1
        count = jnp.sum(walled)
        pick = jnp.minimum((draws[k] * count).astype(jnp.int32), count - 1)
        rank = jnp.cumsum(walled) - 1  # rank of each walled neighbour in Procgen's order
        chosen = walled & (rank == pick) & dead_end & (count > 0)
        return flat.at[idx].set(flat[idx] | chosen)

    return jax.lax.fori_loop(0, n * n, body, open_grid.reshape(-1)).reshape(w, w)


def _pick_uniform(key: jax.Array, mask: jax.Array) -> jax.Array:
    """Flat index of a uniformly drawn True cell of bool ``mask`` (``[W * W]``)."""
    return jnp.argmax(jnp.where(mask, jax.random.uniform(key, mask.shape), -1.0))


def generate_level(seed: jax.Array, mode: str) -> ChaserState:
    """The start state of level ``seed`` (int32 ``[]``) in distribution ``mode``."""
    w = WORLD_DIM[mode]
    k_maze, k_ends, k_quad, k_orbs, k_cells, k_theme = jax.random.split(level_key(seed, _SALT), 6)
    perfect, _ = kruskal_maze(k_maze, jnp.int32(w), w)
    open_grid = remove_dead_ends(k_ends, perfect).reshape(-1)
    rows = jnp.arange(w * w) // w
    cols = jnp.arange(w * w) % w
    # chaser.cpp: quad_idx = (x >= W / 2.0) * 2 + (y >= W / 2.0), with y = W - 1 - row.
    quadrant = (2 * cols >= w) * 2 + (2 * (w - 1 - rows) >= w)
    skipped = jax.random.randint(k_quad, (), 0, 4)  # hard mode: this quadrant gets no orb
    orb_flat = jnp.stack(
        [
            _pick_uniform(k, open_grid & (quadrant == q))
            for q, k in enumerate(jax.random.split(k_orbs, 4))
        ]
    )
    orb_alive = jnp.ones(4, bool)
    if NUM_LARGE_ORBS[mode] == 3:
        orb_alive = jnp.arange(4) != skipped
    has_large = jnp.any((jnp.arange(w * w)[:, None] == orb_flat[None, :]) & orb_alive, axis=1)
    free = open_grid & ~has_large
    # simple_choose(free, 1 + total_enemies): four distinct uniform cells, the first the start.
    _, chosen = jax.lax.top_k(jnp.where(free, jax.random.uniform(k_cells, (w * w,)), -1.0), 4)
    centre = lambda flat: jnp.stack([flat // w, flat % w], -1) * UNIT + UNIT // 2  # noqa: E731
    order = procgen_order(w)
    in_order = open_grid[order]
    # Stable partition: open cells first, in Procgen's order.
    rank = jnp.where(in_order, jnp.cumsum(in_order) - 1, w * w)
    open_cells = jnp.zeros(w * w, jnp.int32).at[rank].set(order, mode="drop")
    return ChaserState(
        tiles=jnp.where(open_grid, jnp.where(free, ORB, FLOOR), WALL)
        .reshape(w, w)
        .astype(jnp.uint8),
        agent=centre(chosen[0]).astype(jnp.int32),
        agent_dir=jnp.zeros(2, jnp.int32),
        enemy_kind=jnp.ones(NUM_ENEMIES, jnp.int32),
        enemy_pos=centre(chosen[1:]).astype(jnp.int32),
        enemy_vel=jnp.zeros((NUM_ENEMIES, 2), jnp.int32),
        egg_timer=jnp.full(NUM_ENEMIES, EGG_TIMEOUT, jnp.int32),
        orb_cells=jnp.stack([orb_flat // w, orb_flat % w], -1).astype(jnp.int32),
        orb_alive=orb_alive,
        eat_time=jnp.int32(-EAT_TIMEOUT),
        orbs_left=jnp.sum(free).astype(jnp.int32),
        open_cells=open_cells,
        num_open=jnp.sum(open_grid).astype(jnp.int32),
        theme=jax.random.randint(k_theme, (), 0, NUM_THEMES).astype(jnp.int32),
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )

"""Grid-world building blocks shared by the JAX Procgen games: actions, level seeds, mazes.

Coordinates: a world is a square tile grid ``[W, W]`` indexed ``[row, col]`` with row 0 at the
*top* of the frame (Procgen's C++ code has y pointing up; we flip once, here, so every array is in
image order). Cells outside the world count as walls, as in Procgen's grid games
(``out_of_bounds_object = WALL_OBJ``).

Everything below is pure ``jax.numpy`` on fixed shapes, so it jits and nests under ``vmap``. Level
generation is driven by a per-level PRNG key derived from the level seed alone
(:func:`level_key`), never from the episode key: the same seed always gives the same level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# --------------------------------------------------------------------------------------------
# The Procgen action set
# --------------------------------------------------------------------------------------------
#: The 15 button combinations of every Procgen game, in action-id order (procgen env.py
#: ``get_combos``). Ids 0-8 are the 3x3 grid of (horizontal, vertical) moves, ids 9-14 the
#: "special" buttons.
ACTION_NAMES: tuple[str, ...] = (
    "LEFT+DOWN",
    "LEFT",
    "LEFT+UP",
    "DOWN",
    "NOOP",
    "UP",
    "RIGHT+DOWN",
    "RIGHT",
    "RIGHT+UP",
    "D",
    "A",
    "W",
    "S",
    "Q",
    "E",
)
NUM_ACTIONS = len(ACTION_NAMES)


def _action_velocity_table() -> np.ndarray:
    """``[15, 2]`` int32 ``(vx, vy)`` per action, Procgen convention (vx > 0 right, vy > 0 up).

    basic-abstract-game.cpp: ``move_action = action % 9`` and ``vx = move / 3 - 1``,
    ``vy = move % 3 - 1``; an action >= 9 is a special action and the agent stands still.
    """
    table = np.zeros((NUM_ACTIONS, 2), np.int32)
    for a in range(9):
        table[a] = (a // 3 - 1, a % 3 - 1)
    return table


#: ``[15, 2]`` int32: ``(vx, vy)`` of each action (x right, y up); zero for NOOP and specials.
ACTION_VELOCITY = _action_velocity_table()


def action_velocity(action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Procgen's ``(vx, vy)`` (each in {-1, 0, 1}, y up) of ``action`` (int ``[]``).

    Out-of-range actions are clipped into ``[0, 14]`` so a bad policy output cannot index out of
    the table inside ``jit``.
    """
    row = jnp.asarray(ACTION_VELOCITY)[jnp.clip(action, 0, NUM_ACTIONS - 1)]
    return row[0], row[1]


# --------------------------------------------------------------------------------------------
# Level seeds
# --------------------------------------------------------------------------------------------
def level_key(seed: jax.Array, salt: int) -> jax.Array:
    """The PRNG key of level ``seed`` (int32 ``[]``) for the game identified by ``salt``.

    The salt keeps levels of different games with the same seed independent.
    """
    return jax.random.fold_in(jax.random.key(jnp.asarray(seed, jnp.int32)), salt)


# --------------------------------------------------------------------------------------------
# Mazes
# --------------------------------------------------------------------------------------------
def kruskal_maze(
    key: jax.Array, maze_dim: jax.Array, world_dim: int
) -> tuple[jax.Array, jax.Array]:
    """A perfect maze of odd size ``maze_dim`` centred in a ``[world_dim, world_dim]`` grid.

    Same procedure as Procgen's ``MazeGen::generate_maze`` (randomized Kruskal): maze cells sit
    at even local coordinates ``(0, 2, ..., maze_dim - 1)``; the walls between neighbouring cells
    are drawn one at a time uniformly at random *without replacement* and removed when they
    separate two different sets. The result is a spanning tree over the ``n x n`` cells,
    ``n = (maze_dim + 1) / 2``. The maze sits at offset ``margin = (world_dim - maze_dim) // 2``
    on both axes, and everything outside it is wall.

    The loop runs over the ``2 N (N - 1)`` walls of the largest maze (``N = (world_dim + 1) // 2``)
    so its length is static; walls outside the active ``n x n`` block are drawn and ignored.
    Each iteration touches a few scalars and relabels one set over ``N * N`` cells. (On a CPU this
    beats a Borůvka-style parallel MST, whose scatters and pointer-jumping gathers cost more than
    the whole loop, and a sort-based random order, which costs more than the loop as well;
    timings in ``docs/benchmarks.md``, section 4.)

    Args:
        key: PRNG key of the level.
        maze_dim: int32 ``[]``, odd, ``3 <= maze_dim <= world_dim``.
        world_dim: static odd world size ``W``.

    Returns:
        ``(open_grid, passages)``: bool ``[W, W]``, True on open tiles (cells and removed walls);
        int32 ``[N * N - 1]``, the flat world index (``row * W + col``) of each removed wall in
        removal order, ``-1`` past the ``n * n - 1`` removed ones. See :func:`maze_tile`.
    """
    if world_dim % 2 == 0 or world_dim < 3:
        raise ValueError(f"world_dim: must be odd and >= 3, got {world_dim}")
    n_max = (world_dim + 1) // 2
    num_h = n_max * (n_max - 1)  # walls between horizontally adjacent cells
    num_edges = 2 * num_h
    n = (maze_dim + 1) // 2
    margin = (world_dim - maze_dim) // 2

    def edge_geometry(e: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Cell ids of the two ends of wall ``e``, whether it lies in the active maze, and the
        flat world index of its tile."""
        horizontal = e < num_h
        ev = e - num_h
        # horizontal wall: cells (row j, col i) and (j, i + 1); vertical: (j, i) and (j + 1, i)
        i = jnp.where(horizontal, e % (n_max - 1), ev % n_max)
        j = jnp.where(horizontal, e // (n_max - 1), ev // n_max)
        u = j * n_max + i
        v = jnp.where(horizontal, u + 1, u + n_max)
        active = jnp.where(horizontal, (i + 1 < n) & (j < n), (i < n) & (j + 1 < n))
        row = margin + 2 * j + jnp.where(horizontal, 0, 1)
        col = margin + 2 * i + jnp.where(horizontal, 1, 0)
        return u, v, active, row * world_dim + col

    # Open the cells of the active maze; walls between them open inside the loop.
    rows = jnp.arange(world_dim)[:, None] - margin
    cols = jnp.arange(world_dim)[None, :] - margin
    inside = (rows >= 0) & (rows < maze_dim) & (cols >= 0) & (cols < maze_dim)
    open_grid = (inside & (rows % 2 == 0) & (cols % 2 == 0)).reshape(-1)

    # One uniform per draw; draw t takes index floor(u_t * remaining) of the remaining walls,
    # like MazeGen's randn(walls.size()).
    draws = jax.random.uniform(key, (num_edges,))
    labels = jnp.arange(n_max * n_max, dtype=jnp.int32)
    pool = jnp.arange(num_edges, dtype=jnp.int32)
    passages = jnp.full((n_max * n_max - 1,), -1, jnp.int32)

    def body(t, carry):
        labels, pool, open_grid, passages, count = carry
        remaining = num_edges - t
        pick = jnp.minimum((draws[t] * remaining).astype(jnp.int32), remaining - 1)
        e = pool[pick]
        # Swap-remove keeps the pool dense; the order of the rest does not matter.
        pool = pool.at[pick].set(pool[remaining - 1])
        u, v, active, tile = edge_geometry(e)
        a, b = labels[u], labels[v]
        join = active & (a != b)
        labels = jnp.where(join & (labels == a), b, labels)
        open_grid = open_grid.at[tile].set(open_grid[tile] | join)
        slot = jnp.minimum(count, passages.shape[0] - 1)
        passages = passages.at[slot].set(jnp.where(join, tile, passages[slot]))
        return labels, pool, open_grid, passages, count + join.astype(jnp.int32)

    carry = (labels, pool, open_grid, passages, jnp.zeros((), jnp.int32))
    _, _, open_grid, passages, _ = jax.lax.fori_loop(0, num_edges, body, carry)
    return open_grid.reshape(world_dim, world_dim), passages


def maze_tile(
    index: jax.Array, maze_dim: jax.Array, world_dim: int, passages: jax.Array
) -> jax.Array:
    """Flat world index of open tile number ``index`` of a :func:`kruskal_maze` maze.

    The ``2 n^2 - 1`` open tiles of an ``n x n``-cell maze are numbered: first the cells in
    row-major order (``0 .. n^2 - 1``), then the removed walls in removal order. A uniform
    ``index`` therefore gives a uniform open tile, as MazeGen's ``place_objects`` draws one from
    its list of free cells, without scanning the grid.

    Args:
        index: int32 ``[]`` in ``[0, 2 n^2 - 1)``.
        maze_dim: int32 ``[]`` odd maze size.
        world_dim: static world size ``W``.
        passages: int32 ``[N * N - 1]`` from :func:`kruskal_maze`.

    Returns:
        int32 ``[]`` flat index ``row * W + col``.
    """
    n = (maze_dim + 1) // 2
    margin = (world_dim - maze_dim) // 2
    cell_row = margin + 2 * (index // n)
    cell_col = margin + 2 * (index % n)
    passage = passages[jnp.clip(index - n * n, 0, passages.shape[0] - 1)]
    return jnp.where(index < n * n, cell_row * world_dim + cell_col, passage).astype(jnp.int32)


def egocentric_window(
    grid: jax.Array, row: jax.Array, col: jax.Array, radius: int, fill: int
) -> jax.Array:
    """The ``[2r + 1, 2r + 1, ...]`` window of ``grid`` (``[H, W, ...]``) centred on
    ``(row, col)``.

    Cells outside ``grid`` read as ``fill`` (e.g. "wall"). ``radius`` is static.
    """
    pad = [(radius, radius), (radius, radius)] + [(0, 0)] * (grid.ndim - 2)
    padded = jnp.pad(grid, pad, constant_values=fill)
    size = 2 * radius + 1
    start = (row, col) + (0,) * (grid.ndim - 2)
    return jax.lax.dynamic_slice(padded, start, (size, size) + grid.shape[2:])

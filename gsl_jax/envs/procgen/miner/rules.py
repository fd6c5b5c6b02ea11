"""Miner's level generator and rules as pure functions on a flat grid (openai/procgen
``src/games/miner.cpp`` and ``basic-abstract-game.cpp``; our own code).

The grid is uint8 ``[W * W]`` in Procgen's own order: cell ``(x, y)`` is index ``y * W + x``
with ``y`` pointing *up* (row 0 of the grid is the bottom of the frame). Keeping the C++ order
keeps its index arithmetic (``idx - W`` is the cell below, ``idx + 1`` the one to the right) and,
above all, its scan order: the boulder/diamond update visits cells from the bottom-left to the
top-right and each cell sees the grid as the earlier cells left it, which is what makes an object
that rolls right fall in the same step while one that rolls left waits a step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen.grid import NUM_ACTIONS, action_velocity

# Object codes of the grid (miner.cpp has BOULDER 1, DIAMOND 2, MOVING_* 3, 4, DIRT 9, SPACE 100,
# OOB_WALL 10; ours are dense so the moving type is the stationary one + 2).
SPACE, BOULDER, DIAMOND, MOVING_BOULDER, MOVING_DIAMOND, DIRT, OUT = range(7)

#: miner.cpp ``diamond_pct = 12 / 400`` and ``boulder_pct = 80 / 400`` of the grid's cells (the
#: float32 products are exact: 3 and 20 of 100 cells easy, 12 and 80 of 400 hard).
DIAMOND_FRACTION = (12, 400)
BOULDER_FRACTION = (80, 400)


def object_counts(width: int) -> tuple[int, int]:
    """``(diamonds, boulders)`` placed in a ``width x width`` level."""
    cells = width * width
    return (
        cells * DIAMOND_FRACTION[0] // DIAMOND_FRACTION[1],
        cells * BOULDER_FRACTION[0] // BOULDER_FRACTION[1],
    )


def _move_table() -> np.ndarray:
    """``[15, 2]`` int32 ``(dx, dy)`` (y up) of each action: miner.cpp's ``set_action_xy`` drops
    the vertical part of a diagonal."""
    table = np.zeros((NUM_ACTIONS, 2), np.int32)
    for a in range(NUM_ACTIONS):
        vx, vy = (int(v) for v in action_velocity(jnp.int32(a)))
        table[a] = (vx, 0 if vx != 0 else vy)
    return table


#: ``[15, 2]`` int32: the ``(dx, dy)`` (y up) each action asks for.
MOVES = _move_table()


# --------------------------------------------------------------------------------------------
# Levels
# --------------------------------------------------------------------------------------------
def generate_level(key: jax.Array, width: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A level as miner.cpp's ``game_reset`` builds it.

    Distinct uniform cells hold the agent, the diamonds and the boulders (``simple_choose``);
    every other cell is dirt, the agent's cell is emptied and boulders among its 8 neighbours
    become dirt. The exit takes a uniform cell among those that were dirt before the agent's cell
    was emptied (so possibly the agent's own) whose upper neighbour is dirt or outside the world;
    its cell is emptied.

    Returns ``(grid uint8 [W * W], agent int32 [2] (x, y), exit int32 [])``.
    """
    cells = width * width
    num_diamonds, num_boulders = object_counts(width)
    k_perm, k_exit = jax.random.split(key)
    perm = jax.random.permutation(k_perm, cells)
    rank = jnp.zeros((cells,), jnp.int32).at[perm].set(jnp.arange(cells, dtype=jnp.int32))
    grid = jnp.where(rank < 1 + num_diamonds, DIAMOND, DIRT)
    grid = jnp.where(
        (rank >= 1 + num_diamonds) & (rank < 1 + num_diamonds + num_boulders), BOULDER, grid
    )
    grid = jnp.where(rank == 0, DIRT, grid)
    was_dirt = grid == DIRT
    ax, ay = perm[0] % width, perm[0] // width
    xs, ys = jnp.arange(cells) % width, jnp.arange(cells) // width
    near = (jnp.abs(xs - ax) <= 1) & (jnp.abs(ys - ay) <= 1)
    grid = jnp.where(near & (grid == BOULDER), DIRT, grid)
    grid = jnp.where(rank == 0, SPACE, grid)
    above = jnp.concatenate([grid[width:], jnp.full((width,), OUT, grid.dtype)])
    candidate = was_dirt & ((above == DIRT) | (above == OUT))
    score = jnp.where(candidate, jax.random.uniform(k_exit, (cells,)), -1.0)
    exit_cell = jnp.argmax(score).astype(jnp.int32)
    grid = jnp.where(jnp.arange(cells) == exit_cell, SPACE, grid)
    agent = jnp.stack([ax, ay]).astype(jnp.int32)
    return grid.astype(jnp.uint8), agent, exit_cell


# --------------------------------------------------------------------------------------------
# The agent
# --------------------------------------------------------------------------------------------
def _at(grid: jax.Array, index: jax.Array) -> jax.Array:
    """``grid[index]``, :data:`OUT` outside ``[0, len(grid))`` (C++ ``get_obj(idx)``)."""
    inside = (index >= 0) & (index < grid.shape[0])
    return jnp.where(inside, grid[jnp.clip(index, 0, grid.shape[0] - 1)], OUT)


def move_agent(
    grid: jax.Array, agent: jax.Array, action: jax.Array, width: int
) -> tuple[jax.Array, jax.Array]:
    """Procgen's grid step of the agent: one cell towards the action's direction unless that
    cell is a boulder (resting or falling) or outside the world.

    Returns ``(agent int32 [2], blocked bool [])``; ``blocked`` is the C++ ``agent->vx == 0``
    after a requested horizontal move, which :func:`push` needs.
    """
    move = jnp.asarray(MOVES)[jnp.clip(action, 0, NUM_ACTIONS - 1)]
    target = agent + move
    inside = jnp.all((target >= 0) & (target < width))
    cell = _at(grid, jnp.where(inside, target[1] * width + target[0], -1))
    blocked = (cell == BOULDER) | (cell == MOVING_BOULDER) | (cell == OUT)
    return jnp.where(blocked, agent, target), blocked


def push(
    grid: jax.Array, agent: jax.Array, dx: jax.Array, blocked: jax.Array, width: int
) -> tuple[jax.Array, jax.Array]:
    """miner.cpp ``handle_push``: a horizontal move blocked by a *resting* boulder shoves it one
    cell further when that cell is empty and inside the world; the agent takes its place.

    ``dx`` is the requested horizontal move (int32 ``[]`` in {-1, 0, 1}). Returns
    ``(grid, agent)``.
    """
    x = agent[0]
    idx = agent[1] * width + x
    inside = jnp.where(dx > 0, x < width - 2, x > 1)
    ok = (
        (dx != 0)
        & blocked
        & inside
        & (_at(grid, idx + dx) == BOULDER)
        & (_at(grid, idx + 2 * dx) == SPACE)
    )
    cells = jnp.arange(grid.shape[0])
    pushed = jnp.where(cells == idx + dx, SPACE, jnp.where(cells == idx + 2 * dx, BOULDER, grid))
    grid = jnp.where(ok, pushed, grid).astype(grid.dtype)
    agent = agent.at[0].add(jnp.where(ok, dx, 0))
    return grid, agent


def dig(grid: jax.Array, agent: jax.Array, width: int) -> tuple[jax.Array, jax.Array]:
    """The agent empties a dirt or resting-diamond cell it stands on; ``(grid, got_diamond)``.
    A *falling* diamond under the agent is neither collected nor cleared (as in miner.cpp)."""
    idx = agent[1] * width + agent[0]
    cell = grid[idx]
    grid = grid.at[idx].set(jnp.where((cell == DIRT) | (cell == DIAMOND), SPACE, cell))
    return grid.astype(jnp.uint8), cell == DIAMOND


_UNROLL = None  # cells per unrolled loop iteration (None: one row)


# --------------------------------------------------------------------------------------------
# Falling and rolling
# --------------------------------------------------------------------------------------------
def settle(
    grid: jax.Array, agent_index: jax.Array, width: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One pass of miner.cpp's boulder/diamond update over the cells in index order.

    Each boulder or diamond, seeing the grid as the cells before it left it: falls one cell
    (becoming *moving*) if the cell below is empty and not the agent's; else, if it is moving and
    the agent is right below, crushes the agent; else, resting on a boulder or diamond, rolls
    left (then right) when the side cell and the cell below it are empty and not the agent's;
    else comes to rest (stationary type).

    Args:
        grid: uint8 ``[W * W]`` (y up).
        agent_index: int32 ``[]`` the agent's cell ``y * W + x``.
        width: static ``W``.

    Returns:
        ``(grid, crushed bool [], diamonds int32 [])``; ``diamonds`` counts as miner.cpp does
        (a diamond that rolls right is counted twice), so only its being zero is meaningful.
    """
    cells = width * width
    pad = width + 1  # every neighbour index of a real cell lands inside the padded array
    g = jnp.concatenate(
        [jnp.full((pad,), OUT, jnp.uint8), grid.astype(jnp.uint8), jnp.full((pad,), OUT, jnp.uint8)]
    )

    def read(g, i):
        return jax.lax.dynamic_index_in_dim(g, i, keepdims=False)

    def write(g, i, v):
        return jax.lax.dynamic_update_index_in_dim(g, v.astype(jnp.uint8), i, 0)

    def body(idx, carry):
        g, crushed, count = carry
        i = idx + pad
        obj, below = read(g, i), read(g, i - width)
        left, right = read(g, i - 1), read(g, i + 1)
        below_left, below_right = read(g, i - width - 1), read(g, i - width + 1)
        x = idx % width
        moving = (obj == MOVING_BOULDER) | (obj == MOVING_DIAMOND)
        stat = jnp.where(moving, obj - 2, obj)
        count = count + (stat == DIAMOND).astype(jnp.int32)
        is_obj = (obj >= BOULDER) & (obj <= MOVING_DIAMOND)
        agent_below = agent_index == idx - width
        on_round = (below >= BOULDER) & (below <= MOVING_DIAMOND)

        def free(v, j):
            return (v == SPACE) & (agent_index != j)

        fall = is_obj & (below == SPACE) & ~agent_below
        crush = is_obj & ~fall & agent_below & moving
        rest = is_obj & ~fall & ~crush
        roll_l = rest & on_round & (x > 0) & free(left, idx - 1) & free(below_left, idx - width - 1)
        roll_r = (
            rest
            & ~roll_l
            & on_round
            & (x < width - 1)
            & free(right, idx + 1)
            & free(below_right, idx - width + 1)
        )
        g = write(g, i - width, jnp.where(fall, stat + 2, below))
        g = write(g, i - 1, jnp.where(roll_l, stat, left))
        g = write(g, i + 1, jnp.where(roll_r, stat, right))
        g = write(g, i, jnp.where(fall | roll_l | roll_r, SPACE, jnp.where(is_obj, stat, obj)))
        return g, crushed | crush, count

    carry = (g, jnp.zeros((), jnp.bool_), jnp.zeros((), jnp.int32))
    # Unrolling a row lets XLA fuse the cells' small selects into fewer kernels.
    g, crushed, count = jax.lax.fori_loop(0, cells, body, carry, unroll=_UNROLL or width)
    return g[pad : pad + cells], crushed, count

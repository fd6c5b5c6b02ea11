"""What every Procgen mover shares: ``basic-abstract-game.cpp``'s ``basic_step_object`` loop,
its ``sub_step`` against blocking cells, the box overlap test and the sub-step order.

Coordinates are Procgen's: world units (one tile = 1), ``x`` to the right, ``y`` *up*; tile
``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``; a mover is the box
``[x - rx, x + rx] x [y - ry, y + ry]`` and moves by ``(vx, vy)`` world units per step.

One step (:func:`basic_step`):

1. ``n`` sub-steps of ``v / n``; in each an x move and a y move, in the order
   :func:`x_moves_first` gives.
2. A move (:func:`sub_step`) tests the four corners of the moved box, shrunk to
   :data:`CORNER_MARGIN` of its half-sizes, against blocking cells; if one blocks, the leading
   edge snaps to the cell boundary. A move counts as horizontal when its x part is non-zero, so
   a zero move is a (no-op) vertical one, as in the C++ code.
3. Optionally a game's entities act on the mover after each move (:data:`PushFn`, Procgen's
   ``is_blocked_ents`` + ``push_obj``): heist's locks push it back to touching
   (:func:`~gsl_jax.envs.procgen.movement.topdown.push_out`), coinrun's crates catch it from
   above (:func:`~gsl_jax.envs.procgen.movement.platformer.catch_on_platform`). A hit counts as
   a blocked move.
4. The loop stops once both moves of a sub-step are blocked; then each velocity component is
   multiplied by the fraction of the ``n`` sub-steps whose move on that axis was *not* blocked.

All arithmetic is float32 elementwise ``jax.numpy`` on fixed shapes, so it is deterministic,
jits, and nests under ``vmap``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct

#: basic-abstract-game.cpp ``sub_step``: corners are tested at 98% of the half-sizes, so a mover
#: that touches a wall exactly is not blocked by it.
CORNER_MARGIN = 0.98
#: basic-abstract-game.cpp ``POS_EPS``: entity overlaps are tested with the box sums shrunk by
#: 0.001.
POS_EPS = -0.001

#: ``(px, py) -> blocked``: whether the cell under world point(s) ``(px, py)`` blocks movement
#: (float32 arrays of any equal shape in, bool out).
BlockedFn = Callable[[jax.Array, jax.Array], jax.Array]
#: ``(col, row) -> bool``: a per-tile predicate over int32 arrays of equal shape.
TileFn = Callable[[jax.Array, jax.Array], jax.Array]
#: ``(x, y, vx, vy, horizontal) -> (x, y, vx, vy, hit)``, all ``[]``: what a game's entities
#: do to the mover after one move (``horizontal``: the move was along x); ``hit`` counts as a
#: blocked move.
PushFn = Callable[
    [jax.Array, jax.Array, jax.Array, jax.Array, jax.Array],
    tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array],
]


class Moved(struct.PyTreeNode):
    """What :func:`basic_step` returns, all ``[]``.

    Attributes:
        x, y, vx, vy: float32 position and velocity after the step.
        blocked_x, blocked_y: bool, some x (y) move of the step was blocked.
        pushed: bool, the :data:`PushFn` hit in some move.
    """

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array
    blocked_x: jax.Array
    blocked_y: jax.Array
    pushed: jax.Array


def tile_index(coord: jax.Array) -> jax.Array:
    """int32 tile index of a float world coordinate (``floor``; Procgen's
    ``get_obj_from_floats``)."""
    return jnp.floor(coord).astype(jnp.int32)


def tile_points(solid: TileFn) -> BlockedFn:
    """The :data:`BlockedFn` of a per-tile predicate: a point blocks when its tile is solid."""

    def blocked(px: jax.Array, py: jax.Array) -> jax.Array:
        return solid(tile_index(px), tile_index(py))

    return blocked


def box_overlap(
    x: jax.Array,
    y: jax.Array,
    rx: float | jax.Array,
    ry: float | jax.Array,
    ox: jax.Array,
    oy: jax.Array,
    orx: float | jax.Array,
    ory: float | jax.Array,
    margin: float | jax.Array = 0.0,
) -> jax.Array:
    """bool, broadcast shape: the boxes overlap strictly (Procgen's ``has_collision``:
    ``|dx| < rx + orx + margin`` and ``|dy| < ry + ory + margin``; boxes that only touch do
    not overlap)."""
    return (jnp.abs(x - ox) < (rx + orx) + margin) & (jnp.abs(y - oy) < (ry + ory) + margin)


def x_moves_first(
    vx: jax.Array, vy: jax.Array, action_vx: jax.Array, action_vy: jax.Array, tie: jax.Array
) -> jax.Array:
    """bool ``[]``: whether each sub-step moves x before y (``basic_step_object`` for the
    player): a vertical action means y first, else a horizontal one means x first, else the
    faster axis first, and ``tie`` (bool ``[]``; Procgen draws it at random) on an exact tie
    ``|vx| == |vy|``."""
    cmp = jnp.abs(vx) - jnp.abs(vy)
    x_first = jnp.where(cmp == 0, tie, cmp > 0)
    x_first = jnp.where(action_vx != 0, True, x_first)
    return jnp.where(action_vy != 0, False, x_first)  # checked last in the C++ code: it wins


def sub_step(
    x: jax.Array,
    y: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    dx: jax.Array,
    dy: jax.Array,
    blocked_at: BlockedFn,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Procgen's ``sub_step`` against blocking cells: move by ``(dx, dy)`` (one of them 0).

    The move counts as horizontal when ``dx != 0``. If any corner of the moved box, shrunk to
    :data:`CORNER_MARGIN`, lies in a blocking cell, the leading edge snaps to the cell boundary:
    moving right ``x = floor(x + rx) - rx``, left ``x = ceil(x - rx) + rx``, and the same on y.

    Returns:
        ``(x, y, blocked)``, all ``[]``.
    """
    nx, ny = x + dx, y + dy
    x0, x1 = nx - rx * CORNER_MARGIN, nx + rx * CORNER_MARGIN
    y0, y1 = ny - ry * CORNER_MARGIN, ny + ry * CORNER_MARGIN
    # Four elementwise tests rather than a reduction over stacked corners: XLA fuses them
    # with everything around (a reduction would start a new loop), which compiles faster.
    block = blocked_at(x0, y0) | blocked_at(x0, y1) | blocked_at(x1, y0) | blocked_at(x1, y1)
    horizontal = dx != 0
    snap_x = jnp.where(dx > 0, jnp.floor(nx + rx) - rx, jnp.ceil(nx - rx) + rx)
    snap_y = jnp.where(dy > 0, jnp.floor(ny + ry) - ry, jnp.ceil(ny - ry) + ry)
    nx = jnp.where(block & horizontal, snap_x, nx)
    ny = jnp.where(block & ~horizontal, snap_y, ny)
    return nx, ny, block


def basic_step(
    x: jax.Array,
    y: jax.Array,
    vx: jax.Array,
    vy: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    x_first: jax.Array,
    blocked_at: BlockedFn,
    substeps: int | jax.Array = 4,
    max_substeps: int | None = None,
    push: PushFn | None = None,
    loop: bool = False,
) -> Moved:
    """Procgen's ``basic_step_object`` for a smart-stepping mover (see the module docstring).

    Args:
        x, y, vx, vy: float32 ``[]`` the mover's centre and (new) velocity.
        rx, ry: float32 ``[]`` its half-sizes.
        x_first: bool ``[]`` from :func:`x_moves_first`.
        blocked_at: the blocking cells.
        substeps: ``n``, Procgen's ``max(4, int(4 |v|))``: a Python int (a static count, for
            movers that are never faster than 1.25, for which it is always 4) or an int32
            ``[]`` array (a platformer's jumps are faster), then at most ``max_substeps``.
        max_substeps: the static loop length when ``substeps`` is an array.
        push: the game's entities (:data:`PushFn`), or None.
        loop: run the sub-steps in a ``lax.fori_loop`` rather than unrolled (same results; an
            array ``substeps`` always loops). XLA:CPU fuses an unrolled chain of sub-steps into
            one kernel that recomputes every position for each later use, which blows up when
            ``blocked_at`` is more than a few comparisons: with heist's tile lookups and locks
            the unrolled step ran about 170x slower than the loop.
    """
    static = isinstance(substeps, int)
    if static:
        trips, frac = substeps, 1.0 / substeps
    else:
        if max_substeps is None:
            raise ValueError("max_substeps: needed when substeps is an array")
        trips, frac = max_substeps, jnp.float32(1.0) / substeps.astype(jnp.float32)
        loop = True

    def move(px, py, mvx, mvy, along_x):
        # One move on x (``along_x``) or y with the current velocity, then the entities.
        zero = jnp.zeros_like(mvx)
        dx = jnp.where(along_x, mvx * frac, zero)
        dy = jnp.where(along_x, zero, mvy * frac)
        px, py, block = sub_step(px, py, rx, ry, dx, dy, blocked_at)
        hit = jnp.zeros((), jnp.bool_)
        if push is not None:
            px, py, mvx, mvy, hit = push(px, py, mvx, mvy, dx != 0)
        return px, py, mvx, mvy, block | hit, hit

    def substep(s, carry: tuple) -> tuple:
        x, y, vx, vy, free_x, free_y, any_x, any_y, pushed, running = carry
        # Sub-steps past a dynamic ``n`` change nothing.
        active = running if static else running & (s < substeps)
        ax, ay, avx, avy, b1, hit1 = move(x, y, vx, vy, x_first)
        bx, by, bvx, bvy, b2, hit2 = move(ax, ay, avx, avy, ~x_first)
        block_x = jnp.where(x_first, b1, b2)
        block_y = jnp.where(x_first, b2, b1)
        x = jnp.where(active, bx, x)
        y = jnp.where(active, by, y)
        if push is not None:  # without entities the velocity only changes after the loop
            vx = jnp.where(active, bvx, vx)
            vy = jnp.where(active, bvy, vy)
        return (
            x,
            y,
            vx,
            vy,
            free_x + (active & ~block_x),
            free_y + (active & ~block_y),
            any_x | (active & block_x),
            any_y | (active & block_y),
            pushed | (active & (hit1 | hit2)),
            running & ~(block_x & block_y),
        )

    zeros, false = jnp.zeros((), jnp.int32), jnp.zeros((), jnp.bool_)
    carry = (x, y, vx, vy, zeros, zeros, false, false, false, jnp.ones((), jnp.bool_))
    if loop:
        carry = jax.lax.fori_loop(0, trips, substep, carry)
    else:
        for s in range(trips):
            carry = substep(s, carry)
    x, y, vx, vy, free_x, free_y, any_x, any_y, pushed, _ = carry
    fx, fy = free_x.astype(jnp.float32), free_y.astype(jnp.float32)
    if static:
        vx, vy = vx * fx * frac, vy * fy * frac
    else:
        # The same rounding as before the two movers shared this loop: the fraction first.
        nf = substeps.astype(jnp.float32)
        vx, vy = vx * (fx / nf), vy * (fy / nf)
    return Moved(x, y, vx, vy, any_x, any_y, pushed)

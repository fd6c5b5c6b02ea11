"""Free-moving entities for the JAX Procgen games: fixed-capacity pools, overlap tests and a
span rasteriser that draws entities onto a 64x64 frame. (How entities move is
:mod:`gsl_jax.envs.procgen.movement`.)

Procgen's ``BasicAbstractGame`` keeps its entities in a ``std::vector`` that grows and shrinks.
Under ``jit`` shapes are static, so an :class:`EntityPool` stores ``N`` slots with an ``alive``
mask: :func:`spawn` fills the first free slot (and does nothing when the pool is full),
:func:`remove` clears slots. Everything here is elementwise ``jax.numpy`` over the slot axis, so
it nests under ``vmap`` over envs and over a population axis.

Coordinates follow Procgen (``basic-abstract-game.cpp``, ``entity.cpp``): world units, ``x`` to the
right and ``y`` *up*; an entity is the box ``[x - rx, x + rx] x [y - ry, y + ry]``. Only the
drawing code (:class:`View`) flips to image rows.

Pool updates and queries (rules from ``basic-abstract-game.cpp``, ``entity.cpp``):

* :func:`move` is ``Entity::step`` for entities without smart stepping: ``x += vx, y += vy``.
* :func:`box_overlap` is ``has_collision`` (strict box overlap with a margin) against every
  live slot; :func:`out_of_bounds` is ``is_out_of_bounds`` (entirely outside the world).

Drawing: an entity is drawn as a *profile*, a shape given for every image row by one horizontal
interval, e.g. an ellipse or a fish with a forked tail (:func:`ellipse_profile`,
:func:`fish_profile`). :func:`profile_spans` turns entities into ``(left, width, colour)`` per
pixel row. :func:`paint_each` paints entities one at a time, in slot order (later ones on top),
each as one pass of narrow uint8 operations over the canvas, asking for an entity's spans inside
the loop; it stops after a given count, so with :func:`last_live` the free slots past the last
live one cost nothing (free slots before it are painted as empty spans).
:func:`paint_spans` paints precomputed spans of every slot the same way. :func:`colourise` maps
the entries to RGB with one gather from the level's palette, as ``render.TileRenderer`` does.
The cost of a frame grows linearly with the number of slots painted.

Helpers: :func:`sort_rows` orders per-entity feature rows (e.g. nearest first, for compact
observations); :func:`materialize` makes XLA:CPU compute an array once instead of recomputing it
in every consumer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.procgen.movement import box_overlap as boxes_overlap
from gsl_jax.envs.procgen.render import FRAME_SIZE

#: ``v -> (rear, front)``: a profile's extent along the facing axis for row height ``v``.
ProfileFn = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


# --------------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------------
@struct.dataclass
class EntityPool:
    """``N`` entity slots (all fields ``[N]``); a slot is in use where ``alive`` is True.

    Attributes:
        x, y: float32 centre (world units, y up).
        vx, vy: float32 velocity (world units per step).
        rx, ry: float32 half-width and half-height of the entity's box.
        kind: int32 game-defined look or type (e.g. a sprite theme).
        alive: bool, the slot holds an entity. Fields of free slots are meaningless.
    """

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array
    rx: jax.Array
    ry: jax.Array
    kind: jax.Array
    alive: jax.Array

    @classmethod
    def empty(cls, capacity: int) -> EntityPool:
        """A pool of ``capacity`` free slots."""
        if capacity < 1:
            raise ValueError(f"capacity: must be positive, got {capacity}")
        f = jnp.zeros(capacity, jnp.float32)
        return cls(f, f, f, f, f, f, jnp.zeros(capacity, jnp.int32), jnp.zeros(capacity, bool))

    @property
    def capacity(self) -> int:
        return self.alive.shape[-1]


def spawn(
    pool: EntityPool,
    when: jax.Array,
    x: jax.Array,
    y: jax.Array,
    vx: jax.Array,
    vy: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    kind: jax.Array,
) -> tuple[EntityPool, jax.Array]:
    """Put a new entity into the first free slot of ``pool`` if ``when`` (bool ``[]``).

    All entity fields are scalars ``[]``. When the pool is full nothing is spawned (Procgen's
    vector would grow; pick a capacity the game cannot plausibly exceed).

    Returns:
        ``(pool, spawned)``: the updated pool and bool ``[]``, whether an entity was added.
    """
    free = ~pool.alive
    slot = jnp.argmax(free)  # the first free slot (0 when none is free; then ``free[0]`` is False)
    spawned = jnp.asarray(when, bool) & free[slot]
    # A one-hot select per field rather than ``.at[slot].set``: under vmap a batch-dependent
    # index becomes a scatter, the select stays elementwise.
    hot = spawned & (jnp.arange(pool.capacity) == slot)

    def put(field: jax.Array, value: jax.Array) -> jax.Array:
        return jnp.where(hot, jnp.asarray(value, field.dtype), field)

    pool = EntityPool(
        x=put(pool.x, x),
        y=put(pool.y, y),
        vx=put(pool.vx, vx),
        vy=put(pool.vy, vy),
        rx=put(pool.rx, rx),
        ry=put(pool.ry, ry),
        kind=put(pool.kind, kind),
        alive=pool.alive | hot,
    )
    return pool, spawned


def remove(pool: EntityPool, mask: jax.Array) -> EntityPool:
    """Free the slots where ``mask`` (bool ``[N]``) is True."""
    return pool.replace(alive=pool.alive & ~mask)


def move(pool: EntityPool) -> EntityPool:
    """``Entity::step`` for entities without smart stepping (friction 1): ``x += vx``,
    ``y += vy`` for every live slot."""
    return pool.replace(
        x=jnp.where(pool.alive, pool.x + pool.vx, pool.x),
        y=jnp.where(pool.alive, pool.y + pool.vy, pool.y),
    )


def box_overlap(
    pool: EntityPool,
    x: jax.Array,
    y: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    margin: float | jax.Array = 0.0,
) -> jax.Array:
    """bool ``[N]``: live entities whose box overlaps the box centred at ``(x, y)`` with
    half-sizes ``(rx, ry)``.

    Procgen's ``has_collision``: ``|dx| < rx_a + rx_b + margin`` and ``|dy| < ry_a + ry_b +
    margin`` (strict, so boxes that only touch do not overlap).
    """
    return pool.alive & boxes_overlap(pool.x, pool.y, pool.rx, pool.ry, x, y, rx, ry, margin)


def out_of_bounds(pool: EntityPool, width: float, height: float) -> jax.Array:
    """bool ``[N]``: live entities entirely outside the ``width x height`` world (Procgen's
    ``is_out_of_bounds``; a box that only touches the border is still inside)."""
    outside = (
        (pool.x + pool.rx < 0)
        | (pool.y + pool.ry < 0)
        | (pool.x - pool.rx > width)
        | (pool.y - pool.ry > height)
    )
    return pool.alive & outside


def sort_rows(rows: jax.Array, key: jax.Array) -> jax.Array:
    """``rows`` (``[N, F]``) ordered by ascending ``key`` (``[N]``), ties by slot.

    For observations that list entities nearest first. Ranks come from an ``N x N`` comparison
    and the rows move with a permutation matrix product: on XLA:CPU under ``vmap`` this is about
    twice as fast as ``argsort`` plus a gather at ``N = 32``. ``key`` may hold ``inf`` (e.g. for
    free slots, which then come last in slot order).
    """
    n = key.shape[0]
    slot = jnp.arange(n)
    before = (key[None, :] < key[:, None]) | (
        (key[None, :] == key[:, None]) & (slot[None, :] < slot[:, None])
    )
    rank = jnp.sum(before, axis=1)  # [N]: how many rows come before row i
    perm = (rank[None, :] == slot[:, None]).astype(rows.dtype)  # perm[k, i]: row i goes to k
    return jnp.matmul(perm, rows, precision=jax.lax.Precision.HIGHEST)


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """The map from world coordinates to a ``size x size`` frame.

    Procgen's ``prepare_for_drawing`` with ``center_agent`` off shows the whole world: the view
    spans ``view_dim = max(width, height)`` world units, one unit is ``size / view_dim`` pixels,
    and the view is centred on the world's centre. Pixel column ``c`` shows world
    ``x = x0 + (c + 0.5) / unit`` and row ``r`` (row 0 at the top) world
    ``y = y0 - (r + 0.5) / unit``.
    """

    unit: float
    x0: float
    y0: float
    size: int = FRAME_SIZE

    @classmethod
    def whole_world(cls, width: float, height: float, size: int = FRAME_SIZE) -> View:
        view_dim = float(max(width, height))
        unit = size / view_dim
        # Left edge and top edge of the view, in world units (y up).
        x0 = width / 2 - view_dim / 2
        y0 = height / 2 + view_dim / 2
        return cls(unit=unit, x0=x0, y0=y0, size=size)

    def row_y(self) -> np.ndarray:
        """float32 ``[size]``: world y of every pixel row's centre."""
        return (self.y0 - (np.arange(self.size) + 0.5) / self.unit).astype(np.float32)

    def col_x(self) -> np.ndarray:
        """float32 ``[size]``: world x of every pixel column's centre."""
        return (self.x0 + (np.arange(self.size) + 0.5) / self.unit).astype(np.float32)


def ellipse_profile(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """An ellipse filling the box: rows at height ``v`` (in ``[-1, 1]``) span
    ``[-s, s]`` with ``s = sqrt(1 - v^2)``."""
    s = jnp.sqrt(jnp.maximum(1.0 - v * v, 0.0))
    return -s, s


def fish_profile(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A fish facing ``+u`` that fills its box: a lens-shaped body (centre ``u = 0.15``,
    half-length 0.85, half-height 0.7) and a triangular tail whose fins reach the box's rear
    corners, with a forked notch 0.2 deep.

    Each row is one interval, so in rows crossed by both the body and a fin the gap between
    them is filled; the fins show as the corners that stick out above and below the body. The
    body's outline is a parabola rather than an ellipse: no square root, and at these sizes
    (at most 13 pixels long) the difference is a pixel here and there.
    Returns ``(rear, front)`` in box units (``-1`` rear edge, ``+1`` nose) for row height ``v``
    in ``[-1, 1]``.
    """
    a = jnp.abs(v)
    s = 1.0 - v * v * (1.0 / 0.49)  # body half-length factor, > 0 for |v| < 0.7
    body = s > 0
    # Tail: a triangle from the joint (u = -0.45, v = 0) to the rear corners (-1, +-1).
    tail_front = -0.45 - 0.55 * a
    tail_rear = -0.8 - 0.2 * a
    front = jnp.where(body, 0.15 + 0.85 * s, tail_front)
    rear = jnp.minimum(jnp.where(body, 0.15 - 0.85 * s, tail_rear), tail_rear)
    return rear, front


def profile_spans(
    view: View,
    x: jax.Array,
    y: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    facing_right: jax.Array,
    visible: jax.Array,
    entry: jax.Array,
    profile: ProfileFn = ellipse_profile,
    top_entry: jax.Array | None = None,
    top_from: float = 0.3,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per pixel row, the run of pixels each entity covers and the palette entry it paints.

    Entity ``i`` covers pixel ``(r, c)`` when row ``r``'s centre lies in its box and column
    ``c``'s centre lies inside the profile's interval for that row (mirrored when the entity
    faces left).

    Args:
        view: the world-to-frame map.
        x, y, rx, ry: float32 ``[N]`` entity boxes (world units).
        facing_right: bool ``[N]``; the profile's ``+u`` points right where True.
        visible: bool ``[N]``; invisible entities get empty spans.
        entry: uint8 ``[N]`` palette entry of each entity.
        profile: the shape (see :data:`ProfileFn`).
        top_entry: optional uint8 ``[N]`` entry of the rows above height ``top_from`` (box
            units, ``+1`` is the top edge), e.g. a darker back.
        top_from: see ``top_entry``.

    Returns:
        ``(left, width, entry)``: uint8 ``[N, size]`` first covered column, number of covered
        columns (0 where the row misses the entity) and palette entry, per row; the input of
        :func:`paint_spans`. (All uint8: these arrays are written once and read per pixel.)
    """
    # Per-entity scalars first, so the [N, size] part is a few fused multiply-adds per row.
    inv_ry = 1.0 / ry
    rows = jnp.asarray(view.row_y())
    v = rows[None, :] * inv_ry[:, None] - (y * inv_ry)[:, None]
    rear, front = profile(v)
    # Pixel column c is covered when c + 0.5 lies in [lo, hi) (pixel units), i.e. when
    # ceil(lo - 0.5) <= c < ceil(hi - 0.5).
    centre = ((x - view.x0) * view.unit - 0.5)[:, None]
    half = (rx * view.unit)[:, None]
    right = facing_right[:, None]
    lo = centre + half * jnp.where(right, rear, -front)
    hi = centre + half * jnp.where(right, front, -rear)
    first = jnp.clip(jnp.ceil(lo), 0, view.size)
    stop = jnp.clip(jnp.ceil(hi), 0, view.size)
    inside = visible[:, None] & (jnp.abs(v) <= 1.0)
    width = jnp.where(inside, jnp.maximum(stop - first, 0), 0)
    colour = jnp.broadcast_to(jnp.asarray(entry, jnp.uint32)[:, None], v.shape)
    if top_entry is not None:
        colour = jnp.where(v > top_from, jnp.asarray(top_entry, jnp.uint32)[:, None], colour)
    # Pack the three results into one uint32 per row and materialise it: XLA:CPU otherwise
    # emits one loop per result and recomputes the whole profile in each (measured 2x slower).
    packed = first.astype(jnp.uint32) | (width.astype(jnp.uint32) << 8) | (colour << 16)
    packed = materialize(packed)
    return (
        (packed & 0xFF).astype(jnp.uint8),
        ((packed >> 8) & 0xFF).astype(jnp.uint8),
        (packed >> 16).astype(jnp.uint8),
    )


SpansFn = Callable[[jax.Array], tuple[jax.Array, jax.Array, jax.Array]]
"""``spans_of(i) -> (left, width, entry)``: entity ``i``'s uint8 ``[S]`` spans (one value per
pixel row, as one row of :func:`profile_spans`' outputs)."""


def paint_each(canvas: jax.Array, count: jax.Array | int, spans_of: SpansFn) -> jax.Array:
    """Paint entities ``0 .. count - 1`` onto ``canvas`` in order (later ones on top), asking
    ``spans_of(i)`` for entity ``i``'s spans inside the loop.

    Computing the spans in the loop means entities past ``count`` cost nothing: under ``vmap``
    the loop runs to the batch's largest ``count``, and bigfish, whose pool is mostly free slots,
    paints 25% faster than from spans precomputed for every slot.

    Args:
        canvas: uint8 ``[S, S]`` palette entries.
        count: int32 ``[]`` (or a Python int) number of entities to paint.
        spans_of: see :data:`SpansFn`.

    Returns:
        uint8 ``[S, S]``. ``(c - left) < width`` in wrapping uint8 arithmetic is one unsigned
        compare per pixel and entity (columns left of the span wrap to large values). The loop
        over entities is a ``fori_loop``: one simple pass over the canvas per entity. Unrolled,
        XLA:CPU fused all entities into one pass whose every pixel re-read all ``3 N`` row
        values, which made bigfish's pixel step about 4x slower.
    """
    size = canvas.shape[-1]
    cols = jnp.arange(size, dtype=jnp.uint8)[None, :]

    def paint_one(i, canvas):
        left, width, entry = spans_of(i)
        covered = (cols - left[:, None]) < width[:, None]
        return jnp.where(covered, entry[:, None], canvas)

    return jax.lax.fori_loop(0, count, paint_one, canvas)


def paint_spans(
    canvas: jax.Array, left: jax.Array, width: jax.Array, entry: jax.Array
) -> jax.Array:
    """Paint the precomputed spans of ``N`` entities onto ``canvas``, entity 0 first (later
    ones on top); :func:`paint_each` with ``spans_of(i) = (left[i], width[i], entry[i])``.

    Args:
        canvas: uint8 ``[S, S]`` palette entries (e.g. the background pattern).
        left, width: uint8 ``[N, S]`` from :func:`profile_spans`.
        entry: uint8 ``[N, S]`` the palette entry each entity paints on each row.

    Returns:
        uint8 ``[S, S]``.
    """
    return paint_each(canvas, left.shape[0], lambda i: (left[i], width[i], entry[i]))


def last_live(alive: jax.Array) -> jax.Array:
    """int32 ``[]``: one past the highest live slot of a bool ``[N]`` mask (0 if none), the
    ``count`` for :func:`paint_each` of a pool whose free slots paint nothing."""
    slots = jnp.arange(1, alive.shape[0] + 1, dtype=jnp.int32)
    return jnp.max(jnp.where(alive, slots, 0))


def materialize(x: jax.Array) -> jax.Array:
    """``x`` unchanged, computed once into its own buffer.

    XLA:CPU fuses cheap elementwise producers into every consumer, recomputing them per use; a
    reduction cannot be fused into its consumers, so a max over the pair ``(x, 0)`` forces one
    buffer. (``jax.lax.optimization_barrier`` does not survive XLA:CPU's pipeline.) For
    unsigned or non-negative ``x`` only.
    """
    return jnp.max(jnp.stack([x, jnp.zeros_like(x)], axis=-1), axis=-1)


def colourise(canvas: jax.Array, palette: jax.Array) -> jax.Array:
    """RGB frame uint8 ``[S, S, 3]`` of a canvas of palette entries (uint8 ``[S, S]``) with
    ``palette`` uint8 ``[K, 3]``: one gather per pixel, as ``render.TileRenderer`` does.

    (A chain of uint8 selects, one per entry, and materialising the canvas first were measured
    as well: no faster once the painting is fused in.)
    """
    return palette[canvas]

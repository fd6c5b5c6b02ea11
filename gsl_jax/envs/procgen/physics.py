"""Platformer physics for the JAX Procgen games: gravity, jumps, horizontal acceleration with
ground and air control, axis-separated collision of a box against a solid tile grid, one-way
platforms, ground detection and patrolling walkers.

Rules from openai/procgen ``src/basic-abstract-game.cpp`` (``basic_step_object``, ``sub_step``,
``push_obj``, ``has_collision``) and ``src/games/coinrun.cpp`` (``update_agent_velocity``,
``set_action_xy``, ``is_blocked_ents`` for crates); our own code.

Coordinates are Procgen's: world units (one tile = 1), ``x`` to the right, ``y`` *up*; tile
``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``. A body is the box
``[x - rx, x + rx] x [y - ry, y + ry]`` and moves by ``(vx, vy)`` world units per step.

The level is given as functions, not arrays, so a game can store its tiles however it likes
(a dense grid, or per-column parameters as coinrun does):

* :data:`TileFn` ``(col, row) -> bool`` over int32 arrays of any (equal) shape, e.g. "solid".
  Out-of-world tiles must answer as the game wants (Procgen: solid for the platformers).

One step of a body (:func:`step_body`) is Procgen's ``basic_step_object``:

1. ``n = max(4, int(4 |v|))`` sub-steps of ``v / n``; in each, an x move and a y move
   (order per :func:`x_moves_first`).
2. A move (:func:`sub_step`) tests the four corners of the moved box, shrunk to 98% of its
   half-sizes, against solid tiles; if one is solid the leading edge snaps to the tile boundary.
   A move counts as horizontal when its x part is non-zero, so a zero move is a (no-op)
   vertical one, as in the C++ code.
3. Vertical moves also test one-way platforms (coinrun's crates): a platform tile overlapped by
   more than ``0.001`` stops a body that is falling, is not dropping through (DOWN held), and
   stood entirely above the tile at the start of the step; the body is put on top of it and its
   ``vy`` set to 0 (Procgen's ``push_obj``).
4. The loop stops once both moves of a sub-step are blocked; then each velocity component is
   multiplied by the fraction of its moves that were *not* blocked. (So a body that lands keeps a
   small downward ``vy`` for one more step; :func:`grounded` requires ``vy == 0``.)

All arithmetic is float32 elementwise ``jax.numpy`` on fixed shapes (the sub-step loop runs to
its static maximum length, masked past ``n``), so it is deterministic, jits, and nests under
``vmap``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

#: ``(col, row) -> bool``: a per-tile predicate over int32 arrays of equal shape.
TileFn = Callable[[jax.Array, jax.Array], jax.Array]

#: basic-abstract-game.cpp ``sub_step``: corners are tested at 98% of the half-sizes, so a body
#: that touches a wall exactly is not blocked by it.
CORNER_MARGIN = 0.98
#: basic-abstract-game.cpp ``POS_EPS``: overlaps are tested with the box sums shrunk by 0.001.
POS_EPS = -0.001


@dataclass(frozen=True)
class PlatformerParams:
    """Constants of a platformer body (defaults: coinrun.cpp ``game_reset`` and constructor).

    Attributes:
        gravity: downward acceleration per step.
        max_jump: the vertical speed a jump sets, and the cap on ``|vy|``.
        maxspeed: the horizontal speed a held direction converges to.
        mixrate: fraction of the way to ``maxspeed * action`` the velocity moves per step on
            the ground.
        air_control: multiplier on ``mixrate`` in the air.
        rx, ry: half-width and half-height of the body's box.
        support_probe: how far below the feet (and inside the side edges) the ground test looks
            (coinrun.cpp ``set_action_xy``: ``0.01``).
        down_push: added to ``vy`` when DOWN is held on the ground (coinrun: ``0.2``).
    """

    gravity: float = 0.2
    max_jump: float = 1.5
    maxspeed: float = 0.5
    mixrate: float = 0.2
    air_control: float = 0.15
    rx: float = 0.5
    ry: float = 0.5787
    support_probe: float = 0.01
    down_push: float = 0.2

    def __post_init__(self) -> None:
        for name in ("gravity", "max_jump", "maxspeed", "mixrate", "rx", "ry"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        if self.rx > 0.5:
            # One-way platform tests look at the two tile columns a narrow body can overlap.
            raise ValueError(f"rx: at most 0.5 (one tile wide) is supported, got {self.rx}")

    @property
    def max_substeps(self) -> int:
        """The largest ``max(4, int(4 |v|))`` a body can need: ``|vx| <= maxspeed`` and
        ``|vy| <= max_jump``."""
        return max(4, int(4 * math.sqrt(self.maxspeed**2 + self.max_jump**2)))

    @property
    def jump_height(self) -> float:
        """Rise of the feet from a jump off flat ground to its apex under :func:`step_body`:
        ``vy`` takes the values ``max_jump, max_jump - g, ...`` while positive."""
        steps = math.ceil(self.max_jump / self.gravity - 1e-6)
        return sum(self.max_jump - k * self.gravity for k in range(steps))


@struct.dataclass
class Body:
    """A moving box: float32 ``[]`` centre ``(x, y)`` and velocity ``(vx, vy)``."""

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array

    @classmethod
    def at(cls, x: float | jax.Array, y: float | jax.Array) -> Body:
        """A body at rest at ``(x, y)``."""
        zero = jnp.zeros((), jnp.float32)
        return cls(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), zero, zero)


class StepResult(struct.PyTreeNode):
    """What :func:`step_body` returns.

    Attributes:
        body: the body after the step.
        blocked_x, blocked_y: bool ``[]``, some x (y) move of the step was blocked.
        on_platform: bool ``[]``, a one-way platform caught the body this step (coinrun's
            ``is_on_crate``, which counts as ground on the next step).
    """

    body: Body
    blocked_x: jax.Array
    blocked_y: jax.Array
    on_platform: jax.Array


def tile_index(coord: jax.Array) -> jax.Array:
    """int32 tile index of a float world coordinate (``floor``; Procgen's
    ``get_obj_from_floats``)."""
    return jnp.floor(coord).astype(jnp.int32)


# --------------------------------------------------------------------------------------------
# Controls
# --------------------------------------------------------------------------------------------
def grounded(
    body: Body, params: PlatformerParams, solid: TileFn, on_platform: jax.Array
) -> jax.Array:
    """bool ``[]``: the body stands on something and can jump (coinrun.cpp ``set_action_xy``).

    True when ``vy == 0`` and either a one-way platform caught it on the previous step
    (``on_platform``) or a solid tile lies just below one of its feet: the points
    ``(x -+ (rx - probe), y - (ry + probe))``.
    """
    p = params.support_probe
    feet_x = jnp.stack([body.x - (params.rx - p), body.x + (params.rx - p)])
    feet_y = jnp.broadcast_to(body.y - (params.ry + p), (2,))
    below = jnp.any(solid(tile_index(feet_x), tile_index(feet_y)))
    return (on_platform | below) & (body.vy == 0)


def platformer_velocity(
    body: Body,
    action_vx: jax.Array,
    action_vy: jax.Array,
    support: jax.Array,
    params: PlatformerParams,
) -> Body:
    """The new velocity for a move (coinrun.cpp ``update_agent_velocity``).

    Horizontal: ``vx <- (1 - m) vx + m * maxspeed * action_vx`` with ``m = mixrate`` on the
    ground and ``mixrate * air_control`` in the air; ``|vx| < m * maxspeed`` snaps to 0.
    Vertical: UP on the ground (``action_vy > 0`` and ``support``) sets ``vy = max_jump`` and
    skips gravity this step (UP in the air does nothing); DOWN on the ground adds
    ``-down_push``; otherwise gravity subtracts ``gravity``, and ``|vy|`` is capped at
    ``max_jump``.

    Args:
        body: the body before the move.
        action_vx, action_vy: int32 ``[]`` in ``{-1, 0, 1}`` (y up).
        support: bool ``[]`` from :func:`grounded`.
        params: the body's constants.
    """
    f32 = jnp.float32
    m = jnp.where(support, f32(params.mixrate), f32(params.mixrate) * f32(params.air_control))
    vx = (1 - m) * body.vx + m * f32(params.maxspeed) * action_vx.astype(f32)
    vx = jnp.where(jnp.abs(vx) < m * f32(params.maxspeed), f32(0), vx)
    jump = support & (action_vy > 0)  # UP in the air does nothing (set_action_xy drops it)
    push = jnp.where(support & (action_vy < 0), -f32(params.down_push), f32(0))
    vy = jnp.where(jump, f32(params.max_jump), body.vy + push)
    fallen = jnp.clip(vy - f32(params.gravity), -params.max_jump, params.max_jump)
    vy = jnp.where(jump, vy, fallen)
    return body.replace(vx=vx, vy=vy)


def x_moves_first(body: Body, action_vx: jax.Array, action_vy: jax.Array) -> jax.Array:
    """bool ``[]``: whether each sub-step moves x before y (``basic_step_object`` for the
    player): a vertical action means y first, else a horizontal one means x first, else the
    faster axis first. (Procgen breaks an exact tie ``|vx| == |vy|`` at random; we move x first,
    which only matters for a non-zero tie, a float coincidence.)"""
    faster_x = jnp.abs(body.vx) >= jnp.abs(body.vy)
    return jnp.where(action_vy != 0, False, jnp.where(action_vx != 0, True, faster_x))


# --------------------------------------------------------------------------------------------
# Moving against tiles
# --------------------------------------------------------------------------------------------
def corners_blocked(
    x: jax.Array, y: jax.Array, params: PlatformerParams, solid: TileFn
) -> jax.Array:
    """bool ``[]``: a corner of the box at ``(x, y)``, shrunk to :data:`CORNER_MARGIN`, lies
    in a solid tile."""
    hx = jnp.float32(params.rx) * jnp.float32(CORNER_MARGIN)
    hy = jnp.float32(params.ry) * jnp.float32(CORNER_MARGIN)
    cols = tile_index(jnp.stack([x - hx, x + hx]))
    rows = tile_index(jnp.stack([y - hy, y + hy]))
    cols, rows = jnp.broadcast_arrays(cols[:, None], rows[None, :])
    return jnp.any(solid(cols, rows))


def sub_step(
    body: Body,
    dx: jax.Array,
    dy: jax.Array,
    params: PlatformerParams,
    solid: TileFn,
    platform: TileFn | None = None,
    last_y: jax.Array | None = None,
    dropping: jax.Array | None = None,
) -> tuple[Body, jax.Array, jax.Array]:
    """One move by ``(dx, dy)`` (one of them 0): Procgen's ``sub_step`` for the player.

    Args:
        body: the body; its ``vy`` decides whether a one-way platform may catch it.
        dx, dy: float32 ``[]`` displacement.
        params: the body's constants.
        solid: solid tiles (block from every side).
        platform: one-way platform tiles (full tiles that only catch a falling body), or None.
        last_y: float32 ``[]`` the body's ``y`` at the start of the step (needed with
            ``platform``).
        dropping: bool ``[]`` DOWN is held, so platforms let the body through.

    Returns:
        ``(body, blocked, caught)``: the moved body (``vy`` zeroed when a platform caught it),
        whether the move was blocked, and whether a platform caught the body.
    """
    nx, ny = body.x + dx, body.y + dy
    block = corners_blocked(nx, ny, params, solid)
    horizontal = dx != 0
    rx, ry = jnp.float32(params.rx), jnp.float32(params.ry)
    snap_x = jnp.where(dx > 0, jnp.floor(nx + rx) - rx, jnp.ceil(nx - rx) + rx)
    snap_y = jnp.where(dy > 0, jnp.floor(ny + ry) - ry, jnp.ceil(ny - ry) + ry)
    nx = jnp.where(block & horizontal, snap_x, nx)
    ny = jnp.where(block & ~horizontal, snap_y, ny)
    body = body.replace(x=nx, y=ny)
    caught = jnp.zeros((), jnp.bool_)
    if platform is not None:
        body, caught = _catch_on_platform(body, params, platform, last_y, dropping, ~horizontal)
    return body, block | caught, caught


def _catch_on_platform(
    body: Body,
    params: PlatformerParams,
    platform: TileFn,
    last_y: jax.Array,
    dropping: jax.Array,
    vertical: jax.Array,
) -> tuple[Body, jax.Array]:
    """coinrun.cpp ``is_blocked_ents`` for crates + ``push_obj``: a vertical move that leaves
    the body overlapping a platform tile (boxes overlap by more than 0.001) is stopped on top
    of it if the body is falling (``vy < 0``), not ``dropping``, and its feet were at or above
    the tile's top at the start of the step (``last_y >= top + ry``).

    A move is at most ``max_jump / 4`` long and the body was not overlapping a catching tile
    before it, so the only candidate row is the one under the feet, ``floor(y - ry + 0.001)``;
    the candidate columns are the (at most two) tiles within ``rx + 0.5`` of ``x``.
    """
    rx, ry = jnp.float32(params.rx), jnp.float32(params.ry)
    eps = jnp.float32(POS_EPS)
    row = tile_index(body.y - ry - eps)
    first = tile_index(body.x - rx - 1 - eps) + 1
    cols = jnp.stack([first, first + 1])
    rows = jnp.stack([row, row])
    centre_x = cols.astype(jnp.float32) + 0.5
    centre_y = rows.astype(jnp.float32) + 0.5
    overlap = (jnp.abs(body.x - centre_x) < (0.5 + rx) + eps) & (
        jnp.abs(body.y - centre_y) < (0.5 + ry) + eps
    )
    # The same float expression as the standing position below, so a body put on a platform
    # passes this test on the next step exactly.
    top = centre_y + 0.5 + ry
    catch = platform(cols, rows) & overlap & (last_y >= top)
    catch = catch & vertical & (body.vy < 0) & ~dropping
    caught = jnp.any(catch)
    # Several tiles can catch in one move only if they are level (a higher one would have
    # overlapped earlier), so the highest top is the one Procgen's push ends on.
    y = jnp.where(caught, jnp.max(jnp.where(catch, top, -jnp.inf)), body.y)
    vy = jnp.where(caught, jnp.float32(0), body.vy)
    return body.replace(y=y, vy=vy), caught


def _where(mask: jax.Array, a: Body, b: Body) -> Body:
    return jax.tree.map(lambda x, y: jnp.where(mask, x, y), a, b)


def num_substeps(body: Body, params: PlatformerParams) -> jax.Array:
    """int32 ``[]``: ``max(4, int(4 |v|))``, capped at ``params.max_substeps``."""
    speed = jnp.sqrt(body.vx * body.vx + body.vy * body.vy)
    n = jnp.floor(4 * speed).astype(jnp.int32)
    return jnp.clip(n, 4, params.max_substeps)


def step_body(
    body: Body,
    params: PlatformerParams,
    solid: TileFn,
    x_first: jax.Array,
    platform: TileFn | None = None,
    last_y: jax.Array | None = None,
    dropping: jax.Array | None = None,
) -> StepResult:
    """Move ``body`` by its velocity for one step (``basic_step_object``; see the module
    docstring).

    Args:
        body: the body with its new velocity (from :func:`platformer_velocity`).
        params: the body's constants.
        solid: solid tiles.
        x_first: bool ``[]`` from :func:`x_moves_first`.
        platform, last_y, dropping: one-way platforms, as in :func:`sub_step`.
    """
    if platform is not None and (last_y is None or dropping is None):
        raise ValueError("last_y: one-way platforms need last_y and dropping")
    n = num_substeps(body, params)
    pct = jnp.float32(1.0) / n.astype(jnp.float32)
    zero = jnp.zeros((), jnp.float32)
    false = jnp.zeros((), jnp.bool_)

    def substep(s: jax.Array, carry: tuple) -> tuple:
        moved, free_x, free_y, any_x, any_y, on_platform, running = carry
        active = running & (s < n)
        # First move: x (if x_first) or y; second move: the other, with vy as the first left it
        # (a platform may have zeroed it).
        b1, block1, caught1 = sub_step(
            moved,
            jnp.where(x_first, moved.vx * pct, zero),
            jnp.where(x_first, zero, moved.vy * pct),
            params,
            solid,
            platform,
            last_y,
            dropping,
        )
        b2, block2, caught2 = sub_step(
            b1,
            jnp.where(x_first, zero, b1.vx * pct),
            jnp.where(x_first, b1.vy * pct, zero),
            params,
            solid,
            platform,
            last_y,
            dropping,
        )
        block_x = jnp.where(x_first, block1, block2)
        block_y = jnp.where(x_first, block2, block1)
        return (
            _where(active, b2, moved),
            free_x + (active & ~block_x),
            free_y + (active & ~block_y),
            any_x | (active & block_x),
            any_y | (active & block_y),
            on_platform | (active & (caught1 | caught2)),
            running & ~(block_x & block_y),
        )

    # A loop rather than an unrolled sequence keeps compile times short; its trip count is the
    # static maximum and sub-steps past ``n`` (or after both moves blocked) change nothing.
    zeros = jnp.zeros((), jnp.int32)
    carry = (body, zeros, zeros, false, false, false, jnp.ones((), jnp.bool_))
    moved, free_x, free_y, any_x, any_y, on_platform, _ = jax.lax.fori_loop(
        0, params.max_substeps, substep, carry
    )
    nf = n.astype(jnp.float32)
    moved = moved.replace(
        vx=moved.vx * (free_x.astype(jnp.float32) / nf),
        vy=moved.vy * (free_y.astype(jnp.float32) / nf),
    )
    return StepResult(moved, any_x, any_y, on_platform)


def move_body(
    body: Body,
    action_vx: jax.Array,
    action_vy: jax.Array,
    params: PlatformerParams,
    solid: TileFn,
    on_platform: jax.Array | bool = False,
    platform: TileFn | None = None,
    last_y: jax.Array | None = None,
) -> tuple[StepResult, jax.Array]:
    """One controlled step of a platformer body: ground test, velocity, movement.

    coinrun.cpp ``set_action_xy`` + ``update_agent_velocity`` + ``basic_step_object``: UP
    jumps only from the ground (:func:`grounded`), DOWN drops through one-way platforms.

    Args:
        body: the body at the start of the step.
        action_vx, action_vy: int32 ``[]`` in ``{-1, 0, 1}`` (y up).
        params: the body's constants.
        solid: solid tiles.
        on_platform: a one-way platform caught the body on the previous step.
        platform: one-way platform tiles, or None.
        last_y: the body's ``y`` at the start of this step (with ``platform``; default
            ``body.y``).

    Returns:
        ``(result, support)``: the :class:`StepResult` and bool ``[]``, whether the body
        started the step on the ground.
    """
    on_platform = jnp.asarray(on_platform, jnp.bool_)
    support = grounded(body, params, solid, on_platform)
    action_vy = jnp.where((action_vy > 0) & ~support, 0, action_vy)
    body = platformer_velocity(body, action_vx, action_vy, support, params)
    result = step_body(
        body,
        params,
        solid,
        x_moves_first(body, action_vx, action_vy),
        platform=platform,
        last_y=body.y if last_y is None else last_y,
        dropping=action_vy < 0,
    )
    return result, support


# --------------------------------------------------------------------------------------------
# Overlaps and walkers
# --------------------------------------------------------------------------------------------
def box_overlap(
    x: jax.Array,
    y: jax.Array,
    rx: float | jax.Array,
    ry: float | jax.Array,
    ox: jax.Array,
    oy: jax.Array,
    orx: float | jax.Array,
    ory: float | jax.Array,
    margin: float = 0.0,
) -> jax.Array:
    """bool, broadcast shape: the boxes overlap strictly (Procgen's ``has_collision``:
    ``|dx| < rx + orx + margin`` and ``|dy| < ry + ory + margin``)."""
    return (jnp.abs(x - ox) < (rx + orx) + margin) & (jnp.abs(y - oy) < (ry + ory) + margin)


def patrol_step(
    x: jax.Array,
    vx: jax.Array,
    lo: jax.Array,
    hi: jax.Array,
    slow_lo: jax.Array,
    slow_hi: jax.Array,
    half_width: float = 0.5,
    substeps: int = 4,
) -> tuple[jax.Array, jax.Array]:
    """Walkers that bounce between two walls (Procgen's ``basic_step_object`` for an entity
    with ``will_reflect``, e.g. coinrun's enemies), all arrays ``[N]``.

    A walker moves in ``substeps`` moves of ``vx / substeps``. When a shrunk corner enters the
    wall on its left (tiles ``< lo``) or right (tiles ``>= hi``) it is mirrored about the wall's
    face and turns round. A bounce off a wall that also *blocks* the walker (``slow_lo`` /
    ``slow_hi``; in coinrun the tiles Procgen treats as ``out_of_bounds_object``, ``WALL_MID``)
    counts as a blocked move, so the speed shrinks by ``(substeps - 1) / substeps``.

    Procgen uses ``max(4, int(4 |vx|))`` moves, 4 for every ``|vx| < 1.25``.

    Args:
        x, vx: float32 centre and velocity.
        lo, hi: float32 x of the left wall's right face and the right wall's left face.
        slow_lo, slow_hi: bool, the walls also block.
        half_width: the walker's half-width.
        substeps: moves per step.

    Returns:
        ``(x, vx)`` after the step.
    """
    pct = jnp.float32(1.0 / substeps)
    h = jnp.float32(half_width)
    hm = h * jnp.float32(CORNER_MARGIN)
    blocked = jnp.zeros(x.shape, jnp.int32)
    for _ in range(substeps):
        nx = x + vx * pct
        hit_lo = nx - hm < lo
        hit_hi = nx + hm >= hi
        hit = hit_lo | hit_hi
        delta = jnp.where(vx < 0, jnp.ceil(nx - h) - (nx - h), jnp.floor(nx + h) - (nx + h))
        x = jnp.where(hit, nx + 2 * delta, nx)
        vx = jnp.where(hit, -vx, vx)
        blocked = blocked + ((hit_lo & slow_lo) | (hit_hi & slow_hi))
    return x, vx * ((substeps - blocked).astype(jnp.float32) / substeps)

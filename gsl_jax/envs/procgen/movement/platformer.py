"""Platformer movement (coinrun and the other side-view games): gravity, jumps, horizontal
acceleration with ground and air control, one-way platforms, ground detection and patrolling
walkers.

Rules from openai/procgen ``src/games/coinrun.cpp`` (``update_agent_velocity``,
``set_action_xy``, ``is_blocked_ents`` for crates) and ``src/basic-abstract-game.cpp``
(``basic_step_object`` with ``will_reflect``); our own code. The step itself (sub-steps, corner
tests, snapping) is :func:`gsl_jax.envs.procgen.movement.core.basic_step`, shared with the
top-down games.

The level is given as functions, not arrays, so a game can store its tiles however it likes
(a dense grid, or per-column parameters as coinrun does): a
:data:`~gsl_jax.envs.procgen.movement.core.TileFn` ``(col, row) -> bool``, e.g. "solid".
Out-of-world tiles must answer as the game wants (Procgen: solid for the platformers).

What differs from the top-down games, and why it is kept apart here:

* the sub-step count is dynamic, ``max(4, int(4 |v|))`` (a jump's ``|v|`` reaches 1.58, so up
  to 6 sub-steps; top-down movers stay below 1.25 and always take 4);
* velocity: gravity and jumps on y, mixing without decay on x (:func:`platformer_velocity`);
* one-way platforms catch a falling body from above (:func:`catch_on_platform`) where heist's
  locks push a mover back from any side;
* after a landing the body keeps a small downward ``vy`` for one more step (the free fraction
  of its sub-steps), so :func:`grounded` requires ``vy == 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.procgen.movement.core import (
    CORNER_MARGIN,
    POS_EPS,
    PushFn,
    TileFn,
    basic_step,
    box_overlap,
    tile_index,
    tile_points,
    x_moves_first,
)


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


# --------------------------------------------------------------------------------------------
# Moving against tiles
# --------------------------------------------------------------------------------------------
def catch_on_platform(
    params: PlatformerParams, platform: TileFn, last_y: jax.Array, dropping: jax.Array
) -> PushFn:
    """The :data:`~gsl_jax.envs.procgen.movement.core.PushFn` of one-way platforms (coinrun.cpp
    ``is_blocked_ents`` for crates + ``push_obj``): a vertical move that leaves the body
    overlapping a platform tile (boxes overlap by more than 0.001) stops it on top of the tile,
    with ``vy = 0``, if the body is falling (``vy < 0``), not ``dropping`` (bool ``[]``, DOWN
    held), and its feet were at or above the tile's top at the start of the step
    (``last_y >= top + ry``; ``last_y`` float32 ``[]``).

    A move is at most ``max_jump / 4`` long and the body was not overlapping a catching tile
    before it, so the only candidate row is the one under the feet, ``floor(y - ry + 0.001)``;
    the candidate columns are the (at most two) tiles within ``rx + 0.5`` of ``x``.
    """
    rx, ry = jnp.float32(params.rx), jnp.float32(params.ry)
    eps = jnp.float32(POS_EPS)

    def catch(x, y, vx, vy, horizontal):
        row = tile_index(y - ry - eps)
        first = tile_index(x - rx - 1 - eps) + 1
        cols = jnp.stack([first, first + 1])
        rows = jnp.stack([row, row])
        centre_x = cols.astype(jnp.float32) + 0.5
        centre_y = rows.astype(jnp.float32) + 0.5
        overlap = box_overlap(x, y, rx, ry, centre_x, centre_y, 0.5, 0.5, eps)
        # The same float expression as the standing position below, so a body put on a
        # platform passes this test on the next step exactly.
        top = centre_y + 0.5 + ry
        hit = platform(cols, rows) & overlap & (last_y >= top)
        hit = hit & ~horizontal & (vy < 0) & ~dropping
        caught = jnp.any(hit)
        # Several tiles can catch in one move only if they are level (a higher one would have
        # overlapped earlier), so the highest top is the one Procgen's push ends on.
        y = jnp.where(caught, jnp.max(jnp.where(hit, top, -jnp.inf)), y)
        vy = jnp.where(caught, jnp.float32(0), vy)
        return x, y, vx, vy, caught

    return catch


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
    """Move ``body`` by its velocity for one step (``basic_step_object`` with
    :func:`num_substeps` sub-steps against ``solid`` tiles; see
    :func:`~gsl_jax.envs.procgen.movement.core.basic_step`).

    Args:
        body: the body with its new velocity (from :func:`platformer_velocity`).
        params: the body's constants.
        solid: solid tiles (block from every side).
        x_first: bool ``[]`` from :func:`~gsl_jax.envs.procgen.movement.core.x_moves_first`.
        platform: one-way platform tiles (full tiles that only catch a falling body), or None.
        last_y, dropping: the body's ``y`` at the start of the step and whether DOWN is held
            (both needed with ``platform``; see :func:`catch_on_platform`).
    """
    push = None
    if platform is not None:
        if last_y is None or dropping is None:
            raise ValueError("last_y: one-way platforms need last_y and dropping")
        push = catch_on_platform(params, platform, last_y, dropping)
    rx, ry = jnp.float32(params.rx), jnp.float32(params.ry)
    moved = basic_step(
        body.x,
        body.y,
        body.vx,
        body.vy,
        rx,
        ry,
        x_first,
        tile_points(solid),
        num_substeps(body, params),
        max_substeps=params.max_substeps,
        push=push,
    )
    out = Body(moved.x, moved.y, moved.vx, moved.vy)
    return StepResult(out, moved.blocked_x, moved.blocked_y, moved.pushed)


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
    jumps only from the ground (:func:`grounded`), DOWN drops through one-way platforms. An
    exact speed tie ``|vx| == |vy|`` moves x first (Procgen breaks it at random; for a
    platformer it needs a non-zero float coincidence).

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
    x_first = x_moves_first(body.vx, body.vy, action_vx, action_vy, jnp.bool_(True))
    result = step_body(
        body,
        params,
        solid,
        x_first,
        platform=platform,
        last_y=body.y if last_y is None else last_y,
        dropping=action_vy < 0,
    )
    return result, support


# --------------------------------------------------------------------------------------------
# Walkers
# --------------------------------------------------------------------------------------------
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

    Kept apart from :func:`~gsl_jax.envs.procgen.movement.core.basic_step`: a reflecting
    entity is mirrored about the wall's face instead of snapped to it, moves on x only, and its
    walls are two bounds per walker rather than a tile lookup.

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

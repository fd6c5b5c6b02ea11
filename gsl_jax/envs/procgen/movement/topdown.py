"""Top-down movement (``BasicAbstractGame`` without gravity: heist, bigfish, maze-like games):
the agent's velocity mixing and smart stepping against walls and blocking entities.

Rules from openai/procgen ``src/basic-abstract-game.cpp`` (``update_agent_velocity``,
``decay_agent_velocity``, ``basic_step_object``, ``push_obj``); our own code. Coordinates and
the step itself: :mod:`gsl_jax.envs.procgen.movement.core`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

from gsl_jax.envs.procgen.movement.core import POS_EPS, BlockedFn, PushFn, basic_step, box_overlap

if TYPE_CHECKING:  # entities imports this package's core, so no import at run time
    from gsl_jax.envs.procgen.entities import EntityPool


def mix_velocity(
    vx: jax.Array,
    vy: jax.Array,
    action_vx: jax.Array,
    action_vy: jax.Array,
    mixrate: float = 0.5,
    maxspeed: float = 0.5,
    scale: float | jax.Array = 1.0,
    decay: float = 0.9,
) -> tuple[jax.Array, jax.Array]:
    """Procgen's ``update_agent_velocity`` followed by ``decay_agent_velocity``.

    ``v <- decay * ((1 - mixrate) v + mixrate * maxspeed * action * scale)`` per axis; with the
    defaults a held direction converges to ``0.225 / 0.55 = 0.409`` world units per step.
    (A platformer mixes only x, with gravity and jumps on y and no decay:
    :func:`~gsl_jax.envs.procgen.movement.platformer.platformer_velocity`.)
    """
    gain = mixrate * maxspeed * scale
    vx = decay * ((1 - mixrate) * vx + gain * action_vx)
    vy = decay * ((1 - mixrate) * vy + gain * action_vy)
    return vx, vy


def outside_world(width: float, height: float) -> BlockedFn:
    """The :data:`~gsl_jax.envs.procgen.movement.core.BlockedFn` of an empty ``width x height``
    world whose outside blocks (Procgen's ``out_of_bounds_object`` when a game leaves it at
    ``INVALID_OBJ``).

    ``get_obj_from_floats`` reads a point as out of bounds when a coordinate is negative or its
    cell ``floor(c)`` lies outside the grid, i.e. outside ``[0, width) x [0, height)``.
    """

    def blocked(px: jax.Array, py: jax.Array) -> jax.Array:
        return (px < 0) | (px >= width) | (py < 0) | (py >= height)

    return blocked


def push_out(
    x: jax.Array,
    y: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    horizontal: jax.Array,
    blockers: EntityPool,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Procgen's ``is_blocked_ents`` + ``push_obj`` in ``sub_step``, for blocking entities that
    do not move: a mover (box at ``(x, y)``, half-sizes ``(rx, ry)``) that overlaps a live
    entity of ``blockers`` (``has_collision`` with ``POS_EPS``: ``|dx| < rx + rx_b - 0.001``,
    the same on y) is put back to touching it along the move's axis: ``x = x_b + sign(x - x_b)
    (rx + rx_b)`` after a ``horizontal`` move, else the same on y.

    The entities are visited from the last slot to the first, as Procgen walks its entity
    vector. (Procgen moves the mover there with a nested ``sub_step`` that also tests walls; the
    push only takes it back toward where it came from, so walls are not tested again here.)

    Returns:
        ``(x, y, hit)``, all ``[]``: the position and whether a blocker was hit.
    """
    hit = jnp.zeros((), bool)
    for i in reversed(range(blockers.capacity)):
        bx, by, brx, bry = blockers.x[i], blockers.y[i], blockers.rx[i], blockers.ry[i]
        overlap = blockers.alive[i] & box_overlap(x, y, rx, ry, bx, by, brx, bry, POS_EPS)
        x = jnp.where(overlap & horizontal, bx + jnp.sign(x - bx) * (rx + brx), x)
        y = jnp.where(overlap & ~horizontal, by + jnp.sign(y - by) * (ry + bry), y)
        hit = hit | overlap
    return x, y, hit


def pushed_by(blockers: EntityPool, rx: jax.Array, ry: jax.Array) -> PushFn:
    """The :data:`~gsl_jax.envs.procgen.movement.core.PushFn` of static blocking entities:
    :func:`push_out`, then the velocity component on the move's axis becomes 0 at once
    (``push_obj``), so the later sub-steps do not move on that axis."""

    def push(x, y, vx, vy, horizontal):
        x, y, hit = push_out(x, y, rx, ry, horizontal, blockers)
        zero = jnp.zeros_like(vx)
        vx = jnp.where(hit & horizontal, zero, vx)
        vy = jnp.where(hit & ~horizontal, zero, vy)
        return x, y, vx, vy, hit

    return push


def smart_step(
    x: jax.Array,
    y: jax.Array,
    vx: jax.Array,
    vy: jax.Array,
    rx: jax.Array,
    ry: jax.Array,
    x_first: jax.Array,
    blocked_at: BlockedFn,
    num_sub_steps: int = 4,
    blockers: EntityPool | None = None,
    loop: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Procgen's ``basic_step_object`` for a smart-stepping top-down entity (the agent), blocked
    by cells and, optionally, by entities that do not move
    (:func:`~gsl_jax.envs.procgen.movement.core.basic_step` with :func:`pushed_by`).

    ``blockers``: a pool of ``[K]`` static boxes (e.g. heist's locked doors) or None.

    Procgen uses ``max(4, int(4 |v|))`` sub-steps, which is 4 for every ``|v| < 1.25`` (the
    agent's speed stays below 0.58 with the default :func:`mix_velocity`, 0.87 with heist's
    ``maxspeed``), so the count is a static argument here. ``loop``: see ``basic_step``.

    Returns:
        ``(x, y, vx, vy)`` after the step, all ``[]``.
    """
    push = None if blockers is None else pushed_by(blockers, rx, ry)
    moved = basic_step(
        x, y, vx, vy, rx, ry, x_first, blocked_at, num_sub_steps, push=push, loop=loop
    )
    return moved.x, moved.y, moved.vx, moved.vy

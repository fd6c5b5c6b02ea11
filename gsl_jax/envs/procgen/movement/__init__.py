"""Procgen's movement in JAX, one copy for every port.

* :mod:`.core`: what all movers share, ``basic_step_object``'s sub-stepped, axis-separated move
  against blocking cells (:func:`basic_step`, :func:`sub_step`), the sub-step order
  (:func:`x_moves_first`), the box overlap test (:func:`box_overlap`) and hooks for entities
  that push the mover (:data:`PushFn`).
* :mod:`.topdown`: the ``BasicAbstractGame`` agent without gravity (heist, bigfish): velocity
  mixing with decay (:func:`mix_velocity`), :func:`smart_step`, static blockers
  (:func:`push_out`).
* :mod:`.platformer`: side-view bodies (coinrun): gravity and jumps, ground test, one-way
  platforms (:func:`move_body`, :func:`step_body`) and patrolling walkers
  (:func:`patrol_step`).
"""

from gsl_jax.envs.procgen.movement.core import (
    CORNER_MARGIN,
    POS_EPS,
    BlockedFn,
    Moved,
    PushFn,
    TileFn,
    basic_step,
    box_overlap,
    sub_step,
    tile_index,
    tile_points,
    x_moves_first,
)
from gsl_jax.envs.procgen.movement.platformer import (
    Body,
    PlatformerParams,
    StepResult,
    catch_on_platform,
    grounded,
    move_body,
    num_substeps,
    patrol_step,
    platformer_velocity,
    step_body,
)
from gsl_jax.envs.procgen.movement.topdown import (
    mix_velocity,
    outside_world,
    push_out,
    pushed_by,
    smart_step,
)

__all__ = [
    "CORNER_MARGIN",
    "POS_EPS",
    "BlockedFn",
    "Body",
    "Moved",
    "PlatformerParams",
    "PushFn",
    "StepResult",
    "TileFn",
    "basic_step",
    "box_overlap",
    "catch_on_platform",
    "grounded",
    "mix_velocity",
    "move_body",
    "num_substeps",
    "outside_world",
    "patrol_step",
    "platformer_velocity",
    "push_out",
    "pushed_by",
    "smart_step",
    "step_body",
    "sub_step",
    "tile_index",
    "tile_points",
    "x_moves_first",
]

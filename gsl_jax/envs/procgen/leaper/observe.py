"""leaper's observations: the 64x64 frame and the compact (symbolic) vector.

* Pixels (:func:`render`): uint8 ``[64, 64, 3]``, the whole ``W x W`` world (leaper turns
  Procgen's ``center_agent`` off), ``64 / W`` pixels per tile, y up. Grass in one of nine colour
  themes per level, road lanes with a dashed edge, water lanes with ripples and a chequered
  finish row; cars are ``1 x 0.5`` boxes in one of five colours with a windscreen on the side
  they drive to; logs are ``0.9 x 0.9`` squares with a darker core; the frog (the agent, drawn
  last) is a green disc with a back stripe and two eyes looking the way it last hopped. All art
  is our own (:mod:`.art`).
* Symbolic (:func:`symbolic`): float32 ``[5 + 4 * 18] = [77]``, every entry in ``[-2, 2]``:
  the agent ``(2 x / W - 1, y - floor(y), vx / 0.5, vy / 0.5, (finish row - floor(y)) / W)``,
  then for each of the four rows ``floor(y) - 1 .. floor(y) + 2`` (the row the agent is on,
  the one below and the two above): ``(outside, road, water, finish)`` flags, the lane speed
  ``/ 0.2`` and 13 occupancy samples at ``x + d``, ``d = -3, -2.5, ..., 3``: on a road 1 where
  a car there would touch an agent at that ``x``, on water 1 where a log would carry it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen.leaper.art import (
    CAR_ENTRY,
    FROG_ENTRY,
    LOG_ENTRY,
    WINDOW_ENTRY,
    pixel_grid,
)
from gsl_jax.envs.procgen.leaper.levels import (
    AGENT_R,
    CAR_RX,
    FINISH,
    HOP_SPEED,
    LOG_R,
    ROAD,
    WATER,
    LeaperState,
    row_boxes,
)

#: Rows of the symbolic view relative to the agent's row, and the x offsets sampled in each.
ROW_OFFSETS = np.array([-1, 0, 1, 2], np.int32)
SAMPLE_DX = np.arange(-3.0, 3.01, 0.5, dtype=np.float32)
#: Agent features and features per row of the symbolic observation.
AGENT_FEATURES = 5
ROW_FEATURES = 5 + len(SAMPLE_DX)
#: Every symbolic entry lies in ``[-SYMBOLIC_BOUND, SYMBOLIC_BOUND]``.
SYMBOLIC_BOUND = 2.0
#: Lane speeds are scaled by this (the fastest lane, hard mode's cars, moves 0.2 per step).
SPEED_SCALE = 0.2
#: The frog's drawn half-height in units of its box (Procgen draws the sprite taller).
FROG_TALL = 1.15
#: Added to a car's or log's palette entry where a column is in its inner part (render).
INNER = 32


def render(state: LeaperState, world: int, patterns: np.ndarray, palettes: np.ndarray) -> jax.Array:
    """uint8 ``[64, 64, 3]``: ground, cars and logs, then the frog on top.

    ``patterns`` is :func:`~.art.ground_patterns` for this ``world`` size (uint8
    ``[4, 64, 64]``) and ``palettes`` :func:`~.art.palettes`.
    """
    xs, ys = pixel_grid(world)
    row_of = np.clip(np.floor(ys).astype(np.int32), 0, world - 1)  # static [64]
    frac = jnp.asarray(ys - row_of)  # height of each pixel row inside its grid row
    kind = state.row_kind[row_of]  # [64] kind of each pixel row
    canvas = jnp.asarray(patterns[0])
    for k in (1, 2, 3):
        canvas = jnp.where((kind == k)[:, None], jnp.asarray(patterns[k]), canvas)

    # Cars and logs, per grid row and column: the body's entry, + INNER where the column is in
    # the inner part (a car's windscreen on its leading side, a log's core). One [W, K, 64] pass.
    rx, ry = row_boxes(state.row_kind)
    is_car = state.row_kind == ROAD
    lead = jnp.where(is_car, jnp.sign(state.row_speed), 1.0)[:, None, None]
    lo = jnp.where(is_car, 0.2 * CAR_RX, -0.5 * LOG_R)[:, None, None]
    hi = jnp.where(is_car, 0.6 * CAR_RX, 0.5 * LOG_R)[:, None, None]
    dx = jnp.asarray(xs)[None, None, :] - state.lane_x[:, :, None]  # [W, K, 64]
    cover = state.lane_alive[:, :, None] & (jnp.abs(dx) < rx[:, None, None])
    inner = (dx * lead > lo) & (dx * lead < hi)
    body = jnp.where(is_car[:, None], CAR_ENTRY + state.lane_look, LOG_ENTRY)[:, :, None]
    code = jnp.max(jnp.where(cover, body + jnp.where(inner, INNER, 0), 0), axis=1)[row_of]
    # Per pixel row: inside the entities' box (|dy| < ry), inside the inner band (0.6 ry).
    v = jnp.abs(frac - 0.5) / jnp.maximum(ry[row_of], 1e-6)
    core = jnp.where(is_car[row_of], WINDOW_ENTRY, LOG_ENTRY + 1)[:, None]
    entry = jnp.where((v < 0.6)[:, None] & (code >= INNER), core, code % INNER)
    canvas = jnp.where((v < 1.0)[:, None] & (code > 0), entry, canvas)

    # The frog: a disc, a stripe down its back and two eyes towards its facing direction. Every
    # term is a function of the row alone plus one of the column alone (a hop is along one
    # axis), so each pixel costs an add and a compare per shape.
    px = (jnp.asarray(xs) - state.x) / AGENT_R  # [64] columns
    py = (jnp.asarray(ys) - state.y) / (AGENT_R * FROG_TALL)  # [64] rows
    sign = jnp.asarray([1.0, 1.0, -1.0, -1.0])[state.facing]
    vertical = (state.facing % 2) == 0
    # along / across the facing direction, split into their row and column parts.
    along_r, along_c = jnp.where(vertical, sign * py, 0.0), jnp.where(vertical, 0.0, sign * px)
    across_r, across_c = jnp.where(vertical, 0.0, sign * py), jnp.where(vertical, sign * px, 0.0)
    disc = (py * py)[:, None] + (px * px)[None, :] < 1.0
    eye_r = jnp.where(vertical, (along_r - 0.45) ** 2, (jnp.abs(across_r) - 0.4) ** 2)
    eye_c = jnp.where(vertical, (jnp.abs(across_c) - 0.4) ** 2, (along_c - 0.45) ** 2)
    eyes = eye_r[:, None] + eye_c[None, :] < 0.06
    stripe_r = (jnp.abs(across_r) < 0.2) & (along_r < 0.1)
    stripe_c = (jnp.abs(across_c) < 0.2) & (along_c < 0.1)
    stripe = stripe_r[:, None] & stripe_c[None, :]
    frog = jnp.where(eyes, FROG_ENTRY + 2, jnp.where(stripe, FROG_ENTRY + 1, FROG_ENTRY))
    canvas = jnp.where(disc, frog, canvas)
    return jnp.asarray(palettes)[state.theme][canvas.astype(jnp.int32)]


def symbolic(state: LeaperState, world: int) -> jax.Array:
    """float32 ``[77]`` (layout in the module docstring)."""
    row0 = jnp.floor(state.y).astype(jnp.int32)
    rows = row0 + jnp.asarray(ROW_OFFSETS)  # [4]
    inside = (rows >= 0) & (rows < world)
    safe = jnp.clip(rows, 0, world - 1)
    kind = jnp.where(inside, state.row_kind[safe], -1)
    speed = jnp.where(inside, state.row_speed[safe], 0.0)
    sample = state.x + jnp.asarray(SAMPLE_DX)  # [13]
    gap = jnp.abs(sample[None, None, :] - state.lane_x[safe][:, :, None])  # [4, K, 13]
    reach = jnp.where(kind == ROAD, CAR_RX + AGENT_R, LOG_R)[:, None, None]
    occupied = jnp.any(state.lane_alive[safe][:, :, None] & (gap < reach), axis=1)
    occupied &= ((kind == ROAD) | (kind == WATER))[:, None]
    flags = jnp.stack([~inside, kind == ROAD, kind == WATER, kind == FINISH], axis=-1)
    row_feats = jnp.concatenate(
        [flags.astype(jnp.float32), (speed / SPEED_SCALE)[:, None], occupied.astype(jnp.float32)],
        axis=-1,
    )
    agent = jnp.stack(
        [
            2.0 * state.x / world - 1.0,
            state.y - row0.astype(jnp.float32),
            state.vx / HOP_SPEED,
            state.vy / HOP_SPEED,
            (state.goal_y - 1 - row0).astype(jnp.float32) / world,
        ]
    )
    obs = jnp.concatenate([agent, row_feats.reshape(-1)])
    return jnp.clip(obs, -SYMBOLIC_BOUND, SYMBOLIC_BOUND).astype(jnp.float32)

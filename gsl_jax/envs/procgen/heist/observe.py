"""Heist's observations: the 64x64 frame and the compact (symbolic) view.

* ``"pixels"``: uint8 ``[64, 64, 3]``. As in Procgen easy and hard (``center_agent`` is only on
  in memory mode) the whole world fills the frame, ``64 / W`` px per tile, drawn with our own art
  (:mod:`.art`): themed floor (one of eight per level, as Procgen draws a background per level),
  dirt walls, blue/green/red keys and lock blocks, a yellow gem, the agent (turned toward its last
  requested direction) drawn at its position (rounded to the pixel), and the held keys as small
  icons at the top right, where Procgen draws its key ring. Keys and the gem are drawn on their
  tiles; their small offsets from the tile centre (at most 0.125 tile, under a pixel) only move
  their collision boxes.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 14]``, a window of tiles centred on the tile that
  holds the agent's centre, cells outside the world reading as wall. Channels
  (:data:`SYMBOLIC_CHANNELS`): 0 wall, 1 gem, 2-4 key (blue, green, red), 5-7 lock (blue, green,
  red), 8 agent, 9-11 keys held (constant planes, 1.0 where held), 12-13 the agent's velocity
  ``(vx, vy)`` (constant planes, ``0.5 + 0.5 v / 0.614``, so 0.5 at rest, clipped to ``[0, 1]``;
  Procgen's heist frames carry no velocity, but the compact mode is meant to hold the whole
  state). The agent's non-integer position is encoded bilinearly in channel 8: tile cell
  ``(i, j)`` of the window holds ``max(0, 1 - |dc_j - u|) * max(0, 1 - |dr_i - v|)``, where
  ``(dr_i, dc_j)`` is the cell's offset from the window centre and ``(v, u)`` the agent centre's
  offset from the centre tile's centre in tiles (``u`` to the right, ``v`` down, each in
  ``[-0.5, 0.5]``). So the centre cell reads 1.0 when the agent stands on its tile's centre, at
  most four cells (the centre, one beside it, one above or below, one diagonal) are non-zero,
  they sum to 1, and the position is their weighted mean of cell centres, exactly. The default
  radius ``r = W - 1`` (17x17 easy, 25x25 hard) shows the whole world from any position.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen.grid import egocentric_window
from gsl_jax.envs.procgen.heist.art import GEM, KEY, LOCK, NUM_COLOURS, WALL, ring_key_masks
from gsl_jax.envs.procgen.heist.levels import HeistState
from gsl_jax.envs.procgen.render import FRAME_SIZE, TileRenderer

#: Channels of the symbolic observation.
SYMBOLIC_CHANNELS = (
    "wall",
    "gem",
    "key_blue",
    "key_green",
    "key_red",
    "lock_blue",
    "lock_green",
    "lock_red",
    "agent",
    "held_blue",
    "held_green",
    "held_red",
    "velocity_x",
    "velocity_y",
)
#: Overlay class of the held key of colour ``c`` is ``RING_CLASS + c`` (art.OVERLAY_RGB).
RING_CLASS = 4


def render_frame(renderer: TileRenderer, sprites: np.ndarray, state: HeistState) -> jax.Array:
    """uint8 ``[64, 64, 3]``: ``state``'s tiles, the agent (``sprites``, uint8 ``[9, s, s]`` from
    :func:`~.art.agent_sprites`) at its position and the held keys, drawn by ``renderer`` (built
    with :data:`~.art.OVERLAY_RGB`)."""
    overlay = agent_layer(state.pos, state.facing, sprites, renderer.world_dim)
    # heist.cpp draws the held keys at the top right, over the world.
    rings = jnp.asarray(ring_key_masks())
    for c in range(NUM_COLOURS):
        overlay = jnp.where(rings[c] & state.has_keys[c], np.uint8(RING_CLASS + c), overlay)
    return renderer.render(state.tiles, state.theme, overlay)


def agent_layer(pos: jax.Array, facing: jax.Array, sprites: np.ndarray, w: int) -> jax.Array:
    """uint8 ``[64, 64]``: the sprite's colour class (0 = none, 1-3) at every pixel, for the
    agent centred at ``pos`` (float32 ``[2]``, Procgen ``(x, y)`` in a ``w``-tile world) facing
    move id ``facing`` (int32 ``[]``)."""
    size = sprites.shape[1]
    scale = np.float32(FRAME_SIZE / w)  # pixels per tile
    # Top-left pixel of the sprite: its centre rounded to the pixel grid (image rows down).
    centre_col = pos[0] * scale
    centre_row = (w - pos[1]) * scale
    top = jnp.floor(centre_row - size / 2 + 0.5).astype(jnp.int32)
    left = jnp.floor(centre_col - size / 2 + 0.5).astype(jnp.int32)
    pixel = jnp.arange(FRAME_SIZE, dtype=jnp.int32)
    row = pixel - top  # [64] sprite row under each pixel row
    col = pixel - left
    sprite = jnp.asarray(sprites)[facing]  # [size, size]
    # The sprite row of every pixel row (all zero off the sprite), then one select per
    # sprite column: a handful of [64, 64] selects per frame.
    rows = jnp.where(((row >= 0) & (row < size))[:, None], sprite[jnp.clip(row, 0, size - 1)], 0)
    layer = jnp.zeros((FRAME_SIZE, FRAME_SIZE), jnp.uint8)
    for j in range(size):
        layer = jnp.where((col == j)[None, :], rows[:, j : j + 1], layer)
    return layer


def symbolic_view(state: HeistState, radius: int, top_speed: float) -> jax.Array:
    """float32 ``[2r + 1, 2r + 1, 14]`` (``r = radius``) around the agent; channels
    :data:`SYMBOLIC_CHANNELS` (see the module docstring); velocities are scaled by
    ``top_speed``, the speed a held direction converges to."""
    w = state.tiles.shape[0]
    x, y = state.pos[0], state.pos[1]
    col = jnp.clip(jnp.floor(x).astype(jnp.int32), 0, w - 1)
    row = jnp.clip(w - 1 - jnp.floor(y).astype(jnp.int32), 0, w - 1)
    window = egocentric_window(state.tiles, row, col, radius, WALL).astype(jnp.int32)
    kinds = jnp.asarray([WALL, GEM, KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2])
    planes = window[..., None] == kinds  # [side, side, 8]
    # The agent centre's offset from the centre tile's centre (u right, v down), and the
    # bilinear ("tent") weight of every window row and column.
    u = x - (col.astype(jnp.float32) + 0.5)
    v = (w - y) - (row.astype(jnp.float32) + 0.5)
    offset = jnp.arange(2 * radius + 1, dtype=jnp.float32) - radius
    row_w = jnp.maximum(0.0, 1.0 - jnp.abs(offset - v))
    col_w = jnp.maximum(0.0, 1.0 - jnp.abs(offset - u))
    body = row_w[:, None] * col_w[None, :]
    held = jnp.broadcast_to(state.has_keys.astype(jnp.float32), window.shape + (NUM_COLOURS,))
    speed = jnp.clip(0.5 + 0.5 * state.vel / np.float32(top_speed), 0.0, 1.0)
    vel = jnp.broadcast_to(speed, window.shape + (2,))
    return jnp.concatenate(
        [planes.astype(jnp.float32), body[..., None], held, vel], axis=-1
    ).astype(jnp.float32)

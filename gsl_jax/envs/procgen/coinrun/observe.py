"""Coinrun's observations: the agent-centred 64 x 64 frame and the compact tile window.

The frame (:func:`render`) is Procgen's ``center_agent`` camera drawn with our own art
(:mod:`.art`) on a 5-pixel tile grid; the compact view (:func:`symbolic`) is a
``[2r + 1, 2r + 1, 9]`` window around the agent's tile (channels in the package docstring).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen.coinrun.art import (
    AGENT_COLS,
    AGENT_ROWS,
    B_CRATE,
    B_LAVA_MID,
    B_LAVA_TOP,
    B_SKY,
    B_WALL_MID,
    B_WALL_TOP,
    CANVAS,
    CLEAR,
    EN_BODY,
    EN_DARK,
    EN_EYE,
    NUM_ENTRIES,
    P_COIN,
    P_NONE,
    P_SAW,
    TILE_PX,
    VIEW_TILES,
    CanvasArt,
)
from gsl_jax.envs.procgen.coinrun.levels import (
    AGENT,
    COIN,
    CRATE,
    LAVA_MID,
    LAVA_TOP,
    SAW,
    WALL_MID,
    WALL_TOP,
    CoinRunState,
    Columns,
)
from gsl_jax.envs.procgen.movement import tile_index
from gsl_jax.envs.procgen.render import FRAME_SIZE

#: Channels of the compact observation.
NUM_CHANNELS = 9
#: Base look and sprite part of each tile type (SPACE, WALL_MID, WALL_TOP, LAVA_MID, LAVA_TOP,
#: CRATE, COIN, SAW).
BASE_OF_TYPE = np.array([B_SKY, B_WALL_MID, B_WALL_TOP, B_LAVA_MID, B_LAVA_TOP, B_CRATE, 0, 0])
PART_OF_TYPE = np.array([P_NONE] * 6 + [P_COIN, P_SAW])


def render(state: CoinRunState, art: CanvasArt) -> jax.Array:
    """uint8 ``[64, 64, 3]``: the view centred on the agent.

    Tiles are drawn 5 pixels wide and the camera sits on the pixel grid: with
    ``X = floor(5 x + 0.5)`` and ``Y = floor(5 y + 0.5)``, frame column ``px`` shows world
    pixel column ``X - 32 + px`` and row ``py`` world pixel row ``Y + 31 - py`` (y up), so
    the agent's centre is the frame's centre, as in Procgen's agent-centred camera. We
    first paint the 14 x 14 tiles around the view onto a 70 x 70 canvas of palette entries
    whose tiles sit at fixed pixels (every look is one select against a constant image),
    then cut the 64 x 64 view out of it, draw the agent and colour the frame with one
    palette lookup.
    """
    n, t = VIEW_TILES, TILE_PX
    # Round half up everywhere (jnp.round rounds half to even), so that positions a whole
    # number of pixels apart stay so on screen.
    px_x = jnp.floor(state.body.x * t + 0.5).astype(jnp.int32)
    px_y = jnp.floor(state.body.y * t + 0.5).astype(jnp.int32)
    left = px_x - FRAME_SIZE // 2  # world pixel column of frame column 0
    top = px_y + FRAME_SIZE // 2 - 1  # world pixel row of frame row 0
    c0 = left // t  # the canvas's first tile column and top tile row
    r0 = top // t
    sx = left - c0 * t  # where the frame starts inside the canvas
    sy = (r0 + 1) * t - 1 - top

    win = Columns.window(state, c0, n)
    rows = r0 - jnp.arange(n, dtype=jnp.int32)  # top to bottom
    types = win.types(rows[:, None])  # [n rows, n cols]
    # Base look and sprite part of each tile type (jnp.select here makes XLA fuse badly).
    base = jnp.asarray(BASE_OF_TYPE)[types]
    part = jnp.asarray(PART_OF_TYPE)[types]
    part = part + jnp.where(types == SAW, state.time % 2, 0)  # the saw's two frames
    # One int per tile: base look, sprite part and enemy (see _with_enemies). It leaves a
    # scatter, so XLA keeps it as an array instead of re-deriving the tile types for every
    # pixel it draws.
    tiles = _with_enemies(state, base + 8 * part, r0, c0, n)

    def up(a: jax.Array) -> jax.Array:  # tiles -> canvas pixels
        return jnp.repeat(jnp.repeat(a, t, axis=0), t, axis=1)

    # Background pattern: 4 x 4 tiles; world tile (r, c) shows cell (3 - r % 4,
    # (c + offset) % 4), i.e. pattern row (-1 - world pixel row) % 20.
    period = 4 * t
    phase_y = (-(r0 + 1) * t) % period
    phase_x = ((c0 + state.bg_offset) * t) % period
    canvas = jax.lax.dynamic_slice(jnp.asarray(art.motif), (phase_y, phase_x), (CANVAS, CANVAS))
    tiles_px = up(tiles)
    base_px, part_px = tiles_px & 7, (tiles_px >> 3) & 7  # both 0 under an enemy
    for look in range(1, len(art.bases)):
        canvas = jnp.where(base_px == look, jnp.asarray(art.bases[look]), canvas)
    for look in range(1, len(art.parts)):
        sprite = art.parts[look]
        show = (part_px == look) & jnp.asarray(sprite != CLEAR)
        canvas = jnp.where(show, jnp.asarray(sprite), canvas)
    canvas = _draw_enemies(canvas, tiles_px >> 6)

    entry = jax.lax.dynamic_slice(canvas, (sy, sx), (FRAME_SIZE, FRAME_SIZE))
    # The agent, always at the centre of the frame. Drawn with a scatter, which also makes
    # XLA keep the frame as an array rather than recompute it for each colour channel.
    (r_a, r_b), (c_a, c_b) = AGENT_ROWS, AGENT_COLS
    sprite = jnp.asarray(art.agent)[state.pose, state.facing_right.astype(jnp.int32)]
    ar, ac = np.meshgrid(np.arange(r_a, r_b), np.arange(c_a, c_b), indexing="ij")
    ar, ac = jnp.asarray(ar.ravel()), jnp.asarray(ac.ravel())
    sprite = sprite.ravel()
    drawn = jnp.where(sprite == CLEAR, entry[ar, ac], sprite)
    entry = entry.at[ar, ac].set(drawn, unique_indices=True)
    return jnp.asarray(art.palettes)[state.theme * NUM_ENTRIES + entry.astype(jnp.int32)]


def _with_enemies(
    state: CoinRunState, tiles: jax.Array, r0: jax.Array, c0: jax.Array, n: int
) -> jax.Array:
    """Add the enemies to the ``[n, n]`` tile codes of the canvas (top-left tile
    ``(r0, c0)``): a tile an enemy covers gets code ``64 * (1 + 16 * look + offset + 8)``.

    An enemy's sprite column at texel column ``t`` of a tile is ``t - offset`` (an enemy
    whose left edge is ``s`` pixels into tile ``c`` has offset ``s`` there and ``s - 5`` in
    tile ``c + 1``); ``look = 2 * facing_right + frame``. Where enemies overlap, the larger
    code is drawn. An enemy's tile shows the background behind it (enemies walk in the
    open; in hard mode one passing a crate or saw hides it while it does).

    The codes come out of a scatter, so XLA keeps them as an array: the per-pixel drawing
    that follows reads them instead of re-deriving every tile type for every pixel.
    """
    t = TILE_PX
    edge = jnp.floor((state.enemy_x - 0.5) * t + 0.5).astype(jnp.int32)  # left edge, px
    lcol = edge // t
    shift = edge - lcol * t
    frame = (state.time // 5) % 2
    look = 2 * (state.enemy_vx > 0).astype(jnp.int32) + frame
    code = 1 + 16 * look + shift + 8
    wrow = r0 - state.enemy_row
    rows = jnp.concatenate([wrow, wrow])
    cols = jnp.concatenate([lcol - c0, lcol + 1 - c0])
    value = 64 * jnp.concatenate([code, code - t])
    show = jnp.concatenate([state.enemy_alive, state.enemy_alive & (shift > 0)])
    show = show & (rows >= 0) & (rows < n) & (cols >= 0) & (cols < n)
    # Hidden slices go to a row past the end, which the scatter drops (a negative index
    # would wrap around).
    rows = jnp.where(show, rows, n)
    return tiles.at[rows, jnp.clip(cols, 0, n - 1)].max(value, mode="drop")


def _draw_enemies(canvas: jax.Array, enemy: jax.Array) -> jax.Array:
    """Draw the slimes described by ``enemy`` (int32 ``[70, 70]``, the enemy codes of
    :func:`_with_enemies` upsampled to pixels) onto ``canvas``."""
    t = TILE_PX
    texel_col = jnp.asarray(np.tile(np.arange(t, dtype=np.int32), VIEW_TILES))[None, :]
    v = jnp.asarray(np.tile(np.arange(t, dtype=np.int32), VIEW_TILES))[:, None]
    e = enemy - 1  # -1 where no enemy: its sprite column is never inside
    look = e >> 4
    u = texel_col - ((e & 15) - 8)  # sprite column
    inside = (u >= 0) & (u < t)
    squashed = (look & 1) == 1
    right = look >= 2
    top = jnp.where(squashed, 2, 1)
    body = inside & ((v > top) | ((v == top) & (u >= 1) & (u <= 3)))
    eye = (v == top + 1) & (u == jnp.where(right, 3, 1))
    colour = jnp.where(eye, EN_EYE, jnp.where(v == t - 1, EN_DARK, EN_BODY))
    return jnp.where(body, colour.astype(jnp.uint8), canvas)


def symbolic(state: CoinRunState, r: int) -> jax.Array:
    """float32 ``[2r + 1, 2r + 1, 9]`` window around the agent's tile (see the package
    docstring for the channels); ``r`` is the view radius."""
    side = 2 * r + 1
    x, y = state.body.x, state.body.y
    cx, cy = tile_index(x), tile_index(y)
    rows = cy + r - jnp.arange(side, dtype=jnp.int32)  # top to bottom
    cols = cx - r + jnp.arange(side, dtype=jnp.int32)
    types = Columns.window(state, cx - r, side).types(rows[:, None])
    colf = cols.astype(jnp.float32)
    ex = state.enemy_x[:, None]
    cover = jnp.clip(jnp.minimum(ex + 0.5, colf + 1) - jnp.maximum(ex - 0.5, colf), 0, 1)
    in_row = (state.enemy_row[:, None] == rows[None, :]) & state.enemy_alive[:, None]
    enemy = jnp.minimum(jnp.einsum("er,ec->rc", in_row.astype(jnp.float32), cover), 1.0)
    planes = jnp.stack(
        [
            state.body.vx / AGENT.maxspeed,
            state.body.vy / AGENT.max_jump,
            x - cx - 0.5,
            y - cy - 0.5,
        ]
    )
    grid = jnp.stack(
        [
            (types == WALL_MID) | (types == WALL_TOP),
            types == CRATE,
            (types == LAVA_MID) | (types == LAVA_TOP) | (types == SAW),
        ],
        axis=-1,
    ).astype(jnp.float32)
    coin = (types == COIN).astype(jnp.float32)[..., None]
    const = jnp.broadcast_to(planes, (side, side, 4))
    return jnp.concatenate([grid, enemy[..., None], coin, const], axis=-1)

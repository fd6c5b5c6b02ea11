"""chaser's observations: the 64x64 frame and the compact (symbolic) vector.

* Pixels (:func:`render_frame`): uint8 ``[64, 64, 3]``, the whole world (chaser turns
  Procgen's ``center_agent`` off), ``64 / W`` pixels per cell. The grid layer shows the level's
  floor theme, the walls, the small orbs (green squares 0.3 of a cell), the large orbs and the
  eggs (both sit on cell centres); the enemies (red, cycling through three frames every two
  steps as Procgen's ``image_for_type`` does, blue while edible) and then the agent are painted
  on top as ellipses (enemies 0.8 x 0.44 of a cell, the agent 0.8 x 0.8). The art is ours
  (:mod:`.art`).
* Symbolic (:func:`symbolic_view`): float32 ``[S * S * 6 + 5]`` with ``S = 2 r + 1``: an
  egocentric ``S x S`` window centred on the cell holding the agent's centre, channels (wall,
  small orb, large orb, enemy, edible enemy, egg); cells outside the world read as wall; an
  enemy marks the cell holding its centre (``pos // 16``), an egg marks its cell with
  ``timer / 50``. Then five scalars: the agent's offset from its cell's centre ``(d_row,
  d_col) / 8`` (it can only turn at a centre), its moving direction ``(d_row, d_col)`` and the
  fraction of the edible time left. Every entry lies in ``[-1, 1]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.chaser.art import AGENT_ENTRY, EGG, ENEMY_ENTRY, LARGE_ORB, WEAK_ENTRY
from gsl_jax.envs.procgen.chaser.levels import (
    EAT_TIMEOUT,
    EGG_TIMEOUT,
    ORB,
    UNIT,
    WALL,
    ChaserState,
)
from gsl_jax.envs.procgen.grid import egocentric_window
from gsl_jax.envs.procgen.render import TileRenderer

#: Channels of the symbolic window.
SYMBOLIC_CHANNELS = ("wall", "orb", "large_orb", "enemy", "edible_enemy", "egg")
#: Scalars after the window.
SYMBOLIC_EXTRAS = 5


def _cell_mask(w: int, cells: jax.Array, on: jax.Array) -> jax.Array:
    """bool ``[W, W]``: the cells ``(row, col)`` (int32 ``[N, 2]``) where ``on`` (bool ``[N]``)."""
    rows = jnp.arange(w)[None, :, None] == cells[:, 0, None, None]
    cols = jnp.arange(w)[None, None, :] == cells[:, 1, None, None]
    return jnp.any(rows & cols & on[:, None, None], axis=0)


def sprite_tiles(state: ChaserState) -> jax.Array:
    """uint8 ``[W, W]``: the state's tiles with the large orbs and the eggs drawn in."""
    w = state.tiles.shape[0]
    eggs = _cell_mask(w, state.enemy_pos // UNIT, state.enemy_kind == 1)
    orbs = _cell_mask(w, state.orb_cells, state.orb_alive)
    tiles = jnp.where(orbs, jnp.uint8(LARGE_ORB), state.tiles)
    return jnp.where(eggs, jnp.uint8(EGG), tiles)


def render_frame(state: ChaserState, renderer: TileRenderer, view: ent.View) -> jax.Array:
    """uint8 ``[64, 64, 3]``: the grid layer, the enemies, then the agent on top."""
    w = state.tiles.shape[0]
    pos = jnp.concatenate([state.enemy_pos, state.agent[None, :]]).astype(jnp.float32)
    x = pos[:, 1] / UNIT
    y = w - pos[:, 0] / UNIT
    # The sprites fill less than their one-cell boxes, as Procgen's images do: flat flyers and
    # a round agent.
    rx = jnp.asarray([0.4, 0.4, 0.4, 0.4], jnp.float32)
    ry = jnp.asarray([0.22, 0.22, 0.22, 0.4], jnp.float32)
    visible = jnp.concatenate([state.enemy_kind == 2, jnp.ones(1, bool)])
    # image_for_type: frame (t / 2) % 4 with frame 3 shown as frame 1; blue while edible.
    frame = (state.time // 2) % 4
    frame = jnp.where(frame == 3, 1, frame)
    edible = state.time - state.eat_time < EAT_TIMEOUT
    enemy = jnp.where(edible, WEAK_ENTRY, jnp.asarray(ENEMY_ENTRY)[frame])
    entry = jnp.concatenate([jnp.full(3, enemy), jnp.full(1, AGENT_ENTRY)]).astype(jnp.uint8)
    left, width, colour = ent.profile_spans(
        view, x, y, rx, ry, jnp.ones(4, bool), visible, entry, top_entry=entry + 1
    )
    canvas = ent.paint_spans(jnp.zeros((view.size, view.size), jnp.uint8), left, width, colour)
    # The tile ids into a buffer first: the renderer reads one per pixel.
    return renderer.render(ent.materialize(sprite_tiles(state)), state.theme, canvas)


def symbolic_view(state: ChaserState, radius: int) -> jax.Array:
    """float32 ``[(2 r + 1)^2 * 6 + 5]`` (module docstring)."""
    w = state.tiles.shape[0]
    tiles = state.tiles
    enemy_cells = state.enemy_pos // UNIT
    is_enemy = state.enemy_kind == 2
    edible = state.time - state.eat_time < EAT_TIMEOUT
    is_egg = state.enemy_kind == 1
    egg_rows = jnp.arange(w)[None, :, None] == enemy_cells[:, 0, None, None]
    egg_cols = jnp.arange(w)[None, None, :] == enemy_cells[:, 1, None, None]
    egg_value = jnp.max(
        jnp.where(egg_rows & egg_cols & is_egg[:, None, None], state.egg_timer[:, None, None], 0),
        axis=0,
    )
    grid = jnp.stack(
        [
            (tiles != WALL).astype(jnp.float32),  # "free": outside the window reads 0 = wall
            (tiles == ORB).astype(jnp.float32),
            _cell_mask(w, state.orb_cells, state.orb_alive).astype(jnp.float32),
            _cell_mask(w, enemy_cells, is_enemy & ~edible).astype(jnp.float32),
            _cell_mask(w, enemy_cells, is_enemy & edible).astype(jnp.float32),
            egg_value.astype(jnp.float32) / EGG_TIMEOUT,
        ],
        axis=-1,
    )
    row, col = (state.agent[0] - 1) // UNIT, state.agent[1] // UNIT
    window = egocentric_window(grid, row, col, radius, 0)
    window = window.at[..., 0].set(1.0 - window[..., 0])
    offset = (state.agent - (jnp.stack([row, col]) * UNIT + UNIT // 2)) / (UNIT // 2)
    left = jnp.maximum(EAT_TIMEOUT - (state.time - state.eat_time), 0) / EAT_TIMEOUT
    extras = jnp.concatenate(
        [offset, state.agent_dir, left[None]],
    ).astype(jnp.float32)
    return jnp.concatenate([window.reshape(-1), extras])

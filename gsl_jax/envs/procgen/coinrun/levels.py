"""Coinrun's levels: the world's constants, the state, per-column tile queries and the level
generator (coinrun.cpp ``generate_coin_to_the_right`` and ``game_reset``; our own code).

A level is stored per column (:class:`CoinRunState`): ground height, an optional ledge, lava
depth, crate pile top and the row of a saw or the coin. :class:`Columns` answers tile queries
from those parameters, so no 64 x 64 grid is ever built.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.procgen.coinrun.art import AGENTS, BACKGROUNDS, GROUNDS
from gsl_jax.envs.procgen.grid import level_key
from gsl_jax.envs.procgen.movement import Body, PlatformerParams

#: World size (coinrun.cpp: ``main_width = main_height = 64``).
WORLD = 64
#: Columns of wall stored on each side of the world so camera windows never leave the arrays.
PAD = 8
NUM_COLS = WORLD + 2 * PAD
#: Ground height of a column that is wall from top to bottom.
FULL = WORLD
#: Rows at and above this one are wall (Procgen: row 63 is wall, above is out of bounds).
TOP_WALL_ROW = WORLD - 1
MAX_SECTIONS = 5  # num_sections = randn(dif) + dif <= 5
#: Widest pit: coinrun.cpp ``max_dx = int(maxspeed * 2 * max_jump / gravity - 0.5)``.
MAX_PIT = 7
#: Highest rise of a section: coinrun.cpp ``max_dy = int(max_jump^2 / (2 gravity) - 0.5)``.
MAX_DY = 5
#: One slot per pit column of every section (pits hold the most enemies).
NUM_ENEMIES = MAX_SECTIONS * MAX_PIT
ENEMY_SPEED = 0.15

#: coinrun.cpp ``game_reset`` / constructor: the agent's body and controls.
AGENT = PlatformerParams(
    gravity=0.2, max_jump=1.5, maxspeed=0.5, mixrate=0.2, air_control=0.15, rx=0.5, ry=0.5787
)

# Tile types (of the level; the renderer maps them to art).
SPACE, WALL_MID, WALL_TOP, LAVA_MID, LAVA_TOP, CRATE, COIN, SAW = range(8)

_SALT = 0x434F494E  # "COIN"


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------
@struct.dataclass
class CoinRunState:
    """State of one coinrun episode. Column arrays are ``[NUM_COLS]`` int8, index ``c + PAD``
    for world column ``c`` (the ``PAD`` columns on each side are wall); enemy arrays are
    ``[NUM_ENEMIES]``.

    Attributes:
        ground: rows ``[0, ground)`` are wall (``FULL``: the whole column).
        ledge: a one-tile wall ledge at this row (pit middles), ``-1`` for none.
        lava: rows ``[1, lava]`` are lava, 0 for none.
        crate_top: rows ``[ground, crate_top)`` hold crates.
        special: the row of the column's saw, or of the coin in column ``coin_col``; -1 none.
        coin_col: int32 ``[]`` world column of the coin.
        enemy_x, enemy_vx: float32 enemy centres and velocities (y = ``enemy_row + 0.5``).
        enemy_row: int32 tile row of each enemy.
        enemy_lo, enemy_hi: float32 x of the walls an enemy turns at (left wall's right face,
            right wall's left face).
        enemy_slow_lo, enemy_slow_hi: bool, that wall also blocks (bounces cost speed).
        enemy_alive: bool, the slot holds an enemy.
        body: the agent (:class:`~gsl_jax.envs.procgen.movement.Body`).
        last_y: float32 ``[]`` the agent's ``y`` at the end of the previous step.
        on_crate: bool ``[]`` a crate caught the agent last step (counts as ground).
        facing_right: bool ``[]``.
        pose: int32 ``[]`` sprite: 0 standing, 1 and 2 the two walking frames.
        theme: int32 ``[]`` palette index (background, ground and agent theme together).
        bg_offset: int32 ``[]`` horizontal phase of the background pattern.
        time: int32 ``[]`` steps taken.
        variation: int32 ``[]`` level seed.
    """

    ground: jax.Array
    ledge: jax.Array
    lava: jax.Array
    crate_top: jax.Array
    special: jax.Array
    coin_col: jax.Array
    enemy_x: jax.Array
    enemy_vx: jax.Array
    enemy_row: jax.Array
    enemy_lo: jax.Array
    enemy_hi: jax.Array
    enemy_slow_lo: jax.Array
    enemy_slow_hi: jax.Array
    enemy_alive: jax.Array
    body: Body
    last_y: jax.Array
    on_crate: jax.Array
    facing_right: jax.Array
    pose: jax.Array
    theme: jax.Array
    bg_offset: jax.Array
    time: jax.Array
    variation: jax.Array


class Columns(struct.PyTreeNode):
    """int32 column parameters of a run of columns (any shape), see :class:`CoinRunState`."""

    ground: jax.Array
    ledge: jax.Array
    lava: jax.Array
    crate_top: jax.Array
    special: jax.Array
    is_coin: jax.Array

    @classmethod
    def gather(cls, state: CoinRunState, cols: jax.Array) -> Columns:
        """The parameters of world columns ``cols`` (int32, any shape; clipped to the stored
        range, whose edges are wall)."""
        idx = jnp.clip(cols + PAD, 0, NUM_COLS - 1)
        return cls(
            ground=state.ground[idx].astype(jnp.int32),
            ledge=state.ledge[idx].astype(jnp.int32),
            lava=state.lava[idx].astype(jnp.int32),
            crate_top=state.crate_top[idx].astype(jnp.int32),
            special=state.special[idx].astype(jnp.int32),
            is_coin=cols == state.coin_col,
        )

    @classmethod
    def window(cls, state: CoinRunState, first: jax.Array, size: int) -> Columns:
        """The parameters of the ``size`` world columns starting at ``first`` (int32 ``[]``;
        must keep the window inside the padded arrays)."""
        start = first + PAD

        def take(a: jax.Array) -> jax.Array:
            return jax.lax.dynamic_slice(a, (start,), (size,)).astype(jnp.int32)

        cols = first + jnp.arange(size, dtype=jnp.int32)
        return cls(
            ground=take(state.ground),
            ledge=take(state.ledge),
            lava=take(state.lava),
            crate_top=take(state.crate_top),
            special=take(state.special),
            is_coin=cols == state.coin_col,
        )

    def solid(self, rows: jax.Array) -> jax.Array:
        """bool: the tile at ``rows`` (broadcast against the columns) is wall."""
        return (rows < self.ground) | (rows == self.ledge) | (rows < 0) | (rows >= TOP_WALL_ROW)

    def crate(self, rows: jax.Array) -> jax.Array:
        """bool: the tile at ``rows`` holds a crate."""
        return (rows >= self.ground) & (rows < self.crate_top)

    def types(self, rows: jax.Array) -> jax.Array:
        """int32 tile types at ``rows`` (broadcast against the columns)."""
        t = jnp.where(self.crate(rows), CRATE, SPACE)
        t = jnp.where(rows == self.special, jnp.where(self.is_coin, COIN, SAW), t)
        t = jnp.where((rows >= 1) & (rows <= self.lava), LAVA_MID, t)
        t = jnp.where((rows == self.lava) & (self.lava > 0), LAVA_TOP, t)
        t = jnp.where(rows == self.ledge, WALL_TOP, t)
        top = (rows == self.ground - 1) & (self.ground < FULL)
        t = jnp.where(rows < self.ground, jnp.where(top, WALL_TOP, WALL_MID), t)
        return jnp.where((rows < 0) | (rows >= TOP_WALL_ROW), WALL_MID, t)


def randn(u: jax.Array, n: jax.Array) -> jax.Array:
    """Procgen's ``randn(n)``: uniform in ``{0, ..., n - 1}`` from a uniform ``u`` in [0, 1)."""
    n = jnp.maximum(jnp.asarray(n, jnp.int32), 1)
    return jnp.minimum((u * n.astype(jnp.float32)).astype(jnp.int32), n - 1)


def generate_level(seed: jax.Array, hard: bool) -> CoinRunState:
    """Level ``seed`` (int32 ``[]``) from the seed alone (coinrun.cpp
    ``generate_coin_to_the_right`` and ``game_reset``); ``hard`` adds enemies on flat sections
    and draws the level's themes (easy mode keeps Procgen's first ones)."""
    # All of the level's uniforms in one draw (one PRNG call compiles faster than several).
    n_sec, n_dir = MAX_SECTIONS * 20, MAX_SECTIONS * MAX_PIT
    u = jax.random.uniform(level_key(seed, _SALT), (3 + n_sec + n_dir + 4,))
    u_level, u_theme = u[:3], u[-4:]
    u_sec = u[3 : 3 + n_sec].reshape(MAX_SECTIONS, 20)
    u_dir = u[3 + n_sec : 3 + n_sec + n_dir].reshape(MAX_SECTIONS, MAX_PIT)
    dif = randn(u_level[0], 3) + 1
    num_sections = randn(u_level[1], dif) + dif
    danger = randn(u_level[2], 3)  # 0 lava, 1 saws, 2 enemies at the bottom of pits
    sec = sections(u_sec, dif, num_sections, hard)

    # Columns: sections are disjoint runs of columns, so each column takes the values of
    # the (at most one) section it lies in: [S, C] arrays reduced over S.
    cols = jnp.arange(NUM_COLS, dtype=jnp.int32) - PAD
    c = cols[None, :]
    o = c - sec["start"][:, None]  # offset into each section
    in_sec = sec["alive"][:, None] & (o >= 0) & (o < sec["dx"][:, None])
    pit = sec["pit"][:, None]
    y = sec["y"][:, None]
    inner = in_sec & pit & (o >= sec["x1"][:, None]) & (o < (sec["dx"] - sec["x2"])[:, None])
    covered = jnp.any(in_sec, axis=0)
    # The floor (row 0) everywhere; walls at columns 0 and 63 and outside the world.
    ground = jnp.where((cols <= 0) | (cols >= WORLD - 1), FULL, 1)
    ground = jnp.where(covered, jnp.max(jnp.where(in_sec, jnp.where(inner, 1, y), 0), 0), ground)
    lava = jnp.max(jnp.where(inner & (danger == 0), sec["lava"][:, None], 0), axis=0)
    saw = jnp.where(inner & (danger == 1), 1, -1)
    saw = jnp.where(in_sec & (c == sec["saw_x"][:, None]), y, saw)
    special = jnp.max(saw, axis=0)
    ledge_lo = (sec["x1"] + sec["x3"])[:, None]
    on_ledge = in_sec & sec["ledge"][:, None] & (o >= ledge_lo)
    on_ledge = on_ledge & (o < ledge_lo + sec["w1"][:, None])
    ledge = jnp.max(jnp.where(on_ledge, y - 1, -1), axis=0)
    crate_top = jnp.zeros(NUM_COLS, jnp.int32)
    for j in range(2):
        pile = in_sec & (c == sec["crate_x"][:, j, None]) & (sec["crate_h"][:, j, None] > 0)
        top = jnp.where(pile, y + sec["crate_h"][:, j, None], 0)
        crate_top = jnp.maximum(crate_top, jnp.max(top, axis=0))

    # The coin on a pillar after the last section; wall from the next column on.
    last = jnp.maximum(num_sections - 1, 0)
    coin_col = sec["start"][last] + sec["dx"][last]
    coin_row = sec["y"][last]
    ground = jnp.where(cols == coin_col, coin_row, ground)
    ground = jnp.where(cols > coin_col, FULL, ground)
    special = jnp.where(cols == coin_col, coin_row, special)

    enemy_fields = enemies(sec, danger, u_dir)
    agent_theme, wall_theme, bg_theme = 0, 0, 0
    if hard:  # easy mode keeps Procgen's first themes
        agent_theme = randn(u_theme[0], len(AGENTS))
        wall_theme = randn(u_theme[1], len(GROUNDS))
        bg_theme = randn(u_theme[2], len(BACKGROUNDS))
    theme = (bg_theme * len(GROUNDS) + wall_theme) * len(AGENTS) + agent_theme

    body = Body.at(1.0 + AGENT.rx, 1.0 + AGENT.ry)
    i8 = jnp.int8
    return CoinRunState(
        ground=ground.astype(i8),
        ledge=ledge.astype(i8),
        lava=lava.astype(i8),
        crate_top=crate_top.astype(i8),
        special=special.astype(i8),
        coin_col=coin_col.astype(jnp.int32),
        **enemy_fields,
        body=body,
        last_y=body.y,
        on_crate=jnp.zeros((), jnp.bool_),
        facing_right=jnp.ones((), jnp.bool_),
        pose=jnp.ones((), jnp.int32),
        theme=jnp.asarray(theme, jnp.int32),
        bg_offset=randn(u_theme[3], 4),
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )


def sections(
    u_sec: jax.Array, dif: jax.Array, num_sections: jax.Array, hard: bool
) -> dict[str, jax.Array]:
    """The sections' parameters, ``[MAX_SECTIONS]`` each (``crate_x``, ``crate_h``
    ``[MAX_SECTIONS, 2]``; ``crate_h`` 0 where no pile was placed), from uniforms
    ``u_sec [MAX_SECTIONS, 20]`` (coinrun.cpp ``generate_coin_to_the_right``'s loop)."""

    def section(carry: tuple, xs: tuple) -> tuple:
        curr_x, curr_y, alive = carry
        i, u = xs
        # coinrun.cpp stops adding sections 15 columns before the edge (never reached
        # with at most 5 sections of at most 9 columns).
        alive = alive & (i < num_sections) & (curr_x + 15 < WORLD)
        dy = jnp.minimum(randn(u[0], 4) + 1 + dif // 3, MAX_DY)
        flip = (curr_y >= 20) | ((curr_y >= 5) & (randn(u[1], 2) == 1))
        dy = jnp.where(flip, -dy, dy)
        dx = randn(u[2], 2 * dif) + 3 + dif // 3
        y = jnp.maximum(curr_y + dy, 1)
        pit = (dx > 7) & (y > 3) & (randn(u[3], 20) >= dif)
        x1 = randn(u[4], 3) + 1
        x2 = randn(u[5], 3) + 1
        width = dx - x1 - x2
        x2 = jnp.where(width > MAX_PIT, dx - x1 - MAX_PIT, x2)
        width = jnp.minimum(width, MAX_PIT)
        r_a, r_b = randn(u[7], 2), randn(u[8], 2)
        x3 = jnp.where(width == 5, 1 + r_a, 2 + r_a)
        w1 = jnp.where(width <= 6, 1 + randn(u[9], 2), width - x3 - (2 + r_b))
        saw = ~pit & (randn(u[10], 10) < 2 * dif) & (dx > 3)
        saw_x = jnp.where(saw, curr_x + randn(u[11], dx - 2) + 1, -1)
        enemy = ~pit & (randn(u[12], 10) < dif) & (dx > 3) & hard
        enemy_x = jnp.where(enemy, curr_x + randn(u[13], dx - 2) + 1, -1)
        crate_x = curr_x + randn(u[14:16], dx - 2) + 1
        put = ~pit & (randn(u[16:18], 2) == 1) & (crate_x != saw_x) & (crate_x != enemy_x)
        crate_h = jnp.where(put, randn(u[18:20], 3) + 1, 0)
        out = {
            "alive": alive,
            "start": curr_x,
            "dx": dx,
            "y": y,
            "pit": pit,
            "x1": x1,
            "x2": x2,
            "width": width,
            "lava": randn(u[6], y - 3) + 1,
            "x3": x3,
            "w1": w1,
            "ledge": pit & (width > 4),
            "saw_x": saw_x,
            "enemy_x": enemy_x,
            "crate_x": crate_x,
            "crate_h": crate_h,
        }
        carry = (
            jnp.where(alive, curr_x + dx, curr_x),
            jnp.where(alive, y, curr_y),
            alive,
        )
        return carry, out

    carry = (jnp.int32(5), jnp.int32(1), jnp.bool_(True))
    steps = (jnp.arange(MAX_SECTIONS, dtype=jnp.int32), u_sec)
    return jax.lax.scan(section, carry, steps)[1]


def enemies(sec: dict[str, jax.Array], danger: jax.Array, u_dir: jax.Array) -> dict[str, jax.Array]:
    """The enemy fields of :class:`CoinRunState` (``[NUM_ENEMIES]``, slot
    ``MAX_PIT * section + j``): one per pit column at the bottom of a pit (danger type 2),
    or one on a flat section (hard mode), with the walls they turn at. ``u_dir``
    ``[MAX_SECTIONS, MAX_PIT]`` uniforms pick each one's direction."""
    j = jnp.arange(MAX_PIT, dtype=jnp.int32)[None, :]
    alive = sec["alive"][:, None]
    start, dx, y = sec["start"][:, None], sec["dx"][:, None], sec["y"][:, None]
    x1, x2 = sec["x1"][:, None], sec["x2"][:, None]
    in_pit = alive & sec["pit"][:, None] & (danger == 2) & (j < sec["width"][:, None])
    on_flat = alive & (sec["enemy_x"][:, None] >= 0) & (j == 0)
    # Neighbours: the previous section's height (1 for the start area) and whether the
    # section is the last one, with the next one's height.
    prev_y = jnp.concatenate([jnp.ones(1, jnp.int32), sec["y"][:-1]])[:, None]
    nxt_alive = jnp.concatenate([sec["alive"][1:], jnp.zeros(1, bool)])[:, None]
    nxt_y = jnp.concatenate([sec["y"][1:], sec["y"][-1:]])[:, None]
    last = ~nxt_alive
    # A pit enemy turns at the pit's walls (WALL_MID at row 1: they block as well). A flat
    # one turns at the column before its section (wall if the previous section is higher,
    # WALL_MID if 2+ rows higher; else Procgen's barrier) and at the column after it (the
    # next section's ground, or a barrier); after the last section it walks over the coin's
    # tile to the wall behind it.
    x = jnp.where(in_pit, start + x1 + j, sec["enemy_x"][:, None]).astype(jnp.float32) + 0.5
    lo = jnp.where(in_pit, start + x1, start).astype(jnp.float32)
    hi = jnp.where(in_pit, start + dx - x2, jnp.where(last, start + dx + 1, start + dx))
    slow_lo = in_pit | (prev_y >= y + 2)
    slow_hi = in_pit | last | (nxt_y >= y + 2)
    live = in_pit | on_flat
    vx = ENEMY_SPEED * (2 * (u_dir >= 0.5).astype(jnp.float32) - 1)
    inf = jnp.float32(jnp.inf)
    flat = lambda a: a.reshape(-1)  # noqa: E731
    return {
        "enemy_x": flat(jnp.where(live, x, -100.0)),
        "enemy_vx": flat(jnp.where(live, vx, 0.0)),
        "enemy_row": flat(jnp.where(in_pit, 1, jnp.broadcast_to(y, live.shape))),
        "enemy_lo": flat(jnp.where(live, lo, -inf)),
        "enemy_hi": flat(jnp.where(live, hi.astype(jnp.float32), inf)),
        "enemy_slow_lo": flat(live & slow_lo),
        "enemy_slow_hi": flat(live & slow_hi),
        "enemy_alive": flat(live),
    }

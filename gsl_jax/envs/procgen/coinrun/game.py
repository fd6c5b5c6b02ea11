"""Procgen *coinrun* in JAX: run right over platforms, crates and pits, past saws, lava and
enemies, to the coin at the end of the level.

Rules (from openai/procgen ``src/games/coinrun.cpp``, ``basic-abstract-game.cpp`` and
``game.cpp``; our own code):

* World: 64 x 64 tiles, ``y`` up; column 0, column 63 and everything right of the coin are wall.
  The agent (a ``1 x 1.157`` box, ``rx = 0.5, ry = 0.5787``) starts at ``(1.5, 1.5787)`` on
  the floor (row 0).
* Level: a difficulty ``dif`` uniform in ``{1, 2, 3}``, ``dif .. 2 dif - 1`` sections starting
  at column 5 and row 1. Each section rises by ``dy = randn(4) + 1 + dif / 3`` (at most 5,
  the jump's reach), or falls by it when above row 20, or with probability 1/2 above row 5, and
  is ``dx = randn(2 dif) + 3 + dif / 3`` columns long. A long section (``dx > 7``) above row 3
  is a pit with probability ``(20 - dif) / 20``: ground blocks of width ``x1, x2`` in
  ``{1, 2, 3}`` at both ends, a bottom of lava (``randn(y - 3) + 1`` rows), saws or walking
  enemies (one per column) depending on the level's danger type, and, when the pit is wider than
  4, a one-tile ledge at the rim's height in its middle. Any other section is flat ground with,
  with probability ``2 dif / 10``, a saw; in hard mode with probability ``dif / 10`` an enemy;
  and two tries (probability 1/2 each) at a pile of 1-3 crates. The coin sits on a one-column
  pillar after the last section.
* Easy mode differs from hard only in that no enemies walk on the flat sections (pits can still
  hold enemies) and the look is fixed (one background, ground and agent theme).
* Physics (:mod:`gsl_jax.envs.procgen.physics`): gravity 0.2, jump speed 1.5 (a jump rises
  6.4 tiles), horizontal speed 0.5 reached with mixrate 0.2 on the ground and 0.03 in the air;
  sub-stepped, axis-separated collision against walls; crates are one-way platforms (landed on
  from above, walked and jumped through, dropped through with DOWN). UP jumps only from the
  ground. Enemies walk at 0.15 tiles/step and turn at walls and at the ends of their section.
* Actions: Procgen's 15 (:data:`~gsl_jax.envs.procgen.grid.ACTION_NAMES`); ``move = action``
  for ``action < 9`` (``vx = move / 3 - 1``, ``vy = move % 3 - 1``) and NOOP for the special
  buttons 9-14.
* Touching the coin gives reward 10 and ends the episode with the level complete
  (``info["success"]``). Touching lava, a saw or an enemy ends it with no reward. Otherwise the
  episode is truncated after 1000 steps (game.cpp's default timeout).

Variation = level seed (int32 in ``[0, 2**31 - 1)``): the level is a function of the seed alone
(``deterministic_reset``). Our generator draws from ``jax.random``, not Procgen's mt19937, so
level ``s`` is not Procgen's level ``s``; the level *distribution* follows the same procedure.

Observations (``obs_mode``):

* ``"pixels"``: uint8 ``[64, 64, 3]``, Procgen's agent-centred camera (``center_agent``,
  ``visibility = 13``): the level scrolls under the agent, which is always drawn at the centre of
  the frame; outside the world reads as wall. We draw tiles 5 pixels wide on a camera that
  snaps to whole pixels (0.2 tiles), so the view is 12.8 tiles across (Procgen: 13 tiles of
  4.92 pixels, scrolled with sub-pixel offsets). Our own art: a themed background (6 themes),
  ground (6 themes), lava, crates, coin, saws, slimes and an alien (5 colours); hard mode draws
  the three themes per level, easy mode always uses the first, as Procgen does.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 9]`` (default ``r = 6``, a 13 x 13 window like the
  camera's), image order (row 0 at the top), centred on the agent's tile
  ``(floor(x), floor(y))``. Channels: 0 solid ground, 1 crate, 2 hazard (lava or saw),
  3 enemy (the fraction of the tile's width an enemy covers), 4 coin, then four constant
  planes: 5 ``vx / 0.5``, 6 ``vy / 1.5``, 7 ``x - floor(x) - 0.5`` and 8 ``y - floor(y) - 0.5``
  (the agent's velocity and its position inside its tile, repeated over the window so the
  observation stays one ``[H, W, C]`` array). Values lie in ``[-1, 1]``.

Differences from the C++ game (all on purpose):

* Enemy barriers are not tiles: each enemy's patrol bounds (and whether the wall it turns at also
  slows it, as Procgen's ``WALL_MID`` does) are computed at generation. Enemies ignore crates
  (Procgen lets them interact through a player-velocity-dependent crate rule, a C++ quirk).
* Crates are tiles of one look (Procgen draws 4 crate images), enemies have one look (Procgen
  9), and the ``TRAIL`` puffs behind enemies are not drawn. Where two enemies overlap, one is
  drawn; a (hard-mode) enemy in front of a crate or saw hides it.
* An exact speed tie ``|vx| == |vy|`` picks x first instead of at random (see
  :func:`~gsl_jax.envs.procgen.physics.x_moves_first`).
* Rows 63 and above (never reached or seen) are wall.

Fidelity (against EnvPool's build of the real game, full level distribution): the blind
RIGHT+UP policy completes 68% of easy levels in 62.5 steps on average here and 66.5% in
62.5 steps there (hard: 63.8% / 59.7 steps vs 61.0% / 60.4); the uniform random policy scores
2.86 in 657 steps here vs 2.71 in 620 there (hard: 2.72 / 611 vs 2.60 / 596).

Speed (2-core CPU, ``VecEnv(CoinRun(), 256)``, random actions, jitted ``lax.scan`` of 100 steps,
measured as CPU time per step): about 11 us per step with a level bank and 16 us without in
pixel mode, 5.5 us and 10 us in symbolic mode, i.e. roughly 175k / 125k / 365k / 200k steps/s on
two free cores (EnvPool's C++ coinrun: about 48 us, 40k steps/s).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Info, StateEnvironment, make_info
from gsl_jax.envs.procgen.grid import NUM_ACTIONS, level_key
from gsl_jax.envs.procgen.options import check_port_options
from gsl_jax.envs.procgen.physics import (
    Body,
    PlatformerParams,
    box_overlap,
    move_body,
    patrol_step,
    tile_index,
)
from gsl_jax.envs.procgen.render import FRAME_SIZE

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
#: Reward for the coin (coinrun.cpp ``GOAL_REWARD``).
REWARD = 10.0
#: game.cpp's default ``timeout``.
TIMEOUT = 1000
OBS_MODES = ("pixels", "symbolic")
MODES = ("easy", "hard")
NUM_CHANNELS = 9

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
        body: the agent (:class:`~gsl_jax.envs.procgen.physics.Body`).
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


def _randn(u: jax.Array, n: jax.Array) -> jax.Array:
    """Procgen's ``randn(n)``: uniform in ``{0, ..., n - 1}`` from a uniform ``u`` in [0, 1)."""
    n = jnp.maximum(jnp.asarray(n, jnp.int32), 1)
    return jnp.minimum((u * n.astype(jnp.float32)).astype(jnp.int32), n - 1)


# --------------------------------------------------------------------------------------------
# Art
# --------------------------------------------------------------------------------------------
# Palette entries.
BG_SKY, BG_CLOUD, BG_DOT = 0, 1, 2
WM_BASE, WM_DARK, WM_LIGHT, WT_TOP, WT_TOP2 = 3, 4, 5, 6, 7
LV_BASE, LV_BRIGHT, LV_DARK = 8, 9, 10
CR_WOOD, CR_DARK, CR_LIGHT = 11, 12, 13
CO_GOLD, CO_DARK, CO_SHINE = 14, 15, 16
SW_METAL, SW_DARK, SW_HUB = 17, 18, 19
AG_BODY, AG_DARK, AG_EYE, AG_PUPIL = 20, 21, 22, 23
EN_BODY, EN_DARK, EN_EYE, EN_PUPIL = 24, 25, 26, 27
NUM_ENTRIES = 32

#: (sky, cloud, dot) per background theme: alien dusk (easy's), day, night, desert, cave, toxic.
BACKGROUNDS = (
    ((78, 60, 116), (118, 92, 150), (196, 150, 210)),
    ((112, 176, 228), (226, 238, 248), (170, 210, 240)),
    ((22, 28, 64), (48, 56, 96), (238, 226, 140)),
    ((222, 184, 126), (240, 214, 168), (196, 150, 96)),
    ((52, 40, 36), (72, 58, 50), (112, 92, 70)),
    ((40, 84, 64), (64, 116, 86), (150, 206, 120)),
)
#: (base, dark, light, top, top highlight) per ground theme: dirt (easy's), grass, planet, sand,
#: snow, stone.
GROUNDS = (
    ((134, 92, 58), (104, 70, 44), (160, 116, 78), (96, 168, 64), (128, 196, 84)),
    ((116, 84, 52), (90, 64, 40), (142, 106, 70), (58, 150, 58), (92, 186, 80)),
    ((96, 100, 124), (74, 78, 100), (122, 128, 150), (150, 110, 170), (184, 140, 204)),
    ((214, 186, 122), (190, 160, 100), (232, 208, 150), (236, 216, 160), (248, 234, 190)),
    ((150, 170, 196), (122, 142, 170), (184, 200, 220), (236, 242, 250), (255, 255, 255)),
    ((120, 120, 120), (94, 94, 94), (146, 146, 146), (160, 160, 152), (186, 186, 176)),
)
#: (body, dark) per agent colour: beige (easy's), blue, green, pink, yellow.
AGENTS = (
    ((230, 200, 160), (186, 150, 112)),
    ((96, 150, 230), (60, 104, 180)),
    ((110, 200, 110), (70, 150, 70)),
    ((240, 140, 180), (196, 96, 136)),
    ((246, 216, 80), (200, 168, 40)),
)
NUM_THEMES = len(BACKGROUNDS) * len(GROUNDS) * len(AGENTS)

#: Pixels (= texels) per tile: the renderer draws tiles 5 pixels wide, so the 64-pixel frame
#: shows 12.8 tiles (Procgen: 13 tiles of 4.92 pixels).
TILE_PX = 5
#: Tiles a 64-pixel view can touch (the canvas is 70 x 70 pixels).
VIEW_TILES = 14
CANVAS = VIEW_TILES * TILE_PX
_CLEAR = 255  # transparent sprite texel
#: Tile looks of the base layer (opaque); 0 is the background.
B_SKY, B_WALL_MID, B_WALL_TOP, B_LAVA_MID, B_LAVA_TOP, B_CRATE = range(6)
#: Sprite looks drawn over the base layer.
P_NONE, P_COIN, P_SAW = 0, 1, 2  # saws have two frames: 2 and 3
#: The agent covers frame rows 28-34 and columns 29-33: it is always drawn at the centre
#: (pixel 32 is its centre; Procgen's alien is 1 tile wide).
_AGENT_ROWS = (28, 35)
_AGENT_COLS = (29, 34)
#: Base look and sprite part of each tile type (SPACE, WALL_MID, WALL_TOP, LAVA_MID, LAVA_TOP,
#: CRATE, COIN, SAW).
_BASE_OF_TYPE = np.array([B_SKY, B_WALL_MID, B_WALL_TOP, B_LAVA_MID, B_LAVA_TOP, B_CRATE, 0, 0])
_PART_OF_TYPE = np.array([P_NONE] * 6 + [P_COIN, P_SAW])


def _palettes() -> np.ndarray:
    """uint8 ``[NUM_THEMES, NUM_ENTRIES, 3]``; theme ``(bg * 6 + ground) * 5 + agent``."""
    fixed = {
        LV_BASE: (232, 96, 24),
        LV_BRIGHT: (255, 196, 64),
        LV_DARK: (176, 52, 16),
        CR_WOOD: (190, 130, 60),
        CR_DARK: (120, 76, 32),
        CR_LIGHT: (222, 170, 96),
        CO_GOLD: (250, 204, 40),
        CO_DARK: (196, 140, 20),
        CO_SHINE: (255, 246, 190),
        SW_METAL: (196, 200, 208),
        SW_DARK: (110, 116, 126),
        SW_HUB: (60, 62, 70),
        AG_EYE: (250, 250, 250),
        AG_PUPIL: (20, 20, 30),
        EN_BODY: (150, 70, 200),
        EN_DARK: (90, 36, 130),
        EN_EYE: (250, 250, 250),
        EN_PUPIL: (20, 20, 30),
    }
    out = np.zeros((NUM_THEMES, NUM_ENTRIES, 3), np.uint8)
    for b, bg in enumerate(BACKGROUNDS):
        for g, gr in enumerate(GROUNDS):
            for a, ag in enumerate(AGENTS):
                pal = out[(b * len(GROUNDS) + g) * len(AGENTS) + a]
                pal[[BG_SKY, BG_CLOUD, BG_DOT]] = bg
                pal[[WM_BASE, WM_DARK, WM_LIGHT, WT_TOP, WT_TOP2]] = gr
                pal[[AG_BODY, AG_DARK]] = ag
                for entry, rgb in fixed.items():
                    pal[entry] = rgb
    return out


def _pattern(rows: list[str], key: dict[str, int]) -> np.ndarray:
    return np.array([[key[ch] for ch in row] for row in rows], np.uint8)


def _tile_art() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Our own 5 x 5 art (palette entries, row 0 at the top).

    Returns:
        ``(motif, bases, parts)``: uint8 ``[20, 20]`` background pattern of 4 x 4 tiles; uint8
        ``[6, 5, 5]`` base tiles (index ``B_*``; 0 unused, the background shows); uint8
        ``[4, 5, 5]`` sprite parts (index ``P_*``, ``_CLEAR`` where the base shows).
    """
    n = 4 * TILE_PX
    yy, xx = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
    motif = np.full((n, n), BG_SKY, np.uint8)
    cloud = (((yy - 6) / 2.6) ** 2 + ((xx - 7) / 5.5) ** 2 <= 1) | (
        ((yy - 4.5) / 2.2) ** 2 + ((xx - 9.5) / 3.0) ** 2 <= 1
    )
    motif[cloud] = BG_CLOUD
    for y0, x0 in ((14, 3), (17, 14), (11, 17), (2, 17), (18, 7)):
        motif[y0, x0] = BG_DOT
    k = {
        "m": WM_BASE,
        "d": WM_DARK,
        "l": WM_LIGHT,
        "t": WT_TOP,
        "T": WT_TOP2,
        "v": LV_BASE,
        "V": LV_BRIGHT,
        "x": LV_DARK,
        "w": CR_WOOD,
        "W": CR_DARK,
        "L": CR_LIGHT,
        "g": CO_GOLD,
        "G": CO_DARK,
        "s": CO_SHINE,
        "a": SW_METAL,
        "A": SW_DARK,
        "h": SW_HUB,
        ".": _CLEAR,
    }
    bases = np.zeros((6, TILE_PX, TILE_PX), np.uint8)
    bases[B_WALL_MID] = _pattern(["mmdml", "mlmmd", "dmmlm", "mmdmm", "lmmmd"], k)
    bases[B_WALL_TOP] = _pattern(["TtTtT", "ttttt", "tmtdt", "mmmlm", "ldmmm"], k)
    bases[B_LAVA_MID] = _pattern(["vvxvV", "vVvvv", "vvvxv", "xvVvv", "vvvvx"], k)
    bases[B_LAVA_TOP] = _pattern(["VvVVv", "vVvvV", "vvxvv", "vVvvv", "vvvVx"], k)
    bases[B_CRATE] = _pattern(["WWWWW", "WLwLW", "WwLwW", "WLwLW", "WWWWW"], k)
    parts = np.full((4, TILE_PX, TILE_PX), _CLEAR, np.uint8)
    parts[P_COIN] = _pattern([".GGG.", "GgsgG", "GggsG", "GgggG", ".GGG."], k)
    parts[P_SAW] = _pattern(["a.a.a", ".aAa.", "aAhAa", ".aAa.", "a.a.a"], k)
    parts[P_SAW + 1] = _pattern(["..a..", "aaAaa", ".AhA.", "aaAaa", "..a.."], k)
    return motif, bases, parts


def _agent_sprites() -> np.ndarray:
    """uint8 ``[3 poses, 2 facings (left, right), 7, 5]`` the alien (``_CLEAR`` around it);
    poses: standing, walking frame 1, walking frame 2."""
    key = {".": _CLEAR, "A": AG_BODY, "D": AG_DARK, "E": AG_EYE, "P": AG_PUPIL}
    head = [".AAA.", ".AAEP", ".AAA.", "DAAAD", ".AAA."]
    legs = {0: [".A.A.", ".D.D."], 1: ["A...A", "D...D"], 2: [".A.A.", "D...D"]}
    out = np.zeros((3, 2, 7, 5), np.uint8)
    for pose in range(3):
        right = _pattern(head + legs[pose], key)
        out[pose, 1] = right
        out[pose, 0] = right[:, ::-1]
    return out


# --------------------------------------------------------------------------------------------
# The game
# --------------------------------------------------------------------------------------------
class CoinRun(StateEnvironment):
    """Procgen coinrun (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` or ``"hard"``.
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``, agent-centred camera) or
            ``"symbolic"`` (float32 ``[2r + 1, 2r + 1, 9]`` window).
        view_radius: ``r`` of the symbolic window, 1 to 8; default 6 (13 x 13 tiles, the
            camera's view). Ignored in pixel mode.
        timeout: episode step limit (Procgen: 1000).
        **options: no other options exist; any given raises ``ValueError`` naming it.
    """

    num_variations = 2**31 - 1
    action_space = Discrete(NUM_ACTIONS)
    deterministic_reset = True  # a level is a function of its seed alone

    def __init__(
        self,
        distribution_mode: str = "easy",
        obs_mode: str = "pixels",
        view_radius: int = 6,
        timeout: int = TIMEOUT,
        **options: Any,
    ):
        check_port_options(
            "CoinRun",
            options,
            ["distribution_mode", "obs_mode", "view_radius", "timeout"],
            distribution_mode,
            list(MODES),
            obs_mode,
            OBS_MODES,
            timeout,
        )
        if (
            not isinstance(view_radius, int | np.integer)
            or isinstance(view_radius, bool)
            or not 1 <= view_radius <= PAD
        ):
            raise ValueError(f"view_radius: must be an int in [1, {PAD}], got {view_radius!r}")
        self.distribution_mode = distribution_mode
        self.obs_mode = obs_mode
        self.view_radius = int(view_radius)
        self.timeout = int(timeout)
        self.max_episode_steps = self.timeout
        self.params = AGENT
        if obs_mode == "pixels":
            self.observation_space = Box((FRAME_SIZE, FRAME_SIZE, 3), 0, 255, jnp.uint8)
        else:
            side = 2 * self.view_radius + 1
            self.observation_space = Box((side, side, NUM_CHANNELS), -1.0, 1.0, jnp.float32)
        motif, bases, parts = _tile_art()
        # Static canvas-sized art: a tile look repeated over the 14 x 14-tile canvas, so
        # drawing a look is one select against a constant; the background pattern is tiled
        # large enough to be cut out at any phase.
        reps = (VIEW_TILES, VIEW_TILES)
        self._bases = np.stack([np.tile(b, reps) for b in bases])  # [6, 70, 70]
        self._parts = np.stack([np.tile(q, reps) for q in parts])  # [4, 70, 70]
        self._motif = np.tile(motif, (5, 5))  # [100, 100]
        self._palettes = _palettes().reshape(NUM_THEMES * NUM_ENTRIES, 3)
        self._agent = _agent_sprites()

    @property
    def name(self) -> str:
        return f"coinrun-{self.distribution_mode}"

    # ----------------------------------------------------------------------------------------
    # Levels
    # ----------------------------------------------------------------------------------------
    def generate(self, seed: jax.Array) -> CoinRunState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone (coinrun.cpp
        ``generate_coin_to_the_right`` and ``game_reset``)."""
        # All of the level's uniforms in one draw (one PRNG call compiles faster than several).
        n_sec, n_dir = MAX_SECTIONS * 20, MAX_SECTIONS * MAX_PIT
        u = jax.random.uniform(level_key(seed, _SALT), (3 + n_sec + n_dir + 4,))
        u_level, u_theme = u[:3], u[-4:]
        u_sec = u[3 : 3 + n_sec].reshape(MAX_SECTIONS, 20)
        u_dir = u[3 + n_sec : 3 + n_sec + n_dir].reshape(MAX_SECTIONS, MAX_PIT)
        dif = _randn(u_level[0], 3) + 1
        num_sections = _randn(u_level[1], dif) + dif
        danger = _randn(u_level[2], 3)  # 0 lava, 1 saws, 2 enemies at the bottom of pits
        sec = self._sections(u_sec, dif, num_sections)

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
        ground = jnp.where(
            covered, jnp.max(jnp.where(in_sec, jnp.where(inner, 1, y), 0), 0), ground
        )
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

        enemies = self._enemies(sec, danger, u_dir)
        agent_theme, wall_theme, bg_theme = 0, 0, 0
        if self.distribution_mode == "hard":  # easy mode keeps Procgen's first themes
            agent_theme = _randn(u_theme[0], len(AGENTS))
            wall_theme = _randn(u_theme[1], len(GROUNDS))
            bg_theme = _randn(u_theme[2], len(BACKGROUNDS))
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
            **enemies,
            body=body,
            last_y=body.y,
            on_crate=jnp.zeros((), jnp.bool_),
            facing_right=jnp.ones((), jnp.bool_),
            pose=jnp.ones((), jnp.int32),
            theme=jnp.asarray(theme, jnp.int32),
            bg_offset=_randn(u_theme[3], 4),
            time=jnp.zeros((), jnp.int32),
            variation=jnp.asarray(seed, jnp.int32),
        )

    def _sections(
        self, u_sec: jax.Array, dif: jax.Array, num_sections: jax.Array
    ) -> dict[str, jax.Array]:
        """The sections' parameters, ``[MAX_SECTIONS]`` each (``crate_x``, ``crate_h``
        ``[MAX_SECTIONS, 2]``; ``crate_h`` 0 where no pile was placed), from uniforms
        ``u_sec [MAX_SECTIONS, 20]`` (coinrun.cpp ``generate_coin_to_the_right``'s loop)."""
        hard = self.distribution_mode == "hard"

        def section(carry: tuple, xs: tuple) -> tuple:
            curr_x, curr_y, alive = carry
            i, u = xs
            # coinrun.cpp stops adding sections 15 columns before the edge (never reached
            # with at most 5 sections of at most 9 columns).
            alive = alive & (i < num_sections) & (curr_x + 15 < WORLD)
            dy = jnp.minimum(_randn(u[0], 4) + 1 + dif // 3, MAX_DY)
            flip = (curr_y >= 20) | ((curr_y >= 5) & (_randn(u[1], 2) == 1))
            dy = jnp.where(flip, -dy, dy)
            dx = _randn(u[2], 2 * dif) + 3 + dif // 3
            y = jnp.maximum(curr_y + dy, 1)
            pit = (dx > 7) & (y > 3) & (_randn(u[3], 20) >= dif)
            x1 = _randn(u[4], 3) + 1
            x2 = _randn(u[5], 3) + 1
            width = dx - x1 - x2
            x2 = jnp.where(width > MAX_PIT, dx - x1 - MAX_PIT, x2)
            width = jnp.minimum(width, MAX_PIT)
            r_a, r_b = _randn(u[7], 2), _randn(u[8], 2)
            x3 = jnp.where(width == 5, 1 + r_a, 2 + r_a)
            w1 = jnp.where(width <= 6, 1 + _randn(u[9], 2), width - x3 - (2 + r_b))
            saw = ~pit & (_randn(u[10], 10) < 2 * dif) & (dx > 3)
            saw_x = jnp.where(saw, curr_x + _randn(u[11], dx - 2) + 1, -1)
            enemy = ~pit & (_randn(u[12], 10) < dif) & (dx > 3) & hard
            enemy_x = jnp.where(enemy, curr_x + _randn(u[13], dx - 2) + 1, -1)
            crate_x = curr_x + _randn(u[14:16], dx - 2) + 1
            put = ~pit & (_randn(u[16:18], 2) == 1) & (crate_x != saw_x) & (crate_x != enemy_x)
            crate_h = jnp.where(put, _randn(u[18:20], 3) + 1, 0)
            out = {
                "alive": alive,
                "start": curr_x,
                "dx": dx,
                "y": y,
                "pit": pit,
                "x1": x1,
                "x2": x2,
                "width": width,
                "lava": _randn(u[6], y - 3) + 1,
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

    def _enemies(
        self, sec: dict[str, jax.Array], danger: jax.Array, u_dir: jax.Array
    ) -> dict[str, jax.Array]:
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

    # ----------------------------------------------------------------------------------------
    # Environment interface
    # ----------------------------------------------------------------------------------------
    def init_state(self, key: jax.Array, variation: jax.Array) -> CoinRunState:
        """Start level ``variation``; ``key`` is unused (the level depends on the seed only)."""
        del key
        return self.generate(jnp.asarray(variation, jnp.int32))

    def transition(
        self, key: jax.Array, state: CoinRunState, action: jax.Array
    ) -> tuple[CoinRunState, jax.Array, jax.Array, Info]:
        del key  # coinrun has no randomness after generation
        p = self.params
        time = state.time + 1
        action = jnp.clip(jnp.asarray(action, jnp.int32), 0, NUM_ACTIONS - 1)
        move = jnp.where(action >= 9, 4, action)  # special buttons stand still
        action_vx = move // 3 - 1
        action_vy = move % 3 - 1
        facing_right = jnp.where(
            action_vx > 0, True, jnp.where(action_vx < 0, False, state.facing_right)
        )

        def solid(c: jax.Array, r: jax.Array) -> jax.Array:
            return Columns.gather(state, c).solid(r)

        def crate(c: jax.Array, r: jax.Array) -> jax.Array:
            return Columns.gather(state, c).crate(r)

        # Enemies move before the agent (Procgen steps its entity list backwards, agent last).
        enemy_x, enemy_vx = patrol_step(
            state.enemy_x,
            state.enemy_vx,
            state.enemy_lo,
            state.enemy_hi,
            state.enemy_slow_lo,
            state.enemy_slow_hi,
        )
        result, support = move_body(
            state.body,
            action_vx,
            action_vy,
            p,
            solid,
            on_platform=state.on_crate,
            platform=crate,
            last_y=state.last_y,
        )
        body = result.body

        # Contacts at the end of the step: the 3 x 3 tiles around the agent's centre tile.
        cx, cy = tile_index(body.x), tile_index(body.y)
        cols = cx - 1 + jnp.arange(3, dtype=jnp.int32)
        rows = cy - 1 + jnp.arange(3, dtype=jnp.int32)
        types = Columns.window(state, cx - 1, 3).types(rows[:, None])  # [row, col]
        # check_grid_collisions: the tiles under the box shrunk by 0.001 (coin, lava).
        eps = jnp.float32(0.001)
        in_x = (cols >= tile_index(body.x - (p.rx - eps))) & (
            cols <= tile_index(body.x + (p.rx - eps))
        )
        in_y = (rows >= tile_index(body.y - (p.ry - eps))) & (
            rows <= tile_index(body.y + (p.ry - eps))
        )
        under = in_y[:, None] & in_x[None, :]
        coin = jnp.any(under & (types == COIN))
        lava = jnp.any(under & ((types == LAVA_MID) | (types == LAVA_TOP)))
        # Saws and enemies are entities: strict box overlap (has_collision).
        saw_box = box_overlap(
            body.x,
            body.y,
            p.rx,
            p.ry,
            cols[None, :].astype(jnp.float32) + 0.5,
            rows[:, None].astype(jnp.float32) + 0.5,
            0.5,
            0.5,
        )
        saw = jnp.any(saw_box & (types == SAW))
        enemy_y = state.enemy_row.astype(jnp.float32) + 0.5
        hit = box_overlap(body.x, body.y, p.rx, p.ry, enemy_x, enemy_y, 0.5, 0.5)
        enemy = jnp.any(hit & state.enemy_alive)
        dead = lava | saw | enemy

        standing = (jnp.abs(body.vx) < 0.01) & (action_vx == 0) & support
        walk = jnp.where(((time // 5) % 2 == 0) | ~support, 1, 2)
        timed_out = time >= self.timeout
        done = coin | dead | timed_out
        state = state.replace(
            enemy_x=enemy_x,
            enemy_vx=enemy_vx,
            body=body,
            last_y=body.y,
            on_crate=result.on_platform,
            facing_right=facing_right,
            pose=jnp.where(standing, 0, walk).astype(jnp.int32),
            time=time,
        )
        reward = jnp.where(coin, REWARD, 0.0).astype(jnp.float32)
        info = make_info(coin, timed_out & ~coin & ~dead, state.variation)
        return state, reward, done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def observe(self, state: CoinRunState) -> jax.Array:
        """The observation of ``state`` in this env's ``obs_mode``."""
        if self.obs_mode == "pixels":
            return self.render(state)
        return self.symbolic(state)

    def render(self, state: CoinRunState) -> jax.Array:
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
        base = jnp.asarray(_BASE_OF_TYPE)[types]
        part = jnp.asarray(_PART_OF_TYPE)[types]
        part = part + jnp.where(types == SAW, state.time % 2, 0)  # the saw's two frames
        # One int per tile: base look, sprite part and enemy (see _with_enemies). It leaves a
        # scatter, so XLA keeps it as an array instead of re-deriving the tile types for every
        # pixel it draws.
        tiles = self._with_enemies(state, base + 8 * part, r0, c0, n)

        def up(a: jax.Array) -> jax.Array:  # tiles -> canvas pixels
            return jnp.repeat(jnp.repeat(a, t, axis=0), t, axis=1)

        # Background pattern: 4 x 4 tiles; world tile (r, c) shows cell (3 - r % 4,
        # (c + offset) % 4), i.e. pattern row (-1 - world pixel row) % 20.
        period = 4 * t
        phase_y = (-(r0 + 1) * t) % period
        phase_x = ((c0 + state.bg_offset) * t) % period
        canvas = jax.lax.dynamic_slice(
            jnp.asarray(self._motif), (phase_y, phase_x), (CANVAS, CANVAS)
        )
        tiles_px = up(tiles)
        base_px, part_px = tiles_px & 7, (tiles_px >> 3) & 7  # both 0 under an enemy
        for look in range(1, len(self._bases)):
            canvas = jnp.where(base_px == look, jnp.asarray(self._bases[look]), canvas)
        for look in range(1, len(self._parts)):
            sprite = self._parts[look]
            show = (part_px == look) & jnp.asarray(sprite != _CLEAR)
            canvas = jnp.where(show, jnp.asarray(sprite), canvas)
        canvas = self._draw_enemies(canvas, tiles_px >> 6)

        entry = jax.lax.dynamic_slice(canvas, (sy, sx), (FRAME_SIZE, FRAME_SIZE))
        # The agent, always at the centre of the frame. Drawn with a scatter, which also makes
        # XLA keep the frame as an array rather than recompute it for each colour channel.
        (r_a, r_b), (c_a, c_b) = _AGENT_ROWS, _AGENT_COLS
        sprite = jnp.asarray(self._agent)[state.pose, state.facing_right.astype(jnp.int32)]
        ar, ac = np.meshgrid(np.arange(r_a, r_b), np.arange(c_a, c_b), indexing="ij")
        ar, ac = jnp.asarray(ar.ravel()), jnp.asarray(ac.ravel())
        sprite = sprite.ravel()
        drawn = jnp.where(sprite == _CLEAR, entry[ar, ac], sprite)
        entry = entry.at[ar, ac].set(drawn, unique_indices=True)
        return jnp.asarray(self._palettes)[state.theme * NUM_ENTRIES + entry.astype(jnp.int32)]

    def _with_enemies(
        self, state: CoinRunState, tiles: jax.Array, r0: jax.Array, c0: jax.Array, n: int
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

    def _draw_enemies(self, canvas: jax.Array, enemy: jax.Array) -> jax.Array:
        """Draw the slimes described by ``enemy`` (int32 ``[70, 70]``, the enemy codes of
        :meth:`_with_enemies` upsampled to pixels) onto ``canvas``."""
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

    def symbolic(self, state: CoinRunState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 9]`` window around the agent's tile (see the module
        docstring for the channels)."""
        r = self.view_radius
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

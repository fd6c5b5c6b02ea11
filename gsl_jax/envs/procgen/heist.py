"""Procgen *heist* in JAX: collect coloured keys to open the matching locks and steal the gem.

Rules (from openai/procgen ``src/games/heist.cpp``, ``mazegen.cpp``
(``generate_maze_with_doors``), ``basic-abstract-game.cpp`` and ``game.cpp``; our own code):

* World: ``W = 9`` tiles square (easy) or ``W = 13`` (hard). Per level ``difficulty`` is uniform in
  ``0 .. (W - 5) / 2`` and the maze is ``maze_dim = 2 * difficulty + 5`` tiles square (5/7/9 easy,
  5..13 hard), placed at a uniform offset ``0 .. W - maze_dim`` on each axis; every other tile is
  wall. The maze is a randomized-Kruskal perfect maze
  (:func:`~gsl_jax.envs.procgen.grid.kruskal_maze`).
* Keys and locks: ``num_keys = min(difficulty + randn(2), 3)`` colours (blue, green, red).
  Locks sit on *forks* (maze tiles with three or more open neighbours), a uniform subset of
  ``min(num_keys, #forks)`` of them. The agent starts on a uniform open tile that is neither a lock
  nor next to one. Then, as ``generate_maze_with_doors`` does, the locks get their colours in the
  order a search from the agent meets them: lock 0 is the lock nearest to the agent (search
  distance), key 0 lies on a uniform tile of the region the agent reaches without opening any lock;
  lock ``k`` is a lock next to the region reached so far (preferring, like the C++ search, locks
  next to the older part of that region, else the one nearest to lock ``k - 1``), and key ``k``
  lies on a uniform tile of the region behind lock ``k - 1``. The gem lies on a uniform tile of the
  region behind the last lock (of the start region when there are no locks). Every level is
  therefore solvable: key 0, lock 0, key 1, lock 1, ..., gem. (C++ ties between equally near locks
  go by its tile order; ours go by ours.)
* Coordinates are Procgen's: world units (one tile = 1), ``x`` to the right, ``y`` *up*; tile
  ``(row, col)`` of the (image-order) tile grid covers ``[col, col + 1) x [W - 1 - row, W - row)``.
  Every body is a box: the agent half-size ``0.375``, a lock the whole tile (half-size ``0.5``,
  centred), a key ``0.375 x 0.232`` and the gem ``0.375 x 0.257`` (heist.cpp spawns them with
  radius ``0.375`` and then ``match_aspect_ratio`` shrinks the height to the image's aspect, 84x52
  and 70x48 px). The agent starts at rest on its tile's centre; each key and the gem sit at a
  uniform spot within ``0.125`` of their tile's centre on each axis (``spawn_entity`` in a one-tile
  box).
* Movement (``basic-abstract-game.cpp``; heist keeps ``grid_step`` off and sets ``maxspeed =
  0.75``, ``mixrate`` stays ``0.5``). A move action asks for ``(ax, ay)`` in ``{-1, 0, 1}``
  (``vx = a / 3 - 1``, ``vy = a % 3 - 1``; NOOP and the special buttons 9-14 ask for ``(0, 0)``).
  Every step, ``update_agent_velocity`` + ``decay_agent_velocity``::

      v <- 0.9 * ((1 - 0.5) * v + 0.5 * 0.75 * a)      (per axis: v <- 0.45 v + 0.3375 a)

  so a held direction converges to ``0.3375 / 0.55 = 0.614`` tiles per step and the velocity keeps
  0.45 of itself when the action changes (momentum). ``basic_step_object`` then moves the agent in
  4 sub-steps of ``v / 4`` (``max(4, int(4 |v|))``, always 4 here), each an x move and a y move:
  y first when the action has a vertical part, else x first when it has a horizontal part, else
  the faster axis first (an exact tie at random). A move whose shrunk corners (98% of the
  half-size) enter a wall or the outside of the world snaps the agent's leading edge to the tile
  boundary; a move that leaves it overlapping a lock whose key is not held (``has_collision`` with
  a 0.001 margin) pushes it back to touching the lock and zeroes that velocity component
  (``push_obj``). After the sub-steps each velocity component keeps the fraction of its moves that
  were not blocked. (:func:`~gsl_jax.envs.procgen.movement.mix_velocity`,
  :func:`~gsl_jax.envs.procgen.movement.smart_step` with the locks as blockers.) So alternating
  RIGHT and UP carries the agent diagonally, and it slides along a wall into a side corridor once
  its corners clear the corridor's edges (the 0.75-wide body has 0.25 of play in a one-tile
  corridor).
* After moving, the agent touches every body its box overlaps (``has_collision``: ``|dx| < rx_a +
  rx_b`` and ``|dy| < ry_a + ry_b``, strict). Touching a key takes it (``has_keys[c]``; keys are
  never used up). A lock of colour ``c`` blocks until key ``c`` is held (as of the start of the
  step); touching it with the key opens it for good. Touching the gem gives reward 10 and ends the
  episode with the level complete (``info["success"]``). Otherwise the episode ends after 1000
  steps (game.cpp's default; heist does not override it) with ``info["truncated"]``.
* The sprite turns to the requested direction (``face_direction``) even when blocked.

Variation = level seed (int32 in ``[0, 2**31 - 1)``); ``reset`` builds the level from the seed
alone (the episode key is unused). Our generator draws from ``jax.random`` (and a hash of its
bits), not Procgen's mt19937, so level ``s`` here is not Procgen's level ``s``; the level
distribution follows the same procedure. Procgen's "memory" mode (W = 23, agent-centred view) is
not implemented.

Observations (``obs_mode``):

* ``"pixels"`` (default): uint8 ``[64, 64, 3]``. As in Procgen easy and hard (``center_agent`` is
  only on in memory mode) the whole world fills the frame, ``64 / W`` px per tile, drawn with our
  own art: themed floor (one of eight per level, as Procgen draws a background per level), dirt
  walls, blue/green/red keys and lock blocks, a yellow gem, the agent (turned toward its last
  requested direction) drawn at its position (rounded to the pixel), and the held keys as small
  icons at the top right, where Procgen draws its key ring. Keys and the gem are drawn on their
  tiles; their small offsets from the tile centre (at most 0.125 tile, under a pixel) only move
  their collision boxes.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 14]``, a window of tiles centred on the tile that holds
  the agent's centre, cells outside the world reading as wall. Channels: 0 wall, 1 gem, 2-4 key
  (blue, green, red), 5-7 lock (blue, green, red), 8 agent, 9-11 keys held (constant planes, 1.0
  where held), 12-13 the agent's velocity ``(vx, vy)`` (constant planes, ``0.5 + 0.5 v / 0.614``,
  so 0.5 at rest; Procgen's heist frames carry no velocity, but the compact mode is meant to hold
  the whole state). The agent's non-integer position is encoded bilinearly in channel 8: tile
  cell ``(i, j)`` of the window holds ``max(0, 1 - |dc_j - u|) * max(0, 1 - |dr_i - v|)``, where
  ``(dr_i, dc_j)`` is the cell's offset from the window centre and ``(v, u)`` the agent centre's
  offset from the centre tile's centre in tiles (``u`` to the right, ``v`` down, each in
  ``[-0.5, 0.5]``). So the centre cell reads 1.0 when the agent stands on its tile's centre, at
  most four cells (the centre, one beside it, one above or below, one diagonal) are non-zero,
  they sum to 1, and the position is their weighted mean of cell centres, exactly. The default
  radius ``r = W - 1`` (17x17 easy, 25x25 hard) shows the whole world from any position.

Speed: at batch 256 in one jitted scan (2-core Intel Xeon, jax 0.10.2) a pixel step takes about
1.8 ms, 1.25 ms of it the frame (the palette gather of 64 x 64 x 3 colours is most of that, the
agent sprite 0.13 ms) and 0.33 ms the transition; a symbolic step takes 0.8 ms. Keeping the drawn
tiles in the state and repainting only cleared tiles made the pixel step slower (2.6 ms): the
frame-sized field then moves through the level-bank gather, the auto-reset select and the carry
every step, which costs more than drawing 81 tiles.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Info, StateEnvironment, make_info
from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen import movement as mv
from gsl_jax.envs.procgen.grid import (
    NUM_ACTIONS,
    action_velocity,
    egocentric_window,
    kruskal_maze,
    level_key,
)
from gsl_jax.envs.procgen.options import check_port_options
from gsl_jax.envs.procgen.render import Atlas, TileRenderer, ellipse, speckle, texel_centres

#: World size per distribution mode (heist.cpp ``choose_world_dim``).
WORLD_DIM = {"easy": 9, "hard": 13}
#: heist.cpp: ``min_maze_dim = 5`` and ``maze_dim = 2 * difficulty + 5``.
MIN_MAZE_DIM = 5
#: Colours of keys and locks (heist.cpp: blue, green, red assets, ``image_theme`` 0, 1, 2).
NUM_COLOURS = 3
#: game.cpp's default step limit (heist does not set ``timeout``).
TIMEOUT = 1000
#: heist.cpp ``COMPLETION_BONUS``.
REWARD = 10.0
OBS_MODES = ("pixels", "symbolic")
#: basic-abstract-game.cpp's ``mixrate`` (heist keeps the default) and heist.cpp's ``maxspeed``.
MIXRATE = 0.5
MAXSPEED = 0.75
#: The speed a held direction converges to: ``v = 0.9 (0.5 v + 0.375)``.
TOP_SPEED = 0.9 * MIXRATE * MAXSPEED / (1 - 0.9 * (1 - MIXRATE))
#: Half-sizes of the bodies (heist.cpp ``game_reset``; keys and the gem are shrunk in height to
#: their images' aspect ratios, 84x52 and 70x48 px, by ``match_aspect_ratio``).
AGENT_R = 0.375
LOCK_R = 0.5
ITEM_RX = 0.375
KEY_RY = float(np.float32(0.375) / np.float32(84 / 52))
GEM_RY = float(np.float32(0.375) / np.float32(70 / 48))
#: Keys and the gem lie uniformly within this distance of their tile's centre on each axis
#: (``spawn_entity`` of radius 0.375 in a one-tile box).
ITEM_JITTER = 0.125
#: Slots of :attr:`HeistState.items`: keys 0-2 (blue, green, red), locks 3-5, the gem 6.
KEY_SLOTS, LOCK_SLOTS, GEM_SLOT = slice(0, 3), slice(3, 6), 6

# Tile ids of the state grid and of the atlas.
FLOOR, WALL, GEM = 0, 1, 2
KEY = 3  # KEY + c, c in 0..2
LOCK = 6  # LOCK + c
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

_SALT = 0x48454953  # "HEIS": keeps heist levels independent of other games' levels
_TEX = 8  # texels per tile side (a tile is 7.1 px easy, 4.9 px hard)
_KEY_RGB = ((60, 110, 235), (60, 190, 80), (225, 60, 60))  # blue, green, red


@struct.dataclass
class HeistState:
    """State of one heist episode.

    Attributes:
        tiles: uint8 ``[W, W]`` tile ids (``FLOOR``, ``WALL``, ``GEM``, ``KEY + c``,
            ``LOCK + c``; row 0 at the top). Taken keys and opened locks become ``FLOOR``.
            Walls block by tile; keys, locks and the gem also live in ``items``, whose boxes
            are what the agent touches.
        pos: float32 ``[2]`` the agent's centre ``(x, y)`` in Procgen's world units (x right,
            y up; tile ``(r, c)``'s centre is ``(c + 0.5, W - 0.5 - r)``).
        vel: float32 ``[2]`` the agent's velocity ``(vx, vy)`` in tiles per step.
        items: the 7 bodies the agent can touch, an
            :class:`~gsl_jax.envs.procgen.entities.EntityPool` of 7 slots (fields ``[7]``):
            keys 0-2, locks 3-5 (by colour), the gem 6; ``alive`` while present (a key until
            taken, a lock until opened; colours ``>= num_keys`` are never alive).
        facing: int32 ``[]`` last requested move direction ``3 * (vx + 1) + (vy + 1)`` (Procgen's
            move-action id; never 4), for the sprite.
        has_keys: bool ``[3]`` keys held (blue, green, red).
        theme: int32 ``[]`` floor theme of the level.
        maze_dim: int32 ``[]`` side of the maze proper (5 .. W, odd).
        num_keys: int32 ``[]`` key/lock pairs in the level (0 .. 3).
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    tiles: jax.Array
    pos: jax.Array
    vel: jax.Array
    items: ent.EntityPool
    facing: jax.Array
    has_keys: jax.Array
    theme: jax.Array
    maze_dim: jax.Array
    num_keys: jax.Array
    time: jax.Array
    variation: jax.Array


# ------------------------------------------------------------------------------------------------
# Grid helpers
# ------------------------------------------------------------------------------------------------
def _shift(grid: jax.Array, d_row: int, d_col: int, fill: Any) -> jax.Array:
    """``out[r, c] = grid[r - d_row, c - d_col]`` (static shift of a ``[W, W]`` grid), ``fill``
    where that falls outside."""
    w = grid.shape[0]
    padded = jnp.pad(grid, 1, constant_values=fill)
    return jax.lax.slice(padded, (1 - d_row, 1 - d_col), (1 - d_row + w, 1 - d_col + w))


_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _open_neighbours(open_grid: jax.Array) -> jax.Array:
    """int32 ``[W, W]``: number of open 4-neighbours of every tile."""
    return sum(_shift(open_grid, dr, dc, False).astype(jnp.int32) for dr, dc in _NEIGHBOURS)


def _pick(noise: jax.Array, mask: jax.Array) -> jax.Array:
    """Flat index of the ``True`` entry of ``mask`` with the largest ``noise`` (both ``[W, W]``,
    ``noise`` distinct uint32): a uniform pick among the ``True`` entries when ``noise`` is
    random; 0 if ``mask`` is empty.

    Two plain reductions (max, then the index holding it): XLA:CPU runs ``argmax``'s variadic
    reduce about twice as slowly.
    """
    scores = jnp.where(mask, noise | jnp.uint32(1), jnp.uint32(0)).reshape(-1)
    best = jnp.max(scores)
    index = jnp.arange(scores.shape[0], dtype=jnp.int32)
    return jnp.min(jnp.where(scores == best, index, scores.shape[0] - 1)).astype(jnp.int32)


def _hash_noise(words: jax.Array, n: int) -> jax.Array:
    """``n`` pseudo-random uint32 from two seed words (uint32 ``[2]``): murmur3's 32-bit finaliser
    applied to ``i * golden + words[0]`` (xor ``words[1]``).

    The finaliser is a bijection, so the ``n`` values are distinct. Threefry draws of the same
    size cost about half of a whole level's generation on XLA:CPU; this costs a few integer ops.
    """
    x = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9) + words[0]
    x = x ^ words[1]
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def _search_from(start: jax.Array, open_grid: jax.Array, gate: jax.Array):
    """Breadth-first search over the open tiles of a perfect maze from the tile ``start``.

    Args:
        start: bool ``[W, W]``, one True tile.
        open_grid: bool ``[W, W]``.
        gate: int32 ``[W, W]``: ``j + 1`` on the tile of lock ``j``, else 0.

    Returns:
        ``(dist, region)`` int32 ``[W, W]``: search distance from ``start`` (-1 where unreached)
        and the lock behind which each tile lies: ``j + 1`` if the last lock on the path from
        ``start`` (the tile itself excluded) is lock ``j``, 0 if there is none. In a perfect maze
        every tile has a single parent, so a tile takes its region from it.

    One int32 array ``(dist + 1) * 8 + region`` (0 = unreached) carries the whole search, one
    layer per loop step: fewer, larger fusions per step made it 2.5x faster on XLA:CPU than
    separate distance, region and frontier arrays.
    """

    def layer(enc: jax.Array, d: jax.Array) -> jax.Array:
        front = (enc >> 3) == d + 1
        # What each frontier tile hands its neighbours: 1 + the region behind it.
        handed = jnp.where(front, jnp.where(gate > 0, gate, enc & 7) + 1, 0)
        padded = jnp.pad(handed, 1)
        incoming = jnp.maximum(
            jnp.maximum(padded[:-2, 1:-1], padded[2:, 1:-1]),
            jnp.maximum(padded[1:-1, :-2], padded[1:-1, 2:]),
        )
        new = (incoming > 0) & open_grid & (enc == 0)
        return jnp.where(new, (d + 2) * 8 + incoming - 1, enc)

    def cond(carry):
        enc, d = carry
        return jnp.any((enc >> 3) == d + 1)

    def body(carry):
        enc, d = carry
        return layer(enc, d), d + 1

    enc = jnp.where(start, 8, 0).astype(jnp.int32)  # the start is never a lock
    enc, _ = jax.lax.while_loop(cond, body, (enc, jnp.zeros((), jnp.int32)))
    return (enc >> 3) - 1, enc & 7


# ------------------------------------------------------------------------------------------------
# Art (our own, drawn once with numpy)
# ------------------------------------------------------------------------------------------------
def heist_atlas() -> Atlas:
    """Tiles: themed floor, dirt wall, gem, three keys, three lock blocks."""
    t = _TEX
    y, x = texel_centres(t)
    floor = np.zeros((t, t), np.uint8)
    floor[speckle(t, 0.2, seed=3)] = 1
    floor[(y < 1.0 / t) | (x < 1.0 / t)] = 2  # faint seams between floor plates
    wall = np.zeros((t, t), np.uint8)
    wall[speckle(t, 0.3, seed=5)] = 1
    wall[speckle(t, 0.12, seed=6)] = 2
    gem = np.zeros((t, t), np.uint8)
    diamond = np.abs(x - 0.5) * 1.1 + np.abs(y - 0.55) <= 0.42
    gem[diamond] = 1
    gem[diamond & (y < 0.45)] = 2  # lighter crown
    gem[diamond & (np.abs(x - 0.5) < 0.08) & (y > 0.45)] = 3  # central facet
    key = np.zeros((t, t), np.uint8)
    ring = ellipse(t, 0.3, 0.5, 0.26, 0.26) & ~ellipse(t, 0.3, 0.5, 0.11, 0.11)
    shaft = (np.abs(x - 0.5) < 0.09) & (y > 0.5) & (y < 0.95)
    teeth = (x > 0.5) & (x < 0.75) & (((y > 0.68) & (y < 0.76)) | ((y > 0.84) & (y < 0.93)))
    key[ring | shaft | teeth] = 1
    lock = np.ones((t, t), np.uint8)  # a full block (heist.cpp uses a block asset for locks)
    lock[(x < 1.0 / t) | (y < 1.0 / t) | (x > 1 - 1.0 / t) | (y > 1 - 1.0 / t)] = 2  # rim
    lock[
        ellipse(t, 0.42, 0.5, 0.13, 0.13) | ((np.abs(x - 0.5) < 0.07) & (y > 0.42) & (y < 0.72))
    ] = 3
    patterns = np.stack([floor, wall, gem, key, key, key, lock, lock, lock])

    floors = [  # (base, speckle, seam) per theme
        ((70, 70, 86), (60, 60, 74), (52, 52, 64)),
        ((96, 78, 60), (84, 68, 52), (74, 60, 46)),
        ((48, 84, 68), (40, 72, 58), (34, 62, 50)),
        ((44, 58, 96), (36, 48, 82), (30, 40, 70)),
        ((92, 60, 92), (80, 50, 80), (68, 42, 68)),
        ((104, 98, 70), (90, 84, 60), (78, 72, 52)),
        ((36, 36, 40), (28, 28, 32), (22, 22, 26)),
        ((96, 56, 50), (84, 48, 42), (72, 40, 36)),
    ]
    black = (0, 0, 0)
    fixed = [
        [(120, 84, 50), (100, 68, 40), (140, 100, 62), black],  # dirt wall
        [black, (240, 200, 40), (255, 236, 130), (200, 150, 20)],  # gem
    ]
    fixed += [[black, rgb, black, black] for rgb in _KEY_RGB]  # keys
    fixed += [  # locks: coloured block, darker rim, dark keyhole
        [black, rgb, tuple(v // 2 for v in rgb), (20, 20, 24)] for rgb in _KEY_RGB
    ]
    palettes = np.array([[[*f, black], *fixed] for f in floors], np.uint8)  # [num_themes, 9, 4, 3]
    transparent = np.array([False, False, True, True, True, True, False, False, False])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)


#: Colours of the agent sprite's classes 1 (suit), 2 (visor) and 3 (pack).
AGENT_RGB = ((230, 232, 240), (90, 170, 230), (120, 120, 130))


def agent_sprites(size: int) -> np.ndarray:
    """Our astronaut seen from above, for each of the 9 move ids (id 4 repeats "right").

    Returns uint8 ``[9, size, size]`` colour classes: 0 transparent, 1 white suit, 2 blue visor on
    the side it faces, 3 grey pack on the other (colours :data:`AGENT_RGB`).
    """
    out = np.zeros((9, size, size), np.uint8)
    c = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(c, c, indexing="ij")
    body = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 <= 0.25
    for move in range(9):
        vx, vy = move // 3 - 1, move % 3 - 1
        if move == 4:
            vx, vy = 1, 0
        norm = np.hypot(vx, vy)
        along = (xx - 0.5) * vx / norm - (yy - 0.5) * vy / norm  # image y points down
        out[move][body] = 1
        out[move][body & (along > 0.12)] = 2
        out[move][body & (along < -0.3)] = 3
    return out


def ring_key_icon() -> np.ndarray:
    """bool ``[4, 4]``: a tiny key lying on its side, for the key ring at the top right."""
    return np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 1], [0, 0, 0, 0]], bool)


def ring_key_masks() -> np.ndarray:
    """bool ``[3, 64, 64]``: where each held key is drawn. heist.cpp puts key ``i`` of the ring
    at ``x = 1 - 0.03 (2 i + 1.25)`` of the frame width, near the top, blue rightmost."""
    masks = np.zeros((NUM_COLOURS, 64, 64), bool)
    for c in range(NUM_COLOURS):
        left = 60 - 4 * c
        masks[c, 3:7, left : left + 4] = ring_key_icon()
    return masks


# ------------------------------------------------------------------------------------------------
# The game
# ------------------------------------------------------------------------------------------------
class Heist(StateEnvironment):
    """Procgen heist (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (9x9 world) or ``"hard"`` (13x13).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[2r + 1, 2r + 1, 14]``, channels :data:`SYMBOLIC_CHANNELS`).
        view_radius: ``r`` of the symbolic window in tiles; default ``W - 1`` (the whole world is
            always in view). Ignored in pixel mode.
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
        view_radius: int | None = None,
        timeout: int = TIMEOUT,
        **options: Any,
    ):
        check_port_options(
            "Heist",
            options,
            ["distribution_mode", "obs_mode", "view_radius", "timeout"],
            distribution_mode,
            sorted(WORLD_DIM),
            obs_mode,
            OBS_MODES,
            timeout,
        )
        self.distribution_mode = distribution_mode
        self.obs_mode = obs_mode
        self.world_dim = w = WORLD_DIM[distribution_mode]
        self.timeout = int(timeout)
        self.max_episode_steps = self.timeout
        if view_radius is None:
            view_radius = w - 1
        if (
            isinstance(view_radius, bool)
            or not isinstance(view_radius, int | np.integer)
            or view_radius < 1
        ):
            raise ValueError(f"view_radius: must be a positive int, got {view_radius!r}")
        self.view_radius = int(view_radius)
        overlay_rgb = np.array(AGENT_RGB + _KEY_RGB, np.uint8)  # classes 1-3 agent, 4-6 keys
        self.renderer = TileRenderer(w, heist_atlas(), overlay_rgb=overlay_rgb)
        # The agent sprite covers 0.75 of a tile, as heist.cpp's agent radius 0.375 does.
        self._sprite_size = size = max(3, int(np.ceil(0.75 * 64 / w)))
        self._sprite = agent_sprites(size)
        if obs_mode == "pixels":
            self.observation_space = Box((64, 64, 3), 0, 255, jnp.uint8)
        else:
            side = 2 * self.view_radius + 1
            shape = (side, side, len(SYMBOLIC_CHANNELS))
            self.observation_space = Box(shape, 0.0, 1.0, jnp.float32)

    @property
    def name(self) -> str:
        return f"heist-{self.distribution_mode}"

    # ----------------------------------------------------------------------------------------
    # Levels
    # ----------------------------------------------------------------------------------------
    def generate(self, seed: jax.Array) -> HeistState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone; ``time`` starts at 0."""
        w = self.world_dim
        words = jax.random.bits(level_key(seed, _SALT), (4,), jnp.uint32)
        k_maze = jax.random.wrap_key_data(words[2:])
        # Every other choice comes from one hashed noise array: 5 scalars, then a [W, W] plane
        # for the locks, the agent and each of the 4 key / gem placements, then the 8 offsets
        # of the keys and the gem within their tiles.
        noise = _hash_noise(words[:2], 5 + 6 * w * w + 8)
        planes = noise[5 : 5 + 6 * w * w].reshape(6, w, w)
        jitter = (noise[-8:] >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
        draws = (noise[:5] >> 8).astype(jnp.float32) * (1.0 / (1 << 24))  # uniform in [0, 1)

        def randn(u: jax.Array, n: jax.Array) -> jax.Array:  # uniform int in [0, n)
            return jnp.minimum((u * n).astype(jnp.int32), n - 1)

        # heist.cpp game_reset: difficulty, number of key colours, maze size and offset.
        difficulty = randn(draws[0], (w - MIN_MAZE_DIM) // 2 + 1)
        maze_dim = 2 * difficulty + MIN_MAZE_DIM
        num_keys = jnp.minimum(difficulty + randn(draws[1], 2), NUM_COLOURS)
        centred, _ = kruskal_maze(k_maze, maze_dim, w)
        # kruskal_maze centres the maze; move it to a uniform offset. Only walls wrap around.
        offset = jnp.stack([randn(draws[2], w - maze_dim + 1), randn(draws[3], w - maze_dim + 1)])
        shift = offset - (w - maze_dim) // 2
        rows = (jnp.arange(w) - shift[0]) % w
        cols = (jnp.arange(w) - shift[1]) % w
        open_grid = centred[rows][:, cols]

        # mazegen.cpp generate_maze_with_doors: locks on a uniform subset of the forks ...
        fork = open_grid & (_open_neighbours(open_grid) > 2)
        # (the forks with the largest noise; picks, not lax.top_k, whose sort is slow on CPU).
        num_locks = jnp.minimum(num_keys, jnp.sum(fork)).astype(jnp.int32)
        lock_valid = jnp.arange(NUM_COLOURS) < num_locks
        flat = jnp.arange(w * w, dtype=jnp.int32).reshape(w, w)
        slot_of = jnp.zeros((w, w), jnp.int32)  # j + 1 on lock slot j's tile
        picks = []
        for j in range(NUM_COLOURS):
            picks.append(_pick(planes[0], fork & (slot_of == 0)))
            slot_of = jnp.where(lock_valid[j] & (flat == picks[-1]), j + 1, slot_of)
        lock_tile = jnp.stack(picks)
        is_lock = slot_of > 0
        # ... the agent on a uniform open tile neither on nor next to a lock ...
        near_lock = is_lock | (_open_neighbours(is_lock) > 0)
        agent_tile = _pick(planes[1], open_grid & ~near_lock)
        agent_mask = flat == agent_tile
        # ... and colours in search order from the agent, keys in the region each lock opens.
        dist, region = _search_from(agent_mask, open_grid, slot_of)
        lock_dist = dist.reshape(-1)[lock_tile]  # [3]
        lock_parent = region.reshape(-1)[lock_tile]  # [3] region each lock borders (0 = start)
        opened = jnp.zeros(NUM_COLOURS + 1, jnp.bool_).at[0].set(True)
        labelled = jnp.zeros(NUM_COLOURS, jnp.bool_)
        order = []  # the slot that gets colour k
        for k in range(NUM_COLOURS):
            free = lock_valid & ~labelled & opened[lock_parent]
            if k == 0:
                score = lock_dist
            else:
                # C++ searches from the whole region reached so far: locks next to its older
                # part are found at once, else the search goes on past lock k - 1.
                prev = order[-1]
                score = jnp.where(lock_parent == prev + 1, lock_dist - lock_dist[prev], 0)
            score = jnp.where(free, score * (w * w) + lock_tile, jnp.iinfo(jnp.int32).max)
            # argmin of three, as selects (XLA:CPU's variadic reduce is slow)
            slot = jnp.where(
                (score[0] <= score[1]) & (score[0] <= score[2]),
                0,
                jnp.where(score[1] <= score[2], 1, 2),
            ).astype(jnp.int32)
            active = k < num_locks
            labelled = labelled | ((jnp.arange(NUM_COLOURS) == slot) & active)
            opened = opened | ((jnp.arange(NUM_COLOURS + 1) == slot + 1) & active)
            order.append(slot)

        tiles = jnp.where(open_grid, FLOOR, WALL).astype(jnp.int32)
        spots, locks = [], []
        for k in range(NUM_COLOURS + 1):
            reg = 0 if k == 0 else order[k - 1] + 1
            space = open_grid & ~is_lock & ~agent_mask & (region == reg)
            spots.append(_pick(planes[2 + k], space))
            spot = flat == spots[-1]
            if k < NUM_COLOURS:
                tiles = jnp.where(spot & (k < num_locks), KEY + k, tiles)
                locks.append(lock_tile[order[k]])
                tiles = jnp.where((flat == locks[-1]) & (k < num_locks), LOCK + k, tiles)
            tiles = jnp.where(spot & (k == num_locks), GEM, tiles)

        # The bodies (Procgen coordinates, y up): keys and the gem jittered within their tiles,
        # locks on their tiles' centres. The gem is the spot of placement num_locks.
        spots = jnp.stack(spots)
        gem_spot = spots[num_locks]
        item_tile = jnp.concatenate([spots[:NUM_COLOURS], jnp.stack(locks), gem_spot[None]])
        centre_x = (item_tile % w).astype(jnp.float32) + 0.5
        centre_y = (w - 1 - item_tile // w).astype(jnp.float32) + 0.5
        shift = ITEM_JITTER * (2 * jitter.reshape(2, 4) - 1)  # [axis, key 0-2 / gem]
        zero3 = jnp.zeros(NUM_COLOURS, jnp.float32)
        shift_x = jnp.concatenate([shift[0, :3], zero3, shift[0, 3:]])
        shift_y = jnp.concatenate([shift[1, :3], zero3, shift[1, 3:]])
        colour_used = jnp.arange(NUM_COLOURS) < num_locks
        f32 = np.float32
        items = ent.EntityPool(
            x=centre_x + shift_x,
            y=centre_y + shift_y,
            vx=jnp.zeros(7, jnp.float32),
            vy=jnp.zeros(7, jnp.float32),
            rx=jnp.asarray([ITEM_RX] * 3 + [LOCK_R] * 3 + [ITEM_RX], f32),
            ry=jnp.asarray([KEY_RY] * 3 + [LOCK_R] * 3 + [GEM_RY], f32),
            kind=jnp.asarray([KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2, GEM], jnp.int32),
            alive=jnp.concatenate([colour_used, colour_used, jnp.ones(1, bool)]),
        )

        theme = randn(draws[4], self.renderer.atlas.num_themes)
        agent_xy = jnp.stack([agent_tile % w, w - 1 - agent_tile // w]).astype(jnp.float32)
        return HeistState(
            tiles=tiles.astype(jnp.uint8),
            pos=agent_xy + 0.5,
            vel=jnp.zeros(2, jnp.float32),
            items=items,
            facing=jnp.int32(7),  # Procgen's rotation 0: facing right
            has_keys=jnp.zeros(NUM_COLOURS, jnp.bool_),
            theme=theme.astype(jnp.int32),
            maze_dim=maze_dim.astype(jnp.int32),
            num_keys=num_locks,
            time=jnp.zeros((), jnp.int32),
            variation=jnp.asarray(seed, jnp.int32),
        )

    # ----------------------------------------------------------------------------------------
    # Environment interface
    # ----------------------------------------------------------------------------------------
    def init_state(self, key: jax.Array, variation: jax.Array) -> HeistState:
        """Start level ``variation``; ``key`` is unused (the level depends on the seed only)."""
        del key
        return self.generate(jnp.asarray(variation, jnp.int32))

    def _wall_test(self, tiles: jax.Array) -> mv.BlockedFn:
        """The :data:`~gsl_jax.envs.procgen.movement.BlockedFn` of ``tiles``' walls: a world point
        ``(px, py)`` (y up) blocks when its tile is a wall or outside the world (Procgen's
        ``get_obj_from_floats`` with ``out_of_bounds_object = WALL_OBJ``; locks are entities)."""
        w = self.world_dim
        # Rows flipped to y-up order, one wall ring around: index (floor(py) + 1, floor(px) + 1).
        walls = jnp.pad(tiles[::-1] == WALL, 1, constant_values=True).reshape(-1)

        def blocked(px: jax.Array, py: jax.Array) -> jax.Array:
            col = jnp.clip(jnp.floor(px).astype(jnp.int32) + 1, 0, w + 1)
            row = jnp.clip(jnp.floor(py).astype(jnp.int32) + 1, 0, w + 1)
            return walls[row * (w + 2) + col]

        return blocked

    def transition(
        self, key: jax.Array, state: HeistState, action: jax.Array
    ) -> tuple[HeistState, jax.Array, jax.Array, Info]:
        """One step of basic-abstract-game.cpp ``game_step`` for heist; ``key`` only breaks an
        exact tie ``|vx| == |vy|`` in the sub-step order (Procgen's ``step_rand_int``)."""
        action = jnp.clip(action, 0, NUM_ACTIONS - 1)
        ax, ay = action_velocity(action)
        ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
        vx, vy = mv.mix_velocity(state.vel[0], state.vel[1], ax, ay, MIXRATE, MAXSPEED)
        # basic_step_object: the faster axis first, a tie at random; for the player a
        # horizontal action means x first and a vertical one y first (checked last, so it wins).
        cmp = jnp.abs(vx) - jnp.abs(vy)
        coin = (jax.random.bits(key, (), jnp.uint32) & 1) == 0
        x_first = jnp.where(cmp == 0, coin, cmp > 0)
        x_first = jnp.where(ax != 0, True, x_first)
        x_first = jnp.where(ay != 0, False, x_first)
        # Locks block until their key is held (as of the start of the step).
        items = state.items
        locks = jax.tree.map(lambda f: f[LOCK_SLOTS], items)
        locks = locks.replace(alive=locks.alive & ~state.has_keys)
        r = jnp.float32(AGENT_R)
        x, y, vx, vy = mv.smart_step(
            state.pos[0],
            state.pos[1],
            vx,
            vy,
            r,
            r,
            x_first,
            self._wall_test(state.tiles),
            blockers=locks,
            loop=True,  # unrolled, XLA:CPU recomputes the chain (see smart_step)
        )

        # game_step: the agent touches every body it overlaps (has_collision, margin 0).
        touching = ent.box_overlap(items, x, y, r, r)
        taken = touching[KEY_SLOTS]
        has_keys = state.has_keys | taken
        # A lock the agent overlaps can only be one whose key it held: it opens (is erased).
        opened = touching[LOCK_SLOTS] & has_keys
        reached = touching[GEM_SLOT]
        gone = jnp.concatenate([taken, opened, jnp.zeros(1, bool)])
        tiles = state.tiles.astype(jnp.int32)
        colour = jnp.arange(NUM_COLOURS)
        cleared = jnp.any(
            ((tiles[None] == KEY + colour[:, None, None]) & taken[:, None, None])
            | ((tiles[None] == LOCK + colour[:, None, None]) & opened[:, None, None]),
            axis=0,
        )
        time = state.time + 1
        timed_out = time >= self.timeout
        done = reached | timed_out
        # face_direction turns the sprite toward the requested move, blocked or not.
        move_id = action % 9
        facing = jnp.where((action < 9) & (move_id != 4), move_id, state.facing)
        state = state.replace(
            tiles=jnp.where(cleared, FLOOR, tiles).astype(jnp.uint8),
            pos=jnp.stack([x, y]),
            vel=jnp.stack([vx, vy]),
            items=ent.remove(items, gone),
            facing=facing.astype(jnp.int32),
            has_keys=has_keys,
            time=time,
        )
        reward = jnp.where(reached, REWARD, 0.0).astype(jnp.float32)
        info = make_info(reached, timed_out & ~reached, state.variation)
        return state, reward, done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def observe(self, state: HeistState) -> jax.Array:
        """The observation of ``state`` in this env's ``obs_mode``."""
        if self.obs_mode == "pixels":
            return self.render(state)
        return self.symbolic(state)

    def render(self, state: HeistState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: the world, the agent at its position, the key ring."""
        overlay = self._agent_layer(state)
        # heist.cpp draws the held keys at the top right, over the world.
        rings = jnp.asarray(ring_key_masks())
        for c in range(NUM_COLOURS):
            overlay = jnp.where(rings[c] & state.has_keys[c], np.uint8(4 + c), overlay)
        return self.renderer.render(state.tiles, state.theme, overlay)

    def _agent_layer(self, state: HeistState) -> jax.Array:
        """uint8 ``[64, 64]``: the sprite's colour class (0 = none, 1-3) at every pixel."""
        size = self._sprite_size
        scale = np.float32(64 / self.world_dim)  # pixels per tile
        # Top-left pixel of the sprite: its centre rounded to the pixel grid (image rows down).
        centre_col = state.pos[0] * scale
        centre_row = (self.world_dim - state.pos[1]) * scale
        top = jnp.floor(centre_row - size / 2 + 0.5).astype(jnp.int32)
        left = jnp.floor(centre_col - size / 2 + 0.5).astype(jnp.int32)
        pixel = jnp.arange(64, dtype=jnp.int32)
        row = pixel - top  # [64] sprite row under each pixel row
        col = pixel - left
        sprite = jnp.asarray(self._sprite)[state.facing]  # [size, size]
        # The sprite row of every pixel row (all zero off the sprite), then one select per
        # sprite column: a handful of [64, 64] selects per frame.
        rows = jnp.where(
            ((row >= 0) & (row < size))[:, None], sprite[jnp.clip(row, 0, size - 1)], 0
        )
        layer = jnp.zeros((64, 64), jnp.uint8)
        for j in range(size):
            layer = jnp.where((col == j)[None, :], rows[:, j : j + 1], layer)
        return layer

    def symbolic(self, state: HeistState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 14]`` around the agent; channels :data:`SYMBOLIC_CHANNELS`
        (the agent's position bilinearly in channel 8, see the module docstring)."""
        r, w = self.view_radius, self.world_dim
        x, y = state.pos[0], state.pos[1]
        col = jnp.clip(jnp.floor(x).astype(jnp.int32), 0, w - 1)
        row = jnp.clip(w - 1 - jnp.floor(y).astype(jnp.int32), 0, w - 1)
        window = egocentric_window(state.tiles, row, col, r, WALL).astype(jnp.int32)
        kinds = jnp.asarray([WALL, GEM, KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2])
        planes = window[..., None] == kinds  # [side, side, 8]
        # The agent centre's offset from the centre tile's centre (u right, v down), and the
        # bilinear ("tent") weight of every window row and column.
        u = x - (col.astype(jnp.float32) + 0.5)
        v = (w - y) - (row.astype(jnp.float32) + 0.5)
        offset = jnp.arange(2 * r + 1, dtype=jnp.float32) - r
        row_w = jnp.maximum(0.0, 1.0 - jnp.abs(offset - v))
        col_w = jnp.maximum(0.0, 1.0 - jnp.abs(offset - u))
        body = row_w[:, None] * col_w[None, :]
        shape = window.shape + (NUM_COLOURS,)
        held = jnp.broadcast_to(state.has_keys.astype(jnp.float32), shape)
        speed = jnp.clip(0.5 + 0.5 * state.vel / np.float32(TOP_SPEED), 0.0, 1.0)
        vel = jnp.broadcast_to(speed, window.shape + (2,))
        return jnp.concatenate(
            [planes.astype(jnp.float32), body[..., None], held, vel], axis=-1
        ).astype(jnp.float32)

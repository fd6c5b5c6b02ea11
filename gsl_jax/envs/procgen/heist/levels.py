"""Heist's state and level generator: a maze with coloured locks on its forks, the keys that open
them and the gem.

Levels (from openai/procgen ``src/games/heist.cpp`` and ``mazegen.cpp``
(``generate_maze_with_doors``); our own code):

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
* Bodies, in Procgen's coordinates (world units, one tile = 1, ``x`` right, ``y`` *up*; tile
  ``(row, col)`` of the image-order grid covers ``[col, col + 1) x [W - 1 - row, W - row)``): every
  body is a box. The agent has half-size :data:`AGENT_R` ``= 0.375``, a lock the whole tile
  (half-size ``0.5``, centred), a key ``0.375 x 0.232`` and the gem ``0.375 x 0.257`` (heist.cpp
  spawns them with radius ``0.375`` and then ``match_aspect_ratio`` shrinks the height to the
  image's aspect, 84x52 and 70x48 px). The agent starts at rest on its tile's centre, facing
  right; each key and the gem sit at a uniform spot within ``0.125`` of their tile's centre on
  each axis (``spawn_entity`` in a one-tile box).
* The floor theme is one of the atlas's themes, uniform per level.

A level is a function of its seed alone (int32 in ``[0, 2**31 - 1)``). Our generator draws from
``jax.random`` (and a hash of its bits, :func:`~.mazegen.hash_noise`), not Procgen's mt19937, so
level ``s`` here is not Procgen's level ``s``; the level distribution follows the same procedure.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.grid import kruskal_maze, level_key
from gsl_jax.envs.procgen.heist.art import FLOOR, GEM, KEY, LOCK, NUM_COLOURS, WALL
from gsl_jax.envs.procgen.heist.mazegen import hash_noise, open_neighbours, pick, search_from

#: World size per distribution mode (heist.cpp ``choose_world_dim``). Procgen's "memory" mode
#: (W = 23, agent-centred view) is not implemented.
WORLD_DIM = {"easy": 9, "hard": 13}
#: heist.cpp: ``min_maze_dim = 5`` and ``maze_dim = 2 * difficulty + 5``.
MIN_MAZE_DIM = 5
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
#: The facing of a new level: Procgen's rotation 0, the RIGHT move id.
START_FACING = 7

_SALT = 0x48454953  # "HEIS": keeps heist levels independent of other games' levels


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


def uniform_int(u: jax.Array, n: jax.Array | int) -> jax.Array:
    """Procgen's ``randn(n)``: int32 ``[]`` uniform in ``0 .. n - 1`` from ``u`` (float32 ``[]``
    uniform in ``[0, 1)``)."""
    return jnp.minimum((u * n).astype(jnp.int32), n - 1)


def maze_layout(key: jax.Array, draws: jax.Array, w: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """heist.cpp ``game_reset``'s maze: ``(open_grid, maze_dim, num_keys)``, bool ``[W, W]`` and
    int32 ``[]`` twice, from the maze's PRNG ``key`` and 4 uniforms ``draws`` (float32 ``[>= 4]``:
    difficulty, extra key, row offset, column offset)."""
    difficulty = uniform_int(draws[0], (w - MIN_MAZE_DIM) // 2 + 1)
    maze_dim = 2 * difficulty + MIN_MAZE_DIM
    num_keys = jnp.minimum(difficulty + uniform_int(draws[1], 2), NUM_COLOURS)
    centred, _ = kruskal_maze(key, maze_dim, w)
    # kruskal_maze centres the maze; move it to a uniform offset. Only walls wrap around.
    offset = jnp.stack(
        [uniform_int(draws[2], w - maze_dim + 1), uniform_int(draws[3], w - maze_dim + 1)]
    )
    shift = offset - (w - maze_dim) // 2
    rows = (jnp.arange(w) - shift[0]) % w
    cols = (jnp.arange(w) - shift[1]) % w
    return centred[rows][:, cols], maze_dim, num_keys


def place_locks(
    open_grid: jax.Array, noise: jax.Array, num_keys: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Locks on a uniform subset of the forks (``generate_maze_with_doors``).

    Args:
        open_grid: bool ``[W, W]``.
        noise: uint32 ``[W, W]`` distinct hashed noise.
        num_keys: int32 ``[]`` colours wanted.

    Returns:
        ``(lock_tile, slot_of, num_locks)``: int32 ``[3]`` flat tile of each lock slot (valid
        below ``num_locks``); int32 ``[W, W]``, ``j + 1`` on lock slot ``j``'s tile, else 0;
        int32 ``[]`` ``min(num_keys, #forks)``.
    """
    w = open_grid.shape[0]
    fork = open_grid & (open_neighbours(open_grid) > 2)
    # The forks with the largest noise, by repeated picks (lax.top_k's sort is slow on CPU).
    num_locks = jnp.minimum(num_keys, jnp.sum(fork)).astype(jnp.int32)
    lock_valid = jnp.arange(NUM_COLOURS) < num_locks
    flat = jnp.arange(w * w, dtype=jnp.int32).reshape(w, w)
    slot_of = jnp.zeros((w, w), jnp.int32)
    picks = []
    for j in range(NUM_COLOURS):
        picks.append(pick(noise, fork & (slot_of == 0)))
        slot_of = jnp.where(lock_valid[j] & (flat == picks[-1]), j + 1, slot_of)
    return jnp.stack(picks), slot_of, num_locks


def colour_order(
    lock_tile: jax.Array, num_locks: jax.Array, dist: jax.Array, region: jax.Array
) -> list[jax.Array]:
    """The lock slot (int32 ``[]``) that gets colour ``k``, for ``k = 0, 1, 2``: the order in
    which ``generate_maze_with_doors``' search from the agent meets the locks.

    Args:
        lock_tile: int32 ``[3]`` flat tile of each lock slot.
        num_locks: int32 ``[]`` valid slots (entries ``k >= num_locks`` are meaningless).
        dist, region: int32 ``[W, W]`` from :func:`~.mazegen.search_from` from the agent.
    """
    w = dist.shape[0]
    lock_valid = jnp.arange(NUM_COLOURS) < num_locks
    lock_dist = dist.reshape(-1)[lock_tile]  # [3]
    lock_parent = region.reshape(-1)[lock_tile]  # [3] region each lock borders (0 = start)
    opened = jnp.zeros(NUM_COLOURS + 1, jnp.bool_).at[0].set(True)
    labelled = jnp.zeros(NUM_COLOURS, jnp.bool_)
    order = []
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
    return order


def item_bodies(
    item_tile: jax.Array, jitter: jax.Array, num_locks: jax.Array, w: int
) -> ent.EntityPool:
    """The 7 bodies (:attr:`HeistState.items`) on their tiles (int32 ``[7]``, slot order): keys
    and the gem shifted within their tiles by ``jitter`` (float32 ``[8]`` uniforms in ``[0, 1)``:
    x of keys 0-2 and the gem, then y), locks on their tiles' centres."""
    centre_x = (item_tile % w).astype(jnp.float32) + 0.5
    centre_y = (w - 1 - item_tile // w).astype(jnp.float32) + 0.5
    shift = ITEM_JITTER * (2 * jitter.reshape(2, 4) - 1)  # [axis, key 0-2 / gem]
    zero3 = jnp.zeros(NUM_COLOURS, jnp.float32)
    shift_x = jnp.concatenate([shift[0, :3], zero3, shift[0, 3:]])
    shift_y = jnp.concatenate([shift[1, :3], zero3, shift[1, 3:]])
    colour_used = jnp.arange(NUM_COLOURS) < num_locks
    f32 = np.float32
    return ent.EntityPool(
        x=centre_x + shift_x,
        y=centre_y + shift_y,
        vx=jnp.zeros(7, jnp.float32),
        vy=jnp.zeros(7, jnp.float32),
        rx=jnp.asarray([ITEM_RX] * 3 + [LOCK_R] * 3 + [ITEM_RX], f32),
        ry=jnp.asarray([KEY_RY] * 3 + [LOCK_R] * 3 + [GEM_RY], f32),
        kind=jnp.asarray([KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2, GEM], jnp.int32),
        alive=jnp.concatenate([colour_used, colour_used, jnp.ones(1, bool)]),
    )


def generate_level(seed: jax.Array, w: int, num_themes: int) -> HeistState:
    """The start state of level ``seed`` (int32 ``[]``) in a ``w x w`` world with ``num_themes``
    floor themes (the rules in the module docstring); ``time`` starts at 0."""
    words = jax.random.bits(level_key(seed, _SALT), (4,), jnp.uint32)
    k_maze = jax.random.wrap_key_data(words[2:])
    # Every other choice comes from one hashed noise array: 5 scalars, then a [W, W] plane
    # for the locks, the agent and each of the 4 key / gem placements, then the 8 offsets
    # of the keys and the gem within their tiles.
    noise = hash_noise(words[:2], 5 + 6 * w * w + 8)
    planes = noise[5 : 5 + 6 * w * w].reshape(6, w, w)
    jitter = (noise[-8:] >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
    draws = (noise[:5] >> 8).astype(jnp.float32) * (1.0 / (1 << 24))  # uniform in [0, 1)

    open_grid, maze_dim, num_keys = maze_layout(k_maze, draws, w)
    lock_tile, slot_of, num_locks = place_locks(open_grid, planes[0], num_keys)
    is_lock = slot_of > 0
    # The agent on a uniform open tile neither on nor next to a lock ...
    flat = jnp.arange(w * w, dtype=jnp.int32).reshape(w, w)
    near_lock = is_lock | (open_neighbours(is_lock) > 0)
    agent_tile = pick(planes[1], open_grid & ~near_lock)
    agent_mask = flat == agent_tile
    # ... colours in search order from the agent, keys in the region each lock opens.
    dist, region = search_from(agent_mask, open_grid, slot_of)
    order = colour_order(lock_tile, num_locks, dist, region)

    tiles = jnp.where(open_grid, FLOOR, WALL).astype(jnp.int32)
    spots, locks = [], []
    for k in range(NUM_COLOURS + 1):  # key k in the region behind lock k - 1; then the gem
        reg = 0 if k == 0 else order[k - 1] + 1
        space = open_grid & ~is_lock & ~agent_mask & (region == reg)
        spots.append(pick(planes[2 + k], space))
        spot = flat == spots[-1]
        if k < NUM_COLOURS:
            tiles = jnp.where(spot & (k < num_locks), KEY + k, tiles)
            locks.append(lock_tile[order[k]])
            tiles = jnp.where((flat == locks[-1]) & (k < num_locks), LOCK + k, tiles)
        tiles = jnp.where(spot & (k == num_locks), GEM, tiles)
    # The gem is the spot of placement num_locks.
    spots = jnp.stack(spots)
    item_tile = jnp.concatenate([spots[:NUM_COLOURS], jnp.stack(locks), spots[num_locks][None]])

    theme = uniform_int(draws[4], num_themes)
    agent_xy = jnp.stack([agent_tile % w, w - 1 - agent_tile // w]).astype(jnp.float32)
    return HeistState(
        tiles=tiles.astype(jnp.uint8),
        pos=agent_xy + 0.5,
        vel=jnp.zeros(2, jnp.float32),
        items=item_bodies(item_tile, jitter, num_locks, w),
        facing=jnp.int32(START_FACING),
        has_keys=jnp.zeros(NUM_COLOURS, jnp.bool_),
        theme=theme.astype(jnp.int32),
        maze_dim=maze_dim.astype(jnp.int32),
        num_keys=num_locks,
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )

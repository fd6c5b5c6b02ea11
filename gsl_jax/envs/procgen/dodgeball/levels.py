"""dodgeball's constants (from openai/procgen ``src/games/dodgeball.cpp`` and
``basic-abstract-game.cpp``), its state and the level generator.

A level is a function of its seed (``level_key(seed, salt)``): the room walls, the exit door, the
agent's start, the enemies and their first moves. The state also keeps an *episode key* (``rng``,
raw uint32 key data) from which step ``t`` draws its randomness (``fold_in(episode key, t)``),
as the C++ game keeps drawing from the level's ``rand_gen``: the same seed and the same actions
give the same episode. Our generator is ``jax.random``, not Procgen's mt19937, so level ``s``
here is not Procgen's level ``s``; the distributions are the same.

Level generation (``DodgeballGame::game_reset``), world ``20 x 20``, y up:

1. Rooms: start from the whole world; ``2`` (easy) or ``4`` (hard) times pick a room uniformly
   among the rooms kept so far, remove it and split it (``split_room``): split across its width
   (a horizontal wall) or its height (a vertical wall) with probability 1/2 each, forced to the
   other way when the room is narrower than ``min_dim = 8 r_agent + 0.5`` on that side. The wall
   (half-thickness ``t``) runs through the room's middle and covers a fraction ``1 - g`` of it,
   ``g`` in ``{0.25, 0.5, 0.75}``, from one end (either with probability 1/2), leaving a gap of
   ``g``. The two halves beside the wall and the strip beyond its end become rooms if they are
   at least ``hard_min_dim = 4 r_agent + 2 t + 0.5`` on both sides and ``min_dim`` on one.
2. The exit door (a ``2 e x 2 e`` box, ``e`` = exit radius) against one of the four world edges
   (uniform), at a uniform position along it, redrawn (up to 100 times) while it overlaps a wall
   or the agent's provisional start box (``BasicAbstractGame::game_reset`` puts the agent at a
   uniform point at least 0.4 from the edges before dodgeball sets its size).
3. The agent: uniform in the world, redrawn (up to 100 times) while it overlaps a wall or the
   door.
4. ``3 + randn(4)`` enemies (3-6), each uniform in the world and redrawn (up to 100 times) while
   it overlaps the agent, a wall, the door or an earlier enemy; each starts moving at speed
   0.05 along a random axis in a random direction for ``25 + randn(50)`` steps (``choose_vel``)
   and may first throw at step 60 (``fire_time = 10``, ``enemy_fire_delay = 50``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.grid import level_key
from gsl_jax.envs.procgen.movement import box_overlap

#: World size (dodgeball.cpp ``choose_world_dim``: 20 outside memory mode).
WORLD = 20.0
#: Rewards (dodgeball.cpp ``ENEMY_REWARD``, ``COMPLETION_BONUS``).
ENEMY_REWARD, COMPLETION_BONUS = 2.0, 10.0
#: Enemy speed (``ENEMY_VEL``) and the steps between an enemy's throws (``enemy_fire_delay``).
ENEMY_VEL, ENEMY_FIRE_DELAY = 0.05, 50
#: An enemy's first ``fire_time``: it may throw once ``t - 10 >= 50``.
ENEMY_FIRST_FIRE = 10
#: Steps between the agent's throws (``cur_time - last_fire_time >= 7``).
AGENT_FIRE_DELAY = 7
#: Balls expire after this many steps (``expire_time = 50``: erased once ``life_time > 50``).
BALL_EXPIRE = 50
#: ``choose_vel``: an enemy keeps a direction for ``25 + randn(50)`` steps.
TURN_MIN, TURN_RANGE = 25, 50
#: Enemies: ``3 + randn(max_extra_enemies + 1)`` with ``max_extra_enemies = 3``.
MIN_ENEMIES, MAX_ENEMIES = 3, 6
#: BasicAbstractGame's velocity mixing (``mixrate = .5`` in dodgeball's constructor).
MIXRATE = 0.5
#: The provisional agent radius of ``BasicAbstractGame::game_reset`` (``a_r``).
START_RADIUS = 0.4
#: ``last_move_action``'s start value (7, RIGHT): the agent first throws to the right.
START_MOVE = 7
#: Draws of a rejection-sampled placement (``reposition``: the first draw and up to 100 more).
PLACEMENT_TRIES = 100
#: Enemy theme colours (``NUM_ENEMY_THEMES``) and floor themes of our own art.
NUM_ENEMY_THEMES, NUM_THEMES = 7, 6

#: Per mode (dodgeball.cpp ``game_reset``): room splits, wall half-thickness, agent, enemy,
#: ball and exit radii, ball speed and the agent's ``maxspeed``.
MODES: dict[str, dict[str, float]] = {
    "easy": dict(
        iterations=2,
        thickness=0.6,
        agent_r=1.0,
        enemy_r=1.0,
        ball_r=0.5,
        ball_speed=0.5,
        exit_r=1.5,
        maxspeed=0.75,
    ),
    "hard": dict(
        iterations=4,
        thickness=0.45,
        agent_r=0.75,
        enemy_r=0.75,
        ball_r=0.375,
        ball_speed=0.375,
        exit_r=0.75,
        maxspeed=0.5,
    ),
}
#: Pool capacities: at most 4 walls (one per split), 8 balls of the agent (one per 7 steps,
#: each living at most 51 steps) and 2 per enemy (one per 50 steps).
MAX_WALLS, MAX_BALLS, MAX_ENEMY_BALLS = 4, 8, 2 * MAX_ENEMIES

_SALT = 0x444F4447  # "DODG": keeps dodgeball levels independent of other games' levels


@struct.dataclass
class DodgeballState:
    """State of one dodgeball episode (world units, y up).

    Attributes:
        x, y, vx, vy: float32 ``[]`` the agent's centre and velocity.
        last_move: int32 ``[]`` the last moving action (0-8, never 4): the throwing direction.
        last_fire: int32 ``[]`` the step of the agent's last throw (0 at the start).
        walls: :class:`~gsl_jax.envs.procgen.entities.EntityPool` ``[MAX_WALLS]``, static.
        door_x, door_y: float32 ``[]`` the exit door's centre (half-size = exit radius).
        enemies: pool ``[MAX_ENEMIES]``; ``kind`` unused.
        turn_time: int32 ``[MAX_ENEMIES]`` steps until an enemy picks a new direction
            (``spawn_time``).
        fire_time: int32 ``[MAX_ENEMIES]`` an enemy may throw once ``t - fire_time >= 50``.
        balls: pool ``[MAX_BALLS]`` of the agent's balls; ``kind`` is the ball's age in steps.
        enemy_balls: pool ``[MAX_ENEMY_BALLS]``; ``kind`` is the age.
        rng: uint32 key data of the episode key (constant).
        theme: int32 ``[]`` floor colour theme; enemy_theme: int32 ``[]`` enemy colour.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array
    last_move: jax.Array
    last_fire: jax.Array
    walls: ent.EntityPool
    door_x: jax.Array
    door_y: jax.Array
    enemies: ent.EntityPool
    turn_time: jax.Array
    fire_time: jax.Array
    balls: ent.EntityPool
    enemy_balls: ent.EntityPool
    rng: jax.Array
    theme: jax.Array
    enemy_theme: jax.Array
    time: jax.Array
    variation: jax.Array


def randn(u: jax.Array, n: int) -> jax.Array:
    """int32: Procgen's ``randn(n)`` (uniform in ``0 .. n - 1``) from uniforms ``u`` in [0, 1)."""
    return jnp.minimum((u * n).astype(jnp.int32), n - 1)


def enemy_velocity(u_axis: jax.Array, u_sign: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``choose_vel``'s velocity: ``+-0.05`` along x or y (each with probability 1/2)."""
    vel = jnp.where(u_sign < 0.5, -ENEMY_VEL, ENEMY_VEL).astype(jnp.float32)
    along_x = u_axis < 0.5
    zero = jnp.zeros_like(vel)
    return jnp.where(along_x, vel, zero), jnp.where(along_x, zero, vel)


def split_rooms(key: jax.Array, mode: dict[str, float]) -> ent.EntityPool:
    """The room walls of a level (step 1 of the module docstring): pool ``[MAX_WALLS]``, one
    wall per split (``rx``, ``ry`` half-sizes), in split order."""
    t, r = mode["thickness"], mode["agent_r"]
    min_dim, hard_min_dim = 8 * r + 0.5, 4 * r + 2 * t + 0.5
    iterations = int(mode["iterations"])
    capacity = 1 + 3 * iterations  # rooms are appended, three per split
    rooms = jnp.zeros((capacity, 4), jnp.float32).at[0].set(jnp.array([0, 0, WORLD, WORLD]))
    kept = jnp.zeros(capacity, bool).at[0].set(True)
    walls = ent.EntityPool.empty(MAX_WALLS)
    u = jax.random.uniform(key, (iterations, 4))
    for it in range(iterations):
        count = jnp.sum(kept)
        # The k-th kept room (Procgen's randn(rooms.size()); the order does not matter).
        k = jnp.minimum((u[it, 0] * count).astype(jnp.int32), count - 1)
        idx = jnp.argmax(jnp.cumsum(kept) > k)
        rx, ry, rw, rh = rooms[idx, 0], rooms[idx, 1], rooms[idx, 2], rooms[idx, 3]
        any_room = count > 0
        kept = kept & ~((jnp.arange(capacity) == idx) & any_room)
        across = u[it, 1] < 0.5  # will_split_width: a horizontal wall
        across = jnp.where(rw < min_dim, False, across)
        across = jnp.where(rh < min_dim, True, across)
        from_start = u[it, 2] < 0.5  # choice2: the wall starts at the room's low end
        pct = 1.0 - 0.25 * (randn(u[it, 3], 3) + 1).astype(jnp.float32)
        # Vertical wall (split the height): covers pct of rh at x = rx + rw / 2.
        wy = jnp.where(from_start, ry, ry + (1 - pct) * rh)
        remy = jnp.where(from_start, ry + pct * rh, ry)
        wh, nextw = pct * rh, rw / 2 - t
        v_wall = jnp.stack([rx + rw / 2, wy + wh / 2, t, wh / 2])
        v_rooms = jnp.array(
            [
                [rx, wy, nextw, wh],
                [rx + rw / 2 + t, wy, nextw, wh],
                [rx, remy, rw, rh - wh],
            ]
        )
        # Horizontal wall (split the width): covers pct of rw at y = ry + rh / 2.
        wx = jnp.where(from_start, rx, rx + (1 - pct) * rw)
        remx = jnp.where(from_start, rx + pct * rw, rx)
        ww, nexth = pct * rw, rh / 2 - t
        h_wall = jnp.stack([wx + ww / 2, ry + rh / 2, ww / 2, t])
        h_rooms = jnp.array(
            [
                [wx, ry, ww, nexth],
                [wx, ry + rh / 2 + t, ww, nexth],
                [remx, ry, rw - ww, rh],
            ]
        )
        wall = jnp.where(across, h_wall, v_wall)
        new = jnp.where(across, h_rooms, v_rooms)
        w, h = new[:, 2], new[:, 3]
        big = ((w >= min_dim) | (h >= min_dim)) & (w >= hard_min_dim) & (h >= hard_min_dim)
        rooms = rooms.at[1 + 3 * it : 4 + 3 * it].set(new)
        kept = kept.at[1 + 3 * it : 4 + 3 * it].set(big & any_room)
        walls, _ = ent.spawn(walls, any_room, wall[0], wall[1], 0.0, 0.0, wall[2], wall[3], 0)
    return walls


def _hits(x, y, rx, ry, boxes: jax.Array, live: jax.Array) -> jax.Array:
    """bool ``[K]``: candidates ``(x, y)`` (``[K]``) of half-sizes ``(rx, ry)`` overlapping any
    live box of ``boxes`` ``[M, 4]`` (``has_collision``, margin 0)."""
    over = box_overlap(
        x[:, None],
        y[:, None],
        rx,
        ry,
        boxes[None, :, 0],
        boxes[None, :, 1],
        boxes[:, 2],
        boxes[:, 3],
    )
    return jnp.any(over & live[None, :], axis=1)


def place(
    key: jax.Array,
    rx: float,
    ry: float,
    lo: jax.Array,
    hi: jax.Array,
    boxes: jax.Array,
    live: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """``reposition``: the first of :data:`PLACEMENT_TRIES` uniform draws of a ``rx x ry`` box
    inside ``[lo, hi]`` (float32 ``[2]`` corners; ``rand_pos``: the middle on an axis where the
    box does not fit) that overlaps no live box of ``boxes`` (``[M, 4]``), else the last draw.

    Returns ``(x, y)``, float32 ``[]``."""
    u = jax.random.uniform(key, (PLACEMENT_TRIES, 2))
    r = jnp.array([rx, ry], jnp.float32)
    span = hi - lo
    c = jnp.where(span > 2 * r, (span - 2 * r) * u + r + lo, (lo + hi) / 2)
    x, y = c[:, 0], c[:, 1]
    free = ~_hits(x, y, rx, ry, boxes, live)
    pick = jnp.where(jnp.any(free), jnp.argmax(free), PLACEMENT_TRIES - 1)
    return x[pick], y[pick]


def _box_rows(pool: ent.EntityPool) -> jax.Array:
    return jnp.stack([pool.x, pool.y, pool.rx, pool.ry], axis=1)


def start_state(seed: jax.Array, mode: dict[str, float]) -> DodgeballState:
    """The start of level ``seed`` (int32 ``[]``) in a mode of :data:`MODES` (see the module
    docstring)."""
    key = level_key(seed, _SALT)
    k_rooms, k_door, k_agent, k_enemies, k_misc, k_episode = jax.random.split(key, 6)
    walls = split_rooms(k_rooms, mode)
    r, e = mode["agent_r"], mode["exit_r"]
    u = jax.random.uniform(k_misc, (5,))
    # The provisional agent box the door avoids (BasicAbstractGame::game_reset, then rx = r).
    ax0 = START_RADIUS + u[0] * (WORLD - 2 * START_RADIUS)
    ay0 = START_RADIUS + u[1] * (WORLD - 2 * START_RADIUS)
    boxes = jnp.concatenate([_box_rows(walls), jnp.stack([ax0, ay0, r, r])[None]])
    live = jnp.concatenate([walls.alive, jnp.ones(1, bool)])
    side = randn(u[2], 4)  # bottom, top, left, right edge
    w = WORLD
    lo = jnp.array([[0, 0], [0, w - 2 * e], [0, 0], [w - 2 * e, 0]], jnp.float32)[side]
    hi = jnp.array([[w, 2 * e], [w, w], [2 * e, w], [w, w]], jnp.float32)[side]
    door_x, door_y = place(k_door, e, e, lo, hi, boxes, live)
    # The agent avoids the walls and the door.
    boxes = boxes.at[-1].set(jnp.stack([door_x, door_y, e, e]))
    world_lo, world_hi = jnp.zeros(2, jnp.float32), jnp.full(2, w, jnp.float32)
    x, y = place(k_agent, r, r, world_lo, world_hi, boxes, live)
    # Enemies, one at a time, avoiding everything placed before them.
    n = MIN_ENEMIES + randn(u[3], MAX_ENEMIES - MIN_ENEMIES + 1)
    er = mode["enemy_r"]
    boxes = jnp.concatenate([boxes, jnp.stack([x, y, r, r])[None], jnp.zeros((MAX_ENEMIES, 4))])
    live = jnp.concatenate([live, jnp.ones(1, bool), jnp.zeros(MAX_ENEMIES, bool)])
    first = boxes.shape[0] - MAX_ENEMIES
    keys = jax.random.split(k_enemies, MAX_ENEMIES + 1)

    def spawn_enemy(i, carry):
        boxes, live = carry
        ex, ey = place(keys[i], er, er, world_lo, world_hi, boxes, live)
        boxes = boxes.at[first + i].set(jnp.stack([ex, ey, er, er]))
        return boxes, live.at[first + i].set(i < n)

    # A loop rather than six unrolled placements: the same draws, a sixth of the compile.
    boxes, live = jax.lax.fori_loop(0, MAX_ENEMIES, spawn_enemy, (boxes, live))
    v = jax.random.uniform(keys[-1], (3, MAX_ENEMIES))
    evx, evy = enemy_velocity(v[0], v[1])
    size = jnp.full(MAX_ENEMIES, er, jnp.float32)
    enemies = ent.EntityPool(
        x=boxes[first:, 0],
        y=boxes[first:, 1],
        vx=evx,
        vy=evy,
        rx=size,
        ry=size,
        kind=jnp.zeros(MAX_ENEMIES, jnp.int32),
        alive=live[first:],
    )
    zero = jnp.zeros((), jnp.float32)
    return DodgeballState(
        x=x,
        y=y,
        vx=zero,
        vy=zero,
        last_move=jnp.int32(START_MOVE),
        last_fire=jnp.int32(0),
        walls=walls,
        door_x=door_x,
        door_y=door_y,
        enemies=enemies,
        turn_time=TURN_MIN + randn(v[2], TURN_RANGE),
        fire_time=jnp.full(MAX_ENEMIES, ENEMY_FIRST_FIRE, jnp.int32),
        balls=ent.EntityPool.empty(MAX_BALLS),
        enemy_balls=ent.EntityPool.empty(MAX_ENEMY_BALLS),
        rng=jax.random.key_data(k_episode),
        theme=randn(u[4], NUM_THEMES),
        enemy_theme=randn(jax.random.uniform(jax.random.fold_in(k_misc, 1)), NUM_ENEMY_THEMES),
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )

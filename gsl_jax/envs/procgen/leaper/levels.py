"""leaper's constants (from openai/procgen ``src/games/leaper.cpp`` and
``basic-abstract-game.cpp``), its state, the lanes' traffic and the start of a level.

The world is ``W x W`` tiles (9 easy, 15 hard), y up. Every grid row is one lane or none:
grass, a road lane of cars, a water lane of logs, or the finish row. Cars and logs in a lane
all move at the lane's speed, so a lane's traffic is kept per *row*: ``lane_x [W, K]`` and
``lane_alive [W, K]``, ``K`` slots per row. A new entity only enters a lane when it does not
overlap the lane's previous one (Procgen's ``has_any_collision``), so entities in a lane are at
least ``2 rx`` apart and ``K`` (:data:`SLOTS`) can never be exceeded.

A level is a function of its seed: :func:`start_state` draws the layout, the agent's start and
the first traffic from ``level_key(seed, salt)`` and stores a key derived from it, the *episode
key*, in the state (``rng``). Step ``t`` draws its spawns from ``fold_in(episode key, t)``;
as in the C++ game (whose spawn draws come from the level's ``rand_gen``), what is drawn does not
depend on the actions. Our generator is ``jax.random``, not Procgen's mt19937, so level ``s``
here is not Procgen's level ``s``; the distributions are the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.procgen.grid import level_key
from gsl_jax.envs.procgen.leaper.draws import uniform_at

#: Row kinds (``row_kind``): grass (or the gaps between lanes), road, water, the finish row.
GRASS, ROAD, WATER, FINISH = 0, 1, 2, 3
#: World size per mode (leaper.cpp ``choose_world_dim``). No extreme/memory/exploration ports.
WORLD = {"easy": 9, "hard": 15}
#: Entity slots per row per mode: a lane holds at most ``(W + 2 rx) / (2 rx) + 1`` entities
#: (logs: ``rx = 0.45``), plus one for float rounding of the spacing.
SLOTS = {"easy": 13, "hard": 20}
#: leaper.cpp ``timeout = 500``.
TIMEOUT = 500
#: leaper.cpp ``GOAL_REWARD``.
GOAL_REWARD = 10.0
#: The agent's half-size (BasicAbstractGame ``a_r``).
AGENT_R = 0.4
#: leaper.cpp: ``MAX_SPEED = 2 / (NSTEP - 1) = 0.5`` (a hop's first velocity) and
#: ``VEL_DECAY = MAX_SPEED / NSTEP = 0.1`` (subtracted each step, so a hop covers 1 tile).
HOP_SPEED, VEL_DECAY = 0.5, 0.1
#: Car box (leaper.cpp ``MONSTER_RADIUS``: ``rx = 2 * 0.25``, ``ry = 0.25``); a car enters at
#: ``x = -0.25`` (or ``W + 0.25``), not at ``-rx``, as in the C++ code.
CAR_RX, CAR_RY, CAR_ENTRY_X = 0.5, 0.25, 0.25
#: Log box (leaper.cpp ``LOG_RADIUS``), entering at ``-0.45`` (or ``W + 0.45``).
LOG_R = 0.45
#: Spawn probability per step is ``|speed| / 6`` for cars and ``|speed| / 2`` for logs.
CAR_SPAWN_DIV, LOG_SPAWN_DIV = 6.0, 2.0
#: Lane speed ranges ``(car min, car max, log min, log max)`` per mode (leaper.cpp
#: ``game_reset``).
SPEEDS = {"easy": (0.03, 0.12, 0.025, 0.075), "hard": (0.05, 0.2, 0.05, 0.1)}
#: Difficulty (lanes of each kind) is drawn from ``0 .. MAX_DIFF``.
MAX_DIFF = {"easy": 3, "hard": 4}
#: The traffic is run for ``W / min(min car speed, min log speed)`` steps before the start
#: (360 easy, 300 hard, computed in float32 as the C++ code does).
PRESPAWN = {"easy": 360, "hard": 300}
#: Most lanes of one kind: ``MAX_DIFF + 1`` (hard's extra lane).
MAX_LANES = 5
#: Car colours (leaper.cpp has five car sprites) and background themes (nine topdown
#: backgrounds).
NUM_CAR_LOOKS, NUM_THEMES = 5, 9

_SALT = 0x4C454150  # "LEAP": keeps leaper levels independent of other games' levels


@struct.dataclass
class LeaperState:
    """State of one leaper episode (world units, y up; ``W`` rows, ``K`` slots per row).

    Attributes:
        x, y: float32 ``[]`` the agent's centre (half-size :data:`AGENT_R`).
        vx, vy: float32 ``[]`` the agent's velocity (a hop in progress when non-zero).
        facing: int32 ``[]`` 0 up, 1 right, 2 down, 3 left (the direction of the last hop).
        lane_x: float32 ``[W, K]`` centre x of each row's cars or logs (y is the row's
            centre ``j + 0.5``).
        lane_alive: bool ``[W, K]`` the slot holds a car or log.
        lane_look: int32 ``[W, K]`` car colour (0-4).
        row_kind: int32 ``[W]`` :data:`GRASS`, :data:`ROAD`, :data:`WATER` or :data:`FINISH`.
        row_speed: float32 ``[W]`` the lane's speed (0 on grass and the finish row).
        goal_y: int32 ``[]`` leaper.cpp's ``goal_y``: the finish row is ``goal_y - 1``.
        rng: uint32 key data of the episode key (constant; see the module docstring).
        theme: int32 ``[]`` background theme.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array
    facing: jax.Array
    lane_x: jax.Array
    lane_alive: jax.Array
    lane_look: jax.Array
    row_kind: jax.Array
    row_speed: jax.Array
    goal_y: jax.Array
    rng: jax.Array
    theme: jax.Array
    time: jax.Array
    variation: jax.Array


def row_boxes(row_kind: jax.Array) -> tuple[jax.Array, jax.Array]:
    """float32 ``([W], [W])``: the half-width and half-height of each row's entities (cars on
    roads, logs on water; zero elsewhere)."""
    rx = jnp.where(row_kind == ROAD, CAR_RX, jnp.where(row_kind == WATER, LOG_R, 0.0))
    ry = jnp.where(row_kind == ROAD, CAR_RY, jnp.where(row_kind == WATER, LOG_R, 0.0))
    return rx.astype(jnp.float32), ry.astype(jnp.float32)


def spawn(state: LeaperState, u_spawn: jax.Array, u_look: jax.Array, width: int) -> LeaperState:
    """leaper.cpp ``spawn_entities``: each lane gets a new car (probability ``|v| / 6``) or log
    (``|v| / 2``) at its entry edge unless it would overlap the lane's entities or the agent.

    ``u_spawn``, ``u_look``: float32 ``[W]`` uniform draws (spawn test, car colour).
    """
    kind, speed = state.row_kind, state.row_speed
    is_car, is_log = kind == ROAD, kind == WATER
    rx, ry = row_boxes(kind)
    off = jnp.where(is_car, CAR_ENTRY_X, LOG_R)
    new_x = jnp.where(speed > 0, -off, width + off).astype(jnp.float32)  # [W]
    row_y = jnp.arange(kind.shape[0], dtype=jnp.float32) + 0.5
    # has_any_collision: the lane's own entities (same row, same box), then the agent.
    near = jnp.abs(state.lane_x - new_x[:, None]) < (rx + rx)[:, None]
    clash = jnp.any(state.lane_alive & near, axis=1)
    clash |= (jnp.abs(state.x - new_x) < rx + AGENT_R) & (jnp.abs(state.y - row_y) < ry + AGENT_R)
    prob = jnp.abs(speed) / jnp.where(is_car, CAR_SPAWN_DIV, LOG_SPAWN_DIV)
    want = (is_car | is_log) & (u_spawn < prob) & ~clash
    free = ~state.lane_alive
    slot = jnp.argmax(free, axis=1)  # [W] first free slot of each row
    hot = want[:, None] & free & (jnp.arange(free.shape[1])[None, :] == slot[:, None])
    look = jnp.minimum((u_look * NUM_CAR_LOOKS).astype(jnp.int32), NUM_CAR_LOOKS - 1)
    return state.replace(
        lane_x=jnp.where(hot, new_x[:, None], state.lane_x),
        lane_alive=state.lane_alive | hot,
        lane_look=jnp.where(hot, look[:, None], state.lane_look),
    )


def move_traffic(state: LeaperState, width: int) -> LeaperState:
    """``Entity::step`` for every car and log (``x += v``), then ``erase_if_needed``: entities
    entirely outside the world (``x - rx > W`` or ``x + rx < 0``) leave."""
    rx, _ = row_boxes(state.row_kind)
    x = jnp.where(state.lane_alive, state.lane_x + state.row_speed[:, None], state.lane_x)
    gone = (x - rx[:, None] > width) | (x + rx[:, None] < 0)
    return state.replace(lane_x=x, lane_alive=state.lane_alive & ~gone)


def prestart_traffic(
    kind: jax.Array, speed: jax.Array, key: jax.Array, steps: int, slots: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The traffic after ``P`` pre-start steps of :func:`spawn` then :func:`move_traffic` from
    empty lanes (leaper.cpp's loop before the agent's first step): ``(lane_x float32 [W, K],
    lane_alive bool [W, K], lane_look int32 [W, K])``, ``K = slots``. Bit for bit the entities
    that loop leaves, though the slots may be ordered differently, which nothing observes (the
    frames, the rules and the compact view treat a lane's slots as a set).

    ``key``: uint32 ``[2]`` the level's traffic key data. Step ``t`` of ``P = steps`` gives
    :func:`spawn` the draws ``uniform(key, (P, 2, W))[t]`` (spawn tests, car colours), of
    which only the spawn tests and the colours of the entities alive at the end are computed
    (:func:`~.draws.uniform_at`).

    Why this is exact and cheap: every entity of a lane enters at the same ``x`` and moves by
    the same float32 ``+ v`` each step, so ``n`` steps after its birth it is at the lane's
    ``n``-th partial sum ``acc[n]``, and ``|acc[n] - entry|`` never decreases with ``n``. So
    only a lane's newest entity can block a spawn (the agent, on the grass row below the lanes,
    never does), an entity born at step ``t`` ends at ``acc[P - t]``, and it is alive at the
    end exactly when that position is inside the world. The scan carries the newest entity's
    ``x`` and each slot's birth step instead of moving and testing every slot every step.
    """
    width = kind.shape[0]
    is_car, is_log = kind == ROAD, kind == WATER
    rx, _ = row_boxes(kind)
    off = jnp.where(is_car, CAR_ENTRY_X, LOG_R)
    new_x = jnp.where(speed > 0, -off, width + off).astype(jnp.float32)  # [W], as spawn's
    prob = jnp.abs(speed) / jnp.where(is_car, CAR_SPAWN_DIV, LOG_SPAWN_DIV)
    rows = jnp.arange(width)
    u_spawn = uniform_at(key, jnp.arange(steps)[:, None] * (2 * width) + rows)  # [P, W]
    want = (is_car | is_log)[None, :] & (u_spawn < prob)
    ring = jnp.arange(slots)[None, :]

    def step(carry, step_want):
        newest, births, born_at, acc = carry
        t, want = step_want
        born = want & ~((births > 0) & (jnp.abs(newest - new_x) < rx + rx))
        # The n-th entity of a lane takes slot n % K: the live ones are its youngest, at most K.
        slot = born[:, None] & (ring == (births % slots)[:, None])
        born_at = jnp.where(slot, t, born_at)
        newest = jnp.where(born, new_x, newest) + speed
        return (newest, births + born, born_at, acc + speed), acc + speed

    init = (new_x, jnp.zeros(width, jnp.int32), jnp.full((width, slots), -1), new_x)
    # acc[i]: the entry x plus (i + 1) steps of v.
    (_, _, born_at, _), acc = jax.lax.scan(step, init, (jnp.arange(steps), want))
    # An entity born at step t has moved P - t times: it ends at acc[P - 1 - t].
    end_x = jnp.take_along_axis(acc.T, jnp.maximum(steps - 1 - born_at, 0), axis=1)
    alive = (born_at >= 0) & ~((end_x - rx[:, None] > width) | (end_x + rx[:, None] < 0))
    born = jnp.maximum(born_at, 0)
    u_look = uniform_at(key, born * (2 * width) + width + rows[:, None])  # [W, K]
    lane_look = jnp.minimum((u_look * NUM_CAR_LOOKS).astype(jnp.int32), NUM_CAR_LOOKS - 1)
    lane_x = jnp.where(alive, end_x, 0.0)
    lane_look = jnp.where(alive, lane_look, 0)
    return lane_x.astype(jnp.float32), alive, lane_look


def _rand_sign(u: jax.Array) -> jax.Array:
    """leaper.cpp ``rand_sign``: +1 when ``u < 0.5``, else -1."""
    return jnp.where(u < 0.5, 1.0, -1.0).astype(jnp.float32)


def layout(key: jax.Array, mode: str) -> tuple[jax.Array, jax.Array, jax.Array]:
    """leaper.cpp ``game_reset``'s lanes: ``(row_kind int32 [W], row_speed float32 [W],
    goal_y int32 [])``.

    Roads start at row ``1 + e`` (``e`` in {0, 1} in hard mode, 0 in easy), then ``d`` road
    lanes with ``d`` uniform in ``0 .. MAX_DIFF``; after a gap of ``1 + e'`` rows ``d`` water
    lanes; the finish row follows. In hard mode one time in four adds a road lane and one time
    in four a water lane. Car speeds have random signs; log speeds alternate in sign.
    """
    w = WORLD[mode]
    car_lo, car_hi, log_lo, log_hi = SPEEDS[mode]
    hard = mode != "easy"
    u = jax.random.uniform(key, (6 + 2 * MAX_LANES + MAX_LANES,))
    extra_road = jnp.where(hard, (u[0] * 2).astype(jnp.int32), 0)
    difficulty = jnp.minimum((u[1] * (MAX_DIFF[mode] + 1)).astype(jnp.int32), MAX_DIFF[mode])
    option = jnp.where(hard, (u[2] * 4).astype(jnp.int32), 0)
    n_road = difficulty + (option == 2)
    n_water = difficulty + (option == 3)
    extra_water = jnp.where(hard, (u[3] * 2).astype(jnp.int32), 0)
    lane = jnp.arange(MAX_LANES)
    road_sign = _rand_sign(u[6 : 6 + MAX_LANES])
    road_mag = u[6 + MAX_LANES : 6 + 2 * MAX_LANES] * (car_hi - car_lo) + car_lo
    road_speed = road_sign * road_mag
    water_sign = _rand_sign(u[4]) * jnp.where(lane % 2 == 0, 1.0, -1.0)
    water_speed = water_sign * (u[6 + 2 * MAX_LANES :] * (log_hi - log_lo) + log_lo)

    bottom_road = 1 + extra_road
    bottom_water = bottom_road + n_road + extra_water + 1
    goal_y = bottom_water + n_water + 1
    rows = jnp.arange(w)
    road_i, water_i = rows - bottom_road, rows - bottom_water
    on_road = (road_i >= 0) & (road_i < n_road)
    on_water = (water_i >= 0) & (water_i < n_water)
    kind = jnp.where(on_road, ROAD, jnp.where(on_water, WATER, GRASS))
    kind = jnp.where(rows == goal_y - 1, FINISH, kind)
    speed = jnp.where(
        on_road,
        road_speed[jnp.clip(road_i, 0, MAX_LANES - 1)],
        jnp.where(on_water, water_speed[jnp.clip(water_i, 0, MAX_LANES - 1)], 0.0),
    )
    return kind.astype(jnp.int32), speed.astype(jnp.float32), goal_y.astype(jnp.int32)


def start_state(seed: jax.Array, mode: str) -> LeaperState:
    """The start of level ``seed`` (int32 ``[]``) in ``mode``: the lanes, the agent at rest at
    ``y = 0.4`` and a uniform ``x`` in ``[0.4, W - 0.4]``, facing up, and the traffic after
    :data:`PRESPAWN` steps of spawning and moving (leaper.cpp spawns, then moves)."""
    w, k = WORLD[mode], SLOTS[mode]
    key = level_key(seed, _SALT)
    k_layout, k_start, k_traffic, k_episode = jax.random.split(key, 4)
    kind, speed, goal_y = layout(k_layout, mode)
    u = jax.random.uniform(k_start, (2,))
    theme = jnp.minimum((u[0] * NUM_THEMES).astype(jnp.int32), NUM_THEMES - 1)
    zero = jnp.zeros((), jnp.float32)
    state = LeaperState(
        x=(u[1] * (w - 2 * AGENT_R) + AGENT_R).astype(jnp.float32),
        y=jnp.float32(AGENT_R),
        vx=zero,
        vy=zero,
        facing=jnp.zeros((), jnp.int32),
        lane_x=jnp.zeros((w, k), jnp.float32),
        lane_alive=jnp.zeros((w, k), bool),
        lane_look=jnp.zeros((w, k), jnp.int32),
        row_kind=kind,
        row_speed=speed,
        goal_y=goal_y,
        rng=jax.random.key_data(k_episode),
        theme=theme,
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )

    lane_x, lane_alive, lane_look = prestart_traffic(
        kind, speed, jax.random.key_data(k_traffic), PRESPAWN[mode], k
    )
    return state.replace(lane_x=lane_x, lane_alive=lane_alive, lane_look=lane_look)

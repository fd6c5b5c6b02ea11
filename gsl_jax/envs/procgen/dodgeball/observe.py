"""dodgeball's observations: the 64x64 frame and the compact (symbolic) vector.

* Pixels (:func:`render`): uint8 ``[64, 64, 3]``, the whole ``20 x 20`` world (dodgeball turns
  Procgen's ``center_agent`` off outside memory mode), 3.2 pixels per world unit, y up. A tiled
  floor in one of 6 colour themes; the room walls as stone rectangles; the exit door as a red
  square that turns green once every enemy is out; the enemies as discs in the level's enemy
  colour (one of 7); the balls as small discs, white (the agent's) or black (the enemies'); the
  agent on top, a dark disc with a white mark on the side it will throw to. Our own colours
  (:mod:`.art`).
* Symbolic (:func:`symbolic`): float32 ``[SYMBOLIC_SIZE]`` with every entry in ``[-3, 3]``.
  Distances are in units of half the world (10), relative to the agent where marked ``d``:

  - the agent (9): ``x / 10 - 1, y / 10 - 1, vx / maxspeed, vy / maxspeed``, its throwing
    direction ``(fx, fy)`` in {-1, 0, 1}, 1 if it may throw now, the enemies left / 6, 1 if the
    door is open;
  - the door (2): ``dx, dy``;
  - each of the 4 wall slots (5): ``alive, dx, dy, rx / 10, ry / 10``;
  - each of the 6 enemy slots (6), nearest first (empty slots last, all zero): ``alive, dx, dy,
    vx / 0.05, vy / 0.05``, 1 if it may throw now;
  - each of the 12 enemy-ball and 8 agent-ball slots (5), nearest first: ``alive, dx, dy,
    vx / speed, vy / speed``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.dodgeball.art import (
    AGENT_ENTRY,
    BALL_ENTRY,
    DOOR_ENTRY,
    ENEMY_ENTRY,
    WALL_ENTRY,
)
from gsl_jax.envs.procgen.dodgeball.levels import (
    AGENT_FIRE_DELAY,
    ENEMY_FIRE_DELAY,
    ENEMY_VEL,
    MAX_BALLS,
    MAX_ENEMIES,
    MAX_ENEMY_BALLS,
    MAX_WALLS,
    WORLD,
    DodgeballState,
)
from gsl_jax.envs.procgen.grid import action_velocity

#: Sizes of the symbolic observation's parts.
AGENT_FEATURES, DOOR_FEATURES, WALL_FEATURES, ENEMY_FEATURES, BALL_FEATURES = 9, 2, 5, 6, 5
SYMBOLIC_SIZE = (
    AGENT_FEATURES
    + DOOR_FEATURES
    + WALL_FEATURES * MAX_WALLS
    + ENEMY_FEATURES * MAX_ENEMIES
    + BALL_FEATURES * (MAX_ENEMY_BALLS + MAX_BALLS)
)
SYMBOLIC_BOUND = 3.0
VIEW = ent.View.whole_world(WORLD, WORLD)
HALF = WORLD / 2


def box_profile(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A rectangle filling its box (every row spans the box's full width)."""
    one = jnp.ones_like(v)
    return -one, one


def _spans(x, y, rx, ry, visible, entry, profile=ent.ellipse_profile, top=None):
    n = x.shape[0]
    return ent.profile_spans(
        VIEW,
        x,
        y,
        rx,
        ry,
        jnp.ones(n, bool),
        visible,
        jnp.broadcast_to(jnp.asarray(entry, jnp.uint8), (n,)),
        profile,
        top_entry=None if top is None else jnp.broadcast_to(jnp.asarray(top, jnp.uint8), (n,)),
        top_from=-0.3,
    )


def _pool_painter(pool: ent.EntityPool, entry: int):
    def spans_of(i):
        def one(a):
            return jax.lax.dynamic_index_in_dim(a, i, keepdims=True)

        spans = _spans(one(pool.x), one(pool.y), one(pool.rx), one(pool.ry), one(pool.alive), entry)
        return tuple(a[0] for a in spans)

    return spans_of


def render(
    state: DodgeballState,
    agent_r: float,
    exit_r: float,
    background: np.ndarray,
    palettes: np.ndarray,
) -> jax.Array:
    """uint8 ``[64, 64, 3]`` (see the module docstring); ``background`` is
    :func:`~.art.floor_pattern`, ``palettes`` :func:`~.art.palettes`."""
    w, en = state.walls, state.enemies
    open_door = ~jnp.any(en.alive)
    e = jnp.full(1, exit_r, jnp.float32)
    door_entry = jnp.where(open_door, DOOR_ENTRY + 1, DOOR_ENTRY).astype(jnp.uint8)
    enemy_entry = (ENEMY_ENTRY + state.enemy_theme).astype(jnp.uint8)
    fx, fy = action_velocity(state.last_move)
    fx, fy = fx.astype(jnp.float32), fy.astype(jnp.float32)
    parts = [
        _spans(w.x, w.y, w.rx, w.ry, w.alive, WALL_ENTRY, box_profile, WALL_ENTRY + 1),
        _spans(
            state.door_x[None],
            state.door_y[None],
            e,
            e,
            jnp.ones(1, bool),
            door_entry[None],
            box_profile,
        ),  # fmt: skip
        _spans(en.x, en.y, en.rx, en.ry, en.alive, enemy_entry),
    ]
    left, width, entry = (jnp.concatenate(p) for p in zip(*parts, strict=True))
    canvas = ent.paint_spans(jnp.asarray(background), left, width, entry)
    canvas = ent.paint_each(
        canvas, ent.last_live(state.enemy_balls.alive),
        _pool_painter(state.enemy_balls, BALL_ENTRY + 1),
    )  # fmt: skip
    canvas = ent.paint_each(
        canvas, ent.last_live(state.balls.alive), _pool_painter(state.balls, BALL_ENTRY)
    )
    # The agent (render_z 1, on top) and the mark on its throwing side.
    ar = jnp.full(1, agent_r, jnp.float32)
    one = jnp.ones(1, bool)
    body = _spans(state.x[None], state.y[None], ar, ar, one, AGENT_ENTRY)
    norm = jnp.sqrt(fx * fx + fy * fy)
    mx = state.x + 0.55 * ar[0] * fx / norm
    my = state.y + 0.55 * ar[0] * fy / norm
    mark = _spans(mx[None], my[None], 0.3 * ar, 0.3 * ar, one, AGENT_ENTRY + 1)
    left, width, entry = (jnp.concatenate(p) for p in zip(body, mark, strict=True))
    canvas = ent.paint_spans(canvas, left, width, entry)
    return ent.colourise(canvas, jnp.asarray(palettes)[state.theme])


def _rows(pool: ent.EntityPool, state: DodgeballState, vscale: float, extra=None) -> jax.Array:
    dx, dy = pool.x - state.x, pool.y - state.y
    alive = pool.alive.astype(jnp.float32)
    cols = [alive, dx / HALF, dy / HALF, pool.vx / vscale, pool.vy / vscale]
    if extra is not None:
        cols.append(extra)
    rows = jnp.stack(cols, axis=-1) * alive[:, None]
    dist = jnp.where(pool.alive, dx * dx + dy * dy, jnp.inf)
    return ent.sort_rows(rows, dist).reshape(-1)


def symbolic(state: DodgeballState, maxspeed: float, ball_speed: float) -> jax.Array:
    """float32 ``[SYMBOLIC_SIZE]`` (layout in the module docstring)."""
    fx, fy = action_velocity(state.last_move)
    en, w = state.enemies, state.walls
    n_left = jnp.sum(en.alive).astype(jnp.float32)
    agent = jnp.stack(
        [
            state.x / HALF - 1.0,
            state.y / HALF - 1.0,
            state.vx / maxspeed,
            state.vy / maxspeed,
            fx.astype(jnp.float32),
            fy.astype(jnp.float32),
            (state.time + 1 - state.last_fire >= AGENT_FIRE_DELAY).astype(jnp.float32),
            n_left / MAX_ENEMIES,
            (n_left == 0).astype(jnp.float32),
            (state.door_x - state.x) / HALF,
            (state.door_y - state.y) / HALF,
        ]
    )
    walls = jnp.stack(
        [w.alive, (w.x - state.x) / HALF, (w.y - state.y) / HALF, w.rx / HALF, w.ry / HALF],
        axis=-1,
    ) * w.alive[:, None].astype(jnp.float32)
    ready = (state.time + 1 - state.fire_time >= ENEMY_FIRE_DELAY).astype(jnp.float32)
    out = jnp.concatenate(
        [
            agent,
            walls.reshape(-1).astype(jnp.float32),
            _rows(en, state, ENEMY_VEL, ready),
            _rows(state.enemy_balls, state, ball_speed),
            _rows(state.balls, state, ball_speed),
        ]
    )
    return jnp.clip(out, -SYMBOLIC_BOUND, SYMBOLIC_BOUND).astype(jnp.float32)

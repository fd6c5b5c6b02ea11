"""dodgeball's rules: one step (:func:`advance`), in the order of ``DodgeballGame::game_step``
and ``BasicAbstractGame::game_step`` (openai/procgen; our own code). The rules themselves are
listed in :mod:`gsl_jax.envs.procgen.dodgeball.game`'s docstring.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen import movement as mv
from gsl_jax.envs.procgen.dodgeball.levels import (
    AGENT_FIRE_DELAY,
    BALL_EXPIRE,
    COMPLETION_BONUS,
    ENEMY_FIRE_DELAY,
    ENEMY_REWARD,
    ENEMY_VEL,
    MAX_ENEMIES,
    MIXRATE,
    TURN_MIN,
    TURN_RANGE,
    WORLD,
    DodgeballState,
    enemy_velocity,
    randn,
)
from gsl_jax.envs.procgen.grid import action_velocity

#: Enemies move in this many sub-steps (``max(4, int(4 |v|))`` with ``|v| <= 0.05``).
ENEMY_SUBSTEPS = 4
_BLOCKED = mv.outside_world(WORLD, WORLD)


def enemy_step(
    x: jax.Array, y: jax.Array, vx: jax.Array, vy: jax.Array, r: jax.Array, walls: ent.EntityPool
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``basic_step_object`` for one enemy (all ``[]``): it moves along its one moving axis in 4
    sub-steps and bounces.

    * Off the world's edge (``will_reflect(ENEMY, OOB_WALL)``; the corner test at 98% of the
      half-size): the velocity flips and the centre is mirrored back by twice the overshoot of
      the box's edge past the boundary. Procgen also counts such a sub-step as *blocked*, so
      the speed is then scaled by the fraction of unblocked sub-steps (0.05 becomes 0.0375).
    * Off a wall it overlaps (``has_collision`` with ``POS_EPS``), walls visited last first:
      the velocity flips and the centre moves back by twice the overlap. Not blocked.

    The other axis's zero move changes nothing for a box inside the world that overlaps no wall,
    which is where every enemy is after its moving axis's sub-step.
    """
    along_x = jnp.abs(vx) >= jnp.abs(vy)
    p = jnp.where(along_x, x, y)  # the coordinate along the motion
    q = jnp.where(along_x, y, x)
    v = jnp.where(along_x, vx, vy)
    blocked = jnp.zeros((), jnp.int32)
    wp = jnp.where(along_x, walls.x, walls.y)
    wq = jnp.where(along_x, walls.y, walls.x)
    wrp = jnp.where(along_x, walls.rx, walls.ry)
    wrq = jnp.where(along_x, walls.ry, walls.rx)

    def substep(_, carry):
        p, v, blocked = carry
        forward = v > 0  # the sign of this sub-step's move (``_vx > 0``)
        p = p + v / ENEMY_SUBSTEPS
        lo, hi = p - r * mv.CORNER_MARGIN, p + r * mv.CORNER_MARGIN
        out = (lo < 0) | (hi >= WORLD)
        delta = jnp.where(v < 0, jnp.ceil(p - r) - (p - r), jnp.floor(p + r) - (p + r))
        p = jnp.where(out, p + 2 * delta, p)
        v = jnp.where(out, -v, v)
        for i in reversed(range(walls.capacity)):
            hit = walls.alive[i] & mv.box_overlap(
                p, q, r, r, wp[i], wq[i], wrp[i], wrq[i], mv.POS_EPS
            )
            rsum, gap = wrp[i] + r, wp[i] - p
            p = jnp.where(hit, p + jnp.where(forward, -2 * (rsum - gap), 2 * (rsum + gap)), p)
            v = jnp.where(hit, -v, v)
        return p, v, blocked + out.astype(jnp.int32)

    # A loop, not unrolled: XLA:CPU fuses an unrolled chain of sub-steps into every consumer
    # and recomputes it there (see movement.core.basic_step's ``loop``).
    p, v, blocked = jax.lax.fori_loop(0, ENEMY_SUBSTEPS, substep, (p, v, blocked))
    v = v * (ENEMY_SUBSTEPS - blocked).astype(jnp.float32) / ENEMY_SUBSTEPS
    zero = jnp.zeros_like(v)
    return (
        jnp.where(along_x, p, q),
        jnp.where(along_x, q, p),
        jnp.where(along_x, v, zero),
        jnp.where(along_x, zero, v),
    )


def _age(pool: ent.EntityPool) -> tuple[ent.EntityPool, jax.Array]:
    """Balls fly on (``Entity::step``: ``x += vx``) and age; ``expired`` (bool ``[N]``) are
    the live ones past ``expire_time`` (``life_time > 50``), erased this step."""
    pool = ent.move(pool)
    pool = pool.replace(kind=pool.kind + pool.alive.astype(jnp.int32))
    return pool, pool.alive & (pool.kind > BALL_EXPIRE)


def _outside(pool: ent.EntityPool) -> jax.Array:
    """bool ``[N]``: live balls whose centre is less than a radius from an edge
    (dodgeball.cpp erases them)."""
    return pool.alive & (
        (pool.x < pool.rx)
        | (pool.x > WORLD - pool.rx)
        | (pool.y < pool.ry)
        | (pool.y > WORLD - pool.ry)
    )


def _hits_walls(pool: ent.EntityPool, walls: ent.EntityPool) -> jax.Array:
    """bool ``[N]``: live balls overlapping a wall (``has_collision``, margin 0)."""
    over = mv.box_overlap(
        pool.x[:, None], pool.y[:, None], pool.rx[:, None], pool.ry[:, None],
        walls.x[None], walls.y[None], walls.rx[None], walls.ry[None],
    )  # fmt: skip
    return pool.alive & jnp.any(over & walls.alive[None], axis=1)


def _hit_enemies(enemies: ent.EntityPool, balls: ent.EntityPool) -> tuple[jax.Array, jax.Array]:
    """The agent's balls against the enemies (``handle_collision``): enemies visited last slot
    first each take the newest live ball they overlap; both are erased.

    Returns ``(killed [MAX_ENEMIES], used [MAX_BALLS])`` bool masks."""
    n = enemies.capacity

    def visit(k, carry):
        killed, used = carry
        i = n - 1 - k  # the last slot first
        ex, ey = enemies.x[i], enemies.y[i]
        over = ent.box_overlap(balls, ex, ey, enemies.rx[i], enemies.ry[i])
        free = over & ~used & enemies.alive[i]
        newest = jnp.argmin(jnp.where(free, balls.kind, jnp.iinfo(jnp.int32).max))
        hit = jnp.any(free)
        used = used | (hit & (jnp.arange(balls.capacity) == newest))
        return killed | (hit & (jnp.arange(n) == i)), used

    start = (jnp.zeros(n, bool), jnp.zeros(balls.capacity, bool))
    killed, used = jax.lax.fori_loop(0, n, visit, start)
    return killed, used


def advance(
    state: DodgeballState, action: jax.Array, mode: dict[str, float]
) -> tuple[DodgeballState, jax.Array, jax.Array, jax.Array]:
    """One step of ``state`` under ``action`` (int32 ``[]``) in ``mode`` (a row of
    :data:`~.levels.MODES`).

    Returns:
        ``(state, reward [] float32, success [] bool, terminal [] bool)``; ``state.time`` is
        the new step count.
    """
    time = state.time + 1
    draws = jax.random.fold_in(jax.random.wrap_key_data(state.rng), time)
    u = jax.random.uniform(draws, (5, MAX_ENEMIES))
    r, ball_r, speed = mode["agent_r"], mode["ball_r"], mode["ball_speed"]

    # BasicAbstractGame::game_step: the action, the agent's velocity and move.
    action = jnp.clip(action, 0, 14)
    special = action >= 9  # a special button: stand still (only ``9`` throws)
    ax, ay = action_velocity(action)
    ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
    last_move = jnp.where(special | (action == 4), state.last_move, action)
    vx, vy = mv.mix_velocity(state.vx, state.vy, ax, ay, MIXRATE, mode["maxspeed"])
    x_first = mv.x_moves_first(vx, vy, ax, ay, u[0, 0] < 0.5)
    x, y, vx, vy = mv.smart_step(state.x, state.y, vx, vy, r, r, x_first, _BLOCKED, loop=True)

    # step_entities: enemies bounce about, balls fly and age.
    en = state.enemies
    ex, ey, evx, evy = jax.vmap(enemy_step, in_axes=(0, 0, 0, 0, 0, None))(
        en.x, en.y, en.vx, en.vy, en.rx, state.walls
    )
    en = en.replace(x=ex, y=ey, vx=evx, vy=evy)
    balls, balls_expired = _age(state.balls)
    eballs, eballs_expired = _age(state.enemy_balls)

    # Collisions (after all moves). The agent dies touching an enemy, an enemy ball (even one
    # expiring this step: has_agent_collision ignores will_erase) or a wall; it leaves through
    # the door once no enemy was left at the start of the step.
    died = (
        jnp.any(ent.box_overlap(en, x, y, r, r))
        | jnp.any(ent.box_overlap(eballs, x, y, r, r))
        | jnp.any(ent.box_overlap(state.walls, x, y, r, r))
    )
    e = mode["exit_r"]
    at_door = mv.box_overlap(x, y, r, r, state.door_x, state.door_y, e, e)
    success = at_door & ~jnp.any(state.enemies.alive)
    # Live (not expiring) balls hit enemies first, then walls take what is left.
    live_balls = balls.replace(alive=balls.alive & ~balls_expired)
    killed, used = _hit_enemies(en, live_balls)
    balls = ent.remove(balls, balls_expired | used | _hits_walls(live_balls, state.walls))
    eballs = ent.remove(eballs, eballs_expired | _hits_walls(eballs, state.walls))
    en = ent.remove(en, killed)
    reward = ENEMY_REWARD * jnp.sum(killed).astype(jnp.float32)
    reward = reward + jnp.where(success, COMPLETION_BONUS, 0.0)

    # DodgeballGame::game_step: the agent throws along its last move (``9``, every 7 steps).
    fx, fy = action_velocity(last_move)
    fire = (action == 9) & (time - state.last_fire >= AGENT_FIRE_DELAY)
    balls, _ = ent.spawn(
        balls, fire, x, y, fx.astype(jnp.float32) * speed, fy.astype(jnp.float32) * speed,
        ball_r, ball_r, 0,
    )  # fmt: skip
    last_fire = jnp.where(fire, time, state.last_fire)

    # Enemies turn when their timer runs out, and throw at an agent within 1 unit of their row
    # or column (then also walk toward it).
    turn = state.turn_time == 0
    tvx, tvy = enemy_velocity(u[1], u[2])
    evx = jnp.where(turn, tvx, en.vx)
    evy = jnp.where(turn, tvy, en.vy)
    turn_time = jnp.where(turn, TURN_MIN + randn(u[3], TURN_RANGE), state.turn_time - 1)
    dx, dy = en.x - x, en.y - y
    bx = jnp.where(en.x < x, 1.0, -1.0)
    by = jnp.where(en.y < y, 1.0, -1.0)
    can_fire = en.alive & (time - state.fire_time >= ENEMY_FIRE_DELAY)
    vertical = can_fire & (jnp.abs(dx) < 1)
    horizontal = can_fire & ~vertical & (jnp.abs(dy) < 1)
    throws = vertical | horizontal
    evx = jnp.where(vertical, 0.0, jnp.where(horizontal, bx * ENEMY_VEL, evx))
    evy = jnp.where(vertical, by * ENEMY_VEL, jnp.where(horizontal, 0.0, evy))
    fire_time = jnp.where(throws, time + randn(u[4], 4), state.fire_time)
    en = en.replace(vx=evx, vy=evy)
    # Balls too close to an edge vanish (the new enemy balls are not checked until next step).
    balls = ent.remove(balls, _outside(balls))
    eballs = ent.remove(eballs, _outside(eballs))

    def throw(k, pool):
        i = MAX_ENEMIES - 1 - k  # the last slot first, as Procgen walks its entities
        bvx = jnp.where(vertical[i], 0.0, bx[i]) * speed
        bvy = jnp.where(vertical[i], by[i], 0.0) * speed
        return ent.spawn(pool, throws[i], en.x[i], en.y[i], bvx, bvy, ball_r, ball_r, 0)[0]

    eballs = jax.lax.fori_loop(0, MAX_ENEMIES, throw, eballs)

    state = state.replace(
        x=x,
        y=y,
        vx=vx,
        vy=vy,
        last_move=last_move,
        last_fire=last_fire,
        enemies=en,
        turn_time=turn_time,
        fire_time=fire_time,
        balls=balls,
        enemy_balls=eballs,
        time=time,
    )
    return state, reward.astype(jnp.float32), success, success | died

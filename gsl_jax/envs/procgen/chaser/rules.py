"""chaser's rules: one step of the agent, the enemies, the eggs and the orbs (openai/procgen
``src/games/chaser.cpp``, ``basic-abstract-game.cpp``, ``game.cpp``; our own code).

Positions are int32 sixteenths of a cell from the top-left corner (:mod:`.levels`). One step at
Procgen time ``t`` (``cur_time``, 1 on the first step) with one uniform ``step_rand_int`` ``R``
in ``[0, 10**6)`` shared by every random choice of the step, as in the C++ game:

1. Agent velocity (``update_agent_velocity``, ``mixrate = 1``, ``maxspeed = 0.5``): each axis
   the action presses takes the pressed direction; an axis not pressed keeps its direction. The
   agent keeps moving (Pac-Man style) until a wall stops it.
2. Movement (``basic_step_object``, 4 sub-steps): enemies move by their velocity; the agent
   tries an x move and a y move of 1/8 cell per sub-step -- y first if the action presses a
   vertical direction, else x first if it presses a horizontal one, else the axis with the
   larger speed first (a tie by ``R % 2``). A move is blocked when a corner of the agent's box
   shrunk to 98% (``0.49`` cell from the centre) would lie in a wall or outside the world; a
   blocked body stays. When both axes are blocked in a sub-step the rest are skipped; an axis
   blocked in every sub-step it tried stops (its direction becomes 0).
3. Collisions (``has_collision``, strict box overlap; agent and enemies have half-size 0.5,
   large orbs 0.4): touching an enemy while enemies are edible (``t - eat_time < 75`` with the
   eat time of the previous step: Procgen handles enemies before large orbs) eats it (no
   reward); otherwise the agent dies (episode over). Touching a large orb gives 0.04 and makes
   enemies edible from now on (``eat_time = t``).
4. Eggs count down and hatch at 0 into an enemy standing on the egg's cell (it moves from the
   next step). An enemy standing still or at a cell centre picks its next cell among the open
   neighbours other than the one it came from (in the order left, below, above, right): when
   ``R`` is even it keeps the ones nearest the agent's cell (Manhattan; *farthest* while
   edible), then it takes candidate ``R % count``. Its speed is 1/2 cell per step, 1/4 while
   edible. If fewer than 3 eggs and enemies remain, an egg spawns on open cell ``R % num_open``
   (Procgen's order, the agent's cell included).
5. The agent eats the small orb of the cell holding its centre (``int(x), int(y)``): 0.04. When
   no small orb is left the level is complete: +10, episode over.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.chaser.levels import (
    EAT_TIMEOUT,
    EGG_TIMEOUT,
    FLOOR,
    NEIGHBOURS,
    ORB,
    UNIT,
    WALL,
    ChaserState,
)
from gsl_jax.envs.procgen.grid import action_velocity

#: chaser.cpp ``ORB_REWARD`` (small and large orbs) and ``COMPLETION_BONUS``.
ORB_REWARD = 0.04
COMPLETION_BONUS = 10.0
#: Agent sub-step length (1/8 cell) and sub-steps per step, in position units.
AGENT_SUBSTEP = 2
SUBSTEPS = 4
#: Enemy speed per step: 1/2 cell, halved while enemies are edible.
ENEMY_SPEED = 8
SCARED_SPEED = 4
#: Strict overlap thresholds in position units: agent-enemy ``0.5 + 0.5``, agent-large orb
#: ``0.5 + 0.4`` (positions are integers, so ``< 14.4`` is ``<= 14``).
ENEMY_REACH = 16
LARGE_ORB_REACH = 14
#: ``step_rand_int``'s range (``rand_gen.randint(0, 1000000)``).
RAND_RANGE = 1_000_000


def _cell_free(tiles: jax.Array, row: jax.Array, col: jax.Array) -> jax.Array:
    """bool: cell ``(row, col)`` lies inside the world and is not a wall."""
    w = tiles.shape[0]
    inside = (row >= 0) & (row < w) & (col >= 0) & (col < w)
    return inside & (tiles[jnp.clip(row, 0, w - 1), jnp.clip(col, 0, w - 1)] != WALL)


def _fits(tiles: jax.Array, r: jax.Array, c: jax.Array) -> jax.Array:
    """bool: the agent's box, shrunk to 98%, centred at ``(r, c)`` touches no wall.

    The shrunk box reaches ``0.49`` cell = 7.84 units from the centre, so on integer
    positions its corner cells are rows ``(r - 8) // 16`` and ``(r + 7) // 16`` (same for
    columns).
    """
    top, bottom = (r - 8) // UNIT, (r + 7) // UNIT
    left, right = (c - 8) // UNIT, (c + 7) // UNIT
    return (
        _cell_free(tiles, top, left)
        & _cell_free(tiles, top, right)
        & _cell_free(tiles, bottom, left)
        & _cell_free(tiles, bottom, right)
    )


def move_agent(
    tiles: jax.Array, pos: jax.Array, direction: jax.Array, x_first: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """``basic_step_object`` for the agent: 4 sub-steps of 1/8 cell along each moving axis.

    Args:
        tiles: uint8 ``[W, W]``.
        pos: int32 ``[2]`` ``(r, c)``; direction: int32 ``[2]`` ``(d_row, d_col)`` signs.
        x_first: bool ``[]``, try the column move before the row move in each sub-step.

    Returns:
        ``(pos, direction)`` after the step; an axis blocked in every sub-step stops.
    """
    # Axis 0 is the row, 1 the column; ``first`` is the axis tried first in every sub-step.
    first = jnp.where(x_first, 1, 0)
    axes = jnp.stack([first, 1 - first])
    steps = AGENT_SUBSTEP * direction[axes][:, None] * (jnp.arange(2)[None, :] == axes[:, None])

    def sub_step(_, carry):
        pos, moved, stopped = carry
        ok = []
        for k in range(2):  # the first axis, then the other, from where the first move left
            target = pos + steps[k]
            fits = (direction[axes[k]] == 0) | _fits(tiles, target[0], target[1])
            pos = jnp.where(fits & ~stopped, target, pos)
            ok.append(fits)
        moved = moved + jnp.where(stopped, 0, jnp.stack(ok).astype(jnp.int32))
        return pos, moved, stopped | (~ok[0] & ~ok[1])

    carry = (pos, jnp.zeros(2, jnp.int32), jnp.zeros((), bool))
    pos, moved, _ = jax.lax.fori_loop(0, SUBSTEPS, sub_step, carry)
    moved_by_axis = jnp.where(x_first, moved[::-1], moved)  # back to (row, col) order
    return pos, jnp.where(moved_by_axis > 0, direction, 0)


def _agent_cell(agent: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The cell ``(row, col)`` holding the agent's centre (Procgen's ``int(x), int(y)`` with
    ``y`` up: on a row boundary the row above)."""
    return (agent[0] - 1) // UNIT, agent[1] // UNIT


def choose_direction(
    tiles: jax.Array,
    pos: jax.Array,
    vel: jax.Array,
    agent_cell: tuple[jax.Array, jax.Array],
    edible: jax.Array,
    rand: jax.Array,
) -> jax.Array:
    """The new velocity (int32 ``[2]``) of an enemy at a cell centre ``pos`` (chaser.cpp's
    ``game_step``); see the module docstring, step 4."""
    row, col = pos[0] // UNIT, pos[1] // UNIT
    prev_r, prev_c = row - jnp.sign(vel[0]), col - jnp.sign(vel[1])
    offsets = jnp.asarray(NEIGHBOURS, jnp.int32)
    nr, nc = row + offsets[:, 0], col + offsets[:, 1]
    valid = _cell_free(tiles, nr, nc) & ~((nr == prev_r) & (nc == prev_c))
    dist = jnp.abs(nr - agent_cell[0]) + jnp.abs(nc - agent_cell[1])
    dist = jnp.where(edible, -dist, dist)
    best = jnp.min(jnp.where(valid, dist, jnp.iinfo(jnp.int32).max))
    aggressive = rand % 2 == 0
    candidates = valid & (~aggressive | (dist == best))
    count = jnp.maximum(jnp.sum(candidates), 1)
    rank = jnp.cumsum(candidates) - 1
    pick = candidates & (rank == rand % count)
    speed = jnp.where(edible, SCARED_SPEED, ENEMY_SPEED)
    step = jnp.sum(jnp.where(pick[:, None], offsets, 0), axis=0)
    return (step * speed).astype(jnp.int32)


def step(
    key: jax.Array, state: ChaserState, action: jax.Array
) -> tuple[ChaserState, jax.Array, jax.Array, jax.Array]:
    """One step of the rules with ``step_rand_int`` drawn from ``key`` (:func:`advance`)."""
    return advance(state, action, ent.materialize(jax.random.randint(key, (), 0, RAND_RANGE)))


def advance(
    state: ChaserState, action: jax.Array, rand: jax.Array
) -> tuple[ChaserState, jax.Array, jax.Array, jax.Array]:
    """One step of the rules (module docstring) with ``step_rand_int`` = ``rand`` (int32 ``[]``
    in ``[0, 10**6)``).

    Returns:
        ``(state, reward [] float32, died [] bool, complete [] bool)``; ``state.time`` counts
        the step.
    """
    tiles = state.tiles
    t = state.time + 1
    # 1. velocity: Procgen's (vx, vy) with y up; rows point down.
    vx, vy = action_velocity(action)
    press = jnp.stack([-vy, vx]).astype(jnp.int32)
    direction = jnp.where(press != 0, press, state.agent_dir)
    # basic_step_object: y first when the action presses vertically, x first when it presses
    # horizontally, else the faster axis (a tie by R % 2).
    tie = jnp.abs(direction[1]) == jnp.abs(direction[0])
    x_first = jnp.where(tie, rand % 2 == 0, jnp.abs(direction[1]) > jnp.abs(direction[0]))
    x_first = jnp.where(vx != 0, True, x_first)
    x_first = jnp.where(vy != 0, False, x_first)
    # 2. movement.
    is_enemy = state.enemy_kind == 2
    enemy_pos = state.enemy_pos + jnp.where(is_enemy[:, None], state.enemy_vel, 0)
    agent, agent_dir = move_agent(tiles, state.agent, direction, x_first)
    # Into a buffer now: everything below and the frame read the agent's position, and XLA:CPU
    # would otherwise recompute the unrolled sub-steps inside each consumer (per pixel).
    agent = ent.materialize(agent)
    # 3. collisions; enemies are handled before the large orbs, with the old eat time.
    was_edible = t - state.eat_time < EAT_TIMEOUT
    gap = jnp.abs(enemy_pos - agent[None, :])
    touching = is_enemy & jnp.all(gap < ENEMY_REACH, axis=1)
    died = jnp.any(touching) & ~was_edible
    eaten = touching & was_edible
    orb_pos = state.orb_cells * UNIT + UNIT // 2
    orb_hit = state.orb_alive & jnp.all(jnp.abs(orb_pos - agent[None, :]) <= LARGE_ORB_REACH, 1)
    eat_time = jnp.where(jnp.any(orb_hit), t, state.eat_time)
    eat_time = ent.materialize(eat_time + EAT_TIMEOUT) - EAT_TIMEOUT  # (>= 0 before the shift)
    reward = ORB_REWARD * jnp.sum(orb_hit)
    # 4. eggs and enemies.
    kind = jnp.where(eaten, 0, state.enemy_kind)
    edible = t - eat_time < EAT_TIMEOUT
    cell = _agent_cell(agent)
    is_egg = kind == 1
    timer = jnp.where(is_egg, state.egg_timer - 1, state.egg_timer)
    hatch = is_egg & (timer == 0)
    at_centre = jnp.all(enemy_pos % UNIT == UNIT // 2, axis=1)
    standing = jnp.all(state.enemy_vel == 0, axis=1)
    turn = (kind == 2) & (standing | at_centre)
    chosen = jax.vmap(choose_direction, in_axes=(None, 0, 0, None, None, None))(
        tiles, enemy_pos, state.enemy_vel, cell, edible, rand
    )
    enemy_vel = jnp.where(turn[:, None], chosen, state.enemy_vel)
    enemy_vel = jnp.where(hatch[:, None], 0, enemy_vel)
    kind = jnp.where(hatch, 2, kind)
    # An egg respawns in the first empty slot while fewer than 3 eggs and enemies remain.
    empty = kind == 0
    slot = jnp.argmax(empty)
    spawn = jnp.any(empty) & (jnp.arange(kind.shape[0]) == slot)
    w = tiles.shape[0]
    flat = state.open_cells[rand % state.num_open]
    egg_pos = jnp.stack([flat // w, flat % w]) * UNIT + UNIT // 2
    kind = jnp.where(spawn, 1, kind)
    enemy_pos = jnp.where(spawn[:, None], egg_pos[None, :], enemy_pos)
    enemy_vel = jnp.where(spawn[:, None], 0, enemy_vel)
    timer = jnp.where(spawn, EGG_TIMEOUT, timer)
    # 5. the small orb under the agent, then completion.
    row, col = cell
    on_orb = tiles[row, col] == ORB
    # A one-hot select, not ``.at[].set``: under vmap a batch-dependent index is a scatter.
    here = (jnp.arange(w)[:, None] == row) & (jnp.arange(w)[None, :] == col)
    tiles = jnp.where(here & on_orb, jnp.uint8(FLOOR), tiles)
    orbs_left = state.orbs_left - on_orb.astype(jnp.int32)
    complete = orbs_left == 0
    reward = reward + ORB_REWARD * on_orb + COMPLETION_BONUS * complete
    # The frame reads these once per pixel: computed into buffers here, XLA:CPU would otherwise
    # fuse their producers (the step's random draw included) into the renderer and redo them
    # for every pixel (docs/benchmarks.md, section 4, chaser).
    state = state.replace(
        tiles=ent.materialize(tiles),
        agent=agent,
        agent_dir=agent_dir,
        enemy_kind=ent.materialize(kind),
        enemy_pos=ent.materialize(enemy_pos),
        enemy_vel=enemy_vel,
        egg_timer=timer,
        orb_alive=state.orb_alive & ~orb_hit,
        eat_time=eat_time,
        orbs_left=orbs_left,
        time=t,
    )
    return state, reward.astype(jnp.float32), died, complete

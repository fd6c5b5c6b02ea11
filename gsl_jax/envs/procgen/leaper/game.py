"""Procgen *leaper* in JAX: a frog hops up across lanes of cars and then lanes of logs to the
finish row.

Rules (from openai/procgen ``src/games/leaper.cpp``, ``basic-abstract-game.cpp``,
``entity.cpp`` and ``game.cpp``; our own code; the constants are in :mod:`.levels`):

* World: ``W x W`` tiles, ``W = 9`` easy and ``15`` hard, drawn whole. From the bottom: grass,
  ``d`` road lanes from row ``1 (+1)``, a gap of ``1 (+1)`` rows, ``d`` water lanes, the finish
  row (``d`` uniform in ``0..3`` easy, ``0..4`` hard; the ``+1`` gaps and one extra road or
  water lane in half the hard levels; :func:`~.levels.layout`).
* The agent (box half-size 0.4) starts at rest at ``y = 0.4``, ``x`` uniform in
  ``[0.4, W - 0.4]``. Actions are Procgen's 15 (``a % 9`` gives ``(ax, ay)``, actions 9-14
  stand still). It hops: only when both velocity components are exactly 0 does an action start
  a hop, horizontal if ``ax != 0`` (so a diagonal hops sideways) else vertical, with speed 0.5;
  every step the speed drops by 0.1 (``decay_vel``), so a hop moves ``0.4 + 0.3 + 0.2 + 0.1``
  = one tile and, as float32 leaves ``1.5e-8`` after the fourth decay, takes six steps before
  the next can start. Movement is Procgen's sub-stepped smart step with the world's outside
  blocking (:func:`~gsl_jax.envs.procgen.movement.smart_step`).
* Cars and logs move ``x += v`` at their lane's speed (cars ``0.03-0.12`` easy, ``0.05-0.2``
  hard, random directions; logs ``0.025-0.075`` / ``0.05-0.1``, alternating directions); each
  step, after moving, a car enters a lane with probability ``|v| / 6`` and a log with ``|v| /
  2`` unless it would overlap the lane's last entity or the agent; entities leave once entirely
  outside. Before the start the traffic runs for 360 (easy) / 300 (hard) steps.
* Per step, in leaper.cpp's order: the agent moves; the traffic moves; touching a car (boxes
  ``1 x 0.5`` and ``0.8 x 0.8`` overlapping) ends the episode; resting (zero velocity) while
  touching the finish row gives reward 10, ends the episode and completes the level; the
  traffic spawns; the agent *stands on a log* when its centre is within 0.45 of a log's on
  both axes; resting on a water cell (cell of ``(int(x), int(y))``) and not on a log ends the
  episode; on a log the agent is carried ``x += v_log``; leaving the world (``x + 0.4 < 0`` or
  ``x - 0.4 > W``, which only a log can do) ends the episode.
* The time limit is 500 steps (leaper.cpp), ``info["truncated"]`` then.

Randomness: a level, its start and its whole traffic are functions of the level seed
(:mod:`.levels`); the key passed to :meth:`Leaper.transition` is unused.

Differences from the C++ game (none visible to the agent's rules): Procgen draws the lanes'
entities in spawn order; a lane here draws in slot order, and no two entities of a lane
overlap, so the frames agree. The art is our own (:mod:`.art`); the frog's hop animation is
not drawn.

Observations: uint8 ``[64, 64, 3]`` frames or the float32 ``[77]`` egocentric lane view of
:mod:`.observe`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen import movement as mv
from gsl_jax.envs.procgen.grid import action_velocity
from gsl_jax.envs.procgen.leaper import observe
from gsl_jax.envs.procgen.leaper.art import ground_patterns, palettes
from gsl_jax.envs.procgen.leaper.draws import fold_in, uniform_at
from gsl_jax.envs.procgen.leaper.levels import (
    AGENT_R,
    GOAL_REWARD,
    HOP_SPEED,
    LOG_R,
    ROAD,
    TIMEOUT,
    VEL_DECAY,
    WATER,
    WORLD,
    LeaperState,
    move_traffic,
    row_boxes,
    spawn,
    start_state,
)
from gsl_jax.envs.procgen.port import ProcgenPort


def decay(v: jax.Array) -> jax.Array:
    """leaper.cpp ``decay_vel``: ``|v|`` drops by 0.1 towards 0 keeping its sign (float32)."""
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - jnp.float32(VEL_DECAY), 0.0)


def hop_velocity(
    vx: jax.Array, vy: jax.Array, ax: jax.Array, ay: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """leaper.cpp ``update_agent_velocity``: at rest, an action starts a hop (horizontal first);
    then both components decay."""
    rest = (vx == 0) & (vy == 0)
    vx = jnp.where(rest & (ax != 0), HOP_SPEED * ax, vx)
    vy = jnp.where(rest & (ax == 0) & (ay != 0), HOP_SPEED * ay, vy)
    return decay(vx), decay(vy)


class Leaper(ProcgenPort):
    """Procgen leaper (see the module docstring for the rules).

    Args:
        distribution_mode: ``"easy"`` (9 x 9 world, up to 3 lanes of each kind) or ``"hard"``
            (15 x 15, up to 5, faster traffic).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32 ``[77]``).
        timeout: episode step limit (leaper.cpp uses 500).
    """

    game = "leaper"
    modes = tuple(WORLD)  # extreme mode differs only in speeds; not ported
    default_timeout = TIMEOUT
    option_defaults: ClassVar[dict[str, Any]] = {}

    def setup(self) -> None:
        """Build the art for this mode's world size."""
        self.world = WORLD[self.distribution_mode]
        self._blocked = mv.outside_world(float(self.world), float(self.world))
        self._patterns = ground_patterns(self.world)
        self._palettes = palettes()

    def symbolic_space(self) -> Box:
        """float32 ``[77]`` in ``[-2, 2]``."""
        size = observe.AGENT_FEATURES + observe.ROW_FEATURES * len(observe.ROW_OFFSETS)
        return Box((size,), -observe.SYMBOLIC_BOUND, observe.SYMBOLIC_BOUND, jnp.float32)

    def generate(self, seed: jax.Array) -> LeaperState:
        """The start of level ``seed`` (int32 ``[]``), from the seed alone."""
        return start_state(seed, self.distribution_mode)

    def transition(
        self, key: jax.Array, state: LeaperState, action: jax.Array
    ) -> tuple[LeaperState, jax.Array, jax.Array, Info]:
        """One step (leaper.cpp ``game_step``'s order); ``key`` is unused, the traffic's draws
        come from the episode key in ``state``."""
        del key
        w = self.world
        time = state.time + 1
        # jax.random.uniform(fold_in(episode key, time), (2, W)), computed by draws.py.
        u = uniform_at(fold_in(state.rng, time), jnp.arange(2 * w).reshape(2, w))

        # The agent hops (BasicAbstractGame::game_step with leaper's velocity rule).
        ax, ay = action_velocity(action)
        ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
        rest = (state.vx == 0) & (state.vy == 0)
        facing = jnp.where(
            rest & (ax != 0),
            jnp.where(ax > 0, 1, 3),
            jnp.where(rest & (ay != 0), jnp.where(ay > 0, 0, 2), state.facing),
        ).astype(jnp.int32)
        vx, vy = hop_velocity(state.vx, state.vy, ax, ay)
        # With one non-zero component the sub-step order only matters for the tie, which
        # (both components 0) moves nothing on either axis.
        x_first = mv.x_moves_first(vx, vy, ax, ay, jnp.ones((), bool))
        x, y, vx, vy = mv.smart_step(
            state.x, state.y, vx, vy, AGENT_R, AGENT_R, x_first, self._blocked
        )

        # Traffic moves; then the agent meets it (handle_agent_collision).
        state = move_traffic(state, w)
        rx, ry = row_boxes(state.row_kind)
        row_y = jnp.arange(w, dtype=jnp.float32) + 0.5
        dx = jnp.abs(x - state.lane_x)  # [W, K]
        dy = jnp.abs(y - row_y)[:, None]
        is_car = (state.row_kind == ROAD)[:, None]
        hit = jnp.any(
            state.lane_alive
            & is_car
            & (dx < (AGENT_R + rx)[:, None])
            & (dy < (AGENT_R + ry)[:, None])
        )
        resting = (vx == 0) & (vy == 0)
        finish_y = state.goal_y.astype(jnp.float32) - 0.5
        half_w = jnp.float32(w / 2.0)
        at_finish = (jnp.abs(x - half_w) < AGENT_R + half_w) & (
            jnp.abs(y - finish_y) < AGENT_R + 0.5
        )
        complete = at_finish & resting
        out = (x + AGENT_R < 0) | (x - AGENT_R > w)

        # New traffic, then logs carry (or water drowns) the agent.
        state = spawn(state.replace(x=x, y=y), u[0], u[1], w)
        margin = jnp.float32(-AGENT_R)
        reach = (jnp.float32(AGENT_R) + jnp.float32(LOG_R)) + margin
        is_log = (state.row_kind == WATER)[:, None]
        on = state.lane_alive & is_log & (jnp.abs(x - state.lane_x) < reach) & (dy < reach)
        on_row = jnp.any(on, axis=1)
        on_log = jnp.any(on_row)
        log_vx = jnp.sum(jnp.where(on_row, state.row_speed, 0.0))
        cx, cy = x.astype(jnp.int32), y.astype(jnp.int32)  # C++ int(): truncation
        cell_water = (cx >= 0) & (cx < w) & (state.row_kind[jnp.clip(cy, 0, w - 1)] == WATER)
        drown = cell_water & ~on_log & resting
        x = jnp.where(on_log, x + log_vx, x)
        out |= (x + AGENT_R < 0) | (x - AGENT_R > w)

        state = state.replace(x=x, y=y, vx=vx, vy=vy, facing=facing, time=time)
        terminal = hit | complete | drown | out
        reward = jnp.where(complete, GOAL_REWARD, 0.0).astype(jnp.float32)
        done, info = self.end_of_step(time, complete, terminal, state.variation)
        return state, reward, done, info

    def render(self, state: LeaperState) -> jax.Array:
        """uint8 ``[64, 64, 3]`` (see :mod:`.observe`)."""
        return observe.render(state, self.world, self._patterns, self._palettes)

    def symbolic(self, state: LeaperState) -> jax.Array:
        """float32 ``[77]`` (layout in :mod:`.observe`)."""
        return observe.symbolic(state, self.world)

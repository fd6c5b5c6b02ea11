"""Tests of Procgen's movement (gsl_jax.envs.procgen.movement): the shared sub-step core, the
top-down agent (heist, bigfish) and the platformer body (coinrun), on hand-made worlds with
hand-computed results."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen.entities import EntityPool, spawn
from gsl_jax.envs.procgen.movement import (
    Body,
    PlatformerParams,
    box_overlap,
    grounded,
    mix_velocity,
    move_body,
    outside_world,
    patrol_step,
    push_out,
    smart_step,
    sub_step,
    x_moves_first,
)

P = PlatformerParams()  # coinrun's body: gravity 0.2, jump 1.5, maxspeed 0.5, rx 0.5, ry 0.5787
F = jnp.float32


# ------------------------------------------------------------------------------------------------
# Shared core
# ------------------------------------------------------------------------------------------------
def test_box_overlap_is_strict():
    # |dx| < rx + orx + margin and |dy| < ry + ory + margin
    assert bool(box_overlap(0.0, 0.0, 0.5, 0.5, 0.9, 0.0, 0.5, 0.5))
    assert not bool(box_overlap(0.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.5, 0.5))  # touching only
    assert not bool(box_overlap(0.0, 0.0, 0.5, 0.5, 0.9995, 0.0, 0.5, 0.5, -0.001))
    assert bool(box_overlap(0.0, 0.0, 0.5, 0.5, 0.998, 0.0, 0.5, 0.5, -0.001))


def test_x_moves_first_order_of_rules():
    t, f = jnp.bool_(True), jnp.bool_(False)
    # (vx, vy, action_vx, action_vy, tie) -> x first?
    cases = [
        ((0.3, 0.1, 0, 0, f), True),  # faster axis first
        ((0.1, 0.3, 0, 0, t), False),
        ((0.2, -0.2, 0, 0, t), True),  # exact tie: the tie flag
        ((0.2, -0.2, 0, 0, f), False),
        ((0.1, 0.3, 1, 0, f), True),  # a horizontal action: x first
        ((0.3, 0.1, 0, -1, t), False),  # a vertical action: y first ...
        ((0.3, 0.1, 1, 1, t), False),  # ... even with a horizontal one (checked last)
    ]
    for (vx, vy, ax, ay, tie), want in cases:
        assert bool(x_moves_first(F(vx), F(vy), jnp.int32(ax), jnp.int32(ay), tie)) == want


def test_sub_step_snaps_the_leading_edge():
    blocked = outside_world(4.0, 4.0)
    r = F(0.5)
    # Right: the shrunk corner 3.6 + 0.49 = 4.09 leaves the world; the edge snaps to x = 4.
    x, y, block = sub_step(F(3.3), F(2.0), r, r, F(0.3), F(0.0), blocked)
    assert bool(block) and float(x) == 3.5 and float(y) == 2.0
    # Down: 0.2 - 0.49 < 0; the bottom edge snaps to y = 0.
    x, y, block = sub_step(F(2.0), F(0.6), r, r, F(0.0), F(-0.4), blocked)
    assert bool(block) and float(y) == 0.5 and float(x) == 2.0
    # Touching a wall exactly is not blocked (corners at 98%): 3.5 + 0.49 < 4.
    x, y, block = sub_step(F(3.4), F(2.0), r, r, F(0.1), F(0.0), blocked)
    assert not bool(block) and float(x) == pytest.approx(3.5)


# ------------------------------------------------------------------------------------------------
# Top-down
# ------------------------------------------------------------------------------------------------
def test_mix_velocity_hand_computed():
    vx, vy = mix_velocity(F(0.2), F(0.0), F(1.0), F(-1.0), mixrate=0.5, maxspeed=0.5)
    # 0.9 * (0.5 * 0.2 + 0.5 * 0.5 * 1) and 0.9 * (0 - 0.25)
    assert float(vx) == pytest.approx(0.315) and float(vy) == pytest.approx(-0.225)


@pytest.mark.parametrize("loop", [False, True])
def test_smart_step_keeps_the_free_fraction(loop):
    # vx 0.4 in 4 sub-steps of 0.1 from x = 3.3 (rx 0.5) towards the world's edge at 4: the
    # 3rd and 4th x moves are blocked and snap to 3.5, so vx keeps 2/4 of its value; the zero
    # y moves are never blocked.
    blocked = outside_world(4.0, 4.0)
    r = F(0.5)
    x, y, vx, vy = smart_step(
        F(3.3), F(2.0), F(0.4), F(0.0), r, r, jnp.bool_(True), blocked, loop=loop
    )
    assert float(x) == 3.5 and float(y) == 2.0
    assert float(vx) == pytest.approx(0.2) and float(vy) == 0.0


@pytest.mark.parametrize("loop", [False, True])
def test_smart_step_stops_at_a_blocker(loop):
    # vx 0.4 in sub-steps of 0.1 from x = 0.5 towards a static box at x = 1.8 (half-size 0.5):
    # the 4th x move (to 0.9) overlaps it by more than 0.001, so the mover is pushed back to
    # touching (1.8 - 1.0 = 0.8) and vx becomes 0 at once.
    pool = EntityPool.empty(2)
    pool, _ = spawn(pool, True, 1.8, 0.5, 0.0, 0.0, 0.5, 0.5, 0)
    blocked = outside_world(10.0, 10.0)
    r = F(0.5)
    x, y, vx, vy = smart_step(
        F(0.5), F(0.5), F(0.4), F(0.0), r, r, jnp.bool_(True), blocked, blockers=pool, loop=loop
    )
    assert float(x) == pytest.approx(0.8) and float(y) == 0.5 and float(vx) == 0.0
    x, y, hit = push_out(F(1.2), F(0.5), r, r, jnp.bool_(True), pool)
    assert bool(hit) and float(x) == pytest.approx(0.8)
    x, y, hit = push_out(F(0.5), F(0.5), r, r, jnp.bool_(True), pool)
    assert not bool(hit) and float(x) == 0.5


# ------------------------------------------------------------------------------------------------
# Platformer, on hand-made tile maps
# ------------------------------------------------------------------------------------------------
ROOM = (64, 20)  # rows, columns of the hand-made tile maps
STEPS = 25  # every physics rollout runs this many steps (one compiled function for all)


def tile_map(grid: jax.Array):
    """A TileFn over a bool ``[rows, cols]`` array indexed ``[row, col]`` (row 0 at the
    bottom); everything outside is solid."""
    h, w = grid.shape

    def fn(c, r):
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        return jnp.where(inside, grid[jnp.clip(r, 0, h - 1), jnp.clip(c, 0, w - 1)], True)

    return fn


def open_room(floor: bool = True) -> np.ndarray:
    room = np.zeros(ROOM, bool)
    if floor:
        room[0] = True
    return room


@jax.jit
def _rollout(body, acts, room, crates):
    solid, platform = tile_map(room), tile_map(crates)

    def f(carry, a):
        body, on_platform = carry
        result, support = move_body(
            body, a[0], a[1], P, solid, on_platform, platform, last_y=body.y
        )
        out = (result.body.x, result.body.y, result.body.vx, result.body.vy, support)
        return (result.body, result.on_platform), out + (result.on_platform,)

    return jax.lax.scan(f, (body, jnp.bool_(False)), acts)[1]


def rollout_body(body, actions, room, crates=None):
    """Apply ``actions`` (list of (vx, vy)) with :func:`move_body` in the tile map ``room``
    (one-way platforms ``crates``); returns per-step numpy x, y, vx, vy, support and
    whether a platform caught the body."""
    n = len(actions)
    acts = jnp.asarray(list(actions) + [(0, 0)] * (STEPS - n), jnp.int32)
    crates = np.zeros(ROOM, bool) if crates is None else crates
    out = _rollout(body, acts, jnp.asarray(room), jnp.asarray(crates))
    return [np.asarray(a)[:n] for a in out]


def test_free_fall_matches_closed_form():
    # Each step: vy <- max(vy - g, -max_jump), then y <- y + vy (in sub-steps summing to vy).
    start = Body.at(4.5, 50.0)
    n = 12
    x, y, vx, vy, support, _ = rollout_body(start, [(0, 0)] * n, open_room(floor=False))
    k = np.arange(1, n + 1)
    vy_expected = -np.minimum(0.2 * k, 1.5)
    y_expected = 50.0 + np.cumsum(vy_expected)
    np.testing.assert_allclose(vy, vy_expected, atol=1e-5)
    np.testing.assert_allclose(y, y_expected, atol=1e-4)
    assert not support.any() and (x == 4.5).all() and (vx == 0).all()
    # 0.2 * (1 + ... + 7) + 1.5 * 5 = 5.6 + 7.5 after 12 steps
    assert abs(y[-1] - (50.0 - 13.1)) < 1e-4


def test_jump_apex_height():
    start = Body.at(5.5, 1.0 + P.ry)  # standing on the floor (row 0)
    x, y, vx, vy, support, _ = rollout_body(start, [(0, 1)] + [(0, 0)] * 11, open_room())
    # vy = 1.5 on the jump step (no gravity), then 1.3, 1.1, ..., 0.1: apex 6.4 after 8 steps.
    assert support[0]
    assert P.jump_height == pytest.approx(6.4)
    assert int(np.argmax(y)) == 7
    assert y.max() - start.y == pytest.approx(6.4, abs=1e-4)
    np.testing.assert_allclose(vy[:9], [1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.3, 0.1, -0.1], atol=1e-5)


def test_walking_into_a_wall_stops_flush():
    room = open_room()
    room[:, 8] = True  # a wall at column 8
    start = Body.at(5.5, 1.0 + P.ry)
    x, y, vx, vy, support, _ = rollout_body(start, [(1, 0)] * 25, room)
    # Ground acceleration: vx = 0.1, 0.18, 0.244, ... towards 0.5 until the wall.
    np.testing.assert_allclose(vx[:3], [0.1, 0.18, 0.244], atol=1e-6)
    assert x.max() == pytest.approx(8 - P.rx, abs=1e-6)  # flush against the wall's face
    assert x[-1] == pytest.approx(8 - P.rx, abs=1e-6) and vx[-1] == 0.0
    assert support.all() and np.allclose(y, 1.0 + P.ry)


def test_landing_on_ground_stops_the_fall():
    start = Body.at(5.5, 6.3)
    x, y, vx, vy, support, _ = rollout_body(start, [(0, 0)] * 10, open_room())
    rest = np.float32(1.0) + np.float32(P.ry)
    landed = int(np.argmax(y == rest))
    assert landed > 0 and (y[landed:] == rest).all()
    # The landing step keeps the fraction of vy its unblocked sub-steps used (Procgen's
    # basic_step_object), so the body only becomes grounded one step later.
    assert vy[landed] < 0 and vy[landed + 1] == 0
    assert not support[landed + 1] and support[landed + 2]
    body = Body(jnp.float32(5.5), jnp.float32(rest), jnp.float32(0), jnp.float32(0))
    assert bool(grounded(body, P, tile_map(jnp.asarray(open_room())), jnp.bool_(False)))


def test_one_way_platform():
    room = open_room()
    crates = np.zeros_like(room)
    crates[3, 5] = True  # a crate at column 5, row 3 (floating is fine for the toolkit)
    crates[1, 9] = True  # a crate on the floor at column 9
    # Falling onto the crate: caught on top of it, and then it counts as ground.
    x, y, vx, vy, support, caught = rollout_body(Body.at(5.5, 9.0), [(0, 0)] * 12, room, crates)
    top = np.float32(4.0) + np.float32(P.ry)
    assert caught.any() and y[-1] == top and vy[-1] == 0 and support[-1]
    # DOWN drops through it.
    standing = Body(jnp.float32(5.5), jnp.float32(top), jnp.float32(0), jnp.float32(0))
    x, y, *_ = rollout_body(standing, [(0, -1)] * 6, room, crates)
    assert y[-1] == np.float32(1.0) + np.float32(P.ry)
    # Walking into a crate on the floor is not blocked (crates only catch from above).
    x, y, vx, *_ = rollout_body(Body.at(7.5, 1.0 + P.ry), [(1, 0)] * 12, room, crates)
    assert x[-1] > 10.5 and (y == np.float32(1.0) + np.float32(P.ry)).all()
    # Jumping up through the floating crate from below is not blocked either.
    x, y, *_ = rollout_body(Body.at(5.5, 1.0 + P.ry), [(0, 1)] + [(0, 0)] * 7, room, crates)
    assert y.max() > 6.0


def test_patrol_step_bounces_off_walls():
    # Walker at 4.48 moving right at 0.15 towards a wall face at 5: the first of 4 moves of
    # 0.0375 takes its shrunk right corner (x + 0.49) to 5.0075, past the face; it is mirrored
    # about the face (x + 0.5 -> 2 * 5 - (x + 0.5)) and turns: 4.4825, then 3 moves left.
    x0 = jnp.array([4.48, 4.48], jnp.float32)
    vx0 = jnp.array([0.15, 0.15], jnp.float32)
    lo = jnp.array([2.0, 2.0], jnp.float32)
    hi = jnp.array([5.0, 5.0], jnp.float32)
    slow_hi = jnp.array([True, False])
    x, vx = jax.jit(patrol_step)(x0, vx0, lo, hi, jnp.zeros(2, bool), slow_hi)
    np.testing.assert_allclose(np.asarray(x), [4.37, 4.37], atol=1e-5)
    # A wall that also blocks costs the walker one of its 4 moves' worth of speed.
    np.testing.assert_allclose(np.asarray(vx), [-0.1125, -0.15], atol=1e-6)


def test_platformer_params_validation():
    with pytest.raises(ValueError, match="gravity"):
        PlatformerParams(gravity=0.0)
    with pytest.raises(ValueError, match="rx"):
        PlatformerParams(rx=0.8)
    assert PlatformerParams().max_substeps == 6  # int(4 * sqrt(0.5^2 + 1.5^2))

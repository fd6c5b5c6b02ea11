"""Tests of leaper's own rules (gsl_jax.envs.procgen.leaper) on hand-made states and scripted
actions. What every port must do (shapes, determinism per seed, auto-reset, info, jit/vmap, bad
shared arguments) is tested by tests/test_procgen_contract.py. CPU-sized: the jitted functions
are compiled once per module through module-scoped fixtures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen.leaper import (
    FINISH,
    GOAL_REWARD,
    GRASS,
    ROAD,
    ROW_FEATURES,
    WATER,
    Leaper,
    palettes,
)
from gsl_jax.envs.procgen.leaper.art import FROG_ENTRY
from gsl_jax.envs.procgen.leaper.draws import fold_in, uniform_at
from gsl_jax.envs.procgen.leaper.levels import (
    PRESPAWN,
    SLOTS,
    move_traffic,
    prestart_traffic,
    spawn,
)

PORT = Leaper  # the conftest's env/sym_env/reset/step fixtures build this port
LEFT, NOOP, UP, RIGHT, RIGHT_UP, SPECIAL = 1, 4, 5, 7, 8, 9
KEY = jax.random.key(0)
W = 9  # easy world
STEPS = 32  # length of every scripted rollout


@pytest.fixture(scope="module")
def play(env):
    """``play(state, actions [T])`` -> per-step (state, reward, done, success): raw transitions
    from a given state (no auto-reset)."""

    def run(state, actions):
        def body(state, a):
            state, reward, done, info = env.transition(KEY, state, a)
            return state, (state, reward, done, info["success"], info["truncated"])

        return jax.lax.scan(body, state, actions)[1]

    jitted = jax.jit(run)

    def padded(state, actions):
        # One compile: every script is padded with NOOPs to STEPS and the result cut back.
        n = actions.shape[0]
        full = jnp.concatenate([actions, jnp.full(STEPS - n, NOOP, jnp.int32)])
        return jax.tree.map(lambda a: a[:n], jitted(state, full))

    return padded


@pytest.fixture(scope="module")
def starts(env):
    """The start states of easy levels 0..1999 (leaves ``[2000, ...]``)."""
    return jax.jit(jax.vmap(env.generate))(jnp.arange(2000, dtype=jnp.int32))


@pytest.fixture(scope="module")
def level0(env):
    return jax.jit(env.generate)(jnp.int32(0))


def blank(state, x: float = 4.3, rows: dict | None = None):
    """``state`` (a start) with no traffic and all rows grass except ``rows`` (``{row: (kind,
    speed)}``); the finish row is the top row unless given. The agent at rest at ``(x, 0.4)``."""
    rows = rows or {}
    kind = np.full(W, GRASS, np.int32)
    speed = np.zeros(W, np.float32)
    kind[W - 1] = FINISH
    for row, (k, v) in rows.items():
        kind[row], speed[row] = k, v
    goal = int(np.flatnonzero(kind == FINISH)[-1]) + 1
    return state.replace(
        x=jnp.float32(x),
        row_kind=jnp.asarray(kind),
        row_speed=jnp.asarray(speed),
        goal_y=jnp.int32(goal),
        lane_alive=jnp.zeros_like(state.lane_alive),
    )


def put(state, row: int, x: float):
    """``state`` with one more car or log in ``row`` at ``x`` (in the row's first free slot)."""
    slot = int(np.argmin(np.asarray(state.lane_alive[row])))
    return state.replace(
        lane_x=state.lane_x.at[row, slot].set(x),
        lane_alive=state.lane_alive.at[row, slot].set(True),
    )


def actions(*a: int) -> jax.Array:
    return jnp.asarray(a, jnp.int32)


# ------------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------------
def test_level_layout_follows_leaper_cpp(starts):
    """Easy: roads from row 1, ``d`` road lanes, one grass row, ``d`` water lanes, then the
    finish row (``d`` uniform in 0..3); speeds in leaper.cpp's ranges, log lanes alternating."""
    kind, speed = np.asarray(starts.row_kind), np.asarray(starts.row_speed)
    n_road, n_water = (kind == ROAD).sum(1), (kind == WATER).sum(1)
    assert (n_road == n_water).all()
    counts = np.bincount(n_road, minlength=4)
    assert counts.size == 4 and (np.abs(counts / len(kind) - 0.25) < 0.04).all(), counts
    for k, s, d in zip(kind[:300], speed[:300], n_road[:300], strict=True):
        expected = [GRASS] + [ROAD] * d + [GRASS] + [WATER] * d + [FINISH]
        expected += [GRASS] * (W - len(expected))
        assert list(k) == expected
        roads, logs = np.abs(s[k == ROAD]), s[k == WATER]
        assert ((roads >= 0.03) & (roads <= 0.12)).all()
        assert ((np.abs(logs) >= 0.025) & (np.abs(logs) <= 0.075)).all()
        assert (np.sign(logs[1:]) == -np.sign(logs[:-1])).all()
    x = np.asarray(starts.x)
    assert (
        (x >= 0.4).all()
        and (x <= W - 0.4).all()
        and (np.asarray(starts.y) == np.float32(0.4)).all()
    )
    # The traffic ran before the start: lanes are populated, and no two entities of a lane
    # overlap (a new one enters only when it does not touch the lane's last one).
    alive, lx = np.asarray(starts.lane_alive), np.asarray(starts.lane_x)
    assert alive[kind == WATER].sum(1).mean() > 2 and alive[kind == ROAD].sum(1).mean() > 0.5
    for i in range(200):
        for row in np.flatnonzero((kind[i] == ROAD) | (kind[i] == WATER)):
            xs = np.sort(lx[i, row][alive[i, row]])
            gap = 1.0 if kind[i, row] == ROAD else 0.9
            assert (np.diff(xs) >= gap - 1e-4).all()


def test_hard_levels_are_larger_and_vary_the_gaps():
    env = Leaper(distribution_mode="hard")
    states = jax.jit(jax.vmap(env.generate))(jnp.arange(400, dtype=jnp.int32))
    kind = np.asarray(states.row_kind)
    assert kind.shape == (400, 15)
    n_road, n_water = (kind == ROAD).sum(1), (kind == WATER).sum(1)
    assert n_road.max() == 5 and n_water.max() == 5 and (np.abs(n_road - n_water) <= 1).all()
    first_road = np.argmax(kind == ROAD, axis=1)[n_road > 0]
    assert set(first_road) == {1, 2}


def test_draws_match_jax_random():
    """draws.py's Threefry gives jax.random's values: any entries of a uniform draw (an
    unbatched key with a batched index too) and fold_in's key."""

    @jax.jit
    def both(keys):
        data = jax.random.key_data(keys)
        full = jax.vmap(lambda k: jax.random.uniform(k, (360, 2, 9)).ravel())(keys)
        every = jax.vmap(lambda k: uniform_at(k, jnp.arange(6480)))(data)
        index = jnp.asarray([[0, 1, 17, 18, 6479], [5, 4, 3, 2, 1000]])
        picked = jax.vmap(lambda i: uniform_at(data[1], i))(index)
        folded = jax.vmap(lambda k: jax.random.key_data(jax.random.fold_in(k, 77)))(keys)
        ours = jax.vmap(lambda k: fold_in(k, 77))(data)
        return full, every, full[1][index], picked, folded, ours

    full, every, want, picked, folded, ours = both(jax.random.split(jax.random.key(3), 4))
    assert np.array_equal(np.asarray(every), np.asarray(full))
    assert np.array_equal(np.asarray(picked), np.asarray(want))
    assert np.array_equal(np.asarray(ours), np.asarray(folded))


def test_prestart_traffic_is_the_step_by_step_loop(starts):
    """The closed-form pre-start traffic equals leaper.cpp's loop run step by step (spawn, then
    move every slot, PRESPAWN times, with the draws of jax.random.uniform(key, (P, 2, W))):
    the same cars and logs at bit-identical x with the same colours, lane by lane (easy levels'
    lanes; tests/test_procgen_frames.py covers both modes through the frames)."""
    w, k, steps = W, SLOTS["easy"], PRESPAWN["easy"]
    starts = jax.tree.map(lambda a: a[:12], starts)
    keys = jax.random.split(jax.random.key(5), 12)

    def loop(start, key):
        state = start.replace(
            lane_x=jnp.zeros((w, k)),
            lane_alive=jnp.zeros((w, k), bool),
            lane_look=jnp.zeros((w, k), jnp.int32),
        )
        draws = jax.random.uniform(key, (steps, 2, w))

        def body(state, u):
            return move_traffic(spawn(state, u[0], u[1], w), w), None

        state = jax.lax.scan(body, state, draws)[0]
        return state.lane_x, state.lane_alive, state.lane_look

    def closed(start, key):
        return prestart_traffic(start.row_kind, start.row_speed, jax.random.key_data(key), steps, k)

    want = jax.jit(jax.vmap(loop))(starts, keys)
    got = jax.jit(jax.vmap(closed))(starts, keys)
    (wx, wa, wl), (gx, ga, gl) = (jax.tree.map(np.asarray, r) for r in (want, got))
    assert wa.sum() > 12 * 4  # the lanes are busy

    def entities(x, alive, look):  # a lane's (x, colour) pairs in x order
        return sorted(zip(x[alive].tolist(), look[alive].tolist(), strict=True))

    for i, row in np.ndindex(12, w):
        assert entities(gx[i, row], ga[i, row], gl[i, row]) == entities(
            wx[i, row], wa[i, row], wl[i, row]
        ), (i, row)


# ------------------------------------------------------------------------------------------------
# Movement
# ------------------------------------------------------------------------------------------------
def test_a_hop_moves_one_tile_in_six_steps(level0, play):
    """From rest UP gives ``vy = 0.5``, decayed by 0.1 per step before moving: the agent moves
    0.4, 0.3, 0.2, 0.1 (and 1.5e-8, float32's rest of the decay); presses during a hop are
    ignored, so the next hop starts at the seventh press."""
    states = play(blank(level0), actions(*[UP] * 8))[0]
    y = np.asarray(states.y, np.float64)
    np.testing.assert_allclose(y[:6], [0.8, 1.1, 1.3, 1.4, 1.4, 1.4], atol=1e-5)
    assert float(states.vy[4]) > 0 and float(states.vy[5]) == 0.0
    np.testing.assert_allclose(y[6:], [1.8, 2.1], atol=1e-5)
    assert (np.asarray(states.x) == np.float32(4.3)).all()


def test_diagonals_hop_sideways_and_the_edge_blocks(level0, play):
    states = play(blank(level0), actions(RIGHT_UP, NOOP, NOOP, NOOP, NOOP, NOOP))[0]
    np.testing.assert_allclose(float(states.x[-1]), 5.3, atol=1e-5)
    assert float(states.y[-1]) == np.float32(0.4)
    # Next to the right edge the hop stops at x = W - 0.4 (Procgen's snap to the border).
    states = play(blank(level0, x=8.2), actions(RIGHT, NOOP, NOOP, NOOP, NOOP, NOOP, NOOP))[0]
    np.testing.assert_allclose(float(states.x[-1]), W - 0.4, atol=1e-5)
    assert float(states.vx[-1]) == 0.0
    # Special actions do not hop.
    states = play(blank(level0), actions(SPECIAL, SPECIAL))[0]
    assert float(states.y[-1]) == np.float32(0.4)


# ------------------------------------------------------------------------------------------------
# Rewards and termination
# ------------------------------------------------------------------------------------------------
def test_a_car_ends_the_episode_without_reward(level0, play):
    """A car above the agent: at y = 0.8 the boxes are 0.7 apart on y (>= 0.25 + 0.4), at
    y = 1.1 0.4: the second step ends the episode."""
    state = put(blank(level0, rows={1: (ROAD, 0.0)}), 1, 4.3)
    _, reward, done, success, _ = play(state, actions(UP, UP, UP))
    assert list(np.asarray(done)) == [False, True, True]
    assert float(reward.sum()) == 0.0 and not bool(success.any())


def test_landing_in_water_without_a_log_drowns(level0, play):
    """Over water the agent is safe while hopping; it drowns once at rest (the sixth step)."""
    _, reward, done, success, _ = play(blank(level0, rows={1: (WATER, 0.05)}), actions(*[UP] * 6))
    assert list(np.asarray(done)) == [False] * 5 + [True]
    assert float(reward.sum()) == 0.0 and not bool(success.any())


def test_a_log_carries_the_agent(level0, play):
    """With a log under its landing spot the agent rides it: from the step its centre comes
    within 0.45 of the log's (y = 1.1) it moves with the log, 0.05 per step."""
    state = put(blank(level0, rows={1: (WATER, 0.05)}), 1, 4.3)
    states, _, done, _, _ = play(state, actions(UP, *[NOOP] * 7))
    assert not bool(done.any())
    np.testing.assert_allclose(float(states.x[-1]), 4.3 + 7 * 0.05, atol=1e-5)
    # Carried out of the world (x - 0.4 > 9) the episode ends: the log reaches the agent's x
    # after the first step, so after step k >= 1 the agent is at 8.3 + 0.075 k, out at k = 15.
    state = put(blank(level0, x=8.3, rows={1: (WATER, 0.075)}), 1, 8.3 - 0.075)
    done = play(state, actions(UP, *[NOOP] * 19))[2]
    assert list(np.flatnonzero(np.asarray(done))) == list(range(15, 20))


def test_resting_on_the_finish_row_completes_the_level(level0, play):
    state = blank(level0, rows={1: (FINISH, 0.0)}).replace(row_kind=jnp.asarray([0, 3] + [0] * 7))
    state = state.replace(goal_y=jnp.int32(2))
    _, reward, done, success, truncated = play(state, actions(*[UP] * 6))
    assert list(np.asarray(done)) == [False] * 5 + [True]
    assert list(np.asarray(reward)) == [0.0] * 5 + [GOAL_REWARD]
    assert bool(success[-1]) and not bool(truncated[-1])


def test_timeout_truncates(level0):
    env = Leaper(timeout=7)
    state = blank(level0)
    outs = jax.jit(
        lambda s: jax.lax.scan(
            lambda s, a: (lambda r: (r[0], (r[2], r[3]["truncated"])))(env.transition(KEY, s, a)),
            s,
            jnp.full(7, NOOP),
        )[1]
    )(state)
    assert list(np.asarray(outs[0])) == [False] * 6 + [True] and bool(outs[1][-1])


# ------------------------------------------------------------------------------------------------
# Observations
# ------------------------------------------------------------------------------------------------
def test_symbolic_rows_show_cars_and_logs(sym_env, level0):
    state = put(put(blank(level0, rows={1: (ROAD, -0.1), 2: (WATER, 0.05)}), 1, 5.3), 2, 3.3)
    obs = np.asarray(jax.jit(sym_env.symbolic)(state))
    agent, rows = obs[:5], obs[5:].reshape(4, ROW_FEATURES)
    np.testing.assert_allclose(agent, [2 * 4.3 / 9 - 1, 0.4, 0, 0, 8 / 9], atol=1e-6)
    below, here, above, above2 = rows
    assert list(below[:5]) == [1, 0, 0, 0, 0]  # row -1 is outside the world
    assert list(here[:5]) == [0, 0, 0, 0, 0]  # grass
    np.testing.assert_allclose(above[:5], [0, 1, 0, 0, -0.5], atol=1e-6)
    # Samples at x + d, d = -3..3 step 0.5: the car (x = 5.3) touches an agent at |d - 1| < 0.9.
    d = np.arange(-3, 3.01, 0.5)
    assert list(above[5:]) == list((np.abs(d - 1.0) < 0.9).astype(np.float32))
    np.testing.assert_allclose(above2[:5], [0, 0, 1, 0, 0.25], atol=1e-6)
    assert list(above2[5:]) == list((np.abs(d + 1.0) < 0.45).astype(np.float32))


def test_frame_shows_the_frog_and_lanes(env, level0):
    state = put(blank(level0, rows={1: (ROAD, 0.1)}), 1, 2.0)
    frame = np.asarray(jax.jit(env.render)(state))
    pal = palettes()[int(state.theme)]
    unit = 64 / W
    row, col = int(64 - 0.4 * unit), int(4.3 * unit)
    assert (frame[row, col] == pal[FROG_ENTRY]).all() or (
        frame[row, col] == pal[FROG_ENTRY + 1]
    ).all()
    car_row, car_col = int(64 - 1.5 * unit), int(2.0 * unit)
    assert not (frame[car_row, car_col] == frame[car_row, int(7.0 * unit)]).all()
    assert frame.dtype == np.uint8 and frame.shape == (64, 64, 3)


# ------------------------------------------------------------------------------------------------
# Learning
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ppo_beats_random_on_leaper_easy_symbolic():
    """PPO (PROCGEN_COMPACT, MLP) on 50 easy levels with a 100-step limit, symbolic
    observations: after 20 updates (163,840 steps) the mean first-episode return must clearly
    beat the uniform-random policy's on the same levels. Measured: random 1.02, trained 3.36
    (training log 1.48, 2.55, 2.81, 3.23 per 40,960 steps); about 50 CPU-seconds."""
    from gsl_jax.evaluation import evaluate_variations, random_policy_return
    from gsl_jax.networks import NetworkConfig
    from gsl_jax.presets import PROCGEN_COMPACT
    from gsl_jax.training import train_ppo

    env = Leaper(obs_mode="symbolic", timeout=100)
    levels = list(range(50))
    random_return = random_policy_return(env, levels)
    config = PROCGEN_COMPACT.replace(learning_rate=1e-3)
    result = train_ppo(
        env,
        config,
        NetworkConfig(kind="mlp", hidden=(64, 64)),
        total_steps=20 * config.batch_size,
        variation_sets=[levels],
        updates_per_chunk=5,
        seed=0,
        progress=False,
    )
    params = jax.tree.map(lambda x: x[0], result.state.params)
    slots = (levels * 2)[:64]
    trained = float(
        evaluate_variations(env, result.network, params, slots, episodes=4, seed=1).returns.mean()
    )
    curve = [round(h["return_mean"], 2) for h in result.history]
    assert trained >= max(2.0 * random_return, random_return + 1.0), (random_return, trained, curve)

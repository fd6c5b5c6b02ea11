"""Tests of coinrun's own rules, levels and observations (gsl_jax.envs.procgen.coinrun); the
shared port contract is tested in test_procgen_contract.py and the platformer movement in
test_procgen_movement.py. CPU-sized: jitted functions are compiled once per module through
module-scoped fixtures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen.coinrun import (
    AGENT,
    AGENTS,
    FULL,
    GROUNDS,
    MAX_DY,
    PAD,
    CoinRun,
)

# Procgen action ids.
NOOP, RIGHT, RIGHT_UP = 4, 7, 8
P = AGENT  # coinrun's body: gravity 0.2, jump 1.5, maxspeed 0.5, rx 0.5, ry 0.5787


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sym_obs(sym_env):
    return jax.jit(sym_env.observe)


PORT = CoinRun  # the conftest's env/sym_env/reset/step fixtures build this port


@pytest.fixture(scope="module")
def levels(sym_env):
    """Levels 0..199 (easy), generated once."""
    return jax.jit(jax.vmap(sym_env.generate))(jnp.arange(200, dtype=jnp.int32))


def hard_generate():
    return jax.jit(jax.vmap(CoinRun(distribution_mode="hard", obs_mode="symbolic").generate))


def level_of(state) -> tuple[np.ndarray, ...]:
    """The level's column arrays (world columns 0..63) as numpy."""
    sl = slice(PAD, PAD + 64)
    return tuple(
        np.asarray(a)[..., sl].astype(int)
        for a in (state.ground, state.ledge, state.lava, state.crate_top, state.special)
    )


def row_of(state, i):
    return jax.tree.map(lambda a: a[i], state)


# ------------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------------
def test_level_structure(levels):
    n = 200
    states = levels
    ground, ledge, lava, crates, special = level_of(states)
    coin = np.asarray(states.coin_col)
    # Start area: wall at column 0, flat floor at columns 1-4; the coin after 1-5 sections of
    # 3-9 columns from column 5, on a pillar as high as the last section; wall behind it.
    assert (ground[:, 0] == FULL).all() and (ground[:, 1:5] == 1).all()
    assert 8 <= coin.min() and coin.max() <= 50 and len(set(coin.tolist())) > 20
    for i in range(n):
        c = coin[i]
        assert special[i, c] == ground[i, c] and (ground[i, c + 1 :] == FULL).all()
        run = ground[i, 1 : c + 1]
        assert run.max() <= 25
        # Rises between neighbouring columns are at most max_dy (pit rims and ledges aside).
        body = run[run > 1]
        assert np.all(np.diff(body) <= MAX_DY)
        # Crates: piles of 1-3 on the ground; lava only at pit bottoms.
        pile = crates[i] - ground[i]
        assert set(pile[crates[i] > 0].tolist()) <= {1, 2, 3}
        assert (ground[i][lava[i] > 0] == 1).all()
        assert (ledge[i][ledge[i] >= 0] >= 3).all()
    # Some levels have pits (a floor-level column between higher ones) and ledges.
    pits = [(ground[i, 5 : coin[i]] == 1).any() for i in range(n)]
    assert 0.05 < np.mean(pits) < 0.6
    assert (ledge >= 0).any() and (lava > 0).any() and (crates > 0).any()
    # Easy mode: enemies only walk at the bottom of pits; they stay between their walls.
    alive = np.asarray(states.enemy_alive)
    assert alive.any() and (np.asarray(states.enemy_row)[alive] == 1).all()
    ex, lo, hi = (np.asarray(a)[alive] for a in (states.enemy_x, states.enemy_lo, states.enemy_hi))
    assert (lo <= ex - 0.5).all() and (ex + 0.5 <= hi).all()
    # Hard mode adds enemies on flat ground (rows above 1).
    hard = hard_generate()(jnp.arange(n, dtype=jnp.int32))
    rows = np.asarray(hard.enemy_row)[np.asarray(hard.enemy_alive)]
    assert (rows > 1).any()


# ------------------------------------------------------------------------------------------------
# Observations
# ------------------------------------------------------------------------------------------------
def test_pixel_observation(env, reset):
    obs, state = reset(jax.random.key(0), jnp.int32(5))
    obs = np.asarray(obs)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3) == env.observation_space.shape
    assert len(np.unique(obs.reshape(-1, 3), axis=0)) >= 6  # sky, ground, agent, ...
    # The camera follows the agent: the agent is drawn at the centre, and the floor it stands
    # on (world row 0, whose top edge is 2.9 pixels below the agent's centre) fills the rows
    # below it.
    agent_colour = np.array(AGENTS[0][0])
    assert (obs[28:35, 29:34] == agent_colour).all(axis=-1).any()
    assert not (obs[:20] == agent_colour).all(axis=-1).any()
    floor = np.array(GROUNDS[0])  # the easy theme's ground colours
    below = obs[36:, 20:44].reshape(-1, 3)
    assert (below[:, None, :] == floor[None]).all(-1).any(-1).all()


def test_symbolic_observation(sym_env, sym_step, sym_obs, levels):
    state = row_of(levels, 5)
    obs = np.asarray(sym_obs(state))
    assert obs.dtype == np.float32 and obs.shape == (13, 13, 9) == sym_env.observation_space.shape
    assert obs.min() >= -1.0 and obs.max() <= 1.0
    # The agent's tile is free, the floor below it solid; wall at world column 0 (window
    # column 6 - 1 = 5 is column 0 for an agent in column 1).
    assert obs[6, 6, 0] == 0.0 and obs[7, 6, 0] == 1.0 and obs[6, 5, 0] == 1.0
    # Constant planes: velocity 0, position inside the tile (x = 1.5, y = 1.5787).
    np.testing.assert_allclose(obs[..., 5:7], 0.0)
    np.testing.assert_allclose(obs[..., 7], 0.0, atol=1e-6)
    np.testing.assert_allclose(obs[..., 8], 1.5787 - 1.0 - 0.5, atol=1e-5)
    # After a step right, vx is encoded as vx / 0.5.
    obs, state, *_ = sym_step(jax.random.key(0), state, jnp.int32(RIGHT))
    np.testing.assert_allclose(np.asarray(obs)[..., 5], float(state.body.vx) / 0.5, atol=1e-6)
    small = CoinRun(obs_mode="symbolic", view_radius=3)
    assert small.observation_space.shape == (7, 7, 9)


def expected_window(level, coin_col, x, y, r=6):
    """numpy reference of the symbolic channels 0-4 (solid, crate, hazard, enemy, coin) of a
    level given as :func:`level_of` arrays, for an agent at ``(x, y)``; no enemies."""
    ground, ledge, lava, crates, special = level
    cx, cy = int(np.floor(x)), int(np.floor(y))
    out = np.zeros((2 * r + 1, 2 * r + 1, 5), np.float32)
    for i in range(2 * r + 1):
        row = cy + r - i
        for j in range(2 * r + 1):
            col = cx - r + j
            if not 0 <= col < 64 or row < 0:
                out[i, j, 0] = 1.0  # outside the world is wall
                continue
            if row < ground[col] or row == ledge[col]:
                out[i, j, 0] = 1.0
            elif row < crates[col]:
                out[i, j, 1] = 1.0
            elif row == special[col]:
                out[i, j, 4 if col == coin_col else 2] = 1.0
            elif 1 <= row <= lava[col]:
                out[i, j, 2] = 1.0
    return out


def test_symbolic_channels_show_the_level(levels, sym_obs):
    """The window matches a numpy re-derivation from the level's columns, at the start, in
    the middle and at the end of several levels."""
    cols = level_of(levels)
    coins = np.asarray(levels.coin_col)
    checked = set()
    for i in range(12):
        level = tuple(a[i] for a in cols)
        for x in (1.5, coins[i] / 2 + 0.3, coins[i] - 0.7):
            y = float(level[0][int(x)]) + 2.2
            state = row_of(levels, i)
            state = state.replace(body=state.body.replace(x=jnp.float32(x), y=jnp.float32(y)))
            obs = np.asarray(sym_obs(state))
            want = expected_window(level, coins[i], x, y)
            np.testing.assert_array_equal(obs[..., [0, 1, 2, 4]], want[..., [0, 1, 2, 4]])
            np.testing.assert_allclose(obs[..., 7], x - np.floor(x) - 0.5, atol=1e-6)
            checked |= {c for c in range(5) if want[..., c].any()}
    assert checked >= {0, 1, 2, 4}  # walls, crates, hazards and a coin were all in view
    # An enemy at x = 3.25 in row 1 covers 3/4 of column 3 and 1/4 of column 2.
    state = row_of(levels, 0)
    state = state.replace(
        enemy_x=state.enemy_x.at[0].set(3.25),
        enemy_row=state.enemy_row.at[0].set(1),
        enemy_alive=state.enemy_alive.at[0].set(True),
    )
    enemy = np.asarray(sym_obs(state))[..., 3]
    assert enemy[6, 6 + 1] == pytest.approx(0.25) and enemy[6, 6 + 2] == pytest.approx(0.75)
    assert enemy.sum() == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------------
def test_right_up_completes_levels(sym_env, levels):
    """The blind RIGHT+UP policy: real Procgen coinrun (easy) completes 66.5% of levels
    (EnvPool, 1024 episodes); ours completes about as many, each with reward 10."""
    n = 100

    def play(state):
        def body(carry, _):
            state, done, ret, success, length, truncated = carry
            new, reward, d, info = sym_env.transition(jax.random.key(0), state, RIGHT_UP)
            state = jax.tree.map(lambda a, b: jnp.where(done, a, b), state, new)
            ret = ret + jnp.where(done, 0.0, reward)
            success = success | (~done & info["success"])
            truncated = truncated | (~done & info["truncated"])
            length = length + (~done).astype(jnp.int32)
            return (state, done | d, ret, success, length, truncated), None

        init = (state, False, 0.0, False, 0, False)
        return jax.lax.scan(body, init, None, length=400)[0][1:]

    done, ret, success, length, truncated = (
        np.asarray(a) for a in jax.jit(jax.vmap(play))(jax.tree.map(lambda a: a[:n], levels))
    )
    assert done.all() and not truncated.any()  # every episode ends by the coin or a death
    assert 0.45 <= success.mean() <= 0.85
    np.testing.assert_array_equal(ret, np.where(success, 10.0, 0.0))
    assert length[success].min() >= 20


def test_touching_lava_saw_or_enemy_ends_without_success(sym_step, levels):
    state = row_of(levels, 0)
    # Put lava in the agent's column (world column 1): rows 1..1 are lava.
    lava = np.asarray(state.lava).copy()
    lava[PAD + 1] = 1
    hot = state.replace(lava=jnp.asarray(lava))
    _, _, reward, done, info = sym_step(jax.random.key(0), hot, jnp.int32(NOOP))
    assert bool(done) and float(reward) == 0.0
    assert not bool(info["success"]) and not bool(info["truncated"])
    # A saw one column to the right kills the agent once it walks into it.
    special = np.asarray(state.special).copy()
    special[PAD + 3] = 1
    sawed = state.replace(special=jnp.asarray(special))
    dead_at = None
    for t in range(12):
        _, sawed, reward, done, info = sym_step(jax.random.key(0), sawed, jnp.int32(RIGHT))
        if bool(done):
            dead_at = t
            break
    # Contact once the agent's right edge passes x = 3 (the saw's box is its tile).
    assert dead_at is not None and float(sawed.body.x) + P.rx > 3.0
    assert float(reward) == 0.0 and not bool(info["success"])
    # An enemy walking into the standing agent kills it.
    ex = np.asarray(state.enemy_x).copy()
    alive = np.asarray(state.enemy_alive).copy()
    row = np.asarray(state.enemy_row).copy()
    vx = np.asarray(state.enemy_vx).copy()
    ex[0], alive[0], row[0], vx[0] = 3.0, True, 1, -0.15
    walker = state.replace(
        enemy_x=jnp.asarray(ex),
        enemy_alive=jnp.asarray(alive),
        enemy_row=jnp.asarray(row),
        enemy_vx=jnp.asarray(vx),
        enemy_lo=state.enemy_lo.at[0].set(1.0),
        enemy_hi=state.enemy_hi.at[0].set(5.0),
    )
    # |x - 1.5| < 1 after the enemy moves 0.15 per step: 3.0 -> 2.85 -> 2.7 -> 2.55 -> 2.4
    for t in range(4):
        _, walker, reward, done, info = sym_step(jax.random.key(0), walker, jnp.int32(NOOP))
        assert bool(done) == (t == 3)
    assert not bool(info["success"])


def test_special_actions_stand_still(sym_step, levels):
    state = row_of(levels, 0)
    a = sym_step(jax.random.key(0), state, jnp.int32(NOOP))[1]
    for action in range(9, 15):
        b = sym_step(jax.random.key(0), state, jnp.int32(action))[1]
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    moved = sym_step(jax.random.key(0), state, jnp.int32(RIGHT))[1]
    assert float(moved.body.x) > float(a.body.x)


# ------------------------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"obs_mode": "symbolic", "view_radius": 0}, "view_radius"),
        ({"view_radius": 9}, "view_radius"),
        ({"view_radius": True}, "view_radius"),
        ({"view_radius": 2.0}, "view_radius"),
    ],
)
def test_bad_view_radius_raises(kwargs, field):
    with pytest.raises(ValueError, match=field):
        CoinRun(**kwargs)


# ------------------------------------------------------------------------------------------------
# Learning
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ppo_beats_the_random_policy_on_easy_symbolic():
    from gsl_jax.evaluation import evaluate_variations
    from gsl_jax.networks import NetworkConfig
    from gsl_jax.presets import PROCGEN_COMPACT
    from gsl_jax.training import train_ppo

    env = CoinRun(obs_mode="symbolic")
    levels = list(range(200))
    result = train_ppo(
        env,
        PROCGEN_COMPACT,
        NetworkConfig(kind="mlp", hidden=(128, 128)),
        total_steps=40 * PROCGEN_COMPACT.batch_size,
        variation_sets=[levels],
        updates_per_chunk=10,
        seed=0,
        progress=False,
    )
    params = jax.tree.map(lambda a: a[0], result.state.params)
    trained = evaluate_variations(env, result.network, params, levels, episodes=1, seed=1)

    # The uniform random policy on the same levels, one episode each.
    def random_episode(seed, key):
        state = env.init_state(key, seed)

        def body(carry, k):
            state, done, ret = carry
            a = jax.random.randint(k, (), 0, 15)
            new, reward, d, _ = env.transition(k, state, a)
            state = jax.tree.map(lambda x, y: jnp.where(done, x, y), state, new)
            return (state, done | d, ret + jnp.where(done, 0.0, reward)), None

        keys = jax.random.split(key, env.max_episode_steps)
        return jax.lax.scan(body, (state, False, 0.0), keys)[0][2]

    keys = jax.random.split(jax.random.key(1), len(levels))
    random_return = float(jax.jit(jax.vmap(random_episode))(jnp.asarray(levels), keys).mean())
    trained_return = float(trained.returns.mean())
    # Measured: random about 2.5-3; RIGHT+UP about 6.5; PPO after 330k steps about 6-7.
    assert trained_return >= random_return + 2.0, (trained_return, random_return)

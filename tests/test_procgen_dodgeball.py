"""dodgeball's own rules (the shared contract is tests/test_procgen_contract.py): the level
generator against dodgeball.cpp's placement rules, then scripted steps on hand-made states with
hand-computed outcomes (a throw that hits, an enemy's throw, death on a wall, the door closed and
open, the throwing delay, enemy bounces, the time limit), and one slow learning test on the
compact view."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.dodgeball import MODES, WORLD, Dodgeball, DodgeballState
from gsl_jax.envs.procgen.dodgeball.rules import enemy_step

NOOP, RIGHT, THROW = 4, 7, 9
SEEDS = 64


@pytest.fixture(scope="module")
def easy():
    env = Dodgeball(obs_mode="symbolic", timeout=200)
    return env, jax.jit(env.step)


def overlap(a, b) -> bool:
    """Procgen's has_collision (margin 0) of two ``(x, y, rx, ry)`` boxes."""
    return abs(a[0] - b[0]) < a[2] + b[2] and abs(a[1] - b[1]) < a[3] + b[3]


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_levels_place_everything_as_dodgeball_cpp(mode):
    m = MODES[mode]
    env = Dodgeball(distribution_mode=mode)
    s = jax.tree.map(np.asarray, jax.jit(jax.vmap(env.generate))(jnp.arange(SEEDS)))
    r, e, er = m["agent_r"], m["exit_r"], m["enemy_r"]
    counts = s.enemies.alive.sum(1)
    assert counts.min() >= 3 and counts.max() <= 6 and len(set(counts.tolist())) == 4
    # One wall per split: the first splits always find a room large enough.
    assert (s.walls.alive.sum(1) == m["iterations"]).mean() > 0.5
    for i in range(SEEDS):
        agent = (s.x[i], s.y[i], r, r)
        door = (s.door_x[i], s.door_y[i], e, e)
        # The door lies against one world edge, wholly inside the world.
        assert np.isclose([s.door_x[i], s.door_y[i]], [[e], [WORLD - e]]).any()
        walls = [
            (s.walls.x[i, k], s.walls.y[i, k], s.walls.rx[i, k], s.walls.ry[i, k])
            for k in range(4)
            if s.walls.alive[i, k]
        ]
        enemies = [(s.enemies.x[i, k], s.enemies.y[i, k], er, er) for k in range(counts[i])]
        assert all(r <= c <= WORLD - r for c in agent[:2])
        assert not any(overlap(agent, b) for b in walls + [door])
        for k, en in enumerate(enemies):
            assert all(er <= c <= WORLD - er for c in en[:2])
            assert not any(overlap(en, b) for b in walls + [door, agent] + enemies[:k])
        # Enemies walk at 0.05 along one axis and may first throw at step 60.
        speed = np.abs(s.enemies.vx[i]) + np.abs(s.enemies.vy[i])
        assert np.allclose(speed, 0.05) and (s.enemies.vx[i] * s.enemies.vy[i] == 0).all()
        assert ((s.turn_time[i] >= 25) & (s.turn_time[i] < 75)).all()
    assert (s.fire_time == 10).all() and (s.last_move == RIGHT).all()


def arena(env: Dodgeball, enemies=(), walls=(), **fields) -> DodgeballState:
    """A hand-made easy state: no walls but ``walls`` (``(x, y, rx, ry)``), the agent at rest at
    (5, 10), enemies at rest at the given ``(x, y)`` that neither turn nor throw for 500 steps,
    no balls, the door at the bottom-left corner."""
    s = env.generate(jnp.int32(0))
    pool = ent.EntityPool.empty(4)
    for w in walls:
        pool, _ = ent.spawn(pool, True, *w[:2], 0.0, 0.0, *w[2:], 0)
    n = s.enemies.capacity
    xy = np.zeros((n, 2), np.float32)
    if enemies:
        xy[: len(enemies)] = enemies
    en = s.enemies.replace(
        x=jnp.asarray(xy[:, 0]),
        y=jnp.asarray(xy[:, 1]),
        vx=jnp.zeros(n),
        vy=jnp.zeros(n),
        alive=jnp.arange(n) < len(enemies),
    )
    base = dict(
        x=jnp.float32(5),
        y=jnp.float32(10),
        vx=jnp.float32(0),
        vy=jnp.float32(0),
        last_fire=jnp.int32(-100),
        walls=pool,
        door_x=jnp.float32(1.5),
        door_y=jnp.float32(1.5),
        enemies=en,
        turn_time=jnp.full(n, 500, jnp.int32),
        fire_time=jnp.full(n, 500, jnp.int32),
    )
    return s.replace(**{**base, **fields})


def play(step, s, actions):
    """Rewards, dones and infos of ``actions`` from ``s``; stops after the episode ends."""
    out = []
    for t, a in enumerate(actions):
        _, s, r, d, info = step(jax.random.key(t), s, jnp.int32(a))
        out.append((float(r), bool(d), bool(info["success"]), bool(info["truncated"])))
        if bool(d):
            break
    return out, s


def test_a_throw_hits_the_enemy_in_its_path(easy):
    env, step = easy
    # The ball (radius 0.5, speed 0.5) leaves (5, 10) on step 1 and is at 5 + 0.5 (k - 1) after
    # step k; it overlaps the enemy (half-size 1) at x = 12 once that exceeds 10.5: step 13.
    out, s = play(step, arena(env, enemies=[(12, 10)]), [THROW] + [NOOP] * 14)
    rewards = [r for r, *_ in out]
    assert rewards[12] == 2.0 and sum(rewards) == 2.0
    assert not s.enemies.alive.any() and not s.balls.alive.any()
    assert not any(d for _, d, *_ in out)


def test_an_enemy_throws_along_its_row_and_the_ball_kills(easy):
    env, step = easy
    n = 6
    s = arena(env, enemies=[(12, 10)], time=jnp.int32(59), fire_time=jnp.full(n, 10, jnp.int32))
    # Step 60: 60 - 10 >= 50 and |dy| < 1, so the enemy throws left (speed 0.5) from x = 12;
    # after step 60 + k the ball is at 12 - 0.5 k and touches the agent once below 6.5: k = 12,
    # the 13th step played.
    out, s = play(step, s, [NOOP] * 20)
    assert len(out) == 13 and out[-1] == (0.0, True, False, False)
    assert float(s.enemies.vx[0]) == pytest.approx(-0.05)  # it walks toward the agent


def test_touching_a_wall_ends_the_episode(easy):
    env, step = easy
    # Holding RIGHT from rest: v = 0.3375, 0.4894, 0.5577, 0.5885 (maxspeed 0.75), so x =
    # 5.34, 5.83, 6.38, 6.97; the wall's left face is at 7.4 and the agent's half-size is 1.
    out, _ = play(step, arena(env, enemies=[(15, 3)], walls=[(8.0, 10.0, 0.6, 3.0)]), [RIGHT] * 6)
    assert len(out) == 4 and out[-1] == (0.0, True, False, False)


def test_the_door_opens_only_without_enemies(easy):
    env, step = easy
    left = 1  # LEFT: from (5, 10) toward a door at (1.5, 10)
    door = dict(door_x=jnp.float32(1.5), door_y=jnp.float32(10))
    out, s = play(step, arena(env, enemies=[(15, 3)], **door), [left] * 10)
    assert not any(d for _, d, *_ in out) and float(s.x) == pytest.approx(1.0)  # at the edge
    out, _ = play(step, arena(env, **door), [left] * 10)
    assert out[-1] == (10.0, True, True, False) and len(out) < 10


def test_the_agent_throws_at_most_every_seven_steps(easy):
    env, step = easy
    s = arena(env, enemies=[(15, 3)], last_fire=jnp.int32(0))
    counts = []
    for t in range(10):
        _, s, *_ = step(jax.random.key(t), s, jnp.int32(THROW))
        counts.append(int(s.balls.alive.sum()))
    assert counts == [0] * 6 + [1] * 4  # thrown at step 7; the next not before 14
    assert float(s.balls.vx.max()) == 0.5  # along the start direction, RIGHT


def test_enemies_bounce_off_the_edge_and_off_walls():
    walls = ent.EntityPool.empty(4)
    r = jnp.float32(1.0)
    # Edge: from x = 19 at +0.05, sub-step 2 reaches 19.025 (corner at 20.005): mirrored back by
    # twice the overshoot 0.025 to 18.975, then two sub-steps left; the blocked sub-step slows it.
    x, y, vx, vy = enemy_step(jnp.float32(19), jnp.float32(5), jnp.float32(0.05), 0.0, r, walls)
    assert float(x) == pytest.approx(18.95) and float(vx) == pytest.approx(-0.0375)
    assert float(y) == 5 and float(vy) == 0
    # Wall (x in [6.4, 7.6]): from 5.38, sub-step 2 reaches 5.405, overlapping by 0.005; it moves
    # back by 0.01 and on at -0.05, not slowed.
    walls, _ = ent.spawn(walls, True, 7.0, 5.0, 0.0, 0.0, 0.6, 3.0, 0)
    x, _, vx, _ = enemy_step(jnp.float32(5.38), jnp.float32(5), jnp.float32(0.05), 0.0, r, walls)
    assert float(x) == pytest.approx(5.37, abs=1e-5) and float(vx) == pytest.approx(-0.05)


def test_time_limit_truncates():
    env = Dodgeball(obs_mode="symbolic", timeout=5)
    out, _ = play(jax.jit(env.step), arena(env, enemies=[(15, 3)]), [NOOP] * 8)
    assert [d for _, d, *_ in out] == [False] * 4 + [True] and out[-1][3]


@pytest.mark.slow
def test_ppo_learns_dodgeball_easy_symbolic():
    """PPO (MLP 64-64, PROCGEN_COMPACT, lr 1e-3) on the compact view of 50 levels with a
    300-step limit beats the random policy's first-episode return at least twofold.

    The margin: random 0.67; after these 164k steps 1.85; after 246k steps 2.28.
    """
    from gsl_jax.evaluation import evaluate_variations, random_policy_return
    from gsl_jax.networks import NetworkConfig
    from gsl_jax.presets import PROCGEN_COMPACT
    from gsl_jax.training import train_ppo

    env = Dodgeball(obs_mode="symbolic", timeout=300)
    levels = list(range(50))
    random_return = random_policy_return(env, levels)
    result = train_ppo(
        env,
        PROCGEN_COMPACT.replace(learning_rate=1e-3),
        NetworkConfig(kind="mlp", hidden=(64, 64)),
        total_steps=20 * 8192,
        variation_sets=[levels],
        updates_per_chunk=10,
        seed=0,
        progress=False,
    )
    params = jax.tree.map(lambda x: x[0], result.state.params)
    slots = (levels * 2)[:64]
    scores = evaluate_variations(env, result.network, params, slots, episodes=4, seed=1)
    trained = float(scores.returns.mean())
    history = [round(h["return_mean"], 2) for h in result.history]
    print(f"{env.name}: random {random_return:.2f}, trained {trained:.2f}, log {history}")
    assert trained >= 2.0 * random_return, (random_return, trained, history)

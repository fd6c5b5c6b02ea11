"""Maze's own rules: levels, observations, moves, time limit (the contract every port keeps is in
test_procgen_contract.py). Every jitted function is compiled once through module fixtures."""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen import Maze
from gsl_jax.envs.procgen.maze import GOAL, MOVES, WALL

# Procgen action ids used by the scripted tests.
LEFT, DOWN, NOOP, UP, RIGHT = 1, 3, 4, 5, 7
LEFT_UP, RIGHT_UP, SPECIAL_D = 2, 8, 9
DELTA_TO_ACTION = {(-1, 0): UP, (1, 0): DOWN, (0, -1): LEFT, (0, 1): RIGHT}


@pytest.fixture(scope="module")
def env() -> Maze:
    return Maze()


@pytest.fixture(scope="module")
def reset(env):
    return jax.jit(env.reset)


@pytest.fixture(scope="module")
def step(env):
    return jax.jit(env.step)


@pytest.fixture(scope="module")
def sym_env() -> Maze:
    return Maze(obs_mode="symbolic")


def tiles_of(state) -> np.ndarray:
    return np.asarray(state.tiles)


def bfs_path(tiles: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> list:
    """Shortest path of (row, col) tiles from start to goal over non-wall tiles (numpy)."""
    h, w = tiles.shape
    prev = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for dr, dc in DELTA_TO_ACTION:
            nxt = (cell[0] + dr, cell[1] + dc)
            if 0 <= nxt[0] < h and 0 <= nxt[1] < w and tiles[nxt] != WALL and nxt not in prev:
                prev[nxt] = cell
                queue.append(nxt)
    assert goal in prev, "the goal is unreachable"
    path = [goal]
    while prev[path[-1]] is not None:
        path.append(prev[path[-1]])
    return path[::-1]


def reachable(tiles: np.ndarray, start: tuple[int, int]) -> int:
    """Number of non-wall tiles reachable from start (numpy flood fill)."""
    seen = {start}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in DELTA_TO_ACTION:
            nxt = (r + dr, c + dc)
            inside = 0 <= nxt[0] < tiles.shape[0] and 0 <= nxt[1] < tiles.shape[1]
            if inside and tiles[nxt] != WALL and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen)


# ------------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------------
def test_levels_are_perfect_mazes_of_valid_size(reset):
    sizes, themes = set(), set()
    for seed in range(40):
        _, state = reset(jax.random.key(0), jnp.int32(seed))
        tiles, maze_dim = tiles_of(state), int(state.maze_dim)
        sizes.add(maze_dim)
        themes.add(int(state.theme))
        n = (maze_dim + 1) // 2
        open_tiles = int((tiles != WALL).sum())
        start = tuple(np.asarray(state.agent).tolist())
        # n^2 cells joined by n^2 - 1 passages, all reachable: a spanning tree.
        assert open_tiles == 2 * n * n - 1
        assert reachable(tiles, start) == open_tiles
        assert int((tiles == GOAL).sum()) == 1 and tiles[start] != GOAL
        margin = (15 - maze_dim) // 2
        assert start == (14 - margin, margin)  # the maze's bottom-left cell
    # maze.cpp easy: maze_dim = 2 * randn(7) + 3, an odd size in 3..15.
    assert sizes <= set(range(3, 16, 2)) and len(sizes) >= 5
    assert len(themes) >= 4


def test_hard_mode_world_and_sizes():
    env = Maze(distribution_mode="hard")
    generate = jax.jit(jax.vmap(env.generate))
    states = generate(jnp.arange(64, dtype=jnp.int32))
    assert states.tiles.shape == (64, 25, 25)
    sizes = set(np.asarray(states.maze_dim).tolist())
    assert sizes <= set(range(3, 26, 2)) and max(sizes) > 15
    assert env.observation_space.shape == (64, 64, 3)


# ------------------------------------------------------------------------------------------------
# Observations
# ------------------------------------------------------------------------------------------------
def test_pixel_observation(env, reset):
    obs, _ = reset(jax.random.key(0), jnp.int32(5))
    obs = np.asarray(obs)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3) == env.observation_space.shape
    assert 0 <= obs.min() and obs.max() <= 255
    assert len(np.unique(obs.reshape(-1, 3), axis=0)) >= 4  # walls, floor, cheese, mouse


def test_symbolic_observation(sym_env):
    obs, state = jax.jit(sym_env.reset)(jax.random.key(0), jnp.int32(5))
    obs = np.asarray(obs)
    assert obs.dtype == np.float32 and obs.shape == (29, 29, 2) == sym_env.observation_space.shape
    assert set(np.unique(obs).tolist()) <= {0.0, 1.0}
    assert obs[14, 14, 0] == 0.0  # the mouse stands on an open tile at the centre
    assert obs[..., 1].sum() == 1.0  # the whole world is in view, so the cheese is too
    # the window is the tile grid shifted so the mouse sits at the centre
    tiles, (r, c) = tiles_of(state), np.asarray(state.agent)
    gr, gc = np.argwhere(obs[..., 1] == 1.0)[0]
    assert tiles[gr - 14 + r, gc - 14 + c] == GOAL
    small = Maze(obs_mode="symbolic", view_radius=3)
    assert small.observation_space.shape == (7, 7, 2)
    assert jax.jit(small.reset)(jax.random.key(0), jnp.int32(5))[0].shape == (7, 7, 2)


# ------------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------------
def test_action_mapping_matches_procgen():
    # basic-abstract-game.cpp: vx = a / 3 - 1, vy = a % 3 - 1 (y up); maze drops vy when vx != 0;
    # actions >= 9 are specials and do not move.
    expected = {0: (0, -1), 1: (0, -1), 2: (0, -1), 3: (1, 0), 4: (0, 0), 5: (-1, 0)}
    expected |= {6: (0, 1), 7: (0, 1), 8: (0, 1)} | {a: (0, 0) for a in range(9, 15)}
    assert {a: tuple(MOVES[a].tolist()) for a in range(15)} == expected


def test_walls_block_movement(reset, step):
    _, state = reset(jax.random.key(0), jnp.int32(3))
    start = np.asarray(state.agent).copy()
    key = jax.random.key(1)
    # The start is the maze's bottom-left cell: left and down are walls (or off the world).
    for action in (LEFT, DOWN, 0, LEFT_UP, NOOP, SPECIAL_D):
        _, moved, reward, done, _ = step(key, state, jnp.int32(action))
        np.testing.assert_array_equal(np.asarray(moved.agent), start)
        assert float(reward) == 0.0 and not bool(done)
        assert int(moved.time) == 1  # a blocked step still counts
    tiles = tiles_of(state)
    for action in (UP, RIGHT, RIGHT_UP):
        d = MOVES[action]
        target = start + d
        _, moved, _, _, _ = step(key, state, jnp.int32(action))
        want = start if tiles[tuple(target)] == WALL else target
        np.testing.assert_array_equal(np.asarray(moved.agent), want)


def test_bfs_solver_reaches_cheese(env, reset, step):
    for seed in (11, 12):
        _, state = reset(jax.random.key(0), jnp.int32(seed))
        tiles = tiles_of(state)
        goal = tuple(np.argwhere(tiles == GOAL)[0].tolist())
        path = bfs_path(tiles, tuple(np.asarray(state.agent).tolist()), goal)
        key = jax.random.key(2)
        for i, (a, b) in enumerate(zip(path[:-1], path[1:], strict=True)):
            action = DELTA_TO_ACTION[(b[0] - a[0], b[1] - a[1])]
            obs, state, reward, done, info = step(key, state, jnp.int32(action))
            assert tuple(np.asarray(state.agent).tolist()) == b
            last = i == len(path) - 2
            assert bool(done) == last
            assert float(reward) == (10.0 if last else 0.0)
        assert bool(info["success"]) and not bool(info["truncated"])
        assert int(info["variation"]) == seed
        assert np.asarray(obs).shape == env.observation_space.shape


def test_time_limit_truncates(env, reset):
    _, state = reset(jax.random.key(0), jnp.int32(21))

    def noop(state, key):
        _, state, reward, done, info = env.step(key, state, jnp.int32(NOOP))
        return state, (reward, done, info["truncated"], info["success"])

    keys = jax.random.split(jax.random.key(3), 500)
    _, (reward, done, truncated, success) = jax.jit(lambda s: jax.lax.scan(noop, s, keys))(state)
    done, truncated = np.asarray(done), np.asarray(truncated)
    # maze.cpp: timeout = 500; game.cpp ends the episode when cur_time >= timeout.
    assert not done[:499].any() and done[499] and truncated[499] and not truncated[:499].any()
    assert not np.asarray(success).any() and float(np.asarray(reward).sum()) == 0.0


# ------------------------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distribution_mode": "memory"}, "distribution_mode"),
        ({"obs_mode": "symbolic", "view_radius": 0}, "view_radius"),
        ({"view_radius": True}, "view_radius"),
        ({"view_radius": 2.0}, "view_radius"),
    ],
)
def test_bad_arguments_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Maze(**kwargs)

"""Tests of the JAX Procgen heist (gsl_jax.envs.procgen.heist). CPU-sized: every jitted function
is compiled once per module through module-scoped fixtures, and level checks run on one vmapped
batch of levels."""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from procgen_checks import assert_level_bank_matches_plain

from gsl_jax.envs.core import VecEnv, stack_variation_sets
from gsl_jax.envs.procgen.heist import (
    AGENT_RGB,
    FLOOR,
    GEM,
    KEY,
    LOCK,
    MOVES,
    SYMBOLIC_CHANNELS,
    WALL,
    Heist,
)

# Procgen action ids used by the scripted tests.
LEFT_DOWN, LEFT, LEFT_UP, DOWN, NOOP, UP, RIGHT_DOWN, RIGHT, RIGHT_UP = range(9)
SPECIAL_D = 9
DELTA_TO_ACTION = {(-1, 0): UP, (1, 0): DOWN, (0, -1): LEFT, (0, 1): RIGHT}
NUM_LEVELS = 300  # levels generated once for the level checks


@pytest.fixture(scope="module")
def env() -> Heist:
    return Heist()


@pytest.fixture(scope="module")
def reset(env):
    return jax.jit(env.reset)


@pytest.fixture(scope="module")
def step(env):
    return jax.jit(env.step)


@pytest.fixture(scope="module")
def levels(env):
    """States of levels 0 .. NUM_LEVELS - 1 as numpy arrays (leaves ``[L, ...]``)."""
    states = jax.jit(jax.vmap(env.generate))(jnp.arange(NUM_LEVELS, dtype=jnp.int32))
    return jax.tree.map(np.asarray, states)


def level(levels, i):
    return jax.tree.map(lambda x: x[i], levels)


def agent_tile(state) -> tuple[int, int]:
    pos = np.asarray(state.pos)
    assert (pos % 2 == 0).all(), "the agent is not on a tile centre"
    return int(pos[0]) // 2, int(pos[1]) // 2


# ------------------------------------------------------------------------------------------------
# An independent solver: breadth-first search over (tile, keys held)
# ------------------------------------------------------------------------------------------------
def solve(tiles: np.ndarray, start: tuple[int, int], keys: int = 0, avoid_keys: bool = False):
    """Shortest tile path from ``start`` to the gem over states (tile, keys held bitmask).

    Keys are taken by entering their tile, a lock of colour c can be entered only with key c
    (keys are not used up), walls never. Returns the list of tiles, or None if the gem cannot be
    reached. ``keys`` is the initial bitmask; with ``avoid_keys`` no new key is ever taken.
    """
    h, w = tiles.shape
    first = (start, keys)
    prev = {first: None}
    queue = deque([first])
    while queue:
        (cell, held) = node = queue.popleft()
        if tiles[cell] == GEM:
            path = [cell]
            while prev[node] is not None:
                node = prev[node]
                path.append(node[0])
            return path[::-1]
        for dr, dc in DELTA_TO_ACTION:
            nxt = (cell[0] + dr, cell[1] + dc)
            if not (0 <= nxt[0] < h and 0 <= nxt[1] < w):
                continue
            t = int(tiles[nxt])
            if t == WALL or (LOCK <= t < LOCK + 3 and not held >> (t - LOCK) & 1):
                continue
            if KEY <= t < KEY + 3 and avoid_keys:
                continue
            new_held = held | (1 << (t - KEY)) if KEY <= t < KEY + 3 else held
            state = (nxt, new_held)
            if state not in prev:
                prev[state] = node
                queue.append(state)
    return None


def reachable(tiles: np.ndarray, start: tuple[int, int], keys: int) -> set:
    """Tiles reachable from ``start`` holding the keys of bitmask ``keys`` (none taken)."""
    seen = {start}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in DELTA_TO_ACTION:
            nxt = (r + dr, c + dc)
            if not (0 <= nxt[0] < tiles.shape[0] and 0 <= nxt[1] < tiles.shape[1]):
                continue
            t = int(tiles[nxt])
            if t == WALL or (LOCK <= t < LOCK + 3 and not keys >> (t - LOCK) & 1):
                continue
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def lock_distances(tiles: np.ndarray, start: tuple[int, int]) -> dict[int, int]:
    """Search distance from ``start`` to each lock next to the region reached without keys,
    keyed by colour."""
    dist = {start: 0}
    queue = deque([start])
    found = {}
    while queue:
        r, c = cell = queue.popleft()
        for dr, dc in DELTA_TO_ACTION:
            nxt = (r + dr, c + dc)
            if not (0 <= nxt[0] < tiles.shape[0] and 0 <= nxt[1] < tiles.shape[1]):
                continue
            t = int(tiles[nxt])
            if LOCK <= t < LOCK + 3:
                found.setdefault(t - LOCK, dist[cell] + 1)
            elif t != WALL and nxt not in dist:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return found


def find_level(levels, num_keys: int) -> int:
    return int(np.argwhere(levels.num_keys == num_keys)[0, 0])


# ------------------------------------------------------------------------------------------------
# Levels
# ------------------------------------------------------------------------------------------------
def test_same_seed_same_level_and_frame(reset):
    obs_a, state_a = reset(jax.random.key(0), jnp.int32(4321))
    obs_b, state_b = reset(jax.random.key(77), jnp.int32(4321))  # the episode key is not used
    np.testing.assert_array_equal(np.asarray(obs_a), np.asarray(obs_b))
    for a, b in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_different_seeds_different_levels(levels):
    layouts = {levels.tiles[i].tobytes() for i in range(40)}
    assert len(layouts) >= 39
    assert len(set(levels.theme.tolist())) == 8


def test_level_structure(levels):
    """Sizes, offsets and contents follow heist.cpp / generate_maze_with_doors."""
    dims = levels.maze_dim
    # maze_dim = 2 * randn(3) + 5 in easy mode; each size about a third of the levels
    counts = np.array([(dims == d).sum() for d in (5, 7, 9)])
    assert counts.sum() == NUM_LEVELS and counts.min() > NUM_LEVELS / 3 - 40
    assert set(levels.num_keys.tolist()) == {0, 1, 2, 3}
    for i in range(NUM_LEVELS):
        tiles, d, n = levels.tiles[i], int(dims[i]), int(levels.num_keys[i])
        # num_keys = min(difficulty + randn(2), 3), capped by the number of forks
        assert n <= min((d - 5) // 2 + 1, 3)
        open_rc = np.argwhere(tiles != WALL)
        lo, hi = open_rc.min(0), open_rc.max(0)
        assert (hi - lo + 1 <= d).all()  # everything open lies in one d x d maze
        n_cells = ((d + 1) // 2) ** 2
        assert len(open_rc) == 2 * n_cells - 1  # a perfect maze: a spanning tree
        assert (tiles == GEM).sum() == 1
        for c in range(3):
            assert (tiles == KEY + c).sum() == (tiles == LOCK + c).sum() == int(c < n)
        # locks sit on forks (three or more open neighbours); the agent is on an open tile,
        # neither on nor next to a lock
        padded = np.pad(tiles != WALL, 1).astype(int)
        r, c = agent_tile(level(levels, i))
        assert tiles[r, c] == FLOOR
        for lr, lc in np.argwhere((tiles >= LOCK) & (tiles < LOCK + 3)):
            around = padded[lr, lc + 1] + padded[lr + 2, lc + 1]
            around += padded[lr + 1, lc] + padded[lr + 1, lc + 2]
            assert around >= 3
            assert abs(lr - r) + abs(lc - c) > 1


def test_levels_are_solvable_key_by_key(levels):
    """Every level is solvable, and its keys form Procgen's chain: key 0 lies in the start
    region, key k (and finally the gem) lies behind lock k - 1."""
    for i in range(NUM_LEVELS):
        tiles, n = levels.tiles[i], int(levels.num_keys[i])
        start = agent_tile(level(levels, i))
        assert solve(tiles, start) is not None, f"level {i} is unsolvable"
        all_keys = (1 << n) - 1
        targets = [tuple(np.argwhere(tiles == KEY + k)[0]) for k in range(n)]
        targets.append(tuple(np.argwhere(tiles == GEM)[0]))
        assert targets[0] in reachable(tiles, start, 0)
        if n >= 2:  # the search meets lock 0 first: no lock next to the start region is nearer
            near = lock_distances(tiles, start)
            assert near[0] == min(near.values()), (i, near)
        for k in range(1, n + 1):
            # behind lock k - 1: unreachable without key k - 1, reachable with keys 0 .. k - 1
            assert targets[k] not in reachable(tiles, start, all_keys & ~(1 << (k - 1)))
            assert targets[k] in reachable(tiles, start, (1 << k) - 1)


def test_hard_mode_world_and_sizes():
    env = Heist(distribution_mode="hard", obs_mode="symbolic")
    states = jax.jit(jax.vmap(env.generate))(jnp.arange(48, dtype=jnp.int32))
    assert states.tiles.shape == (48, 13, 13)
    sizes = set(np.asarray(states.maze_dim).tolist())
    assert sizes <= {5, 7, 9, 11, 13} and len(sizes) >= 4
    assert env.observation_space.shape == (25, 25, 12)
    for i in range(48):
        s = jax.tree.map(lambda x, i=i: np.asarray(x[i]), states)
        assert solve(s.tiles, agent_tile(s)) is not None


# ------------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------------
def test_action_directions_match_procgen():
    # basic-abstract-game.cpp: vx = a / 3 - 1, vy = a % 3 - 1 with y up; specials do not move.
    assert MOVES[LEFT].tolist() == [0, -1] and MOVES[RIGHT].tolist() == [0, 1]
    assert MOVES[UP].tolist() == [-1, 0] and MOVES[DOWN].tolist() == [1, 0]
    assert MOVES[LEFT_UP].tolist() == [-1, -1] and MOVES[RIGHT_DOWN].tolist() == [1, 1]
    assert (MOVES[NOOP] == 0).all() and (MOVES[9:] == 0).all()


def floor_direction(state) -> tuple[int, tuple[int, int]]:
    """An action toward a FLOOR neighbour of the agent's tile, and its (d_row, d_col)."""
    tiles, (r, c) = np.asarray(state.tiles), agent_tile(state)
    for (dr, dc), action in DELTA_TO_ACTION.items():
        if 0 <= r + dr < tiles.shape[0] and 0 <= c + dc < tiles.shape[1]:
            if tiles[r + dr, c + dc] == FLOOR:
                return action, (dr, dc)
    raise AssertionError("no floor next to the agent")


def test_half_tile_moves_walls_and_diagonals(levels, step):
    """A move goes half a tile; a wall blocks; a straddling agent cannot move sideways; a
    diagonal tries its vertical half step first."""
    for i in range(NUM_LEVELS):  # a level without keys whose gem is not next to the agent
        state = level(levels, i)
        gem = np.argwhere(state.tiles == GEM)[0]
        if state.num_keys == 0 and np.abs(gem - agent_tile(state)).sum() > 2:
            break
    tiles = state.tiles
    r, c = agent_tile(state)

    def is_open(rr: int, cc: int) -> bool:
        return 0 <= rr < 9 and 0 <= cc < 9 and tiles[rr, cc] != WALL

    key = jax.random.key(0)
    for (dr, dc), action in DELTA_TO_ACTION.items():
        _, moved, reward, done, _ = step(key, state, jnp.int32(action))
        assert int(moved.time) == 1 and float(reward) == 0.0 and not bool(done)
        if not is_open(r + dr, c + dc):
            np.testing.assert_array_equal(np.asarray(moved.pos), np.asarray(state.pos))
            continue
        assert np.asarray(moved.pos).tolist() == [2 * r + dr, 2 * c + dc]
        # straddling two tiles: the perpendicular moves are blocked (no 2x2 open block)
        for a in (LEFT, RIGHT) if dr else (UP, DOWN):
            _, again, _, _, _ = step(key, moved, jnp.int32(a))
            np.testing.assert_array_equal(np.asarray(again.pos), np.asarray(moved.pos))
        # a second half step reaches the next tile's centre
        _, twice, _, _, _ = step(key, moved, jnp.int32(action))
        assert np.asarray(twice.pos).tolist() == [2 * (r + dr), 2 * (c + dc)]
    for action in (NOOP, SPECIAL_D, 14):
        _, moved, _, _, _ = step(key, state, jnp.int32(action))
        np.testing.assert_array_equal(np.asarray(moved.pos), np.asarray(state.pos))
    # diagonals: the vertical half step when it is open, else the horizontal one
    for action in (LEFT_UP, LEFT_DOWN, RIGHT_UP, RIGHT_DOWN):
        dr, dc = (int(v) for v in MOVES[action])
        _, moved, _, _, _ = step(key, state, jnp.int32(action))
        if is_open(r + dr, c):
            want = [2 * r + dr, 2 * c]
        elif is_open(r, c + dc):
            want = [2 * r, 2 * c + dc]
        else:
            want = [2 * r, 2 * c]
        assert np.asarray(moved.pos).tolist() == want
        assert int(moved.facing) == action  # the sprite turns to the requested direction


def place_next_to(state, target: tuple[int, int]):
    """Move the agent to an open neighbour of ``target``; returns (state, action toward it)."""
    tiles = np.asarray(state.tiles)
    for (dr, dc), action in DELTA_TO_ACTION.items():
        r, c = target[0] - dr, target[1] - dc
        if 0 <= r < tiles.shape[0] and 0 <= c < tiles.shape[1] and tiles[r, c] == FLOOR:
            return state.replace(pos=jnp.array([2 * r, 2 * c], jnp.int32)), action
    raise AssertionError("no open floor tile next to the target")


def test_locks_block_until_the_key_is_held(levels, step):
    i = find_level(levels, 2)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    lock = tuple(np.argwhere(np.asarray(state.tiles) == LOCK + 1)[0])
    state, action = place_next_to(state, lock)
    key = jax.random.key(0)
    # without the green key: blocked, however often the agent pushes
    blocked = state
    for _ in range(3):
        _, blocked, _, _, _ = step(key, blocked, jnp.int32(action))
        np.testing.assert_array_equal(np.asarray(blocked.pos), np.asarray(state.pos))
    # the other keys do not help
    others = state.replace(has_keys=jnp.array([True, False, True]))
    _, moved, _, _, _ = step(key, others, jnp.int32(action))
    np.testing.assert_array_equal(np.asarray(moved.pos), np.asarray(state.pos))
    # with it: the half step touches the lock, which opens for good
    holding = state.replace(has_keys=jnp.array([False, True, False]))
    _, moved, _, _, _ = step(key, holding, jnp.int32(action))
    assert not np.array_equal(np.asarray(moved.pos), np.asarray(state.pos))
    assert np.asarray(moved.tiles)[lock] == FLOOR
    assert np.asarray(moved.has_keys).tolist() == [False, True, False]  # keys are not used up


def test_touching_a_key_takes_it(levels, step):
    i = find_level(levels, 1)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    key_tile = tuple(np.argwhere(np.asarray(state.tiles) == KEY)[0])
    state, action = place_next_to(state, key_tile)
    _, moved, reward, done, _ = step(jax.random.key(0), state, jnp.int32(action))
    # half a step already overlaps the key (C++: radii 0.375 + 0.375 > 0.5)
    assert np.asarray(moved.pos).tolist() != np.asarray(state.pos).tolist()
    assert np.asarray(moved.has_keys).tolist() == [True, False, False]
    assert np.asarray(moved.tiles)[key_tile] == FLOOR
    assert float(reward) == 0.0 and not bool(done)


def plan_actions(state) -> list[int]:
    """Actions of a shortest solution: two half steps per tile of the BFS path."""
    path = solve(np.asarray(state.tiles), agent_tile(state))
    actions = []
    for a, b in zip(path[:-1], path[1:], strict=True):
        actions += [DELTA_TO_ACTION[(b[0] - a[0], b[1] - a[1])]] * 2
    return actions


def test_scripted_bfs_policy_steals_the_gem(levels, env, step):
    i = find_level(levels, 3)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    actions = plan_actions(state)
    key = jax.random.key(5)
    # touching the gem tile (the first half step onto it) ends the episode
    for t, action in enumerate(actions[:-1]):
        obs, state, reward, done, info = step(key, state, jnp.int32(action))
        last = t == len(actions) - 2
        assert bool(done) == last and float(reward) == (10.0 if last else 0.0)
    assert bool(info["success"]) and not bool(info["truncated"])
    assert int(info["variation"]) == i and int(state.time) == len(actions) - 1
    assert np.asarray(state.has_keys).all()  # all three keys were taken on the way
    assert not ((np.asarray(state.tiles) >= LOCK) & (np.asarray(state.tiles) < LOCK + 3)).any()
    assert np.asarray(obs).shape == env.observation_space.shape


def test_time_limit_truncates(levels):
    env = Heist(obs_mode="symbolic")  # Procgen's default timeout of 1000
    state = jax.tree.map(jnp.asarray, level(levels, 0))

    def noop(state, key):
        state, reward, done, info = env.transition(key, state, jnp.int32(NOOP))
        return state, (reward, done, info["truncated"], info["success"])

    keys = jax.random.split(jax.random.key(3), 1000)
    _, (reward, done, truncated, success) = jax.jit(lambda s: jax.lax.scan(noop, s, keys))(state)
    done, truncated = np.asarray(done), np.asarray(truncated)
    assert not done[:999].any() and done[999] and truncated[999] and not truncated[:999].any()
    assert not np.asarray(success).any() and float(np.asarray(reward).sum()) == 0.0


# ------------------------------------------------------------------------------------------------
# Observations
# ------------------------------------------------------------------------------------------------
def test_pixel_observation(env, reset, step, levels):
    i = find_level(levels, 2)
    obs, state = reset(jax.random.key(0), jnp.int32(i))
    obs = np.asarray(obs)
    assert obs.dtype == np.uint8 and obs.shape == (64, 64, 3) == env.observation_space.shape
    assert len(np.unique(obs.reshape(-1, 3), axis=0)) >= 8  # floor, wall, gem, keys, locks, agent
    # the agent is drawn centred on its tile (64 / 9 px per tile) in the suit's colours
    r, c = agent_tile(state)
    y, x = int((r + 0.5) * 64 / 9), int((c + 0.5) * 64 / 9)
    assert tuple(obs[y, x]) in set(AGENT_RGB)
    # half a step later it has moved about 3.6 px; with a key held, the key ring shows it
    action, _ = floor_direction(state)
    holding = state.replace(has_keys=jnp.array([False, False, True]))
    obs2, moved, _, _, _ = step(jax.random.key(0), holding, jnp.int32(action))
    assert not np.array_equal(np.asarray(moved.pos), np.asarray(state.pos))
    obs2 = np.asarray(obs2)
    assert not np.array_equal(obs, obs2)
    ring = obs2[3:7, 52:56].reshape(-1, 3)  # red key: third slot from the right
    assert (ring == (225, 60, 60)).all(axis=1).sum() >= 8
    assert not (obs[3:7, 52:56].reshape(-1, 3) == (225, 60, 60)).all(axis=1).any()


def test_symbolic_observation(levels, step):
    env = Heist(obs_mode="symbolic")
    i = find_level(levels, 3)
    obs, state = jax.jit(env.reset)(jax.random.key(0), jnp.int32(i))
    obs = np.asarray(obs)
    assert obs.dtype == np.float32 and obs.shape == (17, 17, 12) == env.observation_space.shape
    assert len(SYMBOLIC_CHANNELS) == 12 and set(np.unique(obs).tolist()) <= {0.0, 1.0}
    # the window is the tile grid shifted so the agent sits at the centre (8, 8)
    tiles, (r, c) = np.asarray(state.tiles), agent_tile(state)
    window = np.full((17, 17), WALL)
    window[8 - r : 8 - r + 9, 8 - c : 8 - c + 9] = tiles
    kinds = [WALL, GEM, KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2]
    for ch, kind in enumerate(kinds):
        np.testing.assert_array_equal(obs[..., ch], (window == kind).astype(np.float32))
    body = np.zeros((17, 17))
    body[8, 8] = 1
    np.testing.assert_array_equal(obs[..., 8], body)
    assert (obs[..., 9:] == 0).all()
    # straddling shows two body tiles; held keys are constant planes
    # (the window centres on the top-left tile the body covers)
    action, (dr, dc) = floor_direction(state)
    state = state.replace(has_keys=jnp.array([True, False, True]))
    obs2, moved, _, _, _ = jax.jit(env.step)(jax.random.key(0), state, jnp.int32(action))
    obs2 = np.asarray(obs2)
    body = np.zeros((17, 17))
    body[8, 8] = body[8 + abs(dr), 8 + abs(dc)] = 1
    np.testing.assert_array_equal(obs2[..., 8], body)
    assert (obs2[..., 9] == 1).all() and (obs2[..., 10] == 0).all() and (obs2[..., 11] == 1).all()
    small = Heist(obs_mode="symbolic", view_radius=3)
    assert small.observation_space.shape == (7, 7, 12)
    assert jax.jit(small.reset)(jax.random.key(0), jnp.int32(5))[0].shape == (7, 7, 12)


# ------------------------------------------------------------------------------------------------
# Batching and compilation
# ------------------------------------------------------------------------------------------------
def test_vmap_over_population_and_envs():
    env = Heist(obs_mode="symbolic")
    seeds = jnp.arange(6, dtype=jnp.int32).reshape(2, 3)
    keys = jax.random.split(jax.random.key(0), 6).reshape(2, 3)
    obs, state = jax.jit(jax.vmap(jax.vmap(env.reset)))(keys, seeds)
    assert obs.shape == (2, 3, 17, 17, 12) and state.tiles.shape == (2, 3, 9, 9)
    single = jax.jit(env.reset)(keys[1, 2], seeds[1, 2])[1]
    for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b[1, 2]))

    # A population of auto-resetting VecEnvs, each with its own level set (pixel frames are
    # checked through VecEnv in the level-bank test).
    venv = VecEnv(env, 3)
    sets = stack_variation_sets([[1, 2, 3], [7]])
    vstate = jax.jit(jax.vmap(venv.reset))(jax.random.split(jax.random.key(1), 2), sets)
    vstep = jax.jit(jax.vmap(venv.step))
    actions = jnp.full((2, 3), UP, jnp.int32)
    vstate, reward, done, info = vstep(
        jax.random.split(jax.random.key(2), 2), vstate, actions, sets
    )
    assert vstate.obs.shape == (2, 3, 17, 17, 12) and vstate.obs.dtype == jnp.float32
    assert reward.shape == done.shape == info["success"].shape == (2, 3)
    assert (np.asarray(vstate.env_state.variation[1]) == 7).all()


def test_step_is_not_retraced(env, reset):
    step = jax.jit(env.step)
    _, state = reset(jax.random.key(0), jnp.int32(3))
    out = step(jax.random.key(1), state, jnp.int32(UP))
    _, state2 = reset(jax.random.key(0), jnp.int32(4))
    step(jax.random.key(2), out[1], jnp.int32(LEFT))
    step(jax.random.key(3), state2, jnp.int32(SPECIAL_D))
    assert step._cache_size() == 1


def test_level_bank_gives_the_same_steps_as_plain_resets():
    """Resets gathered from a level bank, and observing once after the auto-reset, change
    nothing, frames included."""
    assert_level_bank_matches_plain(Heist(timeout=7), 8)


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distribution_mode": "extreme"}, "distribution_mode"),
        ({"distribution_mode": "memory"}, "distribution_mode"),
        ({"obs_mode": "rgb"}, "obs_mode"),
        ({"obs_mode": "symbolic", "view_radius": 0}, "view_radius"),
        ({"view_radius": 2.5}, "view_radius"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"center_agent": True}, "center_agent"),
    ],
)
def test_bad_arguments_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Heist(**kwargs)


def test_spaces_and_name(env):
    assert env.action_space.n == 15
    assert env.num_variations == 2**31 - 1
    assert env.max_episode_steps == 1000
    assert env.name == "heist-easy" and Heist(distribution_mode="hard").name == "heist-hard"
    env.validate_variations([0, 2**31 - 2])
    with pytest.raises(ValueError, match="variations"):
        env.validate_variations([-1])

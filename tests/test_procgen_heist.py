"""Tests of heist's own rules (gsl_jax.envs.procgen.heist): level generation, movement, keys,
locks and the gem, and its two observations. What every port shares (shapes, determinism per
seed, auto-reset, time limit, jit/vmap, shared argument checks) is tests/test_procgen_contract.py.
CPU-sized: every jitted function is compiled once per module through module-scoped fixtures, and
level checks run on one vmapped batch of levels."""

from __future__ import annotations

from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.procgen.heist import (
    AGENT_RGB,
    FLOOR,
    GEM,
    GEM_RY,
    ITEM_RX,
    KEY,
    KEY_RY,
    LOCK,
    SYMBOLIC_CHANNELS,
    TIMEOUT,
    TOP_SPEED,
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
def step(env):
    return jax.jit(env.step)


@pytest.fixture(scope="module")
def levels(env):
    """States of levels 0 .. NUM_LEVELS - 1 as numpy arrays (leaves ``[L, ...]``)."""
    states = jax.jit(jax.vmap(env.generate))(jnp.arange(NUM_LEVELS, dtype=jnp.int32))
    return jax.tree.map(np.asarray, states)


def level(levels, i):
    return jax.tree.map(lambda x: x[i], levels)


def agent_tile(state, centred: bool = True) -> tuple[int, int]:
    """``(row, col)`` of the tile holding the agent's centre (Procgen coordinates, y up)."""
    x, y = (float(v) for v in np.asarray(state.pos))
    w = np.asarray(state.tiles).shape[-1]
    row, col = w - 1 - int(np.floor(y)), int(np.floor(x))
    if centred:
        assert (x, y) == (col + 0.5, w - 0.5 - row), "the agent is not on a tile centre"
    return row, col


def tile_centre(w: int, row: int, col: int) -> list[float]:
    """Procgen ``(x, y)`` of tile ``(row, col)``'s centre."""
    return [col + 0.5, w - 0.5 - row]


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
def test_level_structure(levels):
    """Sizes, offsets and contents follow heist.cpp / generate_maze_with_doors."""
    dims = levels.maze_dim
    # maze_dim = 2 * randn(3) + 5 in easy mode; each size about a third of the levels
    counts = np.array([(dims == d).sum() for d in (5, 7, 9)])
    assert counts.sum() == NUM_LEVELS and counts.min() > NUM_LEVELS / 3 - 40
    assert set(levels.num_keys.tolist()) == {0, 1, 2, 3}
    assert set(levels.theme.tolist()) == set(range(8))  # a uniform floor theme per level
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
        # the bodies: keys and the gem within 0.125 of their tile's centre, locks on it
        items = level(levels, i).items
        kinds = [KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2, GEM]
        assert items.alive.tolist() == [c < n for c in range(3)] * 2 + [True]
        for slot, kind in enumerate(kinds):
            if not items.alive[slot]:
                continue
            ((tr, tc),) = np.argwhere(tiles == kind)
            cx, cy = tile_centre(9, tr, tc)
            dx, dy = items.x[slot] - cx, items.y[slot] - cy
            if LOCK <= kind < LOCK + 3:
                assert (dx, dy) == (0, 0) and items.rx[slot] == items.ry[slot] == 0.5
            else:
                assert abs(dx) <= 0.125 and abs(dy) <= 0.125
                assert items.rx[slot] == ITEM_RX
                assert items.ry[slot] == np.float32(GEM_RY if kind == GEM else KEY_RY)


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
    assert env.observation_space.shape == (25, 25, 14)
    for i in range(48):
        s = jax.tree.map(lambda x, i=i: np.asarray(x[i]), states)
        assert solve(s.tiles, agent_tile(s)) is not None


# ------------------------------------------------------------------------------------------------
# Rules
# ------------------------------------------------------------------------------------------------
def floor_direction(state) -> tuple[int, tuple[int, int]]:
    """An action toward a FLOOR neighbour of the agent's tile, and its (d_row, d_col)."""
    tiles, (r, c) = np.asarray(state.tiles), agent_tile(state)
    for (dr, dc), action in DELTA_TO_ACTION.items():
        if 0 <= r + dr < tiles.shape[0] and 0 <= c + dc < tiles.shape[1]:
            if tiles[r + dr, c + dc] == FLOOR:
                return action, (dr, dc)
    raise AssertionError("no floor next to the agent")


def free_world(state, walls=(), pos=None):
    """``state`` with every tile open except ``walls`` (``(row, col)`` tiles), no keys, locks or
    gem, the agent at rest at ``pos`` (Procgen ``(x, y)``; default: where it is)."""
    tiles = np.full((9, 9), FLOOR, np.uint8)
    for rc in walls:
        tiles[rc] = WALL
    items = state.items.replace(alive=jnp.zeros(7, bool))
    pos = state.pos if pos is None else jnp.asarray(pos, jnp.float32)
    return state.replace(
        tiles=jnp.asarray(tiles), items=items, pos=pos, vel=jnp.zeros(2, jnp.float32)
    )


def run_actions(step, state, actions):
    """Step ``actions``; returns the states after each step and the last step's outputs."""
    states, out = [], None
    for t, action in enumerate(actions):
        out = step(jax.random.key(t), state, jnp.int32(action))
        state = out[1]
        states.append(state)
    return states, out


def test_velocity_mixing_hand_computed(levels, step):
    """basic-abstract-game.cpp update_agent_velocity + decay with heist's maxspeed 0.75 and
    mixrate 0.5: v <- 0.9 (0.5 v + 0.375 a); in the open, the agent moves by v each step."""
    state = free_world(jax.tree.map(jnp.asarray, level(levels, 0)), pos=[3.5, 3.5])
    states, _ = run_actions(step, state, [RIGHT, RIGHT, UP, NOOP, LEFT_DOWN, SPECIAL_D])
    vel = [[0.3375, 0.0]]  # from rest: 0.9 * 0.375
    vel.append([0.9 * (0.5 * 0.3375 + 0.375), 0.0])  # 0.489375: momentum builds up
    vel.append([0.9 * 0.5 * vel[1][0], 0.3375])  # UP: x keeps 0.45 of itself
    vel.append([0.45 * vel[2][0], 0.45 * 0.3375])  # NOOP: both decay
    vel.append([0.45 * vel[3][0] - 0.3375, 0.45 * vel[3][1] - 0.3375])
    vel.append([0.45 * vel[4][0], 0.45 * vel[4][1]])  # a special button moves like NOOP
    pos = np.array([3.5, 3.5]) + np.cumsum(vel, axis=0)
    np.testing.assert_allclose([np.asarray(s.vel) for s in states], vel, atol=1e-6)
    np.testing.assert_allclose([np.asarray(s.pos) for s in states], pos, atol=1e-5)
    assert [int(s.facing) for s in states] == [RIGHT, RIGHT, UP, UP, LEFT_DOWN, LEFT_DOWN]
    # a held direction converges to 0.3375 / 0.55 = 0.614 tiles per step
    assert TOP_SPEED == pytest.approx(0.3375 / 0.55)
    held = free_world(state, pos=[0.5, 4.5])
    states, _ = run_actions(step, held, [RIGHT] * 12)
    assert float(states[-1].vel[0]) == pytest.approx(TOP_SPEED, abs=1e-4)


def test_walls_snap_the_edge_and_keep_the_free_fraction(levels, step):
    """A sub-step (v / 4) whose shrunk corners (0.98 * 0.375) enter a wall puts the body's edge on
    the tile boundary; the velocity keeps the fraction of sub-steps that were free."""
    base = jax.tree.map(jnp.asarray, level(levels, 0))
    # the world's edge: from x = 8.5, sub-steps of 0.084375 reach 8.584375, then 8.66875 has
    # a corner at 9.036 > 9: blocked, edge at 9 (x = 8.625), and so on; 1 of 4 free
    (moved,), _ = run_actions(step, free_world(base, pos=[8.5, 4.5]), [RIGHT])
    np.testing.assert_allclose(np.asarray(moved.pos), [8.625, 4.5], atol=1e-6)
    np.testing.assert_allclose(np.asarray(moved.vel), [0.3375 / 4, 0.0], atol=1e-6)
    # a wall tile below: tile (row 5, col 3) spans y in [3, 4); from y = 4.6 moving DOWN at
    # -0.3375 / 4 per sub-step the corner (y - 0.3675) passes 4 on the third sub-step: edge at
    # 4 (y = 4.375), 2 of 4 free
    start = free_world(base, walls=[(5, 3)], pos=[3.5, 4.6])
    (moved,), _ = run_actions(step, start, [DOWN])
    np.testing.assert_allclose(np.asarray(moved.pos), [3.5, 4.375], atol=1e-6)
    np.testing.assert_allclose(np.asarray(moved.vel), [0.0, -0.3375 / 2], atol=1e-6)
    # the same wall blocks a body beside it only while its corners overlap the wall's column
    for x, blocked in ((2.5 + 0.1, False), (2.5 + 0.14, True)):
        (moved,), _ = run_actions(step, free_world(base, walls=[(5, 3)], pos=[x, 4.375]), [DOWN])
        assert (float(moved.pos[1]) == 4.375) == blocked, x
    # no action: nothing moves
    (moved,), _ = run_actions(step, free_world(base, pos=[3.5, 3.5]), [NOOP])
    np.testing.assert_array_equal(np.asarray(moved.pos), [3.5, 3.5])


def test_momentum_slides_into_a_side_corridor(levels, step):
    """Momentum carries the agent diagonally into a side corridor it is not aligned with: the y
    moves of an UP step are blocked until the x moves, still carrying the earlier RIGHT, clear
    the corridor's edge. From rest at the same spot UP is blocked."""
    # a corridor along row 6 (y in [2, 3)), a side corridor up column 5 (x in [5, 6))
    walls = [(r, c) for r in range(9) for c in range(9) if r != 6 and not (c == 5 and r < 6)]
    base = jax.tree.map(jnp.asarray, level(levels, 0))
    start = free_world(base, walls, tile_centre(9, 6, 4))  # (4.5, 2.5)
    states, _ = run_actions(step, start, [RIGHT, RIGHT, UP, UP, UP, UP])
    # RIGHT, RIGHT: x = 4.5 + 0.3375 + 0.489375 = 5.326875, too far left for column 5 (a corner
    # at x - 0.3675 < 5). UP: vx = 0.45 * 0.489375, vy = 0.3375, sub-steps of (0.0550547,
    # 0.084375), y first: the first y move stays in row 6, the x move takes x to 5.3819, past
    # 5.3675, so every later y move enters the side corridor too: 4 of 4 y moves free.
    np.testing.assert_allclose(np.asarray(states[1].pos), [5.326875, 2.5], atol=1e-5)
    np.testing.assert_allclose(np.asarray(states[2].pos), [5.54709375, 2.8375], atol=1e-5)
    np.testing.assert_allclose(np.asarray(states[2].vel), [0.22021875, 0.3375], atol=1e-6)
    # then up the corridor, inside column 5 (walls on both sides)
    assert float(states[-1].pos[1]) > 4.0  # the whole body above row 6 (y - 0.375 > 3)
    for s in states[2:]:
        assert 5.3675 <= float(s.pos[0]) <= 5.6325
    # without momentum the same spot does not let UP through: the y moves stay blocked
    rest = free_world(base, walls, [5.326875, 2.5])
    (moved,), _ = run_actions(step, rest, [UP])
    np.testing.assert_allclose(np.asarray(moved.pos), [5.326875, 2.625], atol=1e-6)
    assert float(moved.vel[1]) == pytest.approx(0.3375 / 4)  # 1 of 4 y moves free


def place_next_to(state, target: tuple[int, int]):
    """Put the agent at rest on an open neighbour of ``target``; returns (state, action toward
    it, (d_row, d_col) toward it)."""
    tiles = np.asarray(state.tiles)
    for (dr, dc), action in DELTA_TO_ACTION.items():
        r, c = target[0] - dr, target[1] - dc
        if 0 <= r < tiles.shape[0] and 0 <= c < tiles.shape[1] and tiles[r, c] == FLOOR:
            pos = jnp.asarray(tile_centre(9, r, c), jnp.float32)
            return state.replace(pos=pos, vel=jnp.zeros(2, jnp.float32)), action, (dr, dc)
    raise AssertionError("no open floor tile next to the target")


def test_locks_block_until_the_key_is_held(levels, step):
    i = find_level(levels, 2)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    lock = tuple(np.argwhere(np.asarray(state.tiles) == LOCK + 1)[0])
    state, action, (dr, dc) = place_next_to(state, lock)
    # without the green key: pushed back to touching the lock (centres 0.875 apart on the
    # move's axis), that velocity component zeroed (push_obj), however often the agent pushes
    lock_xy = np.array(tile_centre(9, *lock))
    axis = 0 if dc else 1
    toward = np.array([dc, -dr], float)  # the move's direction in (x, y), y up
    touching = lock_xy - 0.875 * toward
    states, _ = run_actions(step, state, [action] * 4)
    for s in states:
        np.testing.assert_allclose(np.asarray(s.pos)[axis], touching[axis], atol=1e-6)
        assert float(s.vel[axis]) == 0.0
        assert np.asarray(s.tiles)[lock] == LOCK + 1 and bool(s.items.alive[4])
    # the other keys do not help
    others = state.replace(has_keys=jnp.array([True, False, True]))
    states, _ = run_actions(step, others, [action] * 3)
    np.testing.assert_allclose(np.asarray(states[-1].pos)[axis], touching[axis], atol=1e-6)
    # with it: the agent moves into the lock, which opens for good once touched
    holding = state.replace(has_keys=jnp.array([False, True, False]))
    (moved,), _ = run_actions(step, holding, [action])
    gap = np.abs(np.asarray(moved.pos) - lock_xy)[axis]
    assert gap < 0.875 and np.asarray(moved.tiles)[lock] == FLOOR
    assert not bool(moved.items.alive[4])
    assert np.asarray(moved.has_keys).tolist() == [False, True, False]  # keys are not used up


def test_touching_a_key_takes_it(levels, step):
    """Boxes touch when |dx| < 0.375 + 0.375 and |dy| < 0.375 + 0.232 (the key's height)."""
    i = find_level(levels, 1)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    key_tile = tuple(np.argwhere(np.asarray(state.tiles) == KEY)[0])
    state, action, _ = place_next_to(state, key_tile)
    kx, ky = float(state.items.x[0]), float(state.items.y[0])
    states, (_, moved, reward, done, _) = run_actions(step, state, [action] * 3)
    before = state
    for s in states:
        x, y = (float(v) for v in np.asarray(before.pos))
        nx, ny = (float(v) for v in np.asarray(s.pos))
        near = abs(nx - kx) < 0.75 and abs(ny - ky) < 0.375 + KEY_RY
        assert bool(s.has_keys[0]) == (near or bool(before.has_keys[0])), (x, y, nx, ny)
        before = s
    assert np.asarray(moved.has_keys).tolist() == [True, False, False]
    assert np.asarray(moved.tiles)[key_tile] == FLOOR and not bool(moved.items.alive[0])
    assert float(reward) == 0.0 and not bool(done)


def steer(state, path: list[tuple[int, int]], k: int) -> tuple[int, int]:
    """A closed-loop controller along a tile path: the action toward the centre of waypoint
    ``path[k]`` from where the agent will be next step (``pos + vel``), and the next waypoint
    index (``k + 1`` once the agent's centre is within 0.2 of the waypoint's centre)."""
    pos, vel = np.asarray(state.pos), np.asarray(state.vel)
    target = np.array(tile_centre(9, *path[k]))
    if np.all(np.abs(target - pos) < 0.2) and k + 1 < len(path):
        k += 1
        target = np.array(tile_centre(9, *path[k]))
    d = target - (pos + vel)
    ax = int(np.sign(d[0])) if abs(d[0]) > 0.05 else 0
    ay = int(np.sign(d[1])) if abs(d[1]) > 0.05 else 0
    return 3 * (ax + 1) + (ay + 1), k


def test_scripted_bfs_policy_steals_the_gem(levels, env, step):
    """A policy that follows the BFS solution tile by tile (taking all three keys, opening all
    three locks) steals the gem: reward 10 on the step that touches it, the episode then ends,
    well before heist's time limit (game.cpp's default of 1000 steps)."""
    assert env.max_episode_steps == TIMEOUT == 1000
    i = find_level(levels, 3)
    state = jax.tree.map(jnp.asarray, level(levels, i))
    path = solve(np.asarray(state.tiles), agent_tile(state))
    k, rewards = 1, []
    for t in range(400):
        action, k = steer(state, path, k)
        obs, state, reward, done, info = step(jax.random.key(t), state, jnp.int32(action))
        rewards.append(float(reward))
        if bool(done):
            break
    assert bool(done) and rewards[-1] == 10.0 and sum(rewards) == 10.0
    assert bool(info["success"]) and not bool(info["truncated"])
    assert int(info["variation"]) == i and int(state.time) == len(rewards) < 400
    assert np.asarray(state.has_keys).all()  # all three keys were taken on the way
    assert not ((np.asarray(state.tiles) >= LOCK) & (np.asarray(state.tiles) < LOCK + 3)).any()
    assert not np.asarray(state.items.alive[:6]).any()
    assert np.asarray(obs).shape == env.observation_space.shape


# ------------------------------------------------------------------------------------------------
# Observations
# ------------------------------------------------------------------------------------------------
def test_pixel_observation(env, step, levels):
    state = jax.tree.map(jnp.asarray, level(levels, find_level(levels, 2)))
    obs = np.asarray(jax.jit(env.render)(state))
    assert len(np.unique(obs.reshape(-1, 3), axis=0)) >= 8  # floor, wall, gem, keys, locks, agent
    # the agent is drawn centred on its tile (64 / 9 px per tile) in the suit's colours
    r, c = agent_tile(state)
    y, x = int((r + 0.5) * 64 / 9), int((c + 0.5) * 64 / 9)
    assert tuple(obs[y, x]) in set(AGENT_RGB)
    # a step later it has moved 0.3375 tile (2.4 px); with a key held, the key ring shows it
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
    assert obs.dtype == np.float32 and obs.shape == (17, 17, 14) == env.observation_space.shape
    assert len(SYMBOLIC_CHANNELS) == 14 and set(np.unique(obs).tolist()) <= {0.0, 0.5, 1.0}
    # the window is the tile grid shifted so the agent sits at the centre (8, 8)
    tiles, (r, c) = np.asarray(state.tiles), agent_tile(state)
    window = np.full((17, 17), WALL)
    window[8 - r : 8 - r + 9, 8 - c : 8 - c + 9] = tiles
    kinds = [WALL, GEM, KEY, KEY + 1, KEY + 2, LOCK, LOCK + 1, LOCK + 2]
    for ch, kind in enumerate(kinds):
        np.testing.assert_array_equal(obs[..., ch], (window == kind).astype(np.float32))
    body = np.zeros((17, 17))
    body[8, 8] = 1
    np.testing.assert_array_equal(obs[..., 8], body)  # on a tile centre: one cell, 1.0
    assert (obs[..., 9:12] == 0).all() and (obs[..., 12:] == 0.5).all()  # no keys, at rest

    def decode(o, state):
        """The agent's (x, y) from the bilinear body channel: the weighted mean of cell
        centres, relative to the window centre's tile."""
        tr, tc = agent_tile(state, centred=False)
        weights = o[..., 8]
        rows, cols = np.mgrid[0:17, 0:17]
        row = (weights * (rows - 8)).sum() + tr + 0.5  # in rows, down
        col = (weights * (cols - 8)).sum() + tc + 0.5
        return [col, 9 - row]

    # off the tile centre: up to four cells, summing to 1, decode to the exact position;
    # held keys and the velocity are constant planes
    action, _ = floor_direction(state)
    state = state.replace(has_keys=jnp.array([True, False, True]))
    jstep = jax.jit(env.step)
    for t in range(3):
        obs2, state, _, _, _ = jstep(jax.random.key(t), state, jnp.int32(action))
        obs2 = np.asarray(obs2)
        assert 2 <= (obs2[..., 8] > 0).sum() <= 4
        assert obs2[..., 8].sum() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(decode(obs2, state), np.asarray(state.pos), atol=1e-5)
        speed = 0.5 + 0.5 * np.asarray(state.vel) / TOP_SPEED
        np.testing.assert_allclose(obs2[0, 0, 12:], speed, atol=1e-6)
        assert (obs2[..., 12:] == obs2[:1, :1, 12:]).all()
    assert (obs2[..., 9] == 1).all() and (obs2[..., 10] == 0).all() and (obs2[..., 11] == 1).all()
    small = Heist(obs_mode="symbolic", view_radius=3)
    assert small.observation_space.shape == (7, 7, 14)
    assert jax.jit(small.reset)(jax.random.key(0), jnp.int32(5))[0].shape == (7, 7, 14)


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distribution_mode": "memory"}, "distribution_mode"),  # Procgen's, not implemented
        ({"obs_mode": "symbolic", "view_radius": 0}, "view_radius"),
        ({"view_radius": 2.5}, "view_radius"),
        ({"view_radius": True}, "view_radius"),
        ({"view_radius": "4"}, "view_radius"),
    ],
)
def test_bad_game_options_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Heist(**kwargs)

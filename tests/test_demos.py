"""Demonstrations: success filter, fixed-capacity buffer, safe save/load with validation."""

import jax
import numpy as np
import pytest

from gsl_jax.demos import DemoBuffer, count_successes, successful_episodes


def trajectory():
    # T = 6, B = 2. Env 0: episode [0..2] succeeds, episode [3..4] fails, step 5 unfinished.
    # Env 1: episode [0..5] succeeds.
    done = np.zeros((6, 2), bool)
    success = np.zeros((6, 2), bool)
    done[2, 0] = success[2, 0] = True
    done[4, 0] = True
    done[5, 1] = success[5, 1] = True
    obs = np.arange(12, dtype=np.float32).reshape(6, 2, 1)
    action = np.arange(12, dtype=np.int32).reshape(6, 2)
    reward = np.ones((6, 2), np.float32)
    return {"obs": obs, "action": action, "reward": reward, "done": done, "success": success}


def test_only_complete_successful_episodes_are_kept():
    obs, action, kept, finished = successful_episodes(trajectory(), max_episodes=10)
    assert (kept, finished) == (2, 3)
    # env 0 steps 0..2 are rows 0, 2, 4 of the flattened [T, B]; env 1 steps 0..5 are odd rows.
    assert action.tolist() == [0, 2, 4, 1, 3, 5, 7, 9, 11]
    assert obs.shape == (9, 1)
    _, action, kept, _ = successful_episodes(trajectory(), max_episodes=1)
    assert kept == 1 and action.tolist() == [0, 2, 4]


def test_return_threshold_replaces_missing_success_flag():
    traj = trajectory()
    traj["success"][:] = False
    # Returns: 3 (env 0, first), 2 (env 0, second), 6 (env 1): a threshold of 3 keeps two.
    _, action, kept, _ = successful_episodes(traj, 10, return_threshold=3.0)
    assert kept == 2 and len(action) == 9


def test_count_successes_is_not_capped_by_the_episodes_kept():
    traj = trajectory()
    assert count_successes(traj) == 2  # env 0's first episode and env 1's
    assert successful_episodes(traj, max_episodes=1)[2] == 1  # kept stops at the cap
    traj["success"][:] = False
    assert count_successes(traj) == 0
    # Returns 3, 2 and 6 (as above): thresholds 3, 2 and 7 count 2, 3 and 0 episodes.
    assert [count_successes(traj, t) for t in (3.0, 2.0, 7.0)] == [2, 3, 0]


def test_buffer_sampling_stays_within_count():
    buf = DemoBuffer.from_arrays(np.arange(5.0)[:, None], np.arange(5), episodes=2, capacity=8)
    assert buf.capacity == 8 and int(buf.count) == 5
    obs, action = jax.jit(buf.sample, static_argnums=1)(jax.random.key(0), 500)
    assert set(np.asarray(action).tolist()) == {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(np.asarray(obs)[:, 0], np.asarray(action))


def test_save_load_round_trip_and_validation(tmp_path):
    buf = DemoBuffer.from_arrays(np.ones((3, 4), np.float32), np.array([0, 1, 2], np.int32), 1)
    path = buf.save(tmp_path / "demos.npz")
    back = DemoBuffer.load(
        path, obs_shape=(4,), obs_dtype=np.float32, action_dtype=np.int32, capacity=10
    )
    assert int(back.count) == 3 and back.capacity == 10 and int(back.episodes) == 1
    with pytest.raises(FileExistsError, match="not overwriting"):
        buf.save(path)
    with pytest.raises(ValueError, match="obs rows have shape \\(4,\\), expected \\(5,\\)"):
        DemoBuffer.load(path, obs_shape=(5,))
    with pytest.raises(ValueError, match="action dtype int32, expected float32"):
        DemoBuffer.load(path, action_dtype=np.float32)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated.npz: unreadable"):
        DemoBuffer.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="missing entry 'format'"):
        DemoBuffer.load(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        format=np.array("gsl_jax.demos/1"),
        obs=np.array([{"a": 1}], dtype=object),
        action=np.zeros(1),
        episodes=np.array(1),
    )
    with pytest.raises(ValueError, match="unreadable"):  # object arrays need pickle: refused
        DemoBuffer.load(pickled)

"""Tests of the Procgen registry (gsl_jax.envs.procgen.make) and of the fidelity harness
(benchmarks/procgen_fidelity.py): its statistics on hand-made episodes, its unbiased episode
collection, and a ``--quick`` run against the real maze when EnvPool is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmark_scripts import load_script

import gsl_jax.envs.procgen as procgen
from gsl_jax.envs.procgen import GAMES, Maze, available_games, game_class, make


@pytest.fixture(scope="module")
def fidelity():
    """The harness module, imported from its file (benchmarks/ is not a package)."""
    return load_script("procgen_fidelity")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
def test_make_maze_builds_the_port_with_the_options_given():
    env = make("maze")
    assert type(env) is Maze
    assert env.name == "maze-easy"
    assert env.observation_space.shape == (64, 64, 3)
    hard = make("maze", distribution_mode="hard", obs_mode="symbolic", timeout=123)
    assert hard.world_dim == 25 and hard.max_episode_steps == 123
    assert hard.observation_space.shape == (49, 49, 2)
    assert game_class("maze") is Maze


def test_registry_lists_the_ported_games_and_maze_is_available():
    assert set(GAMES) == {
        "maze",
        "heist",
        "bigfish",
        "coinrun",
        "chaser",
        "leaper",
        "miner",
        "dodgeball",
    }
    for target in GAMES.values():
        module, cls = target.split(":")
        assert module.startswith("gsl_jax.envs.procgen.") and cls
    assert "maze" in available_games()


def test_unknown_game_raises_naming_game_and_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"^game: 'pong'.*bigfish.*coinrun.*heist.*maze"):
        make("pong")


@pytest.mark.parametrize("mode", ["medium", "extreme"])
def test_unknown_or_unsupported_distribution_mode_raises_naming_it(mode):
    # "medium" is no Procgen mode (rejected by make); maze has no "extreme" mode (its
    # constructor rejects it).
    with pytest.raises(ValueError, match=rf"^distribution_mode: '{mode}'"):
        make("maze", distribution_mode=mode)


def test_unknown_option_raises_naming_it():
    with pytest.raises(ValueError, match=r"^colour"):
        make("maze", colour="red")


def test_a_broken_port_fails_only_when_used(monkeypatch):
    monkeypatch.setitem(GAMES, "broken", "gsl_jax.envs.procgen.no_such_module:Broken")
    with pytest.raises(ImportError, match="broken"):
        make("broken")
    # Listing the games does not hide it ...
    with pytest.raises(ImportError, match="'broken'"):
        available_games()
    # ... and the package itself and the other ports are unaffected.
    assert procgen.Maze is Maze and type(make("maze")) is Maze


# --------------------------------------------------------------------------------------------
# Harness statistics
# --------------------------------------------------------------------------------------------
def test_episode_stats_on_hand_made_episodes(fidelity):
    E = fidelity.Episode
    episodes = [
        E(10.0, 5, True, 0),
        E(0.0, 500, False, 1),
        E(10.0, 20, True, 0),
        E(0.0, 500, False, 2),
    ]
    s = fidelity.episode_stats(episodes)
    assert s["episodes"] == 4 and s["levels"] == 3
    assert s["return_mean"] == pytest.approx(5.0)
    # returns 10, 0, 10, 0: squared deviations 4 * 25 = 100, / (n - 1) = 3
    assert s["return_std"] == pytest.approx(math.sqrt(100 / 3))
    assert s["length_mean"] == pytest.approx(256.25)
    # deviations -251.25, 243.75, -236.25, 243.75: squares sum to 237768.75
    assert s["length_std"] == pytest.approx(math.sqrt(237768.75 / 3))
    assert s["completion"] == pytest.approx(0.5)
    # Clustered by level: level 0 deviations sum to 5 + 5 = 10, levels 1 and 2 to -5 each;
    # sqrt(3 / 2 * (100 + 25 + 25)) / 4 = 15 / 4.
    assert s["return_se"] == pytest.approx(3.75)
    assert s["completion_se"] == pytest.approx(3.75 / 10)


def test_unclustered_se_is_the_usual_standard_error(fidelity):
    x = np.array([1.0, 4.0, 4.0, 7.0])  # mean 4, sample variance (9 + 0 + 0 + 9) / 3 = 6
    assert fidelity.clustered_se(x, np.arange(4)) == pytest.approx(math.sqrt(6 / 4))


def test_compare_pass_and_miss_against_the_target(fidelity):
    real = {"return_mean": 4.0, "length_mean": 200.0, "completion": 0.4}
    real |= {"return_se": 0.1, "length_se": 10.0, "completion_se": 0.01}
    ours = {"return_mean": 4.5, "length_mean": 260.0, "completion": 0.45}
    ours |= {"return_se": 0.1, "length_se": 10.0, "completion_se": 0.01}
    c = fidelity.compare(ours, real)
    assert c["return_rel"] == pytest.approx(0.125) and c["return_pass"]
    assert c["length_rel"] == pytest.approx(0.3) and not c["length_pass"]
    assert c["return_z"] == pytest.approx(0.5 / math.hypot(0.1, 0.1))
    assert c["completion_diff"] == pytest.approx(0.05)
    assert fidelity.relative_difference(0.0, 0.0) == 0.0
    assert math.isinf(fidelity.relative_difference(1.0, 0.0))


def test_first_episodes_takes_the_same_number_from_every_env(fidelity):
    """Env 0 finishes short episodes at steps 2, 4, 6; env 1 one long one at step 6. With one
    episode per env the collection waits for env 1 and ignores env 0's later episodes, so the
    short ones are not over-represented. An invalid step (EnvPool's reset step) is skipped."""
    c = fidelity.FirstEpisodes(num_envs=2, per_env=1)
    done0 = [False, True, False, True, False, True]
    for t in range(6):
        reward = np.array([1.0, 2.0])
        done = np.array([done0[t], t == 5])
        valid = np.array([True, t != 2])  # env 1's third step belongs to no episode
        c.add(reward, done, np.array([True, False]), np.array([7, 9]), valid)
        assert c.done == (t == 5)
    assert sorted(c.episodes) == [
        fidelity.Episode(2.0, 2, True, 7),
        fidelity.Episode(10.0, 5, False, 9),
    ]


def test_policies_cycle_from_the_episode_start(fidelity):
    policy = fidelity.Policy("cycle", (7, 5), repeat=2)
    t = np.array([0, 1, 2, 3, 4])
    np.testing.assert_array_equal(
        policy.numpy_actions(np.random.default_rng(0), t), [7, 7, 5, 5, 7]
    )
    table, period, repeat, random = policy.as_arrays()
    assert table[:2].tolist() == [7, 5] and (period, repeat, bool(random)) == (2, 2, False)
    rnd = fidelity.RANDOM.numpy_actions(np.random.default_rng(0), np.zeros(1000, np.int64))
    assert rnd.min() == 0 and rnd.max() == 14


# --------------------------------------------------------------------------------------------
# A quick run against the real game
# --------------------------------------------------------------------------------------------
def test_quick_harness_run_on_maze_writes_the_report(fidelity, tmp_path):
    reason = fidelity.envpool_available()
    if reason is not None:
        pytest.skip(f"the real Procgen games need envpool and the Qt5 runtime: {reason}")
    out = tmp_path / "fidelity.md"
    results = fidelity.main(["--quick", "--games", "maze", "--out", str(out)])
    assert [r["policy"] for r in results] == [p.name for p in fidelity.policies_for("maze")]
    for r in results:
        for side in ("ours", "real"):
            s = r[side]
            assert s["episodes"] == 40  # 20 envs x their first 2 episodes
            assert 1 <= s["length_mean"] <= 500 and 0.0 <= s["completion"] <= 1.0
            # maze pays 10 exactly when the level is completed
            assert s["return_mean"] == pytest.approx(10 * s["completion"])
    text = out.read_text()
    assert "| maze | uniform random | ours |" in text and "| maze | uniform random | real |" in text
    assert ("**PASS**" in text) or ("**MISS**" in text)
    assert (tmp_path / "images" / "procgen_maze_frames.png").stat().st_size > 1000

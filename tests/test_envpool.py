"""The real Procgen games through EnvPool, and PPO with host rollouts.

Needs EnvPool and, on Linux, the Qt 5 runtime; the whole module is skipped otherwise, with the
commands that enable it (``pip install "gsl-jax[procgen]"``, ``apt-get install -y libqt5gui5``).
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.envpool import (
    EnvPoolProcgen,
    envpool_spec,
    envpool_unavailable_reason,
    level_runs,
    share_envs,
)

_REASON = envpool_unavailable_reason()
if _REASON is not None:
    pytest.skip(f"EnvPool's Procgen is unavailable: {_REASON}", allow_module_level=True)

from gsl_jax.checkpoint import checkpoint_folders, read_meta  # noqa: E402
from gsl_jax.envs.core import VariationSet, VecEnv  # noqa: E402
from gsl_jax.envs.gymnax import GymnaxEnv  # noqa: E402
from gsl_jax.host_rollout import HostPPO, train_ppo_envpool, train_ppo_host  # noqa: E402
from gsl_jax.networks import NetworkConfig, make_network  # noqa: E402
from gsl_jax.ppo import PPOConfig, init_learner, make_update  # noqa: E402

MAZE_TIMEOUT = 500  # procgen src/games/maze.cpp: episodes end after 500 steps
MAZE_REWARD = 10.0  # ... and reaching the cheese gives 10, the only reward


def random_steps(env, steps, seed=0):
    """Step ``env`` with uniformly random actions; yield ``(obs, reward, done, info)``."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield env.step(rng.integers(0, 15, env.num_envs))


def test_level_runs_and_env_shares_by_hand():
    assert level_runs([3, 7, 8, 9, 20]) == [(3, 1), (7, 3), (20, 1)]
    assert level_runs(range(200)) == [(0, 200)]
    # 8 envs over runs of 1, 3, 1 levels: one each, then the 5 spare by size: 1, 3, 1.
    assert share_envs([1, 3, 1], 8) == [2, 4, 2]
    # 7 envs: 4 spare -> quotas 0.8, 2.4, 0.8 -> 0, 2, 0 and two by largest remainder (ties:
    # the earlier run) -> 1, 2, 1.
    assert share_envs([1, 3, 1], 7) == [2, 3, 2]
    assert share_envs([5], 64) == [64]


def test_observations_are_hwc_uint8_frames_of_the_real_game():
    import envpool

    env = EnvPoolProcgen("maze", "easy", num_envs=4, levels=range(10, 20), seed=5)
    obs = env.reset()
    assert obs.shape == (4, 64, 64, 3) and obs.dtype == np.uint8
    assert env.observation_space.shape == (64, 64, 3) and env.action_space.n == 15
    assert env.max_episode_steps == MAZE_TIMEOUT and env.name == "maze-easy"
    # The same games built by EnvPool directly, channel-first: the same frames, transposed.
    chw = envpool.make(
        "MazeEasy-v0", env_type="gymnasium", num_envs=4, num_levels=10, start_level=10, seed=5
    )
    ref, info = chw.reset()
    np.testing.assert_array_equal(obs, ref.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(env.level_seed, info["level_seed"])
    assert 0 < obs.std()  # a real frame, not a blank buffer


def test_envs_play_only_their_levels_and_restart_on_first_frames():
    levels = [3, 7, 8, 9, 20]
    env = EnvPoolProcgen("maze", "easy", num_envs=8, levels=levels, seed=0)
    assert env.groups == [(3, 1, 2), (7, 3, 4), (20, 1, 2)]
    first = env.reset()
    start = env.level_seed
    # Envs 0-1 are pinned to level 3 and 6-7 to level 20; 2-5 draw from 7, 8, 9.
    assert start[:2].tolist() == [3, 3] and start[6:].tolist() == [20, 20]
    assert set(start[2:6].tolist()) <= {7, 8, 9}
    played, episodes = set(start.tolist()), 0
    for obs, _, done, info in random_steps(env, 1200):
        played |= set(info["variation"].tolist()) | set(info["level_seed"].tolist())
        episodes += int(done.sum())
        # A finished episode restarts at once: a pinned env shows its level's first frame again.
        pinned = np.flatnonzero(done & np.isin(np.arange(8), [0, 1, 6, 7]))
        np.testing.assert_array_equal(obs[pinned], first[pinned])
    assert episodes >= 10
    assert played <= set(levels) and {3, 20} <= played


def test_success_flag_marks_level_completion():
    env = EnvPoolProcgen("maze", "easy", num_envs=16, levels=range(5), seed=1)
    env.reset()
    wins, timeouts = 0, 0
    for _, reward, done, info in random_steps(env, 3000, seed=1):
        if done.any():
            success, length = info["success"][done], info["episode_length"][done]
            np.testing.assert_array_equal(reward[done], MAZE_REWARD * success)
            np.testing.assert_array_equal(info["episode_return"][done], MAZE_REWARD * success)
            assert np.all(length[success] < MAZE_TIMEOUT)
            # An episode that did not reach the cheese ran into the time limit.
            np.testing.assert_array_equal(length[~success], MAZE_TIMEOUT)
            np.testing.assert_array_equal(info["truncated"][done], ~success)
            wins += int(success.sum())
            timeouts += int((~success).sum())
        assert np.all(reward[~done] == 0.0)
        if wins and timeouts:
            break
    assert wins > 0 and timeouts > 0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(game="mazee"), "game"),
        (dict(distribution_mode="extreme"), "distribution_mode"),  # maze has no extreme mode
        (dict(num_envs=0), "num_envs"),
        (dict(levels=[]), "levels"),
        (dict(levels=[-1, 2]), "levels"),
        (dict(levels=[4, 4]), "levels"),
        (dict(levels=[0.5]), "levels"),
        (dict(num_envs=2, levels=[0, 5, 9]), "num_envs"),  # three runs need three envs
        (dict(seed=-1), "seed"),
        (dict(num_threads=-2), "num_threads"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, field):
    kwargs = {"game": "maze", **kwargs}
    with pytest.raises(ValueError, match=f"^{field}:"):
        EnvPoolProcgen(**kwargs)


def test_training_arguments_are_checked_before_any_env_is_built():
    with pytest.raises(ValueError, match="^variation_sets:"):
        train_ppo_envpool("maze", levels=range(3), variation_sets=[[0], [1]])
    with pytest.raises(ValueError, match="^total_steps:"):
        train_ppo_envpool("maze", total_steps=0)
    env = EnvPoolProcgen("maze", num_envs=4)
    net = make_network(NetworkConfig(kind="small_cnn"), env.action_space, (64, 64, 3))
    with pytest.raises(ValueError, match="^ppo.num_envs:"):
        HostPPO([env], net, PPOConfig(num_envs=8, num_steps=4, num_minibatches=1))


def test_missing_envpool_gives_the_install_commands(monkeypatch):
    monkeypatch.setitem(sys.modules, "envpool", None)  # `import envpool` now fails
    message = envpool_unavailable_reason()
    assert (
        'pip install "gsl-jax[procgen]"' in message and "apt-get install -y libqt5gui5" in message
    )
    with pytest.raises(ImportError, match="libqt5gui5"):
        EnvPoolProcgen("maze", num_envs=2)


def test_host_ppo_trains_a_population_on_the_real_maze():
    """Two specialists with their own levels, two host-rollout PPO updates each."""
    config = PPOConfig(num_envs=8, num_steps=16, num_minibatches=2, update_epochs=1)
    sets = [[0, 1], [7]]
    result = train_ppo_envpool(
        "maze",
        "easy",
        config,
        NetworkConfig(kind="mlp", hidden=(8,)),  # the smallest net: this checks the plumbing
        total_steps=2 * config.batch_size,
        variation_sets=sets,
        updates_per_chunk=1,
        progress=False,
    )
    assert [h["step"] for h in result.history] == [128, 256]
    for h in result.history:
        for key in ("policy_loss", "value_loss", "entropy"):
            assert np.isfinite(h[key]), (key, h)
    state = result.state
    assert state.updates.tolist() == [2, 2]
    assert state.env.obs.shape == (2, 8, 64, 64, 3) and state.env.obs.dtype == jnp.uint8
    assert state.variations.count.tolist() == [2, 1]
    for p, env in enumerate(result.vec_env):
        assert set(env.level_seed.tolist()) <= set(sets[p])
    # Training moved both members' parameters away from their initial values (HostPPO.init:
    # member p's network key is the first of split(split(key(seed), P)[p], 3)).
    for p, k in enumerate(jax.random.split(jax.random.key(0), 2)):
        initial = result.network.init(jax.random.split(k, 3)[0], state.env.obs[p, :1])
        trained = jax.tree.map(lambda x, p=p: x[p], state.params)
        moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), initial, trained)
        assert max(jax.tree.leaves(moved)) > 1e-4, p


def test_env_specs_round_trip_and_name_a_bad_field():
    spec = envpool_spec("maze", "hard", num_envs=6, levels=[3, 7, 8, 9, 20], seed=11)
    assert spec["options"]["levels"] == [[3, 1], [7, 3], [20, 1]]  # runs of consecutive seeds
    env = EnvPoolProcgen.from_spec(spec)
    assert env.levels.tolist() == [3, 7, 8, 9, 20] and (env.num_envs, env.seed) == (6, 11)
    assert env.spec() == spec and env.name == "maze-hard"
    # The specs the Procgen experiment saved hold the mode only: the rest are the defaults.
    old = EnvPoolProcgen.from_spec({"name": "maze", "backend": "envpool", "options": {}})
    assert old.levels is None and old.num_envs == 64
    for bad, field in [
        ({**spec, "backend": "jax"}, "env_spec"),
        ({**spec, "options": {"levels": [[0, 2]], "colour": 1}}, "env_spec.options.colour"),
        ({**spec, "options": {"levels": [5]}}, "env_spec.options.levels"),
        ({**spec, "options": {"levels": [[-1, 2]]}}, "env_spec.options.levels"),
        ({**spec, "options": {"levels": [[5, 2**31]]}}, "env_spec.options.levels"),  # not listed
        ({**spec, "name": "pong"}, "game"),
    ]:
        with pytest.raises(ValueError, match=f"^{field}:"):
            EnvPoolProcgen.from_spec(bad)


class _Stop(Exception):
    """Stands for a kill: raised from a record callback, before that chunk's checkpoint."""


def test_an_interrupted_host_ppo_run_resumes_from_its_checkpoint(tmp_path):
    """Stopped in its second chunk (checkpoint 1 written, checkpoint 2 not), a train_ppo_host
    run resumes from checkpoint 1 on envs rebuilt from its spec: the counters, step counts and
    records continue where the checkpoint stood (the returns need not be the same: the envs are
    re-seeded)."""
    config = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=1)
    spec = envpool_spec("maze", num_envs=4, levels=range(5), seed=3)
    run_dir = tmp_path / "run"

    def train(resume, on_record=None, spec=spec):
        return train_ppo_host(
            EnvPoolProcgen.from_spec(spec),
            config,
            NetworkConfig(kind="mlp", hidden=(8,)),
            total_steps=3 * config.batch_size,
            updates_per_chunk=1,
            run_dir=run_dir,
            progress=False,
            tensorboard=False,
            resume=resume,
            checkpoint_every=1,
            env_spec=spec,
            log=lambda m: None,
            on_record=on_record,
        )

    seen = []

    def stop_in_second_chunk(record):
        seen.append(record)
        if len(seen) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        train(False, stop_in_second_chunk)
    assert [p.name for p in checkpoint_folders(run_dir / "checkpoints")] == ["000001"]
    other = envpool_spec("maze", num_envs=4, levels=range(5), seed=4)
    with pytest.raises(ValueError, match="env_spec.options.seed: differs"):
        train(True, spec=other)  # refused before anything is compiled or written
    result = train(True)
    history = result.history
    assert [h["total_steps"] for h in history] == [64, 128, 192]
    kept = {k: v for k, v in history[0].items() if k != "step"}
    assert json.dumps(kept, sort_keys=True) == json.dumps(seen[0], sort_keys=True)  # NaN too
    assert int(result.state.updates[0]) == 3  # two more updates after the restored one
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["total_steps"] for line in lines] == [64, 128, 192]
    final = checkpoint_folders(run_dir / "checkpoints")
    assert [p.name for p in final] == ["000001", "000002", "000003", "000004"]
    progress = read_meta(final[-1])["progress"]
    assert (progress["phase"], progress["chunk"], progress["total_steps"]) == ("done", 3, 192)
    assert json.loads((run_dir / "result.json").read_text())["total_steps"] == 192
    # Resuming the finished run returns its records at once, training nothing.
    again = train(True, on_record=lambda r: pytest.fail("a finished run trained again"))
    assert [h["total_steps"] for h in again.history] == [64, 128, 192]


class _ReplayedHostEnv:
    """Gymnax CartPole stepped on the host with exactly the randomness the fused rollout of
    ``make_update`` draws for ``state``: the host loop must then rebuild its trajectory."""

    def __init__(self, vec, num_steps):
        self.num_envs = vec.num_envs
        self.observation_space, self.action_space = vec.env.observation_space, vec.env.action_space
        self._step = jax.jit(vec.step_with_draws)

        def draws(state):
            _, k_roll, _ = jax.random.split(state.rng, 3)
            _, k_env = jax.random.split(k_roll)
            keys = jax.random.split(k_env, num_steps)
            return jax.vmap(lambda k: vec.draw(k, state.variations))(keys)

        self._draws = jax.jit(draws)

    def follow(self, state):
        """Replay the env randomness of the fused update of ``state`` next."""
        self.env_state, self.draws, self.t = state.env, self._draws(state), 0

    def reset(self):
        return np.asarray(self.env_state.obs)

    def step(self, action):
        draws = jax.tree.map(lambda x: x[self.t], self.draws)
        self.env_state, reward, done, info = self._step(draws, self.env_state, jnp.asarray(action))
        self.t += 1
        return np.asarray(self.env_state.obs), np.asarray(reward), np.asarray(done), info


def test_host_rollout_then_learn_equals_the_fused_update():
    config = PPOConfig(
        num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99, loop="scan"
    )
    env = GymnaxEnv("CartPole-v1", family="pole")
    vec = VecEnv(env, config.num_envs)
    net = make_network(NetworkConfig(hidden=(16, 16)), env.action_space, (4,))
    fused = init_learner(jax.random.key(0), vec, net, config, VariationSet.from_ids(range(16)))
    host = jax.tree.map(lambda x: x[None], fused.replace(env=fused.env.replace(env_state=None)))
    update = jax.jit(make_update(vec, net, config))
    replay = _ReplayedHostEnv(vec, config.num_steps)
    driver = HostPPO([replay], net, config)
    for _ in range(2):
        replay.follow(fused)
        fused, m_fused = update(fused)
        host, m_host = driver.update(host)
        for a, b in zip(jax.tree.leaves(fused.params), jax.tree.leaves(host.params), strict=True):
            np.testing.assert_allclose(a, b[0], rtol=0, atol=1e-6)
        for key in ("episodes", "return_sum", "length_sum", "success_sum"):
            assert float(m_fused[key]) == float(m_host[key][0]), key
        for key in ("policy_loss", "value_loss", "entropy"):
            np.testing.assert_allclose(m_fused[key], m_host[key][0], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(fused.env.obs, host.env.obs[0])
        stats = zip(jax.tree.leaves(fused.env.stats), jax.tree.leaves(host.env.stats), strict=True)
        for a, b in stats:
            np.testing.assert_array_equal(a, b[0])
        np.testing.assert_allclose(fused.reward_norm.var, host.reward_norm.var[0], rtol=1e-6)
        np.testing.assert_array_equal(
            jax.random.key_data(fused.rng), jax.random.key_data(host.rng[0])
        )

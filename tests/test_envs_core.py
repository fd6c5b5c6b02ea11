"""The environment interface: variation sets, episode statistics, auto-reset, gymnax adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.core import EpisodeStats, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.envs.gymnax import GymnaxEnv


@pytest.fixture(scope="module")
def cartpole():
    return GymnaxEnv("CartPole-v1", family="pole")


def test_variation_set_padding_and_sampling():
    s = VariationSet.from_ids([3, 7, 9], capacity=6)
    assert s.ids.shape == (6,) and int(s.count) == 3
    draws = jax.vmap(s.sample)(jax.random.split(jax.random.key(0), 2000))
    values, counts = np.unique(np.asarray(draws), return_counts=True)
    assert values.tolist() == [3, 7, 9]  # padding is never drawn
    assert counts.min() > 550  # roughly uniform: 2000 / 3 = 667 each


def test_stacked_sets_of_different_sizes():
    sets = stack_variation_sets([[0, 1, 2, 3], [5], [6, 7]])
    assert sets.ids.shape == (3, 4)
    assert sets.count.tolist() == [4, 1, 2]
    draws = jax.vmap(lambda s, k: s.sample(k))(sets, jax.random.split(jax.random.key(1), 3))
    assert int(draws[1]) == 5


def test_bad_variation_sets_name_the_field(cartpole):
    with pytest.raises(ValueError, match="variations: the variation set is empty"):
        VariationSet.from_ids([])
    with pytest.raises(ValueError, match=r"specialists\[1\].*outside the range \[0, 16\)"):
        stack_variation_sets([[0, 1], [15, 16]], cartpole, field="specialists")
    with pytest.raises(ValueError, match="do not fit a capacity"):
        VariationSet.from_ids([1, 2, 3], capacity=2)


def test_episode_stats_update_by_hand():
    stats = EpisodeStats.zeros(2)
    info = lambda s, v: {"success": jnp.array(s), "variation": jnp.array(v)}
    stats = stats.update(jnp.array([1.0, 2.0]), jnp.array([False, False]), info([0, 0], [4, 5]))
    stats = stats.update(jnp.array([3.0, 1.0]), jnp.array([True, False]), info([1, 0], [4, 5]))
    assert stats.last_return.tolist() == [4.0, 0.0]
    assert stats.last_length.tolist() == [2, 0]
    assert stats.last_success.tolist() == [True, False]
    assert stats.last_variation.tolist() == [4, 0]
    assert stats.episode_return.tolist() == [0.0, 3.0]
    assert stats.finished.tolist() == [1, 0]


def test_cartpole_family_parameters(cartpole):
    assert cartpole.num_variations == 16
    # Row-major grid, last field (masspole) fastest: variation 6 = length 0.5, masspole 0.2.
    assert cartpole.variation_params(6) == pytest.approx({"length": 0.5, "masspole": 0.2})
    p = cartpole.params(jnp.int32(6))
    assert float(p.total_mass) == pytest.approx(1.0 + 0.2)  # derived fields are recomputed
    assert float(p.polemass_length) == pytest.approx(0.2 * 0.5)


def test_variation_changes_dynamics(cartpole):
    key = jax.random.key(0)

    def rollout(variation):
        obs, state = cartpole.reset(key, jnp.int32(variation))
        for _ in range(10):
            obs, state, *_ = cartpole.step(key, state, jnp.int32(1))
        return np.asarray(obs)

    assert not np.allclose(rollout(0), rollout(15))
    np.testing.assert_array_equal(rollout(3), rollout(3))


def test_vec_env_auto_resets_onto_the_set(cartpole):
    vec = VecEnv(cartpole, 8)
    variations = VariationSet.from_ids([2, 11])
    state = vec.reset(jax.random.key(0), variations)

    @jax.jit
    def run(state, key):
        def body(s, k):
            s, r, d, info = vec.step(k, s, jnp.zeros(8, jnp.int32), variations)
            return s, (d, info["variation"], info["truncated"], info["success"])

        return jax.lax.scan(body, state, jax.random.split(key, 200))

    state, (done, var, trunc, success) = run(state, jax.random.key(1))
    assert done.sum() > 8  # always pushing left: episodes end quickly and restart
    assert set(np.unique(np.asarray(var)).tolist()) <= {2, 11}
    assert set(np.asarray(state.env_state.variation).tolist()) <= {2, 11}
    assert not trunc.any() and not success.any()  # falling over is neither
    assert (np.asarray(state.stats.finished) > 0).all()
    assert set(np.asarray(state.stats.last_variation).tolist()) <= {2, 11}


def test_cartpole_truncation_is_success():
    env = GymnaxEnv("CartPole-v1", family={})
    _, state = env.reset(jax.random.key(0), jnp.int32(0))
    state = state.replace(inner=state.inner.replace(time=499))
    *_, done, info = env.step(jax.random.key(0), state, jnp.int32(0))
    assert bool(done) and bool(info["truncated"]) and bool(info["success"])


def test_unknown_env_and_family_fields():
    with pytest.raises(ValueError, match="env: unknown gymnax environment"):
        GymnaxEnv("NotAnEnv-v0")
    with pytest.raises(ValueError, match="family: CartPole-v1 has no parameter 'mass'"):
        GymnaxEnv("CartPole-v1", family={"mass": (1.0,)})


def test_pendulum_is_continuous():
    env = GymnaxEnv("Pendulum-v1", family="pendulum")
    obs, state = env.reset(jax.random.key(0), jnp.int32(5))
    obs, state, reward, done, info = env.step(jax.random.key(1), state, jnp.array([0.5]))
    assert reward.shape == () and obs.shape == env.observation_space.shape
    assert env.action_space.shape == (1,)
    assert int(info["variation"]) == 5


@pytest.mark.parametrize("name", ["forkmaze", "CartPole-v1", "maze", "coinrun"])
def test_env_spec_records_every_option_and_rebuilds_the_env(name):
    """A run's saved env spec holds every option with its resolved default (so a later change of
    a default is caught on resume), and the env rebuilds from it."""
    from gsl_jax.envs.registry import env_spec, make_env

    spec = env_spec(name)
    rebuilt = make_env(spec["name"], **spec["options"])
    assert rebuilt.name == make_env(name).name
    given = env_spec(name, seed=3) if name == "forkmaze" else spec
    assert given["options"].keys() == spec["options"].keys()


def test_env_spec_of_a_port_holds_its_own_timeout_and_options():
    from gsl_jax.envs.registry import env_spec

    assert env_spec("maze", obs_mode="symbolic") == {
        "name": "maze",
        "options": {
            "distribution_mode": "easy",
            "obs_mode": "symbolic",
            "timeout": 500,
            "view_radius": None,
        },
    }
    assert env_spec("forkmaze")["options"] == {
        "num_variations": 32,
        "num_hard": 4,
        "depth": 8,
        "cue_bits": 8,
        "seed": 0,
    }

"""Every Procgen port driven through gymnax's own Environment API and its wrappers."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.wrappers import FlattenObservationWrapper, LegacyStepAPIWrapper, LogWrapper
from test_procgen_contract import NOT_ON_BASE

from gsl_jax.envs.procgen import GAMES, make
from gsl_jax.envs.procgen.gymnax_api import ProcgenGymnax, gymnax_make

LEVELS = (4, 9, 30)
TIMEOUT = 6
STEPS = 20


@pytest.mark.parametrize("game", sorted(GAMES))
def test_port_through_gymnax_wrappers_auto_resets_on_its_levels(game):
    if game in NOT_ON_BASE:
        pytest.xfail(f"{game} is not on the ProcgenPort base yet")
    env, params = gymnax_make(game, levels=LEVELS, obs_mode="symbolic", timeout=TIMEOUT)
    assert env.name == f"{game}-easy" and env.num_actions == 15
    assert env.action_space(params).n == 15
    wrapped = LogWrapper(FlattenObservationWrapper(env))
    flat_size = int(np.prod(env.observation_space(params).shape))
    assert wrapped.observation_space(params).shape == (flat_size,)

    def body(state, key):
        k_act, k_step = jax.random.split(key)
        action = env.action_space(params).sample(k_act)
        obs, state, reward, terminated, truncated, info = wrapped.step(
            k_step, state, action, params
        )
        return state, (obs, reward, terminated, truncated, info)

    @jax.jit
    def run(key):
        obs, state = wrapped.reset(key, params)
        return obs, jax.lax.scan(body, state, jax.random.split(key, STEPS))

    obs0, (state, (obs, reward, terminated, truncated, info)) = run(jax.random.key(0))
    chex.assert_shape([obs0, obs], [(flat_size,), (STEPS, flat_size)])
    chex.assert_type([reward, terminated, truncated], [jnp.float32, jnp.bool_, jnp.bool_])
    done = np.asarray(terminated | truncated)
    # episodes last at most TIMEOUT steps, end as truncated at the limit, and restart
    assert done.sum() >= STEPS // TIMEOUT
    lengths = np.asarray(info["returned_episode_lengths"])[done]
    assert (lengths <= TIMEOUT).all()
    assert (np.asarray(truncated)[done] == (lengths == TIMEOUT)).all()
    assert set(np.asarray(info["variation"]).tolist()) <= set(LEVELS)
    assert int(state.env_state.variation) in LEVELS

    # the old five-value API: done = terminated | truncated
    legacy = LegacyStepAPIWrapper(env)
    obs, s = legacy.reset(jax.random.key(1), params)
    out = legacy.step(jax.random.key(2), s, 4, params)
    assert len(out) == 5 and out[3].dtype == jnp.bool_


def test_a_step_without_reset_is_the_ports_own_step():
    port = make("maze", obs_mode="symbolic")
    env = ProcgenGymnax(port, levels=[7])
    params = env.default_params
    obs, state = jax.jit(env.reset)(jax.random.key(0), params)
    ref_obs, ref_state = port.reset(jax.random.key(0), jnp.int32(7))
    np.testing.assert_array_equal(np.asarray(obs), np.asarray(ref_obs))
    out = jax.jit(env.step)(jax.random.key(3), state, 7, params)
    ref = port.step(jax.random.split(jax.random.key(3))[0], ref_state, jnp.int32(7))
    np.testing.assert_array_equal(np.asarray(out[0]), np.asarray(ref[0]))
    assert float(out[2]) == float(ref[2])


def test_level_sets_and_ports_are_checked():
    with pytest.raises(ValueError, match="levels"):
        gymnax_make("maze", levels=[-1])
    with pytest.raises(ValueError, match="levels"):
        gymnax_make("maze", levels=[])
    with pytest.raises(ValueError, match="port"):
        ProcgenGymnax("maze")  # type: ignore[arg-type]

"""Checks every Procgen port's tests share (imported by tests/test_procgen_*.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.core import Environment, VariationSet, VecEnv


def assert_level_bank_matches_plain(env: Environment, num_envs: int, steps: int = 60):
    """Resets gathered from a level bank change nothing: ``steps`` random steps of
    ``VecEnv(env, num_envs)`` on levels {3, 11, 42} match the plain reset path exactly
    (observations, rewards, dones, variations), and after ``done`` each env shows the first
    frame of one of those levels. ``env`` should have a short timeout so that episodes end.
    Returns the plain path's ``(obs, reward, done, variation)``, each ``[T, B]``.
    """
    vec = VecEnv(env, num_envs)
    sets = VariationSet.from_ids([3, 11, 42], capacity=5)
    bank = jax.jit(vec.level_bank)(sets)
    assert jax.tree.leaves(bank)[0].shape[0] == 5

    def run(use_bank):
        state = vec.reset(jax.random.key(0), sets)

        def body(state, key):
            k_act, k_draw = jax.random.split(key)
            action = jax.random.randint(k_act, (num_envs,), 0, env.action_space.n)
            draws = vec.draw(k_draw, sets, bank=bank if use_bank else None)
            state, reward, done, info = vec.step_with_draws(draws, state, action)
            return state, (state.obs, reward, done, info["variation"])

        return jax.lax.scan(body, state, jax.random.split(jax.random.key(1), steps))[1]

    plain, banked = jax.jit(lambda: run(False))(), jax.jit(lambda: run(True))()
    assert int(plain[2].sum()) >= num_envs  # episodes did end and restart
    for a, b in zip(plain, banked, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # after ``done`` the observation is the first frame of one of the set's levels
    keys = jax.random.split(jax.random.key(0), 3)
    starts = np.asarray(jax.jit(jax.vmap(env.reset))(keys, jnp.array([3, 11, 42]))[0])
    obs, _, done, _ = plain
    for t, e in np.argwhere(np.asarray(done))[:5]:
        assert any(np.array_equal(np.asarray(obs[t, e]), s) for s in starts)
    return plain

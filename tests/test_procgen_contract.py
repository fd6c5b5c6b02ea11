"""The contract every registered JAX Procgen port keeps, checked for each of them.

One suite, parametrised over :data:`gsl_jax.envs.procgen.GAMES`: spaces and names, reset/step
shapes and dtypes in both observation modes, one level per seed, auto-reset from the variation
set (and the level bank giving the same steps as plain resets), ``info`` and the time limit,
``jit`` + ``vmap`` over a population of env batches, no retracing, the compact observation's
bounds, and the shared constructor checks. Each game's own rules live in
``tests/test_procgen_<game>.py``. Every jitted function is compiled once per game through
module-scoped fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.core import VariationSet, VecEnv, stack_variation_sets
from gsl_jax.envs.procgen import GAMES, make
from gsl_jax.envs.procgen.port import ProcgenPort

TIMEOUT = 12  # short, so that random episodes end and restart within a test's rollout
NOOP = 4
LEVELS = (3, 11, 42)


@dataclass
class Port:
    """One game's envs (easy mode, short timeout) and their jitted functions."""

    game: str
    pixels: ProcgenPort
    symbolic: ProcgenPort
    reset: Any  # jitted pixel reset
    step: Any  # jitted pixel step
    sym_reset: Any
    sym_step: Any
    resets: Any  # jitted pixel reset vmapped over a batch of (key, level); called with 5 levels


@pytest.fixture(scope="module", params=sorted(GAMES))
def port(request) -> Port:
    pixels = make(request.param, obs_mode="pixels", timeout=TIMEOUT)
    symbolic = make(request.param, obs_mode="symbolic", timeout=TIMEOUT)
    return Port(
        request.param,
        pixels,
        symbolic,
        jax.jit(pixels.reset),
        jax.jit(pixels.step),
        jax.jit(symbolic.reset),
        jax.jit(symbolic.step),
        jax.jit(jax.vmap(pixels.reset)),
    )


def _without_seed(state) -> list[np.ndarray]:
    """The state's leaves, less the fields that differ between any two levels by definition."""
    fields = {k: v for k, v in vars(state).items() if k not in ("variation", "time")}
    return [np.asarray(x) for x in jax.tree.leaves(fields)]


# ------------------------------------------------------------------------------------------------
# Spaces, names and arguments
# ------------------------------------------------------------------------------------------------
def test_spaces_and_names(port: Port):
    env = port.pixels
    assert isinstance(env, ProcgenPort) and env.game == port.game
    assert env.name == f"{port.game}-easy"
    assert env.action_space.n == 15
    assert env.num_variations == 2**31 - 1
    assert env.max_episode_steps == env.timeout == TIMEOUT
    assert env.observation_space.shape == (64, 64, 3)
    assert env.observation_space.dtype == jnp.uint8
    assert port.symbolic.observation_space.dtype == jnp.float32
    assert make(port.game).timeout == type(env).default_timeout
    env.validate_variations([0, 2**31 - 2])
    with pytest.raises(ValueError, match="variations"):
        env.validate_variations([-1])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"distribution_mode": "extreme"}, "distribution_mode"),
        ({"distribution_mode": "nightmare"}, "distribution_mode"),
        ({"obs_mode": "rgb"}, "obs_mode"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": 1.5}, "timeout"),
        ({"center_agent": True}, "center_agent"),
    ],
)
@pytest.mark.parametrize("game", sorted(GAMES))
def test_shared_bad_arguments_raise_naming_the_field(game, kwargs, field):
    with pytest.raises(ValueError, match=field):
        make(game, **kwargs)


# ------------------------------------------------------------------------------------------------
# Reset and step
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("obs_mode", ["pixels", "symbolic"])
def test_reset_and_step_shapes_and_dtypes(port: Port, obs_mode: str):
    env = port.pixels if obs_mode == "pixels" else port.symbolic
    reset, step = (
        (port.reset, port.step) if obs_mode == "pixels" else (port.sym_reset, port.sym_step)
    )
    obs, state = reset(jax.random.key(0), jnp.int32(7))
    space = env.observation_space
    chex.assert_shape(obs, space.shape)
    chex.assert_type(obs, space.dtype)
    obs, state, reward, done, info = step(jax.random.key(1), state, jnp.int32(NOOP))
    chex.assert_shape([obs], [space.shape])
    chex.assert_shape([reward, done], [(), ()])
    chex.assert_type([reward, done], [jnp.float32, jnp.bool_])
    assert {"success", "truncated", "variation"} <= set(info)
    chex.assert_type(
        [info["success"], info["truncated"], info["variation"]],
        [jnp.bool_, jnp.bool_, jnp.int32],
    )
    assert int(info["variation"]) == 7 and int(state.time) == 1


def test_one_level_per_seed(port: Port):
    seeds = jnp.array([5, 5, 6, 7, 8], jnp.int32)
    keys = jax.random.split(jax.random.key(0), 5)  # different keys: the level ignores them
    obs, states = port.resets(keys, seeds)
    per_env = [jax.tree.map(lambda x, i=i: x[i], states) for i in range(5)]
    np.testing.assert_array_equal(np.asarray(obs[0]), np.asarray(obs[1]))
    for a, b in zip(_without_seed(per_env[0]), _without_seed(per_env[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    for i in range(1, 5):
        for j in range(i + 1, 5):
            differ = any(
                not np.array_equal(a, b)
                for a, b in zip(_without_seed(per_env[i]), _without_seed(per_env[j]), strict=True)
            )
            assert differ, f"levels {int(seeds[i])} and {int(seeds[j])} are the same"


def test_frame_is_the_pixel_observation_in_either_mode(port: Port):
    obs, _ = port.reset(jax.random.key(0), jnp.int32(9))
    _, sym_state = port.sym_reset(jax.random.key(0), jnp.int32(9))
    frame = jax.jit(port.symbolic.frame)(sym_state)
    chex.assert_type(frame, jnp.uint8)
    np.testing.assert_array_equal(np.asarray(frame), np.asarray(obs))


def test_time_limit_ends_the_episode_as_truncated(port: Port):
    """Standing still until the limit: the episode ends at step ``timeout`` at the latest, and it
    is truncated exactly when it ends there without the level ending first."""
    _, state = port.reset(jax.random.key(0), jnp.int32(21))
    for t in range(1, TIMEOUT + 1):
        _, state, _, done, info = port.step(jax.random.key(t), state, jnp.int32(NOOP))
        if bool(done):
            break
    assert bool(done), "the episode outlived its time limit"
    assert bool(info["truncated"]) == (t == TIMEOUT and not bool(info["success"])) or t < TIMEOUT
    if t < TIMEOUT:
        assert not bool(info["truncated"])
    assert not (bool(info["truncated"]) and bool(info["success"]))


# ------------------------------------------------------------------------------------------------
# Auto-reset, level bank, episode bookkeeping
# ------------------------------------------------------------------------------------------------
def _random_rollout(vec: VecEnv, sets: VariationSet, bank, steps: int):
    """``steps`` uniform-random steps of ``vec`` from a fixed key: ``(obs, reward, done, info)``
    stacked ``[T, B, ...]`` and the final state."""
    n = vec.num_envs

    def body(state, key):
        k_act, k_draw = jax.random.split(key)
        action = jax.random.randint(k_act, (n,), 0, 15)
        draws = vec.draw(k_draw, sets, bank=bank)
        state, reward, done, info = vec.step_with_draws(draws, state, action)
        return state, (state.obs, reward, done, info)

    state = vec.reset(jax.random.key(0), sets)
    return jax.lax.scan(body, state, jax.random.split(jax.random.key(1), steps))


def test_auto_reset_draws_from_the_set_and_the_level_bank_changes_nothing(port: Port):
    env, n, steps = port.pixels, 8, 3 * TIMEOUT
    vec = VecEnv(env, n)
    sets = VariationSet.from_ids(list(LEVELS), capacity=5)
    bank = jax.jit(vec.level_bank)(sets)
    assert jax.tree.leaves(bank)[0].shape[0] == 5
    roll = jax.jit(lambda bank: _random_rollout(vec, sets, bank, steps))
    (state, plain), (_, banked) = roll(None), roll(bank)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(banked), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    obs, reward, done, info = (np.asarray(x) if not isinstance(x, dict) else x for x in plain)
    assert done.sum() >= n, "episodes should end and restart within the rollout"
    assert set(np.unique(np.asarray(info["variation"]))) <= set(LEVELS)
    truncated, success = np.asarray(info["truncated"]), np.asarray(info["success"])
    assert not (truncated & ~done).any() and not (success & ~done).any()
    assert not (truncated & success).any()
    assert (np.asarray(state.stats.last_length) <= TIMEOUT).all()
    # after ``done`` the observation is the first frame of one of the set's levels (the batch of
    # five, padded with repeats, is the one test_one_level_per_seed compiled)
    keys = jax.random.split(jax.random.key(0), 5)
    starts = np.asarray(port.resets(keys, jnp.array([*LEVELS, *LEVELS[:2]], jnp.int32))[0])
    for t, e in np.argwhere(done)[:6]:
        assert any(np.array_equal(obs[t, e], s) for s in starts)


def test_compact_observation_is_finite_and_within_its_bounds(port: Port):
    env = port.symbolic
    vec = VecEnv(env, 8)
    sets = VariationSet.range(20)
    _, (obs, *_rest) = jax.jit(lambda: _random_rollout(vec, sets, None, 2 * TIMEOUT))()
    obs = np.asarray(obs)
    space = env.observation_space
    chex.assert_shape(obs, (2 * TIMEOUT, 8, *space.shape))
    assert np.isfinite(obs).all()
    assert (obs >= np.asarray(space.low)).all() and (obs <= np.asarray(space.high)).all()


# ------------------------------------------------------------------------------------------------
# Batching and compilation
# ------------------------------------------------------------------------------------------------
def test_jit_and_vmap_over_a_population_of_env_batches(port: Port):
    env = port.symbolic
    seeds = jnp.arange(6, dtype=jnp.int32).reshape(2, 3)
    keys = jax.random.split(jax.random.key(0), 6).reshape(2, 3)
    obs, state = jax.jit(jax.vmap(jax.vmap(env.reset)))(keys, seeds)
    chex.assert_shape(obs, (2, 3, *env.observation_space.shape))
    actions = jnp.full((2, 3), NOOP, jnp.int32)
    obs2, _, reward, done, _ = jax.jit(jax.vmap(jax.vmap(env.step)))(keys, state, actions)
    chex.assert_shape([reward, done], [(2, 3), (2, 3)])
    one = jax.tree.map(lambda x: x[1, 2], state)
    single = port.sym_step(keys[1, 2], one, jnp.int32(NOOP))[0]
    np.testing.assert_allclose(np.asarray(obs2[1, 2]), np.asarray(single), rtol=0, atol=1e-6)

    # A population of auto-resetting pixel VecEnvs, each with its own level set.
    venv = VecEnv(port.pixels, 3)
    sets = stack_variation_sets([[1, 2, 3], [7]])
    vstate = jax.jit(jax.vmap(venv.reset))(jax.random.split(jax.random.key(1), 2), sets)
    vstate, reward, done, info = jax.jit(jax.vmap(venv.step))(
        jax.random.split(jax.random.key(2), 2), vstate, actions, sets
    )
    chex.assert_shape(vstate.obs, (2, 3, 64, 64, 3))
    chex.assert_shape([reward, done, info["success"]], [(2, 3)] * 3)
    assert (np.asarray(vstate.env_state.variation[1]) == 7).all()


def test_step_compiles_once(port: Port):
    step = port.step  # shared with the other tests, which call it with the same shapes
    _, state = port.reset(jax.random.key(0), jnp.int32(1))
    for t in range(3):
        _, state, *_ = step(jax.random.key(t), state, jnp.int32(t))
    _, other = port.reset(jax.random.key(5), jnp.int32(99))
    step(jax.random.key(9), other, jnp.int32(7))
    assert step._cache_size() == 1

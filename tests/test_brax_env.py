"""The brax adapter: shapes, variations as physics, time limits, auto-reset, bad input.

Compilation dominates the runtime, so every test shares one environment and two jitted batched
functions (``vmap`` of reset and step), plus one jitted ``VecEnv``; the single-env contract is
checked with ``jax.eval_shape``, which traces without compiling.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.brax import BraxEnv, BraxState
from gsl_jax.envs.core import Box, VariationSet, VecEnv, VecEnvState

EPISODE_LENGTH = 10  # 0.4 s of simulated time: the pole cannot fall that fast without pushes

# Rows of the shared rollout: (variation, action kind). With the default 3 x 3 grid, variation
# 1 = (mass 0.5, friction 1.0), 7 = (mass 1.5, friction 1.0), 4 = (1.0, 1.0), 3 = (1.0, 0.5).
ROWS = [
    (1, "wave"),  # 0
    (1, "wave"),  # 1: same variation, key and actions as row 0
    (7, "wave"),  # 2: same as row 0 but three times the mass
    (4, "big"),  # 3: actions far outside [-1, 1] ...
    (4, "clipped"),  # 4: ... and the same actions clipped by hand
    (4, "push"),  # 5: full force one way: the pole falls before the time limit
    (3, "zero"),  # 6
    (8, "zero"),  # 7
]


def _actions(kind: str) -> np.ndarray:
    """A ``[EPISODE_LENGTH, 1]`` action sequence."""
    t = np.arange(EPISODE_LENGTH, dtype=np.float32)[:, None]
    wave = 0.05 * np.sin(0.9 * t)  # small pushes: moves the cart without toppling the pole
    return {
        "wave": wave,
        "big": 40.0 * wave,
        "clipped": np.clip(40.0 * wave, -1.0, 1.0),
        "push": np.ones_like(t),
        "zero": np.zeros_like(t),
    }[kind]


@pytest.fixture(scope="module")
def env() -> BraxEnv:
    return BraxEnv("inverted_pendulum", episode_length=EPISODE_LENGTH)


@pytest.fixture(scope="module")
def rollout(env):
    """One batched episode of the rows in :data:`ROWS`, all from the same reset key.

    Returns numpy arrays: ``obs [T + 1, B, 4]`` (reset observation first), ``reward``, ``done``,
    ``success``, ``truncated``, ``variation`` ``[T, B]``, and ``state`` after the last step.
    """
    reset = jax.jit(jax.vmap(env.reset))
    step = jax.jit(jax.vmap(env.step))
    batch = len(ROWS)
    keys = jnp.stack([jax.random.key(7)] * batch)  # the same start for every row
    variations = jnp.array([v for v, _ in ROWS], jnp.int32)
    actions = np.stack([_actions(kind) for _, kind in ROWS], axis=1)  # [T, B, 1]

    obs, state = reset(keys, variations)
    out = {"obs": [obs], "reward": [], "done": [], "success": [], "truncated": [], "variation": []}
    for t in range(EPISODE_LENGTH):
        obs, state, reward, done, info = step(keys, state, jnp.asarray(actions[t]))
        for name, value in [("obs", obs), ("reward", reward), ("done", done), *info.items()]:
            out[name].append(value)
    result = {name: np.stack([np.asarray(v) for v in values]) for name, values in out.items()}
    result["state"] = state
    return result


# --------------------------------------------------------------------------------------------
# Interface
# --------------------------------------------------------------------------------------------
def test_spaces_and_variation_grid(env):
    assert env.num_variations == 9
    assert env.observation_space == Box((4,))
    assert env.action_space == Box((1,), -1.0, 1.0)
    # Row-major, friction fastest: variation 1 = (mass 0.5, friction 1.0).
    assert env.variation_params(1) == pytest.approx({"mass_scale": 0.5, "friction_scale": 1.0})
    assert env.variation_params(7) == pytest.approx({"mass_scale": 1.5, "friction_scale": 1.0})


def test_single_env_shapes_and_dtypes(env):
    key = jax.random.key(0)
    obs, state = jax.eval_shape(env.reset, key, jnp.int32(3))
    assert (obs.shape, obs.dtype) == ((4,), jnp.float32)
    assert (state.variation.shape, state.variation.dtype) == ((), jnp.int32)
    assert isinstance(state, BraxState)
    action = jax.ShapeDtypeStruct((1,), jnp.float32)
    obs, state2, reward, done, info = jax.eval_shape(env.step, key, state, action)
    assert (obs.shape, obs.dtype) == ((4,), jnp.float32)
    assert (reward.shape, reward.dtype) == ((), jnp.float32)
    assert (done.shape, done.dtype) == ((), jnp.bool_)
    assert {k: (v.shape, v.dtype) for k, v in info.items()} == {
        "success": ((), jnp.bool_),
        "truncated": ((), jnp.bool_),
        "variation": ((), jnp.int32),
    }
    # The state keeps its structure and dtypes across a step, so it can be a scan carry.
    same = jax.tree.map(lambda a, b: (a.shape, a.dtype) == (b.shape, b.dtype), state, state2)
    assert all(jax.tree.leaves(same))


def test_batched_rollout_shapes_and_variations(rollout):
    batch = len(ROWS)
    assert rollout["obs"].shape == (EPISODE_LENGTH + 1, batch, 4)
    assert rollout["reward"].shape == (EPISODE_LENGTH, batch)
    assert rollout["reward"].dtype == np.float32 and rollout["done"].dtype == np.bool_
    # Every env reports the variation it was reset with, on every step.
    expected = np.array([v for v, _ in ROWS], np.int32)
    np.testing.assert_array_equal(rollout["variation"], np.tile(expected, (EPISODE_LENGTH, 1)))
    np.testing.assert_array_equal(np.asarray(rollout["state"].variation), expected)
    assert np.isfinite(rollout["obs"]).all()


# --------------------------------------------------------------------------------------------
# Variations change the physics
# --------------------------------------------------------------------------------------------
def test_same_variation_same_trajectory(rollout):
    np.testing.assert_array_equal(rollout["obs"][:, 0], rollout["obs"][:, 1])


def test_mass_scale_changes_the_trajectory(rollout):
    obs = rollout["obs"]
    np.testing.assert_array_equal(obs[0, 0], obs[0, 2])  # the same start ...
    cart_pos_gap = np.abs(obs[1:, 0, 0] - obs[1:, 2, 0]).max()
    # ... but the same force moves a 3x heavier cart visibly less.
    assert cart_pos_gap > 1e-3
    assert np.abs(obs[-1, 2, 0]) < np.abs(obs[-1, 0, 0])


def test_actions_are_clipped(env, rollout, monkeypatch):
    # End to end: out-of-range actions play exactly like their clipped versions. (The pendulum's
    # actuator also clips its control, so check the adapter's own clip with a spy as well.)
    np.testing.assert_array_equal(rollout["obs"][:, 3], rollout["obs"][:, 4])
    seen = []

    def spy(state, action):
        seen.append(np.asarray(action))
        return state

    monkeypatch.setattr(env.brax_env.unwrapped, "step", spy)
    state = jax.tree.map(lambda x: x[0], rollout["state"])
    for action, expected in [(5.0, 1.0), (-3.0, -1.0), (0.25, 0.25)]:
        env.step(jax.random.key(0), state, jnp.array([action], jnp.float32))
        np.testing.assert_array_equal(seen[-1], [expected])


def test_per_variation_system_is_scaled(env):
    base = env.brax_env.sys
    mj = base.mj_model  # MuJoCo's own model: computed independently of our scaling
    for variation in range(env.num_variations):
        sys = env.system(jnp.int32(variation))
        scales = env.variation_params(variation)
        m, f = scales["mass_scale"], scales["friction_scale"]
        total = mj.body_mass.sum()
        np.testing.assert_allclose(np.asarray(sys.body_mass).sum(), m * total, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(sys.link.inertia.mass).sum(), m * total, rtol=1e-5)
        np.testing.assert_allclose(sys.body_inertia, m * mj.body_inertia, rtol=1e-5)
        np.testing.assert_allclose(sys.geom_friction, f * mj.geom_friction, rtol=1e-5)
    # The env's own system is untouched by building, tracing and running variations.
    assert env.brax_env.unwrapped.sys is base
    np.testing.assert_allclose(base.body_mass, mj.body_mass, rtol=1e-6)


def test_system_is_restored_when_the_brax_env_raises(env):
    base = env.brax_env.unwrapped.sys
    with pytest.raises(TypeError, match="PRNG key"):
        env.reset(jnp.zeros(3), jnp.int32(0))  # brax's reset fails while the swap is active
    assert env.brax_env.unwrapped.sys is base


# --------------------------------------------------------------------------------------------
# Time limit and success
# --------------------------------------------------------------------------------------------
def test_truncation_at_episode_length(rollout):
    done, truncated, success = rollout["done"], rollout["truncated"], rollout["success"]
    survivors = [i for i, (_, kind) in enumerate(ROWS) if kind in ("wave", "zero")]
    for i in survivors:
        assert not done[:-1, i].any(), f"row {i} ended before the time limit"
        assert done[-1, i] and truncated[-1, i] and success[-1, i]
        assert not truncated[:-1, i].any() and not success[:-1, i].any()
    np.testing.assert_array_equal(np.asarray(rollout["state"].steps), EPISODE_LENGTH)
    np.testing.assert_array_equal(rollout["reward"][:, survivors], 1.0)


def test_termination_is_neither_truncation_nor_success(rollout):
    push = [i for i, (_, kind) in enumerate(ROWS) if kind == "push"][0]
    ends = np.flatnonzero(rollout["done"][:, push])
    assert ends.size and ends[0] < EPISODE_LENGTH - 1  # the pole fell early
    t = ends[0]
    assert not rollout["truncated"][t, push] and not rollout["success"][t, push]
    assert np.abs(rollout["obs"][t + 1, push, 1]) > 0.2  # brax's fall threshold on the angle


# --------------------------------------------------------------------------------------------
# VecEnv integration
# --------------------------------------------------------------------------------------------
def test_vec_env_auto_resets_on_truncation(env):
    vec = VecEnv(env, num_envs=4)
    variations = VariationSet.from_ids([2, 6], env=env)
    reset = jax.jit(vec.reset)
    step = jax.jit(vec.step)
    state = reset(jax.random.key(3), variations)
    assert isinstance(state, VecEnvState) and state.obs.shape == (4, 4)
    actions = jnp.zeros((4, 1))
    keys = jax.random.split(jax.random.key(4), EPISODE_LENGTH + 2)
    dones = []
    for t in range(EPISODE_LENGTH + 2):
        state, reward, done, info = step(keys[t], state, actions, variations)
        assert set(np.asarray(info["variation"]).tolist()) <= {2, 6}
        dones.append(np.asarray(done))
    dones = np.stack(dones)
    # Unpushed, every env survives to the time limit, then restarts on a variation of the set.
    assert dones[EPISODE_LENGTH - 1].all() and not dones[: EPISODE_LENGTH - 1].any()
    stats = state.stats
    np.testing.assert_array_equal(np.asarray(stats.finished), 1)
    np.testing.assert_array_equal(np.asarray(stats.last_length), EPISODE_LENGTH)
    np.testing.assert_allclose(np.asarray(stats.last_return), float(EPISODE_LENGTH))
    assert np.asarray(stats.last_success).all()
    np.testing.assert_array_equal(np.asarray(state.env_state.steps), 2)
    assert set(np.asarray(state.env_state.variation).tolist()) <= {2, 6}


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mass_scales": []}, "mass_scales: needs at least one value"),
        ({"friction_scales": ()}, "friction_scales: needs at least one value"),
        ({"mass_scales": [1.0, 0.0]}, "mass_scales: .*positive"),
        ({"friction_scales": [-0.5]}, "friction_scales: .*positive"),
        ({"mass_scales": [float("nan")]}, "mass_scales: .*positive"),
        ({"episode_length": 0}, "episode_length: must be positive"),
        ({"backend": "bullet"}, "backend: must be one of"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BraxEnv("inverted_pendulum", **kwargs)


def test_unknown_env_names_the_field():
    with pytest.raises(ValueError, match="env: unknown brax environment 'pendulum'"):
        BraxEnv("pendulum")


def test_custom_grid():
    env = BraxEnv("inverted_pendulum", mass_scales=[2.0], friction_scales=(1.0, 3.0))
    assert env.num_variations == 2
    assert env.variation_params(1) == {"mass_scale": 2.0, "friction_scale": 3.0}
    assert env.episode_length == 1000

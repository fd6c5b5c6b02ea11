"""The fused PPO update and the population axis: config checks, no retracing, vmap == separate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.core import VariationSet, VecEnv, stack_variation_sets
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.population import clone_learner, init_population, make_chunk, vmap_population
from gsl_jax.ppo import PPOConfig, init_learner, make_update
from gsl_jax.shuffle import shuffle_indices

SMALL = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=2, gamma=0.99)


@pytest.fixture(scope="module")
def setup():
    env = GymnaxEnv("CartPole-v1", family="pole")
    net = make_network(NetworkConfig(hidden=(16, 16)), env.action_space, (4,))
    return env, VecEnv(env, SMALL.num_envs), net


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(num_minibatches=3), "ppo.num_minibatches: the batch num_envs \\* num_steps = 64"),
        (dict(num_envs=0), "ppo.num_envs: must be a positive integer"),
        (dict(num_steps=-4), "ppo.num_steps: must be a positive integer"),
        (dict(update_epochs=0), "ppo.update_epochs"),
        (dict(gamma=1.5), "ppo.gamma: must lie in"),
        (dict(learning_rate=0.0), "ppo.learning_rate: must be positive"),
        (dict(loop="fast"), "ppo.loop"),
    ],
)
def test_invalid_configs_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        SMALL.replace(**changes)


def test_vec_env_size_must_match(setup):
    env, _, net = setup
    with pytest.raises(ValueError, match="ppo.num_envs"):
        make_update(VecEnv(env, 8), net, SMALL)


class CountingEnv:
    """Counts how often ``step`` is traced."""

    def __init__(self, env):
        self.env, self.traces = env, 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def reset(self, key, variation):
        return self.env.reset(key, variation)

    def step(self, key, state, action):
        self.traces += 1
        return self.env.step(key, state, action)


@pytest.mark.parametrize("loop", ["scan", "unroll"])
def test_chunks_do_not_retrace_and_metrics_have_shapes(setup, loop):
    env, _, net = setup
    counting = CountingEnv(env)
    config = SMALL.replace(loop=loop)
    vec = VecEnv(counting, config.num_envs)
    sets = stack_variation_sets([[0, 1], [2, 3, 4]], env)
    state = init_population(jax.random.key(0), vec, net, config, sets)
    chunk = make_chunk(vec, net, config, num_updates=3)
    state, metrics = chunk(state)
    traced = counting.traces
    for _ in range(2):
        state, metrics = chunk(state)
    assert counting.traces == traced  # later chunks reuse the compiled program
    assert metrics["policy_loss"].shape == (3, 2)
    assert metrics["episodes"].shape == (3, 2)
    assert state.updates.tolist() == [9, 9]
    assert state.env.obs.shape == (2, 4, 4)


def test_population_member_equals_single_learner(setup):
    """Member p of a vmapped population computes exactly what a lone learner with key p does."""
    env, vec, net = setup
    config = SMALL.replace(loop="scan")
    id_lists = [[0, 1, 2], [7], [9, 12, 13, 15]]
    sets = stack_variation_sets(id_lists, env)
    pop = init_population(jax.random.key(3), vec, net, config, sets)
    chunk = make_chunk(vec, net, config, num_updates=2)
    pop, _ = chunk(pop)

    update = jax.jit(make_update(vec, net, config))
    keys = jax.random.split(jax.random.key(3), 3)
    for p in range(3):
        padded = jax.tree.map(lambda x, p=p: x[p], sets)
        single = init_learner(keys[p], vec, net, config, padded)
        for _ in range(2):
            single, _ = update(single)
        for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(pop.params), strict=True):
            np.testing.assert_allclose(a, b[p], rtol=2e-5, atol=2e-6)


def test_vmap_population_runs_a_population_of_one_unbatched():
    """Same values as ``jax.vmap`` for P = 1 and P = 3; for P = 1 the function sees unbatched
    arguments (trace-time shapes), shared arguments pass through untouched."""
    seen = []

    def fn(x, tree, shared):
        seen.append(x.shape)
        return {"sum": x @ shared + tree["b"], "n": tree["n"] * 2}

    wrapped = jax.jit(vmap_population(fn, in_axes=(0, 0, None)))
    shared = jnp.arange(6.0).reshape(3, 2)
    for p in (1, 3):
        x = jnp.arange(p * 3.0).reshape(p, 3) + 1
        tree = {"b": jnp.ones((p, 2)), "n": jnp.arange(p)}
        out = wrapped(x, tree, shared)
        ref = jax.vmap(fn, in_axes=(0, 0, None))(x, tree, shared)
        for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(ref), strict=True):
            assert a.shape == b.shape and a.shape[0] == p
            np.testing.assert_array_equal(a, b)
    assert seen[0] == (3,)  # P = 1: traced unbatched
    with pytest.raises(ValueError, match="in_axes"):
        vmap_population(fn, in_axes=(1, 0, None))


def test_population_of_one_equals_vmapped_update(setup):
    """``make_chunk`` runs a population of one unbatched; that is the vmapped update's math."""
    env, vec, net = setup
    config = SMALL.replace(loop="scan")
    sets = stack_variation_sets([[0, 3, 5]], env)
    start = init_population(jax.random.key(4), vec, net, config, sets)
    squeezed, metrics = make_chunk(vec, net, config, num_updates=2)(jax.tree.map(jnp.copy, start))

    vmapped = jax.jit(jax.vmap(make_update(vec, net, config), in_axes=(0, None)))
    state = start
    for _ in range(2):
        state, last = vmapped(state, None)
    assert metrics["policy_loss"].shape == (2, 1)
    assert squeezed.updates.tolist() == [2]
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(squeezed.params), strict=True):
        assert a.shape == b.shape and a.shape[0] == 1
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    # The clipped surrogate is a mean of terms that nearly cancel (about 5e-4 here), so its
    # rounding differences are absolute, not relative: under XLA's concurrency-optimised
    # scheduler the two programs differ by 7e-8 (1.3e-4 relative).
    np.testing.assert_allclose(
        last["policy_loss"], metrics["policy_loss"][-1], rtol=1e-4, atol=1e-6
    )
    np.testing.assert_array_equal(state.env.stats.finished, squeezed.env.stats.finished)


def test_clone_learner_copies_params_and_sets_variations(setup):
    env, vec, net = setup
    source = init_learner(jax.random.key(0), vec, net, SMALL, VariationSet.from_ids(range(16)))
    source, _ = jax.jit(make_update(vec, net, SMALL))(source)  # optimiser count is now > 0
    sets = stack_variation_sets([[1], [2, 3]], env)
    clones = clone_learner(jax.random.key(1), source, vec, sets)
    for a, b in zip(jax.tree.leaves(source.params), jax.tree.leaves(clones.params), strict=True):
        np.testing.assert_array_equal(b, jnp.stack([a, a]))
    assert clones.variations.count.tolist() == [1, 2]
    assert set(np.asarray(clones.env.env_state.variation[0]).tolist()) == {1}
    adam_steps = SMALL.update_epochs * SMALL.num_minibatches
    assert jax.tree.leaves(clones.opt_state)[0].tolist() == [adam_steps, adam_steps]
    fresh = clone_learner(jax.random.key(1), source, vec, sets, copy_optimizer=False, config=SMALL)
    assert jax.tree.leaves(fresh.opt_state)[0].tolist() == [0, 0]


def test_train_ppo_needs_a_training_set_on_procgen_sized_envs():
    from gsl_jax.envs.procgen import Maze
    from gsl_jax.training import train_ppo

    with pytest.raises(ValueError, match="variation_sets: maze-easy has 2,147,483,647"):
        train_ppo(Maze(), total_steps=10)


@pytest.mark.parametrize("n", [1, 2, 3, 100, 512, 1000])
def test_shuffle_indices_is_a_permutation(n):
    keys = jax.random.split(jax.random.key(3), 4)
    perms = np.asarray(jax.vmap(lambda k: shuffle_indices(k, n))(keys))
    assert perms.dtype == np.int32 and perms.shape == (4, n)
    for perm in perms:
        np.testing.assert_array_equal(np.sort(perm), np.arange(n))
    if n >= 100:  # different keys give different orders
        assert len({tuple(p) for p in perms}) == 4


def test_shuffle_indices_is_uniform():
    # All 6 orders of 3 items, 6000 draws: each count is Binomial(6000, 1/6), mean 1000 and
    # sd 28.9; the chi-square statistic has 5 degrees of freedom (p < 1e-4 above 25.7).
    perms = np.asarray(
        jax.vmap(lambda k: shuffle_indices(k, 3))(jax.random.split(jax.random.key(0), 6000))
    )
    _, counts = np.unique(perms, axis=0, return_counts=True)
    assert len(counts) == 6
    assert ((counts - 1000.0) ** 2 / 1000.0).sum() < 25.7
    # Position of each item in a 512-shuffle: uniform over 8 bins of 64 positions (2000 draws,
    # expected 250 per bin per item; chi-square with 7 degrees of freedom, p < 1e-4 above 29.9).
    perms = np.asarray(
        jax.vmap(lambda k: shuffle_indices(k, 512))(jax.random.split(jax.random.key(1), 2000))
    )
    for item in (0, 255, 511):
        where = np.argmax(perms == item, axis=1) // 64
        counts = np.bincount(where, minlength=8)
        assert ((counts - 250.0) ** 2 / 250.0).sum() < 29.9

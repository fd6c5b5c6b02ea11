"""DAPG inside the fused update: the gradient reaches only the policy, and demos move it."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.demos import DemoBuffer
from gsl_jax.distributions import Categorical
from gsl_jax.envs.core import Box, VariationSet, VecEnv
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.losses import dapg_loss
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.ppo import (
    DAPGConfig,
    PPOConfig,
    Transition,
    init_learner,
    make_learn,
    make_minibatch_loss,
    make_update,
)

SMALL = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99)


def test_dapg_gradient_reaches_only_the_policy():
    env = GymnaxEnv("CartPole-v1", family="pole")
    net = make_network(NetworkConfig(hidden=(8, 8)), env.action_space, (4,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 4)))
    obs = jax.random.normal(jax.random.key(1), (6, 4))
    action = jnp.array([0, 1, 1, 0, 1, 1])

    def loss(p):
        dist, _ = net.apply(p, obs)
        return dapg_loss(Categorical.log_prob(dist, action), jnp.array(2.0), 0.5)

    grads = jax.grad(loss)(params)["params"]
    # MLP_0 + PolicyHead_0 form the actor, MLP_1 + Dense_0 the critic.
    critic = jax.tree.leaves((grads["MLP_1"], grads["Dense_0"]))
    actor = jax.tree.leaves((grads["MLP_0"], grads["PolicyHead_0"]))
    assert all(float(jnp.abs(g).max()) == 0.0 for g in critic)
    assert any(float(jnp.abs(g).max()) > 0.0 for g in actor)


@pytest.mark.parametrize("loop", ["scan", "unroll"])
def test_demos_raise_the_likelihood_of_demonstrated_actions(loop):
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = SMALL.replace(loop=loop, ent_coef=0.0, learning_rate=1e-2)
    net = make_network(NetworkConfig(hidden=(16, 16)), env.action_space, (4,))
    vec = VecEnv(env, config.num_envs)
    start = init_learner(jax.random.key(0), vec, net, config, VariationSet.from_ids(range(16)))
    demo_obs = np.asarray(jax.random.normal(jax.random.key(2), (64, 4)) * 0.05, np.float32)
    demos = DemoBuffer.from_arrays(demo_obs, np.ones(64, np.int32), episodes=1)

    def prob_right(state):
        dist, _ = net.apply(state.params, demo_obs)
        return float(jnp.exp(Categorical.log_prob(dist, jnp.ones(64, jnp.int32))).mean())

    plain = jax.jit(make_update(vec, net, config))
    with_demos = jax.jit(make_update(vec, net, config, DAPGConfig(demo_coeff=50.0, demo_freq=1)))
    a, b = start, start
    for _ in range(5):
        a, _ = plain(a)
        b, metrics = with_demos(b, demos)
    assert float(metrics["dapg_loss"]) < 0.0
    assert prob_right(b) > prob_right(a) + 0.1  # the demonstrated action became more likely

    # An empty buffer adds nothing: identical to plain PPO.
    empty = DemoBuffer.from_arrays(demo_obs[:0], np.ones(0, np.int32), episodes=0, capacity=4)
    c, _ = with_demos(start, empty)
    d, _ = plain(start)
    for x, y in zip(jax.tree.leaves(c.params), jax.tree.leaves(d.params), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_dapg_config_errors():
    with pytest.raises(ValueError, match="dapg.demo_freq"):
        DAPGConfig(demo_freq=0)
    with pytest.raises(ValueError, match="dapg.decay"):
        DAPGConfig(decay=1.5)


def _overflowing_gaussian():
    """A Gaussian policy whose density at its mean is beyond float32: 8 action dimensions with
    log-std -15 give log pi = 8 * (15 - log(2 pi) / 2) = 112.6 > log(float32 max) = 88.7.
    On zero observations the MLP's mean is exactly 0 (zero biases, tanh(0) = 0)."""
    net = make_network(NetworkConfig(hidden=(8,), log_std_init=-15.0), Box((8,), -1.0, 1.0), (3,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 3)))
    demos = DemoBuffer.from_arrays(np.zeros((4, 3), np.float32), np.zeros((4, 8), np.float32), 1)
    return net, params, demos


def test_skipped_minibatches_stay_finite_when_the_demo_density_overflows():
    net, params, demos = _overflowing_gaussian()
    config = SMALL.replace(num_minibatches=4)
    loss_fn = make_minibatch_loss(net, config, DAPGConfig(demo_freq=2, demo_batch_size=4))
    plain_fn = make_minibatch_loss(net, config)
    n = 8
    mb = {
        "obs": jax.random.normal(jax.random.key(1), (n, 3)),
        "action": jax.random.uniform(jax.random.key(2), (n, 8), minval=-1.0, maxval=1.0),
        "log_prob": jnp.full((n,), -1.0),
        "value": jnp.zeros(n),
        "advantages": jnp.linspace(-1.0, 1.0, n),
        "returns": jnp.ones(n),
    }
    demo_args = (demos, jnp.float32(1.0), jnp.float32(1.0))
    key = jax.random.key(3)
    grad = jax.jit(jax.grad(loss_fn, has_aux=True), static_argnums=3)
    traced_grad = jax.jit(jax.grad(loss_fn, has_aux=True))  # index traced: the lax.cond path

    # The term really overflows where it applies (index 0, 2, ...): the setup is not vacuous.
    loss, metrics = jax.jit(loss_fn)(params, mb, demo_args, jnp.int32(0), key)
    assert not np.isfinite(float(metrics["dapg_loss"])) and not np.isfinite(float(loss))
    assert float(metrics["dapg_applied"]) == 1.0

    # Where it does not apply (index 1, 3, ...), loss and gradient are plain PPO's, finite.
    plain_loss, _ = plain_fn(params, mb, None, 1, key)
    plain_grads, _ = jax.grad(plain_fn, has_aux=True)(params, mb, None, 1, key)
    for index in (1, jnp.int32(3)):
        fn = grad if isinstance(index, int) else traced_grad
        grads, metrics = fn(params, mb, demo_args, index, key)
        loss, _ = loss_fn(params, mb, demo_args, index, key)
        assert float(metrics["dapg_loss"]) == 0.0 and float(metrics["dapg_applied"]) == 0.0
        assert float(loss) == pytest.approx(float(plain_loss), rel=1e-6)
        chex.assert_tree_all_finite(grads)
        chex.assert_trees_all_close(grads, plain_grads, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loop", ["scan", "unroll"])
def test_logged_dapg_loss_is_the_applied_term(loop):
    """Indices 0 and 2 of 4 minibatches carry the term; the log reports their mean, not a
    quarter-weighted average. Hand value: zero demo observations give zero logits (zero biases,
    tanh(0) = 0), so pi(a|s) = 1/2 for CartPole's 2 actions; with dones everywhere and zero
    values the advantages are the rewards, max 3; the weight is demo_coeff * decay ** updates =
    2 * 0.5 ** 3. A learning rate of 1e-12 keeps the policy at its start between minibatches."""
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = SMALL.replace(
        loop=loop, num_envs=4, num_steps=8, num_minibatches=2, learning_rate=1e-12
    )
    net = make_network(NetworkConfig(hidden=(8, 8)), env.action_space, (4,))
    vec = VecEnv(env, config.num_envs)
    state = init_learner(jax.random.key(0), vec, net, config, VariationSet.from_ids(range(4)))
    state = state.replace(updates=jnp.int32(3))
    T, B = config.num_steps, config.num_envs
    rewards = jnp.zeros((T, B)).at[5, 2].set(3.0).at[1, 0].set(-2.0)
    traj = Transition(
        obs=jax.random.normal(jax.random.key(1), (T, B, 4)),
        action=jnp.zeros((T, B), jnp.int32),
        log_prob=jnp.full((T, B), -0.7),
        value=jnp.zeros((T, B)),
        reward=rewards,
        done=jnp.ones((T, B), bool),
        episode_return=jnp.zeros((T, B)),
        episode_length=jnp.zeros((T, B), jnp.int32),
        success=jnp.zeros((T, B), bool),
    )
    demos = DemoBuffer.from_arrays(np.zeros((5, 4), np.float32), np.ones(5, np.int32), 1)
    dapg = DAPGConfig(demo_coeff=2.0, demo_freq=2, decay=0.5)
    learn = jax.jit(make_learn(net, config, dapg))
    _, metrics = learn(state, traj, jnp.zeros(B), jax.random.key(2), demos)
    expected = -(2.0 * 0.5**3) * 3.0 * 0.5
    assert float(metrics["dapg_loss"]) == pytest.approx(expected, rel=1e-5)
    assert "dapg_applied" not in metrics

"""DAPG inside the fused update: the gradient reaches only the policy, and demos move it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.demos import DemoBuffer
from gsl_jax.distributions import Categorical
from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.losses import dapg_loss
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.ppo import DAPGConfig, PPOConfig, init_learner, make_update

SMALL = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99)


def test_dapg_gradient_reaches_only_the_policy():
    env = GymnaxEnv("CartPole-v1")
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
    env = GymnaxEnv("CartPole-v1")
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

"""Networks: shapes, parameter counts computed by hand, input scaling, head/space checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.distributions import CategoricalParams, GaussianParams
from gsl_jax.envs.core import Box, Discrete
from gsl_jax.networks import NetworkConfig, make_network


def count(params) -> int:
    return sum(x.size for x in jax.tree.leaves(params))


def conv(cin: int, cout: int) -> int:
    return 9 * cin * cout + cout


@pytest.fixture(scope="module")
def impala():
    net = make_network(NetworkConfig("impala"), Discrete(15), (64, 64, 3))
    obs = jax.random.randint(jax.random.key(0), (4, 64, 64, 3), 0, 256).astype(jnp.uint8)
    params = net.init(jax.random.key(1), obs)
    return net, params, obs


def test_impala_shapes_and_parameter_count(impala):
    net, params, obs = impala
    dist, value = jax.jit(net.apply)(params, obs)
    assert isinstance(dist, CategoricalParams)
    assert dist.logits.shape == (4, 15) and value.shape == (4,)
    stacks = (
        conv(3, 16) + 4 * conv(16, 16) + conv(16, 32) + 4 * conv(32, 32) + conv(32, 32)
    ) + 4 * conv(32, 32)
    # three max-pools with stride 2 take 64 -> 32 -> 16 -> 8: 8 * 8 * 32 features into dense 256
    dense = 8 * 8 * 32 * 256 + 256
    heads = (256 * 15 + 15) + (256 + 1)
    assert count(params) == stacks + dense + heads == 626_256


def test_impala_scales_uint8_pixels(impala):
    net, params, obs = impala
    d_u8, v_u8 = net.apply(params, obs)
    d_f, v_f = net.apply(params, obs.astype(jnp.float32) / 255.0)
    np.testing.assert_allclose(d_u8.logits, d_f.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v_u8, v_f, rtol=1e-5, atol=1e-6)
    # Policy output initialised with scale 0.01: near-uniform policy at initialisation.
    assert float(jnp.abs(d_u8.logits).max()) < 0.5


def test_small_cnn_is_much_smaller(impala):
    _, big, obs = impala
    net = make_network(NetworkConfig("small_cnn"), Discrete(15), (64, 64, 3))
    params = net.init(jax.random.key(0), obs)
    dist, value = net.apply(params, obs)
    assert dist.logits.shape == (4, 15) and value.shape == (4,)
    assert count(params) < count(big) / 3


def test_mlp_gaussian_head():
    net = make_network(NetworkConfig("mlp", hidden=(32, 32), log_std_init=-0.5), Box((2,)), (3,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 3)))
    dist, value = net.apply(params, jnp.ones((5, 3)))
    assert isinstance(dist, GaussianParams)
    assert dist.mean.shape == (5, 2) and value.shape == (5,)
    np.testing.assert_allclose(dist.log_std, -0.5)
    # actor (3*32+32 + 32*32+32 + 32*2+2 + 2 log-std) + critic (3*32+32 + 32*32+32 + 32+1)
    assert count(params) == (128 + 1056 + 66 + 2) + (128 + 1056 + 33)


def test_network_config_errors():
    with pytest.raises(ValueError, match="network.head: a categorical"):
        make_network(NetworkConfig(head="categorical"), Box((1,)), (3,))
    with pytest.raises(ValueError, match="network.head: a Gaussian"):
        make_network(NetworkConfig(head="gaussian"), Discrete(2), (3,))
    with pytest.raises(ValueError, match="network.kind: 'impala' needs image"):
        make_network(NetworkConfig("impala"), Discrete(2), (4,))
    with pytest.raises(ValueError, match="network.kind"):
        NetworkConfig(kind="resnet")  # type: ignore[arg-type]

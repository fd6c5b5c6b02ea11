"""GAE, the PPO losses and the action distributions against hand-computed values."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.distributions import Categorical, CategoricalParams, DiagGaussian, GaussianParams
from gsl_jax.losses import dapg_loss, gae, policy_loss, ppo_loss, value_loss
from gsl_jax.normalization import RewardNormState, normalize_reward


def test_gae_matches_hand_computation():
    # T = 3, B = 1; the episode ends after step 1, so step 1 does not bootstrap.
    rewards = jnp.array([[1.0], [0.0], [2.0]])
    values = jnp.array([[0.5], [0.4], [0.3]])
    dones = jnp.array([[False], [True], [False]])
    last_value = jnp.array([0.6])
    adv, ret = gae(rewards, values, dones, last_value, gamma=0.9, gae_lambda=0.8)
    # delta_2 = 2 + 0.9 * 0.6 - 0.3 = 2.24; delta_1 = 0 - 0.4; delta_0 = 1 + 0.9 * 0.4 - 0.5 = 0.86
    # A_2 = 2.24; A_1 = -0.4 (done cuts the trace); A_0 = 0.86 + 0.72 * (-0.4) = 0.572
    np.testing.assert_allclose(adv[:, 0], [0.572, -0.4, 2.24], rtol=1e-6)
    np.testing.assert_allclose(ret[:, 0], [1.072, 0.0, 2.54], rtol=1e-6, atol=1e-7)


def test_gae_lambda_one_gives_discounted_returns():
    # With lambda = 1 and zero values, advantages are the discounted returns-to-go.
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(6, 2)).astype(np.float32)
    zeros = jnp.zeros((6, 2))
    adv, _ = gae(jnp.asarray(rewards), zeros, zeros.astype(bool), jnp.zeros(2), 0.95, 1.0)
    expected = np.zeros_like(rewards)
    running = np.zeros(2)
    for t in reversed(range(6)):
        running = rewards[t] + 0.95 * running
        expected[t] = running
    np.testing.assert_allclose(adv, expected, rtol=1e-5)


def test_policy_loss_hand_values():
    # ratio = [2, 1]; advantages [1, -1]; eps = 0.2
    # sample 0: max(-2 * 1, -1.2 * 1) = -1.2; sample 1: max(1, 1) = 1; mean = -0.1
    logp_new = jnp.log(jnp.array([0.5, 0.9]))
    logp_old = jnp.log(jnp.array([0.25, 0.9]))
    loss, clip_fraction = policy_loss(logp_new, logp_old, jnp.array([1.0, -1.0]), 0.2)
    assert float(loss) == pytest.approx(-0.1, abs=1e-6)
    assert float(clip_fraction) == pytest.approx(0.5)


def test_value_loss_hand_values():
    v, v_old, ret = jnp.array([1.0, 2.0]), jnp.array([0.5, 2.5]), jnp.array([1.5, 1.0])
    # unclipped errors 0.25, 1.0; clipped values 0.7, 2.3 -> errors 0.64, 1.69
    assert float(value_loss(v, v_old, ret, 0.2, clip_value=True)) == pytest.approx(
        0.5 * (0.64 + 1.69) / 2
    )
    assert float(value_loss(v, v_old, ret, 0.2, clip_value=False)) == pytest.approx(
        0.5 * (0.25 + 1.0) / 2
    )


def test_ppo_loss_combines_terms():
    logp = jnp.log(jnp.array([0.5, 0.9]))
    old = jnp.log(jnp.array([0.25, 0.9]))
    total, m = ppo_loss(
        logp,
        jnp.array([1.0, 3.0]),
        jnp.array([1.0, 2.0]),
        old,
        jnp.array([0.5, 2.5]),
        jnp.array([1.0, -1.0]),
        jnp.array([1.5, 1.0]),
        clip_eps=0.2,
        vf_coef=0.5,
        ent_coef=0.01,
    )
    expected = -0.1 + 0.5 * (0.5 * 2.33 / 2) - 0.01 * 2.0
    assert float(total) == pytest.approx(expected, abs=1e-6)
    assert float(m["entropy"]) == pytest.approx(2.0)


def test_categorical_distribution():
    dist = CategoricalParams(jnp.log(jnp.array([[0.2, 0.3, 0.5]])))
    assert float(Categorical.log_prob(dist, jnp.array([2]))[0]) == pytest.approx(math.log(0.5))
    h = -(0.2 * math.log(0.2) + 0.3 * math.log(0.3) + 0.5 * math.log(0.5))
    assert float(Categorical.entropy(dist)[0]) == pytest.approx(h, rel=1e-6)


def test_gaussian_distribution():
    dist = GaussianParams(jnp.zeros((1, 1)), jnp.full((1, 1), math.log(2.0)))
    # N(0, 2^2) at 1: -0.5 * (1/2)^2 - log 2 - 0.5 log(2 pi)
    expected = -0.125 - math.log(2.0) - 0.5 * math.log(2 * math.pi)
    assert float(DiagGaussian.log_prob(dist, jnp.ones((1, 1)))[0]) == pytest.approx(expected)
    entropy = math.log(2.0) + 0.5 * (1 + math.log(2 * math.pi))
    assert float(DiagGaussian.entropy(dist)[0]) == pytest.approx(entropy, rel=1e-6)


def test_reward_normalisation_uses_discounted_return_std():
    state = RewardNormState.create(2)
    rewards = [np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([3.0, 0.0])]
    dones = [np.array([False, False]), np.array([True, False]), np.array([False, False])]
    # Independent re-computation of the running variance over every per-env return seen.
    returns, seen = np.zeros(2), []
    for r, d in zip(rewards, dones, strict=True):
        returns = returns * 0.9 + r
        seen.extend(returns.tolist())
        scaled, state = normalize_reward(state, jnp.asarray(r), jnp.asarray(d), 0.9, 10.0)
        returns = np.where(d, 0.0, returns)
    var = np.var(seen)
    # The prior (mean 0, var 1, count 1e-4) weighs ~1e-4 against 6 samples.
    np.testing.assert_allclose(scaled, np.array([3.0, 0.0]) / np.sqrt(var), rtol=1e-3)


def test_dapg_loss_categorical_hand_values():
    from gsl_jax.losses import dapg_loss

    # Demo actions with probabilities 0.2 and 0.6: mean likelihood 0.4.
    logp = jnp.log(jnp.array([0.2, 0.6]))
    assert float(dapg_loss(logp, jnp.array(3.0), 0.5)) == pytest.approx(-0.5 * 3.0 * 0.4)
    # Log-likelihood variant; the weight lambda_0 * lambda_1 ** k = 0.5 * 0.95 ** 2.
    expected = -0.5 * 0.95**2 * 3.0 * (math.log(0.2) + math.log(0.6)) / 2
    got = dapg_loss(logp, jnp.array(3.0), 0.5 * 0.95**2, use_log_prob=True)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_dapg_loss_gaussian_density_and_gradient_stops_at_max_advantage():
    import jax

    from gsl_jax.losses import dapg_loss

    def loss(mean, max_adv):
        dist = GaussianParams(mean, jnp.zeros_like(mean))
        logp = DiagGaussian.log_prob(dist, jnp.zeros_like(mean))
        return dapg_loss(logp, max_adv, 0.5)

    mean = jnp.array([[0.0], [1.0]])
    density = np.exp(-0.5 * np.array([0.0, 1.0])) / math.sqrt(2 * math.pi)  # N(0 | mu, 1)
    assert float(loss(mean, 2.0)) == pytest.approx(-0.5 * 2.0 * density.mean(), rel=1e-6)
    g_mean, g_adv = jax.grad(loss, argnums=(0, 1))(mean, jnp.array(2.0))
    assert float(g_adv) == 0.0  # max advantage is a constant weight
    # d/dmu of -c * A * mean(N(0|mu,1)) = -c * A * N(0|mu,1) * (0 - mu) / N_demo
    expected = -0.5 * 2.0 * density * (0.0 - np.array([0.0, 1.0])) / 2
    np.testing.assert_allclose(np.asarray(g_mean)[:, 0], expected, rtol=1e-5, atol=1e-8)


def test_mismatched_shapes_fail_at_trace_time():
    """chex checks the batch shapes: a [T, B] reward against [T, B + 1] values, or a minibatch
    whose advantages have another length, is an error, not a silent broadcast."""
    with pytest.raises(AssertionError):
        gae(jnp.zeros((4, 3)), jnp.zeros((4, 4)), jnp.zeros((4, 3)), jnp.zeros(3), 0.99, 0.95)
    with pytest.raises(AssertionError):
        policy_loss(jnp.zeros(8), jnp.zeros(8), jnp.zeros((8, 1)), 0.2)
    with pytest.raises(AssertionError):
        dapg_loss(jnp.zeros((2, 4)), jnp.float32(1.0), 0.5)

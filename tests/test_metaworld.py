"""Meta-World MT-10 as a host env (gsl_jax.envs.metaworld), the released configuration's options
(Gaussian std bounds, the max-entropy reward bonus) and its presets.

The option and preset tests need no Meta-World. The env tests need the ``[metaworld]`` extra (in
``[dev]``): they skip without it, except under ``CI=true``, where a missing Meta-World fails.
"""

from __future__ import annotations

import math
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.core import Box, Discrete
from gsl_jax.envs.metaworld import (
    NUM_GOALS,
    MetaWorldVecEnv,
    evaluate_success,
    metaworld_unavailable_reason,
    task_ids,
)
from gsl_jax.experiments.metaworld import budget_split, released_gsl, released_ppo
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.ppo import LearnerState, PPOConfig, Transition, make_learn, make_optimizer

HALF_LOG_2PI_E = 0.5 * (1.0 + math.log(2.0 * math.pi))  # a unit Gaussian's entropy per dim


# ---------------------------------------------------------------------------------------------
# Options: std bounds and the entropy bonus (no Meta-World needed)
# ---------------------------------------------------------------------------------------------
def _log_std(config: NetworkConfig) -> tuple[np.ndarray, jax.Array]:
    """``(log_std the head outputs, d sum(log_std) / d param)`` of a 3-dim Gaussian head."""
    net = make_network(config, Box((3,), -1.0, 1.0), (5,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 5)))

    def total(p):
        return net.apply(p, jnp.zeros((1, 5)))[0].log_std.sum()

    grad = jax.grad(total)(params)["params"]["PolicyHead_0"]["log_std"]
    return np.asarray(net.apply(params, jnp.zeros((1, 5)))[0].log_std[0]), grad


@pytest.mark.parametrize(
    "init, bounds, expected, grad",
    [
        (math.log(3.0), (0.5, 1.5), math.log(1.5), 0.0),  # above max_std: clipped, no gradient
        (math.log(0.1), (0.5, 1.5), math.log(0.5), 0.0),  # below min_std
        (0.2, (0.5, 1.5), 0.2, 1.0),  # inside: untouched
        (math.log(0.1), (0.5, None), math.log(0.5), 0.0),  # one bound only
        (math.log(0.1), (None, None), math.log(0.1), 1.0),  # default: unbounded
    ],
)
def test_std_bounds_clip_log_std(init, bounds, expected, grad):
    config = NetworkConfig(hidden=(4,), log_std_init=init, min_std=bounds[0], max_std=bounds[1])
    log_std, g = _log_std(config)
    np.testing.assert_allclose(log_std, [expected] * 3, rtol=1e-6)
    np.testing.assert_allclose(g, [grad] * 3)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"min_std": 0.0}, "network.min_std"),
        ({"min_std": -1.0}, "network.min_std"),
        ({"max_std": float("nan")}, "network.max_std"),
        ({"max_std": float("inf")}, "network.max_std"),
        ({"min_std": 1.5, "max_std": 0.5}, "network.max_std"),
        ({"min_std": 1.0, "max_std": 1.0}, "network.max_std"),
    ],
)
def test_std_bounds_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        NetworkConfig(**kwargs)


def test_std_bounds_need_a_gaussian_head():
    with pytest.raises(ValueError, match="network.min_std"):
        make_network(NetworkConfig(min_std=0.5), Discrete(4), (5,))


@pytest.mark.parametrize("value", [-1e-3, float("nan"), float("inf"), "0.1"])
def test_entropy_reward_coef_bad_values(value):
    with pytest.raises(ValueError, match="ppo.entropy_reward_coef"):
        PPOConfig(entropy_reward_coef=value)


@pytest.mark.parametrize("coef", [0.0, 5e-3])
def test_entropy_bonus_enters_the_advantages(coef):
    """gamma = lambda = 0, zero rewards and values: the advantage is the bonus alone, coef times
    the Gaussian's entropy sum_d (log_std + (1 + log 2 pi) / 2) (hand value: 2 dims, log_std
    0.3)."""
    T, B, log_std = 2, 3, 0.3
    config = PPOConfig(
        num_envs=B,
        num_steps=T,
        num_minibatches=1,
        update_epochs=1,
        gamma=0.0,
        gae_lambda=0.0,
        normalize_rewards=False,
        entropy_reward_coef=coef,
    )
    net = make_network(NetworkConfig(hidden=(4,), log_std_init=log_std), Box((2,)), (5,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 5)))
    state = LearnerState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        env=None,
        variations=None,
        reward_norm=None,
        rng=jax.random.key(1),
        updates=jnp.zeros((), jnp.int32),
    )
    zeros = jnp.zeros((T, B))
    traj = Transition(
        obs=jax.random.normal(jax.random.key(2), (T, B, 5)),
        action=jnp.zeros((T, B, 2)),
        log_prob=zeros,
        value=zeros,
        reward=zeros,
        done=zeros.astype(bool),
        episode_return=zeros,
        episode_length=zeros.astype(jnp.int32),
        success=zeros.astype(bool),
    )
    _, metrics = jax.jit(make_learn(net, config))(state, traj, jnp.zeros(B), jax.random.key(3))
    expected = coef * 2 * (log_std + HALF_LOG_2PI_E)
    np.testing.assert_allclose(float(metrics["advantage_max"]), expected, rtol=1e-5, atol=1e-7)


def test_released_presets():
    """The release's settings (SeanJia/GSL fine_tune_mt10.py), as the issue lists them."""
    gsl = released_gsl(num_tasks=10)
    ppo, net, dapg = gsl.ppo, gsl.network, gsl.dapg
    assert (net.kind, net.hidden, net.head, net.min_std, net.max_std) == (
        "mlp",
        (512, 512),
        "gaussian",
        0.5,
        1.5,
    )
    assert (ppo.gamma, ppo.gae_lambda, ppo.clip_eps, ppo.learning_rate) == (0.99, 0.95, 0.2, 2.5e-4)
    assert (ppo.normalize_advantages, ppo.normalize_rewards, ppo.ent_coef) == (False, False, 0.0)
    assert (ppo.entropy_reward_coef, ppo.update_epochs, ppo.minibatch_size) == (5e-3, 10, 64)
    assert (dapg.demo_coeff, dapg.demo_freq, dapg.demo_batch_size) == (0.5, 4, 64)
    assert not dapg.use_log_prob
    assert (gsl.num_specialists, gsl.num_low, gsl.select_metric) == (10, 10, "success")
    assert released_ppo(num_tasks=50).minibatch_size == 64
    with pytest.raises(ValueError, match="num_steps"):
        released_ppo(num_tasks=10, num_steps=100)


def test_budget_split():
    # 1M steps, chunks of 1000: phase I 450k, 10 specialists 30k each, phase II the 250k left
    split = budget_split(1_000_000, 10, 0.45, 0.3, 1000)
    assert split == {"phase1_steps": 450_000, "specialist_steps": 30_000, "phase2_steps": 250_000}
    with pytest.raises(ValueError, match="specialist_fraction"):
        budget_split(1_000_000, 10, 0.7, 0.3, 1000)


# ---------------------------------------------------------------------------------------------
# Bad input: rejected before Meta-World is touched
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"benchmark": "MT11"}, "benchmark"),
        ({"variations": [10]}, "variations"),
        ({"variations": [-1]}, "variations"),
        ({"variations": [0, 0]}, "variations"),
        ({"variations": [0, 500], "goal_variations": True}, "variations"),
        ({"variations": [0.5]}, "variations"),
        ({"num_envs": 0}, "num_envs"),
        ({"num_envs": 2, "variations": [0, 1, 2], "pinned": True}, "num_envs"),
        ({"max_episode_steps": 501}, "max_episode_steps"),
        ({"reward_function_version": "v3"}, "reward_function_version"),
    ],
)
def test_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        MetaWorldVecEnv(**kwargs)


def test_unknown_task_name():
    assert task_ids(["reach-v3", "window-close-v3"]) == [0, 9]
    assert task_ids("push-v3") == [1]
    with pytest.raises(ValueError, match="fly-v3"):
        task_ids(["fly-v3"])


def test_missing_metaworld_names_the_extra(monkeypatch):
    from gsl_jax.envs import metaworld as mw

    monkeypatch.setitem(sys.modules, "metaworld", None)  # import metaworld -> ImportError
    mw._benchmark.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"gsl-jax\[metaworld\]"):
            MetaWorldVecEnv("MT10", variations=[0])
        assert "gsl-jax[metaworld]" in metaworld_unavailable_reason()
    finally:
        mw._benchmark.cache_clear()


# ---------------------------------------------------------------------------------------------
# The env itself (the [metaworld] extra)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def needs_metaworld():
    reason = metaworld_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Meta-World tests: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def mt10(needs_metaworld):
    """reach (task 0) and drawer-close (task 5), one env each, full 500-step episodes."""
    env = MetaWorldVecEnv("MT10", variations=[0, 5], seed=3)
    yield env
    env.close()


def test_shapes_one_hot_and_truncation(mt10):
    assert (mt10.num_envs, mt10.observation_space.shape, mt10.name) == (2, (49,), "metaworld-mt10")
    obs = mt10.reset()
    assert obs.shape == (2, 49) and obs.dtype == np.float32
    np.testing.assert_array_equal(obs[:, 39:], np.eye(10, dtype=np.float32)[[0, 5]])
    rng = np.random.default_rng(0)
    for t in range(1, 501):
        obs, reward, done, info = mt10.step(rng.uniform(-2, 2, (2, 4)))  # clipped to [-1, 1]
        assert obs.shape == (2, 49) and reward.shape == (2,) and reward.dtype == np.float32
        assert done.tolist() == [t == 500] * 2, t
    assert info["truncated"].all() and info["episode_length"].tolist() == [500, 500]
    np.testing.assert_array_equal(info["variation"], [0, 5])
    assert set(info) >= {"success", "step_success", "episode_return"}
    # the obs returned with done starts the next episode: one more step is its first
    _, _, done, info = mt10.step(np.zeros((2, 4)))
    assert info["episode_length"].tolist() == [1, 1] and not done.any()
    with pytest.raises(ValueError, match="action"):
        mt10.step(np.zeros((3, 4)))


def test_pinning_and_goals(needs_metaworld):
    # three envs on task 3 only
    env = MetaWorldVecEnv("MT10", num_envs=3, variations=[3], seed=0)
    obs = env.reset()
    assert (obs[:, 39:].argmax(1) == 3).all() and env._subsets[2].tolist() == [3]
    _, _, _, info = env.step(np.zeros((3, 4)))
    assert info["variation"].tolist() == [3, 3, 3]
    env.close()
    # goal variations: task * 50 + goal; the goal (obs[36:39]) is fixed by the variation and the
    # benchmark seed, whatever the env seed
    a = MetaWorldVecEnv("MT10", variations=[7, 8], goal_variations=True, seed=0, pinned=True)
    b = a.with_levels([7], num_envs=1, seed=123)
    goal_a, goal_b = a.reset()[:, 36:39], b.reset()[:, 36:39]
    np.testing.assert_array_equal(goal_a[0], goal_b[0])
    assert not np.array_equal(goal_a[0], goal_a[1])
    assert a.num_variations == 10 * NUM_GOALS and b.levels.tolist() == [7]
    a.close()
    b.close()


def test_success_latched_and_evaluation(needs_metaworld):
    """Meta-World's scripted reach policy solves reach: the per-step flag is raw, ``success`` is
    latched to the episode's end, and the evaluation protocol scores 1 on each goal asked."""
    from metaworld.policies import SawyerReachV3Policy

    scripted = SawyerReachV3Policy()
    env = MetaWorldVecEnv("MT10", variations=[0], seed=1, max_episode_steps=120)

    def act(obs):
        return np.stack([scripted.get_action(o[:39].astype(np.float64)) for o in obs])

    obs = env.reset()
    flags, latched = [], []
    for _ in range(120):
        obs, _, done, info = env.step(act(obs))
        flags.append(bool(info["step_success"][0]))
        latched.append(bool(info["success"][0]))
    assert done[0] and latched[-1] and any(flags)
    first = flags.index(True)
    assert not any(latched[:first]) and all(latched[first:])
    scores = evaluate_success(env, act, goals=[0, 1])
    np.testing.assert_array_equal(scores, [[1.0, 1.0]])
    zero = evaluate_success(env, lambda o: np.zeros((len(o), 4)), goals=[0])
    np.testing.assert_array_equal(zero, [[0.0]])
    with pytest.raises(ValueError, match="goals"):
        evaluate_success(env, act, goals=[50])
    env.close()


def test_tiny_ppo_run(needs_metaworld):
    """PPO with host rollouts on two MT-10 tasks with 8-step episodes: 64 env-steps per env,
    so 8 episodes each, all counted, finite losses."""
    from gsl_jax.host_rollout import train_ppo_host

    env = MetaWorldVecEnv("MT10", variations=[0, 5], seed=0, max_episode_steps=8)
    ppo = released_ppo(num_tasks=2, num_steps=32).replace(update_epochs=1)
    network = NetworkConfig(hidden=(16, 16), min_std=0.5, max_std=1.5)
    result = train_ppo_host(env, ppo, network, total_steps=128, updates_per_chunk=1, progress=False)
    assert len(result.history) == 2
    last = result.history[-1]
    assert last["episodes"] == 2 * 32 / 8
    assert np.isfinite(last["return_mean"]) and 0.0 <= last["success_mean"] <= 1.0
    assert np.isfinite(last["policy_loss"]) and np.isfinite(last["value_loss"])
    env.close()

"""PPG (gsl_jax.ppg): loss values by hand, the rollout buffer, the cloning target, the
population axis, bad input, and learning CartPole. One compiled CartPole chunk per population
size, shared by the module."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.distributions import CategoricalParams, GaussianParams
from gsl_jax.envs.core import VecEnv, stack_variation_sets
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig
from gsl_jax.networks import NetworkConfig, make_phasic_network
from gsl_jax.ppg import (
    PPGConfig,
    aux_loss,
    init_population,
    kl_divergence,
    make_aux_phase,
    make_chunk,
    policy_phase_loss,
)
from gsl_jax.ppg.learner import init_learner
from gsl_jax.presets import CLASSIC_CONTROL

PPO = CLASSIC_CONTROL.replace(learning_rate=1e-3)  # 4 envs x 128 steps, 4 minibatches
PPG = PPGConfig(n_pi=4, aux_minibatch_envs=4)  # 16 stored rows: 4 aux minibatches an epoch
UPDATES = 4  # per chunk: one phase, 4 iterations and the auxiliary phase


# --- losses against hand-computed values ---------------------------------------------------


def test_categorical_kl_by_hand():
    old = CategoricalParams(jnp.log(jnp.array([[0.5, 0.25, 0.25]])))
    new = CategoricalParams(jnp.log(jnp.array([[0.25, 0.5, 0.25]])))
    # 0.5 ln(0.5/0.25) + 0.25 ln(0.25/0.5) + 0 = 0.25 ln 2
    np.testing.assert_allclose(kl_divergence(old, new), [0.25 * math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(kl_divergence(old, old), [0.0], atol=1e-7)


def test_gaussian_kl_by_hand():
    old = GaussianParams(jnp.array([[0.0, 1.0]]), jnp.log(jnp.array([[1.0, 2.0]])))
    new = GaussianParams(jnp.array([[1.0, 1.0]]), jnp.log(jnp.array([[1.0, 1.0]])))
    # dim 0: 0 + (1 + 1) / 2 - 1/2 = 0.5; dim 1: ln(1/2) + 4/2 - 1/2 = 1.5 - ln 2
    np.testing.assert_allclose(kl_divergence(old, new), [2.0 - math.log(2)], rtol=1e-6)


def test_aux_loss_by_hand():
    old = CategoricalParams(jnp.log(jnp.array([[0.5, 0.5], [0.9, 0.1]])))
    new = CategoricalParams(jnp.log(jnp.array([[0.25, 0.75], [0.9, 0.1]])))
    aux_v, v, ret = jnp.array([1.0, 2.0]), jnp.array([0.0, 4.0]), jnp.array([2.0, 2.0])
    loss, m = aux_loss(old, new, aux_v, v, ret, beta_clone=2.0, vf_true_weight=0.5)
    kl = (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)) / 2  # row 2 is 0
    vf_aux = 0.5 * (1.0 + 0.0) / 2
    vf_true = 0.5 * (4.0 + 4.0) / 2
    np.testing.assert_allclose(m["aux_kl"], kl, rtol=1e-5)
    np.testing.assert_allclose(m["aux_value_loss"], vf_aux, rtol=1e-6)
    np.testing.assert_allclose(m["aux_true_value_loss"], vf_true, rtol=1e-6)
    np.testing.assert_allclose(loss, 2.0 * kl + vf_aux + 0.5 * vf_true, rtol=1e-5)
    # The cloning target gets no gradient: only the new policy moves.
    g_old = jax.grad(
        lambda o: aux_loss(o, new, aux_v, v, ret, beta_clone=1.0, vf_true_weight=1.0)[0]
    )(old)
    np.testing.assert_array_equal(g_old.logits, 0.0)


def test_policy_phase_loss_by_hand():
    logp, old_logp = jnp.log(jnp.array([0.6, 0.3])), jnp.log(jnp.array([0.4, 0.3]))
    adv, ent = jnp.array([1.0, -1.0]), jnp.array([0.5, 0.7])
    value, ret = jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
    loss, m = policy_phase_loss(
        logp, ent, value, old_logp, adv, ret, clip_eps=0.2, ent_coef=0.1, vf_coef=0.5
    )
    # ratios 1.5 (clipped to 1.2 for A > 0) and 1.0: pg = mean(-1.2, 1.0) = -0.1
    pg, vf, h = -0.1, (1.0 + 4.0) / 2, 0.6  # the reference's value loss has no 1/2
    np.testing.assert_allclose([m["policy_loss"], m["value_loss"]], [pg, vf], rtol=1e-6)
    np.testing.assert_allclose(loss, pg - 0.1 * h + 0.5 * vf, rtol=1e-6)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: GSLConfig(learner="ppg", ppo=PPO, ppg=PPGConfig(n_pi=2, aux_minibatch_envs=16)),
         "ppg.aux_minibatch_envs"),
        (lambda: GSLConfig(learner="ppg", ppo=PPO, ppg=PPGConfig(n_pi=3, aux_minibatch_envs=8)),
         "ppg.aux_minibatch_envs"),
        (lambda: PPGConfig(arch="shared", value_hidden=(32,)), "ppg.value_hidden"),
        (lambda: GSLConfig(learner="ppg", network=NetworkConfig(kind="impala"),
                           ppg=PPGConfig(value_hidden=(32,))), "ppg.value_hidden"),
        (lambda: GSLConfig(learner="sac"), "gsl.learner"),
        (lambda: PPGConfig(n_pi=0), "ppg.n_pi"),
        (lambda: PPGConfig(beta_clone=float("nan")), "ppg.beta_clone"),
        (lambda: PPGConfig(arch="detach"), "ppg.arch"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(build, field):
    with pytest.raises(ValueError, match=field):
        build()


def test_gsl_config_round_trips_the_learner():
    config = GSLConfig(learner="ppg", ppo=PPO, ppg=PPG.replace(value_hidden=(32, 32)))
    again = GSLConfig.from_dict(config.to_dict())
    assert again == config and again.to_dict()["learner"] == "ppg"


# --- the learner on CartPole ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cartpole():
    env = GymnaxEnv("CartPole-v1", family={})
    net = make_phasic_network(NetworkConfig(), env.action_space, env.observation_space.shape)
    vec = VecEnv(env, PPO.num_envs)
    return env, net, vec, make_chunk(vec, net, PPO, PPG, UPDATES)


def first(tree):
    return jax.tree.map(lambda x: x[0], tree)


def _sets(env, n):
    return stack_variation_sets([np.arange(env.num_variations)] * n, env)


@pytest.fixture(scope="module")
def pair(cartpole):
    """A population of two after one chunk, and its metrics."""
    env, net, vec, chunk = cartpole
    state = init_population(jax.random.key(3), vec, net, PPO, PPG, _sets(env, 2))
    return state, *chunk(jax.tree.map(jnp.copy, state))  # the chunk donates its input


def test_buffer_shapes_and_phases(cartpole, pair):
    env, net, vec, _ = cartpole
    fresh, state, metrics = pair
    assert fresh.buffer.obs.shape == (2, PPG.n_pi, PPO.num_steps, PPO.num_envs, 4)
    assert fresh.buffer.returns.shape == (2, PPG.n_pi, PPO.num_steps, PPO.num_envs)
    assert state.buffer.obs.shape == fresh.buffer.obs.shape  # fixed shape, in the state
    assert int(state.updates[0]) == UPDATES and state.iteration.tolist() == [0, 0]
    phases = np.asarray(metrics["aux_phase"])[:, 0].tolist()
    assert phases == [0, 0, 0, 1] * (UPDATES // PPG.n_pi)  # after every n_pi-th iteration
    assert np.all(np.asarray(metrics["aux_kl"])[np.asarray(phases) == 1] > 0)
    # The buffer holds the last phase's rollouts: real observations, not the zeros it began with.
    assert np.all(np.abs(np.asarray(state.buffer.obs)).sum(axis=(2, 3, 4)) > 0)


def test_population_equals_separate_runs(cartpole, pair):
    """Member p of a vmapped population ends where a run of its own ends: after one phase (4
    iterations, then 24 auxiliary steps) they agree to float32 reassociation, magnified by Adam's
    eps of 1e-8 on near-zero gradients (measured: 5e-5 at most; 0.0 after one iteration); the two
    members differ from each other by far more."""
    env, net, vec, chunk = cartpole
    fresh, together, _ = pair
    leaves = jax.tree.leaves(together.params)
    for p in range(2):
        one = jax.tree.map(lambda x, p=p: x[p : p + 1], fresh)
        alone, _ = chunk(one)
        for a, b in zip(jax.tree.leaves(alone.params), leaves, strict=True):
            np.testing.assert_allclose(a[0], b[p], rtol=0, atol=2e-4)
    apart = max(float(np.abs(x[0] - x[1]).max()) for x in leaves)
    assert apart > 0.05, apart


def test_cloning_target_is_the_pre_phase_policy(cartpole, pair):
    """With a negligible auxiliary step size the policy cannot move during the phase, so a KL to
    the policy as the phase began is 0; to any earlier policy (e.g. the one that collected the
    stored rollouts, or the initial one) it is not."""
    env, net, vec, _ = cartpole
    fresh, state, _ = pair
    member = jax.tree.map(lambda x: x[0], state)
    still = PPG.replace(aux_learning_rate=1e-12)
    _, metrics = jax.jit(make_aux_phase(net, PPO, still))(member)
    assert float(metrics["aux_kl"]) < 1e-9
    obs = member.buffer.obs.reshape(-1, 4)
    before = net.apply(jax.tree.map(lambda x: x[0], fresh.params), obs)[0]
    now = net.apply(member.params, obs)[0]
    assert float(kl_divergence(before, now).mean()) > 1e-3


def test_ppg_learns_cartpole(cartpole):
    """48 chunks of 4 iterations, 98,304 env-steps: the mean return of the episodes finished in
    the last 96 iterations reaches 75 (random play: about 22; measured 95 at this seed)."""
    env, net, vec, chunk = cartpole
    state = jax.tree.map(
        lambda x: x[None], init_learner(jax.random.key(0), vec, net, PPO, PPG, first(_sets(env, 1)))
    )
    returns = []
    for _ in range(48):
        state, m = chunk(state)
        returns.append((float(np.sum(m["return_sum"])), float(np.sum(m["episodes"]))))
    last = [sum(r[i] for r in returns[24:]) for i in range(2)]  # the last 96 iterations
    curve = [round(r / max(n, 1)) for r, n in returns]
    assert last[0] / last[1] >= 75.0, " ".join(map(str, curve))


def test_ppg_learns_a_port_from_compact_observations():
    """Maze's compact view (radius 5, 100-step timeout) on 4 levels, 16 envs x 64 steps, N_pi 4:
    after 80 iterations (81,920 env-steps) the episodes of the last 40 return 3 on average
    (uniform-random play: 0.98 on these levels; measured 4.7 at this seed)."""
    from gsl_jax.envs.procgen import make
    from gsl_jax.presets import PROCGEN_COMPACT

    env = make("maze", obs_mode="symbolic", view_radius=5, timeout=100)
    ppo = PROCGEN_COMPACT.replace(num_envs=16, num_steps=64, num_minibatches=4, learning_rate=1e-3)
    ppg = PPGConfig(n_pi=4, aux_minibatch_envs=4)
    net = make_phasic_network(NetworkConfig(), env.action_space, env.observation_space.shape)
    vec = VecEnv(env, ppo.num_envs)
    sets = stack_variation_sets([np.arange(4)], env)
    state = init_population(jax.random.key(0), vec, net, ppo, ppg, sets)
    chunk = make_chunk(vec, net, ppo, ppg, 4)
    totals = []
    for _ in range(20):
        state, m = chunk(state)
        totals.append((float(np.sum(m["return_sum"])), float(np.sum(m["episodes"]))))
    late = [sum(t[i] for t in totals[10:]) for i in range(2)]
    assert late[0] / late[1] >= 3.0, [round(r / max(n, 1), 2) for r, n in totals]

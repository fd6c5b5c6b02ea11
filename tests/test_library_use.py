"""The library as a PureJaxRL / rejax user calls it: any gymnax id with its standard parameters,
named families, several seeds in one population, annealed learning rates, exact budgets, one
compile per run (issue 25)."""

import gymnax
import jax
import numpy as np
import pytest

from gsl_jax.envs.core import VecEnv, stack_variation_sets
from gsl_jax.envs.gymnax import GymnaxEnv, families, gymnax_ids, register_family
from gsl_jax.envs.registry import env_spec, make_env
from gsl_jax.loop import chunk_budget, strong_types
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.population import init_population
from gsl_jax.ppo import PPOConfig, make_update
from gsl_jax.ppo_config import lr_schedule
from gsl_jax.presets import CLASSIC_CONTROL, CONTINUOUS_CONTROL, PROCGEN
from gsl_jax.training import PPORunConfig, train_ppo

TINY_NET = NetworkConfig(kind="mlp", hidden=(8,))


def test_every_gymnax_id_builds_with_the_standard_parameters():
    ids = ["CartPole-v1", "Breakout-MinAtar", "Catch-bsuite", "FourRooms-misc", "FrozenLake-misc"]
    assert set(ids) <= set(gymnax_ids())  # one of each group (every id: tried by hand)
    for name in ids:
        env = make_env(name)
        assert env.num_variations == 1 and env.family == {}, name
    env = GymnaxEnv("CartPole-v1")
    assert env.params(0) == gymnax.make("CartPole-v1")[1]
    assert env_spec("Breakout-MinAtar") == {"name": "Breakout-MinAtar", "options": {"family": {}}}


def test_families_are_opt_in_by_name_and_registrable():
    pole = GymnaxEnv("CartPole-v1", family="pole")
    assert pole.num_variations == 16
    assert pole.variation_params(1) == pytest.approx({"length": 0.25, "masspole": 0.1})
    params = pole.params(np.int32(15))  # 1.0 m, 0.4 kg: derived fields recomputed
    assert float(params.polemass_length) == pytest.approx(0.4 * 1.0)
    assert float(params.total_mass) == pytest.approx(1.0 + 0.4)
    family = register_family(
        "Acrobot-v1", "test_lengths", {"link_length_1": (0.5, 1.0)}, "length of link 1"
    )
    assert families("Acrobot-v1")["test_lengths"] is family
    env = make_env("Acrobot-v1", family="test_lengths")
    assert env.num_variations == 2 and float(env.params(np.int32(1)).link_length_1) == 1.0
    with pytest.raises(ValueError, match="name: Acrobot-v1 has a family 'test_lengths'"):
        register_family("Acrobot-v1", "test_lengths", {"link_length_1": (2.0,)})
    with pytest.raises(ValueError, match="env_id: unknown gymnax environment 'Nope-v0'"):
        register_family("Nope-v0", "x", {"a": (1.0,)})
    with pytest.raises(ValueError, match="family: Breakout-MinAtar has no family 'pole'"):
        GymnaxEnv("Breakout-MinAtar", family="pole")


def test_exact_budget_counts():
    # PureJaxRL's CartPole: 1M steps of 4 x 128 = 1,953 updates (not 1,960 in whole chunks).
    assert chunk_budget(1_000_000, 512, 10) == (1953, 196, 3)
    assert chunk_budget(5120, 512, 5) == (10, 2, None)
    with pytest.raises(ValueError, match="total_steps: 511 is less than one update's batch"):
        chunk_budget(511, 512, 10)
    with pytest.raises(ValueError, match="total_steps: 100 is less"):
        PPORunConfig(ppo=CLASSIC_CONTROL, total_steps=100)


def test_learning_rate_schedules_by_name():
    base = PPOConfig(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=3, learning_rate=1.0)
    assert lr_schedule(base) == 1.0
    assert base.with_lr_horizon(10) is base  # constant: nothing to derive
    steps = 10 * 3 * 2  # optimizer steps in 10 updates
    linear = lr_schedule(base.replace(lr_schedule="linear").with_lr_horizon(10))
    assert [float(linear(t)) for t in (0, steps // 4, steps)] == pytest.approx([1.0, 0.75, 0.0])
    cosine = lr_schedule(base.replace(lr_schedule="cosine").with_lr_horizon(10))
    expected = [(1 + np.cos(np.pi * t / steps)) / 2 for t in (0, steps // 4, steps)]
    assert [float(cosine(t)) for t in (0, steps // 4, steps)] == pytest.approx(expected, abs=1e-6)
    assert (
        base.replace(lr_schedule="linear", lr_decay_updates=7).with_lr_horizon(10).lr_decay_updates
        == 7
    )
    with pytest.raises(ValueError, match="ppo.lr_schedule: 'linear' needs a horizon"):
        lr_schedule(base.replace(lr_schedule="linear"))
    with pytest.raises(ValueError, match="ppo.lr_schedule"):
        base.replace(lr_schedule="exponential")
    assert CLASSIC_CONTROL.anneals and CONTINUOUS_CONTROL.anneals
    assert not PROCGEN.anneals


def test_initial_minatar_state_has_the_types_an_update_returns():
    """A trace counter: jit traces the update again for an argument whose types differ from
    the previous call's; the initial state of SpaceInvaders-MinAtar holds weakly typed ints
    that an update returns strong, unless the loop strips them (strong_types)."""
    env = GymnaxEnv("SpaceInvaders-MinAtar")
    ppo = CLASSIC_CONTROL.replace(num_envs=2, num_steps=2, num_minibatches=1, update_epochs=1)
    ppo = ppo.with_lr_horizon(4)
    net = make_network(TINY_NET, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, ppo.num_envs)
    sets = stack_variation_sets([[0]], env)
    state = jax.tree.map(
        lambda x: x[0], init_population(jax.random.key(0), vec_env, net, ppo, sets)
    )
    update = make_update(vec_env, net, ppo)
    traces = []

    def counted(s):
        traces.append(1)
        return update(s)

    jitted = jax.jit(counted)

    def traces_of_two_calls(first):
        traces.clear()
        out = jitted.trace(first).out_info[0]
        jitted.trace(
            jax.tree.map(
                lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type), out
            )
        )
        return len(traces)

    assert traces_of_two_calls(state) == 2  # the trap the loop avoids
    assert traces_of_two_calls(strong_types(state)) == 1


@pytest.fixture(scope="module")
def seeded():
    """CartPole, 2 seeds, 7 updates of 32 steps in chunks of 3: 3 + 3 + a shorter last 1."""
    ppo = CLASSIC_CONTROL.replace(num_envs=4, num_steps=8, num_minibatches=2, update_epochs=1)
    env = GymnaxEnv("CartPole-v1")
    result = train_ppo(
        env,
        ppo,
        TINY_NET,
        total_steps=7 * 32 + 31,
        updates_per_chunk=3,
        num_seeds=2,
        progress=False,
    )
    return result


def test_seeds_exact_budget_and_one_compile(seeded):
    history = seeded.history
    assert [h["step"] for h in history] == [96, 192, 224]  # 7 updates: 31 steps left out
    assert [h["total_steps"] for h in history] == [192, 384, 448]  # 2 seeds
    assert np.asarray(seeded.state.updates).tolist() == [7, 7]
    for h in history:
        assert len(h["return_mean_per_member"]) == len(h["episodes_per_member"]) == 2
        assert sum(h["episodes_per_member"]) == h["episodes"]
    # One program: nothing compiled after the first chunk, the shorter last chunk included.
    assert history[0]["compile_seconds"] > 0
    assert [h["compile_seconds"] for h in history[1:]] == [0.0, 0.0]
    assert seeded.compile_seconds == history[0]["compile_seconds"]
    assert seeded.first_chunk_seconds == history[0]["seconds"] >= seeded.compile_seconds
    # Independent seeds; the optimizer took 7 updates x 2 minibatches, the linear horizon:
    params = seeded.state.params
    first = jax.tree.leaves(params)[0]
    assert not np.allclose(first[0], first[1])
    count = jax.tree.leaves(seeded.state.opt_state)[0]  # optimizer steps taken
    assert np.asarray(count).tolist() == [7 * 2] * 2

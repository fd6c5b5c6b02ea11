"""GSL at population scale and in repeated cycles: many one-variation specialists, the
specialist budget and env count options, batched demo collection, ``max_cycles``."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from benchmark_scripts import load_script

from gsl_jax.demos import rollout_population, rollout_trajectory
from gsl_jax.envs.core import stack_variation_sets
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, run_gsl
from gsl_jax.networks import NetworkConfig
from gsl_jax.phases import RunBuilder, first
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import PPOConfig

PPO = PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=1, gamma=0.99)
SMALL = NetworkConfig(hidden=(16, 16))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(specialist_steps_per_variation=0), "gsl.specialist_steps_per_variation"),
        (dict(specialist_num_envs=0), "gsl.specialist_num_envs"),
        (dict(max_cycles=0), "gsl.max_cycles"),
        (dict(cycle_demos="merge"), "gsl.cycle_demos"),
        # 8 / 4 -> 2 variations each: 100 per variation is 200 per specialist, not 150
        (
            dict(specialist_steps_per_variation=100, specialist_steps=150),
            r"gsl.specialist_steps: 150 contradicts specialist_steps_per_variation = 100 "
            r"\(200 per specialist",
        ),
        # 1 env x 6 steps cannot be split into 8 minibatches
        (
            dict(ppo=PPOConfig(num_envs=4, num_steps=6, num_minibatches=8), specialist_num_envs=1),
            "gsl.specialist_num_envs: ppo.num_minibatches",
        ),
        (dict(num_specialists=201, num_low=200), "gsl.num_specialists: 201 specialists"),
        (dict(total_steps=0), "gsl.total_steps"),
        # phase I's 1,000 and 4 specialists x 500 leave nothing of 3,000 to phase II
        (
            dict(
                total_steps=3_000,
                plateau=PlateauConfig(max_steps=1_000),
                specialist_steps=500,
                low_finetune_steps=0,
            ),
            r"gsl.total_steps: 3,000 leaves no phase II after phase I's 1,000 "
            r"\(plateau.max_steps\) and a cycle's 2,000",
        ),
    ],
)
def test_bad_population_options(changes, message):
    with pytest.raises(ValueError, match=message):
        GSLConfig(**changes)


def test_max_total_steps_counts_every_cycle_and_the_cap():
    config = GSLConfig(
        plateau=PlateauConfig(max_steps=1_000),
        phase2_steps=2_000,
        num_specialists=4,
        specialist_steps=500,
        low_finetune_steps=100,
        max_cycles=2,
    )
    assert config.cycle_steps == 4 * 500 + 100
    assert config.max_total_steps == 1_000 + 2_000 + 2 * 2_100  # 7,200
    assert dataclasses.replace(config, total_steps=5_000).max_total_steps == 5_000
    assert dataclasses.replace(config, total_steps=9_000).max_total_steps == 7_200


def test_specialist_budget_per_variation():
    # ceil(10 / 4) = 3 variations in the largest subset: 3 x 100 per specialist
    config = GSLConfig(num_low=10, num_specialists=4, specialist_steps_per_variation=100)
    assert config.specialist_budget == 300
    assert GSLConfig(num_low=200, num_specialists=200, specialist_steps_per_variation=7)
    assert GSLConfig(specialist_steps=1234).specialist_budget == 1234
    # specialist_steps equal to the per-variation budget is no contradiction
    same = GSLConfig(num_low=8, num_specialists=4, specialist_steps_per_variation=5)
    assert dataclasses.replace(same, specialist_steps=10).specialist_budget == 10


def test_two_hundred_specialists_on_two_hundred_levels_validate():
    from gsl_jax.envs.procgen import Maze

    config = GSLConfig(num_low=200, num_specialists=200, num_train_variations=400)
    config.validate_for(Maze())
    with pytest.raises(ValueError, match="gsl.num_low: N_lenv = 200 exceeds the 150 training"):
        dataclasses.replace(config, num_train_variations=150).validate_for(Maze())


@pytest.fixture(scope="module")
def population():
    """A builder with 2-env specialists, and 12 one-variation clones of its generalist."""
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = GSLConfig(
        ppo=PPO, network=SMALL, num_low=12, num_specialists=12, specialist_num_envs=2,
        updates_per_chunk=2,
    )  # fmt: skip
    build = RunBuilder(env, config)
    source = first(build.fresh_generalist())
    workers = build.workers_from(source, [[v] for v in range(12)], build.k_spec, True)
    return build, workers


def test_population_of_one_variation_specialists_equals_separate_runs(population):
    """Members of one vmapped program of 12 specialists train exactly as each alone would."""
    build, workers = population
    assert build.spec_steps_per_chunk == 2 * 2 * 16  # 2 updates of 2 envs x 16 steps
    assert workers.env.stats.finished.shape == (12, 2)  # specialist_num_envs envs each
    chunk = build.chunk(specialists=True)
    copy = lambda tree: jax.tree.map(jnp.copy, tree)  # noqa: E731 (chunks donate their input)
    members = {p: jax.tree.map(lambda x, p=p: x[p : p + 1], copy(workers)) for p in (0, 5, 11)}
    together, metrics = chunk(copy(workers))
    for p, alone in members.items():
        alone, alone_metrics = chunk(alone)
        np.testing.assert_array_equal(
            np.asarray(metrics["episodes"])[:, p], np.asarray(alone_metrics["episodes"])[:, 0]
        )
        for a, b in zip(
            jax.tree.leaves(together.params), jax.tree.leaves(alone.params), strict=True
        ):
            np.testing.assert_allclose(np.asarray(a)[p], np.asarray(b)[0], rtol=1e-4, atol=1e-6)


def test_population_rollout_equals_one_rollout_per_member(population):
    """Demo collection in vmapped groups of 4 (the last one padded) gives each member the
    trajectory it gets alone."""
    build, workers = population
    subsets = [[v] for v in range(6)]
    params = jax.tree.map(lambda x: x[:6], workers.params)
    keys = jax.random.split(jax.random.key(3), 6)
    variations = stack_variation_sets(subsets, build.env)
    trajs = list(
        rollout_population(build.spec_vec_env, build.net, params, variations, keys, 40, group=4)
    )
    assert len(trajs) == 6 and trajs[5]["obs"].shape == (40, 2, 4)
    for p in (0, 5):
        one = rollout_trajectory(
            build.spec_vec_env,
            build.net,
            jax.tree.map(lambda x, p=p: x[p], params),
            jax.tree.map(lambda x, p=p: x[p], variations),
            keys[p],
            40,
        )
        np.testing.assert_array_equal(trajs[p]["action"], one["action"])
        np.testing.assert_array_equal(trajs[p]["done"], one["done"])
        np.testing.assert_allclose(trajs[p]["obs"], one["obs"], rtol=1e-5, atol=1e-6)


#: MountainCar's untrained policy never reaches the goal: every episode returns -200 and lasts
#: the 200-step limit, one per env per chunk (2 envs x 200 steps), so the phase-II curve is flat
#: and criterion H (window 1) fires after its second chunk.
CYCLES = GSLConfig(
    ppo=PPOConfig(num_envs=2, num_steps=200, num_minibatches=2, update_epochs=1, gamma=0.99),
    network=SMALL,
    plateau=PlateauConfig(window=1, max_steps=400),  # phase I: one chunk, the budget fires
    num_low=2,
    num_specialists=2,
    specialist_num_envs=1,
    specialist_steps_per_variation=400,  # 1 variation each: 2 chunks of 1 env x 200 steps
    phase2_steps=5 * 400,
    max_cycles=2,
    cycle_demos="add",
    updates_per_chunk=1,
    eval_episodes=1,
    demo_steps=200,
    specialist_demo_episodes=2,
    generalist_demo_episodes=1,
    demo_return_threshold=-1000.0,  # every finished episode counts
)


@pytest.fixture(scope="module")
def two_cycles(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cycles") / "run"
    lines = []
    result = run_gsl(
        GymnaxEnv("MountainCar-v0", family="force"), CYCLES, run_dir=run_dir, log=lines.append
    )
    return run_dir, result, lines


def test_cycles_run_again_when_phase_two_plateaus(two_cycles):
    run_dir, result, lines = two_cycles
    phases = [(r["gsl_phase"], r["cycle"]) for r in result.records]
    assert (
        phases
        == [("phase1", 1)]
        + [("specialists", 1)] * 2
        + [("phase2", 1)] * 2
        + [("specialists", 2)] * 2
        + [("phase2", 2)] * 3
    )  # phase II's 5 chunks shared: 2 in cycle 1, 3 in cycle 2
    assert any(line.startswith("cycle 2: phase II plateaued at 1,200 steps") for line in lines)
    assert any(line.startswith("cycle 2: selection") for line in lines)
    assert [c["cycle"] for c in result.cycles] == [1, 2]
    # "add": cycle 2's phase II sees cycle 1's 3 episodes of 200 steps and its own 3
    dapg_lines = [line for line in lines if line.startswith("phase II: PPO + DAPG")]
    assert dapg_lines == ["phase II: PPO + DAPG on 600 demo transitions"] + [
        "phase II: PPO + DAPG on 1200 demo transitions"
    ]
    assert (run_dir / "demos.npz").exists() and (run_dir / "demos_cycle2.npz").exists()


def test_cycles_count_every_sample(two_cycles):
    _, result, _ = two_cycles
    last = result.records[-1]
    assert last["generalist_steps"] == 400 + 5 * 400
    specialists = 2 * 2 * 400  # 2 cycles x 2 specialists x 400
    evaluation = 2 * 3 * 200  # 2 cycles x 3 variations x 1 episode of 200 steps
    demos = 2 * (2 * 1 * 200 + 2 * 200)  # 2 cycles x (2 one-env specialists + 2-env generalist)
    assert last["total_steps"] == last["generalist_steps"] + specialists + evaluation + demos


def test_total_steps_caps_the_run_and_refuses_a_cycle_it_cannot_pay_for(tmp_path):
    """The two-cycle run under a budget of 4,200 total env-steps. Up to phase II's second chunk
    it spends 3,400 (phase I 400, selection 3 x 200, specialists 2 x 400, demos 2 x 200 + 2 x
    200, two chunks of 400); H then fires, but cycle 2 needs 800 specialist steps and a 400-step
    chunk, more than the 800 left, so phase II goes on, to the last chunk within 4,200: 4
    chunks of the 5 phase2_steps allows."""
    config = dataclasses.replace(CYCLES, total_steps=4_200)
    result = run_gsl(
        GymnaxEnv("MountainCar-v0", family="force"), config, run_dir=None, log=lambda _: None
    )
    phases = [(r["gsl_phase"], r["cycle"]) for r in result.records]
    assert phases == [("phase1", 1)] + [("specialists", 1)] * 2 + [("phase2", 1)] * 4
    assert result.records[-1]["total_steps"] == 4_200
    assert [c["cycle"] for c in result.cycles] == [1]


def test_report_marks_the_phases_of_every_cycle():
    from gsl_jax.report import phase_boundaries, specialist_spans

    records, total = [], 0
    plan = [("generalist", 1, 2), ("specialists", 1, 2), ("generalist+dapg", 1, 2)]
    plan += [("specialists", 2, 2), ("generalist+dapg", 2, 1)]
    for phase, cycle, n in plan:
        for _ in range(n):
            total += 100
            records.append({"phase": phase, "cycle": cycle, "total_steps": total})
    assert phase_boundaries(records) == [
        (200.0, "specialists"),
        (400.0, "generalist+dapg"),
        (600.0, "specialists (cycle 2)"),
        (800.0, "generalist+dapg (cycle 2)"),
    ]
    assert specialist_spans(records) == [(200.0, 400.0), (600.0, 800.0)]


def _procgen_cli():
    return load_script("procgen_gsl")


@pytest.mark.parametrize(
    "argv, dapg",
    [
        # the released form: pi(a|s), raw max advantage of the rollout, every 4th minibatch, 0.5
        (
            ["--demo-coeff", "0.5", "--demo-freq", "4", "--set", "gsl.dapg.use_log_prob=false",
             "--set", "gsl.dapg.normalized_max_advantage=false"],
            dict(demo_coeff=0.5, demo_freq=4, use_log_prob=False, normalized_max_advantage=False),
        ),
        (["--set", "gsl.dapg.use_log_prob=true"], dict(use_log_prob=True)),
        (["--set", "gsl.dapg.decay=0.95"], dict(decay=0.95)),
        (["--set", "gsl.dapg.normalized_max_advantage=true"], dict(normalized_max_advantage=True)),
    ],
)  # fmt: skip
def test_every_distillation_variant_is_set_from_the_experiment_cli(argv, dapg):
    from gsl_jax.experiments.procgen.presets import resolve_settings

    cli = _procgen_cli()
    settings = resolve_settings("quick", cli._overrides(cli.build_parser().parse_args(argv)))
    for name, value in dapg.items():
        assert getattr(settings.gsl.dapg, name) == value, name


def test_population_options_from_the_experiment_cli():
    """Per-variation budget (replacing specialist_fraction), envs per specialist, cycles."""
    from gsl_jax.experiments.procgen.presets import resolve_settings

    cli = _procgen_cli()
    argv = ["--num-low", "100", "--num-specialists", "100", "--specialist-num-envs", "4"]
    argv += ["--specialist-steps-per-variation", "4096", "--max-cycles", "2"]
    s = resolve_settings("quick", cli._overrides(cli.build_parser().parse_args(argv)))
    g = s.gsl
    assert (g.specialist_num_envs, g.max_cycles, g.specialist_budget) == (4, 2, 4096)
    chunk = g.updates_per_chunk * g.ppo.batch_size  # 3 x 64 x 128
    assert g.updates_per_chunk * 4 * g.ppo.num_steps == 1536  # a specialist's chunk
    spent = 100 * 3 * 1536  # 4096 steps -> 3 chunks each
    left = s.steps - g.plateau.max_steps - spent
    assert g.phase2_steps == -(-left // chunk) * chunk  # phase II: the rest, in whole chunks
    with pytest.raises(ValueError, match=r"per_variation\): 100 specialists x 1,000,000 steps"):
        resolve_settings("quick", dict(num_low=100, num_specialists=100,
                                       specialist_steps_per_variation=10**6))  # fmt: skip

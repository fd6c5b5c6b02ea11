"""The GSL driver end to end on a tiny budget: phases, selection, demos, honest accounting."""

import dataclasses
import json
import shutil

import jax
import numpy as np
import pytest

from gsl_jax.checkpoint import list_checkpoints, read_meta
from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, GSLResult, result_summary, run_gsl
from gsl_jax.phases import PHASES
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppo import PPOConfig

PPO = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=2, gamma=0.99)


def test_gsl_runs_every_phase_and_counts_all_samples():
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = GSLConfig(
        ppo=PPO,
        plateau=PlateauConfig(window=2, max_steps=1280),  # phase I: the budget fires
        num_specialists=2,
        num_low=4,
        specialist_steps=1280,
        phase2_steps=640,
        updates_per_chunk=5,
        demo_steps=64,
        specialist_demo_episodes=4,
        generalist_demo_episodes=2,
        demo_return_threshold=5.0,  # young policies rarely survive 500 steps
        eval_episodes=2,
    )
    lines = []
    result = run_gsl(env, config, log=lines.append)
    phases = [r["phase"] for r in result.records]
    assert phases == ["generalist"] * 2 + ["specialists"] * 2 + ["generalist+dapg"]
    assert len(result.low_variations) == 4
    assert sorted(np.concatenate(result.subsets).tolist()) == sorted(result.low_variations.tolist())
    kept_s, kept_g = result.demos_kept
    assert kept_s == 4 and kept_g == 2  # episodes of >= 5 steps are easy to come by
    assert any("phase II: PPO + DAPG" in line for line in lines)
    # Honest accounting: generalist steps, plus 2 specialists, plus evaluation and demo rollouts.
    last = result.records[-1]
    assert last["generalist_steps"] == 2 * 640 + 640
    eval_steps = last["total_steps"] - (3 * 640 + 2 * 2 * 640) - 3 * 64 * 4
    assert 16 * 2 * 9 <= eval_steps <= 16 * 2 * 500  # 16 variations x 2 episodes, 9..500 steps


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(num_specialists=5, num_low=4), "gsl.num_specialists"),
        (dict(specialist_steps=0), "gsl.specialist_steps"),
        (dict(split="sorted"), "gsl.split"),
        (dict(generalist_demo_episodes=-1), "gsl.generalist_demo_episodes"),
    ],
)
def test_bad_gsl_configs(changes, field):
    with pytest.raises(ValueError, match=field):
        GSLConfig(**changes)


def test_num_low_beyond_the_variations():
    with pytest.raises(
        ValueError, match="gsl.num_low: N_lenv = 20 exceeds the 16 training variations"
    ):
        run_gsl(GymnaxEnv("CartPole-v1", family="pole"), GSLConfig(num_low=20))


TINY = GSLConfig(
    ppo=PPO,
    plateau=PlateauConfig(window=2, max_steps=512),
    num_specialists=2,
    num_low=2,
    low_finetune_steps=256,  # the optional pi_g_low phase runs too
    specialist_steps=512,
    phase2_steps=256,
    updates_per_chunk=2,
    demo_steps=32,
    specialist_demo_episodes=2,
    generalist_demo_episodes=2,
    demo_return_threshold=5.0,
    eval_episodes=1,
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gsl") / "run"
    result = run_gsl(
        GymnaxEnv("CartPole-v1", family="pole"), TINY, run_dir=run_dir, log=lambda _: None
    )
    return run_dir, result


def test_a_run_branched_from_another_phase_one_ends_as_if_from_scratch(finished_run, tmp_path):
    """Another DAPG weight changes nothing phase I reads: the run branched from the finished
    run's phase I ends with the parameters and records of the same config run from scratch."""
    from gsl_jax.ppo import DAPGConfig

    run_dir, _ = finished_run
    env = GymnaxEnv("CartPole-v1", family="pole")
    config = dataclasses.replace(TINY, dapg=DAPGConfig(demo_coeff=0.2))
    scratch = run_gsl(env, config, log=lambda _: None)
    lines = []
    out = tmp_path / "branched"
    branched = run_gsl(env, config, run_dir=out, branch_from=run_dir, log=lines.append)
    assert lines[0].startswith("branched from ") and "after phase I (512 steps)" in lines[0]
    assert [r["return_mean"] for r in branched.records] == [
        r["return_mean"] for r in scratch.records
    ]
    for a, b in zip(
        jax.tree.leaves(branched.generalist.params),
        jax.tree.leaves(scratch.generalist.params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    logged = (out / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == len(branched.records)  # phase I's records open the new run's log
    assert json.loads(logged[0])["phase"] == "generalist"


def test_branch_from_refuses_another_phase_one_before_writing(finished_run, tmp_path):
    run_dir, _ = finished_run
    env = GymnaxEnv("CartPole-v1", family="pole")
    other = dataclasses.replace(TINY, ppo=PPO.replace(learning_rate=1e-3))
    out = tmp_path / "new"
    with pytest.raises(ValueError, match=r"gsl.ppo.learning_rate \(0.0005 there, 0.001 here\)"):
        run_gsl(env, other, run_dir=out, branch_from=run_dir)
    with pytest.raises(ValueError, match="gsl.seed"):
        run_gsl(env, dataclasses.replace(TINY, seed=1), run_dir=out, branch_from=run_dir)
    car = GymnaxEnv("MountainCar-v0", family="force")
    with pytest.raises(ValueError, match="ran on 'CartPole-v1'"):
        run_gsl(car, TINY, run_dir=out, branch_from=run_dir)
    assert not out.exists()
    with pytest.raises(FileNotFoundError, match="config.json"):
        run_gsl(env, TINY, run_dir=out, branch_from=tmp_path / "nothing")


def test_run_dir_holds_config_checkpoints_and_results(finished_run):
    run_dir, result = finished_run
    phases = [r["phase"] for r in result.records]
    assert phases == ["generalist"] * 2 + ["finetune_low"] + ["specialists"] * 2 + [
        "generalist+dapg"
    ]
    for name in ("config.json", "result.json", "metrics.jsonl", "events.log", "demos.npz"):
        assert (run_dir / name).exists(), name
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["total_steps"] == result.records[-1]["total_steps"]
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == len(result.records)
    # Checkpoints at every phase boundary, named by the one phase vocabulary.
    metas = [read_meta(p)["progress"]["phase"] for p in list_checkpoints(run_dir / "checkpoints")]
    assert metas == ["select", "finetune_low", "specialists", "demos", "phase2", "done"]
    assert tuple(metas) == PHASES[1:]
    assert [r["gsl_phase"] for r in result.records] == ["phase1"] * 2 + ["finetune_low"] + [
        "specialists"
    ] * 2 + ["phase2"]
    # Per-specialist demo counts, in the result, result.json and the events.
    assert [d["variations"] for d in result.specialist_demos] == [
        s.tolist() for s in result.subsets
    ]
    for d in result.specialist_demos:
        assert d["wanted"] == 1 and d["kept"] <= min(d["wanted"], d["successes"])
        assert d["successes"] <= d["episodes"]
    assert sum(d["kept"] for d in result.specialist_demos) == result.demos_kept[0]
    assert saved["specialist_demos"] == result.specialist_demos
    assert any(e.startswith("  specialist 1: kept") for e in result.events)


def test_resuming_a_finished_run_returns_its_result(finished_run):
    run_dir, result = finished_run
    again = run_gsl(
        GymnaxEnv("CartPole-v1", family="pole"),
        TINY,
        run_dir=run_dir,
        resume=True,
        log=lambda _: None,
    )
    assert again.records == result.records
    for a, b in zip(
        jax.tree.leaves(again.generalist.params),
        jax.tree.leaves(result.generalist.params),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_fresh_run_refuses_a_taken_run_dir(finished_run):
    run_dir, _ = finished_run
    before = (run_dir / "config.json").read_bytes()
    with pytest.raises(ValueError, match="run_dir: .* is not empty .it holds another run"):
        run_gsl(GymnaxEnv("CartPole-v1", family="pole"), TINY, run_dir=run_dir)
    assert (run_dir / "config.json").read_bytes() == before


def test_resume_with_a_conflicting_config_is_refused(finished_run):
    run_dir, _ = finished_run
    before = (run_dir / "config.json").read_bytes()
    other = dataclasses.replace(TINY, ppo=PPO.replace(learning_rate=1e-3), num_low=3)
    with pytest.raises(ValueError, match=r"^gsl\.num_low: .*saved 2, given 3.*learning_rate"):
        run_gsl(GymnaxEnv("CartPole-v1", family="pole"), other, run_dir=run_dir, resume=True)
    with pytest.raises(ValueError, match="^env: .*saved 'CartPole-v1', given 'Acrobot-v1'"):
        run_gsl(GymnaxEnv("Acrobot-v1", family="links"), TINY, run_dir=run_dir, resume=True)
    assert (run_dir / "config.json").read_bytes() == before


def test_resume_with_every_checkpoint_damaged_names_the_newest(finished_run, tmp_path):
    """(A damaged newest checkpoint with a good one before it falls back: test_reliability.)"""
    run_dir, _ = finished_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    *older, last = list_checkpoints(copy / "checkpoints")
    (last / "meta.json").write_text("{ truncated")
    for previous in older:
        for f in (previous / "state").rglob("*"):
            if f.is_file() and f.stat().st_size > 0:
                f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"checkpoint {last} is damaged .meta.json unreadable"):
        run_gsl(
            GymnaxEnv("CartPole-v1", family="pole"),
            TINY,
            run_dir=copy,
            resume=True,
            log=lambda _: None,
        )
    assert list_checkpoints(copy / "checkpoints")[-1] == last  # nothing moved


def test_procgen_sized_envs_need_a_training_set_size():
    from gsl_jax.envs.procgen import Maze

    with pytest.raises(ValueError, match="gsl.num_train_variations"):
        GSLConfig(num_low=8).validate_for(Maze())
    GSLConfig(num_low=8, num_train_variations=200).validate_for(Maze())


def test_no_demonstrations_kept_warns_and_runs_phase_two_without_dapg():
    config = dataclasses.replace(
        TINY, low_finetune_steps=0, demo_return_threshold=1e9
    )  # no episode returns 1e9: zero demos
    lines = []
    with pytest.warns(UserWarning, match="no successful demonstrations"):
        result = run_gsl(GymnaxEnv("CartPole-v1", family="pole"), config, log=lines.append)
    assert result.demos_kept == (0, 0)
    assert any("phase II runs without DAPG" in line for line in lines)
    assert result.records[-1]["phase"] == "generalist"  # plain PPO, no DAPG term


def test_dapg_decay_counts_phase_two_updates_only(finished_run):
    """lambda1 ** k with k from the start of phase II: with decay 0.1 the first phase-II update
    has the full term (0.1 ** 0) and the second a tenth of it, so the chunk's mean DAPG loss is
    about 0.55 of the undecayed one. Counting phase I's updates too (4 here) shrinks it to 1e-4.
    The undecayed run is the module's TINY run (decay 1.0, the default; pi_g_low trains a copy,
    so the generalist's count is phase I's and phase II's): the decayed one differs in nothing
    else."""
    assert TINY.dapg.decay == 1.0
    config = dataclasses.replace(TINY, dapg=dataclasses.replace(TINY.dapg, decay=0.1))
    decayed = run_gsl(GymnaxEnv("CartPole-v1", family="pole"), config, log=lambda _: None)
    losses = []
    for result in (finished_run[1], decayed):
        (record,) = [r for r in result.records if r["phase"] == "generalist+dapg"]
        losses.append(record["dapg_loss"])
        assert int(result.generalist.updates[0]) == 2  # phase II's own updates
    assert losses[0] < 0.0
    assert 0.3 < losses[1] / losses[0] < 0.8


def test_result_summary_final_return_is_phase_two_only():
    """``final_return`` is the last phase-II record's return: not phase I's (or pi_g_low's) when
    phase II has no record yet, and not a later non-phase-II record's."""

    def rec(gsl_phase, label, ret, steps):
        return dict(
            phase=label, gsl_phase=gsl_phase, return_mean=ret, generalist_steps=steps,
            total_steps=steps,
        )  # fmt: skip

    before = [rec("phase1", "generalist", 7.0, 1), rec("specialists", "specialists", 9.0, 2)]
    result = GSLResult(None, before, [], np.array([1]), [np.array([1])], (0, 0))
    assert np.isnan(result_summary(result, GymnaxEnv("CartPole-v1", family="pole"))["final_return"])
    after = before + [rec("phase2", "generalist+dapg", 3.0, 3), rec("phase2", "generalist", 4.0, 4)]
    result.records = after
    assert result_summary(result, GymnaxEnv("CartPole-v1", family="pole"))["final_return"] == 4.0
    # Records written before ``gsl_phase`` existed: those after the last specialist record.
    result.records = [{k: v for k, v in r.items() if k != "gsl_phase"} for r in before]
    assert np.isnan(result_summary(result, GymnaxEnv("CartPole-v1", family="pole"))["final_return"])
    result.records = [{k: v for k, v in r.items() if k != "gsl_phase"} for r in after]
    assert result_summary(result, GymnaxEnv("CartPole-v1", family="pole"))["final_return"] == 4.0

"""GSL with PPG as its base learner (GSLConfig.learner = "ppg"): the whole driver on a tiny
budget, the run directory, restoring the generalist, and the experiment's --learner option."""

import json

import pytest
from benchmark_scripts import load_script

from gsl_jax.envs.gymnax import GymnaxEnv
from gsl_jax.gsl import GSLConfig, load_generalist, run_gsl
from gsl_jax.plateau import PlateauConfig
from gsl_jax.ppg import PPGConfig, PPGState
from gsl_jax.ppo import PPOConfig

ENV = GymnaxEnv("CartPole-v1", family={})
PPO = PPOConfig(num_envs=4, num_steps=32, num_minibatches=2, gamma=0.99)
CONFIG = GSLConfig(
    ppo=PPO,
    learner="ppg",
    ppg=PPGConfig(n_pi=2, aux_epochs=2, aux_minibatch_envs=4),
    plateau=PlateauConfig(window=2, max_steps=512),
    num_specialists=1,  # on CartPole's one variation (ENV): the specialist's variation set has
    num_low=1,  # the generalist's shape, so one compiled chunk and one demo rollout serve both
    specialist_steps=256,
    phase2_steps=256,
    updates_per_chunk=2,  # one PPG phase (2 iterations + the auxiliary phase) per chunk
    demo_steps=32,
    specialist_demo_episodes=2,
    generalist_demo_episodes=2,
    demo_return_threshold=5.0,
    eval_episodes=1,
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gsl_ppg") / "run"
    lines = []
    result = run_gsl(ENV, CONFIG, run_dir=run_dir, log=lines.append)
    return run_dir, result, lines


def test_gsl_with_ppg_runs_every_phase(finished):
    run_dir, result, lines = finished
    phases = [r["phase"] for r in result.records]
    assert phases == ["generalist"] * 2 + ["specialists", "generalist+dapg"]
    assert isinstance(result.generalist, PPGState)
    # every chunk ended a PPG phase: its auxiliary phase ran once per chunk, in every GSL phase
    assert all(r["aux_phase"] == 0.5 for r in result.records)  # 1 of the 2 iterations
    assert result.demos_kept == (2, 0)  # E \\ E_low is empty: no generalist demos
    assert any("phase II: PPO + DAPG" in line for line in lines)
    assert [r for r in result.records if r["phase"] == "generalist+dapg"][0]["dapg_loss"] != 0


def test_the_run_directory_records_the_learner_and_restores_ppg(finished):
    run_dir, result, _ = finished
    saved = json.loads((run_dir / "config.json").read_text())
    config = saved.get("config", saved)
    assert config["learner"] == "ppg" and config["ppg"]["n_pi"] == 2
    env, loaded, params, net, phase, _ = load_generalist(run_dir, ENV)
    assert loaded == CONFIG and phase == "done"
    assert set(params["params"]) >= {"policy_torso", "value_torso", "aux_head"}


def test_experiment_learners_option():
    from gsl_jax.experiments.procgen import resolve_settings

    script = load_script("procgen_gsl")
    args = script.build_parser().parse_args(["--preset", "tiny", "--learner", "ppg"])
    settings = resolve_settings("tiny", script._overrides(args))
    assert settings.learners == ("ppg",) and settings.gsl.learner == "ppg"
    assert resolve_settings("paper").learners == ("ppo", "ppg")
    with pytest.raises(ValueError, match="learners"):
        resolve_settings("tiny", {"learners": ["ppo", "a2c"]})


def test_ppg_specialists_keep_the_generalists_env_count():
    ppo = PPOConfig(num_envs=4, num_steps=8, num_minibatches=2)
    with pytest.raises(ValueError, match="gsl.specialist_num_envs"):
        GSLConfig(ppo=ppo, learner="ppg", specialist_num_envs=2)
    assert GSLConfig(ppo=ppo, learner="ppg", specialist_num_envs=4).specialist_ppo.num_envs == 4

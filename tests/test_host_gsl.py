"""GSL on host environments: every phase over EnvPool's real Procgen games (gsl_jax.host).

One tiny run (leaper, 4 training levels, 2 specialists, 64x64 pixels into an 8-unit MLP, budgets
of a few chunks) is shared by the tests. Needs EnvPool and, on Linux, the Qt 5 runtime; skipped
otherwise with the commands that enable it.
"""

import json
import shutil
import sys

import jax
import numpy as np
import pytest

from gsl_jax.envs.envpool import envpool_unavailable_reason

_REASON = envpool_unavailable_reason()
if _REASON is not None:
    pytest.skip(f"EnvPool's Procgen is unavailable: {_REASON}", allow_module_level=True)

from gsl_jax.checkpoint import checkpoint_folders, read_meta  # noqa: E402
from gsl_jax.envs.envpool import EnvPoolProcgen, envpool_spec  # noqa: E402
from gsl_jax.gsl import GSLConfig, load_generalist, run_gsl  # noqa: E402
from gsl_jax.host import HostRunBuilder, env_seed, evaluate_host  # noqa: E402
from gsl_jax.networks import NetworkConfig  # noqa: E402
from gsl_jax.phases import PHASE2, SPECIALISTS  # noqa: E402
from gsl_jax.plateau import PlateauConfig  # noqa: E402
from gsl_jax.ppo import PPOConfig  # noqa: E402

CHUNK = 4 * 16  # num_envs * num_steps, one update per chunk
CONFIG = GSLConfig(
    ppo=PPOConfig(num_envs=4, num_steps=16, num_minibatches=2, update_epochs=1, gamma=0.99),
    network=NetworkConfig(kind="mlp", hidden=(8,)),  # a tiny net on the 64x64 pixels
    plateau=PlateauConfig(window=2, max_steps=2 * CHUNK),
    num_train_variations=4,
    num_specialists=2,
    num_low=2,
    eval_episodes=2,
    specialist_steps=3 * CHUNK,
    specialist_demo_episodes=2,
    generalist_demo_episodes=2,
    demo_steps=100,  # leaper's random episodes last ~66 steps
    demo_return_threshold=0.0,  # keep every finished episode: demos whatever the policy
    phase2_steps=2 * CHUNK,
    updates_per_chunk=1,
)


SPEC = envpool_spec("leaper", "easy", num_envs=4, levels=range(4), seed=0)


def template():
    return EnvPoolProcgen.from_spec(SPEC)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("host_gsl") / "run"
    records = []
    result = run_gsl(
        template(),
        CONFIG,
        run_dir=run_dir,
        checkpoint_every=1,
        log=lambda m: None,
        on_record=records.append,
        env_spec=SPEC,
    )
    return run_dir, result, records


def test_every_phase_runs_on_envpool(full_run):
    run_dir, result, records = full_run
    phases = [r["gsl_phase"] for r in records]
    assert phases == ["phase1"] * 2 + ["specialists"] * 3 + ["phase2"] * 2
    spec = [r for r in records if r["gsl_phase"] == SPECIALISTS]
    # Two specialists train together: each chunk costs two learners' steps, the generalist none.
    assert all(r["generalist_steps"] == 2 * CHUNK for r in spec)
    assert spec[1]["total_steps"] - spec[0]["total_steps"] == 2 * CHUNK
    assert len(spec[0]["return_mean_per_member"]) == 2
    # E_low: two of the four training levels, one per specialist.
    assert sorted(np.concatenate(result.subsets).tolist()) == sorted(result.low_variations)
    assert len(result.subsets) == 2 and set(result.low_variations) <= set(range(4))
    # Phase II trained with the DAPG term on the host-collected demos.
    assert records[-1]["phase"] == "generalist+dapg"
    assert sum(result.demos_kept) > 0 and (run_dir / "demos.npz").exists()
    assert all("dapg_loss" in r for r in records if r["gsl_phase"] == PHASE2)
    # The selection evaluation (4 levels x 2 first episodes) and demo rollouts are counted.
    extra = records[-1]["total_steps"] - 4 * CHUNK - 2 * 3 * CHUNK
    assert extra > 2 * 3 * 100  # the three demo rollouts of 4 envs x 100 steps, plus the eval
    summary = json.loads((run_dir / "result.json").read_text())
    assert summary["subsets"] == [s.tolist() for s in result.subsets]


def test_specialist_envs_are_pinned_to_their_levels(full_run):
    _, result, _ = full_run
    build = HostRunBuilder(template(), CONFIG)
    workers = build.workers_from(
        jax.tree.map(lambda x: x[0], result.generalist), result.subsets, build.k_spec
    )
    for subset, env in zip(result.subsets, build.envs_of(workers), strict=True):
        seen = set()
        env.reset()
        for _ in range(150):
            _, _, done, info = env.step(np.random.default_rng(0).integers(0, 15, 4))
            seen |= set(info["variation"].tolist())
        assert seen <= set(subset.tolist())


def test_restore_gives_back_the_saved_learner_exactly(full_run):
    run_dir, result, _ = full_run
    last = checkpoint_folders(run_dir / "checkpoints")[-1]
    build = HostRunBuilder(template(), CONFIG)
    prog, arrays = build.restore(last, build.fresh_generalist())
    assert prog.phase == "done"
    saved, restored = jax.device_get(result.generalist), jax.device_get(arrays["generalist"])
    for name in ("params", "opt_state", "reward_norm", "updates"):
        for a, b in zip(
            jax.tree.leaves(getattr(saved, name)),
            jax.tree.leaves(getattr(restored, name)),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    assert jax.random.key_data(saved.rng).tolist() == jax.random.key_data(restored.rng).tolist()
    # The game states are not saved: fresh first frames, zero running episode statistics.
    assert restored.env.obs.shape == (1, 4, 64, 64, 3)
    assert int(np.sum(restored.env.stats.episode_length)) == 0


def test_an_interrupted_run_resumes_from_its_last_checkpoint(full_run, tmp_path):
    """Keep the checkpoints up to the specialists' first chunk, as a run killed in its second
    would leave the directory; the resume continues from there through phase II."""
    full_dir, full, full_records = full_run
    run_dir = tmp_path / "run"
    shutil.copytree(full_dir, run_dir)
    folders = checkpoint_folders(run_dir / "checkpoints")
    phases = [
        (read_meta(p)["progress"]["phase"], read_meta(p)["progress"]["chunk"]) for p in folders
    ]
    keep = phases.index((SPECIALISTS, 1)) + 1
    for path in folders[keep:]:
        shutil.rmtree(path)
    (run_dir / "result.json").unlink()
    last = folders[keep - 1]
    saved = read_meta(last)["progress"]
    records = []
    result = run_gsl(
        template(),
        CONFIG,
        run_dir=run_dir,
        resume=True,
        checkpoint_every=1,
        log=lambda m: None,
        on_record=records.append,
        env_spec=SPEC,
    )
    assert result.resumed_from == str(last)
    # It continued where the checkpoint stood: the specialists' last two chunks, then phase II.
    assert [r["gsl_phase"] for r in records] == ["specialists"] * 2 + ["phase2"] * 2
    assert records[0]["total_steps"] == saved["total_steps"] + 2 * CHUNK
    # The records before it, E_low and the final step counts are the uninterrupted run's
    # (the step counts do not depend on the re-seeded envs; the returns may).
    assert [r["total_steps"] for r in result.records] == [r["total_steps"] for r in full_records]
    assert result.subsets[0].tolist() == full.subsets[0].tolist()
    final = read_meta(checkpoint_folders(run_dir / "checkpoints")[-1])["progress"]
    assert final["phase"] == "done" and (run_dir / "result.json").exists()


def test_load_generalist_rebuilds_the_envpool_env_from_the_saved_spec(full_run):
    run_dir, result, _ = full_run
    env, config, params, _, phase, _ = load_generalist(run_dir)
    assert isinstance(env, EnvPoolProcgen) and env.spec() == SPEC and phase == "done"
    assert config == CONFIG
    saved = jax.tree.leaves(jax.tree.map(lambda x: x[0], result.generalist.params))
    for a, b in zip(saved, jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


#: ``gsl-jax train`` options of a tiny run on 4 leaper levels (the settings of CONFIG).
TINY_CLI = [
    "--env", "leaper", "--backend", "envpool",
    "--gsl.num-train-variations", "4",
    "--gsl.ppo.num-envs", "4",
    "--gsl.ppo.num-steps", "16",
    "--gsl.ppo.num-minibatches", "2",
    "--gsl.ppo.update-epochs", "1",
    "--gsl.network.kind", "mlp",
    "--gsl.network.hidden", "8",
    "--gsl.updates-per-chunk", "1",
    "--checkpoint-every", "1",
    "--no-progress",
]  # fmt: skip


def test_cli_trains_ppo_on_envpool_then_evaluates_and_resumes_it(tmp_path, capsys):
    from gsl_jax.cli import main

    run_dir = tmp_path / "ppo"
    main(["train", "--method", "ppo", "--total-steps", "128", "--run-dir", str(run_dir), *TINY_CLI])
    assert "gsl-jax train: leaper-easy, method ppo" in capsys.readouterr().out
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["env_spec"] == envpool_spec("leaper", "easy", 4, range(4), 0)
    assert json.loads((run_dir / "result.json").read_text())["total_steps"] == 128
    env, _, params, _, phase, _ = load_generalist(run_dir)  # rebuilt from the saved spec
    assert isinstance(env, EnvPoolProcgen) and env.levels.tolist() == [0, 1, 2, 3]
    assert phase == "done" and jax.tree.leaves(params)[0].ndim == 1  # no population axis
    main(["eval", str(run_dir), "--episodes", "1"])  # host evaluation on pinned levels
    report = json.loads((run_dir / "eval.json").read_text())
    assert sorted(report["train"]["per_variation"]) == ["0", "1", "2", "3"]
    main(["train", "--resume", str(run_dir)])  # finished: the saved result, unchanged
    assert "(resume)" in capsys.readouterr().out
    assert len(checkpoint_folders(run_dir / "checkpoints")) == 3  # chunks 1, 2 and "done"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--env", "CartPole-v1"], "env: --backend envpool runs the Procgen games"),
        (["--obs-mode", "symbolic"], "obs_mode: the real games"),
        (["--family", "pole"], "family: gymnax only"),
        (["--gsl.num-train-variations", str(2**31)], "env_spec.options.levels: expected"),
        (["--missing-envpool"], r"pip install \"gsl-jax\[procgen\]\""),
        (["--gsl.num-train-variations", "None"], "gsl.num_train_variations: set the levels"),
        # GSL's host check: one specialist on all of E_low's 4 levels needs 4 envs
        (["--gsl.num-specialists", "1", "--gsl.ppo.num-envs", "2"], "gsl.ppo.num_envs: 2 envs"),
    ],
)
def test_cli_envpool_bad_input_fails_before_anything_is_written(
    tmp_path, monkeypatch, args, message
):
    from gsl_jax.cli import main

    if args == ["--missing-envpool"]:
        monkeypatch.setitem(sys.modules, "envpool", None)  # `import envpool` now fails
        args = []
    with pytest.raises(SystemExit, match=message):
        main(["train", "--run-dir", str(tmp_path / "run"), *TINY_CLI, *args])
    assert not (tmp_path / "run").exists()


def test_host_evaluation_scores_each_level_on_pinned_envs():
    env = template()
    build = HostRunBuilder(env, CONFIG)
    params = jax.tree.map(lambda x: x[0], build.fresh_generalist().params)
    scores = evaluate_host(env, build.net, params, np.array([7, 3, 5]), episodes=2, seed=1)
    assert scores.variations.tolist() == [7, 3, 5]
    assert scores.returns.shape == scores.lengths.shape == (3, 2)
    # leaper: reward 10 for reaching the goal, nothing else (procgen src/games/leaper.cpp)
    np.testing.assert_array_equal(scores.returns, np.where(scores.success, 10.0, 0.0))
    assert np.all(scores.lengths[scores.finished] > 0)


def test_env_seeds_depend_on_seed_levels_and_role_only():
    assert env_seed(0, [1, 2]) == env_seed(0, (1, 2))
    assert len({env_seed(0, [1, 2]), env_seed(1, [1, 2]), env_seed(0, [1, 3])}) == 3
    assert env_seed(0, [1, 2], "demos") != env_seed(0, [1, 2])
    assert 0 <= env_seed(12345, range(200)) < 2**30


def test_bad_host_inputs_fail_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="num_train_variations"):
        run_gsl(template(), GSLConfig(), run_dir=tmp_path / "a")
    small = GSLConfig(**{**CONFIG.__dict__, "num_low": 4, "ppo": PPOConfig(num_envs=1)})
    with pytest.raises(ValueError, match="gsl.ppo.num_envs"):
        run_gsl(template(), small, run_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="neither a JAX Environment nor a host vector env"):
        run_gsl(object(), CONFIG, run_dir=tmp_path / "c")
    assert not any(tmp_path.iterdir())


def test_jax_only_entry_points_refuse_a_host_env(tmp_path):
    from gsl_jax.evaluation import evaluate_variations
    from gsl_jax.phases import RunBuilder
    from gsl_jax.training import PPORunConfig, run_ppo

    env = template()
    # run_ppo takes a host env template (gsl_jax.host.ppo_run), but checks it first
    with pytest.raises(ValueError, match="num_train_variations: leaper-easy has 2,147,483,647"):
        run_ppo(env, PPORunConfig(), run_dir=tmp_path / "ppo")
    with pytest.raises(ValueError, match="RunBuilder needs a JAX Environment"):
        RunBuilder(env, CONFIG)
    with pytest.raises(ValueError, match="evaluate_variations needs a JAX Environment"):
        evaluate_variations(env, None, None, [0])
    assert not any(tmp_path.iterdir())


def test_the_envpool_experiment_without_envpool_names_the_extra(monkeypatch, tmp_path):
    from gsl_jax.experiments.procgen import resolve_settings, run_experiment

    settings = resolve_settings(
        "custom", {"backend": "envpool", "obs_mode": "pixels", "games": ("maze",)}
    )
    monkeypatch.setitem(sys.modules, "envpool", None)  # `import envpool` now fails
    with pytest.raises(ImportError, match=r"pip install \"gsl-jax\[procgen\]\""):
        run_experiment(settings, tmp_path / "run", progress=False, report=False)
    assert not (tmp_path / "run").exists()

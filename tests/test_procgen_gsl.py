"""The Procgen experiment (gsl_jax.experiments.procgen) and its command line
benchmarks/procgen_gsl.py: bad input failing before any training, naming the option, and a tiny
end-to-end run that writes every output (results, metrics, TensorBoard, plots, GIF), shares phase
I between the methods, resumes and is never overwritten. The settings themselves are tested in
tests/test_procgen_settings.py."""

from __future__ import annotations

import json

import pytest
from benchmark_scripts import load_script

from gsl_jax.experiments import procgen as exp
from gsl_jax.experiments.procgen.evaluate import Context


@pytest.fixture(scope="module")
def bench():
    return load_script("procgen_gsl")


def _fail(bench, argv, match, tmp_path):
    """``main(argv)`` must exit with a message matching ``match`` and write nothing."""
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit, match=match):
        bench.main([*argv, "--run-dir", str(run_dir), "--no-progress"])
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--games", "chess"], "games: 'chess' is not a game with a JAX port"),
        (["--games", "fruitbot"], "games: 'fruitbot'"),  # real game, no port
        (["--preset", "quick", "--obs-mode", "pixels"], "obs_mode: the quick preset fixes"),
        (["--preset", "paper", "--steps", "1000"], "steps: the paper preset fixes"),
        (["--preset", "paper", "--network", "mlp"], "network: the paper preset fixes"),
        (["--backend", "envpool", "--preset", "paper", "--timeout", "9"], "timeout: the real"),
        (["--backend", "envpool", "--methods", "ppo"], "obs_mode: the real games"),
        (["--preset", "custom", "--num-low", "300"], "num_low"),
        (["--preset", "tiny", "--num-specialists", "5"], "num_specialists"),
        (["--preset", "custom", "--num-minibatches", "7"], "num_minibatches"),
        (["--seeds", "0", "0"], "seeds"),
        (["--preset", "custom", "--timeout", "0"], "timeout"),
        # non-finite and out-of-range numbers, named as the option was given (issue 24)
        (["--demo-coeff", "nan"], r"demo_coeff \(gsl.dapg.demo_coeff\): must be a finite number"),
        (["--learning-rate", "inf"], r"learning_rate \(gsl.ppo.learning_rate\): must be a finite"),
        (["--gamma", "nan"], r"gamma \(gsl.ppo.gamma\): must be a finite number"),
        (["--seeds", "-1"], r"seeds\[0\]: must be >= 0, got -1"),
        (["--seeds", "0", "2147483648"], r"seeds\[1\]: must be < 2\*\*31"),
        (["--final-eval-episodes", "0"], "final_eval_episodes: must be a positive integer, got 0"),
        (["--phase1-fraction", "nan"], "phase1_fraction: must be a finite number, got nan"),
        (["--specialist-fraction", "inf"], "specialist_fraction: must be a finite number"),
        (["--set", "steps=Infinity"], "steps: expected int, got inf"),
        (["--set", "gsl.ppo.vf_coef=NaN"], "gsl.ppo.vf_coef: must be a finite number, got nan"),
        (["--set", "gsl.dapg.demo_coeff=-1"], "gsl.dapg.demo_coeff: must be non-negative"),
        (["--set", 'gsl.ppo.normalize_rewards="no"'], "gsl.ppo.normalize_rewards: expected bool"),
    ],
)
def test_bad_input_is_a_clear_error_before_training(bench, tmp_path, argv, match):
    _fail(bench, argv, match, tmp_path)


@pytest.mark.parametrize(
    ("option", "value"),
    [("--steps", "inf"), ("--seeds", "1.5"), ("--num-envs", "nan"), ("--demo-coeff", "x")],
)
def test_a_number_of_the_wrong_type_is_refused_by_the_parser_naming_the_option(
    bench, tmp_path, capsys, option, value
):
    with pytest.raises(SystemExit) as info:
        bench.main([option, value, "--run-dir", str(tmp_path / "run"), "--no-progress"])
    assert info.value.code == 2
    assert f"argument {option}: invalid" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unknown_preset_and_method_are_rejected_by_the_parser(bench, tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--preset", "huge", "--run-dir", str(tmp_path / "r")])
    with pytest.raises(ValueError, match="preset"):
        exp.resolve_settings("huge", {})


def test_a_directory_with_other_files_is_refused(bench, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")  # e.g. a `gsl-jax train` run
    with pytest.raises(SystemExit, match="holds no procgen_gsl experiment"):
        bench.main(["--preset", "tiny", "--run-dir", str(run_dir), "--no-progress"])
    with pytest.raises(SystemExit, match="holds no experiment to resume"):
        bench.main(["--preset", "tiny", "--run-dir", str(tmp_path / "new"), "--resume"])


@pytest.fixture(scope="module")
def tiny_run(bench, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("bench") / "tiny"
    results = bench.main(["--preset", "tiny", "--run-dir", str(run_dir), "--no-progress"])
    return run_dir, results


def test_tiny_run_writes_every_output(tiny_run):
    run_dir, results = tiny_run
    for name in (
        "experiment.json",
        "results.json",
        "metrics.jsonl",
        "learning_curves.png",
        "level_heatmap.png",
        "scores.png",
        "generalist.gif",
    ):
        assert (run_dir / name).is_file(), name
    sub = run_dir / "maze" / "seed0"
    assert (sub / "eval.json").is_file()
    for method in ("gsl", "ppo"):
        assert list((sub / method / "tb").glob("events.out.tfevents.*")), method
        assert (sub / method / "checkpoints").is_dir()
    # every record of both methods is in the merged metrics, tagged
    merged = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["method"] for r in merged} == {"gsl", "ppo"}
    assert {r["phase"] for r in merged if r["method"] == "gsl"} >= {
        "generalist",
        "specialists",
        "generalist+dapg",
    }
    # equal budgets: PPO got GSL's total env-steps, rounded up to a whole chunk of 256
    rows = {r["method"]: r for r in results["runs"]}
    assert 0 <= rows["ppo"]["total_steps"] - rows["gsl"]["total_steps"] < 256
    for method in ("gsl", "ppo"):
        for split in ("train", "heldout"):
            assert set(rows[method][split]) == {"return", "success", "normalized"}
    assert set(results["aggregates"]["gsl"]["heldout"]) == {
        "iqm",
        "mean",
        "median",
        "optimality_gap",
    }
    ev = json.loads((sub / "eval.json").read_text())
    assert set(ev["policies"]) == {"gsl", "ppo", "phase1"}
    assert len(ev["policies"]["gsl"]["heldout"]["return"]) == 4
    assert sorted(ev["specialists"]["levels"]) == sorted(rows["gsl"]["low_levels"])


def test_tiny_run_shares_phase_one_between_the_methods(tiny_run):
    run_dir, _ = tiny_run
    sub = run_dir / "maze" / "seed0"
    read = lambda m: [json.loads(x) for x in (sub / m / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    gsl = [r for r in read("gsl") if r["phase"] == "generalist"]
    ppo = read("ppo")[: len(gsl)]
    assert [r["return_mean"] for r in ppo] == [r["return_mean"] for r in gsl]


def test_ppo_alone_trains_what_gsl_phase_one_trains(bench, tiny_run, tmp_path):
    """PPO alone (--methods ppo) from scratch computes GSL's phase I exactly: the same
    initial state, keys and chunk program, so continuing PPO from GSL's phase-I checkpoint is
    PPO alone (what the GSL study's paired runs rely on, docs/gsl_protocol.md amendment 1)."""
    run_dir, _ = tiny_run
    alone = tmp_path / "alone"
    argv = ["--preset", "tiny", "--methods", "ppo", "--run-dir", str(alone), "--no-progress"]
    bench.main([*argv, "--no-report"])
    read = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    gsl = [r for r in read(run_dir / "maze" / "seed0" / "gsl") if r["phase"] == "generalist"]
    ppo = read(alone / "maze" / "seed0" / "ppo")[: len(gsl)]
    assert len(ppo) == len(gsl) >= 2
    keys = [k for k in gsl[0] if k.endswith(("_mean", "loss")) or k in ("entropy", "approx_kl")]
    assert "return_mean" in keys and len(keys) >= 3, keys
    for a, b in zip(ppo, gsl, strict=True):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_an_experiment_branches_its_gsl_runs_from_anothers_phase_one(tiny_run, tmp_path):
    """run_experiment(branch_from=...): each GSL run takes over the other experiment's phase I
    (another DAPG weight reads none of it) and goes on from there."""
    run_dir, _ = tiny_run
    s = exp.resolve_settings("tiny", {"methods": ["gsl"], "demo_coeff": 0.2, "gif_levels": 0})
    out = tmp_path / "branched"
    results = exp.run_experiment(s, out, progress=False, report=False, branch_from=run_dir)
    events = (out / "maze" / "seed0" / "gsl" / "events.log").read_text()
    assert f"branched from {run_dir / 'maze' / 'seed0' / 'gsl' / 'checkpoints'}" in events
    read = lambda d: [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    donor = [r for r in read(run_dir / "maze" / "seed0" / "gsl") if r["phase"] == "generalist"]
    mine = read(out / "maze" / "seed0" / "gsl")
    drop = lambda r: {k: v for k, v in r.items() if k not in ("step", "time")}  # noqa: E731
    assert [drop(r) for r in mine[: len(donor)]] == [drop(r) for r in donor]
    assert len(mine) > len(donor)
    assert [r["method"] for r in results["runs"]] == ["gsl"]


def test_finished_run_is_never_overwritten(bench, tiny_run):
    run_dir, results = tiny_run
    before = (run_dir / "results.json").read_text()
    with pytest.raises(SystemExit, match="already holds a finished run"):
        bench.main(["--preset", "tiny", "--run-dir", str(run_dir), "--no-progress"])
    with pytest.raises(SystemExit, match="holds another experiment"):
        bench.main(["--preset", "tiny", "--seeds", "1", "--run-dir", str(run_dir), "--resume"])
    # resuming a finished run returns its results without training
    again = bench.main(
        ["--preset", "tiny", "--run-dir", str(run_dir), "--resume", "--no-progress", "--no-report"]
    )
    assert again["runs"] == results["runs"]
    assert (run_dir / "results.json").read_text() == before


def test_results_of_an_older_schema_are_rewritten_on_resume_without_training(bench, tiny_run):
    run_dir, results = tiny_run
    old = {k: results[k] for k in ("settings", "runs", "aggregates")}  # what version 1 wrote
    (run_dir / "results.json").write_text(json.dumps(old))
    before = sorted(p.name for p in (run_dir / "maze" / "seed0" / "ppo" / "checkpoints").iterdir())
    args = ["--preset", "tiny", "--run-dir", str(run_dir), "--resume", "--no-progress"]
    again = bench.main([*args, "--no-report"])
    assert again["version"] == 2 and again["runs"] == results["runs"]
    assert json.loads((run_dir / "results.json").read_text())["evaluations"] == [
        {"game": "maze", "seed": 0, "path": "maze/seed0/eval.json"}
    ]
    after = sorted(p.name for p in (run_dir / "maze" / "seed0" / "ppo" / "checkpoints").iterdir())
    assert after == before


def test_envpool_backend_runs_gsl_and_ppo_and_evaluates_held_out_levels(bench, tmp_path):
    from gsl_jax.envs.envpool import envpool_unavailable_reason

    reason = envpool_unavailable_reason()
    if reason is not None:
        pytest.skip(f"EnvPool's real games are unavailable: {reason}")
    run_dir = tmp_path / "ep"
    tiny = "--steps 384 --num-envs 4 --num-steps 16 --num-minibatches 2 --update-epochs 1"
    tiny += " --updates-per-chunk 1 --num-levels 3 --heldout-levels 2 --final-eval-episodes 1"
    tiny += " --gif-levels 1 --gif-steps 4 --hidden 8 --num-specialists 1 --num-low 1"
    tiny += " --phase1-fraction 0.34 --specialist-fraction 0.34 --eval-episodes 1"
    tiny += " --demo-steps 8 --demo-episodes 1"
    argv = ["--backend", "envpool", "--preset", "custom", "--obs-mode", "pixels"]
    argv += ["--network", "mlp", "--games", "maze", "--seeds", "0"]
    results = bench.main([*argv, *tiny.split(), "--run-dir", str(run_dir), "--no-progress"])
    rows = {row["method"]: row for row in results["runs"]}
    assert rows["gsl"]["low_levels"] and set(rows["gsl"]["low_levels"]) <= {0, 1, 2}
    # PPO gets GSL's total env-steps (in whole chunks of 4 x 16 steps).
    assert rows["ppo"]["total_steps"] >= rows["gsl"]["total_steps"] > 384
    assert results["score_constants"] == {"maze": [5.0, 10.0]}
    ev = json.loads((run_dir / "maze" / "seed0" / "eval.json").read_text())
    assert len(ev["policies"]["gsl"]["heldout"]["return"]) == 2  # levels 3 and 4, one each
    assert ev["specialists"]["levels"] == rows["gsl"]["low_levels"]
    for name in ("results.json", "metrics.jsonl", "scores.png", "generalist.gif"):
        assert (run_dir / name).is_file(), name


def test_interrupted_ppo_resumes_to_the_same_policy(bench, tiny_run):
    """Drop PPO's last checkpoint and everything after it, as a killed run would leave the
    directory; --resume continues from the checkpoint before and ends with the same parameters
    and the same per-level evaluation."""
    import shutil

    import jax
    import numpy as np

    from gsl_jax.checkpoint import list_checkpoints
    from gsl_jax.envs.registry import make_env

    run_dir, _ = tiny_run
    sub = run_dir / "maze" / "seed0"
    settings = exp.PRESETS["tiny"]
    ctx = Context(make_env("maze", **exp.env_options(settings)), exp.gsl_config(settings, 0))
    checkpoints = list_checkpoints(sub / "ppo" / "checkpoints")
    assert len(checkpoints) >= 2
    params_before = ctx.restore_ppo(checkpoints[-1])[0].params
    eval_before = json.loads((sub / "eval.json").read_text())
    shutil.rmtree(checkpoints[-1])
    for path in (sub / "ppo" / "result.json", sub / "eval.json", run_dir / "results.json"):
        path.unlink()
    args = ["--preset", "tiny", "--run-dir", str(run_dir), "--resume", "--no-progress"]
    bench.main([*args, "--no-report"])
    final = list_checkpoints(sub / "ppo" / "checkpoints")[-1]
    assert final.name == checkpoints[-1].name
    params_after = ctx.restore_ppo(final)[0].params
    for a, b in zip(jax.tree.leaves(params_before), jax.tree.leaves(params_after), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    eval_after = json.loads((sub / "eval.json").read_text())
    assert eval_after["policies"] == eval_before["policies"]


def test_the_baseline_branches_at_the_end_of_phase_one_and_specialists_are_fully_trained(
    tiny_run,
):
    """The branch point is GSL's boundary checkpoint after phase I (the generalist there is the
    one phase I ended with); the PPO baseline's counters start at its phase-I steps; the
    specialists are scored as their phase ended (the "demos" checkpoint), all chunks trained."""
    from gsl_jax.checkpoint import latest_checkpoint, read_meta
    from gsl_jax.gsl_branch import branch_point

    run_dir, _ = tiny_run
    sub = run_dir / "maze" / "seed0"
    settings = exp.PRESETS["tiny"]
    chunk = exp.chunk_steps(settings)
    branch = read_meta(branch_point(sub / "gsl"))["progress"]
    phase1 = [r for r in branch["records"] if r["phase"] == "generalist"]
    assert branch["phase"] == "select" and len(phase1) == len(branch["records"])
    assert branch["generalist_steps"] == len(phase1) * chunk == phase1[-1]["generalist_steps"]
    ppo = read_meta(latest_checkpoint(sub / "ppo" / "checkpoints"))["progress"]
    assert ppo["phase"] == "done" and ppo["total_steps"] == ppo["chunk"] * chunk
    assert [r["total_steps"] for r in ppo["records"]] == [
        (i + 1) * chunk for i in range(ppo["chunk"])
    ]
    assert all(r["method"] == "ppo" for r in ppo["records"])
    ev = json.loads((sub / "eval.json").read_text())
    assert ev["specialists"]["chunks_trained"] == settings.gsl.specialist_steps // chunk == 3


def test_baseline_checkpoints_of_older_runs_are_read_as_the_same_progress():
    from gsl_jax.experiments.procgen.baseline import progress_of

    records = [{"phase": "generalist", "total_steps": 256}, {"phase": "generalist"}]
    old = {"records": records, "total_steps": 512}
    progress = progress_of(old, 256, 3)
    assert (progress.chunk, progress.checkpoints, progress.phase) == (2, 3, "ppo")
    assert progress.total_steps == progress.generalist_steps == 512
    assert progress.records == tuple(records)
    assert progress_of({"progress": progress.to_dict()}, 256, 9) == progress


def _fake_baseline_context(chunk_of, batch: int, updates_per_chunk: int):
    """A stand-in for the experiment's Context (nothing compiles): a population of one whose
    ``build.chunk(updates=k)`` is ``chunk_of(k)``; what run_baseline and its checkpoint need."""
    from types import SimpleNamespace

    import numpy as np
    from flax import struct

    @struct.dataclass
    class Learner:
        w: np.ndarray
        updates: np.ndarray

    build = SimpleNamespace(
        steps_per_chunk=batch * updates_per_chunk,
        chunk=lambda updates=None: chunk_of(updates or updates_per_chunk),
    )
    config = SimpleNamespace(
        to_dict=dict, updates_per_chunk=updates_per_chunk, ppo=SimpleNamespace(batch_size=batch)
    )
    return SimpleNamespace(
        build=build,
        like=Learner(np.zeros((1, 2), np.float32), np.zeros(1, np.int32)),
        env=SimpleNamespace(name="fake"),
        config=config,
    )


def _fake_metrics(updates: int, value_loss: float) -> dict:
    import numpy as np

    ones = np.ones((updates, 1))
    metrics = {"episodes": ones, "return_sum": ones, "length_sum": ones}
    return metrics | {
        "success_sum": ones,
        "value_loss": value_loss * ones,
        "nonfinite_params": 0 * ones,
    }


def test_a_diverging_baseline_stops_naming_its_run_and_keeps_the_last_good_checkpoint(tmp_path):
    """A chunk with a NaN loss stops the baseline with the library's DivergenceError naming the
    run, the update and the quantity; the checkpoint of the chunk before stays the newest and no
    result.json is written."""
    import numpy as np

    from gsl_jax.checkpoint import list_checkpoints, read_meta
    from gsl_jax.experiments.procgen.baseline import run_baseline
    from gsl_jax.loop import DivergenceError

    def chunk_of(updates):
        def chunk(state):
            state = state.replace(w=state.w + 1.0)
            loss = np.nan if state.w[0, 0] == 2.0 else 0.5  # the second chunk diverges
            return state, _fake_metrics(updates, loss)

        return chunk

    ctx = _fake_baseline_context(chunk_of, batch=8, updates_per_chunk=1)
    ppo_dir = tmp_path / "ppo"
    match = (
        r"the PPO baseline in .*ppo: divergence in phase generalist: value_loss = nan at update 2"
    )
    with pytest.raises(DivergenceError, match=match):
        run_baseline(ctx, 10 * 8, ppo_dir, None, checkpoint_every=1)
    (only,) = list_checkpoints(ppo_dir / "checkpoints")
    assert read_meta(only)["progress"]["total_steps"] == 8
    assert not (ppo_dir / "result.json").exists()


def test_the_baseline_trains_its_budget_to_the_update_with_a_shorter_last_chunk(tmp_path):
    """A budget of 5 updates of 8 env-steps, 2 updates per chunk: two full chunks, then one of
    1 update (built with ``updates=1``), 40 env-steps in all (not 48, the budget rounded up to
    whole chunks); a budget that is not whole updates rounds down (44 -> 40)."""
    from gsl_jax.experiments.procgen.baseline import run_baseline

    built = []

    def chunk_of(updates):
        built.append(updates)

        def chunk(state):
            return state.replace(w=state.w + updates), _fake_metrics(updates, 0.5)

        return chunk

    for total in (40, 44):
        built.clear()
        ctx = _fake_baseline_context(chunk_of, batch=8, updates_per_chunk=2)
        ppo_dir = tmp_path / f"ppo{total}"
        progress = run_baseline(ctx, total, ppo_dir, None, checkpoint_every=1)
        assert sorted(built) == [1, 2]
        assert progress.total_steps == progress.generalist_steps == 40
        assert [r["total_steps"] for r in progress.records] == [16, 32, 40]
        assert json.loads((ppo_dir / "result.json").read_text())["total_steps"] == 40

"""Runs that cannot lie (issue 24): run directories that never adopt or overwrite files,
divergence guards, damaged checkpoints, clean exits. Fast, CPU, tiny ForkMaze runs."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gsl_jax import rundir
from gsl_jax.checkpoint import list_checkpoints
from gsl_jax.cli import main
from gsl_jax.logging import RunLogger
from gsl_jax.loop import ChunkPlan, DivergenceError, Progress, RunIO, run_loop

TINY = [
    "--gsl.ppo.num-envs", "8",
    "--gsl.ppo.num-steps", "16",
    "--gsl.ppo.num-minibatches", "2",
    "--gsl.ppo.update-epochs", "1",
    "--gsl.updates-per-chunk", "2",
    "--no-progress",
]  # fmt: skip
PPO = ["train", "--method", "ppo", "--total-steps", "512", "--checkpoint-every", "1", *TINY]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny ``train --method ppo`` run: 2 chunks, checkpoints 1, 2 and 3 ("done")."""
    run_dir = tmp_path_factory.mktemp("runs") / "ppo"
    main([*PPO, "--run-dir", str(run_dir)])
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == [
        "000001",
        "000002",
        "000003",
    ]
    return run_dir


@pytest.fixture
def run(finished, tmp_path) -> Path:
    """A copy of the finished run to damage."""
    return Path(shutil.copytree(finished, tmp_path / "copy"))


# --- run directories ------------------------------------------------------------------------


def test_fresh_run_refuses_a_folder_with_a_users_file_and_leaves_it(tmp_path):
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    (run_dir / "events.log").write_text("my notes\n")
    with pytest.raises(SystemExit, match="is not empty .*'events.log'"):
        main([*PPO, "--run-dir", str(run_dir)])
    assert (run_dir / "events.log").read_text() == "my notes\n"
    assert sorted(p.name for p in run_dir.iterdir()) == ["events.log"]


def test_run_dir_that_is_a_file_is_named(tmp_path):
    path = tmp_path / "afile"
    path.write_text("x")
    with pytest.raises(SystemExit, match=f"run_dir: {path} is a file"):
        main([*PPO, "--run-dir", str(path)])


def test_resume_refuses_foreign_files_and_other_commands(run):
    (run / "demos.npz").write_bytes(b"not ours")
    with pytest.raises(SystemExit, match="demos.npz was not written by this run"):
        main(["train", "--resume", str(run)])
    (run / "demos.npz").unlink()
    with pytest.raises(SystemExit, match="command: .* holds a 'ppo' run; 'gsl'"):
        main(["train", "--resume", str(run), *TINY])
    with pytest.raises(SystemExit, match="is not empty"):  # gsl-jax ppo into it
        main(["ppo", "--total-steps", "512", "--run-dir", str(run)])


def test_resume_with_run_dir_elsewhere_is_an_error(run, tmp_path):
    with pytest.raises(SystemExit, match="run_dir: --resume .* points elsewhere"):
        main(["train", "--resume", str(run), "--run-dir", str(tmp_path / "other")])


def test_old_run_directory_without_manifest_is_refused_clearly(run):
    (run / "run.json").unlink()
    with pytest.raises(SystemExit, match="older gsl_jax .*no run.json"):
        main(["train", "--resume", str(run)])


def test_edited_env_spec_is_refused_by_eval_naming_the_field(run, tmp_path):
    config = json.loads((run / "config.json").read_text())
    config["env_spec"]["options"]["seed"] = 5
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match=r"env_spec\.options\.seed: .* edited"):
        main(["eval", str(run), "--out", str(tmp_path / "e.json")])
    with pytest.raises(SystemExit, match=r"env_spec\.options\.seed: .*edited"):
        main(["train", "--resume", str(run)])


def test_checkpoint_of_another_env_is_refused_naming_the_field(run, tmp_path):
    meta_path = run / "checkpoints" / "000003" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["env_spec"]["options"]["seed"] = 5
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match=r"env_spec\.options\.seed: checkpoint .*000003"):
        main(["eval", str(run), "--out", str(tmp_path / "e.json")])


def test_resume_appends_metrics_after_the_checkpointed_records(run, capsys):
    before = lines(run / "metrics.jsonl")
    shutil.rmtree(run / "checkpoints" / "000003")  # as if killed after chunk 2's checkpoint ...
    shutil.rmtree(run / "checkpoints" / "000002")  # ... or after chunk 1's
    (run / "result.json").unlink()
    main(["train", "--resume", str(run)])
    after = lines(run / "metrics.jsonl")
    assert len(after) == 2 and after[0] == before[0]  # kept as written: step and time too
    assert after[1]["total_steps"] == before[1]["total_steps"] == 512
    assert after[1]["time"] != before[1]["time"]  # logged again, appended
    assert json.loads((run / "result.json").read_text())["total_steps"] == 512


# --- damaged checkpoints --------------------------------------------------------------------


def test_damaged_newest_checkpoints_fall_back_to_the_previous_complete_one(run, capsys):
    ckpts = run / "checkpoints"
    (ckpts / "000003" / "meta.json").unlink()  # missing metadata
    for f in (ckpts / "000002" / "state").rglob("*"):  # truncated arrays
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(f.read_bytes()[:8])
    (run / "result.json").unlink()
    main(["train", "--resume", str(run)])
    out = capsys.readouterr().out
    assert "checkpoint " in out and "000003 is damaged (no meta.json)" in out
    assert "000002 is damaged" in out and f"fell back to {ckpts / '000001'}" in out
    assert f"resumed from {ckpts / '000001'}" in out
    assert (ckpts / "000003.damaged").is_dir() and (ckpts / "000002.damaged").is_dir()
    # chunk 2 again (the resume checkpoints every 10 chunks), then "done" as 000002
    assert [p.name for p in list_checkpoints(ckpts)] == ["000001", "000002"]
    assert [r["total_steps"] for r in lines(run / "metrics.jsonl")] == [256, 512]


def test_eval_names_the_checkpoint_and_refuses_a_damaged_one(run, tmp_path, capsys):
    main(["eval", str(run), "--episodes", "1", "--out", str(tmp_path / "e.json")])
    assert f"checkpoint {run / 'checkpoints' / '000003'} (phase done)" in capsys.readouterr().out
    assert json.loads((tmp_path / "e.json").read_text())["checkpoint"].endswith("000003")
    (run / "checkpoints" / "000003" / "meta.json").write_text('{"progr')  # overwritten
    with pytest.raises(SystemExit, match="checkpoint .*000003 is damaged .meta.json unreadable"):
        main(["eval", str(run), "--out", str(tmp_path / "e2.json")])


def test_truncated_config_and_result_name_the_file_and_key(run, tmp_path):
    (run / "config.json").write_text('{"method": "ppo", "env": "forkmaze-32x8"}')
    with pytest.raises(SystemExit, match="config.json: malformed .no key 'config'"):
        main(["eval", str(run), "--out", str(tmp_path / "e.json")])
    (run / "config.json").write_text('{"method": "pp')
    with pytest.raises(SystemExit, match="config.json: unreadable or truncated JSON"):
        main(["eval", str(run), "--out", str(tmp_path / "e.json")])


def test_truncated_result_of_a_finished_run_names_the_file(run):
    (run / "result.json").write_text('{"env": "forkmaze-32x8"}')
    with pytest.raises(SystemExit, match="result.json: malformed .no key 'final_return'"):
        main(["train", "--resume", str(run)])


# --- divergence -----------------------------------------------------------------------------


def test_runaway_learning_rate_stops_with_a_message(tmp_path):
    run_dir = tmp_path / "lr"
    with pytest.raises(SystemExit, match="divergence in phase generalist: .*at update"):
        main([*PPO, "--run-dir", str(run_dir), "--gsl.ppo.learning-rate", "1e6"])
    assert list_checkpoints(run_dir / "checkpoints") == []  # nothing saved of the bad chunk
    record = lines(run_dir / "metrics.jsonl")[0]  # but the chunk is logged, as it was
    assert not (math.isfinite(record["value_loss"]) and record["value_loss"] <= 1e8)


def fake_chunk(value_loss: float):
    def chunk(state):
        ones = np.ones((2, 1))
        return state + 1, {
            "episodes": ones,
            "return_sum": ones,
            "length_sum": ones,
            "success_sum": 0 * ones,
            "value_loss": np.array([[1.0], [value_loss]]) if state == 1 else ones,
        }

    return chunk


def test_max_value_loss_guard_stops_before_nan():
    plan = ChunkPlan("generalist", 10, num_chunks=3)
    saved = []

    def save(state, progress):
        saved.append(state)
        return progress

    io = RunIO(None, checkpoint_every=1, max_value_loss=1e8)
    with pytest.raises(DivergenceError, match="value_loss = 1e\\+09 above --max-value-loss 1e"):
        run_loop(fake_chunk(1e9), 0, Progress(), plan, io, save)
    assert saved == [1]  # chunk 2 (with update 4's value loss 1e9) is never saved
    out = run_loop(fake_chunk(1e7), 0, Progress(), plan, io, save)  # below the limit: runs on
    assert out.state == 3
    with pytest.raises(ValueError, match="max_value_loss"):
        RunIO(None, max_value_loss=float("nan"))


def test_non_finite_values_are_recorded_in_jsonl_and_tensorboard(tmp_path, monkeypatch):
    from tensorboardX import SummaryWriter

    written = []
    original = SummaryWriter.add_scalar
    monkeypatch.setattr(
        SummaryWriter,
        "add_scalar",
        lambda self, tag, value, step, *a, **k: (
            written.append((tag, value)) or original(self, tag, value, step, *a, **k)
        ),
    )
    with RunLogger(tmp_path, 10, progress=False) as logger:
        logger.log(5, {"value_loss": math.nan, "policy_loss": math.inf, "return_mean": 1.0})
    record = lines(tmp_path / "metrics.jsonl")[0]
    assert math.isnan(record["value_loss"]) and record["policy_loss"] == math.inf
    tags = dict(written)
    assert math.isnan(tags["value_loss"]) and tags["policy_loss"] == math.inf
    assert tags["nonfinite/value_loss"] == tags["nonfinite/policy_loss"] == 1.0
    assert "nonfinite/return_mean" not in tags


# --- clean exits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "err", [errno.ENOSPC, errno.EROFS, errno.EACCES], ids=["full", "readonly", "denied"]
)
def test_full_or_read_only_disk_ends_with_one_line_naming_the_path(tmp_path, monkeypatch, err):
    def refuse(path, text):
        raise OSError(err, os.strerror(err), str(path))

    monkeypatch.setattr(rundir, "write_atomic", refuse)
    with pytest.raises(SystemExit) as exc:
        main([*PPO, "--run-dir", str(tmp_path / "r")])
    message = str(exc.value)
    assert message.startswith("gsl-jax: error: ") and "run.json" in message
    assert os.strerror(err) in message and "\n" not in message


def test_eval_out_folder_is_checked_before_the_evaluation(run, tmp_path, monkeypatch):
    import gsl_jax.gsl

    monkeypatch.setattr(gsl_jax.gsl, "load_generalist", lambda *a: pytest.fail("evaluated"))
    out = tmp_path / "missing" / "e.json"
    with pytest.raises(SystemExit, match=f"out: the folder {out.parent} of .* does not exist"):
        main(["eval", str(run), "--out", str(out)])


@pytest.mark.parametrize(
    "argv, field",
    [
        (["ppo", "--seed", "-1"], "seed"),
        (["train", "--gsl.seed", "-1", "--no-progress"], "gsl.seed"),
        (["train", "--method", "ppo", "--gsl.seed", "-1"], "gsl.seed"),
        (["train", "--max-value-loss", "0"], "max_value_loss"),
        (["train", "--checkpoint-every", "0"], "checkpoint_every"),
    ],
)
def test_values_that_fail_later_are_refused_up_front(argv, field, capsys):
    """Refused before anything compiles: by the command, or by tyro as it builds the config
    (which then prints its own one-box message and exits with status 2)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    said = f"{exc.value} {capsys.readouterr().err}"
    assert exc.value.code != 0 and f"{field}: must" in said and "Traceback" not in said


def test_ctrl_c_ends_with_one_line_and_an_intact_checkpoint(tmp_path):
    run_dir = tmp_path / "int"
    args = [*PPO, "--run-dir", str(run_dir), "--total-steps", str(256 * 10_000)]
    # Python keeps an inherited SIG_IGN for SIGINT (a suite started as a background job or under
    # nohup passes one down), and then Ctrl-C is ignored by design: give the child Python's own
    # Ctrl-C handling explicitly, as an interactive shell would.
    start = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from gsl_jax.cli import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    deadline = time.monotonic() + 300
    while len(list_checkpoints(run_dir / "checkpoints")) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)  # polling a subprocess's progress, not waiting for a fixed time
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and proc.returncode != -signal.SIGSEGV
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("gsl-jax: interrupted (SIGINT)"), err
    newest = list_checkpoints(run_dir / "checkpoints")[-1]
    assert json.loads((newest / "meta.json").read_text())["progress"]["chunk"] >= 2

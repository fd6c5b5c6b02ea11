"""The gsl-jax command: runs, writes its outputs, refuses bad input and overwrites."""

import json
import subprocess
import sys

import pytest

from gsl_jax.cli import main


def test_ppo_command_writes_run_directory(tmp_path, capsys):
    run_dir = tmp_path / "run"
    main(["ppo", "--total-steps", "5120", "--run-dir", str(run_dir), "--updates-per-chunk", "5"])
    out = capsys.readouterr().out
    assert "final mean episode return" in out
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2560, 5120]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["env_steps"] == 5120
    assert any((run_dir / "tb").iterdir())  # TensorBoard event file
    with pytest.raises(SystemExit, match="run_dir: .* is not empty"):
        main(["ppo", "--total-steps", "5120", "--run-dir", str(run_dir)])
    assert json.loads((run_dir / "result.json").read_text()) == result  # untouched


def test_bad_config_is_reported_before_training(capsys):
    with pytest.raises(SystemExit, match="ppo.num_minibatches"):
        main(["ppo", "--ppo.num-minibatches", "3"])


def test_help_lists_options_with_defaults(capsys):
    # In process: test_train_help_lists_gsl_options_with_defaults runs `python -m gsl_jax.cli`.
    with pytest.raises(SystemExit) as exited:
        main(["ppo", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--total-steps" in out and "default: 200000" in out
    assert "--ppo.num-envs" in out


TINY_TRAIN = [
    "--gsl.ppo.num-envs", "8",
    "--gsl.ppo.num-steps", "16",
    "--gsl.ppo.num-minibatches", "2",
    "--gsl.ppo.update-epochs", "1",
    "--gsl.plateau.min-steps", "0",
    "--gsl.plateau.max-steps", "256",
    "--gsl.specialist-steps", "256",
    "--gsl.phase2-steps", "256",
    "--gsl.updates-per-chunk", "2",
    "--gsl.eval-episodes", "1",
    "--no-progress",
]  # fmt: skip


def test_train_eval_and_resume_commands(tmp_path, capsys):
    run_dir = tmp_path / "gsl"
    main(["train", "--run-dir", str(run_dir), *TINY_TRAIN])
    out = capsys.readouterr().out
    assert "gsl-jax train: forkmaze-32x8" in out and "final mean episode return" in out
    result = json.loads((run_dir / "result.json").read_text())
    assert result["total_steps"] > result["generalist_steps"] == 2 * 256  # phase I + II
    assert len(result["subsets"]) == 4

    # Resuming a finished run with no options uses the saved config and changes nothing.
    main(["train", "--resume", str(run_dir)])
    assert "(resume)" in capsys.readouterr().out
    assert json.loads((run_dir / "result.json").read_text()) == result
    # Resuming with an option that conflicts with the saved config is refused by name.
    with pytest.raises(SystemExit, match="gsl.num_low: saved 4, given 5"):
        main(["train", "--resume", str(run_dir), *TINY_TRAIN, "--gsl.num-low", "5"])
    # A fresh run into a taken folder is refused.
    with pytest.raises(SystemExit, match="holds another run"):
        main(["train", "--run-dir", str(run_dir), *TINY_TRAIN])
    # --branch-from reaches run_gsl (whose branching tests/test_gsl.py checks): refusals.
    with pytest.raises(SystemExit, match=r"gsl.plateau.max_steps \(256 there, 512 here\)"):
        main(["train", "--run-dir", str(tmp_path / "b2"), "--branch-from", str(run_dir),
              *TINY_TRAIN, "--gsl.plateau.max-steps", "512"])  # fmt: skip
    with pytest.raises(SystemExit, match="branch_from: GSL runs only"):
        main(["train", "--method", "ppo", "--branch-from", str(run_dir), "--no-progress"])

    main(["eval", str(run_dir), "--episodes", "2", "--heldout", "0"])
    report = json.loads((run_dir / "eval.json").read_text())
    assert report["phase"] == "done" and len(report["train"]["per_variation"]) == 32
    rates = [v["success"] for v in report["train"]["per_variation"].values()]
    assert report["train"]["success_rate"] == pytest.approx(sum(rates) / 32)
    with pytest.raises(SystemExit, match="eval.json exists already"):
        main(["eval", str(run_dir)])
    with pytest.raises(SystemExit, match="heldout: 10 held-out variations"):
        main(["eval", str(run_dir), "--heldout", "10", "--out", str(tmp_path / "e.json")])


def test_train_method_ppo_writes_a_resumable_run_directory(tmp_path, capsys):
    run_dir = tmp_path / "ppo"
    args = ["train", "--method", "ppo", "--run-dir", str(run_dir), "--total-steps", "512"]
    main([*args, *TINY_TRAIN, "--checkpoint-every", "1"])
    out = capsys.readouterr().out
    assert "method ppo" in out and "final mean episode return" in out
    result = json.loads((run_dir / "result.json").read_text())
    assert result["method"] == "ppo" and result["total_steps"] == result["generalist_steps"] == 512
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["method"] == "ppo" and saved["config"]["total_steps"] == 512
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["total_steps"] for r in records] == [256, 512]  # 2 updates of 8 x 16 per chunk
    assert {r["phase"] for r in records} == {"generalist"}
    assert len(list((run_dir / "checkpoints").iterdir())) == 3  # 2 chunks, then "done"

    main(["train", "--resume", str(run_dir)])  # finished: the saved result, unchanged
    assert "(resume)" in capsys.readouterr().out
    assert json.loads((run_dir / "result.json").read_text()) == result
    main(["eval", str(run_dir), "--episodes", "1"])
    assert json.loads((run_dir / "eval.json").read_text())["phase"] == "done"
    # A GSL resume of a PPO run is refused by name.
    with pytest.raises(SystemExit, match="command: .* holds a 'ppo' run; 'gsl'"):
        main(["train", "--resume", str(run_dir), *TINY_TRAIN])
    with pytest.raises(SystemExit, match="total_steps: only --method ppo"):
        main(["train", "--run-dir", str(tmp_path / "x"), "--total-steps", "512"])


def test_unknown_env_is_named():
    with pytest.raises(SystemExit, match="env: unknown environment 'pong'"):
        main(["train", "--env", "pong", "--no-progress"])


def test_train_help_lists_gsl_options_with_defaults():
    proc = subprocess.run(
        [sys.executable, "-m", "gsl_jax.cli", "train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for option in ("--gsl.num-specialists", "--gsl.dapg.demo-coeff", "--resume", "--run-dir"):
        assert option in proc.stdout, option
    assert "default: 4" in proc.stdout

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
    with pytest.raises(SystemExit, match="run_dir: .* already holds a finished run"):
        main(["ppo", "--total-steps", "5120", "--run-dir", str(run_dir)])
    assert json.loads((run_dir / "result.json").read_text()) == result  # untouched


def test_bad_config_is_reported_before_training(capsys):
    with pytest.raises(SystemExit, match="ppo.num_minibatches"):
        main(["ppo", "--ppo.num-minibatches", "3"])


def test_help_lists_options_with_defaults():
    proc = subprocess.run(
        [sys.executable, "-m", "gsl_jax.cli", "ppo", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "--total-steps" in proc.stdout and "default: 200000" in proc.stdout
    assert "--ppo.num-envs" in proc.stdout

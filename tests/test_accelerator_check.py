"""benchmarks/accelerator_check.py runs on a CPU at its ``--cpu`` sizes and prints its table."""

from __future__ import annotations

import math

import pytest
from benchmark_scripts import load_script

from gsl_jax.presets import FORKMAZE_GSL


@pytest.fixture(scope="module")
def check():
    """The script as a module (benchmarks/ is not a package)."""
    return load_script("accelerator_check")


def test_cpu_run_prints_every_section(check, capsys):
    rows = check.main(["--cpu", "--games", "maze", "--reps", "1"])
    assert [(r.section, r.case) for r in rows] == [
        ("procgen", "maze"),
        ("ppo", "paper preset, impala, maze"),
        ("gsl", "tiny preset (forkmaze), end to end"),
    ]
    assert rows[0].size == "batch 16"
    assert rows[1].size == "4 x 8, unroll"  # a CNN on a CPU unrolls its minibatches
    for row in rows:
        assert math.isfinite(row.rate) and row.rate > 0 and row.first_s > 0
    out = capsys.readouterr().out
    assert "device: cpu" in out and "env-steps/s" in out


def test_cpu_gsl_config_is_the_preset_cut_to_one_chunk_per_phase(check):
    config = check.gsl_config(check.CPU)
    chunk = 64 * 32 * 2  # FORKMAZE_PPO's batch x 2 updates
    assert config.updates_per_chunk == 2
    assert config.plateau.max_steps == chunk and config.plateau.min_steps == chunk
    assert config.specialist_steps == chunk and config.phase2_steps == chunk
    assert check.gsl_config(check.ACCELERATOR) is FORKMAZE_GSL  # the preset itself


@pytest.mark.parametrize(
    "argv, message", [(["--reps", "0"], "--reps"), (["--games", "chess"], "unknown game")]
)
def test_bad_arguments(check, argv, message, capsys):
    with pytest.raises(SystemExit) as raised:
        check.main(["--cpu", "--sections", "procgen", *argv])
    assert message in str(raised.value) + capsys.readouterr().err

"""Kill a GSL run (SIGKILL, in phase I and again during specialist training) or a plain PPO run,
resume it, and get exactly the parameters of an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gsl_jax.checkpoint import latest_checkpoint, list_checkpoints

SCRIPT = Path(__file__).parent / "scripts" / "resume_run.py"
pytestmark = pytest.mark.slow


def start(run_dir: Path, resume: bool = False, method: str = "gsl") -> subprocess.Popen:
    args = [sys.executable, str(SCRIPT), method, str(run_dir)] + (["--resume"] if resume else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def phase_of(checkpoint: Path) -> tuple[str, int]:
    progress = json.loads((checkpoint / "meta.json").read_text())["progress"]
    return progress["phase"], progress["chunk"]


def cycle_of(checkpoint: Path) -> int:
    return json.loads((checkpoint / "meta.json").read_text())["progress"].get("cycle", 1)


def kill_when(
    proc: subprocess.Popen, run_dir: Path, phase: str, min_chunk: int, cycle: int = 1
) -> None:
    """SIGKILL ``proc`` as soon as a checkpoint of ``phase`` with ``chunk >= min_chunk`` exists
    (in GSL cycle ``cycle``)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended before it could be killed:\n{proc.stdout.read()}"
        found = latest_checkpoint(run_dir / "checkpoints")
        if found is not None:
            got_phase, got_chunk = phase_of(found)
            if got_phase == phase and got_chunk >= min_chunk and cycle_of(found) >= cycle:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return
        time.sleep(0.02)  # polling a subprocess's progress, not waiting for a fixed time
    raise AssertionError(f"no {phase} checkpoint within the deadline")


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return out


def params(run_dir: Path) -> list[np.ndarray]:
    with np.load(run_dir / "final_params.npz") as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def assert_same_params_and_results(whole: Path, broken: Path) -> tuple[dict, dict]:
    """The final parameters are bit-identical; returns both runs' result.json records."""
    a, b = params(whole), params(broken)
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    return tuple(json.loads((d / "result.json").read_text()) for d in (whole, broken))


def test_killed_twice_and_resumed_ends_with_the_uninterrupted_parameters(tmp_path):
    """Killed in cycle 1's specialists, resumed, killed again in cycle 2's, resumed to the end:
    the same parameters, records and cycles as a run never interrupted (one test for both the
    one-cycle phases and the second cycle, to keep the suite's subprocess runs few)."""
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    # The reference runs to the end first: it fills the compilation cache, so the three runs of
    # the interrupted one load every program instead of compiling it a second time alongside.
    finish(start(whole, method="gsl-cycles"))

    run = start(broken, method="gsl-cycles")
    kill_when(run, broken, "specialists", 3)
    first_kill = latest_checkpoint(broken / "checkpoints")
    assert phase_of(first_kill)[0] == "specialists" and cycle_of(first_kill) == 1

    run = start(broken, resume=True, method="gsl-cycles")
    kill_when(run, broken, "specialists", 3, cycle=2)
    assert f"resumed from {first_kill}" in run.stdout.read()
    resumed_at = latest_checkpoint(broken / "checkpoints")
    assert phase_of(resumed_at)[0] == "specialists" and cycle_of(resumed_at) == 2

    out = finish(start(broken, resume=True, method="gsl-cycles"))
    assert f"resumed from {resumed_at}" in out

    # The same records, so the same curve; checkpoints only ever complete ones.
    whole_result, broken_result = assert_same_params_and_results(whole, broken)
    keys = ("generalist_steps", "total_steps", "final_return", "low_variations", "subsets")
    for key in (*keys, "cycles"):
        assert whole_result[key] == broken_result[key], key
    assert [c["cycle"] for c in broken_result["cycles"]] == [1, 2]
    metrics = [json.loads(line) for line in (broken / "metrics.jsonl").read_text().splitlines()]
    assert [m["total_steps"] for m in metrics] == sorted({m["total_steps"] for m in metrics})
    assert all((p / "meta.json").exists() for p in list_checkpoints(broken / "checkpoints"))


def test_killed_and_resumed_ppo_run_ends_with_the_uninterrupted_parameters(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    finish(start(whole, method="ppo"))  # first, as above: the interrupted run loads its programs
    run = start(broken, method="ppo")
    kill_when(run, broken, "ppo", 3)
    resumed_at = latest_checkpoint(broken / "checkpoints")
    assert phase_of(resumed_at)[0] == "ppo"

    out = finish(start(broken, resume=True, method="ppo"))
    assert f"resumed from {resumed_at}" in out

    whole_result, broken_result = assert_same_params_and_results(whole, broken)
    assert whole_result == broken_result and whole_result["total_steps"] == 256 * 30
    metrics = [json.loads(line) for line in (broken / "metrics.jsonl").read_text().splitlines()]
    assert [m["total_steps"] for m in metrics] == [256 * (i + 1) for i in range(30)]
    assert [m["return_mean"] for m in metrics] == [
        json.loads(line)["return_mean"]
        for line in (whole / "metrics.jsonl").read_text().splitlines()
    ]
    assert phase_of(latest_checkpoint(broken / "checkpoints")) == ("done", 30)

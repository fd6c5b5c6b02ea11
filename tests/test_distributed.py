"""GSL over two processes (jax.distributed, CPU collectives through gloo) computes what one
process computes, and a two-process run killed mid-phase resumes.

Each run is ``tests/scripts/distributed_run.py`` in subprocesses: one process with 4 forced CPU
devices, or 2 processes on localhost with 2 each (a global mesh of 4). In both the specialists
are sharded over the 4 devices and the generalist's env batch is split over them (the
one-process reference asks for that layout with ``--split-learner``; a multi-process run has it
by default). The runs share the test session's JAX compilation cache, so the later ones compile
little.
"""

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).parent / "scripts"
SCRIPT = SCRIPTS / "distributed_run.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _run(out: Path, processes: int, cache: Path, *extra: str) -> list[subprocess.CompletedProcess]:
    """Run the script as ``processes`` processes (4 devices in all) writing to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={4 // processes}",
        JAX_COMPILATION_CACHE_DIR=str(cache),
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    )
    command = [sys.executable, str(SCRIPT), str(out), *extra]
    if processes > 1:
        port = _free_port()
        command += ["--coordinator", f"localhost:{port}", "--num-processes", str(processes)]
    procs = [
        subprocess.Popen(
            command + (["--process-id", str(i)] if processes > 1 else []),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    done = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return done


def _outputs(out: Path, runs: list[subprocess.CompletedProcess]) -> list[dict]:
    for i, run in enumerate(runs):
        assert run.returncode == 0, f"process {i}:\n{run.stderr[-3000:]}"
    return [json.loads((out / f"out{i}.json").read_text()) for i in range(len(runs))]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """The test session's compilation cache (tests/conftest.py): the subprocesses compile what
    the other GSL tests compiled, and the resumed run what the killed one did."""
    return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])


@pytest.fixture(scope="module")
def single(tmp_path_factory, cache) -> dict:
    """The run on one process with 4 devices."""
    out = tmp_path_factory.mktemp("single")
    (result,) = _outputs(out, _run(out, 1, cache, "--split-learner"))
    return {**result, "run": out / "run"}


def _demos(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "demos.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _same_run(got: dict, want: dict) -> None:
    """The same events, demos and (to float rounding) generalist parameters: the generalist's
    gradient all-reduce sums the 4 devices' parts in another order through gloo than within one
    process (measured: max difference 3e-8), so parameters agree to 1e-6, the rest exactly."""
    assert got["events"] == want["events"]
    assert got["demos_kept"] == want["demos_kept"]
    assert got["specialist_demos"] == want["specialist_demos"]
    for a, b in zip(got["params"], want["params"], strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def _newest(run: Path) -> tuple[Path, dict]:
    newest = sorted((run / "checkpoints").iterdir())[-1]
    return newest, json.loads((newest / "meta.json").read_text())["progress"]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, cache) -> dict:
    """A two-process run killed in phase I, a resume on one process (refused), a resume on two
    processes killed in phase II, and its resume on two processes: one run serves both tests
    below (a run for each would double the file's cost). Both kills land in a phase whose env
    batch is split over the two processes' devices."""
    out = tmp_path_factory.mktemp("resumed")
    killed = _run(out, 2, cache, "--crash-at", "phase1:2")
    run = out / "run"
    newest, progress = _newest(run)
    left = list(out.glob("out*.json"))

    sys.path.insert(0, str(SCRIPTS))
    from distributed_run import tiny_config

    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.gsl import run_gsl

    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    with pytest.raises(ValueError) as refused:
        run_gsl(GymnaxEnv("CartPole-v1", family="pole"), tiny_config(), run, resume=True)
    after = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    killed2 = _run(out, 2, cache, "--resume", "--crash-at", "phase2:2")
    newest2, progress2 = _newest(run)
    left += list(out.glob("out*.json"))
    outs = _outputs(out, _run(out, 2, cache, "--resume"))
    return dict(
        killed=killed + killed2, left=left, newest=[newest, newest2],
        progress=[progress, progress2], refused=str(refused.value), untouched=before == after,
        outs=outs, run=run,
    )  # fmt: skip


def test_two_processes_compute_what_one_process_with_four_devices_computes(single, resumed):
    outs, run = resumed["outs"], resumed["run"]
    assert single["processes"] == 1 and single["devices"] == 4
    assert [o["processes"] for o in outs] == [2, 2] and outs[0]["devices"] == 4
    assert "specialists: 4 x 768 steps, 4 envs each, sharded over 4 devices" in outs[0]["events"]
    for label in ("generalist", "generalist+dapg"):  # phase I and phase II
        assert f"  {label}: 4 envs split over 4 devices, rest replicated" in outs[0]["events"]
    for out in outs:  # both processes end with the one-process run's result
        _same_run(out, single)

    # Process 0 alone wrote the run files (no record twice); every checkpoint is complete.
    def steps(path: Path) -> list[int]:
        lines = (path / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["total_steps"] for line in lines]

    assert steps(run) == steps(single["run"])
    for key, value in _demos(single["run"]).items():
        np.testing.assert_array_equal(_demos(run)[key], value)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (single["run"] / "checkpoints").iterdir())
    assert all((run / "checkpoints" / n / "meta.json").exists() for n in names)


def test_two_process_run_killed_mid_phase_resumes_on_two_processes(resumed):
    assert all(k.returncode != 0 for k in resumed["killed"]) and not resumed["left"]
    phase1, phase2 = resumed["progress"]
    assert (phase1["phase"], phase1["chunk"]) == ("phase1", 1)  # killed mid-phase I
    assert (phase2["phase"], phase2["chunk"]) == ("phase2", 1)  # then mid-phase II
    # The second run resumed from the first's checkpoint (both processes), the third from the
    # second's.
    for killed in resumed["killed"][2:]:
        assert f"resumed from {resumed['newest'][0]} (phase phase1" in killed.stdout
    # A resume with another process count was refused before anything was touched.
    assert re.search(
        r"num_processes: checkpoint .* written by a run of 2 process", resumed["refused"]
    )
    assert resumed["untouched"]
    for out in resumed["outs"]:
        assert out["resumed_from"] == str(resumed["newest"][1])


def test_bad_settings_are_refused_naming_them(tmp_path, cache, monkeypatch):
    import jax

    from gsl_jax import distributed

    with pytest.raises(ValueError, match=r"coordinator: localhost:\d+ could not be reached"):
        distributed.initialize(f"localhost:{_free_port()}", 2, 1, timeout=1)
    with pytest.raises(ValueError, match="coordinator: give --coordinator"):
        distributed.initialize(None, 2, 0)
    with pytest.raises(ValueError, match="process_id: must be in 0 .. 1"):
        distributed.initialize("localhost:1234", 2, 2)
    from gsl_jax.cli import main

    with pytest.raises(SystemExit, match="process_id: give --coordinator"):
        main(["train", "--coordinator", "localhost:1234", "--num-processes", "2"])
    with pytest.raises(SystemExit, match="method: multi-process runs are GSL runs"):
        main(["train", "--method", "ppo", "--distributed"])
    # A generalist env batch that does not split over the devices is refused before anything is
    # compiled or written (this process has one device: 4 are faked, as 2 x 2 processes have).
    sys.path.insert(0, str(SCRIPTS))
    from distributed_run import tiny_config

    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.gsl import run_gsl

    config = tiny_config()
    config = replace(config, ppo=config.ppo.replace(num_envs=6))
    with monkeypatch.context() as patched:
        patched.setattr(jax, "device_count", lambda: 4)
        with pytest.raises(ValueError) as refused:
            env = GymnaxEnv("CartPole-v1", family="pole")
            run_gsl(env, config, tmp_path / "split", shard_learner_batch=True)
    assert str(refused.value).startswith(
        "gsl.ppo.num_envs (--gsl.ppo.num-envs): 6 envs do not divide by the 4 devices"
    )
    assert not (tmp_path / "split").exists()
    # 3 specialists cannot be shared by 2 processes: both stop before writing anything.
    runs = _run(tmp_path, 2, cache, "--num-specialists", "3")
    for run in runs:
        assert run.returncode != 0
        assert "num_specialists: 3 does not divide by the 2 processes" in run.stderr
    assert not (tmp_path / "run").exists()
    # A run directory that process 0 refuses stops process 1 too (it would wait forever).
    busy = tmp_path / "busy"
    (busy / "run").mkdir(parents=True)
    (busy / "run" / "notes.txt").write_text("not a run\n")
    for run in _run(busy, 2, cache):
        assert run.returncode != 0
        assert "is not empty (it holds 'notes.txt')" in run.stderr
    assert sorted(p.name for p in (busy / "run").iterdir()) == ["notes.txt"]

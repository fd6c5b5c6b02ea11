"""The GSL driver: generalist -> specialists -> demonstrations -> generalist with DAPG.

:func:`run_gsl` runs Algorithm 1 of Jia et al. (2022) as the phase table
:data:`gsl_jax.gsl_phases.GSL_PHASES` (phase I, selection, optional pi_g_low, specialists,
demonstrations, phase II with DAPG; that module describes each), every training phase through the
one chunk loop :func:`gsl_jax.loop.run_loop`.

**Checkpoints and resume.** With a ``run_dir`` (layout: :mod:`gsl_jax.run_layout`) the driver
writes
an orbax checkpoint (:mod:`gsl_jax.checkpoint`) at every phase boundary and every
``checkpoint_every`` chunks: the learner states (params, optimiser state, PRNG keys, env states),
the demo buffer, and the :class:`~gsl_jax.phases.GSLProgress` (phase, counters, records, events,
selection and demo counts). ``resume=True`` restarts from the last *complete* checkpoint; since
every random draw comes from the states or from ``config.seed``, a resumed run ends with the same
parameters as an uninterrupted one on the same device. On host environments (:mod:`gsl_jax.host`:
EnvPool's real games) the game states cannot be saved: the envs are rebuilt with their seeds and
reset on resume, so the resumed run keeps the counters and phases but not bit-identical returns.

**Honest accounting.** Every record carries ``generalist_steps`` and ``total_steps`` (specialist
training, evaluation and demo collection included), so curves compare at equal total samples.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gsl_jax import distributed
from gsl_jax.checkpoint import checkpoint_folders, read_meta, restore_newest
from gsl_jax.envs.core import Environment
from gsl_jax.gsl_branch import branch_point, check_branch
from gsl_jax.gsl_config import DEFAULT_SPECIALIST_STEPS, GSLConfig
from gsl_jax.gsl_phases import GSL_PHASES
from gsl_jax.logging import RunLogger
from gsl_jax.loop import MAX_VALUE_LOSS, RunIO
from gsl_jax.phases import (
    PHASE2,
    GSLProgress,
    PhaseContext,
    RunBuilder,
    first,
    make_run_builder,
    run_phases,
)
from gsl_jax.ppo import LearnerState
from gsl_jax.run_layout import (
    check_env_spec,
    env_from_spec,
    load_run,
    open_run,
    run_spec,
    start_run,
    write_result,
)

__all__ = [
    "DEFAULT_SPECIALIST_STEPS",
    "GSLConfig",
    "GSLResult",
    "RunBuilder",
    "load_generalist",
    "load_run_config",
    "result_summary",
    "run_gsl",
]


@dataclass
class GSLResult:
    """What :func:`run_gsl` returns.

    Attributes:
        generalist: the final generalist state (population axis of size 1).
        records: one dict per chunk: phase, gsl_phase, generalist_steps, total_steps and the
            chunk summary.
        events: the readable event log (phase changes, selections, demo counts).
        low_variations: E_low; ``subsets`` its split, one array per specialist.
        demos_kept: successful demo episodes kept (specialists, generalist).
        network: the actor-critic module.
        resumed_from: the checkpoint this run resumed from, if any.
        specialist_demos: per specialist, its variations and demo episodes wanted and kept,
            successful and finished episodes (names a specialist that fell short).
        cycles: per cycle run, ``{"cycle", "low", "subsets", "demos_kept",
            "specialist_demos"}`` (``low_variations`` .. ``specialist_demos`` are the last's).
    """

    generalist: LearnerState
    records: list[dict[str, Any]]
    events: list[str]
    low_variations: np.ndarray
    subsets: list[np.ndarray]
    demos_kept: tuple[int, int]
    network: Any = None
    resumed_from: str | None = None
    specialist_demos: list[dict[str, Any]] = field(default_factory=list)
    cycles: list[dict[str, Any]] = field(default_factory=list)


def load_run_config(run_dir: str | Path) -> tuple[str, dict[str, Any], GSLConfig]:
    """``(env_name, env_spec, config)`` saved in ``run_dir/config.json`` by :func:`run_gsl`."""
    saved = load_run(run_dir)
    if saved["method"] != "gsl":
        raise ValueError(f"run_dir: {run_dir} holds a {saved['method']} run, not a GSL run")
    try:
        config = GSLConfig.from_dict(saved["config"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{Path(run_dir) / 'config.json'}: not a GSL config ({err})") from None
    return saved["env"], saved.get("env_spec", {}), config


def load_generalist(run_dir: str | Path, env: Environment | None = None):
    """The generalist of the newest complete checkpoint in ``run_dir`` (a GSL or a PPO run).

    Returns ``(env, config, params, network, phase, path)``: ``params`` without a population
    axis, ``path`` the checkpoint evaluated (a damaged newest one is refused, naming it),
    ``phase`` its phase (``"done"`` for a finished run); ``config`` a
    :class:`GSLConfig` or a :class:`~gsl_jax.training.PPORunConfig`. ``env`` defaults to the one
    rebuilt from the saved env spec.
    """
    saved = load_run(run_dir)
    if saved["method"] == "ppo":
        from gsl_jax.training import load_ppo_generalist

        return load_ppo_generalist(run_dir, env)
    name, spec, config = load_run_config(run_dir)
    if env is None:
        if not spec:
            raise ValueError(f"run_dir: {run_dir} saved no env spec; pass the env")
        env = env_from_spec(spec)  # an EnvPool spec rebuilds a host env template
    path = newest_checkpoint(run_dir, spec)
    build = make_run_builder(env, config)
    prog, arrays = build.restore(path, build.fresh_generalist())
    return env, config, first(arrays["generalist"]).params, build.net, prog.phase, path


def newest_checkpoint(run_dir: str | Path, env_spec: dict[str, Any] | None) -> Path:
    """The newest checkpoint folder of ``run_dir`` for evaluation: refused (naming it) when it
    is damaged or was written on another env spec; evaluation never falls back silently."""
    folders = checkpoint_folders(Path(run_dir) / "checkpoints")
    if not folders:
        raise FileNotFoundError(f"run_dir: {run_dir} holds no complete checkpoint yet")
    path = folders[-1]
    check_env_spec(path, read_meta(path), env_spec or None)
    return path


def run_gsl(
    env: Environment,
    config: GSLConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    progress: bool = False,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    env_spec: dict[str, Any] | None = None,
    shard: bool = True,
    max_value_loss: float = MAX_VALUE_LOSS,
    shard_learner_batch: bool | None = None,
    branch_from: str | Path | None = None,
) -> GSLResult:
    """Run GSL on ``env``; see the module docstring and :mod:`gsl_jax.gsl_phases`.

    Args:
        env: the environment; variations ``0 .. config.num_train_variations - 1`` are trained on.
            A JAX :class:`~gsl_jax.envs.core.Environment`, or a host vector env with
            ``with_levels`` (e.g. :class:`gsl_jax.envs.envpool.EnvPoolProcgen`): then every phase
            runs on host env batches built from it (:mod:`gsl_jax.host`), learner states are
            checkpointed without the game states, and ``resume`` rebuilds the envs with the
            seeds they started with (:func:`gsl_jax.host.env_seed`) and resets them, giving the
            restored learners fresh first observations and zero running episode statistics;
            params, optimiser states, PRNG keys, counters and the phase progress are restored
            exactly (docs/run_directory.md).
        config: the run's settings.
        run_dir: where the config, checkpoints, ``metrics.jsonl`` (one record per chunk, x axis
            ``total_steps``), TensorBoard events, ``events.log``, ``demos.npz`` and
            ``result.json`` go; ``None`` keeps everything in memory (no checkpoints).
        resume: continue the run in ``run_dir`` from its last complete checkpoint (the config
            must equal the saved one). A finished run returns its saved result at once.
        checkpoint_every: chunks between checkpoints inside a phase (phase boundaries always
            checkpoint).
        progress: draw a progress bar.
        log: receives the event lines.
        on_record: receives each chunk's record.
        env_spec: how to rebuild ``env`` (saved with the config, for ``gsl-jax train --resume``).
        shard: place learners by the placement rule of
            :func:`gsl_jax.population.place_population` (a population of specialists is spread
            over the local devices when ``gcd(P, devices) > 1``; a single learner stays on one).
            On a multi-core CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (set
            before JAX starts) exposes ``N`` CPU devices.
        shard_learner_batch: split the generalist's (and pi_g_low's) env batch over every
            device, replicating the rest (:func:`gsl_jax.distributed.place_learner`;
            ``gsl.ppo.num_envs`` must divide by the device count); ``None``: in a multi-process
            run only.
        max_value_loss: stop (:class:`~gsl_jax.loop.DivergenceError`) when a finite value loss
            exceeds this (runaway divergence); non-finite losses and parameters always stop.
        branch_from: another GSL run's directory whose phase I this run takes over instead of
            training it (:mod:`gsl_jax.gsl_branch`): its config must agree on every field phase
            I reads and its env with ``env`` / ``env_spec`` (else ``ValueError`` naming the
            field, before anything is written); the run starts at that run's checkpoint after
            phase I, its records and events, and ends as a run from scratch would. A resumed
            run continues from its own checkpoints once it has one.
    """
    build = make_run_builder(env, config)  # a bad host env is refused before anything is written
    config.validate_for(env)
    if checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every: must be positive, got {checkpoint_every}")
    distributed.check_run(env, config.num_specialists)
    if distributed.splits_learner_batch(shard_learner_batch):
        distributed.check_learner_batch(env, config.ppo.num_envs)
    spec = run_spec("gsl", env.name, env_spec, config.to_dict())
    branch = _branch_source(branch_from, env, config, env_spec)
    # Process 0 alone claims the run directory and writes its files; all write checkpoints.
    run = distributed.open_on_main(lambda: open_run(run_dir, resume, "gsl", spec))
    ckpt_root = Path(run_dir) if run_dir is not None else None
    prog, arrays = GSLProgress(), {"generalist": build.fresh_generalist()}
    resume_from = None
    if ckpt_root is not None and resume:

        def restore(path: Path) -> tuple[GSLProgress, dict[str, Any]]:
            meta = read_meta(path)
            check_env_spec(path, meta, env_spec)
            distributed.check_process_count(path, meta)  # a resume keeps the process count
            return build.restore(path, arrays["generalist"])

        found = restore_newest(ckpt_root / "checkpoints", restore, log)
        if found is not None:
            resume_from, (prog, arrays) = found
            log(f"resumed from {resume_from} (phase {prog.phase}, {prog.generalist_steps:,} steps)")
    if branch is not None and resume_from is None:
        prog, arrays = build.restore(branch, arrays["generalist"])
        line = f"branched from {branch} after phase I ({prog.generalist_steps:,} steps)"
        log(line)
        prog = dataclasses.replace(prog, events=(*prog.events, line))
    start_run(run, prog.records, prog.events)
    budget = config.max_total_steps  # at most: later cycles need a plateau
    run_path = run.path if run is not None else None
    progress = progress and distributed.is_main_process()
    logger = RunLogger(run_path, budget, progress=progress, desc="gsl", start_step=prog.total_steps)
    with logger:
        meta = {"env": env.name, "env_spec": env_spec, **distributed.checkpoint_meta()}
        if distributed.is_main_process():
            io = RunIO(None, logger, log, on_record, checkpoint_every, meta, max_value_loss, run)
        else:
            io = distributed.WorkerIO(
                ckpt_root, None, log, on_record, checkpoint_every, meta, max_value_loss
            )
        ctx = PhaseContext(build, io, shard, shard_learner_batch)
        arrays, prog = run_phases(ctx, arrays, prog, GSL_PHASES)
    result = GSLResult(
        arrays["generalist"],
        list(prog.records),
        list(prog.events),
        np.asarray(prog.low),
        [np.asarray(s) for s in prog.subsets],
        (int(prog.demos_kept[0]), int(prog.demos_kept[1])),
        build.net,
        str(resume_from) if resume_from is not None else None,
        [dict(d) for d in prog.specialist_demos],
        [dict(c) for c in prog.cycle_log],
    )
    write_result(run, result_summary(result, env))
    return result


def _branch_source(
    branch_from: str | Path | None,
    env: Environment,
    config: GSLConfig,
    env_spec: dict[str, Any] | None,
) -> Path | None:
    """The branch point of ``branch_from`` after checking it can stand for this run's phase I
    (``None`` without one)."""
    if branch_from is None:
        return None
    name, _, source = load_run_config(branch_from)
    if name != env.name:
        raise ValueError(f"branch_from: {branch_from} ran on {name!r}, this run on {env.name!r}")
    check_branch(source, config, branch_from)
    point = branch_point(branch_from)
    check_env_spec(point, read_meta(point), env_spec)
    return point


def _phase2_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The phase-II records: by ``gsl_phase``, or, in records written before it existed, those
    after the last specialist record."""
    if all("gsl_phase" in r for r in records):
        return [r for r in records if r["gsl_phase"] == PHASE2]
    ends = [i for i, r in enumerate(records) if r["phase"] in ("specialists", "finetune_low")]
    return records[ends[-1] + 1 :] if ends else []


def result_summary(result: GSLResult, env: Environment) -> dict[str, Any]:
    """The JSON summary written to ``result.json``; ``final_return`` is the mean return of the
    last phase-II chunk (NaN before phase II)."""
    phase2 = _phase2_records(result.records)
    return {
        "env": env.name,
        "method": "gsl",
        "generalist_steps": result.records[-1]["generalist_steps"] if result.records else 0,
        "total_steps": result.records[-1]["total_steps"] if result.records else 0,
        "final_return": phase2[-1]["return_mean"] if phase2 else math.nan,
        "low_variations": result.low_variations.tolist(),
        "subsets": [s.tolist() for s in result.subsets],
        "demos_kept": list(result.demos_kept),
        "specialist_demos": result.specialist_demos,
        "cycles": result.cycles,
        "events": result.events,
    }

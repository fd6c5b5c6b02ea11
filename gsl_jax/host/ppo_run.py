"""Resumable PPO on host envs: the chunk loop, checkpoints and ``--resume`` of
:func:`gsl_jax.host_rollout.train_ppo_host` and of :func:`gsl_jax.training.run_ppo` on a host
env (``gsl-jax train --method ppo --backend envpool``).

A run with a ``run_dir`` has the layout of every PPO run (:mod:`gsl_jax.run_layout`, command
``"ppo"``: ``config.json`` whose ``config`` is a :class:`~gsl_jax.training.PPORunConfig`,
``checkpoints/``, ``metrics.jsonl``, ``tb/``, ``result.json``). Every ``checkpoint_every``
chunks, and at the end, it checkpoints the learners as GSL's host path does (:mod:`gsl_jax.host`):
params, optimiser state, PRNG keys, reward-normalisation statistics, update counters and the
:class:`~gsl_jax.training.PPOProgress` (chunk, step counters, records). The game states stay in
the host envs and are not saved: a resumed run is handed envs built with the seeds they started
with, resets them, and continues from the checkpoint with their fresh first observations, zero
running episode statistics and zero running discounted returns (:func:`reattach`). It is
deterministic and repeats the counters, step counts and records of an uninterrupted run, not its
returns bit for bit.

Arrays of a checkpoint: ``{"generalist": LearnerState [1]}`` for one learner (what
:func:`gsl_jax.gsl.load_generalist` reads), ``{"population": LearnerState [P]}`` for several.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from gsl_jax.checkpoint import read_meta, restore_checkpoint, restore_newest
from gsl_jax.demos import DemoBuffer
from gsl_jax.host.builder import check_host_env, env_seed
from gsl_jax.host_rollout import HostPPO
from gsl_jax.logging import RunLogger
from gsl_jax.loop import MAX_VALUE_LOSS, RunIO, run_loop
from gsl_jax.networks import make_network
from gsl_jax.ppo import LearnerState
from gsl_jax.run_layout import check_env_spec, open_run, run_spec, start_run, write_result
from gsl_jax.training import (
    PPOProgress,
    PPORunConfig,
    TrainResult,
    _ppo_progress,
    budget_plan,
    history_of,
)


def reattach(restored: LearnerState, fresh: LearnerState) -> LearnerState:
    """``restored`` (a checkpoint's learners) continuing on the envs of ``fresh`` (a learner of
    the same shape whose envs were just built and reset): their first observations, zero
    running episode statistics and zero running discounted returns; everything else restored."""
    norm = restored.reward_norm
    norm = norm.replace(returns=jnp.zeros_like(norm.returns))
    return restored.replace(env=fresh.env, reward_norm=norm)


def host_generalist(env: Any, config: PPORunConfig) -> tuple[HostPPO, Callable[[], LearnerState]]:
    """``(driver, init)`` of a PPO generalist on the host env template ``env`` (``init()``
    resets the envs and returns the fresh learner, ``LearnerState [1]``):
    one batch of ``config.ppo.num_envs`` envs on the training variations, built by
    ``env.with_levels`` with the seed GSL's generalist batch gets (:func:`~gsl_jax.host.env_seed`)
    and initialised with GSL's generalist key, so it starts as a GSL run of the same seed does.
    ``ValueError`` (before any env is built) for a bad env or variation count."""
    check_host_env(env)
    ids = tuple(range(config.train_variations(env)))
    net = make_network(config.network, env.action_space, env.observation_space.shape)
    envs = [env.with_levels(ids, config.ppo.num_envs, env_seed(config.seed, ids))]
    driver = HostPPO(envs, net, config.resolved_ppo())
    k_init = jax.random.split(jax.random.key(config.seed), 4)[0]
    return driver, lambda: driver.init(k_init)


def run_host_ppo(
    driver: HostPPO,
    init: Callable[[], LearnerState],
    config: PPORunConfig,
    env_name: str,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    progress: bool = False,
    tensorboard: bool = True,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    env_spec: dict[str, Any] | None = None,
    label: str = "generalist",
    demos: DemoBuffer | None = None,
    max_value_loss: float = MAX_VALUE_LOSS,
) -> TrainResult:
    """Train ``driver``'s learners from ``init()`` (fresh learners on freshly reset envs) for
    ``config``'s budget, checkpointing into ``run_dir`` and resuming its newest complete
    checkpoint with ``resume`` (module docstring); a finished run returns at once.

    ``label`` is the records' ``phase``; ``demos`` the DAPG buffer when ``driver`` has a DAPG
    term (not saved: a resume must be given the same one; its settings are in the spec). The
    run directory is claimed (or reopened, refusing another spec, naming the field) before
    anything compiles."""
    if checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every: must be positive, got {checkpoint_every}")
    members = driver.population_size
    spec_config = config.to_dict()
    if members > 1:
        spec_config["members"] = members
    if driver.dapg is not None:
        spec_config["dapg"] = dataclasses.asdict(driver.dapg)
    run = open_run(run_dir, resume, "ppo", run_spec("ppo", env_name, env_spec, spec_config))
    key = "generalist" if members == 1 else "population"
    state, prog = init(), PPOProgress()
    if run is not None and resume:
        fresh = state

        def restore(path: Path) -> tuple[LearnerState, PPOProgress]:
            check_env_spec(path, read_meta(path), env_spec)  # before any array is read
            arrays, meta = restore_checkpoint(path, {key: fresh})
            return reattach(arrays[key], fresh), _ppo_progress(path, meta)

        found = restore_newest(run.path / "checkpoints", restore, log)
        if found is not None:
            path, (state, prog) = found
            log(f"resumed from {path} ({prog.total_steps:,} steps; host envs re-seeded)")
    start_run(run, prog.records)
    budget = config.budget()
    batch = driver.config.batch_size
    plan = budget_plan(label, batch, budget, config.updates_per_chunk, tags={"method": "ppo"})
    plan = dataclasses.replace(plan, members=members, generalist=members == 1)
    updates, last = config.updates_per_chunk, budget.last_updates
    run_path = run.path if run is not None else None
    total = budget.num_updates * batch * members
    logger = RunLogger(
        run_path, total, tensorboard, progress, desc="ppo", start_step=prog.total_steps
    )
    with logger:
        meta = {"env": env_name, "env_spec": env_spec}
        io = RunIO(None, logger, log, on_record, checkpoint_every, meta, max_value_loss, run)
        save = lambda s, p: io.save({key: s}, p)  # noqa: E731
        if prog.phase != "done":
            state, prog, _ = run_loop(
                lambda s: driver.run(s, updates, demos),
                state,
                prog,
                plan,
                io,
                save,
                last_chunk=(lambda s: driver.run(s, last, demos)) if last else None,
            )
            prog = save(state, dataclasses.replace(prog, phase="done"))
    result = TrainResult.of(state, history_of(prog.records, members), driver.network, None)
    summary = {
        "env": env_name,
        "method": "ppo",
        "generalist_steps": prog.generalist_steps,
        "total_steps": prog.total_steps,
        "final_return": result.final_return,
        "seed": config.seed,
    }
    write_result(run, summary)
    return result


def run_ppo_on_host(
    env: Any,
    config: PPORunConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    progress: bool = False,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    env_spec: dict[str, Any] | None = None,
    max_value_loss: float = MAX_VALUE_LOSS,
) -> TrainResult:
    """:func:`gsl_jax.training.run_ppo` on a host env template: the generalist of
    :func:`host_generalist` through :func:`run_host_ppo` (records' phase ``"generalist"``).
    ``vec_env`` of the result is the list of its env batches."""
    driver, init = host_generalist(env, config)
    result = run_host_ppo(
        driver,
        init,
        config,
        env.name,
        run_dir,
        resume,
        checkpoint_every,
        progress,
        log=log,
        on_record=on_record,
        env_spec=env_spec,
        max_value_loss=max_value_loss,
    )
    result.vec_env = driver.envs
    return result

"""The experiment's PPO baseline: GSL's generalist continued with plain PPO from the branch point
to a given total of env-steps, through the library's chunk loop (:func:`gsl_jax.loop.run_loop`).

The branch point is GSL's checkpoint at the end of phase I
(:func:`gsl_jax.gsl_branch.branch_point`): the baseline starts from that checkpoint's
generalist, and its progress starts with GSL's phase-I records (tagged ``method="ppo"``) and
counters, so both methods share phase I bit for bit and PPO computes only the chunks after it.
Without a branch (``methods=("ppo",)``) it starts from the generalist a GSL run of the same seed
starts from.

The run directory (``GAME/seedS/ppo/``, docs/run_directory.md) holds ``config.json`` (the seed's
GSL config, from which :mod:`gsl_jax.report` rebuilds the policy), ``checkpoints/`` (arrays
``{"generalist": LearnerState}``; metadata ``progress``, a
:class:`~gsl_jax.training.PPOProgress` whose phase is ``"ppo"`` while training and ``"done"`` at
the end, and ``env``), ``metrics.jsonl`` (exactly the checkpointed records after a resume),
``tb/`` and ``result.json``. A killed run resumes from its last complete checkpoint to the
parameters an uninterrupted one ends with.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gsl_jax.checkpoint import latest_checkpoint, read_meta
from gsl_jax.experiments.procgen import results as res
from gsl_jax.experiments.procgen.evaluate import Context
from gsl_jax.logging import RunLogger
from gsl_jax.loop import DivergenceError, RunIO, chunk_budget, run_loop
from gsl_jax.population import place_population
from gsl_jax.ppo import LearnerState
from gsl_jax.training import PPOProgress, budget_plan

Record = dict[str, Any]


def progress_of(meta: dict[str, Any], steps_per_chunk: int, index: int) -> PPOProgress:
    """The :class:`PPOProgress` of a baseline checkpoint's metadata (``index``: the checkpoint's
    number). Checkpoints written before the baseline ran through the library's loop hold
    ``records`` and ``total_steps`` instead; they are read as the same progress."""
    if "progress" in meta:
        return PPOProgress.from_dict(meta["progress"])
    steps = int(meta["total_steps"])
    return PPOProgress(
        chunk=steps // steps_per_chunk,
        checkpoints=index,
        generalist_steps=steps,
        total_steps=steps,
        records=tuple(meta["records"]),
    )


def steps_done(ppo_dir: Path, steps_per_chunk: int) -> int | None:
    """Env-steps of the baseline's newest complete checkpoint (``None``: none yet)."""
    latest = latest_checkpoint(ppo_dir / "checkpoints")
    if latest is None:
        return None
    return progress_of(read_meta(latest), steps_per_chunk, int(latest.name)).total_steps


def _start(
    ctx: Context, ppo_dir: Path, branch: Path | None
) -> tuple[LearnerState, PPOProgress, bool]:
    """``(state, progress, resumed)``: from the newest checkpoint in ``ppo_dir``, else from the
    branch point, else from the generalist GSL starts from."""
    chunk_steps = ctx.build.steps_per_chunk
    latest = latest_checkpoint(ppo_dir / "checkpoints")
    if latest is not None:
        state, meta = ctx.restore_ppo(latest)
        return state, progress_of(meta, chunk_steps, int(latest.name)), True
    if branch is None:
        return ctx.like, PPOProgress(), False
    gsl_progress, arrays = ctx.restore_gsl(branch)
    shared = tuple(
        dict(r, method="ppo") for r in gsl_progress.records if r["phase"] == "generalist"
    )
    steps = gsl_progress.generalist_steps
    progress = PPOProgress(
        chunk=steps // chunk_steps, generalist_steps=steps, total_steps=steps, records=shared
    )
    return arrays["generalist"], progress, False


def _prepare_dir(
    ctx: Context, ppo_dir: Path, env_spec: dict[str, Any] | None, records: tuple[Record, ...]
) -> None:
    """``config.json`` if new, and ``metrics.jsonl`` holding exactly ``records`` (chunks a killed
    run logged after its last checkpoint are dropped: they run again)."""
    ppo_dir.mkdir(parents=True, exist_ok=True)
    if not (ppo_dir / "config.json").exists():
        saved = {"env": ctx.env.name, "env_spec": env_spec or {}, "config": ctx.config.to_dict()}
        res.write_json(ppo_dir / "config.json", saved)
    tmp = ppo_dir / "metrics.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.replace(ppo_dir / "metrics.jsonl")


def run_baseline(
    ctx: Context,
    total_steps: int,
    ppo_dir: Path,
    branch: Path | None,
    checkpoint_every: int,
    on_record: Callable[[Record], None] | None = None,
    env_spec: dict[str, Any] | None = None,
) -> PPOProgress:
    """Train the baseline to ``total_steps`` env-steps in ``ppo_dir``, from ``branch`` (or from
    scratch with ``None``), resuming ``ppo_dir``'s newest checkpoint if there is one (module
    docstring); returns the final progress. The budget is exact to the update: ``total_steps //
    ppo.batch_size`` updates in all, the last chunk shorter when they are not whole chunks
    (:func:`gsl_jax.loop.chunk_budget`), so a study's budget B is trained to the env-step.

    ``on_record`` receives each chunk's record as it is trained (not the shared phase-I ones).
    Raises :class:`~gsl_jax.loop.DivergenceError` on a non-finite loss or parameter, writing no
    checkpoint over the last good one.
    """
    state, progress, resumed = _start(ctx, ppo_dir, branch)
    _prepare_dir(ctx, ppo_dir, env_spec, progress.records if resumed else ())
    batch, per_chunk = ctx.config.ppo.batch_size, ctx.config.updates_per_chunk
    budget = chunk_budget(total_steps, batch, per_chunk)
    plan = budget_plan("generalist", batch, budget, per_chunk, tags={"method": "ppo"})
    last = ctx.build.chunk(updates=budget.last_updates) if budget.last_updates else None
    logger = RunLogger(ppo_dir, total_steps, progress=False, desc="ppo")
    with logger:
        if not resumed:  # GSL's phase I, shared by both methods, opens the baseline's curve
            for record in progress.records:
                logger.log(record["total_steps"], record)
        io = RunIO(
            ppo_dir,
            logger,
            on_record=on_record,
            checkpoint_every=checkpoint_every,
            meta={"env": ctx.env.name},
        )

        def save(s: LearnerState, p: PPOProgress) -> PPOProgress:
            return io.save({"generalist": s}, p)

        if progress.phase != "done":
            state, _ = place_population(state)  # the placement rule GSL's phases follow
            try:
                state, progress, _ = run_loop(
                    ctx.build.chunk(), state, progress, plan, io, save, last_chunk=last
                )
            except DivergenceError as err:  # say which run of the experiment diverged
                raise DivergenceError(f"the PPO baseline in {ppo_dir}: {err}") from None
            progress = save(state, dataclasses.replace(progress, phase="done"))
    summary = {"total_steps": progress.total_steps, "records": len(progress.records)}
    res.write_json(ppo_dir / "result.json", summary)
    return progress

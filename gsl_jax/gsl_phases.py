"""The phases of GSL (Algorithm 1 of Jia et al., 2022) and their table :data:`GSL_PHASES`.

Each function takes ``(ctx, arrays, progress)`` and returns ``(arrays, progress)``
(:mod:`gsl_jax.phases` states the contract); chunked phases run
:func:`gsl_jax.loop.run_loop`. In order:

1. :func:`generalist_phase` (``"phase1"``): PPO on the training variations until the plateau
   criterion H fires (:mod:`gsl_jax.plateau`) or its budget runs out.
2. :func:`select_phase` (``"select"``): evaluate the generalist on every training variation; the
   ``num_low`` lowest (ties broken at random from the run's key) become E_low, split into
   ``num_specialists`` disjoint subsets (:mod:`gsl_jax.selection`).
3. :func:`finetune_low_phase` (``"finetune_low"``, only with ``low_finetune_steps > 0``): a copy
   of the generalist, pi_g_low, trains on E_low; the specialists are cloned from it.
4. :func:`specialists_phase` (``"specialists"``): ``num_specialists`` clones, one per subset,
   train together in one vmapped program, sharded by the placement rule
   (:func:`gsl_jax.population.place_population`).
5. :func:`demos_phase` (``"demos"``): each specialist plays its subset and keeps its successful
   episodes; the generalist does the same on E \\ E_low (:mod:`gsl_jax.demos`).
6. :func:`generalist_dapg_phase` (``"phase2"``): the generalist resumes PPO on all training
   variations with the DAPG term on the demos (or without it, with a warning, if none was kept).
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import numpy as np

from gsl_jax.demos import DemoBuffer, count_successes, successful_episodes
from gsl_jax.phases import (
    DEMOS,
    FINETUNE_LOW,
    PHASE1,
    PHASE2,
    SELECT,
    SPECIALISTS,
    Arrays,
    GSLProgress,
    Phase,
    PhaseContext,
    first,
)
from gsl_jax.plateau import plateau_reached
from gsl_jax.population import population_devices
from gsl_jax.ppo import LearnerState
from gsl_jax.selection import lowest_variations, split_variations


def generalist_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Phase I: train ``arrays["generalist"]`` until criterion H fires."""
    if progress.chunk == 0:
        progress = ctx.event(
            progress, f"phase I: generalist on {ctx.build.train_ids.size} variations"
        )

    def until(p: GSLProgress) -> str | None:
        phase_records = p.records[len(p.records) - p.chunk :]  # this phase's chunks
        returns = [r["return_mean"] for r in phase_records]
        fired, reason = plateau_reached(
            returns, [r["generalist_steps"] for r in phase_records], ctx.config.plateau
        )
        return reason if fired else None

    plan = ctx.plan(PHASE1, None, until=until)
    arrays, progress, reason = ctx.train(arrays, progress, "generalist", plan, ctx.build.chunk())
    last = progress.records[-1]
    line = f"phase I ends at {progress.generalist_steps:,} steps ({reason}); "
    return arrays, ctx.event(progress, line + f"mean return {last['return_mean']:.2f}")


def select_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Selection: E_low and its split, into ``progress`` (evaluation steps counted)."""
    config, ids = ctx.config, ctx.build.train_ids
    params = first(arrays["generalist"]).params
    scores = ctx.build.evaluate(params, ids, config.eval_episodes, config.seed)
    metric = scores.mean_return() if config.select_metric == "return" else scores.success_rate()
    low = lowest_variations(ids, metric, config.num_low, ctx.build.k_select)
    subsets = split_variations(low, config.num_specialists, config.split, config.seed)
    progress = dataclasses.replace(
        progress,
        total_steps=progress.total_steps + int(scores.lengths.sum()),
        low=tuple(int(v) for v in low),
        subsets=tuple(tuple(int(v) for v in s) for s in subsets),
    )
    progress = ctx.event(
        progress, f"selection: E_low = {list(progress.low)} by {config.select_metric}"
    )
    for i, subset in enumerate(progress.subsets):
        progress = ctx.event(progress, f"  specialist {i}: variations {list(subset)}")
    return arrays, progress


def start_finetune_low(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """pi_g_low's working state: a copy of the generalist on E_low."""
    source = first(arrays["generalist"])
    low = [np.asarray(progress.low)]
    return {**arrays, "worker": ctx.build.workers_from(source, low, ctx.build.k_low)}


def finetune_low_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """pi_g_low: train ``arrays["worker"]`` (one learner) on E_low."""
    steps = ctx.config.low_finetune_steps
    if progress.chunk == 0:
        progress = ctx.event(progress, f"pi_g_low: fine-tune a copy on E_low for {steps:,}")
    plan = ctx.plan(FINETUNE_LOW, ctx.chunks(steps), generalist=False)
    arrays, progress, _ = ctx.train(arrays, progress, "worker", plan, ctx.build.chunk())
    return arrays, progress


def start_specialists(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """The specialists' working state: clones of pi_g_low (if it ran) or of the generalist."""
    source = first(arrays["worker"] if "worker" in arrays else arrays["generalist"])
    sets = [np.asarray(s) for s in progress.subsets]
    workers = ctx.build.workers_from(source, sets, ctx.build.k_spec)
    return {"generalist": arrays["generalist"], "worker": workers}


def specialists_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Train the ``num_specialists`` clones in ``arrays["worker"]`` together."""
    n, num_chunks = ctx.config.num_specialists, ctx.chunks(ctx.config.specialist_steps)
    if progress.chunk == 0:
        devices = len(population_devices(n)) if ctx.shard else 1
        progress = ctx.event(
            progress,
            f"specialists: {n} x {num_chunks * ctx.build.steps_per_chunk:,} steps"
            + (f", sharded over {devices} devices" if devices > 1 else ""),
        )
    plan = ctx.plan(SPECIALISTS, num_chunks, members=n, generalist=False)
    arrays, progress, _ = ctx.train(arrays, progress, "worker", plan, ctx.build.chunk())
    return arrays, progress


def _collect(
    ctx: PhaseContext, params: dict, ids: np.ndarray, episodes: int, key: jax.Array
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, int], int]:
    """One policy's successful episodes on ``ids``: ``(obs, action, counts, env_steps)``."""
    counts = {"wanted": episodes, "kept": 0, "successes": 0, "episodes": 0}
    if episodes == 0 or ids.size == 0:
        return None, None, counts, 0
    config = ctx.config
    traj, env_steps = ctx.build.demo_rollout(params, ids, key, config.demo_steps)
    threshold = config.demo_return_threshold
    obs, action, kept, finished = successful_episodes(traj, episodes, threshold)
    counts.update(kept=kept, successes=count_successes(traj, threshold), episodes=finished)
    return obs, action, counts, env_steps


def demos_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Collect successful episodes of the specialists (on their subsets) and of the generalist
    (on E \\ E_low); returns ``{"generalist", "demos"}`` (no ``"demos"`` if none was kept)."""
    config = ctx.config
    per_specialist = -(-config.specialist_demo_episodes // config.num_specialists)
    keys = jax.random.split(ctx.build.k_demo, config.num_specialists + 1)
    workers: LearnerState = arrays["worker"]
    obs_parts, act_parts, per, used = [], [], [], 0
    for i, subset in enumerate(progress.subsets):
        params = jax.tree.map(lambda x, i=i: x[i], workers.params)
        ids = np.asarray(subset)
        obs, act, counts, steps = _collect(ctx, params, ids, per_specialist, keys[i])
        used += steps
        per.append({"variations": [int(v) for v in ids], **counts})
        if counts["kept"]:
            obs_parts.append(obs)
            act_parts.append(act)
    rest = np.setdiff1d(ctx.build.train_ids, progress.low)
    generalist = first(arrays["generalist"]).params
    obs, act, counts_g, steps = _collect(
        ctx, generalist, rest, config.generalist_demo_episodes, keys[-1]
    )
    used += steps
    if counts_g["kept"]:
        obs_parts.append(obs)
        act_parts.append(act)
    kept_s = sum(c["kept"] for c in per)
    progress = dataclasses.replace(
        progress,
        total_steps=progress.total_steps + used,
        demos_kept=(kept_s, counts_g["kept"]),
        specialist_demos=tuple(per),
    )
    progress = ctx.event(
        progress,
        f"demonstrations: kept {kept_s} specialist and {counts_g['kept']} generalist episodes",
    )
    for i, c in enumerate(per):
        short = " (short)" if c["kept"] < c["wanted"] else ""
        line = f"  specialist {i}: kept {c['kept']} of {c['wanted']} wanted{short}; "
        line += f"{c['successes']} successful of {c['episodes']} finished episodes"
        progress = ctx.event(progress, line)
    out: Arrays = {"generalist": arrays["generalist"]}
    if not obs_parts:
        return out, progress
    demos = DemoBuffer.from_arrays(
        np.concatenate(obs_parts), np.concatenate(act_parts), kept_s + counts_g["kept"]
    )
    progress = dataclasses.replace(
        progress,
        demo_capacity=demos.capacity,
        demo_action_shape=tuple(int(d) for d in demos.action.shape[1:]),
        demo_action_dtype=str(demos.action.dtype),
    )
    # Always written: a resumed run rewrites its own (identical) demos, never keeps a file it
    # did not write (the run directory refuses those).
    target = ctx.io.claim("demos.npz")
    if target is not None:
        target.unlink(missing_ok=True)
        demos.save(target)
    return {**out, "demos": demos}, progress


def start_generalist_dapg(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """The generalist as phase II begins: its update counter restarts at 0.

    The DAPG term is scaled by ``dapg.decay ** state.updates`` (original DAPG's
    ``lambda1 ** k``, ``k`` = updates *with demonstrations*). Counting phase I's updates too
    would start phase II with the term already decayed away (0.95 ** 168 < 1e-3 after the quick
    preset's phase I). Nothing else reads the counter; params, optimiser, env and
    reward-normalisation state carry over unchanged."""
    generalist = arrays["generalist"]
    restarted = generalist.replace(updates=jax.numpy.zeros_like(generalist.updates))
    return {**arrays, "generalist": restarted}


def generalist_dapg_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Phase II: the generalist with the DAPG term on ``arrays["demos"]`` (plain PPO without)."""
    demos = arrays.get("demos")
    plan = ctx.plan(PHASE2, ctx.chunks(ctx.config.phase2_steps))
    if demos is not None:
        dapg = ctx.build.chunk(dapg=True)
        chunk = lambda state: dapg(state, demos)  # noqa: E731
        if progress.chunk == 0:
            line = f"phase II: PPO + DAPG on {int(demos.count)} demo transitions"
            progress = ctx.event(progress, line)
    else:
        chunk, plan = ctx.build.chunk(), dataclasses.replace(plan, label="generalist")
        if progress.chunk == 0:
            message = "no successful demonstrations were kept: phase II runs without DAPG"
            warnings.warn(message, stacklevel=2)
            progress = ctx.event(progress, f"phase II: {message}")
    arrays, progress, _ = ctx.train(arrays, progress, "generalist", plan, chunk)
    line = f"done: {progress.generalist_steps:,} generalist / {progress.total_steps:,} total steps"
    return arrays, ctx.event(progress, line)


#: GSL's phase table, in run order.
GSL_PHASES: tuple[Phase, ...] = (
    Phase(PHASE1, generalist_phase),
    Phase(SELECT, select_phase),
    Phase(
        FINETUNE_LOW,
        finetune_low_phase,
        start_finetune_low,
        applies=lambda config: config.low_finetune_steps > 0,
    ),
    Phase(SPECIALISTS, specialists_phase, start_specialists),
    Phase(DEMOS, demos_phase),
    Phase(PHASE2, generalist_dapg_phase, start_generalist_dapg),
)

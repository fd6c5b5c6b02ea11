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

**Cycles.** With ``max_cycles > 1``, phase II of a cycle also stops when criterion H fires on its
own records while phase-II steps remain: ``progress.cycle`` goes up and the run goes back to
selection (its table entry's ``again``), then pi_g_low, the specialists, the demos (replacing the
buffer, or added to it with ``cycle_demos="add"``) and phase II again. Every later cycle draws
from its own keys (:meth:`~gsl_jax.phases.RunBuilder.cycle_key`); phase II's budget
``phase2_steps`` is shared by all cycles.

**A total budget.** With ``total_steps`` set, phase II also stops at its last whole chunk within
that many total env-steps (everything counted), and a later cycle starts only while the budget
leaves room for it (:func:`_room_for_cycle`): a fixed budget B for every method, as in the GSL
study's protocol (docs/gsl_protocol.md).
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

    plan = ctx.plan(PHASE1, None, progress, until=until)
    arrays, progress, reason = ctx.train(arrays, progress, "generalist", plan, ctx.build.chunk())
    last = progress.records[-1]
    line = f"phase I ends at {progress.generalist_steps:,} steps ({reason}); "
    return arrays, ctx.event(progress, line + f"mean return {last['return_mean']:.2f}")


def select_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Selection: E_low and its split, into ``progress`` (evaluation steps counted)."""
    config, ids, cycle = ctx.config, ctx.build.train_ids, progress.cycle
    params = first(arrays["generalist"]).params
    seed = (config.seed + cycle - 1) % 2**32  # a later cycle: other episodes
    scores = ctx.build.evaluate(params, ids, config.eval_episodes, seed)
    metric = scores.mean_return() if config.select_metric == "return" else scores.success_rate()
    low = lowest_variations(
        ids, metric, config.num_low, ctx.build.cycle_key(ctx.build.k_select, cycle)
    )
    seed = config.seed if cycle == 1 else (config.seed, cycle)
    subsets = split_variations(low, config.num_specialists, config.split, seed)
    progress = dataclasses.replace(
        progress,
        total_steps=progress.total_steps + int(scores.lengths.sum()),
        low=tuple(int(v) for v in low),
        subsets=tuple(tuple(int(v) for v in s) for s in subsets),
    )
    prefix = f"cycle {cycle}: " if cycle > 1 else ""
    progress = ctx.event(
        progress, f"{prefix}selection: E_low = {list(progress.low)} by {config.select_metric}"
    )
    for i, subset in enumerate(progress.subsets):
        progress = ctx.event(progress, f"  specialist {i}: variations {list(subset)}")
    return arrays, progress


def start_select(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """A new cycle's arrays: the generalist, and the demo buffer with ``cycle_demos="add"``."""
    keep = ("generalist", "demos") if ctx.build.carries_demos(progress) else ("generalist",)
    return {k: v for k, v in arrays.items() if k in keep}


def start_finetune_low(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """pi_g_low's working state: a copy of the generalist on E_low."""
    source = first(arrays["generalist"])
    low = [np.asarray(progress.low)]
    key = ctx.build.cycle_key(ctx.build.k_low, progress.cycle)
    return {**arrays, "worker": ctx.build.workers_from(source, low, key)}


def finetune_low_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """pi_g_low: train ``arrays["worker"]`` (one learner) on E_low."""
    steps = ctx.config.low_finetune_steps
    if progress.chunk == 0:
        progress = ctx.event(progress, f"pi_g_low: fine-tune a copy on E_low for {steps:,}")
    plan = ctx.plan(FINETUNE_LOW, ctx.chunks(steps), progress, generalist=False)
    arrays, progress, _ = ctx.train(arrays, progress, "worker", plan, ctx.build.chunk())
    return arrays, progress


def start_specialists(ctx: PhaseContext, arrays: Arrays, progress: GSLProgress) -> Arrays:
    """The specialists' working state: clones of pi_g_low (if it ran) or of the generalist."""
    source = first(arrays["worker"] if "worker" in arrays else arrays["generalist"])
    sets = [np.asarray(s) for s in progress.subsets]
    key = ctx.build.cycle_key(ctx.build.k_spec, progress.cycle)
    workers = ctx.build.workers_from(source, sets, key, specialists=True)
    return {**arrays, "worker": workers}


def specialists_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Train the ``num_specialists`` clones in ``arrays["worker"]`` together."""
    n, per_chunk = ctx.config.num_specialists, ctx.build.spec_steps_per_chunk
    num_chunks = ctx.chunks(ctx.config.specialist_budget, per_chunk)
    if progress.chunk == 0:
        devices = len(population_devices(n)) if ctx.shard else 1
        progress = ctx.event(
            progress,
            f"specialists: {n} x {num_chunks * per_chunk:,} steps, "
            f"{ctx.config.specialist_ppo.num_envs} envs each"
            + (f", sharded over {devices} devices" if devices > 1 else ""),
        )
    plan = ctx.plan(SPECIALISTS, num_chunks, progress, per_chunk, members=n, generalist=False)
    chunk = ctx.build.chunk(specialists=True)
    arrays, progress, _ = ctx.train(arrays, progress, "worker", plan, chunk)
    return arrays, progress


def _keep(
    traj: dict[str, np.ndarray], episodes: int, threshold: float | None
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The successful episodes of one policy's trajectory: ``(obs, action, counts)``."""
    obs, action, kept, finished = successful_episodes(traj, episodes, threshold)
    counts = {"wanted": episodes, "kept": kept, "successes": count_successes(traj, threshold)}
    return obs, action, {**counts, "episodes": finished}


def _specialist_demos(ctx: PhaseContext, workers: LearnerState, subsets, keys, episodes: int):
    """Every specialist's successful episodes on its subset (one batched collection, the
    builder's :meth:`~gsl_jax.phases.RunBuilder.demo_rollouts`): yields ``(ids, obs, action,
    counts, env_steps)`` per specialist."""
    config = ctx.config
    ids = [np.asarray(s) for s in subsets]
    rollouts = ctx.build.demo_rollouts(workers.params, ids, keys, config.demo_steps, True)
    for subset, (traj, env_steps) in zip(ids, rollouts, strict=True):
        obs, action, counts = _keep(traj, episodes, config.demo_return_threshold)
        yield subset, obs, action, counts, env_steps


def _generalist_demos(ctx: PhaseContext, params: dict, ids: np.ndarray, key: jax.Array):
    """The generalist's successful episodes on ``ids``: ``(obs, action, counts, env_steps)``."""
    config, episodes = ctx.config, ctx.config.generalist_demo_episodes
    if episodes == 0 or ids.size == 0:
        return None, None, {"wanted": episodes, "kept": 0, "successes": 0, "episodes": 0}, 0
    params = jax.tree.map(lambda x: x[None], params)
    ((traj, env_steps),) = ctx.build.demo_rollouts(params, [ids], key[None], config.demo_steps)
    obs, action, counts = _keep(traj, episodes, config.demo_return_threshold)
    return obs, action, counts, env_steps


def demos_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Collect successful episodes of the specialists (on their subsets) and of the generalist
    (on E \\ E_low); returns ``{"generalist", "demos"}`` (no ``"demos"`` if none is held). In a
    later cycle with ``cycle_demos="add"`` the buffer holds the earlier demos too."""
    config = ctx.config
    per_specialist = -(-config.specialist_demo_episodes // config.num_specialists)
    k_demo = ctx.build.cycle_key(ctx.build.k_demo, progress.cycle)
    keys = jax.random.split(k_demo, config.num_specialists + 1)
    obs_parts, act_parts, per, used = [], [], [], 0
    if per_specialist:
        found = _specialist_demos(
            ctx, arrays["worker"], progress.subsets, keys[:-1], per_specialist
        )
        for ids, obs, act, counts, env_steps in found:
            used += env_steps
            per.append({"variations": [int(v) for v in ids], **counts})
            obs_parts.append(obs)
            act_parts.append(act)
    else:
        empty = {"wanted": 0, "kept": 0, "successes": 0, "episodes": 0}
        per = [{"variations": [int(v) for v in s], **empty} for s in progress.subsets]
    rest = np.setdiff1d(ctx.build.train_ids, progress.low)
    generalist = first(arrays["generalist"]).params
    obs, act, counts_g, steps = _generalist_demos(ctx, generalist, rest, keys[-1])
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
    this_cycle = {"cycle": progress.cycle, "low": list(progress.low)}
    this_cycle.update(subsets=[list(s) for s in progress.subsets], specialist_demos=per)
    this_cycle["demos_kept"] = list(progress.demos_kept)
    progress = dataclasses.replace(progress, cycle_log=(*progress.cycle_log, this_cycle))
    progress = ctx.event(
        progress,
        f"demonstrations: kept {kept_s} specialist and {counts_g['kept']} generalist episodes",
    )
    for i, c in enumerate(per):
        short = " (short)" if c["kept"] < c["wanted"] else ""
        line = f"  specialist {i}: kept {c['kept']} of {c['wanted']} wanted{short}; "
        line += f"{c['successes']} successful of {c['episodes']} finished episodes"
        progress = ctx.event(progress, line)
    episodes = kept_s + counts_g["kept"]
    old = arrays.get("demos")
    if old is not None:  # cycle_demos="add": the earlier cycles' demos stay
        n = int(old.count)
        obs_parts.insert(0, np.asarray(old.obs[:n]))
        act_parts.insert(0, np.asarray(old.action[:n]))
        episodes += int(old.episodes)
    out: Arrays = {"generalist": arrays["generalist"]}
    rows = sum(len(o) for o in obs_parts)
    if not rows:
        return out, dataclasses.replace(progress, demo_capacity=0)
    demos = DemoBuffer.from_arrays(np.concatenate(obs_parts), np.concatenate(act_parts), episodes)
    progress = dataclasses.replace(
        progress,
        demo_capacity=demos.capacity,
        demo_action_shape=tuple(int(d) for d in demos.action.shape[1:]),
        demo_action_dtype=str(demos.action.dtype),
    )
    # Always written: a resumed run rewrites its own (identical) demos, never keeps a file it
    # did not write (the run directory refuses those). Cycle c > 1 writes demos_cycle{c}.npz.
    name = "demos.npz" if progress.cycle == 1 else f"demos_cycle{progress.cycle}.npz"
    target = ctx.io.claim(name)
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


def _phase2_plan(ctx: PhaseContext, progress: GSLProgress):
    """Phase II's chunks in this cycle (what ``phase2_steps`` leaves after the earlier cycles')
    and, while cycles remain, criterion H on this phase's own records as its ``until``."""
    config, cycle = ctx.config, progress.cycle
    earlier = sum(
        r.get("gsl_phase") == PHASE2 and r.get("cycle", 1) < cycle for r in progress.records
    )
    num_chunks = ctx.chunks(config.phase2_steps) - earlier
    if config.total_steps is not None:  # the chunks done in this phase, and those that fit
        room = (config.total_steps - progress.total_steps) // ctx.build.steps_per_chunk
        num_chunks = min(num_chunks, progress.chunk + max(room, 0))
    if cycle >= config.max_cycles:
        return ctx.plan(PHASE2, num_chunks, progress)
    # H without its hard budget: phase II's own budget ends the last cycle.
    curve = dataclasses.replace(config.plateau, max_steps=max(config.plateau.min_steps, 2**62))

    def until(p: GSLProgress) -> str | None:
        if not _room_for_cycle(ctx, p):
            return None
        phase_records = p.records[len(p.records) - p.chunk :]
        start = phase_records[0]["generalist_steps"] - ctx.build.steps_per_chunk
        steps = [r["generalist_steps"] - start for r in phase_records]
        fired, reason = plateau_reached([r["return_mean"] for r in phase_records], steps, curve)
        return reason if fired else None

    return ctx.plan(PHASE2, num_chunks, progress, until=until)


def _room_for_cycle(ctx: PhaseContext, progress: GSLProgress) -> bool:
    """Whether ``total_steps`` (if set) leaves room for another cycle's specialists, pi_g_low
    and one phase-II chunk (its selection evaluation and demos are not known in advance)."""
    config = ctx.config
    if config.total_steps is None:
        return True
    need = config.cycle_steps + ctx.build.steps_per_chunk
    return config.total_steps - progress.total_steps >= need


def generalist_dapg_phase(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress
) -> tuple[Arrays, GSLProgress]:
    """Phase II: the generalist with the DAPG term on ``arrays["demos"]`` (plain PPO without);
    raises ``progress.cycle`` when H fires while cycles and phase-II steps remain."""
    demos = arrays.get("demos")
    plan = _phase2_plan(ctx, progress)
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
    arrays, progress, reason = ctx.train(arrays, progress, "generalist", plan, chunk)
    if reason and progress.chunk < plan.num_chunks:
        cycle = progress.cycle + 1
        line = f"cycle {cycle}: phase II plateaued at {progress.generalist_steps:,} steps"
        progress = dataclasses.replace(progress, cycle=cycle)
        return arrays, ctx.event(progress, line + f" ({reason}); selection again")
    line = f"done: {progress.generalist_steps:,} generalist / {progress.total_steps:,} total steps"
    return arrays, ctx.event(progress, line)


#: GSL's phase table, in run order.
GSL_PHASES: tuple[Phase, ...] = (
    Phase(PHASE1, generalist_phase),
    Phase(SELECT, select_phase, start_select),
    Phase(
        FINETUNE_LOW,
        finetune_low_phase,
        start_finetune_low,
        applies=lambda config: config.low_finetune_steps > 0,
    ),
    Phase(SPECIALISTS, specialists_phase, start_specialists),
    Phase(DEMOS, demos_phase),
    Phase(PHASE2, generalist_dapg_phase, start_generalist_dapg, again=SELECT),
)

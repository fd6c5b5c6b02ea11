"""Accelerator check: the figures that say whether a GPU (or TPU) serves gsl_jax well.

One table, headed by the device, with three sections:

1. ``procgen``: every Procgen port's pixel env-steps/s, ``VecEnv`` with its level bank in a jitted
   ``lax.scan`` of uniform random actions on the 200 easy training levels, at batch 4,096 and
   16,384 (``--cpu``: 16);
2. ``ppo``: one PPO update of the paper preset (:data:`gsl_jax.presets.PROCGEN`: 64 envs x 256
   steps, 8 minibatches, 3 epochs) with the IMPALA CNN on coinrun's pixels, in env-steps/s
   (``--cpu``: on maze, 4 envs x 8 steps, 1 minibatch, 1 epoch);
3. ``gsl``: the tiny GSL preset (:data:`gsl_jax.presets.FORKMAZE_GSL`) end to end, every phase,
   in env-steps/s of the whole run (``--cpu``: its phase budgets cut to a chunk of 2 updates
   each).

Every figure is the best of ``--reps`` timed calls after one call that compiles; the compile (and
first call) time is reported beside it. Sized to finish in under 5 minutes on one GPU; on a CPU
use ``--cpu``, which keeps every section but shrinks it to a smoke test.

Usage::

    python benchmarks/accelerator_check.py                  # on the accelerator
    python benchmarks/accelerator_check.py --cpu            # smoke test on a CPU
    python benchmarks/accelerator_check.py --sections procgen --games maze coinrun
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SECTIONS = ("procgen", "ppo", "gsl")


@dataclass(frozen=True)
class Sizes:
    """How large each section's work is.

    Attributes:
        batches: env batch sizes of the ``procgen`` section.
        procgen_steps: steps per timed ``lax.scan`` call of a port.
        ppo_changes: changes to the paper preset's :class:`~gsl_jax.ppo.PPOConfig` (none on an
            accelerator).
        ppo_game: the port the ``ppo`` section trains on.
        gsl_scale: factor applied to the tiny GSL preset's step budgets (1: as it is).
        gsl_updates_per_chunk: PPO updates per GSL chunk (``None``: the preset's).
    """

    batches: tuple[int, ...]
    procgen_steps: int
    ppo_changes: dict
    ppo_game: str = "coinrun"
    gsl_scale: float = 1.0
    gsl_updates_per_chunk: int | None = None


ACCELERATOR = Sizes(batches=(4096, 16384), procgen_steps=64, ppo_changes={})
CPU = Sizes(
    batches=(16,),
    procgen_steps=16,
    ppo_changes=dict(num_envs=4, num_steps=8, num_minibatches=1, update_epochs=1),
    ppo_game="maze",  # its rollout compiles faster than coinrun's
    gsl_scale=0.01,
    gsl_updates_per_chunk=2,
)


@dataclass(frozen=True)
class Row:
    """One line of the table: ``rate`` env-steps/s after ``first_s`` seconds of compile and
    first call."""

    section: str
    case: str
    size: str
    first_s: float
    rate: float


def best_time(fn: Callable[[int], object], reps: int) -> tuple[float, float]:
    """``(first_call_s, best_s)``: ``fn(0)`` once (compiling), then the best of ``reps`` calls
    ``fn(1) .. fn(reps)``; ``fn`` must block until its result is ready."""
    start = time.perf_counter()
    fn(0)
    first = time.perf_counter() - start
    best = float("inf")
    for i in range(1, reps + 1):
        start = time.perf_counter()
        fn(i)
        best = min(best, time.perf_counter() - start)
    return first, best


def procgen_rows(games: Sequence[str], sizes: Sizes, reps: int) -> list[Row]:
    """Pixel env-steps/s of each port at each batch size."""
    import jax

    from gsl_jax.envs.core import VariationSet, VecEnv
    from gsl_jax.envs.procgen import make

    levels = VariationSet.range(200)
    rows = []
    for game in games:
        env = make(game, distribution_mode="easy", obs_mode="pixels")
        for batch in sizes.batches:
            vec = VecEnv(env, batch)
            num_actions = env.action_space.n

            @jax.jit
            def rollout(key, vec=vec, batch=batch, num_actions=num_actions):
                k_reset, k_steps = jax.random.split(key)
                state = vec.reset(k_reset, levels)
                bank = vec.level_bank(levels)

                def body(state, key):
                    k_action, k_draw = jax.random.split(key)
                    action = jax.random.randint(k_action, (batch,), 0, num_actions)
                    draws = vec.draw(k_draw, levels, bank=bank)
                    state, reward, _, _ = vec.step_with_draws(draws, state, action)
                    return state, reward.sum()

                keys = jax.random.split(k_steps, sizes.procgen_steps)
                state, rewards = jax.lax.scan(body, state, keys)
                # The frames are the carry, so every step renders; using the last keeps them live.
                return rewards.sum() + state.obs.sum()

            def run(seed, rollout=rollout):
                jax.block_until_ready(rollout(jax.random.key(seed)))

            first, best = best_time(run, reps)
            steps = batch * sizes.procgen_steps
            rows.append(Row("procgen", game, f"batch {batch:,}", first, steps / best))
    return rows


def ppo_row(sizes: Sizes, reps: int) -> Row:
    """One fused PPO update (rollout + learning) of the paper preset with the IMPALA CNN on
    ``sizes.ppo_game``'s pixels."""
    import jax
    import jax.numpy as jnp

    from gsl_jax.envs.core import VariationSet, VecEnv
    from gsl_jax.envs.procgen import make
    from gsl_jax.networks import NetworkConfig, make_network
    from gsl_jax.ppo import init_learner, make_update
    from gsl_jax.presets import PROCGEN

    config = PROCGEN.replace(**sizes.ppo_changes)
    env = make(sizes.ppo_game, distribution_mode="easy", obs_mode="pixels")
    vec = VecEnv(env, config.num_envs)
    net = make_network(NetworkConfig(kind="impala"), env.action_space, env.observation_space.shape)
    state = init_learner(jax.random.key(0), vec, net, config, VariationSet.range(200))
    state = jax.tree.map(jnp.copy, state)  # the update donates its input: no shared buffers
    update = jax.jit(make_update(vec, net, config), donate_argnums=0)
    box = [state]

    def run(_):
        box[0], metrics = update(box[0])
        jax.block_until_ready(metrics)

    first, best = best_time(run, reps)
    loop = config.resolved_loop("impala")
    size = f"{config.num_envs} x {config.num_steps}, {loop}"
    case = f"paper preset, impala, {sizes.ppo_game}"
    return Row("ppo", case, size, first, config.batch_size / best)


def gsl_config(sizes: Sizes):
    """The tiny GSL preset, its step budgets scaled by ``sizes.gsl_scale`` (at least one chunk
    each) and, when ``sizes.gsl_updates_per_chunk`` is set, with chunks of that many updates."""
    from gsl_jax.presets import FORKMAZE_GSL

    c = FORKMAZE_GSL
    if sizes.gsl_scale == 1.0 and sizes.gsl_updates_per_chunk is None:
        return c
    per_chunk = sizes.gsl_updates_per_chunk or c.updates_per_chunk
    chunk = c.ppo.batch_size * per_chunk
    steps = lambda n: max(chunk, int(n * sizes.gsl_scale))  # noqa: E731
    plateau = dataclasses.replace(
        c.plateau, min_steps=steps(c.plateau.min_steps), max_steps=steps(c.plateau.max_steps)
    )
    # dataclasses.replace runs __post_init__: the shrunken config is validated too.
    return dataclasses.replace(
        c,
        plateau=plateau,
        updates_per_chunk=per_chunk,
        specialist_steps=steps(c.specialist_steps),
        phase2_steps=steps(c.phase2_steps),
        eval_episodes=1,
        demo_steps=min(c.demo_steps, 16),
    )


def gsl_row(sizes: Sizes) -> Row:
    """The tiny GSL preset end to end on ForkMaze, once (its phases compile as they start)."""
    from gsl_jax.envs.forkmaze import ForkMaze
    from gsl_jax.gsl import run_gsl

    config = gsl_config(sizes)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the run's event log
        result = run_gsl(ForkMaze(), config)
    seconds = time.perf_counter() - start
    total = int(result.records[-1]["total_steps"])
    name = "tiny preset (forkmaze), end to end"
    return Row("gsl", name, f"{total:,} env-steps", seconds, total / seconds)


def table(rows: Sequence[Row], device: str) -> str:
    """The rows as a fixed-width table headed by ``device``."""
    lines = [
        f"device: {device}",
        f"{'section':8s} {'case':36s} {'size':22s} {'compile+1st s':>13s} {'env-steps/s':>13s}",
    ]
    for r in rows:
        lines.append(f"{r.section:8s} {r.case:36s} {r.size:22s} {r.first_s:13.1f} {r.rate:13,.0f}")
    return "\n".join(lines)


def device_name() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', '?')} x{jax.device_count()}"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU, at smoke-test sizes")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--games", nargs="+", default=None, help="ports (default: all)")
    parser.add_argument("--reps", type=int, default=3, help="timed calls after the first")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error(f"--reps: must be at least 1, got {args.reps}")
    return args


def main(argv: Sequence[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    if args.cpu:
        import jax

        jax.config.update("jax_platforms", "cpu")
    import gsl_jax  # noqa: F401  (sets its XLA flags before the first computation)
    from gsl_jax.envs.procgen import GAMES, available_games

    games = available_games() if args.games is None else args.games
    unknown = [g for g in games if g not in GAMES]
    if unknown:
        raise SystemExit(f"--games: unknown game {unknown[0]!r}; known: {sorted(GAMES)}")
    sizes = CPU if args.cpu else ACCELERATOR
    device = device_name()
    print(f"accelerator check on {device}", flush=True)
    rows: list[Row] = []
    if "procgen" in args.sections:
        rows += procgen_rows(games, sizes, args.reps)
    if "ppo" in args.sections:
        rows.append(ppo_row(sizes, args.reps))
    if "gsl" in args.sections:
        rows.append(gsl_row(sizes))
    print(table(rows, device), flush=True)
    return rows


if __name__ == "__main__":
    main()

"""GSL's specialist phase at population scale: env-steps/s and peak memory against P = 4.

Each population size ``P`` runs in its own process (so peak memory is its own): ``P``
specialists cloned from one generalist, one training level each (levels ``0 .. P-1`` of
``2 * max(P)`` training levels, as ``num_low = num_specialists = P`` would hand them out), built
by :class:`gsl_jax.phases.RunBuilder` exactly as :func:`gsl_jax.gsl.run_gsl` builds them
(``specialist_num_envs`` envs each, the population placed by
:func:`gsl_jax.population.place_population`), and trains for ``--chunks`` compiled chunks of
``--updates`` PPO updates after one chunk that compiles. Per-specialist settings are the same
for every ``P``: the compact-observation PPO of :data:`gsl_jax.presets.PROCGEN_COMPACT` with
``--num-envs`` envs and the 64x64 MLP. Printed: env-steps/s of the population, its ratio to
P = 4's, the per-specialist rate, peak process RSS, and jax's peak device memory where the
backend reports it (the CPU backend does not).

    nice -n 10 python benchmarks/specialist_population.py                  # coinrun easy
    nice -n 10 python benchmarks/specialist_population.py --sizes 4 16 --chunks 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence

import jax
import numpy as np

from gsl_jax.envs.procgen import make
from gsl_jax.gsl import GSLConfig
from gsl_jax.phases import RunBuilder, first
from gsl_jax.population import place_population, population_devices
from gsl_jax.presets import MLP_64, PROCGEN_COMPACT


def measure(game: str, mode: str, size: int, levels: int, args: argparse.Namespace) -> dict:
    """One population of ``size`` specialists: seconds per chunk and peak memory."""
    env = make(game, distribution_mode=mode, obs_mode="symbolic")
    config = GSLConfig(
        ppo=PROCGEN_COMPACT,
        network=MLP_64,
        num_train_variations=levels,
        num_specialists=size,
        num_low=size,
        specialist_num_envs=args.num_envs,
        updates_per_chunk=args.updates,
    )
    build = RunBuilder(env, config)
    source = first(build.fresh_generalist())
    workers = build.workers_from(source, [[v] for v in range(size)], build.k_spec, True)
    state, _ = place_population(workers, True)
    chunk = build.chunk(specialists=True)
    start = time.perf_counter()
    state, metrics = chunk(state)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(args.chunks):
        start = time.perf_counter()
        state, metrics = chunk(state)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    steps = size * build.spec_steps_per_chunk
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return {
        "size": size,
        "devices": len(population_devices(size)),
        "steps_per_chunk": steps,
        "first_chunk_s": compile_s,
        "chunk_s": float(np.median(times)),
        "steps_per_s": steps / float(np.median(times)),
        # ru_maxrss is in KiB on Linux
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "jax_peak_mib": None if peak is None else peak / 2**20,
    }


def table(rows: Sequence[dict]) -> str:
    """The Markdown table of the measured populations (ratios against the first row)."""
    base = rows[0]
    lines = [
        f"| P | env-steps/s | ratio to P = {base['size']} | per specialist | chunk s "
        "| compile+first chunk s | peak RSS MiB | jax peak MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        jax_peak = "n/a" if r["jax_peak_mib"] is None else f"{r['jax_peak_mib']:.0f}"
        lines.append(
            f"| {r['size']} | {r['steps_per_s']:,.0f} | "
            f"{r['steps_per_s'] / base['steps_per_s']:.2f} | {r['steps_per_s'] / r['size']:,.0f} | "
            f"{r['chunk_s']:.2f} | {r['first_chunk_s']:.1f} | {r['peak_rss_mib']:,.0f} | "
            f"{jax_peak} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="coinrun")
    parser.add_argument("--mode", default="easy", choices=("easy", "hard"))
    parser.add_argument("--sizes", nargs="+", type=int, default=[4, 16, 64, 200])
    parser.add_argument("--num-envs", type=int, default=8, help="envs per specialist")
    parser.add_argument("--updates", type=int, default=1, help="PPO updates per chunk")
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks after the first")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    levels = 2 * max(args.sizes)  # N_lenv = P is at most half of the training levels
    if args.one is not None:
        print(json.dumps(measure(args.game, args.mode, args.one, levels, args)))
        return []
    rows = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, *(argv or sys.argv[1:]), "--one", str(size)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"P = {size}: failed\n{out.stderr[-2000:]}")
            break
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\n{args.game} {args.mode}, compact observations, {args.num_envs} envs x "
        f"{PROCGEN_COMPACT.num_steps} steps per specialist, {args.updates} update(s) per chunk, "
        f"{jax.devices()[0].platform}\n"
    )
    if rows:
        print(table(rows))
    return rows


if __name__ == "__main__":
    main()

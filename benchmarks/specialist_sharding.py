"""GSL's specialists on one device vs sharded over several, for two of our GSL presets.

``gsl_jax.gsl.run_gsl`` spreads the specialists' population axis over the local devices when
there are several (``shard=True``); single learners stay on one device. On a CPU, XLA exposes
several devices only when asked to, so this script sets
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` itself (``--devices``, default one per
core) before JAX starts. In one process it times one compiled chunk of PPO updates, alternating:

* the specialists (a population of ``num_specialists``) on device 0 and sharded over all devices;
* a single learner on device 0 and with its env batch split over all devices, the layout
  ``run_gsl`` does *not* use (this row shows why).

Figures (ms per update, best of ``--reps``) go to ``docs/benchmarks.md`` section 2.

    python benchmarks/specialist_sharding.py                      # both presets, ~3 min on 2 cores
    python benchmarks/specialist_sharding.py --presets forkmaze --reps 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PRESETS = ("forkmaze", "procgen-quick")


def build(preset: str) -> tuple[Any, Any, Any]:
    """``(env, GSLConfig, RunBuilder)`` of ``preset``: the ``gsl-jax train`` ForkMaze defaults,
    or seed 0 of ``benchmarks/procgen_gsl.py``'s quick preset (coinrun, compact MLP)."""
    from gsl_jax.gsl import RunBuilder

    if preset == "forkmaze":
        from gsl_jax.envs.forkmaze import ForkMaze
        from gsl_jax.presets import FORKMAZE_GSL

        env, config = ForkMaze(), FORKMAZE_GSL
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        import procgen_gsl

        from gsl_jax.envs.registry import make_env

        settings = procgen_gsl.PRESETS["quick"]
        env = make_env(settings.games[0], **procgen_gsl.env_options(settings))
        config = procgen_gsl.gsl_config(settings, 0)
    return env, config, RunBuilder(env, config)


def time_preset(preset: str, reps: int) -> dict[str, float]:
    """ms per PPO update of each layout of ``preset`` (see the module docstring)."""
    import jax

    from gsl_jax.envs.core import stack_variation_sets
    from gsl_jax.population import init_population, make_chunk, shard_population

    env, config, builder = build(preset)
    chunk = make_chunk(builder.vec_env, builder.net, config.ppo, config.updates_per_chunk)
    # Disjoint subsets of two variations each, as the selection would hand out.
    sets = {
        size: stack_variation_sets([[2 * i, 2 * i + 1] for i in range(size)], env)
        for size in (1, config.num_specialists)
    }

    def population(size: int, seed: int) -> Any:
        key = jax.random.key(seed)
        return init_population(key, builder.vec_env, builder.net, config.ppo, sets[size])

    layouts: dict[str, tuple[int, Callable[[Any], Any]]] = {
        f"{config.num_specialists} specialists, device 0": (config.num_specialists, lambda s: s),
        f"{config.num_specialists} specialists, sharded": (
            config.num_specialists,
            shard_population,
        ),
        "1 learner, device 0": (1, lambda s: s),
        "1 learner, env batch split": (1, shard_population),
    }
    best = {name: float("inf") for name in layouts}
    for rep in range(reps + 1):  # the first round compiles
        for name, (size, place) in layouts.items():
            state = jax.block_until_ready(place(population(size, rep)))
            start = time.perf_counter()
            jax.block_until_ready(chunk(state))
            if rep:
                best[name] = min(best[name], time.perf_counter() - start)
    return {name: 1e3 * t / config.updates_per_chunk for name, t in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--devices", type=int, default=0, help="CPU devices (0: one per core)")
    parser.add_argument("--reps", type=int, default=3, help="timed chunks per layout")
    args = parser.parse_args()
    if args.reps <= 0:
        parser.error(f"--reps: must be positive, got {args.reps}")
    devices = args.devices or len(os.sched_getaffinity(0))
    if devices < 2:
        parser.error(f"--devices: needs at least 2 devices to compare, got {devices}")
    flag = "--xla_force_host_platform_device_count"
    if flag in os.environ.get("XLA_FLAGS", ""):
        parser.error(f"XLA_FLAGS already sets {flag}; use --devices instead")
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}={devices}".strip()
    import jax

    import gsl_jax  # noqa: F401  (its XLA flag, before the backend starts)

    if jax.default_backend() == "cpu" and jax.device_count() != devices:
        raise RuntimeError(f"expected {devices} CPU devices, JAX sees {jax.devices()}")
    if jax.device_count() < 2:
        raise RuntimeError(f"nothing to shard over: JAX sees one device, {jax.devices()}")
    print(f"{jax.device_count()} {jax.default_backend()} devices; best of {args.reps}")
    for preset in args.presets:
        times = time_preset(preset, args.reps)
        print(f"\n{preset}")
        for name, ms in times.items():
            print(f"  {name:28s} {ms:9.1f} ms/update")
        names = list(times)
        print(f"  specialists: sharded / device 0 = {times[names[1]] / times[names[0]]:.2f}")
        print(f"  one learner: split / device 0   = {times[names[3]] / times[names[2]]:.2f}")


if __name__ == "__main__":
    main()

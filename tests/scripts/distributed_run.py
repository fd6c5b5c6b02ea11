"""A tiny GSL run with 4 specialists, on one process or on several (tests/test_distributed.py).

    python tests/scripts/distributed_run.py OUT [--coordinator H:P --num-processes N
        --process-id I] [--resume] [--crash-at PHASE:K] [--split-learner]

The device count comes from ``XLA_FLAGS=--xla_force_host_platform_device_count=D`` set by the
caller. The run directory is ``OUT/run``; ``--crash-at PHASE:K`` ends the process (``os._exit``,
like a kill: no cleanup) on the K-th chunk record of GSL phase ``PHASE`` (``phase1``,
``specialists``, ``phase2``, ...) this process sees, before that chunk's checkpoint.
``--split-learner`` splits the generalist's env batch over the devices in a one-process run too
(``run_gsl(shard_learner_batch=True)``; a multi-process run does by default).
At the end, process ``I`` writes ``OUT/out{I}.json``: the generalist's parameters (lists, in tree
order), the events, demos kept and per-specialist demo counts, the devices the specialists were
sharded over and the wall time.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gsl_jax import distributed  # noqa: E402


def tiny_config(num_specialists: int = 4):
    """The resume tests' small CartPole GSL config with ``num_specialists`` specialists, made
    smaller still: every phase in a few chunks of 256 steps."""
    from resume_run import GSL_CONFIG

    from gsl_jax.networks import NetworkConfig
    from gsl_jax.plateau import PlateauConfig

    return replace(
        GSL_CONFIG,
        network=NetworkConfig(hidden=(16, 16)),
        plateau=PlateauConfig(window=2, max_steps=512),  # 2 chunks of 256 steps
        num_specialists=num_specialists,
        num_low=4,
        specialist_steps=256 * 3,  # 3 chunks
        phase2_steps=256 * 2,  # 2 chunks: a crash on the second lands mid-phase
        eval_episodes=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--coordinator")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--crash-at", default="")
    parser.add_argument("--split-learner", action="store_true")
    parser.add_argument("--num-specialists", type=int, default=4)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.coordinator is not None:
        distributed.initialize(
            args.coordinator, args.num_processes, args.process_id, timeout=args.timeout
        )

    import jax
    import numpy as np

    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.gsl import run_gsl

    config = tiny_config(args.num_specialists)
    seen = []
    crash_phase, _, crash_k = args.crash_at.partition(":")

    def on_record(record: dict) -> None:
        seen.append(record["gsl_phase"])
        if crash_phase and seen.count(crash_phase) == int(crash_k):
            print(f"crashing at {args.crash_at}", flush=True)
            os._exit(3)

    events: list[str] = []
    result = run_gsl(
        GymnaxEnv("CartPole-v1", family="pole"),
        config,
        run_dir=args.out / "run",
        resume=args.resume,
        checkpoint_every=1,
        log=lambda line: (events.append(line), print(line, flush=True)),
        on_record=on_record,
        shard_learner_batch=True if args.split_learner else None,
    )
    leaves = jax.tree.leaves(jax.device_get(result.generalist.params))
    out = {
        "params": [np.asarray(x).tolist() for x in leaves],
        "events": result.events,
        "log": events,
        "demos_kept": list(result.demos_kept),
        "specialist_demos": result.specialist_demos,
        "resumed_from": result.resumed_from,
        "processes": jax.process_count(),
        "devices": jax.device_count(),
        "seconds": time.perf_counter() - start,
    }
    index = jax.process_index()
    (args.out / f"out{index}.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()

"""GSL vs PPO on ForkMaze at equal total env-steps: the table and the learning curves.

    python benchmarks/gsl_forkmaze.py [--seeds 0 1 2] [--out docs/images]

Uses the ``FORKMAZE_GSL`` preset (the defaults of ``gsl-jax train``). Prints, per seed, the final
success rate of both generalists over the 32 variations and writes one PNG of learning curves per
seed to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from gsl_jax.comparison import compare_gsl_ppo, plot_comparison
from gsl_jax.envs.forkmaze import ForkMaze
from gsl_jax.presets import FORKMAZE_GSL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        result = compare_gsl_ppo(ForkMaze(), replace(FORKMAZE_GSL, seed=seed), log=lambda _: None)
        summary = result.summary() | {"seed": seed, "seconds": time.perf_counter() - start}
        rows.append(summary)
        png = plot_comparison(
            result,
            args.out / f"gsl_forkmaze_seed{seed}.png",
            f"ForkMaze (32 variations), seed {seed}",
        )
        print(
            f"seed {seed}: GSL success {summary['gsl_success']:.3f} at "
            f"{summary['gsl_total_steps']:,} steps | PPO {summary['ppo_success']:.3f} at "
            f"{summary['ppo_total_steps']:,} | margin {summary['success_margin']:+.3f} "
            f"({summary['seconds']:.0f} s) -> {png}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

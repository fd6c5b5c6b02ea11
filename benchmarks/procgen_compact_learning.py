"""PPO learning curves on the Procgen ports' compact (symbolic) observations, on a CPU.

    python benchmarks/procgen_compact_learning.py [--games maze heist ...] [--out docs/images]

For each game: the settings of its learning test (tests/test_procgen_*), the uniform-random
policy's mean first-episode return on the same levels, the PPO training curve (mean return of the
episodes finished in each chunk) and the wall time. Writes one PNG with a panel per game.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gsl_jax.envs.procgen import make
from gsl_jax.evaluation import random_policy_return
from gsl_jax.networks import NetworkConfig
from gsl_jax.presets import PROCGEN_COMPACT
from gsl_jax.training import train_ppo

#: game -> (env options, number of training levels, env-steps, learning rate, MLP widths)
SETTINGS = {
    "maze": (dict(view_radius=5, timeout=200), 50, 80 * 8192, 1e-3, (64, 64)),
    "heist": (dict(view_radius=4, timeout=250), 20, 80 * 8192, 1e-3, (64, 64)),
    "bigfish": ({}, 200, 120 * 8192, 5e-4, (64, 64)),
    "coinrun": ({}, 200, 40 * 8192, 5e-4, (128, 128)),
    "chaser": (dict(view_radius=4, timeout=300), 50, 80 * 8192, 1e-3, (64, 64)),
    "leaper": (dict(timeout=100), 50, 20 * 8192, 1e-3, (64, 64)),
    "miner": (dict(view_radius=4, timeout=200), 20, 30 * 8192, 1e-3, (64, 64)),
    "dodgeball": (dict(timeout=300), 50, 30 * 8192, 1e-3, (64, 64)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.games), figsize=(4 * len(args.games), 3.2), squeeze=False)
    print("| game | levels | env-steps | random | PPO (last chunk) | wall s |")
    print("|---|---|---|---|---|---|")
    for ax, game in zip(axes[0], args.games, strict=True):
        options, n_levels, steps, lr, hidden = SETTINGS[game]
        env = make(game, obs_mode="symbolic", **options)
        levels = list(range(n_levels))
        random_return = random_policy_return(env, levels)
        start = time.perf_counter()
        result = train_ppo(
            env,
            PROCGEN_COMPACT.replace(learning_rate=lr),
            NetworkConfig(kind="mlp", hidden=hidden),
            total_steps=steps,
            variation_sets=[levels],
            updates_per_chunk=10,
            seed=0,
            progress=False,
        )
        seconds = time.perf_counter() - start
        xs = [h["step"] for h in result.history]
        ys = [h["return_mean"] for h in result.history]
        print(
            f"| {game} | {n_levels} | {steps:,} | {random_return:.2f} | {ys[-1]:.2f} | "
            f"{seconds:.0f} |",
            flush=True,
        )
        ax.plot(xs, ys, ".-", color="C3", label="PPO")
        ax.axhline(random_return, color="k", ls="--", lw=1, label="uniform random")
        ax.set_title(f"{env.name}, {n_levels} levels ({seconds:.0f} s)")
        ax.set_xlabel("env-steps")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean episode return")
    axes[0][0].legend(loc="upper left")
    args.out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.out / "procgen_compact_learning.png", dpi=110)
    print(f"wrote {args.out / 'procgen_compact_learning.png'}")


if __name__ == "__main__":
    main()

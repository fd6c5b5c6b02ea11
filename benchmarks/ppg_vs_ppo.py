"""PPG against PPO at equal env-steps on a Procgen port's compact observations, several seeds.

    nice -n 10 python benchmarks/ppg_vs_ppo.py [--game maze] [--seeds 3] [--steps 196608]
        [--n-pi 8] [--updates-per-chunk 2] [--out docs/images/ppg_vs_ppo.png]

Both learners see the same levels, env batch (64 envs x 128 steps), MLP (64, 64) and learning rate;
PPO runs PROCGEN_COMPACT's 3 epochs of 8 minibatches per update, PPG one epoch per iteration, an
auxiliary phase (6 epochs) after every ``--n-pi`` iterations. The seeds of one learner train
together as a vmapped population (one compile per learner). Prints a table (final return: the
mean over the last quarter of the run's chunks, per seed, then mean and spread over seeds; the
uniform-random policy's return; env-steps/s after compilation, every seed counted) and writes the
learning curves (mean over seeds, shaded min-max).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax import ppg
from gsl_jax.envs.core import VecEnv, stack_variation_sets
from gsl_jax.envs.procgen import make
from gsl_jax.evaluation import random_policy_return
from gsl_jax.networks import NetworkConfig, make_network, make_phasic_network
from gsl_jax.population import init_population, make_chunk
from gsl_jax.presets import PROCGEN_COMPACT

#: game -> (env options, training levels, learning rate); as benchmarks/procgen_compact_learning.py
SETTINGS = {
    "maze": (dict(view_radius=5, timeout=200), 50, 1e-3),
    "heist": (dict(view_radius=4, timeout=250), 20, 1e-3),
    "bigfish": ({}, 200, 5e-4),
    "coinrun": ({}, 200, 5e-4),
}


def train(learner: str, env, levels, args, lr: float) -> dict:
    """One learner, ``args.seeds`` seeds as a population: per-chunk returns ``[chunks, P]``."""
    config = PROCGEN_COMPACT.replace(learning_rate=lr)
    net_config = NetworkConfig(kind="mlp", hidden=(64, 64))
    shape = env.observation_space.shape
    vec = VecEnv(env, config.num_envs)
    sets = stack_variation_sets([np.asarray(levels)] * args.seeds, env)
    key = jax.random.key(0)
    if learner == "ppo":
        net = make_network(net_config, env.action_space, shape)
        state = init_population(key, vec, net, config, sets)
        chunk = make_chunk(vec, net, config, args.updates_per_chunk)
    else:
        ppg_config = ppg.PPGConfig(n_pi=args.n_pi)
        net = make_phasic_network(net_config, env.action_space, shape)
        state = ppg.init_population(key, vec, net, config, ppg_config, sets)
        chunk = ppg.make_chunk(vec, net, config, ppg_config, args.updates_per_chunk)
    steps_per_chunk = args.updates_per_chunk * config.batch_size
    num_chunks = -(-args.steps // steps_per_chunk)
    returns, seconds = [], []
    for _ in range(num_chunks):
        start = time.perf_counter()
        state, metrics = chunk(state)
        jax.block_until_ready(state.params)
        seconds.append(time.perf_counter() - start)
        m = jax.device_get(metrics)
        eps = np.asarray(m["episodes"]).sum(axis=0)
        returns.append(np.asarray(m["return_sum"]).sum(axis=0) / np.maximum(eps, 1))
    run = float(np.sum(seconds[1:]))
    return {
        "returns": np.stack(returns),
        "steps": steps_per_chunk * np.arange(1, num_chunks + 1),
        "first_chunk_s": seconds[0],
        "steps_per_s": steps_per_chunk * args.seeds * (num_chunks - 1) / max(run, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="maze", choices=sorted(SETTINGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=24 * 8192, help="env-steps per seed")
    parser.add_argument("--n-pi", type=int, default=8, help="PPG's N_pi")
    parser.add_argument("--updates-per-chunk", type=int, default=2, help="one curve point each")
    parser.add_argument("--out", type=Path, default=Path("docs/images/ppg_vs_ppo.png"))
    args = parser.parse_args()
    options, n_levels, lr = SETTINGS[args.game]
    env = make(args.game, obs_mode="symbolic", **options)
    levels = list(range(n_levels))
    random_return = random_policy_return(env, levels)
    results = {name: train(name, env, levels, args, lr) for name in ("ppo", "ppg")}

    print(f"{args.game}, {n_levels} levels, {args.steps:,} env-steps per seed, {args.seeds} seeds")
    print("| learner | final return (per seed) | mean | min-max | env-steps/s | first chunk s |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        tail = r["returns"][-max(1, len(r["returns"]) // 4) :].mean(axis=0)
        per_seed = " ".join(f"{x:.2f}" for x in tail)
        print(
            f"| {name.upper()} | {per_seed} | {tail.mean():.2f} | {tail.min():.2f}-{tail.max():.2f}"
            f" | {r['steps_per_s']:,.0f} | {r['first_chunk_s']:.0f} |"
        )
    print(f"| random | | {random_return:.2f} | | | |")
    ratio = results["ppg"]["steps_per_s"] / results["ppo"]["steps_per_s"]
    print(f"PPG / PPO env-steps/s: {ratio:.2f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, r in results.items():
        mean = r["returns"].mean(axis=1)
        ax.plot(r["steps"], mean, label=name.upper())
        ax.fill_between(r["steps"], r["returns"].min(axis=1), r["returns"].max(axis=1), alpha=0.2)
    ax.axhline(random_return, color="grey", ls="--", lw=1, label="random")
    ax.set_xlabel("env-steps per seed")
    ax.set_ylabel("mean episode return")
    ax.set_title(f"{args.game} (compact obs, {n_levels} levels, {args.seeds} seeds)")
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    jnp.zeros(())  # initialise the backend before timing
    main()

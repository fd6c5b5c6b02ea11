"""Peer check: gsl_jax's PPO against rejax's (and PureJaxRL's) at the peer's own settings.

For each environment both sides train ``--seeds`` independent seeds as one vmapped population
with the same hyperparameters, and the table shows, side by side, the final return over the
seeds (mean +- std, and each seed's) and the training throughput in env-steps/s (all seeds'
steps over the wall time of the compiled run, compilation excluded: each side compiles ahead of
the timed run).

Settings (:data:`SETTINGS`):

* ``CartPole-v1``: rejax's own PPO config (``configs/gymnax/cartpole.yaml`` of rejax): 5 envs x
  100 steps, 5 epochs x 5 minibatches, lr 7.5e-4 constant, gamma 0.99, lambda 0.95, clip 0.2,
  entropy 0.01, value 0.5, grad norm 0.5, tanh 64-64 MLPs, 100k steps.
* ``Breakout-MinAtar``, ``SpaceInvaders-MinAtar``: PureJaxRL's ``ppo.py`` settings (4 envs x
  128 steps, 4 epochs x 4 minibatches, lr 2.5e-4, gamma 0.99, lambda 0.95, clip 0.2, entropy
  0.01, value 0.5, grad norm 0.5, tanh 64-64 MLPs on the flattened 10x10xC grid), with a constant
  learning rate against rejax (rejax 0.1.3 has no schedule) and PureJaxRL's linear annealing
  against PureJaxRL; 200k steps (PureJaxRL's default is 500k: cut for a shared 2-core CPU).

Final return: against rejax, its end-of-training evaluation (128 episodes of the sampled
policy per seed) and ours the same (:func:`gsl_jax.evaluation.evaluate_variations`, 128
episodes, sampled); against PureJaxRL, which has no evaluation, the mean return of the training
episodes that ended in the last 10% of the updates, on both sides.

rejax runs in its own virtual environment (``benchmarks/.rejax-venv``: rejax 0.1.3 with gymnax
0.0.9, set up as ``benchmarks/throughput.py`` does), in a worker subprocess. PureJaxRL runs only
when ``--purejaxrl`` points at a checkout of https://github.com/luchris429/purejaxrl (never
copied here), in the same virtual environment (its ``ppo.py`` needs gymnax's older step API);
its ``wrappers.py`` imports brax and navix for other wrappers, which the worker stubs out. The
worker starts before gsl_jax is imported, so the peers compile with XLA's default flags, as their
users run them (gsl_jax sets its ``XLA_FLAGS`` scheduler workaround on import; see
``docs/benchmarks.md``); ``--same-xla-flags`` gives the worker gsl_jax's flags too (PureJaxRL's
vmapped seeds hung in XLA:CPU without them here).

Usage::

    nice -n 10 python benchmarks/peer_check.py                      # rejax, 4 seeds
    nice -n 10 python benchmarks/peer_check.py --purejaxrl ~/src/purejaxrl --seeds 4
    python benchmarks/peer_check.py --quick                          # smoke run, a few minutes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from throughput import DEFAULT_REJAX_VENV, RejaxWorker, ensure_rejax_venv, log  # noqa: E402

#: The shared hyperparameters (PureJaxRL's names) and the budget of each environment.
COMMON = {"GAMMA": 0.99, "GAE_LAMBDA": 0.95, "CLIP_EPS": 0.2, "ENT_COEF": 0.01, "VF_COEF": 0.5}
COMMON |= {"MAX_GRAD_NORM": 0.5, "ACTIVATION": "tanh"}
PUREJAXRL_PPO = {"LR": 2.5e-4, "NUM_ENVS": 4, "NUM_STEPS": 128, "UPDATE_EPOCHS": 4}
PUREJAXRL_PPO |= {"NUM_MINIBATCHES": 4, **COMMON}
SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        **COMMON,
        "LR": 7.5e-4,
        "NUM_ENVS": 5,
        "NUM_STEPS": 100,
        "UPDATE_EPOCHS": 5,
        "NUM_MINIBATCHES": 5,
        "TOTAL_TIMESTEPS": 100_000,
    },
    "Breakout-MinAtar": {**PUREJAXRL_PPO, "TOTAL_TIMESTEPS": 200_000},
    "SpaceInvaders-MinAtar": {**PUREJAXRL_PPO, "TOTAL_TIMESTEPS": 200_000},
}

PEER_WORKER = r'''
"""Peer worker: one JSON command per stdin line, one JSON answer per stdout line."""
import json, sys, time, types
import jax
import jax.numpy as jnp
import numpy as np

runs = {}


def rejax_train(setting):
    from rejax import PPO
    steps = int(setting["TOTAL_TIMESTEPS"])
    algo = PPO.create(
        env=setting["ENV_NAME"], num_envs=setting["NUM_ENVS"], num_steps=setting["NUM_STEPS"],
        num_epochs=setting["UPDATE_EPOCHS"], num_minibatches=setting["NUM_MINIBATCHES"],
        learning_rate=setting["LR"], gamma=setting["GAMMA"], gae_lambda=setting["GAE_LAMBDA"],
        clip_eps=setting["CLIP_EPS"], ent_coef=setting["ENT_COEF"], vf_coef=setting["VF_COEF"],
        max_grad_norm=setting["MAX_GRAD_NORM"], normalize_observations=False,
        normalize_rewards=False, total_timesteps=steps, eval_freq=steps,
        skip_initial_evaluation=True,
        agent_kwargs={"activation": setting["ACTIVATION"], "hidden_layer_sizes": (64, 64)},
    )

    def final(out):  # its end-of-training evaluation: 128 episodes per seed
        lengths, returns = out[1]
        return np.asarray(returns)[:, -1, :].mean(axis=-1)

    return algo.train, final


def purejaxrl_train(setting, path):
    for name in ("brax", "brax.envs", "brax.envs.wrappers", "brax.envs.wrappers.training",
                 "navix"):  # imported by wrappers.py for wrappers this check does not use
        stub = types.ModuleType(name)
        stub.EpisodeWrapper = stub.AutoResetWrapper = object
        sys.modules.setdefault(name, stub)
    sys.modules["brax"].envs = sys.modules["brax.envs"]
    sys.path.insert(0, path + "/purejaxrl")
    from ppo import make_train
    config = dict(setting, ANNEAL_LR=True, DEBUG=False)
    tail = max(1, int(config["TOTAL_TIMESTEPS"]) // config["NUM_STEPS"] // config["NUM_ENVS"] // 10)

    def final(out):  # mean return of the episodes that ended in the last 10% of updates
        done = np.asarray(out["metrics"]["returned_episode"])[:, -tail:]
        ret = np.asarray(out["metrics"]["returned_episode_returns"])[:, -tail:]
        return (ret * done).reshape(len(ret), -1).sum(1) / done.reshape(len(done), -1).sum(1)

    return make_train(config), final


def run(peer, setting, seeds, path=None):
    train, final = rejax_train(setting) if peer == "rejax" else purejaxrl_train(setting, path)
    keys = jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds))
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(train)).lower(keys).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    seconds = time.perf_counter() - start
    return {"compile_seconds": compile_seconds, "seconds": seconds,
            "returns": [float(x) for x in final(out)]}


def versions():
    import importlib.metadata as md
    return {p: md.version(p) for p in ("rejax", "gymnax", "jax", "jaxlib", "flax", "optax")}


COMMANDS = {"run": run, "versions": versions}
for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = COMMANDS[request.pop("cmd")](**request)
    except Exception as error:  # report, keep serving
        answer = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answer), flush=True)
'''


class PeerWorker(RejaxWorker):
    """:class:`throughput.RejaxWorker`'s protocol, running :data:`PEER_WORKER`."""

    def __init__(self, python: Path):
        self.process = subprocess.Popen(
            [str(python), "-c", PEER_WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )


def ours(env_id: str, setting: dict[str, Any], seeds: int, anneal: bool) -> dict[str, Any]:
    """gsl_jax's PPO at ``setting`` on ``env_id``: ``seeds`` seeds as one population; both
    final-return measures (evaluation and the last 10% of training episodes)."""
    import jax
    import numpy as np

    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.evaluation import evaluate_variations
    from gsl_jax.networks import NetworkConfig
    from gsl_jax.ppo import PPOConfig
    from gsl_jax.training import train_ppo

    ppo = PPOConfig(
        num_envs=setting["NUM_ENVS"],
        num_steps=setting["NUM_STEPS"],
        num_minibatches=setting["NUM_MINIBATCHES"],
        update_epochs=setting["UPDATE_EPOCHS"],
        learning_rate=setting["LR"],
        lr_schedule="linear" if anneal else "constant",
        gamma=setting["GAMMA"],
        gae_lambda=setting["GAE_LAMBDA"],
        clip_eps=setting["CLIP_EPS"],
        ent_coef=setting["ENT_COEF"],
        vf_coef=setting["VF_COEF"],
        max_grad_norm=setting["MAX_GRAD_NORM"],
        normalize_rewards=False,
    )
    env = GymnaxEnv(env_id)
    steps = int(setting["TOTAL_TIMESTEPS"])
    updates = steps // ppo.batch_size
    # About 10 chunks (the last one is the "last 10%" of the tail measure), all full ones if a
    # divisor of the updates is near: the same program either way, without the masking cond.
    divisors = [k for k in range(max(1, updates // 12), updates // 8 + 1) if updates % k == 0]
    per_chunk = divisors[-1] if divisors else max(1, updates // 10)
    net = NetworkConfig(kind="mlp", hidden=(64, 64))
    result = train_ppo(
        env, ppo, net, steps, updates_per_chunk=per_chunk, num_seeds=seeds, progress=False
    )
    run_seconds = sum(h["seconds"] for h in result.history) - result.compile_seconds
    evaluated = []
    for p in range(seeds):
        params = jax.tree.map(lambda x, p=p: x[p], result.state.params)
        scores = evaluate_variations(env, result.network, params, [0], episodes=128, seed=p)
        evaluated.append(float(np.mean(scores.mean_return())))
    return {
        "compile_seconds": result.compile_seconds,
        "seconds": run_seconds,
        "returns": evaluated,
        "tail_returns": result.history[-1]["return_mean_per_member"],
        "env_steps": updates * ppo.batch_size * seeds,
    }


def summary(returns: list[float]) -> str:
    import numpy as np

    values = np.asarray(returns, float)
    each = ", ".join(f"{v:.1f}" for v in values)
    return f"{values.mean():.2f} +- {values.std():.2f} ({each})"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--envs", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--steps-scale", type=float, default=1.0, help="scale every budget")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1/10 of every budget")
    parser.add_argument("--purejaxrl", type=Path, help="a checkout of luchris429/purejaxrl")
    parser.add_argument("--no-rejax", action="store_true")
    parser.add_argument("--rejax-venv", type=Path, default=DEFAULT_REJAX_VENV)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--same-xla-flags", action="store_true", help="run the peers with gsl_jax's XLA_FLAGS"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.steps_scale = 2, 0.1
    seeds = list(range(args.seeds))
    peers = [] if args.no_rejax else ["rejax"]
    if args.purejaxrl is not None:
        if not (args.purejaxrl / "purejaxrl" / "ppo.py").exists():
            raise SystemExit(f"--purejaxrl: no purejaxrl/ppo.py under {args.purejaxrl}")
        peers.append("purejaxrl")
    if args.same_xla_flags:
        import gsl_jax  # noqa: F401  (sets XLA_FLAGS, which the worker inherits)
    worker = PeerWorker(ensure_rejax_venv(args.rejax_venv)) if peers else None
    results: dict[str, Any] = {"seeds": args.seeds, "rows": []}
    try:
        for env_id in args.envs:
            setting = dict(SETTINGS[env_id], ENV_NAME=env_id)
            setting["TOTAL_TIMESTEPS"] = int(setting["TOTAL_TIMESTEPS"] * args.steps_scale)
            for peer in peers:
                anneal = peer == "purejaxrl"
                log(f"{env_id}: {peer}, {args.seeds} seeds, {setting['TOTAL_TIMESTEPS']:,} steps")
                theirs = worker.call(
                    "run", peer=peer, setting=setting, seeds=seeds, path=str(args.purejaxrl)
                )
                log(f"{env_id}: gsl_jax at {peer}'s settings")
                mine = ours(env_id, setting, args.seeds, anneal)
                measure = "tail_returns" if peer == "purejaxrl" else "returns"
                row = {"env": env_id, "peer": peer, "setting": setting, "ours": mine}
                row["theirs"] = theirs
                row["ours_returns"], row["theirs_returns"] = mine[measure], theirs["returns"]
                row["ours_sps"] = mine["env_steps"] / mine["seconds"]
                row["theirs_sps"] = setting["TOTAL_TIMESTEPS"] * args.seeds / theirs["seconds"]
                results["rows"].append(row)
                print(table([row]), flush=True)
        if worker is not None:
            results["versions"] = worker.call("versions")
    finally:
        if worker is not None:
            worker.close()
    print("\n" + table(results["rows"]))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))
    return results


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| env | peer | steps x seeds | final return, gsl_jax | final return, peer | "
        "steps/s gsl_jax | steps/s peer | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = f"{r['setting']['TOTAL_TIMESTEPS']:,} x {len(r['ours_returns'])}"
        lines.append(
            f"| {r['env']} | {r['peer']} | {steps} | {summary(r['ours_returns'])} | "
            f"{summary(r['theirs_returns'])} | {r['ours_sps']:,.0f} | {r['theirs_sps']:,.0f} | "
            f"{r['ours_sps'] / r['theirs_sps']:.2f}x |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    log(f"done in {time.perf_counter() - start:.0f} s")

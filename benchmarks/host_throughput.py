"""Host throughput: env-steps/s of PPO and GSL's specialists on host envs (EnvPool's real Procgen
games, or Meta-World MT-10), against raw stepping of the same envs with random actions, in one
script (issue 20, item 5).

Rows (each the best of ``--reps`` timed repetitions after one untimed warm-up that compiles):

* ``raw P=1``: one :class:`~gsl_jax.envs.envpool.EnvPoolProcgen` batch of ``--num-envs`` games
  on the 200 training levels, uniform random actions drawn by numpy, ``step`` only.
* ``raw P=N``: ``N`` batches pinned to disjoint level subsets, stepped with ``send`` to all then
  ``recv`` from all (the specialists' env calls).
* ``ppo P=1``: :class:`~gsl_jax.host_rollout.HostPPO` updates of a generalist (a host rollout of
  ``--num-steps`` steps, then the jitted learning step).
* ``gsl specialists P=N``: the GSL driver's specialist chunk
  (:class:`gsl_jax.host.HostRunBuilder`: ``workers_from`` then ``chunk``), ``N`` learners in one
  vmapped update.

For the learner rows the time of one update is split into ``env`` (inside the host envs' step
calls), ``policy`` (the rest of the rollout loop: the jitted policy call per step, transfers,
Python) and ``learn`` (the jitted GAE + SGD epochs).

    python benchmarks/host_throughput.py                 # coinrun, 64 envs x 64 steps, small CNN
    python benchmarks/host_throughput.py --quick         # a smoke run
    python benchmarks/host_throughput.py --network impala --num-envs 256 --out host.json
    python benchmarks/host_throughput.py --backend metaworld   # MT-10, the released configuration

With ``--backend metaworld`` the envs are :class:`~gsl_jax.envs.metaworld.MetaWorldVecEnv` MT-10
arms (``raw P=1``: all ten tasks; each specialist: one task), the actions uniform in [-1, 1]^4,
and the learners those of :func:`gsl_jax.experiments.metaworld.released_gsl` (Gaussian MLP
(512, 512), 10 epochs of minibatches of 64); the defaults are then the release's 10 envs x 128
steps per learner and 10 specialists (``--network`` does not apply).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from typing import Any

import jax
import numpy as np


def _timed_env(env: Any, clock: list[float]) -> Any:
    """Wrap ``env``'s ``send``/``recv`` (else ``step``) so their wall time adds up in
    ``clock[0]`` (not both: ``step`` may call the other two)."""
    names = ("send", "recv") if hasattr(env, "send") else ("step",)
    for name in names:
        inner = getattr(env, name)

        def timed(*args, _inner=inner):
            start = time.perf_counter()
            try:
                return _inner(*args)
            finally:
                clock[0] += time.perf_counter() - start

        setattr(env, name, timed)
    return env


def _time_collect(driver: Any) -> list[float]:
    """Make ``driver.collect`` (the host rollout) record its last wall time in the returned
    one-element list."""
    collect, spent = driver.collect, [0.0]

    def timed(*args):
        start = time.perf_counter()
        try:
            return collect(*args)
        finally:
            spent[0] = time.perf_counter() - start

    driver.collect = timed
    return spent


def random_actions(env: Any, rng: np.random.Generator) -> np.ndarray:
    """Uniform random actions for ``env``'s batch: Procgen's 15 discrete actions ``[B]`` int, or
    a continuous ``Box`` (Meta-World's ``[-1, 1]^4``) ``[B, A]`` float32."""
    space = getattr(env, "action_space", None)
    if space is not None and getattr(space, "shape", ()):  # a Box
        shape = (env.num_envs, *space.shape)
        return rng.uniform(space.low, space.high, shape).astype(np.float32)
    return rng.integers(0, 15, env.num_envs)


def raw_rate(envs: list[Any], steps: int, reps: int) -> float:
    """Env-steps/s of random actions over ``envs`` (all sent, then all received; envs without
    ``send``/``recv`` are stepped one after the other)."""
    rng = np.random.default_rng(0)
    for env in envs:
        env.reset()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(steps):
            if all(hasattr(env, "send") for env in envs):
                for env in envs:
                    env.send(random_actions(env, rng))
                for env in envs:
                    env.recv()
            else:
                for env in envs:
                    env.step(random_actions(env, rng))
        best = min(best, time.perf_counter() - start)
    return steps * sum(e.num_envs for e in envs) / best


def learner_rate(run_update, envs: list[Any], steps_per_update: int, reps: int) -> dict:
    """``run_update()`` once to compile, then ``reps`` timed updates: the best rate and the
    env / policy / learn split of the fastest."""
    clock = [0.0]
    for env in envs:
        _timed_env(env, clock)
    run_update()
    best: dict[str, float] | None = None
    for _ in range(reps):
        clock[0] = 0.0
        start = time.perf_counter()
        rollout = run_update()
        total = time.perf_counter() - start
        if best is None or total < best["total_s"]:
            best = {"total_s": total, "env_s": clock[0], "policy_s": rollout - clock[0]}
            best["learn_s"] = total - rollout
    assert best is not None
    return {"steps_per_s": steps_per_update / best["total_s"], **best}


def _setup(args: argparse.Namespace) -> tuple[Any, Any, list[list[int]], list[int]]:
    """``(env template, GSLConfig, specialists' level subsets, all levels)`` for the backend;
    a clear exit when the backend's package is missing."""
    from gsl_jax.gsl import GSLConfig

    B, T, N = args.num_envs, args.num_steps, args.specialists
    if args.backend == "metaworld":
        from gsl_jax.envs.metaworld import MetaWorldVecEnv, metaworld_unavailable_reason
        from gsl_jax.experiments.metaworld import released_gsl

        reason = metaworld_unavailable_reason()
        if reason is not None:
            raise SystemExit(f"host_throughput: error: {reason}")
        if (B * T) % 64:
            raise SystemExit(
                "host_throughput: error: --num-envs x --num-steps: not a multiple of 64"
            )
        config = released_gsl(10, num_steps=T)
        ppo = config.ppo.replace(num_envs=B, num_minibatches=B * T // 64)
        config = dataclasses.replace(
            config, ppo=ppo, num_specialists=N, num_low=N, updates_per_chunk=1
        )
        template = MetaWorldVecEnv("MT10", num_envs=B, seed=0)
        return template, config, [[i] for i in range(N)], list(range(10))

    from gsl_jax.envs.envpool import EnvPoolProcgen, envpool_unavailable_reason
    from gsl_jax.networks import NetworkConfig
    from gsl_jax.ppo import PPOConfig

    reason = envpool_unavailable_reason()
    if reason is not None:
        raise SystemExit(f"host_throughput: error: {reason}")
    config = GSLConfig(
        ppo=PPOConfig(num_envs=B, num_steps=T, num_minibatches=4, update_epochs=3),
        network=NetworkConfig(kind=args.network),
        num_train_variations=200,
        num_specialists=N,
        num_low=N * 4,
        updates_per_chunk=1,
    )
    template = EnvPoolProcgen(args.game, num_envs=B, levels=range(200), seed=0)
    return template, config, [list(range(4 * i, 4 * i + 4)) for i in range(N)], list(range(200))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="envpool", choices=("envpool", "metaworld"))
    parser.add_argument("--game", default="coinrun", help="the Procgen game (envpool)")
    parser.add_argument("--num-envs", type=int, default=None, help="64 (metaworld: 10)")
    parser.add_argument("--num-steps", type=int, default=None, help="64 (metaworld: 128)")
    parser.add_argument("--specialists", type=int, default=None, help="4 (metaworld: 10)")
    parser.add_argument("--network", default="small_cnn", choices=("small_cnn", "impala", "mlp"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="16 envs x 16 steps, 2 reps")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    metaworld = args.backend == "metaworld"
    defaults = (10, 128, 10) if metaworld else (64, 64, 4)
    if args.quick:
        defaults, args.reps = ((10, 32, 2) if metaworld else (16, 16, 4)), 2
    for name, value in zip(("num_envs", "num_steps", "specialists"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if metaworld and not 1 <= args.specialists <= 10:
        parser.error(f"--specialists: MT-10 has 10 tasks, got {args.specialists}")

    template, config, subsets, all_levels = _setup(args)
    B, T, N = args.num_envs, args.num_steps, args.specialists
    from gsl_jax.host import HostRunBuilder
    from gsl_jax.host_rollout import HostPPO

    ppo = config.ppo
    rows: dict[str, Any] = {}

    def pool(levels, seed):
        return template.with_levels(levels, B, seed)

    rows["raw P=1"] = {"steps_per_s": raw_rate([pool(all_levels, 1)], T, args.reps)}
    rows[f"raw P={N}"] = {
        "steps_per_s": raw_rate([pool(s, 10 + i) for i, s in enumerate(subsets)], T, args.reps)
    }

    build = HostRunBuilder(template, config)
    driver = HostPPO([pool(all_levels, 2)], build.net, ppo)
    state = [driver.init(jax.random.key(0))]
    ppo_rollout = _time_collect(driver)

    def ppo_update() -> float:
        state[0], metrics = driver.update(state[0])
        jax.block_until_ready(metrics)
        return ppo_rollout[0]

    rows["ppo P=1"] = learner_rate(ppo_update, driver.envs, T * B, args.reps)

    source = jax.tree.map(lambda x: x[0], build.fresh_generalist())
    workers = [build.workers_from(source, subsets, build.k_spec)]
    chunk = build.chunk()
    spec_driver = build.driver_of(workers[0])
    spec_rollout = _time_collect(spec_driver)

    def spec_update() -> float:
        workers[0], metrics = chunk(workers[0])
        jax.block_until_ready(metrics)
        return spec_rollout[0]

    name = f"gsl specialists P={N}"
    rows[name] = learner_rate(spec_update, spec_driver.envs, N * T * B, args.reps)

    what = "MT-10, released MLP" if metaworld else f"{args.game}, {args.network}"
    print(f"\n{what}, {B} envs x {T} steps per learner, best of {args.reps}")
    print("| row | env-steps/s | env s | policy s | learn s |")
    print("|---|---|---|---|---|")
    for key, row in rows.items():
        parts = [f"{row[k]:.3f}" if k in row else "-" for k in ("env_s", "policy_s", "learn_s")]
        print(f"| {key} | {row['steps_per_s']:,.0f} | " + " | ".join(parts) + " |")
    out = {
        "settings": vars(args),
        "rows": rows,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()

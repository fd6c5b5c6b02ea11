"""A population of one, unbatched vs ``jax.vmap`` over an axis of length 1.

``gsl_jax.population.vmap_population`` runs a population of one without ``vmap`` (the
generalist phase of GSL). Both paths compute the same numbers; this script times one PPO update
each way, alternating in one process, for the compact-observation MLPs of the Procgen ports, a
small CNN on pixels and, when EnvPool is installed, the learning step of the host-rollout
learner on the real maze. Figures go to ``docs/benchmarks.md``.

    python benchmarks/population_of_one.py            # about 5 minutes on 2 CPU cores
    python benchmarks/population_of_one.py --reps 3 --cases coinrun-mlp
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.envs.procgen import make
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.normalization import normalize_reward
from gsl_jax.ppo import init_learner, make_learn, make_update
from gsl_jax.presets import PROCGEN_COMPACT

#: case name -> (game, network kind, observation mode)
FUSED_CASES = {
    "coinrun-mlp": ("coinrun", "mlp", "symbolic"),
    "maze-mlp": ("maze", "mlp", "symbolic"),
    "heist-mlp": ("heist", "mlp", "symbolic"),
    "maze-small_cnn": ("maze", "small_cnn", "pixels"),
}
HOST_CASES = ("host-maze-small_cnn", "host-maze-mlp")


def alternate(fns: dict[str, Callable[[], None]], reps: int) -> dict[str, float]:
    """Best wall seconds of each thunk over ``reps`` alternating calls (after one warm call)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def fused_case(game: str, kind: str, obs_mode: str, reps: int) -> dict[str, float]:
    """One fused PPO update (rollout + learning) of ``PROCGEN_COMPACT`` (16 envs x 32 steps for
    CNNs), unbatched and vmapped over P = 1."""
    config = PROCGEN_COMPACT.replace(loop="scan")
    if kind != "mlp":
        config = PROCGEN_COMPACT.replace(num_envs=16, num_steps=32, num_minibatches=4)
    env = make(game, obs_mode=obs_mode)
    vec = VecEnv(env, config.num_envs)
    net = make_network(
        NetworkConfig(kind=kind, hidden=(64, 64)), env.action_space, env.observation_space.shape
    )
    update = make_update(vec, net, config)
    state = init_learner(jax.random.key(0), vec, net, config, VariationSet.range(200))
    # Fresh buffers for each side: the updates donate their input, and init_learner's state may
    # share a buffer between leaves.
    states = {
        "unbatched": jax.tree.map(jnp.copy, state),
        "vmap": jax.tree.map(lambda x: jnp.copy(x[None]), state),
    }
    fns = {
        "unbatched": jax.jit(update, donate_argnums=0),
        "vmap": jax.jit(jax.vmap(update, in_axes=(0, None)), donate_argnums=0),
    }

    def thunk(name: str) -> Callable[[], None]:
        def run() -> None:
            states[name], _ = fns[name](states[name], None)
            jax.block_until_ready(states[name])

        return run

    return alternate({name: thunk(name) for name in fns}, reps)


def host_case(kind: str, reps: int) -> dict[str, float] | None:
    """The learning step (reward normalisation, GAE + 3 epochs of 4 minibatches) of a host-rollout
    learner on one rollout of 16 EnvPool maze envs x 64 steps, unbatched and vmapped over P = 1;
    None without EnvPool.

    The rollout comes from :class:`~gsl_jax.host_rollout.HostPPO`'s public ``init`` and
    ``collect``; the learning step is built here from :func:`gsl_jax.ppo.make_learn`, the way
    ``HostPPO`` builds its own, so that each side can be wrapped (or not) in ``jax.vmap``.
    """
    from gsl_jax.host_rollout import HostPPO

    try:
        from gsl_jax.envs.envpool import EnvPoolProcgen

        env = EnvPoolProcgen("maze", num_envs=16, levels=list(range(200)))
    except ImportError as error:
        print(f"host cases skipped: {error}")
        return None
    config = PROCGEN_COMPACT.replace(num_envs=16, num_steps=64, num_minibatches=4)
    net = make_network(
        NetworkConfig(kind=kind, hidden=(64, 64)), env.action_space, env.observation_space.shape
    )
    learn = make_learn(net, config)

    def learning_step(state, traj, last_obs, key):
        norm = state.reward_norm
        if config.normalize_rewards:

            def body(norm, reward_done):
                scaled, norm = normalize_reward(
                    norm, *reward_done, config.gamma, config.reward_clip
                )
                return norm, scaled

            norm, scaled = jax.lax.scan(body, norm, (traj.reward, traj.done))
            traj = traj._replace(reward=scaled)
        _, last_value = net.apply(state.params, last_obs)
        state, metrics = learn(state, traj, last_value, key)
        return state.replace(reward_norm=norm), metrics

    driver = HostPPO([env], net, config)
    state = driver.init(jax.random.key(0))  # leaves [1, ...]
    noise = jax.random.gumbel(
        jax.random.key(1), (1, config.num_steps, config.num_envs, env.action_space.n)
    )
    traj, last_obs, _ = driver.collect(state, noise)
    key = jax.random.key(2)
    first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
    args = {
        "unbatched": (first(state), first(traj), last_obs[0], key),
        "vmap": (state, traj, last_obs, key[None]),
    }
    fns = {"unbatched": jax.jit(learning_step), "vmap": jax.jit(jax.vmap(learning_step))}

    def thunk(name: str) -> Callable[[], None]:
        def run() -> None:
            jax.block_until_ready(fns[name](*args[name]))

        return run

    return alternate({name: thunk(name) for name in fns}, reps)


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=6, help="alternating timed calls per side")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[*FUSED_CASES, *HOST_CASES],
        choices=[*FUSED_CASES, *HOST_CASES],
    )
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps: must be at least 1")
    results: dict[str, dict[str, float]] = {}
    for case in args.cases:
        if case in FUSED_CASES:
            seconds = fused_case(*FUSED_CASES[case], reps=args.reps)
        else:
            seconds = host_case(case.rsplit("-", 1)[1], reps=args.reps)
            if seconds is None:
                continue
        results[case] = seconds
        ratio = seconds["unbatched"] / seconds["vmap"]
        print(
            f"{case:22s} unbatched {seconds['unbatched'] * 1e3:9.1f} ms   "
            f"vmap(P=1) {seconds['vmap'] * 1e3:9.1f} ms   unbatched / vmap {ratio:.2f}",
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()

"""Throughput benchmarks of gsl_jax's PPO on CPU.

Four sections, each printed as a table and written to ``--out`` as JSON:

1. ``single``: our PPO against rejax's PPO (https://github.com/keraJLi/rejax) on gymnax
   CartPole-v1 with the same hyperparameters (:data:`gsl_jax.presets.CLASSIC_CONTROL`): the
   compile + first run time and the steady-state env-steps/s of a second, already compiled run.
2. ``population``: ``P`` learners vmapped in one compiled program against ``P`` separate runs
   of one learner, with the same steps per learner (and rejax's ``jax.vmap(algo.train)`` over
   seeds against sequential rejax runs, for reference).
3. ``loop``: one PPO update of a CNN on a tiny pixel environment with ``PPOConfig(loop="scan")``
   against ``loop="unroll"`` -- the XLA:CPU while-loop trap (jax issue #12868) that
   :attr:`gsl_jax.ppo.PPOConfig.loop` exists for.
4. ``procgen``: each JAX Procgen port that imports (:func:`gsl_jax.envs.procgen.available_games`)
   against the real C++ game in EnvPool, pixels, uniform random actions, at batch 256 and 1024:
   our ``VecEnv`` with its level bank in a jitted ``lax.scan`` of ``--procgen-steps`` steps vs
   EnvPool's synchronous ``step`` with ``num_threads=2``, both on the 200 training levels
   (easy). Runs only when named in ``--sections``; skipped with a note when envpool (or the Qt5
   runtime it needs) is missing.

rejax 0.1.3 needs gymnax 0.0.9 (its ``step`` breaks on gymnax 1.0's six return values), so it
runs in its own virtual environment (``benchmarks/.rejax-venv``, created on first use with the
jax, jaxlib, flax and optax versions of this interpreter), in a worker subprocess that answers
one JSON line per command. The two frameworks' timed runs alternate, and every figure is the
best of ``--reps`` repetitions.

Usage::

    python benchmarks/throughput.py                     # sections 1-3, about 5 minutes on 2 cores
    python benchmarks/throughput.py --quick             # a smoke run of about a minute
    python benchmarks/throughput.py --cpus 1 --out results.json
    python benchmarks/throughput.py --sections procgen --no-rejax   # ports vs EnvPool only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_REJAX_VENV = HERE / ".rejax-venv"
REJAX_PACKAGES = ("rejax==0.1.3", "gymnax==0.0.9")
_START = time.perf_counter()


def log(message: str) -> None:
    """Progress line on stderr, stamped with the seconds since start."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# The rejax worker (runs in the rejax virtual environment)
# ------------------------------------------------------------------------------------------
REJAX_WORKER = r'''
"""rejax worker: one JSON command per stdin line, one JSON answer per stdout line."""
import json, sys, time
import jax
from rejax import PPO

algos = {}


def setup(name, config):
    algo = PPO.create(**config)
    evaluate = jax.jit(lambda ts, rng: algo.eval_callback(algo, ts, rng))
    algos[name] = dict(
        algo=algo, train=jax.jit(algo.train), vtrain=jax.jit(jax.vmap(algo.train)),
        evaluate=evaluate, last=None,
    )
    return {}


def run(name, seeds):
    entry = algos[name]
    if len(seeds) == 1:
        fn, keys = entry["train"], jax.random.PRNGKey(seeds[0])
    else:
        fn, keys = entry["vtrain"], jax.vmap(jax.random.PRNGKey)(jax.numpy.asarray(seeds))
    start = time.perf_counter()
    out = jax.block_until_ready(fn(keys))
    seconds = time.perf_counter() - start
    entry["last"] = out[0] if len(seeds) == 1 else None
    lengths, returns = out[1]
    return {"seconds": seconds, "eval_return": float(returns[..., -1, :].mean())}


def evaluate(name, seed, reps):
    """Time the evaluation that rejax's train() runs at its end, alone, on the last state."""
    entry = algos[name]
    key = jax.random.PRNGKey(seed)
    jax.block_until_ready(entry["evaluate"](entry["last"], key))  # compile
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(entry["evaluate"](entry["last"], key))
        times.append(time.perf_counter() - start)
    return {"seconds": min(times)}


def versions():
    import importlib.metadata as md
    return {p: md.version(p) for p in ("rejax", "gymnax", "jax", "jaxlib", "flax", "optax")}


COMMANDS = {"setup": setup, "run": run, "evaluate": evaluate, "versions": versions}
for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = COMMANDS[request.pop("cmd")](**request)
    except Exception as error:  # report, keep serving
        answer = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answer), flush=True)
'''


def ensure_rejax_venv(venv: Path) -> Path:
    """The Python of ``venv``, creating the venv and installing rejax there if needed.

    The jax, jaxlib, flax and optax versions are pinned to this interpreter's, so that both
    frameworks compile with the same XLA.
    """
    import importlib.metadata as md

    python = venv / "bin" / "python"
    check = [str(python), "-c", "import rejax, gymnax"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    log(f"creating the rejax virtual environment in {venv} (one-off)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = [f"{p}=={md.version(p)}" for p in ("jax", "jaxlib", "flax", "optax")]
    pip = [str(python), "-m", "pip", "install", "--quiet", *REJAX_PACKAGES, *pins]
    subprocess.run(pip, check=True)
    subprocess.run(check, check=True)
    return python


class RejaxWorker:
    """A rejax worker subprocess; :meth:`call` sends one command and returns its answer."""

    def __init__(self, python: Path, env: dict[str, str] | None = None):
        self.process = subprocess.Popen(
            [str(python), "-c", REJAX_WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def call(self, cmd: str, **kwargs: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"rejax worker exited (code {self.process.poll()}) during {cmd}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"rejax worker, {cmd}: {answer['error']}")
        return answer

    def close(self) -> None:
        """End the worker (closing its stdin ends its command loop)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def rejax_config(ppo: Any, total_steps: int) -> dict[str, Any]:
    """rejax's PPO config with the hyperparameters of our ``ppo`` (a :class:`PPOConfig`).

    rejax evaluates once at the end of training (``eval_freq = total_timesteps``, initial
    evaluation skipped); the MLP is ours, 64-64 tanh, instead of rejax's default swish.
    """
    return dict(
        env="CartPole-v1",
        num_envs=ppo.num_envs,
        num_steps=ppo.num_steps,
        num_epochs=ppo.update_epochs,
        num_minibatches=ppo.num_minibatches,
        learning_rate=ppo.learning_rate,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_eps=ppo.clip_eps,
        ent_coef=ppo.ent_coef,
        vf_coef=ppo.vf_coef,
        max_grad_norm=ppo.max_grad_norm,
        normalize_observations=False,
        normalize_rewards=ppo.normalize_rewards,
        agent_kwargs={"activation": "tanh", "hidden_layer_sizes": (64, 64)},
        total_timesteps=total_steps,
        eval_freq=total_steps,
        skip_initial_evaluation=True,
    )


# ------------------------------------------------------------------------------------------
# Our side
# ------------------------------------------------------------------------------------------
@dataclass
class OurRun:
    """A compiled chunk of ``num_updates`` PPO updates for a population of ``population``."""

    chunk: Callable[[Any], Any]
    init: Callable[[int], Any]
    num_updates: int
    steps_per_learner: int
    population: int

    def time(self, seed: int) -> tuple[float, float]:
        """Wall seconds of one chunk from a fresh state, and the mean return of its last
        quarter (pooled over the population)."""
        import jax
        import numpy as np

        state = jax.block_until_ready(self.init(seed))
        start = time.perf_counter()
        state, metrics = self.chunk(state)
        jax.block_until_ready((state, metrics))
        seconds = time.perf_counter() - start
        tail = max(1, self.num_updates // 4)
        episodes = np.asarray(metrics["episodes"][-tail:]).sum()
        ret = float(np.asarray(metrics["return_sum"][-tail:]).sum() / max(episodes, 1))
        return seconds, ret


def build_ours(total_steps: int, population: int, devices: int = 1) -> OurRun:
    """Our PPO on CartPole-v1 (default gymnax parameters) with CLASSIC_CONTROL, as one chunk.

    With ``devices > 1`` the population axis is sharded over the first ``devices`` JAX devices
    (:func:`gsl_jax.population.population_sharding`), as :func:`gsl_jax.training.train_ppo`
    does when a process has several."""
    import jax

    from gsl_jax.envs.core import VecEnv, stack_variation_sets
    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.networks import NetworkConfig, make_network
    from gsl_jax.population import make_chunk, population_sharding
    from gsl_jax.ppo import init_learner
    from gsl_jax.presets import CLASSIC_CONTROL

    env = GymnaxEnv("CartPole-v1", family={})
    ppo = CLASSIC_CONTROL.replace(lr_schedule="constant")  # rejax_config maps no schedule
    net = make_network(NetworkConfig(), env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, ppo.num_envs)
    sets = stack_variation_sets([[0]] * population, env)
    num_updates = math.ceil(total_steps / ppo.batch_size)
    init_one = jax.jit(lambda key, variations: init_learner(key, vec_env, net, ppo, variations))

    def init_stacked(seed: int) -> Any:
        # What init_population(jax.random.key(seed), ...) returns (member p is the learner
        # initialised with split(key, P)[p]), built one member at a time: its vmapped
        # orthogonal initialiser (a batched LAPACK QR) can deadlock XLA:CPU's thread pool
        # when called repeatedly in one process with P > 1.
        keys = jax.random.split(jax.random.key(seed), population)
        members = [
            init_one(keys[p], jax.tree.map(lambda x, p=p: x[p], sets)) for p in range(population)
        ]
        return jax.tree.map(lambda *xs: jax.numpy.stack(xs), *members)

    shardings = None
    if devices > 1:
        shardings = population_sharding(init_stacked(0), jax.devices()[:devices])
    chunk = make_chunk(vec_env, net, ppo, num_updates, shardings=shardings)

    def init(seed: int) -> Any:
        state = init_stacked(seed)
        return state if shardings is None else jax.device_put(state, shardings)

    return OurRun(chunk, init, num_updates, num_updates * ppo.batch_size, population)


def best(values: Sequence[float]) -> float:
    """The figure kept from repeated timings: the fastest (least disturbed) one."""
    return min(values)


# ------------------------------------------------------------------------------------------
# Section 1: single-agent PPO vs rejax
# ------------------------------------------------------------------------------------------
def bench_single(
    args: argparse.Namespace,
    rejax: RejaxWorker | None,
    rejax_default: RejaxWorker | None = None,
) -> dict[str, Any]:
    """Compile + first run and steady-state steps/s of ours and rejax, alternating runs.

    ``rejax`` runs under this process's XLA flags (gsl_jax's included); ``rejax_default``, when
    given, runs rejax under XLA's default scheduler, i.e. as rejax's own users run it."""
    from gsl_jax.presets import CLASSIC_CONTROL

    ours = build_ours(args.steps, population=1)
    steps = ours.steps_per_learner
    log(f"single: {steps} env-steps per run ({ours.num_updates} updates of 4 x 128)")
    result: dict[str, Any] = {"steps": steps, "ours": {}, "rejax": None}

    first, ret = ours.time(seed=0)
    result["ours"]["compile_and_first_s"] = first
    log(f"single/ours : compile + first run {first:.2f} s (final return {ret:.0f})")
    if rejax is not None:
        rejax.call("setup", name="single", config=rejax_config(CLASSIC_CONTROL, steps))
        answer = rejax.call("run", name="single", seeds=[0])
        result["rejax"] = {"compile_and_first_s": answer["seconds"]}
        log(f"single/rejax: compile + first run {answer['seconds']:.2f} s")
    default_times: list[float] = []
    if rejax_default is not None:
        rejax_default.call("setup", name="single", config=rejax_config(CLASSIC_CONTROL, steps))
        answer = rejax_default.call("run", name="single", seeds=[0])
        result["rejax_xla_default"] = {"compile_and_first_s": answer["seconds"]}
        log(f"single/rejax (XLA default flags): compile + first run {answer['seconds']:.2f} s")

    ours_times, rejax_times, ours_returns, rejax_returns = [], [], [], []
    for rep in range(args.reps):
        seconds, ret = ours.time(seed=rep + 1)
        ours_times.append(seconds)
        ours_returns.append(ret)
        log(f"single/ours : run {rep + 1}/{args.reps} {seconds:.2f} s = {steps / seconds:,.0f}/s")
        if rejax is not None:
            answer = rejax.call("run", name="single", seeds=[rep + 1])
            rejax_times.append(answer["seconds"])
            rejax_returns.append(answer["eval_return"])
            log(
                f"single/rejax: run {rep + 1}/{args.reps} {answer['seconds']:.2f} s "
                f"= {steps / answer['seconds']:,.0f}/s"
            )
        if rejax_default is not None:
            answer = rejax_default.call("run", name="single", seeds=[rep + 1])
            default_times.append(answer["seconds"])
            log(
                f"single/rejax (XLA default flags): run {rep + 1}/{args.reps} "
                f"{answer['seconds']:.2f} s = {steps / answer['seconds']:,.0f}/s"
            )
    result["ours"].update(
        run_s=ours_times,
        steps_per_s=steps / best(ours_times),
        final_return=ours_returns,
    )
    if rejax is not None:
        evaluation = rejax.call("evaluate", name="single", seed=0, reps=args.reps)["seconds"]
        train_only = best(rejax_times) - evaluation
        result["rejax"].update(
            run_s=rejax_times,
            steps_per_s=steps / best(rejax_times),
            eval_s=evaluation,
            steps_per_s_without_eval=steps / train_only,
            final_eval_return=rejax_returns,
        )
        result["ratio"] = result["ours"]["steps_per_s"] / result["rejax"]["steps_per_s"]
        result["ratio_vs_rejax_without_eval"] = (
            result["ours"]["steps_per_s"] / result["rejax"]["steps_per_s_without_eval"]
        )
        log(f"single: rejax's end-of-training evaluation alone takes {evaluation:.3f} s")
    if default_times:
        result["rejax_xla_default"].update(
            run_s=default_times, steps_per_s=steps / best(default_times)
        )
        result["ratio_vs_rejax_xla_default"] = (
            result["ours"]["steps_per_s"] / result["rejax_xla_default"]["steps_per_s"]
        )
    return result


# ------------------------------------------------------------------------------------------
# Section 2: population scaling
# ------------------------------------------------------------------------------------------
def bench_population(args: argparse.Namespace, rejax: RejaxWorker | None) -> dict[str, Any]:
    """``P`` vmapped learners vs ``P`` sequential single-learner runs, same steps per learner."""
    from gsl_jax.presets import CLASSIC_CONTROL

    single = build_ours(args.pop_steps, population=1)
    steps = single.steps_per_learner
    single_first, _ = single.time(seed=0)
    log(f"population: {steps} env-steps per learner; P=1 compile + first {single_first:.2f} s")
    result: dict[str, Any] = {"steps_per_learner": steps, "ours": [], "rejax": None}

    import jax

    # The population axis sharded over the process's devices (on CPU: one per core when the
    # script set --xla_force_host_platform_device_count, see --cpu-devices).
    devices = jax.device_count()
    result["sharded_devices"] = devices if devices > 1 else None
    for p in args.populations:
        vmapped = build_ours(args.pop_steps, population=p) if p > 1 else single
        first = vmapped.time(seed=0)[0] if p > 1 else single_first
        sharded = None
        if math.gcd(p, devices) > 1:
            sharded = build_ours(args.pop_steps, population=p, devices=devices)
            sharded_first = sharded.time(seed=0)[0]
        vmapped_times, separate_times, sharded_times = [], [], []
        for rep in range(args.reps):
            vmapped_times.append(vmapped.time(seed=100 + rep)[0])
            if sharded is not None:
                sharded_times.append(sharded.time(seed=100 + rep)[0])
            separate_times.append(sum(single.time(seed=1000 * rep + i)[0] for i in range(p)))
        row = {
            "population": p,
            "vmapped_s": best(vmapped_times),
            "separate_s": best(separate_times),
            # Including compilation: one compile for the vmapped program (its first call),
            # one for the single learner plus P - 1 further runs for the separate ones.
            "vmapped_with_compile_s": first,
            "separate_with_compile_s": single_first + (p - 1) * best(separate_times) / p,
        }
        row["ratio"] = row["vmapped_s"] / row["separate_s"]
        row["ratio_with_compile"] = row["vmapped_with_compile_s"] / row["separate_with_compile_s"]
        message = (
            f"population/ours P={p}: vmapped {row['vmapped_s']:.2f} s, separate "
            f"{row['separate_s']:.2f} s, ratio {row['ratio']:.2f}"
        )
        if sharded is not None:
            row["sharded_s"] = best(sharded_times)
            row["sharded_with_compile_s"] = sharded_first
            row["ratio_sharded"] = row["sharded_s"] / row["separate_s"]
            row["ratio_sharded_with_compile"] = sharded_first / row["separate_with_compile_s"]
            message += (
                f"; sharded over {devices} devices {row['sharded_s']:.2f} s, "
                f"ratio {row['ratio_sharded']:.2f}"
            )
        result["ours"].append(row)
        log(message)

    if rejax is not None:
        p = args.rejax_population
        config = rejax_config(CLASSIC_CONTROL, steps)
        rejax.call("setup", name="population", config=config)
        single_first = rejax.call("run", name="population", seeds=[0])["seconds"]
        seeds = list(range(1, p + 1))
        vmapped_first = rejax.call("run", name="population", seeds=seeds)["seconds"]
        vmapped_times, separate_times = [], []
        for rep in range(args.reps):
            seeds = [1000 * rep + i for i in range(p)]
            vmapped_times.append(rejax.call("run", name="population", seeds=seeds)["seconds"])
            separate_times.append(
                sum(rejax.call("run", name="population", seeds=[s])["seconds"] for s in seeds)
            )
        row = {
            "population": p,
            "vmapped_s": best(vmapped_times),
            "separate_s": best(separate_times),
            "vmapped_with_compile_s": vmapped_first,
            "separate_with_compile_s": single_first + (p - 1) * best(separate_times) / p,
        }
        row["ratio"] = row["vmapped_s"] / row["separate_s"]
        row["ratio_with_compile"] = row["vmapped_with_compile_s"] / row["separate_with_compile_s"]
        result["rejax"] = row
        log(
            f"population/rejax P={p}: vmapped {row['vmapped_s']:.2f} s, separate "
            f"{row['separate_s']:.2f} s, ratio {row['ratio']:.2f}"
        )
    return result


# ------------------------------------------------------------------------------------------
# Section 3: scan vs unroll for CNNs on CPU
# ------------------------------------------------------------------------------------------
def make_pixel_env() -> Any:
    """A tiny jittable pixel environment (built lazily so that jax is imported after
    ``--cpus`` took effect)."""
    import jax
    import jax.numpy as jnp
    from flax import struct

    from gsl_jax.envs.core import Box, Discrete, Environment, make_info

    size = 32
    moves = jnp.array([[-1, 0], [1, 0], [0, -1], [0, 1]], jnp.int32)

    @struct.dataclass
    class DotState:
        agent: jax.Array  # int32 [2], (row, col)
        target: jax.Array  # int32 [2]
        t: jax.Array  # int32 []
        variation: jax.Array  # int32 []

    class MovingDot(Environment):
        """32 x 32 x 3 uint8 frames with a red agent pixel and a green target pixel; the four
        actions move the agent up, down, left and right. Reaching the target gives reward 1 and
        ends the episode (success); otherwise it is truncated after 64 steps."""

        num_variations = 1
        observation_space = Box((size, size, 3), 0, 255, jnp.uint8)
        action_space = Discrete(4)
        max_episode_steps = 64

        def reset(self, key: jax.Array, variation: jax.Array) -> tuple[jax.Array, DotState]:
            positions = jax.random.randint(key, (2, 2), 0, size)
            state = DotState(positions[0], positions[1], jnp.int32(0), jnp.int32(variation))
            return self.render(state), state

        def step(
            self, key: jax.Array, state: DotState, action: jax.Array
        ) -> tuple[jax.Array, DotState, jax.Array, jax.Array, dict[str, jax.Array]]:
            agent = jnp.clip(state.agent + moves[action], 0, size - 1)
            t = state.t + 1
            reached = jnp.all(agent == state.target)
            truncated = jnp.logical_and(t >= self.max_episode_steps, ~reached)
            state = state.replace(agent=agent, t=t)
            info = make_info(reached, truncated, state.variation)
            reward = reached.astype(jnp.float32)
            return self.render(state), state, reward, reached | truncated, info

        @staticmethod
        def render(state: DotState) -> jax.Array:
            rows = jnp.arange(size)[:, None]
            cols = jnp.arange(size)[None, :]
            agent = (rows == state.agent[0]) & (cols == state.agent[1])
            target = (rows == state.target[0]) & (cols == state.target[1])
            blank = jnp.zeros_like(agent)
            return jnp.stack([agent, target, blank], axis=-1).astype(jnp.uint8) * 255

    return MovingDot()


def time_update(network_kind: str, loop: str, ppo_fields: dict[str, int], reps: int) -> dict:
    """Seconds of one jitted PPO update (compile + first, and the best of ``reps``)."""
    import jax

    from gsl_jax.envs.core import VariationSet, VecEnv
    from gsl_jax.networks import NetworkConfig, make_network
    from gsl_jax.ppo import PPOConfig, init_learner, make_update

    env = make_pixel_env()
    ppo = PPOConfig(loop=loop, **ppo_fields)
    net = make_network(NetworkConfig(kind=network_kind), env.action_space, (32, 32, 3))
    vec_env = VecEnv(env, ppo.num_envs)
    state = init_learner(jax.random.key(0), vec_env, net, ppo, VariationSet.from_ids([0]))
    update = jax.jit(make_update(vec_env, net, ppo))
    start = time.perf_counter()
    state, metrics = jax.block_until_ready(update(state))
    first = time.perf_counter() - start
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        state, metrics = jax.block_until_ready(update(state))
        times.append(time.perf_counter() - start)
    return {"compile_and_first_s": first, "update_s": best(times), "all_s": times}


def bench_loop(args: argparse.Namespace) -> dict[str, Any]:
    """``loop="scan"`` vs ``"unroll"`` per network, alternating the two modes."""
    result: dict[str, Any] = {"env": "MovingDot 32x32x3 uint8, 4 actions", "networks": []}
    for kind, fields in args.loop_networks:
        batch = fields["num_envs"] * fields["num_steps"]
        row: dict[str, Any] = {"network": kind, **fields, "batch": batch}
        for loop in ("unroll", "scan"):
            row[loop] = time_update(kind, loop, fields, args.loop_reps)
            log(
                f"loop/{kind} {loop:6s}: compile + first {row[loop]['compile_and_first_s']:.1f} s, "
                f"update {row[loop]['update_s']:.3f} s"
            )
        row["ratio_scan_over_unroll"] = row["scan"]["update_s"] / row["unroll"]["update_s"]
        result["networks"].append(row)
    return result


# ------------------------------------------------------------------------------------------
# Section 4: JAX Procgen ports vs the C++ games (EnvPool)
# ------------------------------------------------------------------------------------------
PROCGEN_LEVELS = 200  # the generalisation protocol's training levels, seeds 0..199


def procgen_port_timer(game: str, batch: int, steps: int) -> tuple[Callable[[int], float], float]:
    """Our port of ``game`` (easy, pixels): ``VecEnv(env, batch)`` stepped with uniform random
    actions in a jitted ``lax.scan`` of ``steps`` steps, resets gathered from
    :meth:`VecEnv.level_bank` (built once per call, as a rollout does).

    Returns ``(timer, compile_and_first_s)``; ``timer(seed)`` runs one call and returns its
    wall seconds.
    """
    import jax

    from gsl_jax.envs.core import VariationSet, VecEnv
    from gsl_jax.envs.procgen import make

    vec = VecEnv(make(game, distribution_mode="easy", obs_mode="pixels"), batch)
    levels = VariationSet.range(PROCGEN_LEVELS)

    @jax.jit
    def rollout(key: jax.Array) -> jax.Array:
        k_reset, k_steps = jax.random.split(key)
        state = vec.reset(k_reset, levels)
        bank = vec.level_bank(levels)

        def body(state, key):
            k_action, k_draw = jax.random.split(key)
            action = jax.random.randint(k_action, (batch,), 0, 15)
            draws = vec.draw(k_draw, levels, bank=bank)
            state, reward, _, _ = vec.step_with_draws(draws, state, action)
            return state, reward.sum()

        state, rewards = jax.lax.scan(body, state, jax.random.split(k_steps, steps))
        # The frames are the carry, so every step renders; summing the last keeps them live.
        return rewards.sum() + state.obs.sum()

    def timer(seed: int) -> float:
        start = time.perf_counter()
        jax.block_until_ready(rollout(jax.random.key(seed)))
        return time.perf_counter() - start

    return timer, timer(0)


def procgen_envpool_timer(game: str, batch: int, steps: int) -> tuple[Callable[[int], float], Any]:
    """The C++ ``game`` in EnvPool (easy, 200 levels, ``num_threads=2``, channel-last frames
    like ours): ``timer(seed)`` times ``steps`` synchronous ``step`` calls of ``batch`` uniform
    random actions (drawn before the clock starts). Returns ``(timer, env)``; close the env."""
    import envpool
    import numpy as np

    stems = {
        "maze": "Maze",
        "heist": "Heist",
        "bigfish": "Bigfish",
        "coinrun": "Coinrun",
        "chaser": "Chaser",
        "leaper": "Leaper",
        "miner": "Miner",
        "dodgeball": "Dodgeball",
    }
    env = envpool.make(
        f"{stems[game]}Easy-v0",
        env_type="gymnasium",
        num_envs=batch,
        num_threads=2,
        num_levels=PROCGEN_LEVELS,
        start_level=0,
        channel_first=False,
        seed=0,
    )
    env.reset()

    def timer(seed: int) -> float:
        actions = np.random.default_rng(seed).integers(0, 15, (steps, batch), dtype=np.int32)
        start = time.perf_counter()
        for action in actions:
            env.step(action)
        return time.perf_counter() - start

    timer(0)  # warm the threads and buffers
    return timer, env


def bench_procgen(args: argparse.Namespace) -> dict[str, Any]:
    """Every available port (or ``--procgen-games``) at every ``--procgen-batches`` size, ours
    then EnvPool's, with the ratio ours / C++."""
    from gsl_jax.envs.procgen import available_games

    result: dict[str, Any] = {"steps_per_call": args.procgen_steps, "rows": [], "skipped": None}
    try:
        import envpool

        result["envpool"] = envpool.__version__
    except Exception as error:  # ImportError, or the Qt5 runtime missing at load time
        result["skipped"] = f"envpool unavailable: {type(error).__name__}: {error}"
        log(result["skipped"])
        return result
    available = available_games()
    games = args.procgen_games or available
    for game in games:
        if game not in available:
            log(f"procgen/{game}: no port that imports, skipped")
            continue
        for batch in args.procgen_batches:
            steps = batch * args.procgen_steps
            time_ours, first = procgen_port_timer(game, batch, args.procgen_steps)
            time_real, env = procgen_envpool_timer(game, batch, args.procgen_steps)
            ours_s, real_s = [], []
            for rep in range(args.reps):  # alternate, so that load changes hit both sides
                ours_s.append(time_ours(rep + 1))
                real_s.append(time_real(rep + 1))
            env.close()
            ours = {"compile_and_first_s": first, "steps_per_s": steps / best(ours_s)}
            real = {"steps_per_s": steps / best(real_s)}
            ratio = ours["steps_per_s"] / real["steps_per_s"]
            log(
                f"procgen/{game} B={batch}: ours {ours['steps_per_s']:,.0f} steps/s "
                f"(compile + first {ours['compile_and_first_s']:.1f} s), "
                f"EnvPool {real['steps_per_s']:,.0f} steps/s, ratio {ratio:.2f}x"
            )
            result["rows"].append(
                {"game": game, "batch": batch, "ours": ours, "envpool": real, "ratio": ratio}
            )
    return result


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model (``lscpu``), cores, Python, jax and the XLA flags in effect."""
    import jax

    model = platform.processor()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpu_model": model,
        "cpus_visible": os.cpu_count(),
        "cpus_used": sorted(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def without_scheduler_flag(xla_flags: str) -> str:
    """``xla_flags`` without ``--xla_cpu_enable_concurrency_optimized_scheduler=...``."""
    name = "--xla_cpu_enable_concurrency_optimized_scheduler"
    return " ".join(f for f in xla_flags.split() if not f.startswith(name))


def table(rows: list[list[str]]) -> str:
    """Left-aligned columns, the first row as header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    """The human-readable tables."""
    out = []
    m = results["machine"]
    out.append(
        f"{m['cpu_model']}, {len(m['cpus_used'])} of {m['cpus_visible']} cores, "
        f"jax {m['jax']} ({m['backend']})"
    )
    if "single" in results:
        s = results["single"]
        rows = [["PPO, CartPole-v1", "compile + 1st run (s)", "steady env-steps/s"]]
        ours = s["ours"]
        rows.append(
            ["gsl_jax", f"{ours['compile_and_first_s']:.1f}", f"{ours['steps_per_s']:,.0f}"]
        )
        if s["rejax"]:
            r = s["rejax"]
            rows.append(["rejax", f"{r['compile_and_first_s']:.1f}", f"{r['steps_per_s']:,.0f}"])
            rows.append(
                ["rejax, end-of-run eval removed", "", f"{r['steps_per_s_without_eval']:,.0f}"]
            )
        if s.get("rejax_xla_default"):
            r = s["rejax_xla_default"]
            rows.append(
                [
                    "rejax, XLA's default flags",
                    f"{r['compile_and_first_s']:.1f}",
                    f"{r['steps_per_s']:,.0f}",
                ]
            )
        out.append(f"\n1. Single-agent PPO vs rejax ({s['steps']:,} env-steps per run)\n")
        out.append(table(rows))
        if s["rejax"]:
            out.append(
                f"ratio gsl_jax / rejax: {s['ratio']:.2f}x "
                f"({s['ratio_vs_rejax_without_eval']:.2f}x against rejax without its evaluation)"
            )
        if s.get("rejax_xla_default"):
            out.append(
                f"ratio gsl_jax / rejax under XLA's default flags: "
                f"{s['ratio_vs_rejax_xla_default']:.2f}x"
            )
    if "population" in results:
        p = results["population"]
        rows = [
            [
                "run",
                "vmapped (s)",
                "separate (s)",
                "ratio",
                "w/ compile: vmapped",
                "separate",
                "ratio",
            ]
        ]
        entries = [("gsl_jax", row) for row in p["ours"]]
        for row in p["ours"]:
            if "sharded_s" in row:
                sharded = {
                    **row,
                    "vmapped_s": row["sharded_s"],
                    "ratio": row["ratio_sharded"],
                    "vmapped_with_compile_s": row["sharded_with_compile_s"],
                    "ratio_with_compile": row["ratio_sharded_with_compile"],
                }
                entries.append((f"gsl_jax sharded/{p['sharded_devices']}", sharded))
        if p["rejax"]:
            entries.append(("rejax", p["rejax"]))
        for name, row in entries:
            rows.append(
                [
                    f"{name} P={row['population']}",
                    f"{row['vmapped_s']:.2f}",
                    f"{row['separate_s']:.2f}",
                    f"{row['ratio']:.2f}",
                    f"{row['vmapped_with_compile_s']:.2f}",
                    f"{row['separate_with_compile_s']:.2f}",
                    f"{row['ratio_with_compile']:.2f}",
                ]
            )
        out.append(
            f"\n2. Population scaling ({p['steps_per_learner']:,} env-steps per learner; "
            "ratio = vmapped / separate)\n"
        )
        out.append(table(rows))
    if "loop" in results:
        lp = results["loop"]
        rows = [["network", "batch", "unroll s/update", "scan s/update", "scan / unroll"]]
        for row in lp["networks"]:
            rows.append(
                [
                    row["network"],
                    f"{row['num_envs']}x{row['num_steps']}",
                    f"{row['unroll']['update_s']:.3f}",
                    f"{row['scan']['update_s']:.3f}",
                    f"{row['ratio_scan_over_unroll']:.1f}x",
                ]
            )
        out.append(f"\n3. CPU loop mode, one PPO update on {lp['env']}\n")
        out.append(table(rows))
    if "procgen" in results:
        pg = results["procgen"]
        out.append(
            f"\n4. Procgen ports vs EnvPool C++ (easy, 200 levels, pixels, random actions, "
            f"{pg['steps_per_call']} steps per timing)\n"
        )
        if pg["skipped"]:
            out.append(pg["skipped"])
        else:
            rows = [["game", "batch", "ours steps/s", "EnvPool steps/s", "ours / C++"]]
            for row in pg["rows"]:
                rows.append(
                    [
                        row["game"],
                        str(row["batch"]),
                        f"{row['ours']['steps_per_s']:,.0f}",
                        f"{row['envpool']['steps_per_s']:,.0f}",
                        f"{row['ratio']:.2f}x",
                    ]
                )
            out.append(table(rows))
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------
SMALL_CNN = {"num_envs": 8, "num_steps": 32, "num_minibatches": 4, "update_epochs": 2}
IMPALA = {"num_envs": 8, "num_steps": 16, "num_minibatches": 2, "update_epochs": 1}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=500_000, help="env-steps per single run")
    parser.add_argument("--pop-steps", type=int, default=100_000, help="env-steps per learner")
    parser.add_argument("--populations", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--rejax-population", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (best is kept)")
    parser.add_argument("--loop-reps", type=int, default=3, help="timed updates per loop mode")
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["single", "population", "loop"],
        choices=["single", "population", "loop", "procgen"],
        help="sections to run; procgen (about 10 minutes on 2 shared cores) only when named",
    )
    parser.add_argument(
        "--procgen-games", nargs="+", default=None, help="ports to time (default: all that import)"
    )
    parser.add_argument("--procgen-batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--procgen-steps", type=int, default=100, help="steps per timing")
    parser.add_argument("--no-impala", action="store_true", help="skip the IMPALA CNN timing")
    parser.add_argument("--no-rejax", action="store_true", help="skip the rejax comparisons")
    parser.add_argument("--rejax-venv", type=Path, default=DEFAULT_REJAX_VENV)
    parser.add_argument(
        "--cpus",
        type=int,
        default=0,
        help="restrict this process and the rejax worker to this many cores (0: all)",
    )
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=-1,
        help="expose the CPU as this many XLA devices (--xla_force_host_platform_device_count) "
        "so that section 2 can also shard each population over them; -1: one per core used, "
        "1: off. Ignored when XLA_FLAGS already sets a device count",
    )
    parser.add_argument("--quick", action="store_true", help="small budgets, about a minute")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.pop_steps, args.reps, args.loop_reps = 51_200, 10_240, 2, 2
        args.populations, args.rejax_population, args.no_impala = [1, 4], 4, True
        args.procgen_batches, args.procgen_steps = [256], 50
    args.loop_networks = [("small_cnn", SMALL_CNN)] + (
        [] if args.no_impala else [("impala", IMPALA)]
    )
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.cpus:
        # Before jax starts: XLA sizes its thread pool from the cores it may use.
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-args.cpus :])
    cpu_devices = len(os.sched_getaffinity(0)) if args.cpu_devices < 0 else args.cpu_devices
    flag = "--xla_force_host_platform_device_count"
    if cpu_devices > 1 and flag not in os.environ.get("XLA_FLAGS", ""):
        # Also before jax starts. Single-device programs run on device 0 as before.
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}={cpu_devices}"
    import gsl_jax  # noqa: F401  (sets its XLA_FLAGS, which the rejax worker then inherits)

    results: dict[str, Any] = {"machine": machine_info(), "args": {}}
    results["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    rejax = rejax_default = None
    if not args.no_rejax and {"single", "population"} & set(args.sections):
        python = ensure_rejax_venv(args.rejax_venv)
        rejax = RejaxWorker(python)
        results["machine"]["rejax_env"] = rejax.call("versions")
        default_flags = without_scheduler_flag(os.environ.get("XLA_FLAGS", ""))
        if "single" in args.sections and default_flags != os.environ.get("XLA_FLAGS", ""):
            # gsl_jax turned XLA's concurrency-optimised scheduler off (its deadlock
            # workaround); rejax's own users run with it on, so time that too.
            rejax_default = RejaxWorker(python, env={**os.environ, "XLA_FLAGS": default_flags})
    try:
        if "single" in args.sections:
            results["single"] = bench_single(args, rejax, rejax_default)
        if "population" in args.sections:
            results["population"] = bench_population(args, rejax)
    finally:
        for worker in (rejax, rejax_default):
            if worker is not None:
                worker.close()
    if "loop" in args.sections:
        results["loop"] = bench_loop(args)
    if "procgen" in args.sections:
        results["procgen"] = bench_procgen(args)
    print(report(results))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))
        log(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()

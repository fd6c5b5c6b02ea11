"""The GSL driver: generalist -> specialists -> demonstrations -> generalist with DAPG.

:func:`run_gsl` runs Algorithm 1 of Jia et al. (2022) as compiled chunks with the host in
between:

1. **Phase I**: a generalist (a population of one) trains with PPO on all variations until the
   plateau criterion H fires (:mod:`gsl_jax.plateau`) or its phase-I budget runs out.
2. **Selection**: the generalist is evaluated on every variation; the ``num_low`` lowest become
   E_low, split into ``num_specialists`` disjoint subsets (:mod:`gsl_jax.selection`).
3. **Specialists**: ``num_specialists`` copies of the generalist, one per subset, train together
   in one vmapped program for ``specialist_steps`` env-steps each.
4. **Demonstrations**: each specialist plays its subset and keeps its successful episodes; the
   generalist does the same on E \\ E_low (:mod:`gsl_jax.demos`).
5. **Phase II**: the generalist resumes PPO on all variations with the DAPG term on the demos.

Honest accounting: every record carries ``generalist_steps`` and ``total_steps`` (specialist
training and demo collection included), so curves can be compared at equal total samples.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import jax
import numpy as np

from gsl_jax.demos import DemoBuffer, rollout_trajectory, successful_episodes
from gsl_jax.envs.core import Environment, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.evaluation import evaluate_variations
from gsl_jax.logging import summarize_chunk
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.plateau import PlateauConfig, plateau_reached
from gsl_jax.population import clone_learner, init_population, make_chunk
from gsl_jax.ppo import DAPGConfig, LearnerState, PPOConfig
from gsl_jax.selection import SplitMode, lowest_variations, split_variations


@dataclass(frozen=True)
class GSLConfig:
    """Everything a GSL run needs besides the environment.

    Attributes:
        ppo: PPO settings of the generalist and the specialists.
        network: the actor-critic.
        dapg: the phase-II demonstration term.
        plateau: criterion H and the phase-I budget (``plateau.max_steps``).
        num_specialists: N_s.
        num_low: N_lenv, the number of worst variations handed to specialists.
        split: ``"random"`` or ``"contiguous"`` split of E_low.
        select_metric: rank variations by mean ``"return"`` or ``"success"`` rate.
        eval_episodes: episodes per variation when ranking.
        specialist_steps: env-steps per specialist.
        fresh_specialist_optimizer: give specialists a fresh optimiser state instead of the
            generalist's.
        specialist_demo_episodes: N_D^s, successful episodes kept from all specialists together.
        generalist_demo_episodes: N_D^g, kept from the generalist on E \\ E_low.
        demo_steps: env-steps per env of one demo-collection rollout.
        demo_return_threshold: keep episodes whose return reaches this instead of using the
            environment's success flag (for environments without one).
        phase2_steps: generalist env-steps in phase II.
        updates_per_chunk: PPO updates per compiled chunk.
        seed: PRNG seed.
    """

    ppo: PPOConfig = field(default_factory=PPOConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dapg: DAPGConfig = field(default_factory=DAPGConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    num_specialists: int = 4
    num_low: int = 8
    split: SplitMode = "random"
    select_metric: Literal["return", "success"] = "return"
    eval_episodes: int = 4
    specialist_steps: int = 1_000_000
    fresh_specialist_optimizer: bool = False
    specialist_demo_episodes: int = 64
    generalist_demo_episodes: int = 64
    demo_steps: int = 512
    demo_return_threshold: float | None = None
    phase2_steps: int = 5_000_000
    updates_per_chunk: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        positive = (
            "num_specialists",
            "num_low",
            "eval_episodes",
            "specialist_steps",
            "demo_steps",
            "phase2_steps",
            "updates_per_chunk",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"gsl.{name}: must be positive, got {getattr(self, name)}")
        for name in ("specialist_demo_episodes", "generalist_demo_episodes"):
            if getattr(self, name) < 0:
                raise ValueError(f"gsl.{name}: must be >= 0, got {getattr(self, name)}")
        if self.num_specialists > self.num_low:
            raise ValueError(
                f"gsl.num_specialists: {self.num_specialists} specialists need at least as many "
                f"variations, but num_low (N_lenv) is {self.num_low}"
            )
        if self.split not in ("random", "contiguous"):
            raise ValueError(f"gsl.split: must be 'random' or 'contiguous', got {self.split!r}")
        if self.select_metric not in ("return", "success"):
            raise ValueError("gsl.select_metric: must be 'return' or 'success'")

    def validate_for(self, env: Environment) -> None:
        """Checks that need the environment: ``num_low`` against its variations."""
        if self.num_low > env.num_variations:
            raise ValueError(
                f"gsl.num_low: N_lenv = {self.num_low} exceeds the {env.num_variations} "
                f"variations of {env.name}"
            )


@dataclass
class GSLResult:
    """What :func:`run_gsl` returns.

    Attributes:
        generalist: the final generalist state (population axis of size 1).
        records: one dict per chunk: phase, generalist_steps, total_steps and the chunk summary.
        events: the readable event log (phase changes, selections, demo counts).
        low_variations: E_low; ``subsets`` its split, one array per specialist.
        demos_kept: successful demo episodes kept (specialists, generalist).
    """

    generalist: LearnerState
    records: list[dict[str, Any]]
    events: list[str]
    low_variations: np.ndarray
    subsets: list[np.ndarray]
    demos_kept: tuple[int, int]
    network: Any = None


def _collect_demos(
    vec_env: VecEnv,
    network: Any,
    params: Any,
    ids: np.ndarray,
    episodes: int,
    config: GSLConfig,
    key: jax.Array,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Successful episodes of one policy on ``ids``: ``(obs, action, kept, env_steps)``."""
    if episodes == 0 or ids.size == 0:
        return None, None, 0, 0  # type: ignore[return-value]
    traj = rollout_trajectory(
        vec_env, network, params, VariationSet.from_ids(ids), key, config.demo_steps
    )
    obs, action, kept, _ = successful_episodes(traj, episodes, config.demo_return_threshold)
    return obs, action, kept, config.demo_steps * vec_env.num_envs


def run_gsl(
    env: Environment,
    config: GSLConfig,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> GSLResult:
    """Run GSL on ``env``; see the module docstring for the phases.

    ``log`` receives the event lines; ``on_record`` each chunk's record (for JSONL/TensorBoard).
    """
    config.validate_for(env)
    events: list[str] = []
    records: list[dict[str, Any]] = []

    def event(message: str) -> None:
        events.append(message)
        log(message)

    net = make_network(config.network, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, config.ppo.num_envs)
    steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
    counters = {"generalist_steps": 0, "total_steps": 0}
    key = jax.random.key(config.seed)
    k_init, k_spec, k_demo = jax.random.split(key, 3)

    def account(phase: str, summary: dict[str, Any], generalist: bool, members: int) -> None:
        if generalist:
            counters["generalist_steps"] += steps_per_chunk
        counters["total_steps"] += steps_per_chunk * members
        record = {"phase": phase, **counters, **summary}
        records.append(record)
        if on_record is not None:
            on_record(record)

    # Phase I: the generalist on all variations until H fires.
    all_ids = np.arange(env.num_variations)
    generalist = init_population(
        k_init, vec_env, net, config.ppo, stack_variation_sets([all_ids], env)
    )
    chunk = make_chunk(vec_env, net, config.ppo, config.updates_per_chunk)
    event(f"phase I: generalist on {env.num_variations} variations")
    returns: list[float] = []
    steps: list[int] = []
    while True:
        generalist, metrics = chunk(generalist)
        summary = summarize_chunk(metrics)
        account("generalist", summary, True, 1)
        returns.append(summary["return_mean"])
        steps.append(counters["generalist_steps"])
        fired, reason = plateau_reached(returns, steps, config.plateau)
        if fired:
            event(
                f"phase I ends at {counters['generalist_steps']:,} steps ({reason}); "
                f"mean return {summary['return_mean']:.2f}"
            )
            break

    # Selection: the N_lenv worst variations, split N_s ways.
    single = jax.tree.map(lambda x: x[0], generalist)
    scores = evaluate_variations(
        env, net, single.params, all_ids, episodes=config.eval_episodes, seed=config.seed
    )
    metric = scores.mean_return() if config.select_metric == "return" else scores.success_rate()
    low = lowest_variations(all_ids, metric, config.num_low)
    subsets = split_variations(low, config.num_specialists, config.split, config.seed)
    counters["total_steps"] += int(scores.lengths.sum())
    event(f"selection: E_low = {low.tolist()} by {config.select_metric}")
    for i, subset in enumerate(subsets):
        event(f"  specialist {i}: variations {subset.tolist()}")

    # Specialists: clones of the generalist, one vmapped program.
    sets = stack_variation_sets(subsets, env, field="specialist variations")
    specialists = clone_learner(
        k_spec,
        single,
        vec_env,
        sets,
        copy_optimizer=not config.fresh_specialist_optimizer,
        config=config.ppo,
    )
    num_chunks = math.ceil(config.specialist_steps / steps_per_chunk)
    event(f"specialists: {config.num_specialists} x {num_chunks * steps_per_chunk:,} steps")
    for _ in range(num_chunks):
        specialists, metrics = chunk(specialists)
        account("specialists", summarize_chunk(metrics), False, config.num_specialists)

    # Demonstrations: specialists on their subsets, the generalist on E \ E_low.
    per_specialist = -(-config.specialist_demo_episodes // config.num_specialists)
    obs_parts, act_parts = [], []
    kept_s = 0
    demo_keys = jax.random.split(k_demo, config.num_specialists + 1)
    for i, subset in enumerate(subsets):
        params = jax.tree.map(lambda x, i=i: x[i], specialists.params)
        obs, act, kept, used = _collect_demos(
            vec_env, net, params, subset, per_specialist, config, demo_keys[i]
        )
        counters["total_steps"] += used
        if kept:
            obs_parts.append(obs)
            act_parts.append(act)
        kept_s += kept
    rest = np.setdiff1d(all_ids, low)
    obs, act, kept_g, used = _collect_demos(
        vec_env, net, single.params, rest, config.generalist_demo_episodes, config, demo_keys[-1]
    )
    counters["total_steps"] += used
    if kept_g:
        obs_parts.append(obs)
        act_parts.append(act)
    event(f"demonstrations: kept {kept_s} specialist and {kept_g} generalist episodes")

    # Phase II: the generalist with PPO + DAPG on the demos.
    num_chunks = math.ceil(config.phase2_steps / steps_per_chunk)
    if obs_parts:
        demos = DemoBuffer.from_arrays(
            np.concatenate(obs_parts), np.concatenate(act_parts), kept_s + kept_g
        )
        phase2 = make_chunk(vec_env, net, config.ppo, config.updates_per_chunk, dapg=config.dapg)
        event(f"phase II: PPO + DAPG on {int(demos.count)} demo transitions")
        run = lambda state: phase2(state, demos)  # noqa: E731
    else:
        message = "no successful demonstrations were kept: phase II runs without DAPG"
        warnings.warn(message, stacklevel=2)
        event(f"phase II: {message}")
        run = chunk
    for _ in range(num_chunks):
        generalist, metrics = run(generalist)
        account("generalist+dapg", summarize_chunk(metrics), True, 1)
    event(f"done: {counters['generalist_steps']:,} generalist / {counters['total_steps']:,} total")
    return GSLResult(generalist, records, events, low, subsets, (kept_s, kept_g), net)

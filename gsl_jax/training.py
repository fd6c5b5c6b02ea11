"""The host loop: build a population of PPO learners, run compiled chunks, log between them.

:func:`train_ppo` is the one-call entry point for plain PPO (a generalist is ``P = 1``; pass
several variation sets for a population of specialists). The loop does no per-step Python: it
calls a compiled chunk of ``updates_per_chunk`` updates, then summarises and logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.envs.core import Environment, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.logging import RunLogger, summarize_chunk
from gsl_jax.networks import ActorCritic, NetworkConfig, make_network
from gsl_jax.population import (
    ChunkFn,
    init_population,
    make_chunk,
    population_sharding,
)
from gsl_jax.ppo import LearnerState, PPOConfig

#: Environments with more variations than this need explicit ``variation_sets``.
_MAX_IMPLICIT_VARIATIONS = 100_000


@dataclass
class TrainResult:
    """What :func:`train_ppo` returns.

    Attributes:
        state: the final population state (leaves ``[P, ...]``).
        history: one summary dict per chunk (see :func:`gsl_jax.logging.summarize_chunk`), with
            ``step`` (env-steps per member so far) and ``steps_per_second``.
        network: the network module (``network.apply(state.params[p], obs)``).
        vec_env: the vectorised environment.
        compile_seconds: wall time of the first chunk (compilation included).
    """

    state: LearnerState
    history: list[dict[str, Any]]
    network: ActorCritic
    vec_env: VecEnv
    compile_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_return(self) -> float:
        """Mean episode return of the last chunk that finished any episode (NaN if none)."""
        for record in reversed(self.history):
            if record["episodes"] > 0:
                return record["return_mean"]
        return float("nan")


def run_chunks(
    chunk: ChunkFn,
    state: LearnerState,
    num_chunks: int,
    steps_per_chunk: int,
    logger: RunLogger | None = None,
    callback: Callable[[int, LearnerState, dict[str, Any]], None] | None = None,
    start_step: int = 0,
) -> tuple[LearnerState, list[dict[str, Any]], float]:
    """Run ``num_chunks`` compiled chunks, logging after each.

    Returns ``(state, history, first_chunk_seconds)``. ``callback(i, state, record)`` runs on the
    host after chunk ``i`` (for checkpoints or early stopping).
    """
    history: list[dict[str, Any]] = []
    first_seconds = 0.0
    step = start_step
    for i in range(num_chunks):
        t0 = time.perf_counter()
        state, metrics = chunk(state)
        record = summarize_chunk(metrics)  # device_get: waits for the chunk to finish
        seconds = time.perf_counter() - t0
        if i == 0:
            first_seconds = seconds
        step += steps_per_chunk
        record.update(step=step, chunk=i, steps_per_second=steps_per_chunk / seconds)
        history.append(record)
        if logger is not None:
            logger.log(step, record)
        if callback is not None:
            callback(i, state, record)
    return state, history, first_seconds


def train_ppo(
    env: Environment,
    ppo: PPOConfig = PPOConfig(),
    network: NetworkConfig = NetworkConfig(),
    total_steps: int = 1_000_000,
    variation_sets: Sequence[Sequence[int]] | None = None,
    seed: int = 0,
    updates_per_chunk: int = 10,
    run_dir: str | Path | None = None,
    progress: bool = True,
    tensorboard: bool = True,
    shard: bool = True,
) -> TrainResult:
    """Train PPO on ``env`` for ``total_steps`` env-steps per population member.

    Args:
        env: the environment.
        ppo: PPO hyperparameters.
        network: which actor-critic to build.
        total_steps: env-steps per member; rounded up to whole chunks.
        variation_sets: one list of variation ids per population member; default a single
            generalist on all ``env.num_variations`` variations (required for environments
            with more than 100,000 variations, such as the Procgen ports).
        seed: PRNG seed.
        updates_per_chunk: PPO updates per compiled chunk (logging granularity).
        run_dir: where to write ``metrics.jsonl`` and TensorBoard events (``None``: nowhere).
        progress: draw a progress bar.
        tensorboard: write TensorBoard events when ``run_dir`` is set.
        shard: lay the population over all local devices (:func:`population_sharding`).

    All arguments are validated before anything is compiled.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps: must be positive, got {total_steps}")
    if updates_per_chunk <= 0:
        raise ValueError(f"updates_per_chunk: must be positive, got {updates_per_chunk}")
    if variation_sets is None:
        if env.num_variations > _MAX_IMPLICIT_VARIATIONS:
            raise ValueError(
                f"variation_sets: {env.name} has {env.num_variations:,} variations; pass the "
                "training set explicitly, e.g. [range(200)] for 200 Procgen levels"
            )
        variation_sets = [np.arange(env.num_variations)]
    sets: VariationSet = stack_variation_sets(variation_sets, env, field="variation_sets")
    net = make_network(network, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, ppo.num_envs)

    steps_per_chunk = updates_per_chunk * ppo.batch_size
    num_chunks = -(-total_steps // steps_per_chunk)

    state = init_population(jax.random.key(seed), vec_env, net, ppo, sets)
    shardings = None
    if shard and jax.device_count() > 1:
        shardings = population_sharding(state)
        state = jax.device_put(state, shardings)
    chunk = make_chunk(vec_env, net, ppo, updates_per_chunk, shardings)
    logger = RunLogger(
        run_dir, num_chunks * steps_per_chunk, tensorboard=tensorboard, progress=progress
    )
    with logger:
        state, history, first = run_chunks(chunk, state, num_chunks, steps_per_chunk, logger)
    return TrainResult(state, history, net, vec_env, compile_seconds=first)

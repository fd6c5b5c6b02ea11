"""Plain PPO through the one chunk loop (:func:`gsl_jax.loop.run_loop`).

- :func:`run_ppo` trains a PPO generalist into a run directory laid out as a GSL run's
  (:mod:`gsl_jax.run_layout`: ``config.json``, checkpoints, ``metrics.jsonl``, TensorBoard,
  ``result.json``), checkpointing every ``checkpoint_every`` chunks, and resumes a killed run to
  the parameters an uninterrupted one ends with (``gsl-jax train --method ppo``). Its generalist
  starts exactly as a GSL run's with the same env, config and seed does.
- :func:`train_ppo` is the one-call, in-memory entry point for a generalist (``P = 1``) or a
  population of learners (one variation set each), optionally writing metrics to a folder.

Both place learners by the rule of :func:`gsl_jax.population.place_population`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.checkpoint import DamagedCheckpoint, restore_checkpoint, restore_newest
from gsl_jax.envs.core import Environment, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.logging import RunLogger
from gsl_jax.loop import MAX_VALUE_LOSS, ChunkPlan, Progress, RunIO, run_loop
from gsl_jax.networks import ActorCritic, NetworkConfig, make_network
from gsl_jax.population import init_population, make_chunk, place_population, population_size
from gsl_jax.ppo import LearnerState, PPOConfig
from gsl_jax.run_layout import (
    check_env_spec,
    load_run,
    open_run,
    run_spec,
    start_run,
    write_result,
)
from gsl_jax.rundir import RunDirectory

#: Environments with more variations than this need explicit ``variation_sets``.
_MAX_IMPLICIT_VARIATIONS = 100_000


@dataclass
class TrainResult:
    """What :func:`train_ppo` and :func:`run_ppo` return.

    Attributes:
        state: the final population state (leaves ``[P, ...]``).
        history: one record per chunk (:mod:`gsl_jax.loop`: ``phase``, ``generalist_steps``,
            ``total_steps``, the chunk summary, ``seconds``, ``steps_per_second``) plus ``step``,
            the env-steps per member so far.
        network: the network module (``network.apply(state.params[p], obs)``).
        vec_env: the vectorised environment.
        compile_seconds: wall time of the first chunk (compilation included).
    """

    state: LearnerState
    history: list[dict[str, Any]]
    network: ActorCritic
    vec_env: Any
    compile_seconds: float = 0.0

    @property
    def final_return(self) -> float:
        """Mean episode return of the last chunk that finished any episode (NaN if none)."""
        for record in reversed(self.history):
            if record["episodes"] > 0:
                return record["return_mean"]
        return float("nan")


def history_of(records: Sequence[dict[str, Any]], steps_per_chunk: int) -> list[dict[str, Any]]:
    """Loop records as a :class:`TrainResult` history (``step``: env-steps per member)."""
    return [dict(r, step=(i + 1) * steps_per_chunk) for i, r in enumerate(records)]


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class PPORunConfig:
    """Everything a :func:`run_ppo` run needs besides the environment.

    Attributes:
        ppo: PPO settings; ``network``: the actor-critic.
        total_steps: env-steps to train for (rounded up to whole chunks).
        num_train_variations: train on variations ``0 .. n - 1``; default all of the env's.
        updates_per_chunk: PPO updates per compiled chunk.
        seed: PRNG seed (the generalist starts as a GSL run's with this seed does).
    """

    ppo: PPOConfig = field(default_factory=PPOConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    total_steps: int = 1_000_000
    num_train_variations: int | None = None
    updates_per_chunk: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        _positive_int("total_steps", self.total_steps)
        _positive_int("updates_per_chunk", self.updates_per_chunk)
        if self.num_train_variations is not None:
            _positive_int("num_train_variations", self.num_train_variations)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: must be an integer >= 0, got {self.seed!r}")

    def train_variations(self, env: Environment) -> int:
        """The number of training variations on ``env``, validated."""
        n = self.num_train_variations
        if n is None:
            if env.num_variations > _MAX_IMPLICIT_VARIATIONS:
                raise ValueError(
                    f"num_train_variations: {env.name} has {env.num_variations:,} variations; "
                    "set how many to train on (e.g. 200 Procgen levels)"
                )
            n = env.num_variations
        if n > env.num_variations:
            raise ValueError(
                f"num_train_variations: {n} exceeds the {env.num_variations} variations of "
                f"{env.name}"
            )
        return n

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (nested configs as dicts)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPORunConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        kwargs = _known(cls, data, "ppo run config: unknown field")
        for name, klass in (("ppo", PPOConfig), ("network", NetworkConfig)):
            if name in kwargs:
                sub = _known(klass, kwargs[name], f"ppo run config: unknown field {name}.")
                # JSON has no tuples: give tuple-valued fields (e.g. network.hidden) theirs back
                kwargs[name] = klass(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
                )
        return cls(**kwargs)


def _known(cls: type, data: dict[str, Any], message: str) -> dict[str, Any]:
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{message}{unknown[0]!r}")
    return dict(data)


@dataclass(frozen=True)
class PPOProgress(Progress):
    """A PPO run's checkpointed host state: :class:`~gsl_jax.loop.Progress` and its phase
    (``"ppo"`` while training, ``"done"`` at the end)."""

    phase: str = "ppo"


def _generalist_init(env: Environment, config: PPORunConfig) -> tuple[ActorCritic, VecEnv, Any]:
    """The network, env batch and initial generalist: GSL's (``RunBuilder``) for this seed."""
    net = make_network(config.network, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, config.ppo.num_envs)
    ids = np.arange(config.train_variations(env))
    sets = stack_variation_sets([ids], env, field="training variations")
    k_init = jax.random.split(jax.random.key(config.seed), 4)[0]
    return net, vec_env, init_population(k_init, vec_env, net, config.ppo, sets)


def run_ppo(
    env: Environment,
    config: PPORunConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    progress: bool = False,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    env_spec: dict[str, Any] | None = None,
    shard: bool = True,
    max_value_loss: float = MAX_VALUE_LOSS,
) -> TrainResult:
    """Train a PPO generalist on ``env`` into ``run_dir`` (module docstring).

    Args mirror :func:`gsl_jax.gsl.run_gsl`'s: ``resume`` continues the run in ``run_dir`` from
    its last complete checkpoint (the config must equal the saved one; a finished run returns at
    once), ``checkpoint_every`` chunks between checkpoints, ``env_spec`` how to rebuild ``env``,
    ``max_value_loss`` the runaway-divergence guard's limit.
    """
    if not isinstance(env, Environment):  # a host env (EnvPool): nothing written yet
        raise ValueError(
            f"env: run_ppo needs a JAX Environment, got the host env {type(env).__name__}; "
            "use gsl_jax.host_rollout.train_ppo_host"
        )
    config.train_variations(env)
    run = open_run(run_dir, resume, "ppo", run_spec("ppo", env.name, env_spec, config.to_dict()))
    net, vec_env, state = _generalist_init(env, config)
    prog = PPOProgress()
    if run is not None and resume:

        def restore(path: Path) -> tuple[Any, PPOProgress]:
            arrays, meta = restore_checkpoint(path, {"generalist": state})
            check_env_spec(path, meta, env_spec)
            return arrays["generalist"], _ppo_progress(path, meta)

        found = restore_newest(run.path / "checkpoints", restore, log)
        if found is not None:
            resume_from, (state, prog) = found
            log(f"resumed from {resume_from} ({prog.total_steps:,} steps)")
    start_run(run, prog.records)
    state, shardings = place_population(state, shard)
    chunk = make_chunk(vec_env, net, config.ppo, config.updates_per_chunk, shardings)
    steps = config.updates_per_chunk * config.ppo.batch_size
    num_chunks = -(-config.total_steps // steps)
    plan = ChunkPlan("generalist", steps, num_chunks, tags={"method": "ppo"})
    run_path = run.path if run is not None else None
    logger = RunLogger(
        run_path, num_chunks * steps, progress=progress, desc="ppo", start_step=prog.total_steps
    )
    with logger:
        meta = {"env": env.name, "env_spec": env_spec}
        io = RunIO(None, logger, log, on_record, checkpoint_every, meta, max_value_loss, run)
        save = lambda s, p: io.save({"generalist": s}, p)  # noqa: E731
        if prog.phase != "done":
            state, prog, _ = run_loop(chunk, state, prog, plan, io, save)
            prog = save(state, dataclasses.replace(prog, phase="done"))
    history = history_of(prog.records, steps)
    result = TrainResult(state, history, net, vec_env, history[0]["seconds"] if history else 0.0)
    summary = {
        "env": env.name,
        "method": "ppo",
        "generalist_steps": prog.generalist_steps,
        "total_steps": prog.total_steps,
        "final_return": result.final_return,
        "seed": config.seed,
    }
    write_result(run, summary)
    return result


def _ppo_progress(path: Path, meta: dict[str, Any]) -> PPOProgress:
    """The progress in a PPO checkpoint's metadata; :class:`DamagedCheckpoint` if it has none."""
    try:
        return PPOProgress.from_dict(meta["progress"])
    except (KeyError, TypeError, AttributeError) as err:
        raise DamagedCheckpoint(
            f"checkpoint {path} is damaged (meta.json holds no progress: {err})"
        ) from None


def load_ppo_generalist(run_dir: str | Path, env: Environment | None = None):
    """``(env, config, params, network, phase, path)`` of the newest checkpoint of a
    :func:`run_ppo` run, as :func:`gsl_jax.gsl.load_generalist` returns them."""
    from gsl_jax.envs.registry import make_env
    from gsl_jax.gsl import newest_checkpoint

    saved = load_run(run_dir)
    try:
        config = PPORunConfig.from_dict(saved["config"])
    except TypeError as err:
        raise ValueError(f"{Path(run_dir) / 'config.json'}: not a PPO run config ({err})") from None
    spec = saved.get("env_spec") or {}
    if env is None:
        if not spec:
            raise ValueError(f"run_dir: {run_dir} saved no env spec; pass the env")
        env = make_env(spec["name"], **spec.get("options", {}))
    path = newest_checkpoint(run_dir, spec)
    net, _, like = _generalist_init(env, config)
    arrays, meta = restore_checkpoint(path, {"generalist": like})
    phase = _ppo_progress(path, meta).phase
    params = jax.tree.map(lambda x: x[0], arrays["generalist"].params)
    return env, config, params, net, phase, path


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
    """Train PPO on ``env`` for ``total_steps`` env-steps per population member, in memory.

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
        run_dir: a new or empty directory (:class:`~gsl_jax.rundir.RunDirectory`, command
            ``"train_ppo"``) to write ``metrics.jsonl`` (x axis: env-steps of all members) and
            TensorBoard events to (``None``: nowhere); no checkpoints (:func:`run_ppo` has them).
        progress: draw a progress bar.
        tensorboard: write TensorBoard events when ``run_dir`` is set.
        shard: place the population by :func:`gsl_jax.population.place_population`.

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
    if run_dir is not None:  # a new or empty directory only; it records what it writes
        spec = {
            "env": env.name,
            "ppo": dataclasses.asdict(ppo),
            "network": dataclasses.asdict(network),
            "total_steps": total_steps,
            "seed": seed,
        }
        run = RunDirectory.create(run_dir, "train_ppo", spec)
        run.claim("metrics.jsonl")
        if tensorboard:
            run.claim("tb")
    net = make_network(network, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, ppo.num_envs)
    state = init_population(jax.random.key(seed), vec_env, net, ppo, sets)
    state, shardings = place_population(state, shard)
    chunk = make_chunk(vec_env, net, ppo, updates_per_chunk, shardings)
    state, history, first = run_population(
        chunk,
        state,
        updates_per_chunk * ppo.batch_size,
        total_steps,
        run_dir,
        progress,
        tensorboard,
    )
    return TrainResult(state, history, net, vec_env, first)


def run_population(
    chunk: Callable[[Any], tuple[Any, Any]],
    state: Any,
    steps_per_chunk: int,
    total_steps: int,
    run_dir: str | Path | None,
    progress: bool,
    tensorboard: bool,
) -> tuple[Any, list[dict[str, Any]], float]:
    """The in-memory loop of :func:`train_ppo` and :func:`gsl_jax.host_rollout.train_ppo_host`:
    ``total_steps`` per member of ``state``'s population through ``chunk``. Returns ``(state,
    history, first_chunk_seconds)`` (:class:`TrainResult`'s fields)."""
    members = population_size(state)
    num_chunks = -(-total_steps // steps_per_chunk)
    label = "generalist" if members == 1 else "population"
    plan = ChunkPlan(label, steps_per_chunk, num_chunks, members, generalist=members == 1)
    budget = num_chunks * steps_per_chunk * members
    logger = RunLogger(run_dir, budget, tensorboard=tensorboard, progress=progress)
    with logger:
        state, prog, _ = run_loop(chunk, state, Progress(), plan, RunIO(None, logger))
    history = history_of(prog.records, steps_per_chunk)
    return state, history, history[0]["seconds"]

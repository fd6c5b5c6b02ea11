"""Plain PPO through the one chunk loop (:func:`gsl_jax.loop.run_loop`).

- :func:`run_ppo` trains a PPO generalist into a run directory laid out as a GSL run's
  (:mod:`gsl_jax.run_layout`: ``config.json``, checkpoints, ``metrics.jsonl``, TensorBoard,
  ``result.json``), checkpointing every ``checkpoint_every`` chunks, and resumes a killed run to
  the parameters an uninterrupted one ends with (``gsl-jax train --method ppo``). Its generalist
  starts exactly as a GSL run's with the same env, config and seed does.
- :func:`train_ppo` is the one-call, in-memory entry point for a generalist (``P = 1``), several
  independent seeds of it (``num_seeds``) or a population of learners (one variation set each),
  trained as one vmapped population, optionally writing metrics to a folder.

Budgets are exact: ``total_steps`` env-steps per learner run ``total_steps // ppo.batch_size``
updates (steps round down to whole updates), in chunks of ``updates_per_chunk`` and a shorter last
chunk for the rest (:func:`gsl_jax.loop.chunk_budget`). A learning-rate schedule
(``ppo.lr_schedule``) anneals over exactly those updates unless ``ppo.lr_decay_updates`` says
otherwise.

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
from gsl_jax.loop import (
    MAX_VALUE_LOSS,
    ChunkBudget,
    ChunkPlan,
    Progress,
    RunIO,
    chunk_budget,
    run_loop,
)
from gsl_jax.networks import ActorCritic, NetworkConfig, make_network
from gsl_jax.population import init_population, make_chunk, place_population, population_size
from gsl_jax.ppo import LearnerState, PPOConfig
from gsl_jax.run_layout import (
    check_env_spec,
    env_from_spec,
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
            ``total_steps``, the chunk summary with ``return_mean_per_member`` and
            ``episodes_per_member`` (one entry per member: per seed), ``seconds``,
            ``steps_per_second``, ``compile_seconds``) plus ``step``, the env-steps per member so
            far.
        network: the network module (``network.apply(state.params[p], obs)``).
        vec_env: the vectorised environment.
        compile_seconds: seconds jax spent compiling over the whole run (tracing, lowering and
            XLA; every chunk's ``compile_seconds``).
        first_chunk_seconds: wall time of the first chunk (its compilation included).
    """

    state: LearnerState
    history: list[dict[str, Any]]
    network: ActorCritic
    vec_env: Any
    compile_seconds: float = 0.0
    first_chunk_seconds: float = 0.0

    @classmethod
    def of(cls, state: LearnerState, history: list[dict[str, Any]], network: Any, vec_env: Any):
        """The result of a run whose chunk records are ``history``."""
        compile_seconds = sum(r.get("compile_seconds", 0.0) for r in history)
        first = history[0]["seconds"] if history else 0.0
        return cls(state, history, network, vec_env, compile_seconds, first)

    @property
    def final_return(self) -> float:
        """Mean episode return of the last chunk that finished any episode (NaN if none)."""
        for record in reversed(self.history):
            if record["episodes"] > 0:
                return record["return_mean"]
        return float("nan")


def history_of(records: Sequence[dict[str, Any]], members: int = 1) -> list[dict[str, Any]]:
    """Loop records of a PPO run of ``members`` learners as a :class:`TrainResult` history
    (``step``: env-steps per member, the record's ``total_steps / members``)."""
    return [dict(r, step=r["total_steps"] // members) for r in records]


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class PPORunConfig:
    """Everything a :func:`run_ppo` run needs besides the environment.

    Attributes:
        ppo: PPO settings; ``network``: the actor-critic.
        total_steps: env-steps to train for: exactly ``total_steps // ppo.batch_size`` updates.
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
        self.budget()  # ValueError naming total_steps below one update

    def budget(self) -> ChunkBudget:
        """The run's updates and chunks (:func:`gsl_jax.loop.chunk_budget`)."""
        return chunk_budget(self.total_steps, self.ppo.batch_size, self.updates_per_chunk)

    def resolved_ppo(self) -> PPOConfig:
        """``ppo`` with a schedule's horizon set to the run's number of updates."""
        return self.ppo.with_lr_horizon(self.budget().num_updates)

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
    return net, vec_env, init_population(k_init, vec_env, net, config.resolved_ppo(), sets)


def budget_chunks(
    vec_env: VecEnv,
    net: ActorCritic,
    ppo: PPOConfig,
    budget: ChunkBudget,
    updates_per_chunk: int,
    shardings: Any = None,
) -> tuple[Any, Any]:
    """``(chunk, last_chunk)`` of an exact budget: the full chunk and the shorter last one
    (``None`` when every chunk is full), one program compiled on the first call
    (:func:`~gsl_jax.population.make_chunk`'s ``variable_length``)."""
    last = budget.last_updates
    chunk = make_chunk(vec_env, net, ppo, updates_per_chunk, shardings, variable_length=bool(last))
    return chunk, ((lambda state: chunk(state, None, last)) if last else None)


def budget_plan(
    label: str, batch_size: int, budget: ChunkBudget, updates_per_chunk: int, **kwargs: Any
) -> ChunkPlan:
    """The :class:`~gsl_jax.loop.ChunkPlan` of an exact budget."""
    last = budget.last_updates and budget.last_updates * batch_size
    return ChunkPlan(
        label, updates_per_chunk * batch_size, budget.num_chunks, last_steps=last, **kwargs
    )


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
    """Train a PPO generalist on ``env`` into ``run_dir`` (module docstring); a host env
    template (EnvPool) trains through :mod:`gsl_jax.host.ppo_run` (envs re-seeded on resume).

    Args mirror :func:`gsl_jax.gsl.run_gsl`'s: ``resume`` continues the run in ``run_dir`` from
    its last complete checkpoint (the config must equal the saved one; a finished run returns at
    once), ``checkpoint_every`` chunks between checkpoints, ``env_spec`` how to rebuild ``env``,
    ``max_value_loss`` the runaway-divergence guard's limit.
    """
    if not isinstance(env, Environment):  # a host env template (EnvPool): gsl_jax.host
        from gsl_jax.host.ppo_run import run_ppo_on_host

        args = (run_dir, resume, checkpoint_every, progress, log, on_record, env_spec)
        return run_ppo_on_host(env, config, *args, max_value_loss=max_value_loss)
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
    budget, ppo = config.budget(), config.resolved_ppo()
    chunk, last = budget_chunks(vec_env, net, ppo, budget, config.updates_per_chunk, shardings)
    plan = budget_plan(
        "generalist", ppo.batch_size, budget, config.updates_per_chunk, tags={"method": "ppo"}
    )
    run_path = run.path if run is not None else None
    total = budget.num_updates * ppo.batch_size
    logger = RunLogger(run_path, total, progress=progress, desc="ppo", start_step=prog.total_steps)
    with logger:
        meta = {"env": env.name, "env_spec": env_spec}
        io = RunIO(None, logger, log, on_record, checkpoint_every, meta, max_value_loss, run)
        save = lambda s, p: io.save({"generalist": s}, p)  # noqa: E731
        if prog.phase != "done":
            state, prog, _ = run_loop(chunk, state, prog, plan, io, save, last_chunk=last)
            prog = save(state, dataclasses.replace(prog, phase="done"))
    result = TrainResult.of(state, history_of(prog.records), net, vec_env)
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
        env = env_from_spec(spec)
    path = newest_checkpoint(run_dir, spec)
    if isinstance(env, Environment):
        net, _, like = _generalist_init(env, config)
    else:  # a host env: a learner on a fresh env batch is the template
        from gsl_jax.host.ppo_run import host_generalist

        driver, init = host_generalist(env, config)
        net, like = driver.network, init()
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
    num_seeds: int = 1,
) -> TrainResult:
    """Train PPO on ``env`` for ``total_steps`` env-steps per population member, in memory.

    Args:
        env: the environment.
        ppo: PPO hyperparameters; a schedule (``ppo.lr_schedule``) anneals over the run's
            updates unless ``ppo.lr_decay_updates`` is set.
        network: which actor-critic to build.
        total_steps: env-steps per member: exactly ``total_steps // ppo.batch_size`` updates.
        variation_sets: one list of variation ids per learner; default a single learner on all
            ``env.num_variations`` variations (required for environments with more than 100,000
            variations, such as the Procgen ports).
        seed: PRNG seed.
        updates_per_chunk: PPO updates per compiled chunk (logging granularity).
        run_dir: a new or empty directory (:class:`~gsl_jax.rundir.RunDirectory`, command
            ``"train_ppo"``) to write ``metrics.jsonl`` (x axis: env-steps of all members) and
            TensorBoard events to (``None``: nowhere); no checkpoints (:func:`run_ppo` has them).
        progress: draw a progress bar.
        tensorboard: write TensorBoard events when ``run_dir`` is set.
        shard: place the population by :func:`gsl_jax.population.place_population`.
        num_seeds: independent seeds of every learner, trained together as one vmapped
            population of ``len(variation_sets) * num_seeds`` members (member ``i * num_seeds +
            s`` is seed ``s`` of set ``i``; member ``p`` is initialised with
            ``jax.random.split(jax.random.key(seed), P)[p]``). The history's
            ``return_mean_per_member`` and ``episodes_per_member`` give each seed's curve.

    All arguments are validated before anything is compiled.
    """
    _positive_int("total_steps", total_steps)
    _positive_int("updates_per_chunk", updates_per_chunk)
    _positive_int("num_seeds", num_seeds)
    if variation_sets is None:
        if env.num_variations > _MAX_IMPLICIT_VARIATIONS:
            raise ValueError(
                f"variation_sets: {env.name} has {env.num_variations:,} variations; pass the "
                "training set explicitly, e.g. [range(200)] for 200 Procgen levels"
            )
        variation_sets = [np.arange(env.num_variations)]
    budget = chunk_budget(total_steps, ppo.batch_size, updates_per_chunk)
    ppo = ppo.with_lr_horizon(budget.num_updates)
    members = [ids for ids in variation_sets for _ in range(num_seeds)]
    sets: VariationSet = stack_variation_sets(members, env, field="variation_sets")
    if run_dir is not None:  # a new or empty directory only; it records what it writes
        spec = {
            "env": env.name,
            "ppo": dataclasses.asdict(ppo),
            "network": dataclasses.asdict(network),
            "total_steps": total_steps,
            "seed": seed,
            "num_seeds": num_seeds,
            "updates_per_chunk": updates_per_chunk,
        }
        run = RunDirectory.create(run_dir, "train_ppo", spec)
        run.claim("metrics.jsonl")
        if tensorboard:
            run.claim("tb")
    net = make_network(network, env.action_space, env.observation_space.shape)
    vec_env = VecEnv(env, ppo.num_envs)
    state = init_population(jax.random.key(seed), vec_env, net, ppo, sets)
    state, shardings = place_population(state, shard)
    chunk, last = budget_chunks(vec_env, net, ppo, budget, updates_per_chunk, shardings)
    plan = budget_plan(_label(len(members)), ppo.batch_size, budget, updates_per_chunk)
    state, history = run_population(chunk, state, plan, run_dir, progress, tensorboard, last)
    return TrainResult.of(state, history, net, vec_env)


def _label(members: int) -> str:
    return "generalist" if members == 1 else "population"


def run_population(
    chunk: Callable[[Any], tuple[Any, Any]],
    state: Any,
    plan: ChunkPlan,
    run_dir: str | Path | None,
    progress: bool,
    tensorboard: bool,
    last_chunk: Callable[[Any], tuple[Any, Any]] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """The in-memory loop of :func:`train_ppo` and :func:`gsl_jax.host_rollout.train_ppo_host`:
    ``plan`` (label, steps and chunks per member, from :func:`budget_plan`) for every member of
    ``state``'s population through ``chunk`` (and ``last_chunk``). Returns ``(state, history)``
    (:class:`TrainResult`'s fields)."""
    members = population_size(state)
    plan = dataclasses.replace(plan, members=members, generalist=members == 1)
    budget = (plan.num_chunks * plan.steps_per_chunk) * members
    if plan.last_steps:
        budget -= (plan.steps_per_chunk - plan.last_steps) * members
    logger = RunLogger(run_dir, budget, tensorboard=tensorboard, progress=progress)
    with logger:
        io = RunIO(None, logger)
        state, prog, _ = run_loop(chunk, state, Progress(), plan, io, last_chunk=last_chunk)
    return state, history_of(prog.records, members)

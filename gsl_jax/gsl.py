"""The GSL driver: generalist -> specialists -> demonstrations -> generalist with DAPG.

:func:`run_gsl` runs Algorithm 1 of Jia et al. (2022) as compiled chunks with the host in
between:

1. **Phase I** (``"phase1"``): a generalist (a population of one) trains with PPO on the training
   variations until the plateau criterion H fires (:mod:`gsl_jax.plateau`) or its budget runs out.
2. **Selection**: the generalist is evaluated on every training variation; the ``num_low`` lowest
   become E_low, split into ``num_specialists`` disjoint subsets (:mod:`gsl_jax.selection`).
3. **Optional pi_g_low** (``"finetune_low"``): with ``low_finetune_steps > 0`` a copy of the
   generalist first trains on E_low alone, and the specialists are cloned from that copy.
4. **Specialists** (``"specialists"``): ``num_specialists`` clones, one per subset, train together
   in one vmapped program for ``specialist_steps`` env-steps each.
5. **Demonstrations**: each specialist plays its subset and keeps its successful episodes; the
   generalist does the same on E \\ E_low (:mod:`gsl_jax.demos`).
6. **Phase II** (``"phase2"``): the generalist resumes PPO on all training variations with the
   DAPG term on the demos (or without it, with a warning, if no demo was kept).

**Checkpoints and resume.** With a ``run_dir`` the driver writes an orbax checkpoint
(:mod:`gsl_jax.checkpoint`) at every phase boundary and every ``checkpoint_every`` chunks: the
learner states (params, optimiser state, PRNG keys, env states), the demo buffer, the phase and all
counters and records. ``resume=True`` restarts from the last *complete* checkpoint; since every
random draw comes from the states or from ``config.seed``, a resumed run ends with the same
parameters as an uninterrupted one on the same device.

**Honest accounting.** Every record carries ``generalist_steps`` and ``total_steps`` (specialist
training, evaluation and demo collection included), so curves compare at equal total samples.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np

from gsl_jax import validation
from gsl_jax.checkpoint import (
    latest_checkpoint,
    read_meta,
    restore_checkpoint,
    save_checkpoint,
)
from gsl_jax.demos import DemoBuffer, rollout_trajectory, successful_episodes
from gsl_jax.envs.core import Environment, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.evaluation import evaluate_variations
from gsl_jax.logging import RunLogger, summarize_chunk
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.plateau import PlateauConfig, plateau_reached
from gsl_jax.population import clone_learner, init_population, make_chunk, shard_population
from gsl_jax.ppo import DAPGConfig, LearnerState, PPOConfig
from gsl_jax.selection import SplitMode, lowest_variations, split_variations

#: Environments with more variations than this need an explicit ``num_train_variations``.
_MAX_IMPLICIT_VARIATIONS = 100_000
PHASES = ("phase1", "finetune_low", "specialists", "phase2", "done")


@dataclass(frozen=True)
class GSLConfig:
    """Everything a GSL run needs besides the environment.

    Attributes:
        ppo: PPO settings of the generalist and the specialists.
        network: the actor-critic.
        dapg: the phase-II demonstration term.
        plateau: criterion H and the phase-I budget (``plateau.max_steps``).
        num_train_variations: train on variations ``0 .. n - 1`` (e.g. 200 Procgen levels);
            default all of the environment's variations.
        num_specialists: N_s.
        num_low: N_lenv, the number of worst variations handed to specialists.
        split: ``"random"`` or ``"contiguous"`` split of E_low.
        select_metric: rank variations by mean ``"return"`` or ``"success"`` rate.
        eval_episodes: episodes per variation when ranking.
        low_finetune_steps: env-steps of the optional pi_g_low fine-tune on E_low before cloning
            the specialists (0: clone pi_g itself, as in the released code).
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
    num_train_variations: int | None = None
    num_specialists: int = 4
    num_low: int = 8
    split: SplitMode = "random"
    select_metric: Literal["return", "success"] = "return"
    eval_episodes: int = 4
    low_finetune_steps: int = 0
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
        nested = {"ppo": PPOConfig, "network": NetworkConfig, "dapg": DAPGConfig}
        for name, klass in {**nested, "plateau": PlateauConfig}.items():
            validation.check_instance(f"gsl.{name}", getattr(self, name), klass)
        positive = (
            "num_specialists",
            "num_low",
            "eval_episodes",
            "specialist_steps",
            "demo_steps",
            "phase2_steps",
            "updates_per_chunk",
        )
        validation.check_fields("gsl", self, validation.check_positive, positive, integer=True)
        counts = ("specialist_demo_episodes", "generalist_demo_episodes", "low_finetune_steps")
        validation.check_fields("gsl", self, validation.check_non_negative, counts, integer=True)
        if self.num_train_variations is not None:
            validation.check_positive(
                "gsl.num_train_variations", self.num_train_variations, integer=True
            )
        if self.demo_return_threshold is not None:
            validation.check_finite("gsl.demo_return_threshold", self.demo_return_threshold)
        # jax.random.key keeps 32 bits of a seed (2**32 + 5 gives the key of 5); numpy
        # refuses negative seeds only when the phase that draws from it starts.
        validation.check_finite(
            "gsl.seed", self.seed, low=0, high=2**32, high_open=True, integer=True
        )
        validation.check_bool("gsl.fresh_specialist_optimizer", self.fresh_specialist_optimizer)
        if self.num_specialists > self.num_low:
            raise ValueError(
                f"gsl.num_specialists: {self.num_specialists} specialists need at least as many "
                f"variations, but num_low (N_lenv) is {self.num_low}"
            )
        validation.check_choice("gsl.split", self.split, ("random", "contiguous"))
        validation.check_choice("gsl.select_metric", self.select_metric, ("return", "success"))

    def train_variations(self, env: Environment) -> int:
        """The number of training variations on ``env``, validated."""
        n = self.num_train_variations
        if n is None:
            if env.num_variations > _MAX_IMPLICIT_VARIATIONS:
                raise ValueError(
                    f"gsl.num_train_variations: {env.name} has {env.num_variations:,} "
                    "variations; set how many to train on (e.g. 200 Procgen levels)"
                )
            n = env.num_variations
        if n > env.num_variations:
            raise ValueError(
                f"gsl.num_train_variations: {n} exceeds the {env.num_variations} variations "
                f"of {env.name}"
            )
        return n

    def validate_for(self, env: Environment) -> None:
        """Checks that need the environment: ``num_low`` against the training variations."""
        n = self.train_variations(env)
        if self.num_low > n:
            raise ValueError(
                f"gsl.num_low: N_lenv = {self.num_low} exceeds the {n} training variations "
                f"of {env.name}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (nested configs as dicts)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GSLConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        nested = {"ppo": PPOConfig, "network": NetworkConfig, "dapg": DAPGConfig}
        nested["plateau"] = PlateauConfig
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"gsl config: unknown field {unknown[0]!r}")
        kwargs = dict(data)
        for name, klass in nested.items():
            if name in kwargs:
                sub = kwargs[name]
                sub_known = {f.name for f in dataclasses.fields(klass)}
                bad = sorted(set(sub) - sub_known)
                if bad:
                    raise ValueError(f"gsl config: unknown field {name}.{bad[0]!r}")
                # JSON has no tuples: give tuple-valued fields (e.g. network.hidden) theirs back
                sub = {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
                kwargs[name] = klass(**sub)
        return cls(**kwargs)


def config_differences(saved: dict[str, Any], given: dict[str, Any], prefix: str = "") -> list:
    """``[(field, saved_value, given_value)]`` for every leaf field that differs."""
    out = []
    for key in sorted(set(saved) | set(given)):
        a, b = saved.get(key), given.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out


@dataclass
class GSLResult:
    """What :func:`run_gsl` returns.

    Attributes:
        generalist: the final generalist state (population axis of size 1).
        records: one dict per chunk: phase, generalist_steps, total_steps and the chunk summary.
        events: the readable event log (phase changes, selections, demo counts).
        low_variations: E_low; ``subsets`` its split, one array per specialist.
        demos_kept: successful demo episodes kept (specialists, generalist).
        network: the actor-critic module.
        resumed_from: the checkpoint this run resumed from, if any.
    """

    generalist: LearnerState
    records: list[dict[str, Any]]
    events: list[str]
    low_variations: np.ndarray
    subsets: list[np.ndarray]
    demos_kept: tuple[int, int]
    network: Any = None
    resumed_from: str | None = None


@dataclass
class _Progress:
    """The host side of a run: everything besides arrays that a checkpoint must hold."""

    phase: str = "phase1"
    chunk: int = 0  # chunks done in the current phase
    checkpoints: int = 0
    generalist_steps: int = 0
    total_steps: int = 0
    phase1_returns: list[float] = field(default_factory=list)
    phase1_steps: list[int] = field(default_factory=list)
    low: list[int] = field(default_factory=list)
    subsets: list[list[int]] = field(default_factory=list)
    demos_kept: list[int] = field(default_factory=lambda: [0, 0])
    demo_capacity: int = 0
    demo_action_shape: list[int] = field(default_factory=list)
    demo_action_dtype: str = "int32"
    records: list[dict[str, Any]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def _collect_demos(
    vec_env: VecEnv,
    network: Any,
    params: Any,
    ids: np.ndarray,
    episodes: int,
    config: GSLConfig,
    key: jax.Array,
) -> tuple[np.ndarray | None, np.ndarray | None, int, int]:
    """Successful episodes of one policy on ``ids``: ``(obs, action, kept, env_steps)``."""
    if episodes == 0 or ids.size == 0:
        return None, None, 0, 0
    traj = rollout_trajectory(
        vec_env, network, params, VariationSet.from_ids(ids), key, config.demo_steps
    )
    obs, action, kept, _ = successful_episodes(traj, episodes, config.demo_return_threshold)
    return obs, action, kept, config.demo_steps * vec_env.num_envs


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace ``path`` atomically with ``lines``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.replace(path)


def _first(population: LearnerState) -> LearnerState:
    """Member 0 of a population, without the population axis."""
    return jax.tree.map(lambda x: x[0], population)


def _start_phase2(generalist: LearnerState) -> LearnerState:
    """The generalist as phase II begins: its update counter restarts at 0.

    The DAPG term is scaled by ``dapg.decay ** state.updates`` (original DAPG's
    ``lambda1 ** k``, ``k`` = updates *with demonstrations*). Counting phase I's updates too
    would start phase II with the term already decayed away (0.95 ** 168 < 1e-3 after the quick
    preset's phase I). Nothing else reads the counter; params, optimiser, env and
    reward-normalisation state carry over unchanged."""
    return generalist.replace(updates=jax.numpy.zeros_like(generalist.updates))


def _prepare_run_dir(
    run_dir: Path, env: Environment, config: GSLConfig, resume: bool
) -> Path | None:
    """Check ``run_dir`` against ``resume`` and the saved config; returns the checkpoint to
    resume from (``None`` for a fresh run). Nothing is written before every check passed."""
    saved_path = run_dir / "config.json"
    if not resume:
        taken = ("config.json", "checkpoints", "result.json", "metrics.jsonl")
        if any((run_dir / name).exists() for name in taken):
            raise FileExistsError(
                f"run_dir: {run_dir} already holds a run; resume a GSL run (resume=True, "
                "`gsl-jax train --resume DIR`) or choose another directory"
            )
        return None
    if not saved_path.exists():
        raise FileNotFoundError(f"resume: {run_dir} holds no GSL run (no config.json)")
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"resume: {saved_path} is unreadable ({err})") from None
    if saved.get("env") != env.name:
        raise ValueError(
            f"resume: {run_dir} was run on env {saved.get('env')!r}, this run is on {env.name!r}"
        )
    diffs = config_differences(saved.get("config", {}), config.to_dict(), "gsl.")
    if diffs:
        listed = "; ".join(f"{k}: saved {a!r}, given {b!r}" for k, a, b in diffs[:5])
        raise ValueError(
            f"resume: the config conflicts with the one saved in {saved_path} ({listed}); "
            "resume with the saved config or start a new run_dir"
        )
    return latest_checkpoint(run_dir / "checkpoints")


def load_run_config(run_dir: str | Path) -> tuple[str, dict[str, Any], GSLConfig]:
    """``(env_name, env_spec, config)`` saved in ``run_dir/config.json`` by :func:`run_gsl`."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"run_dir: {run_dir} holds no GSL run (no config.json)")
    try:
        saved = json.loads(path.read_text())
        config = GSLConfig.from_dict(saved["config"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a gsl_jax run config ({err})") from None
    return saved["env"], saved.get("env_spec", {}), config


class RunBuilder:
    """The network, vectorised env, PRNG keys and learner constructors of one GSL config.

    :func:`run_gsl` builds every learner through it, so code that restores a checkpoint of a run
    (the benchmark, the report) gets the very same structures from :meth:`restore`."""

    def __init__(self, env: Environment, config: GSLConfig):
        self.env, self.config = env, config
        self.net = make_network(config.network, env.action_space, env.observation_space.shape)
        self.vec_env = VecEnv(env, config.ppo.num_envs)
        keys = jax.random.split(jax.random.key(config.seed), 4)
        self.k_init, self.k_spec, self.k_demo, self.k_low = keys
        ids = np.arange(config.train_variations(env))
        self.train_set = stack_variation_sets([ids], env, field="training variations")

    def fresh_generalist(self) -> LearnerState:
        return init_population(self.k_init, self.vec_env, self.net, self.config.ppo, self.train_set)

    def workers_from(self, source: LearnerState, sets: list, key: jax.Array) -> LearnerState:
        stacked = stack_variation_sets(sets, self.env, field="specialist variations")
        return clone_learner(
            key,
            source,
            self.vec_env,
            stacked,
            copy_optimizer=not self.config.fresh_specialist_optimizer,
            config=self.config.ppo,
        )

    def restore(self, path: Path, generalist_like: LearnerState) -> tuple[_Progress, dict]:
        """``(progress, arrays)`` of checkpoint ``path``; ``ValueError`` naming it if foreign."""
        try:
            prog = _Progress(**read_meta(path)["progress"])
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"checkpoint {path}: not a GSL checkpoint ({err}); delete it to resume "
                "from the one before"
            ) from None
        like: dict[str, Any] = {"generalist": generalist_like}
        if prog.phase == "finetune_low":
            like["worker"] = self.workers_from(
                _first(generalist_like), [np.asarray(prog.low)], self.k_low
            )
        elif prog.phase == "specialists":
            sets = [np.asarray(s) for s in prog.subsets]
            like["worker"] = self.workers_from(_first(generalist_like), sets, self.k_spec)
        elif prog.phase == "phase2" and prog.demo_capacity:
            n = prog.demo_capacity
            space = self.env.observation_space
            obs_like = np.zeros((n, *space.shape), np.dtype(space.dtype))
            act_like = np.zeros((n, *prog.demo_action_shape), np.dtype(prog.demo_action_dtype))
            like["demos"] = DemoBuffer.from_arrays(obs_like, act_like, 0)
        arrays, _ = restore_checkpoint(path, like)
        return prog, arrays


def load_generalist(run_dir: str | Path, env: Environment | None = None):
    """The generalist of the newest complete checkpoint in ``run_dir``.

    Returns ``(env, config, params, network, phase)``: ``params`` without a population axis,
    ``phase`` the checkpoint's phase (``"done"`` for a finished run). ``env`` defaults to the one
    rebuilt from the saved env spec.
    """
    from gsl_jax.envs.registry import make_env

    name, spec, config = load_run_config(run_dir)
    if env is None:
        if not spec:
            raise ValueError(f"run_dir: {run_dir} saved no env spec; pass the env")
        env = make_env(spec["name"], **spec.get("options", {}))
    path = latest_checkpoint(Path(run_dir) / "checkpoints")
    if path is None:
        raise FileNotFoundError(f"run_dir: {run_dir} holds no complete checkpoint yet")
    build = RunBuilder(env, config)
    prog, arrays = build.restore(path, build.fresh_generalist())
    return env, config, _first(arrays["generalist"]).params, build.net, prog.phase


def run_gsl(
    env: Environment,
    config: GSLConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 10,
    progress: bool = False,
    log: Callable[[str], None] = print,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    env_spec: dict[str, Any] | None = None,
    shard: bool = True,
) -> GSLResult:
    """Run GSL on ``env``; see the module docstring for the phases.

    Args:
        env: the environment; variations ``0 .. config.num_train_variations - 1`` are trained on.
        config: the run's settings.
        run_dir: where the config, checkpoints, ``metrics.jsonl`` (one record per chunk, x axis
            ``total_steps``), TensorBoard events, ``events.log``, ``demos.npz`` and
            ``result.json`` go; ``None`` keeps everything in memory (no checkpoints).
        resume: continue the run in ``run_dir`` from its last complete checkpoint (the config
            must equal the saved one). A finished run returns its saved result at once.
        checkpoint_every: chunks between checkpoints inside a phase (phase boundaries always
            checkpoint).
        progress: draw a progress bar.
        log: receives the event lines.
        on_record: receives each chunk's record.
        env_spec: how to rebuild ``env`` (saved with the config, for ``gsl-jax train --resume``).
        shard: with several local devices, spread the specialists' population axis over them
            (:func:`gsl_jax.population.shard_population`); single learners (the generalist,
            pi_g_low) stay on one device. On a multi-core CPU,
            ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (set before JAX starts)
            exposes ``N`` CPU devices; on 2 cores that ran the quick Procgen preset's 4
            specialists in 0.70x of their one-device time and ForkMaze's in 0.57x, while
            splitting one learner's env batch over the two made its update 1.05-1.9x slower
            (``docs/benchmarks.md``, section 2).
    """
    config.validate_for(env)
    if checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every: must be positive, got {checkpoint_every}")
    run_path = Path(run_dir) if run_dir is not None else None
    resume_from = None
    if run_path is not None:
        resume_from = _prepare_run_dir(run_path, env, config, resume)
    elif resume:
        raise ValueError("resume: needs a run_dir")

    n_train = config.train_variations(env)
    all_ids = np.arange(n_train)
    build = RunBuilder(env, config)
    net, vec_env = build.net, build.vec_env
    steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
    k_spec, k_demo, k_low = build.k_spec, build.k_demo, build.k_low
    workers_from = build.workers_from

    # ---------------------------------------------------------------- start or restore
    prog = _Progress()
    arrays: dict[str, Any] = {"generalist": build.fresh_generalist()}
    if resume_from is not None:
        prog, arrays = build.restore(resume_from, arrays["generalist"])
        log(f"resumed from {resume_from} (phase {prog.phase}, {prog.generalist_steps:,} steps)")

    if run_path is not None:
        run_path.mkdir(parents=True, exist_ok=True)
        if resume_from is None and not (run_path / "config.json").exists():
            saved = {"env": env.name, "env_spec": env_spec or {}, "config": config.to_dict()}
            (run_path / "config.json").write_text(json.dumps(saved, indent=1))
        # The metrics file holds exactly the checkpointed records: chunks that ran after the
        # last checkpoint of a killed run are dropped and will be logged again.
        _rewrite(run_path / "metrics.jsonl", [json.dumps(r) for r in prog.records])
        _rewrite(run_path / "events.log", prog.events)
    budget = config.plateau.max_steps + config.phase2_steps
    budget += config.num_specialists * config.specialist_steps + config.low_finetune_steps
    logger = RunLogger(run_path, budget, progress=progress, desc="gsl", start_step=prog.total_steps)

    def event(message: str) -> None:
        prog.events.append(message)
        log(message)
        if run_path is not None:
            with open(run_path / "events.log", "a") as f:
                f.write(message + "\n")

    def checkpoint() -> None:
        if run_path is None:
            return
        prog.checkpoints += 1
        meta = {"progress": dataclasses.asdict(prog), "env": env.name}
        save_checkpoint(run_path / "checkpoints", prog.checkpoints, arrays, meta)

    def account(phase: str, metrics: dict, generalist: bool, members: int) -> None:
        summary = summarize_chunk(metrics)
        if generalist:
            prog.generalist_steps += steps_per_chunk
        prog.total_steps += steps_per_chunk * members
        record = {
            "phase": phase,
            "generalist_steps": prog.generalist_steps,
            "total_steps": prog.total_steps,
            **summary,
        }
        prog.records.append(record)
        logger.log(prog.total_steps, record)
        if on_record is not None:
            on_record(record)

    def after_chunk() -> None:
        prog.chunk += 1
        if prog.chunk % checkpoint_every == 0:
            checkpoint()

    def enter(phase: str) -> None:
        prog.phase, prog.chunk = phase, 0
        checkpoint()

    def spread_specialists() -> None:
        # At the start of the phase, so restored and freshly cloned specialists alike run
        # sharded; the chunk compiles for the layout it is given. Only when the population axis
        # itself can be split (else population_sharding would split each env batch instead).
        if shard and math.gcd(config.num_specialists, jax.device_count()) > 1:
            arrays["worker"] = shard_population(arrays["worker"])

    chunk = make_chunk(vec_env, net, config.ppo, config.updates_per_chunk)
    with logger:
        if prog.phase == "phase1":
            if prog.chunk == 0:
                event(f"phase I: generalist on {n_train} variations")
            while True:
                arrays["generalist"], metrics = chunk(arrays["generalist"])
                account("generalist", metrics, True, 1)
                prog.phase1_returns.append(prog.records[-1]["return_mean"])
                prog.phase1_steps.append(prog.generalist_steps)
                fired, reason = plateau_reached(
                    prog.phase1_returns, prog.phase1_steps, config.plateau
                )
                if fired:
                    event(
                        f"phase I ends at {prog.generalist_steps:,} steps ({reason}); "
                        f"mean return {prog.records[-1]['return_mean']:.2f}"
                    )
                    break
                after_chunk()
            _select(env, net, arrays, prog, config, all_ids, event)
            if config.low_finetune_steps > 0:
                source = _first(arrays["generalist"])
                arrays["worker"] = workers_from(source, [np.asarray(prog.low)], k_low)
                event(f"pi_g_low: fine-tune a copy on E_low for {config.low_finetune_steps:,}")
                enter("finetune_low")
            else:
                sets = [np.asarray(s) for s in prog.subsets]
                arrays["worker"] = workers_from(_first(arrays["generalist"]), sets, k_spec)
                enter("specialists")

        if prog.phase == "finetune_low":
            for _ in range(prog.chunk, math.ceil(config.low_finetune_steps / steps_per_chunk)):
                arrays["worker"], metrics = chunk(arrays["worker"])
                account("finetune_low", metrics, False, 1)
                after_chunk()
            sets = [np.asarray(s) for s in prog.subsets]
            arrays["worker"] = workers_from(_first(arrays["worker"]), sets, k_spec)
            enter("specialists")

        if prog.phase == "specialists":
            spread_specialists()
            num_chunks = math.ceil(config.specialist_steps / steps_per_chunk)
            if prog.chunk == 0:
                devices = len(jax.tree.leaves(arrays["worker"])[0].sharding.device_set)
                event(
                    f"specialists: {config.num_specialists} x {num_chunks * steps_per_chunk:,} "
                    f"steps" + (f", sharded over {devices} devices" if devices > 1 else "")
                )
            for _ in range(prog.chunk, num_chunks):
                arrays["worker"], metrics = chunk(arrays["worker"])
                account("specialists", metrics, False, config.num_specialists)
                after_chunk()
            demos = _demonstrations(vec_env, net, arrays, prog, config, all_ids, k_demo, event)
            arrays = {"generalist": _start_phase2(arrays["generalist"])}
            if demos is not None:
                arrays["demos"] = demos
                prog.demo_capacity = demos.capacity
                prog.demo_action_shape = list(demos.action.shape[1:])
                prog.demo_action_dtype = str(demos.action.dtype)
                if run_path is not None and not (run_path / "demos.npz").exists():
                    demos.save(run_path / "demos.npz")
            enter("phase2")

        if prog.phase == "phase2":
            demos = arrays.get("demos")
            if demos is not None:
                phase2 = make_chunk(
                    vec_env, net, config.ppo, config.updates_per_chunk, dapg=config.dapg
                )
                run = lambda state: phase2(state, demos)  # noqa: E731
                if prog.chunk == 0:
                    event(f"phase II: PPO + DAPG on {int(demos.count)} demo transitions")
            else:
                run = chunk
                if prog.chunk == 0:
                    message = "no successful demonstrations were kept: phase II runs without DAPG"
                    warnings.warn(message, stacklevel=2)
                    event(f"phase II: {message}")
            for _ in range(prog.chunk, math.ceil(config.phase2_steps / steps_per_chunk)):
                arrays["generalist"], metrics = run(arrays["generalist"])
                account("generalist+dapg" if demos is not None else "generalist", metrics, True, 1)
                after_chunk()
            event(f"done: {prog.generalist_steps:,} generalist / {prog.total_steps:,} total steps")
            arrays = {"generalist": arrays["generalist"]}
            enter("done")

    result = GSLResult(
        arrays["generalist"],
        prog.records,
        prog.events,
        np.asarray(prog.low),
        [np.asarray(s) for s in prog.subsets],
        (prog.demos_kept[0], prog.demos_kept[1]),
        net,
        str(resume_from) if resume_from is not None else None,
    )
    if run_path is not None and not (run_path / "result.json").exists():
        (run_path / "result.json").write_text(json.dumps(result_summary(result, env), indent=1))
    return result


def result_summary(result: GSLResult, env: Environment) -> dict[str, Any]:
    """The JSON summary written to ``result.json``."""
    last_phase2 = [r for r in result.records if r["phase"] != "specialists"]
    return {
        "env": env.name,
        "generalist_steps": result.records[-1]["generalist_steps"] if result.records else 0,
        "total_steps": result.records[-1]["total_steps"] if result.records else 0,
        "final_return": last_phase2[-1]["return_mean"] if last_phase2 else math.nan,
        "low_variations": result.low_variations.tolist(),
        "subsets": [s.tolist() for s in result.subsets],
        "demos_kept": list(result.demos_kept),
        "events": result.events,
    }


def _select(env, net, arrays, prog: _Progress, config: GSLConfig, all_ids, event) -> None:
    """Evaluate the generalist per variation and choose E_low and its split (into ``prog``)."""
    scores = evaluate_variations(
        env,
        net,
        _first(arrays["generalist"]).params,
        all_ids,
        episodes=config.eval_episodes,
        seed=config.seed,
    )
    metric = scores.mean_return() if config.select_metric == "return" else scores.success_rate()
    low = lowest_variations(all_ids, metric, config.num_low)
    subsets = split_variations(low, config.num_specialists, config.split, config.seed)
    prog.total_steps += int(scores.lengths.sum())
    prog.low = low.tolist()
    prog.subsets = [s.tolist() for s in subsets]
    event(f"selection: E_low = {prog.low} by {config.select_metric}")
    for i, subset in enumerate(prog.subsets):
        event(f"  specialist {i}: variations {subset}")


def _demonstrations(
    vec_env, net, arrays, prog: _Progress, config: GSLConfig, all_ids, key, event
) -> DemoBuffer | None:
    """Collect successful episodes of the specialists (on their subsets) and of the generalist
    (on E \\ E_low); ``None`` if none was kept."""
    per_specialist = -(-config.specialist_demo_episodes // config.num_specialists)
    obs_parts, act_parts = [], []
    kept_s = 0
    keys = jax.random.split(key, config.num_specialists + 1)
    for i, subset in enumerate(prog.subsets):
        params = jax.tree.map(lambda x, i=i: x[i], arrays["worker"].params)
        obs, act, kept, used = _collect_demos(
            vec_env, net, params, np.asarray(subset), per_specialist, config, keys[i]
        )
        prog.total_steps += used
        if kept:
            obs_parts.append(obs)
            act_parts.append(act)
        kept_s += kept
    rest = np.setdiff1d(all_ids, prog.low)
    generalist = _first(arrays["generalist"]).params
    obs, act, kept_g, used = _collect_demos(
        vec_env, net, generalist, rest, config.generalist_demo_episodes, config, keys[-1]
    )
    prog.total_steps += used
    if kept_g:
        obs_parts.append(obs)
        act_parts.append(act)
    prog.demos_kept = [kept_s, kept_g]
    event(f"demonstrations: kept {kept_s} specialist and {kept_g} generalist episodes")
    if not obs_parts:
        return None
    return DemoBuffer.from_arrays(
        np.concatenate(obs_parts), np.concatenate(act_parts), kept_s + kept_g
    )

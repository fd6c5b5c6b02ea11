"""GSL as a table of phase functions, and the one phase vocabulary of checkpoints, logs and plots.

Each phase is a function ``run(ctx, arrays, progress) -> (arrays, progress)`` with explicit
inputs and outputs: ``arrays`` the device pytrees (``"generalist"``, ``"worker"`` for pi_g_low or
the specialists, ``"demos"``), ``progress`` the run's host state (:class:`GSLProgress`, frozen).
A phase may also have ``start(ctx, arrays, progress) -> arrays``, which builds its working state
(e.g. clones the specialists) before the checkpoint at its boundary, so that checkpoint holds
exactly what the phase starts from. :func:`run_phases` walks a table of :class:`Phase` entries
from the phase a run is in; GSL's table and phase functions are in :mod:`gsl_jax.gsl_phases`. A
new phase, or a repeated cycle, is one more entry.

Vocabulary (:data:`PHASES`, in run order): ``progress.phase`` of every checkpoint, the
``gsl_phase`` of every chunk record and the event lines use these names. A record's ``phase``
key keeps naming the learner its chunk trained (:data:`RECORD_LABELS`: ``"generalist"``,
``"finetune_low"``, ``"specialists"``, ``"generalist+dapg"``), as saved metrics and plots read it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from gsl_jax.checkpoint import DamagedCheckpoint, read_meta, restore_checkpoint
from gsl_jax.demos import DemoBuffer, rollout_trajectory
from gsl_jax.envs.core import Environment, VariationSet, VecEnv, stack_variation_sets
from gsl_jax.evaluation import VariationScores, evaluate_variations
from gsl_jax.loop import ChunkPlan, Progress, RunIO, run_loop
from gsl_jax.networks import make_network
from gsl_jax.population import (
    clone_learner,
    init_population,
    make_chunk,
    place_population,
)
from gsl_jax.ppo import LearnerState

if TYPE_CHECKING:
    from gsl_jax.gsl import GSLConfig

PHASE1 = "phase1"  # generalist PPO until the plateau criterion H fires
SELECT = "select"  # evaluate per variation, choose E_low and split it
FINETUNE_LOW = "finetune_low"  # optional pi_g_low: a copy of the generalist trained on E_low
SPECIALISTS = "specialists"  # N_s clones, one per subset of E_low, vmapped
DEMOS = "demos"  # successful episodes of the specialists and of the generalist
PHASE2 = "phase2"  # the generalist again, with the DAPG term on the demos
DONE = "done"
#: The phase vocabulary, in run order.
PHASES = (PHASE1, SELECT, FINETUNE_LOW, SPECIALISTS, DEMOS, PHASE2, DONE)
#: The ``phase`` key of a training phase's chunk records: the learner the chunk trained. Phase II
#: without any demonstration records ``"generalist"`` (plain PPO).
RECORD_LABELS = {
    PHASE1: "generalist",
    FINETUNE_LOW: "finetune_low",
    SPECIALISTS: "specialists",
    PHASE2: "generalist+dapg",
}
#: Record labels of chunks that trained the generalist (a GSL learning curve).
GENERALIST_LABELS = ("generalist", "generalist+dapg")

Arrays = dict[str, Any]


@dataclass(frozen=True)
class GSLProgress(Progress):
    """Everything besides arrays that a GSL checkpoint holds (:class:`~gsl_jax.loop.Progress`
    plus the phase and what selection and demo collection decided).

    Attributes:
        phase: the phase the run is in (:data:`PHASES`).
        position: its index in the run's phase table (a table may repeat a phase).
        events: the event lines so far.
        low: E_low; ``subsets`` its split, one tuple per specialist.
        demos_kept: demo episodes kept ``(specialists, generalist)``.
        specialist_demos: per specialist ``{"variations", "wanted", "kept", "successes",
            "episodes"}``: demo episodes wanted and kept, successful and finished episodes.
        demo_capacity, demo_action_shape, demo_action_dtype: the demo buffer's layout.
    """

    phase: str = PHASE1
    position: int = 0
    events: tuple[str, ...] = ()
    low: tuple[int, ...] = ()
    subsets: tuple[Any, ...] = ()
    demos_kept: tuple[int, ...] = (0, 0)
    specialist_demos: tuple[dict[str, Any], ...] = ()
    demo_capacity: int = 0
    demo_action_shape: tuple[int, ...] = ()
    demo_action_dtype: str = "int32"


def first(population: LearnerState) -> LearnerState:
    """Member 0 of a population, without the population axis."""
    return jax.tree.map(lambda x: x[0], population)


def make_run_builder(env: Any, config: GSLConfig) -> RunBuilder:
    """The builder of ``env``'s backend: :class:`RunBuilder` for a JAX
    :class:`~gsl_jax.envs.core.Environment`, :class:`gsl_jax.host.HostRunBuilder` for a host
    vector env (:class:`gsl_jax.host_rollout.HostVecEnv`). The phases see only the builder's
    interface, never the backend."""
    if isinstance(env, Environment):
        return RunBuilder(env, config)
    from gsl_jax.host import HostRunBuilder, check_host_env

    check_host_env(env)
    return HostRunBuilder(env, config)


class RunBuilder:
    """The network, vectorised env, PRNG keys, compiled chunks and learner constructors of one
    GSL config: the backend interface the phases run on (:func:`make_run_builder`; the host
    backend is :class:`gsl_jax.host.HostRunBuilder`).

    :func:`~gsl_jax.gsl.run_gsl` builds every learner through it, so code that restores a
    checkpoint of a run (the benchmark, the report) gets the very same structures from
    :meth:`restore`."""

    def __init__(self, env: Environment, config: GSLConfig):
        if not isinstance(env, Environment):
            raise ValueError(
                f"env: RunBuilder needs a JAX Environment, got the host env {type(env).__name__};"
                " use make_run_builder (run_gsl does), which picks the host backend"
            )
        self.env, self.config = env, config
        self.net = make_network(config.network, env.action_space, env.observation_space.shape)
        self.vec_env = VecEnv(env, config.ppo.num_envs)
        root = jax.random.key(config.seed)
        self.k_init, self.k_spec, self.k_demo, self.k_low = jax.random.split(root, 4)
        self.k_select = jax.random.fold_in(root, 1)  # selection's tie-breaks
        self.train_ids = np.arange(config.train_variations(env))
        self.train_set = stack_variation_sets([self.train_ids], env, field="training variations")
        self.steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
        self._chunks: dict[bool, Callable] = {}

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

    def chunk(self, dapg: bool = False) -> Callable:
        """The compiled chunk (with the DAPG term: ``chunk(state, demos)``), built once."""
        if dapg not in self._chunks:
            c = self.config
            self._chunks[dapg] = make_chunk(
                self.vec_env, self.net, c.ppo, c.updates_per_chunk, dapg=c.dapg if dapg else None
            )
        return self._chunks[dapg]

    def evaluate(self, params: Any, ids: np.ndarray, episodes: int, seed: int) -> VariationScores:
        """``episodes`` first episodes of the policy ``params`` on each variation of ``ids``."""
        return evaluate_variations(self.env, self.net, params, ids, episodes=episodes, seed=seed)

    def demo_rollout(
        self, params: Any, ids: np.ndarray, key: jax.Array, num_steps: int
    ) -> tuple[dict[str, np.ndarray], int]:
        """``(traj, env_steps)``: ``num_steps`` steps of ``num_envs`` envs on ``ids`` under the
        stochastic policy (:func:`gsl_jax.demos.rollout_trajectory`, host arrays ``[T, B]``)."""
        variations = VariationSet.from_ids(ids)
        traj = rollout_trajectory(self.vec_env, self.net, params, variations, key, num_steps)
        return traj, num_steps * self.vec_env.num_envs

    def restore(self, path: Path, generalist_like: LearnerState) -> tuple[GSLProgress, Arrays]:
        """``(progress, arrays)`` of checkpoint ``path``; ``ValueError`` naming it if foreign."""
        try:
            prog = GSLProgress.from_dict(read_meta(path)["progress"])
        except (KeyError, TypeError, AttributeError) as err:
            raise DamagedCheckpoint(
                f"checkpoint {path} is damaged (meta.json holds no GSL progress: {err})"
            ) from None
        if prog.phase not in PHASES:
            raise DamagedCheckpoint(f"checkpoint {path} is damaged (unknown phase {prog.phase!r})")
        like: Arrays = {"generalist": generalist_like}
        if prog.phase == FINETUNE_LOW:
            like["worker"] = self.workers_from(
                first(generalist_like), [np.asarray(prog.low)], self.k_low
            )
        elif prog.phase in (SPECIALISTS, DEMOS):
            sets = [np.asarray(s) for s in prog.subsets]
            like["worker"] = self.workers_from(first(generalist_like), sets, self.k_spec)
        elif prog.phase == PHASE2 and prog.demo_capacity:
            n = prog.demo_capacity
            space = self.env.observation_space
            obs_like = np.zeros((n, *space.shape), np.dtype(space.dtype))
            act_like = np.zeros((n, *prog.demo_action_shape), np.dtype(prog.demo_action_dtype))
            like["demos"] = DemoBuffer.from_arrays(obs_like, act_like, 0)
        arrays, _ = restore_checkpoint(path, like)
        return prog, arrays


@dataclass(frozen=True)
class PhaseContext:
    """What every phase reads and nothing mutates: the run's builder, output and device rule."""

    build: RunBuilder
    io: RunIO
    shard: bool = True

    @property
    def config(self) -> GSLConfig:
        return self.build.config

    def event(self, progress: GSLProgress, line: str) -> GSLProgress:
        """Log ``line``; returns the progress with it appended to the events."""
        self.io.event(line)
        return dataclasses.replace(progress, events=(*progress.events, line))

    def plan(self, phase: str, num_chunks: int | None, **kwargs: Any) -> ChunkPlan:
        return ChunkPlan(
            RECORD_LABELS.get(phase, phase),
            self.build.steps_per_chunk,
            num_chunks,
            tags={"gsl_phase": phase},
            **kwargs,
        )

    def train(
        self, arrays: Arrays, progress: GSLProgress, key: str, plan: ChunkPlan, chunk: Callable
    ) -> tuple[Arrays, GSLProgress, str | None]:
        """Run ``plan`` on ``arrays[key]``; checkpoints hold the other arrays too."""
        state, _ = place_population(arrays[key], self.shard)

        def save(s: Any, p: GSLProgress) -> GSLProgress:
            return self.io.save({**arrays, key: s}, p)

        out = run_loop(chunk, state, progress, plan, self.io, save)
        return {**arrays, key: out.state}, out.progress, out.stopped

    def chunks(self, steps: int) -> int:
        return math.ceil(steps / self.build.steps_per_chunk)


PhaseFn = Callable[[PhaseContext, Arrays, GSLProgress], tuple[Arrays, GSLProgress]]
StartFn = Callable[[PhaseContext, Arrays, GSLProgress], Arrays]


@dataclass(frozen=True)
class Phase:
    """One entry of the phase table: its name, its function, the optional ``start`` that builds
    its working arrays before its boundary checkpoint, and whether a config runs it."""

    name: str
    run: PhaseFn
    start: StartFn | None = None
    applies: Callable[[GSLConfig], bool] = lambda config: True


def run_phases(
    ctx: PhaseContext, arrays: Arrays, progress: GSLProgress, table: tuple[Phase, ...]
) -> tuple[Arrays, GSLProgress]:
    """Run the phases of ``table`` (GSL's is :data:`gsl_jax.gsl_phases.GSL_PHASES`) that apply
    to the config, from ``progress.phase`` on, checkpointing at every boundary; returns the
    final arrays (the generalist alone) and progress (phase ``"done"``)."""
    active = [p for p in table if p.applies(ctx.config)]
    names = [p.name for p in active]
    if progress.phase == DONE:
        begin = len(active)
    elif progress.position < len(active) and names[progress.position] == progress.phase:
        begin = progress.position
    elif names.count(progress.phase) == 1:  # a checkpoint written before ``position`` existed
        begin = names.index(progress.phase)
    else:
        raise ValueError(f"phase: {progress.phase!r} is not a phase of this run ({names})")
    for i in range(begin, len(active)):
        arrays, progress = active[i].run(ctx, arrays, progress)
        following = active[i + 1] if i + 1 < len(active) else None
        if following is None:
            arrays = {"generalist": arrays["generalist"]}
        elif following.start is not None:
            arrays = following.start(ctx, arrays, progress)
        name = following.name if following is not None else DONE
        progress = dataclasses.replace(progress, phase=name, position=i + 1, chunk=0)
        progress = ctx.io.save(arrays, progress)
    return arrays, progress

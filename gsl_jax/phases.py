"""GSL as a table of phase functions, and the one phase vocabulary of checkpoints, logs and plots.

Each phase is a function ``run(ctx, arrays, progress) -> (arrays, progress)`` with explicit
inputs and outputs: ``arrays`` the device pytrees (``"generalist"``, ``"worker"`` for pi_g_low or
the specialists, ``"demos"``), ``progress`` the run's host state (:class:`GSLProgress`, frozen).
A phase may also have ``start(ctx, arrays, progress) -> arrays``, which builds its working state
(e.g. clones the specialists) before the checkpoint at its boundary, so that checkpoint holds
exactly what the phase starts from. :func:`run_phases` walks a table of :class:`Phase` entries
from the phase a run is in; GSL's table and phase functions are in :mod:`gsl_jax.gsl_phases`. A
new phase is one more entry; a repeated cycle is a phase (phase II) that raises
``progress.cycle`` and names, in its entry's ``again``, the phase the new cycle starts from.

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

from gsl_jax import distributed, ppg
from gsl_jax.checkpoint import DamagedCheckpoint, read_meta, restore_checkpoint
from gsl_jax.demos import DemoBuffer, rollout_population
from gsl_jax.envs.core import Environment, VecEnv, stack_variation_sets
from gsl_jax.evaluation import VariationScores, evaluate_variations
from gsl_jax.loop import ChunkPlan, Progress, RunIO, run_loop
from gsl_jax.networks import make_network
from gsl_jax.population import (
    clone_learner,
    init_population,
    make_chunk,
    place_population,
    population_size,
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
        cycle: the specialist -> demonstration -> phase-II cycle the run is in (from 1; phase I
            and the first selection belong to cycle 1).
        events: the event lines so far.
        low: E_low; ``subsets`` its split, one tuple per specialist.
        demos_kept: demo episodes kept ``(specialists, generalist)``.
        specialist_demos: per specialist ``{"variations", "wanted", "kept", "successes",
            "episodes"}``: demo episodes wanted and kept, successful and finished episodes.
        demo_capacity, demo_action_shape, demo_action_dtype: the demo buffer's layout.
        cycle_log: per finished demo collection, ``{"cycle", "low", "subsets", "demos_kept",
            "specialist_demos"}`` (``low`` .. ``specialist_demos`` hold the latest cycle's).
    """

    phase: str = PHASE1
    position: int = 0
    cycle: int = 1
    events: tuple[str, ...] = ()
    low: tuple[int, ...] = ()
    subsets: tuple[Any, ...] = ()
    demos_kept: tuple[int, ...] = (0, 0)
    specialist_demos: tuple[dict[str, Any], ...] = ()
    demo_capacity: int = 0
    demo_action_shape: tuple[int, ...] = ()
    demo_action_dtype: str = "int32"
    cycle_log: tuple[dict[str, Any], ...] = ()


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
        # The base learner (config.learner) is resolved in this class, and only here.
        if config.learner == "ppg":
            self.net = ppg.gsl_network(config, env)
        else:
            self.net = make_network(config.network, env.action_space, env.observation_space.shape)
        self.vec_env = VecEnv(env, config.ppo.num_envs)
        self.spec_ppo = config.specialist_ppo
        same = self.spec_ppo.num_envs == config.ppo.num_envs
        self.spec_vec_env = self.vec_env if same else VecEnv(env, self.spec_ppo.num_envs)
        root = jax.random.key(config.seed)
        self.k_init, self.k_spec, self.k_demo, self.k_low = jax.random.split(root, 4)
        self.k_select = jax.random.fold_in(root, 1)  # selection's tie-breaks
        self.train_ids = np.arange(config.train_variations(env))
        self.train_set = stack_variation_sets([self.train_ids], env, field="training variations")
        self.steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
        self.spec_steps_per_chunk = config.updates_per_chunk * self.spec_ppo.batch_size
        self._chunks: dict[tuple[bool, bool, int], Callable] = {}

    def cycle_key(self, key: jax.Array, cycle: int) -> jax.Array:
        """``key`` (one of ``k_spec``, ``k_demo``, ``k_low``, ``k_select``) for ``cycle``: itself
        in cycle 1 (so one-cycle runs draw what they always drew), folded with the cycle after."""
        return key if cycle == 1 else jax.random.fold_in(key, cycle)

    def fresh_generalist(self) -> LearnerState:
        if self.config.learner == "ppg":
            return ppg.init_population(
                self.k_init,
                self.vec_env,
                self.net,
                self.config.ppo,
                self.config.ppg,
                self.train_set,
            )
        return init_population(self.k_init, self.vec_env, self.net, self.config.ppo, self.train_set)

    def workers_from(
        self, source: LearnerState, sets: list, key: jax.Array, specialists: bool = False
    ) -> LearnerState:
        """Clones of ``source``, one per id list of ``sets``: pi_g_low (the generalist's envs)
        or, with ``specialists``, the specialists (``specialist_num_envs`` envs each)."""
        stacked = stack_variation_sets(sets, self.env, field="specialist variations")
        vec_env, ppo = (
            (self.spec_vec_env, self.spec_ppo) if specialists else (self.vec_env, self.config.ppo)
        )
        if vec_env is not self.vec_env:  # per-env reward-normalisation returns: resized
            returns = jax.numpy.zeros(vec_env.num_envs, source.reward_norm.returns.dtype)
            source = source.replace(reward_norm=source.reward_norm.replace(returns=returns))
        copy = not self.config.fresh_specialist_optimizer
        if self.config.learner == "ppg":
            return ppg.clone_population(key, source, vec_env, stacked, ppo, self.config.ppg, copy)
        return clone_learner(key, source, vec_env, stacked, copy_optimizer=copy, config=ppo)

    def chunk(
        self, dapg: bool = False, specialists: bool = False, updates: int | None = None
    ) -> Callable:
        """The compiled chunk (with the DAPG term: ``chunk(state, demos)``; the specialists'
        with ``specialists``) of ``updates`` PPO updates (default ``updates_per_chunk``; an
        exact budget's shorter last chunk passes fewer), built once."""
        c = self.config
        updates = c.updates_per_chunk if updates is None else updates
        if (dapg, specialists, updates) not in self._chunks:
            term = c.dapg if dapg else None
            vec_env, ppo = (
                (self.spec_vec_env, self.spec_ppo) if specialists else (self.vec_env, c.ppo)
            )
            if c.learner == "ppg":
                built = ppg.make_chunk(vec_env, self.net, ppo, c.ppg, updates, dapg=term)
            else:
                built = make_chunk(vec_env, self.net, ppo, updates, dapg=term)
            self._chunks[dapg, specialists, updates] = _demos_beside(built) if dapg else built
        return self._chunks[dapg, specialists, updates]

    def evaluate(self, params: Any, ids: np.ndarray, episodes: int, seed: int) -> VariationScores:
        """``episodes`` first episodes of the policy ``params`` on each variation of ``ids``."""
        return evaluate_variations(self.env, self.net, params, ids, episodes=episodes, seed=seed)

    def demo_rollouts(
        self,
        params: Any,
        id_sets: list[np.ndarray],
        keys: jax.Array,
        num_steps: int,
        specialists: bool = False,
    ) -> list[tuple[dict[str, np.ndarray], int]]:
        """``[(traj, env_steps)]``, one per policy: ``num_steps`` steps of the learner's envs
        (the specialists' with ``specialists``) under policy ``p`` (``params`` with a leading
        axis ``P``, key ``keys[p]``) on the variations ``id_sets[p]``, in vmapped groups
        (:func:`gsl_jax.demos.rollout_population`; host arrays ``[T, B, ...]``)."""
        vec_env = self.spec_vec_env if specialists else self.vec_env
        sets = stack_variation_sets([np.asarray(s) for s in id_sets], self.env)
        trajs = rollout_population(vec_env, self.net, params, sets, keys, num_steps)
        return [(traj, num_steps * vec_env.num_envs) for traj in trajs]

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
            like["worker"] = self.workers_from(first(generalist_like), sets, self.k_spec, True)
        if prog.demo_capacity and (prog.phase == PHASE2 or self.carries_demos(prog)):
            n = prog.demo_capacity
            space = self.env.observation_space
            obs_like = np.zeros((n, *space.shape), np.dtype(space.dtype))
            act_like = np.zeros((n, *prog.demo_action_shape), np.dtype(prog.demo_action_dtype))
            like["demos"] = DemoBuffer.from_arrays(obs_like, act_like, 0)
        arrays, _ = restore_checkpoint(path, like)
        return prog, arrays

    def carries_demos(self, progress: GSLProgress) -> bool:
        """Whether the demo buffer travels through this phase: in the cycles after the first,
        from selection to demo collection, with ``cycle_demos="add"``."""
        later = progress.cycle > 1 and progress.phase in (SELECT, FINETUNE_LOW, SPECIALISTS, DEMOS)
        return later and self.config.cycle_demos == "add"


def _demos_beside(chunk: Callable) -> Callable:
    """``chunk(state, demos)`` with the demos replicated on the state's devices when the state
    spans several (:func:`gsl_jax.distributed.replicated_on`), placed once per buffer."""
    placed: dict[Any, Any] = {}

    def call(state: Any, demos: Any = None) -> Any:
        if demos is not None:
            where = (id(demos), getattr(jax.tree.leaves(state)[0], "sharding", None))
            if where not in placed:
                placed.clear()  # one buffer at a time; the tuple keeps ``demos`` alive
                placed[where] = (demos, distributed.replicated_on(demos, state))
            demos = placed[where][1]
        return chunk(state, demos)

    return call


@dataclass(frozen=True)
class PhaseContext:
    """What every phase reads and nothing mutates: the run's builder, output and device rule
    (``shard``: :func:`~gsl_jax.population.place_population`'s; ``shard_learner_batch``: split a
    single learner's env batch over every device, :func:`gsl_jax.distributed.place_learner`;
    ``None`` does so in a multi-process run only)."""

    build: RunBuilder
    io: RunIO
    shard: bool = True
    shard_learner_batch: bool | None = None

    @property
    def config(self) -> GSLConfig:
        return self.build.config

    def event(self, progress: GSLProgress, line: str) -> GSLProgress:
        """Log ``line``; returns the progress with it appended to the events."""
        self.io.event(line)
        return dataclasses.replace(progress, events=(*progress.events, line))

    def plan(
        self,
        phase: str,
        num_chunks: int | None,
        progress: GSLProgress,
        steps_per_chunk: int | None = None,
        **kwargs: Any,
    ) -> ChunkPlan:
        """The chunk plan of ``phase``; its records carry ``gsl_phase`` and the ``cycle``."""
        return ChunkPlan(
            RECORD_LABELS.get(phase, phase),
            steps_per_chunk or self.build.steps_per_chunk,
            num_chunks,
            tags={"gsl_phase": phase, "cycle": progress.cycle},
            **kwargs,
        )

    def train(
        self, arrays: Arrays, progress: GSLProgress, key: str, plan: ChunkPlan, chunk: Callable
    ) -> tuple[Arrays, GSLProgress, str | None]:
        """Run ``plan`` on ``arrays[key]``; checkpoints hold the other arrays too."""
        single = population_size(arrays[key]) == 1
        if single and distributed.splits_learner_batch(self.shard_learner_batch):
            state, _ = distributed.place_learner(arrays[key])
            if progress.chunk == 0:
                envs, count = state.env.stats.finished.shape[1], jax.device_count()
                line = f"  {plan.label}: {envs} envs split over {count} devices, rest replicated"
                progress = self.event(progress, line)
        else:
            state, _ = place_population(arrays[key], self.shard)

        def save(s: Any, p: GSLProgress) -> GSLProgress:
            return self.io.save({**arrays, key: s}, p)

        if not distributed.is_multiprocess():
            out = run_loop(chunk, state, progress, plan, self.io, save)
            return {**arrays, key: out.state}, out.progress, out.stopped

        def gathered(s: Any) -> tuple[Any, Any]:
            # Every process reads every member's metrics (the loop's records and guards).
            s, metrics = chunk(s)
            return s, distributed.to_local(metrics)

        out = run_loop(gathered, state, progress, plan, self.io, save)
        # What follows (evaluation, demos) runs on every process on the whole population.
        return {**arrays, key: distributed.to_local(out.state)}, out.progress, out.stopped

    def chunks(self, steps: int, steps_per_chunk: int | None = None) -> int:
        return math.ceil(steps / (steps_per_chunk or self.build.steps_per_chunk))


PhaseFn = Callable[[PhaseContext, Arrays, GSLProgress], tuple[Arrays, GSLProgress]]
StartFn = Callable[[PhaseContext, Arrays, GSLProgress], Arrays]


@dataclass(frozen=True)
class Phase:
    """One entry of the phase table: its name, its function, the optional ``start`` that builds
    its working arrays before its boundary checkpoint, whether a config runs it, and ``again``:
    the phase to go back to when its run raised ``progress.cycle`` (a new cycle)."""

    name: str
    run: PhaseFn
    start: StartFn | None = None
    applies: Callable[[GSLConfig], bool] = lambda config: True
    again: str | None = None


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
    i = begin
    while i < len(active):
        cycle = progress.cycle
        arrays, progress = active[i].run(ctx, arrays, progress)
        again = active[i].again
        i = names.index(again) if again is not None and progress.cycle > cycle else i + 1
        following = active[i] if i < len(active) else None
        name = following.name if following is not None else DONE
        progress = dataclasses.replace(progress, phase=name, position=i, chunk=0)
        if following is None:
            arrays = {"generalist": arrays["generalist"]}
        elif following.start is not None:
            arrays = following.start(ctx, arrays, progress)
        progress = ctx.io.save(arrays, progress)
    return arrays, progress

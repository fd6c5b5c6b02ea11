"""The one resumable chunk loop every driver runs: plain PPO, each GSL phase, host rollouts.

A driver hands :func:`run_loop` a compiled *chunk* (``chunk(state) -> (state, metrics)``, e.g.
from :func:`gsl_jax.population.make_chunk`), the learner state, the run's host counters
(:class:`Progress`) and a :class:`ChunkPlan` saying what one chunk is worth. The loop runs chunks
from ``progress.chunk`` on, and after each one

1. accounts env-steps: ``generalist_steps`` (the generalist's own samples) and ``total_steps``
   (every sample any learner drew, so that methods compare at equal cost);
2. appends a record (``phase``, ``generalist_steps``, ``total_steps``, the chunk summary of
   :func:`gsl_jax.logging.summarize_chunk`, ``seconds``, ``steps_per_second``) to the progress and
   hands it to :class:`RunIO` (``metrics.jsonl``, TensorBoard and the progress bar through
   :class:`~gsl_jax.logging.RunLogger`, plus an ``on_record`` callback);
3. every ``RunIO.checkpoint_every`` chunks calls the driver's ``save(state, progress)``, which
   writes a checkpoint (:meth:`RunIO.save`) and returns the progress with the count raised.

**Exact budgets.** A run of ``total_steps`` env-steps per learner performs exactly
``total_steps // batch_size`` updates (:func:`chunk_budget`; the remainder, less than one batch,
is not run): full chunks of ``updates_per_chunk`` and, when the count does not divide, a shorter
last chunk (``ChunkPlan.last_steps``, run by the ``last_chunk`` the driver passes, compiled once).

**One compile.** The loop hands the chunk a state without weak types (:func:`strong_types`), the
dtypes a chunk returns, so the second chunk reuses the first one's program. Every record holds
``compile_seconds``: the time jax spent tracing, lowering and compiling during that chunk
(``jax.monitoring``'s compile events), 0 on a chunk that reused a program.

**Divergence guard.** Before any of that is saved, the chunk's per-update training metrics
(losses, and ``nonfinite_params``, the count of non-finite parameters that
:func:`gsl_jax.population.make_chunk` reduces inside the compiled chunk) are checked: on the
first non-finite one the loop logs the chunk's record and raises :class:`DivergenceError` naming
the phase, the update and the quantity, so no checkpoint is written over the last good one. The
same happens, before any NaN, when a finite ``value_loss`` exceeds ``RunIO.max_value_loss``
(:data:`MAX_VALUE_LOSS` by default): runaway divergence.

State goes in and comes out explicitly: ``run_loop(chunk, state, progress, plan, io, save) ->
LoopResult(state, progress, stopped)``; nothing is mutated. Resuming is restoring ``(state,
progress)`` from a checkpoint and calling the loop again: since the checkpoint holds every PRNG
key and ``progress.chunk``, the resumed loop runs exactly the chunks the killed one had left.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import jax
import numpy as np

from gsl_jax.checkpoint import save_checkpoint
from gsl_jax.logging import RunLogger, summarize_chunk
from gsl_jax.rundir import RunDirectory

S = TypeVar("S")
P = TypeVar("P", bound="Progress")
Record = dict[str, Any]


@dataclass(frozen=True)
class Progress:
    """The host counters of a run; JSON-ready, so each checkpoint's metadata holds them.

    Attributes:
        chunk: chunks done in the current loop (a GSL phase, or the whole PPO run).
        checkpoints: checkpoints written so far (the next one gets index ``checkpoints + 1``).
        generalist_steps: env-steps of the generalist so far.
        total_steps: env-steps of every learner, evaluation and demo collection included.
        records: one dict per chunk so far (see the module docstring).
    """

    chunk: int = 0
    checkpoints: int = 0
    generalist_steps: int = 0
    total_steps: int = 0
    records: tuple[Record, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The metadata form (lists instead of tuples)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls: type[P], data: dict[str, Any]) -> P:
        """Inverse of :meth:`to_dict`; keys that are no field (older checkpoints) are ignored."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**kwargs)


@dataclass(frozen=True)
class ChunkPlan:
    """What one loop runs and what each of its chunks is worth.

    Attributes:
        label: the records' ``phase`` (e.g. ``"generalist"``, ``"specialists"``).
        steps_per_chunk: env-steps of one learner in one chunk (updates x ``ppo.batch_size``).
        num_chunks: chunks the loop runs in all (counting those before a resume); ``None``: until
            ``until`` stops it.
        members: learners trained by a chunk (``P``); ``total_steps`` grows by
            ``members * steps_per_chunk`` per chunk.
        generalist: the chunk trains the generalist (``generalist_steps`` grows too).
        until: called after each chunk with the new progress; a non-empty string (the reason)
            ends the loop before any checkpoint of that chunk.
        tags: extra keys of every record (e.g. ``{"gsl_phase": "phase1"}``).
        last_steps: env-steps of one learner in the last chunk where it is shorter (exact
            budgets; run by ``run_loop``'s ``last_chunk``); ``None``: all chunks are full.
    """

    label: str
    steps_per_chunk: int
    num_chunks: int | None = None
    members: int = 1
    generalist: bool = True
    until: Callable[[Progress], str | None] | None = None
    tags: dict[str, Any] = dataclasses.field(default_factory=dict)
    last_steps: int | None = None

    def __post_init__(self) -> None:
        if self.steps_per_chunk <= 0:
            raise ValueError(f"steps_per_chunk: must be positive, got {self.steps_per_chunk}")
        if self.last_steps is not None and not 0 < self.last_steps < self.steps_per_chunk:
            raise ValueError(f"last_steps: must be in (0, steps_per_chunk), got {self.last_steps}")
        if self.last_steps is not None and self.num_chunks is None:
            raise ValueError("last_steps: only a loop with num_chunks has a last chunk")
        if self.num_chunks is None and self.until is None:
            raise ValueError("num_chunks: a loop without num_chunks needs an until criterion")


class ChunkBudget(NamedTuple):
    """How a budget splits into chunks: ``num_updates`` in all, ``num_chunks`` chunks, the last
    of ``last_updates`` updates when shorter than the others (else ``None``)."""

    num_updates: int
    num_chunks: int
    last_updates: int | None


def chunk_budget(total_steps: int, batch_size: int, updates_per_chunk: int) -> ChunkBudget:
    """The chunks of an exact budget: ``total_steps // batch_size`` updates (steps round down to
    whole updates), ``updates_per_chunk`` per chunk and the rest in a shorter last one.
    ``ValueError`` naming ``total_steps`` when it is less than one update's ``batch_size``."""
    updates = total_steps // batch_size
    if updates < 1:
        raise ValueError(
            f"total_steps: {total_steps} is less than one update's batch of {batch_size} "
            "env-steps (num_envs * num_steps)"
        )
    full, rest = divmod(updates, updates_per_chunk)
    return ChunkBudget(updates, full + (rest > 0), rest or None)


def strong_types(state: S) -> S:
    """``state`` with every weakly typed leaf given its dtype for good (a Python int in an env's
    initial state is a weak int32; a chunk returns it strong, and would compile again)."""
    return jax.tree.map(lambda x: x.astype(x.dtype) if getattr(x, "weak_type", False) else x, state)


class CompileTimer:
    """Sums the seconds jax spends compiling (tracing, lowering, XLA) while it is entered;
    read ``seconds`` and ``compiles`` (XLA compilations) afterwards."""

    _EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self) -> None:
        self.seconds, self.compiles = 0.0, 0

    def _listen(self, event: str, duration: float, **_: Any) -> None:
        if event in self._EVENTS:
            self.seconds += duration
            self.compiles += event == self._EVENTS[-1]

    def __enter__(self) -> CompileTimer:
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc: Any) -> None:
        jax.monitoring.unregister_event_duration_listener(self._listen)


class LoopResult(NamedTuple, Generic[S, P]):
    """What :func:`run_loop` returns: the final state and progress, and why it stopped early
    (the ``until`` reason; ``None`` when it ran its ``num_chunks``)."""

    state: S
    progress: P
    stopped: str | None


#: Default limit of the runaway-divergence guard on the value loss (``--max-value-loss``):
#: far above any healthy run's (rewards normalised or bounded), reached within a few updates
#: by one that is diverging (a learning rate of 1e6 gives ~1e15 before any NaN).
MAX_VALUE_LOSS = 1e8


def check_max_value_loss(value: Any) -> None:
    """``ValueError`` naming ``max_value_loss`` unless it is a positive number (inf: off)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"max_value_loss: must be a positive number (inf: off), got {value!r}")


class RunIO:
    """Where a run's host output goes: records (``RunLogger`` and ``on_record``), event lines
    (``log`` and ``run_dir/events.log``) and checkpoints (``run_dir/checkpoints``).

    Args:
        run_dir: the run directory; ``None`` keeps everything in memory (no checkpoints).
        logger: writes the records; ``None`` writes none.
        log: receives each event line.
        on_record: receives each record.
        checkpoint_every: chunks between two checkpoints inside a loop.
        meta: extra metadata stored with every checkpoint (the env name and spec).
        max_value_loss: the runaway-divergence guard's limit on ``value_loss`` (inf: off).
        run: the claimed run directory (:class:`~gsl_jax.rundir.RunDirectory`); replaces
            ``run_dir``, and files written through :meth:`claim` are recorded as the run's.
    """

    def __init__(
        self,
        run_dir: Path | None,
        logger: RunLogger | None = None,
        log: Callable[[str], None] = print,
        on_record: Callable[[Record], None] | None = None,
        checkpoint_every: int = 10,
        meta: dict[str, Any] | None = None,
        max_value_loss: float = MAX_VALUE_LOSS,
        run: RunDirectory | None = None,
    ):
        if checkpoint_every <= 0:
            raise ValueError(f"checkpoint_every: must be positive, got {checkpoint_every}")
        check_max_value_loss(max_value_loss)
        if run is not None:
            run_dir = run.path
        self.run_dir, self.logger, self.log = run_dir, logger, log
        self.on_record, self.checkpoint_every = on_record, checkpoint_every
        self.meta = dict(meta or {})
        self.max_value_loss, self.run = float(max_value_loss), run

    def claim(self, name: str) -> Path | None:
        """The path of ``name`` in the run directory, recorded as the run's (``None`` without
        a run directory)."""
        if self.run is not None:
            return self.run.claim(name)
        return None if self.run_dir is None else self.run_dir / name

    def record(self, record: Record) -> None:
        """Log one chunk record at x = its ``total_steps``."""
        if self.logger is not None:
            self.logger.log(record["total_steps"], record)
        if self.on_record is not None:
            self.on_record(record)

    def event(self, line: str) -> None:
        """Log one event line (and append it to ``events.log``)."""
        self.log(line)
        if self.run is not None:
            self.run.append_lines("events.log", [line])
        elif self.run_dir is not None:
            with open(self.run_dir / "events.log", "a") as f:
                f.write(line + "\n")

    def save(self, arrays: Any, progress: P) -> P:
        """Checkpoint ``arrays`` with ``progress``; returns the progress with ``checkpoints``
        raised (unchanged without a run directory)."""
        if self.run_dir is None:
            return progress
        progress = dataclasses.replace(progress, checkpoints=progress.checkpoints + 1)
        meta = {"progress": progress.to_dict(), **self.meta}
        save_checkpoint(self.run_dir / "checkpoints", progress.checkpoints, arrays, meta)
        return progress


class DivergenceError(ValueError):
    """A chunk produced a non-finite loss or parameter, or a value loss above the guard's
    limit (:func:`run_loop` stops on it)."""


def value_loss_above(metrics: dict[str, Any], limit: float) -> tuple[str, int, int, float] | None:
    """``(quantity, update, member, value)`` of the first update whose ``value_loss`` exceeds
    ``limit`` (finite values only; non-finite ones are :func:`first_nonfinite`'s), or ``None``."""
    if "value_loss" not in metrics:
        return None
    leaf = np.asarray(jax.device_get(metrics["value_loss"]), np.float64)
    values = leaf.reshape(leaf.shape[0], -1)
    bad = np.isfinite(values) & (values > limit)
    if not bad.any():
        return None
    k, p = (int(i) for i in np.argwhere(bad)[0])
    return "value_loss", k, p, float(values[k, p])


#: Chunk metrics that are episode statistics, not training quantities (not guarded).
_EPISODE_METRICS = ("episodes", "return_sum", "length_sum", "success_sum")


def first_nonfinite(metrics: dict[str, Any]) -> tuple[str, int, int, float] | None:
    """``(quantity, update, member, value)`` of the earliest non-finite training metric of a
    chunk (leaves ``[K, P]`` or ``[K]``; ``update`` counts from 0 within the chunk), or ``None``.
    ``nonfinite_params`` counts as bad when positive (its value is then the count)."""
    found = None
    for key, leaf in sorted(jax.device_get(metrics).items()):
        if key in _EPISODE_METRICS:
            continue
        values = np.asarray(leaf, np.float64).reshape(np.shape(leaf)[0], -1)
        bad = values > 0 if key == "nonfinite_params" else ~np.isfinite(values)
        if bad.any():
            k, p = (int(i) for i in np.argwhere(bad)[0])
            if found is None or k < found[1]:
                found = (key, k, p, float(values[k, p]))
    return found


def account(
    progress: P, plan: ChunkPlan, summary: Record, seconds: float, steps: int | None = None
) -> P:
    """``progress`` after one chunk of ``plan`` whose metrics summary is ``summary``; ``steps``:
    the chunk's env-steps per learner (default ``plan.steps_per_chunk``)."""
    steps = plan.steps_per_chunk if steps is None else steps
    gen = progress.generalist_steps + (steps if plan.generalist else 0)
    total = progress.total_steps + steps * plan.members
    record = {
        "phase": plan.label,
        **plan.tags,
        "generalist_steps": gen,
        "total_steps": total,
        **summary,
        "seconds": seconds,
        "steps_per_second": steps * plan.members / max(seconds, 1e-9),
    }
    return dataclasses.replace(
        progress,
        chunk=progress.chunk + 1,
        generalist_steps=gen,
        total_steps=total,
        records=(*progress.records, record),
    )


def run_loop(
    chunk: Callable[[S], tuple[S, Any]],
    state: S,
    progress: P,
    plan: ChunkPlan,
    io: RunIO,
    save: Callable[[S, P], P] | None = None,
    last_chunk: Callable[[S], tuple[S, Any]] | None = None,
) -> LoopResult[S, P]:
    """Run ``plan``'s chunks from ``progress.chunk`` on (module docstring).

    Args:
        chunk: ``chunk(state) -> (state, metrics)``, metric leaves ``[K, P]``.
        state: the learner state the chunk takes.
        progress: the run's counters; ``progress.chunk`` chunks of this loop are done already.
        plan: what a chunk is worth and when the loop ends.
        io: where records go, and how often to checkpoint.
        save: ``save(state, progress) -> progress`` writes a checkpoint (usually a wrapper of
            :meth:`RunIO.save` that adds the driver's other arrays); ``None``: no checkpoints.
        last_chunk: the shorter last chunk of a plan with ``last_steps`` (module docstring).

    Returns ``LoopResult(state, progress, stopped)``.
    """
    if plan.last_steps is not None and last_chunk is None:
        raise ValueError("last_chunk: a plan with last_steps needs the shorter last chunk")
    state = strong_types(state)
    while plan.num_chunks is None or progress.chunk < plan.num_chunks:
        last = plan.last_steps is not None and progress.chunk == plan.num_chunks - 1
        start = time.perf_counter()
        with CompileTimer() as compiling:
            state, metrics = (last_chunk if last else chunk)(state)
            summary = summarize_chunk(metrics)  # device_get: waits for the chunk to finish
        summary["compile_seconds"] = compiling.seconds
        episodes = np.asarray(jax.device_get(metrics["episodes"]))
        summary["episodes_per_member"] = [
            int(x) for x in episodes.reshape(len(episodes), -1).sum(0)
        ]
        bad = first_nonfinite(metrics)
        high = value_loss_above(metrics, io.max_value_loss)
        if high is not None and (bad is None or high[1] < bad[1]):
            bad = high
        k = len(episodes)  # updates in this chunk; a full chunk has steps_per_chunk's worth
        full = k * plan.steps_per_chunk // plan.last_steps if last else k
        updates_before = progress.chunk * full
        seconds = time.perf_counter() - start
        progress = account(progress, plan, summary, seconds, plan.last_steps if last else None)
        io.record(progress.records[-1])
        if bad is not None:
            quantity, k, member, value = bad
            shown = f"{quantity} = {value}"
            if quantity == "nonfinite_params":
                shown = f"{int(value)} non-finite parameters"
            elif bad is high:
                shown = f"value_loss = {value:.3g} above --max-value-loss {io.max_value_loss:g}"
            raise DivergenceError(
                f"divergence in phase {plan.tags.get('gsl_phase', plan.label)}: {shown} at "
                f"update {updates_before + k + 1} of the phase (member {member}); stopped without "
                f"a checkpoint, the last good one is number {progress.checkpoints}"
            )
        reason = plan.until(progress) if plan.until is not None else None
        if reason:
            return LoopResult(state, progress, reason)
        if save is not None and progress.chunk % io.checkpoint_every == 0:
            progress = save(state, progress)
    return LoopResult(state, progress, None)

"""Runs over several processes (one per host or per GPU) with ``jax.distributed``.

Every process runs the same program (JAX's multi-controller model): the same config, the same
seeds, the same phase table. :func:`initialize` connects them (``jax.distributed.initialize``;
``None`` arguments leave it to JAX's own cluster detection, e.g. SLURM or a Cloud TPU slice), after
which ``jax.devices()`` lists every process's devices and one global mesh spans them.

What is spread and what is replicated (docs/scaling.md):

* the specialists' population axis is sharded over a global ``"pop"`` mesh axis that takes the
  same number of devices from every process (:func:`spanning_devices`), so a population must
  divide by the process count (:func:`check_population`);
* a single learner (the generalist, pi_g_low) has its env batch split over every global device
  and everything else (params, optimiser state, reward statistics, keys) replicated
  (:func:`place_learner`), so ``num_envs`` must divide by the device count
  (:func:`check_learner_batch`); XLA inserts the gradient all-reduce (GSPMD). Demonstrations are
  replicated on the learner's mesh (:func:`replicated_on`);
* evaluation, selection and demonstration collection run the same way on every process, on the
  states gathered back from the mesh (:func:`to_local`);
* checkpoints are written by every process through orbax (its multi-process protocol), from
  global arrays (:func:`to_global`); run files (logs, metrics, plots, results) by process 0 only
  (:func:`is_main_process`, :class:`WorkerIO`).

Nothing here is a collective of our own: gathers, barriers and broadcasts are
``jax.experimental.multihost_utils``'.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as PS

from gsl_jax.loop import RunIO

T = TypeVar("T")
#: Seconds :func:`initialize` waits for the coordinator (and JAX for every process) by default.
DEFAULT_TIMEOUT = 300


def is_multiprocess() -> bool:
    """Whether this program runs as one of several JAX processes."""
    return jax.process_count() > 1


def is_main_process() -> bool:
    """Whether this is process 0, the one that writes logs, plots and results."""
    return jax.process_index() == 0


def _host_port(coordinator: str) -> tuple[str, int]:
    host, sep, port = coordinator.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"coordinator: expected HOST:PORT, got {coordinator!r}")
    return host, int(port)


def _wait_for_coordinator(coordinator: str, timeout: float) -> None:
    """Connect to ``coordinator`` over TCP until it answers; ``ValueError`` naming it after
    ``timeout`` seconds. (JAX itself aborts the process on a timeout, which cannot be caught.)"""
    host, port = _host_port(coordinator)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(1.0, timeout))):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"coordinator: {coordinator} could not be reached within {timeout:g} s "
                    f"({err.strerror or err}); start process 0 there, or check --coordinator"
                ) from None
            time.sleep(0.2)


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    timeout: int = DEFAULT_TIMEOUT,
) -> None:
    """Join a multi-process run: ``jax.distributed.initialize`` with these settings.

    Must run before anything else touches JAX. With all three ``None`` JAX detects the cluster
    itself (SLURM, Open MPI, Cloud TPU, ...). A process other than 0 first checks that the
    coordinator answers within ``timeout`` seconds (``ValueError`` naming ``coordinator``);
    process 0 is the coordinator and waits ``timeout`` seconds for the others (JAX aborts the
    process when they do not come).

    Args:
        coordinator: ``HOST:PORT`` of process 0 (the same on every process).
        num_processes: how many processes take part.
        process_id: this process's index, ``0 .. num_processes - 1``.
        timeout: seconds to wait for the coordinator and the other processes.
    """
    if timeout <= 0:
        raise ValueError(f"timeout: must be positive, got {timeout}")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes: must be positive, got {num_processes}")
    if process_id is not None and num_processes is not None:
        if not 0 <= process_id < num_processes:
            raise ValueError(
                f"process_id: must be in 0 .. {num_processes - 1} (num_processes), got {process_id}"
            )
    explicit = (coordinator, num_processes, process_id)
    if any(x is not None for x in explicit) and any(x is None for x in explicit):
        names = ("coordinator", "num_processes", "process_id")
        missing = [n for n, x in zip(names, explicit, strict=True) if x is None]
        raise ValueError(
            f"{missing[0]}: give --coordinator, --num-processes and --process-id together "
            "(or none, to let JAX detect the cluster)"
        )
    if coordinator is not None:
        _host_port(coordinator)
        if process_id != 0:
            _wait_for_coordinator(coordinator, timeout)
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=timeout,
    )


def global_mesh(axis: str = "pop") -> Mesh:
    """A 1-D mesh named ``axis`` over every process's devices (``jax.devices()``)."""
    return Mesh(np.array(jax.devices()), (axis,))


def check_population(population: int, field: str = "num_specialists") -> None:
    """``ValueError`` naming ``field`` unless ``population`` divides by the process count (every
    process must hold the same number of members)."""
    count = jax.process_count()
    if count > 1 and population % count:
        raise ValueError(
            f"{field}: {population} does not divide by the {count} processes of this run "
            "(each process holds the same number of population members)"
        )


def check_run(env: Any, num_specialists: int) -> None:
    """Refuse, naming the setting, what a multi-process GSL run cannot do: a host env
    (EnvPool's games step on the host of one process) or a population that does not divide by
    the process count (:func:`check_population`). No-op in a one-process run."""
    if not is_multiprocess():
        return
    from gsl_jax.envs.core import Environment

    if not isinstance(env, Environment):
        raise ValueError(
            f"env: {type(env).__name__} is a host env; multi-process runs need a JAX "
            "Environment (run host envs on one process)"
        )
    check_population(num_specialists)


def spanning_devices(population: int) -> list:
    """The devices a population of ``population`` is sharded over in a multi-process run:
    ``k = gcd(population / processes, local devices)`` devices of every process, by process
    (one local device, the first, when ``population`` does not divide by the process count:
    such a learner is computed by every process alike). One process: ``gcd(P, devices)``."""
    count = jax.process_count()
    local = jax.local_devices()
    if population % count:
        return local[:1]
    k = math.gcd(population // count, len(local))
    by_process: dict[int, list] = {}
    for device in jax.devices():
        by_process.setdefault(device.process_index, []).append(device)
    return [d for p in sorted(by_process) for d in sorted(by_process[p], key=lambda d: d.id)[:k]]


def splits_learner_batch(shard_learner_batch: bool | None) -> bool:
    """Whether a single learner's env batch is split over every device: ``shard_learner_batch``,
    or, when ``None``, exactly in a multi-process run (within one process splitting one
    learner's env batch is slower on CPU, docs/benchmarks.md)."""
    return is_multiprocess() if shard_learner_batch is None else shard_learner_batch


def check_learner_batch(env: Any, num_envs: int, field: str = "gsl.ppo.num_envs") -> None:
    """``ValueError`` naming ``field`` (and its flag) unless ``num_envs`` divides by the global
    device count, or when ``env`` is a host env (its env batch lives on the host): what
    :func:`place_learner` needs. Call before anything is compiled or written."""
    from gsl_jax.envs.core import Environment

    if not isinstance(env, Environment):
        raise ValueError(
            f"shard_learner_batch: {type(env).__name__} is a host env; only a JAX Environment's "
            "env batch can be split over devices"
        )
    count = jax.device_count()
    if num_envs % count:
        flag = "--" + field.replace("_", "-")
        raise ValueError(
            f"{field} ({flag}): {num_envs} envs do not divide by the {count} devices of this "
            "run (a single learner's env batch is split over every device)"
        )


def place_learner(state: Any) -> tuple[Any, Any]:
    """A single learner ``state`` (leaves ``[1, ...]``) placed over every global device: its env
    batch (env states, per-env reward-normalisation returns) split over a ``"batch"`` mesh axis,
    every other leaf replicated (:func:`gsl_jax.population.population_sharding` with
    ``jax.devices()``). Returns ``(state, shardings)``. ``num_envs`` must divide by the device
    count (:func:`check_learner_batch`); each process fills its own shards (:func:`put_global`)."""
    from gsl_jax.population import population_sharding

    devices = jax.devices()
    num_envs = int(state.env.stats.finished.shape[1])
    if num_envs % len(devices):
        raise ValueError(f"num_envs: {num_envs} do not divide by the {len(devices)} devices")
    shardings = population_sharding(state, devices)
    if is_multiprocess():
        return put_global(state, shardings), shardings
    return jax.device_put(state, shardings), shardings


def replicated_on(tree: Any, like: Any) -> Any:
    """``tree`` (the same local value on every process) replicated over the mesh of ``like``'s
    first leaf when that leaf is spread over several devices (e.g. the demonstrations beside a
    learner placed by :func:`place_learner`); otherwise ``tree`` unchanged."""
    sharding = getattr(jax.tree.leaves(like)[0], "sharding", None)
    if not isinstance(sharding, NamedSharding) or len(sharding.device_set) <= 1:
        return tree
    replicated = NamedSharding(sharding.mesh, PS())
    return put_global(tree, jax.tree.map(lambda _: replicated, tree))


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _local_leaf(x: Any) -> Any:
    if _is_key(x):
        return jax.random.wrap_key_data(_local_leaf(jax.random.key_data(x)), impl=x.dtype)
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return x
    if x.is_fully_replicated:
        return x.addressable_data(0)
    host = multihost_utils.process_allgather(x, tiled=True)
    return jax.device_put(host, jax.local_devices()[0])


def to_local(tree: Any) -> Any:
    """``tree`` with every leaf spread over other processes' devices gathered into a whole
    array on this process's first device (``process_allgather``; a collective: every process
    calls it with the same tree). Leaves already local pass through."""
    return jax.tree.map(_local_leaf, tree)


def put_global(tree: Any, shardings: Any) -> Any:
    """``tree`` (the same local value on every process) placed on ``shardings`` (a matching tree
    of ``NamedSharding`` over several processes' devices): each process fills its own shards
    (``jax.make_array_from_callback``), as ``jax.device_put`` does within one process."""

    def one(x: Any, sharding: NamedSharding) -> Any:
        if _is_key(x):
            return jax.random.wrap_key_data(one(jax.random.key_data(x), sharding), impl=x.dtype)
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree, shardings)


def to_global(tree: Any) -> Any:
    """``tree`` with every local leaf (the same value on every process) made a global array
    replicated over :func:`global_mesh`, for orbax's multi-process save; global leaves pass
    through. PRNG key leaves must be stored as key data first."""
    replicated = NamedSharding(global_mesh(), PS())

    def one(x: Any) -> Any:
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return x
        host = np.asarray(jax.device_get(x))
        return jax.make_array_from_callback(host.shape, replicated, lambda index: host[index])

    return jax.tree.map(one, tree)


def replicated_like(abstract: Any) -> Any:
    """``abstract`` (``ShapeDtypeStruct`` leaves) with every sharding replicated over
    :func:`global_mesh`: the target of a multi-process orbax restore."""
    replicated = NamedSharding(global_mesh(), PS())
    return jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=replicated), abstract
    )


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (no-op in a one-process run)."""
    if is_multiprocess():
        multihost_utils.sync_global_devices(name)


def agree(error: str | None) -> str | None:
    """Process 0's ``error`` (or ``None``), on every process: process 0 alone checks the run
    directory, and the others must stop with it rather than wait forever at the next collective.
    Call on every process; ``error`` matters on process 0 only."""
    if not is_multiprocess():
        return error
    data = np.frombuffer((error or "").encode()[:4096].ljust(4096, b"\0"), np.uint8)
    got = multihost_utils.broadcast_one_to_all(data)
    message = bytes(np.asarray(got, np.uint8)).rstrip(b"\0").decode(errors="replace")
    return message or None


def open_on_main(open_run: Callable[[], T]) -> T | None:
    """``open_run()`` (claiming or reopening the run directory) on process 0, ``None`` on the
    others; an error of process 0's is raised on every process (``ValueError`` elsewhere)."""
    if not is_multiprocess():
        return open_run()
    run, error = None, None
    if is_main_process():
        try:
            run = open_run()
        except ValueError as err:
            error = err
    message = agree(str(error) if error is not None else None)
    if error is not None:
        raise error
    if message is not None:
        raise ValueError(message)
    return run


def checkpoint_meta() -> dict[str, int]:
    """What a checkpoint records of the processes that wrote it: ``{"num_processes": N}`` in a
    multi-process run, nothing in a one-process run (older checkpoints read as 1)."""
    return {"num_processes": jax.process_count()} if is_multiprocess() else {}


def check_process_count(path: str | Path, meta: dict[str, Any]) -> None:
    """``ValueError`` naming ``num_processes`` when checkpoint ``path`` (its ``meta``) was
    written by another number of processes than this run has: a resume keeps the count (each
    process holds its share of the population). Raised before anything is restored or written."""
    saved = meta.get("num_processes", 1)
    if saved != jax.process_count():
        raise ValueError(
            f"num_processes: checkpoint {path} was written by a run of {saved} process(es); "
            f"resume it with --num-processes {saved}, not {jax.process_count()} "
            "(the checkpoints are left untouched)"
        )


class WorkerIO(RunIO):
    """The :class:`~gsl_jax.loop.RunIO` of a process other than 0: it takes part in the
    checkpoints (orbax writes every process's shards) but writes no run file: no metrics, no
    events log, no demos file. Records and events still reach ``on_record`` and ``log``."""

    def event(self, line: str) -> None:
        self.log(line)

    def claim(self, name: str) -> None:
        return None

    def record(self, record: dict[str, Any]) -> None:
        if self.on_record is not None:
            self.on_record(record)

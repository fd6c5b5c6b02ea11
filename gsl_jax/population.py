"""A population of PPO learners on a leading axis ``P``, trained by one compiled program.

A generalist is a population of one over all variations; ``N_s`` specialists are a population of
``N_s``, each with its own :class:`~gsl_jax.envs.core.VariationSet`. The same update serves both
through ``jax.vmap``; a *chunk* runs ``K`` updates of the whole population per host call.

Placement: every driver (plain PPO, each GSL phase) places its learners with
:func:`place_population`, one rule for all: a single learner stays on one device, and a population
axis is sharded over the local devices when ``gcd(P, devices) > 1`` (one ``"pop"`` mesh axis of
``gcd(P, devices)`` devices; env batches are never split, since splitting one learner's env batch
made its update 1.05-1.9x slower, ``docs/benchmarks.md``). :func:`population_sharding` is the
lower-level 2-D ``("pop", "batch")`` layout the benchmarks measure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as PS

from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.networks import ActorCritic
from gsl_jax.ppo import DAPGConfig, LearnerState, PPOConfig, init_learner, make_update

Metrics = dict[str, jax.Array]
ChunkFn = Callable[..., tuple[LearnerState, Metrics]]


def population_size(state: LearnerState) -> int:
    """``P``, the length of the leading population axis."""
    return int(state.updates.shape[0])


def vmap_population(fn: Callable, in_axes: tuple[int | None, ...]) -> Callable:
    """``jax.vmap(fn, in_axes)`` over the population axis, except that a population of one runs
    ``fn`` unbatched (between ``x[0]`` and ``x[None]``).

    ``in_axes`` gives one entry per positional argument: ``0`` for an argument whose every leaf
    has the population axis first, ``None`` for one shared by all members. The choice is made
    at trace time from the mapped leaves' leading size, so one wrapped function serves any
    ``P``. Both paths are the same math
    (``tests/test_ppo.py::test_population_of_one_equals_vmapped_update`` checks the numbers), but
    XLA:CPU compiles them differently; which path is faster for which network is measured by
    ``benchmarks/population_of_one.py`` and recorded in ``docs/benchmarks.md``.
    """
    if any(axis not in (0, None) for axis in in_axes):
        raise ValueError(f"in_axes: each entry must be 0 or None, got {in_axes}")
    batched = jax.vmap(fn, in_axes=in_axes)

    def call(*args: Any) -> Any:
        if len(args) != len(in_axes):
            raise TypeError(f"expected {len(in_axes)} positional arguments, got {len(args)}")
        mapped = [a for a, axis in zip(args, in_axes, strict=True) if axis == 0]
        sizes = {leaf.shape[0] for leaf in jax.tree.leaves(mapped)}
        if sizes != {1}:
            return batched(*args)
        squeezed = [
            jax.tree.map(lambda x: x[0], a) if axis == 0 else a
            for a, axis in zip(args, in_axes, strict=True)
        ]
        return jax.tree.map(lambda x: x[None], fn(*squeezed))

    return call


def init_population(
    key: jax.Array,
    vec_env: VecEnv,
    network: ActorCritic,
    config: PPOConfig,
    variation_sets: VariationSet,
) -> LearnerState:
    """``P`` independently initialised learners, one per row of ``variation_sets`` (``ids [P, C]``).

    Learner ``p`` gets key ``split(key, P)[p]``, so member ``p`` of a population starts exactly as
    a single learner initialised with that key.
    """
    if variation_sets.ids.ndim != 2:
        raise ValueError(
            "variation_sets: expected a stacked set with ids [P, capacity] "
            "(use stack_variation_sets)"
        )
    num = variation_sets.ids.shape[0]
    keys = jax.random.split(key, num)
    init = jax.jit(partial(init_learner, vec_env=vec_env, network=network, config=config))
    # One member at a time, then stack: vmapping the initialiser batches the orthogonal init's QR
    # factorisation, which deadlocks intermittently on XLA:CPU (jax 0.10). Members are initialised
    # independently anyway, so the result is identical to the vmapped version.
    members = [
        init(keys[p], variations=jax.tree.map(lambda x, p=p: x[p], variation_sets))
        for p in range(num)
    ]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *members)


def clone_learner(
    key: jax.Array,
    source: LearnerState,
    vec_env: VecEnv,
    variation_sets: VariationSet,
    copy_optimizer: bool = True,
    config: PPOConfig | None = None,
) -> LearnerState:
    """A population of ``P`` copies of one learner (``source`` without a population axis), each
    with its own variation set, fresh env states and PRNG key.

    ``copy_optimizer=False`` gives each copy a fresh optimiser state (``config`` required).
    """
    num = variation_sets.ids.shape[0]

    def one(k, variations):
        k_env, k_rng = jax.random.split(k)
        opt_state = source.opt_state
        if not copy_optimizer:
            from gsl_jax.ppo import make_optimizer

            opt_state = make_optimizer(config).init(source.params)
        return source.replace(
            opt_state=opt_state,
            env=vec_env.reset(k_env, variations),
            variations=variations,
            reward_norm=source.reward_norm.replace(
                returns=jnp.zeros_like(source.reward_norm.returns)
            ),
            rng=k_rng,
        )

    if not copy_optimizer and config is None:
        raise ValueError("config: needed to build fresh optimiser states (copy_optimizer=False)")
    return jax.jit(jax.vmap(one))(jax.random.split(key, num), variation_sets)


def population_sharding(state: LearnerState, devices: list | None = None) -> Any:
    """A pytree of ``NamedSharding`` for ``state``: population axis over ``"pop"``, env batch
    axis of the env state over ``"batch"``.

    With ``D`` devices, ``pop = gcd(P, D)`` devices hold population members and the remaining
    factor ``D / pop`` splits each member's env batch when it divides ``num_envs`` (else those
    devices are left idle). With one device everything is replicated on it.
    """
    devices = list(jax.devices() if devices is None else devices)
    num_pop = math.gcd(population_size(state), len(devices))
    num_envs = int(state.env.stats.finished.shape[1])
    num_batch = len(devices) // num_pop
    while num_batch > 1 and num_envs % num_batch:
        num_batch -= 1
    mesh = Mesh(
        np.array(devices[: num_pop * num_batch]).reshape(num_pop, num_batch), ("pop", "batch")
    )
    pop_only = NamedSharding(mesh, PS("pop"))
    pop_batch = NamedSharding(mesh, PS("pop", "batch"))
    shardings = jax.tree.map(lambda _: pop_only, state)
    return shardings.replace(
        env=jax.tree.map(lambda _: pop_batch, state.env),
        reward_norm=shardings.reward_norm.replace(returns=pop_batch),
    )


def population_devices(population: int, devices: list | None = None) -> list:
    """The devices a population of ``population`` learners runs on under the placement rule
    (module docstring): the first ``gcd(population, len(devices))`` of ``devices`` (default the
    local devices), so one device for a single learner. In a multi-process run the default is
    the same share of every process's devices (:func:`gsl_jax.distributed.spanning_devices`)."""
    if population <= 0:
        raise ValueError(f"population: must be positive, got {population}")
    if devices is None and jax.process_count() > 1:
        from gsl_jax.distributed import spanning_devices  # the same rule over every process

        return spanning_devices(population)
    devices = list(jax.local_devices() if devices is None else devices)
    return devices[: math.gcd(population, len(devices))]


def place_population(
    state: LearnerState, shard: bool = True, devices: list | None = None
) -> tuple[LearnerState, Any | None]:
    """Place ``state`` (leaves ``[P, ...]``) by the placement rule (module docstring).

    Returns ``(state, shardings)``: ``shardings`` is the pytree of ``NamedSharding`` to compile
    the chunk for (:func:`make_chunk`), or ``None`` where the state stays on one device (a single
    learner, ``gcd(P, devices) == 1`` or ``shard=False``), which leaves ``state`` untouched.
    """
    use = population_devices(population_size(state), devices) if shard else []
    if len(use) <= 1:
        return state, None
    mesh = Mesh(np.array(use), ("pop",))
    shardings = jax.tree.map(lambda _: NamedSharding(mesh, PS("pop")), state)
    if jax.process_count() > 1:  # a mesh over several processes: each fills its own shards
        from gsl_jax.distributed import put_global

        return put_global(state, shardings), shardings
    return jax.device_put(state, shardings), shardings


def shard_population(state: LearnerState, devices: list | None = None) -> LearnerState:
    """Place ``state`` on the devices as :func:`population_sharding` describes."""
    return jax.device_put(state, population_sharding(state, devices))


def make_chunk(
    vec_env: VecEnv,
    network: ActorCritic,
    config: PPOConfig,
    num_updates: int,
    shardings: Any | None = None,
    dapg: DAPGConfig | None = None,
    variable_length: bool = False,
) -> ChunkFn:
    """Build ``chunk(state [P], demos=None) -> (state [P], metrics)`` running ``num_updates``
    PPO updates of every population member; metric leaves are ``[num_updates, P]``, those of
    :func:`gsl_jax.ppo.make_update` plus ``nonfinite_params`` (non-finite parameter entries after
    the update: the divergence guard of :func:`gsl_jax.loop.run_loop`).

    With ``dapg`` every update adds the DAPG loss on ``demos`` (one
    :class:`~gsl_jax.demos.DemoBuffer`, shared by all members). With ``config.loop == "scan"``
    the chunk is one ``lax.scan``; with ``"unroll"`` it is a host loop over one jitted, vmapped
    update (see :mod:`gsl_jax.ppo`).

    With ``variable_length`` the chunk also takes ``updates`` (``chunk(state, demos, updates)``,
    at most ``num_updates``) and runs only that many, with the same compiled program (the
    shorter last chunk of an exact budget); metric leaves are then ``[updates, P]``.
    """
    if num_updates <= 0:
        raise ValueError(f"num_updates: must be positive, got {num_updates}")
    one = make_update(vec_env, network, config, dapg)

    def guarded(state, demos):
        # The divergence guard's input (gsl_jax.loop): a reduction over the new parameters, so
        # only a scalar per update leaves the device.
        state, metrics = one(state, demos)
        leaves = jax.tree.leaves(state.params)
        bad = sum(jnp.sum(~jnp.isfinite(x)) for x in leaves)
        return state, {**metrics, "nonfinite_params": bad}

    # The demo buffer is shared: not mapped over the population axis.
    update = vmap_population(guarded, in_axes=(0, None))

    jit_kwargs: dict[str, Any] = {"donate_argnums": 0}
    if shardings is not None:
        jit_kwargs.update(in_shardings=(shardings, None), out_shardings=(shardings, None))

    if config.resolved_loop(network.config.kind) == "scan" and variable_length:

        def masked(state, demos, count):
            # Updates from ``count`` on are skipped by a cond on an unbatched predicate (a branch,
            # not a select), so a shorter chunk is this same program: one compile per run.
            def run(s):
                return update(s, demos)

            def skip(s):
                shapes = jax.eval_shape(run, s)[1]
                return s, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

            def body(s, i):
                return jax.lax.cond(i < count, run, skip, s)

            return jax.lax.scan(body, state, jnp.arange(num_updates))

        compiled = jax.jit(masked, **jit_kwargs)

        def variable(state, demos=None, updates=None):
            count = num_updates if updates is None else updates
            state, metrics = compiled(state, demos, jnp.int32(count))
            if count == num_updates:
                return state, metrics
            return state, jax.tree.map(lambda x: np.asarray(x)[:count], jax.device_get(metrics))

        return variable

    if config.resolved_loop(network.config.kind) == "scan":

        def scanned(state, demos):
            return jax.lax.scan(lambda s, _: update(s, demos), state, None, length=num_updates)

        compiled = jax.jit(scanned, **jit_kwargs)
        return lambda state, demos=None: compiled(state, demos)

    one_update = jax.jit(update, **jit_kwargs)

    def host_loop(state, demos=None, updates=None):
        collected = []
        for _ in range(num_updates if updates is None else updates):
            state, metrics = one_update(state, demos)
            collected.append(metrics)
        return state, jax.tree.map(lambda *xs: jnp.stack(xs), *collected)

    return host_loop

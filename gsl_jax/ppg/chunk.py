"""A population of PPG learners (leading axis ``P``) and its compiled chunk.

The counterpart of :mod:`gsl_jax.population` for PPG: :func:`init_population`,
:func:`clone_population` and :func:`make_chunk` keep that module's contracts (keys, placement,
metrics ``[num_updates, P]``, ``nonfinite_params``), so GSL's phases and
:func:`gsl_jax.loop.run_loop` drive PPG unchanged.

A chunk is one ``lax.scan`` over ``num_updates`` steps; a step is one policy iteration of every
member (vmapped) followed, when the phase's ``n_pi`` iterations are stored, by the auxiliary
phase of every member (vmapped, under one ``lax.cond``). The members of a population advance in
lockstep -- they are initialised or cloned together, so their ``iteration`` counters are equal --
and the condition reads member 0's counter: an unbatched predicate, so the auxiliary phase runs
only on the steps that need it (a batched one would turn the ``cond`` into a ``select`` that runs
it on every step).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.networks import PhasicActorCritic, make_phasic_network
from gsl_jax.population import ChunkFn, clone_learner, vmap_population
from gsl_jax.ppg.config import PPGConfig
from gsl_jax.ppg.learner import (
    PPGState,
    init_learner,
    make_aux_phase,
    make_optimizers,
    make_policy_iteration,
)
from gsl_jax.ppo_config import DAPGConfig, PPOConfig


def init_population(
    key: jax.Array,
    vec_env: VecEnv,
    network: PhasicActorCritic,
    ppo: PPOConfig,
    ppg: PPGConfig,
    variation_sets: VariationSet,
) -> PPGState:
    """``P`` PPG learners, one per row of ``variation_sets`` (``ids [P, C]``); member ``p`` starts
    as a single learner initialised with ``split(key, P)[p]`` (as
    :func:`gsl_jax.population.init_population`)."""
    if variation_sets.ids.ndim != 2:
        raise ValueError("variation_sets: expected a stacked set with ids [P, capacity]")
    num = variation_sets.ids.shape[0]
    keys = jax.random.split(key, num)
    init = jax.jit(
        lambda k, v: init_learner(k, vec_env, network, ppo, ppg, v)  # one compile for all
    )
    members = [init(keys[p], jax.tree.map(lambda x, p=p: x[p], variation_sets)) for p in range(num)]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *members)


def clone_population(
    key: jax.Array,
    source: PPGState,
    vec_env: VecEnv,
    variation_sets: VariationSet,
    ppo: PPOConfig,
    ppg: PPGConfig,
    copy_optimizer: bool = True,
) -> PPGState:
    """``P`` copies of one PPG learner (as :func:`gsl_jax.population.clone_learner`), each
    starting a new phase (``iteration`` 0: its auxiliary phase trains on its own rollouts only);
    ``copy_optimizer=False`` gives both optimisers fresh states."""
    clones = clone_learner(key, source, vec_env, variation_sets)
    clones = clones.replace(iteration=jnp.zeros_like(clones.iteration))
    if copy_optimizer:
        return clones
    policy_opt, aux_opt = make_optimizers(ppo, ppg)
    num = variation_sets.ids.shape[0]
    fresh = lambda opt: jax.tree.map(  # noqa: E731
        lambda x: jnp.broadcast_to(x, (num, *x.shape)), opt.init(source.params)
    )
    return clones.replace(opt_state=fresh(policy_opt), aux_opt_state=fresh(aux_opt))


def make_chunk(
    vec_env: VecEnv,
    network: PhasicActorCritic,
    ppo: PPOConfig,
    ppg: PPGConfig,
    num_updates: int,
    shardings: Any | None = None,
    dapg: DAPGConfig | None = None,
) -> ChunkFn:
    """Build ``chunk(state [P], demos=None) -> (state [P], metrics)``: ``num_updates`` policy
    iterations of every member, with the auxiliary phase after every ``n_pi``-th (module
    docstring). Metric leaves are ``[num_updates, P]``: the policy iteration's (as
    :func:`gsl_jax.ppo.make_update`'s), ``nonfinite_params``, the auxiliary losses (0 on steps
    without an auxiliary phase) and ``aux_phase`` (1.0 on steps with one)."""
    if num_updates <= 0:
        raise ValueError(f"num_updates: must be positive, got {num_updates}")
    if vec_env.num_envs != ppo.num_envs:
        raise ValueError(
            f"ppo.num_envs: config says {ppo.num_envs} but the VecEnv has {vec_env.num_envs}"
        )
    iterate = vmap_population(make_policy_iteration(vec_env, network, ppo, ppg, dapg), (0, None))
    aux = vmap_population(make_aux_phase(network, ppo, ppg), (0,))

    def step(state: PPGState, demos):
        state, metrics = iterate(state, demos)
        shapes = jax.eval_shape(aux, state)[1]

        def run_aux(s):
            s, m = aux(s)
            return s, {**m, "aux_phase": jnp.ones_like(s.updates, jnp.float32)}

        def skip(s):
            m = {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items()}
            return s, {**m, "aux_phase": jnp.zeros_like(s.updates, jnp.float32)}

        state, aux_metrics = jax.lax.cond(state.iteration[0] >= ppg.n_pi, run_aux, skip, state)
        # The divergence guard's input (gsl_jax.loop): non-finite parameters per member.
        bad = sum(
            jnp.sum(~jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)
            for x in jax.tree.leaves(state.params)
        )
        return state, {**metrics, **aux_metrics, "nonfinite_params": bad}

    def scanned(state, demos):
        return jax.lax.scan(lambda s, _: step(s, demos), state, None, length=num_updates)

    jit_kwargs: dict[str, Any] = {"donate_argnums": 0}
    if shardings is not None:
        jit_kwargs.update(in_shardings=(shardings, None), out_shardings=(shardings, None))
    compiled = jax.jit(scanned, **jit_kwargs)
    return lambda state, demos=None: compiled(state, demos)


def gsl_network(config: Any, env: Any) -> PhasicActorCritic:
    """The PPG networks of a :class:`~gsl_jax.gsl.GSLConfig` with ``learner="ppg"`` on ``env``."""
    return make_phasic_network(
        config.network,
        env.action_space,
        env.observation_space.shape,
        config.ppg.arch,
        config.ppg.value_hidden,
    )

"""GSL on host environments: the host backend of the GSL driver.

Design note (the interface a host environment adapter targets)
---------------------------------------------------------------
The GSL phases (:mod:`gsl_jax.gsl_phases`) never look at the backend: they call a *run builder*
(:func:`gsl_jax.phases.make_run_builder` picks it from the env). Its interface is

* ``net``, ``env``, ``config``, ``train_ids`` (variations ``0 .. n-1``), ``steps_per_chunk`` and
  the PRNG keys ``k_init``, ``k_spec``, ``k_demo``, ``k_low``, ``k_select``;
* ``fresh_generalist() -> LearnerState [1]``: a new generalist on all training variations;
* ``workers_from(source, sets, key, specialists=False) -> LearnerState [P]``: ``P`` clones of
  ``source``, member ``p`` pinned to the variation ids ``sets[p]``;
* ``chunk(dapg=False, specialists=False)`` -> ``chunk(state [P], demos=None) -> (state,
  metrics [K, P])``: ``updates_per_chunk`` PPO updates of every member (the DAPG term on
  ``demos`` with ``dapg=True``);
* ``evaluate(params, ids, episodes, seed) -> VariationScores``: first episodes per variation;
* ``demo_rollouts(params [P], id_sets, keys [P], num_steps, specialists) -> [(traj [T, B] host
  arrays, env_steps)]``, one per policy;
* ``restore(path, generalist_like) -> (progress, arrays)``.

:class:`HostRunBuilder` implements it for a host vector env (:class:`HostEnv`): the protocol of
:class:`gsl_jax.host_rollout.HostVecEnv` (``num_envs``, spaces, ``reset``, ``step`` with
auto-reset and ``info["success" | "truncated" | "variation"]``, optionally ``send``/``recv``)
plus ``name``, ``num_variations``, ``max_episode_steps``, ``levels`` and
``with_levels(levels, num_envs, seed, pinned=False)``, which builds a new batch of the same
environment playing only ``levels`` (``pinned=True``: every env plays one level only; the
evaluation needs ``num_envs`` a multiple of ``len(levels)`` and each level on
``num_envs / len(levels)`` envs). :class:`gsl_jax.envs.envpool.EnvPoolProcgen` is one (variation
= level seed); a Meta-World adapter is another (variation = task).

How each phase runs on the host:

* **Training** (phase I, pi_g_low, specialists, phase II): the learner state's ``variations``
  name the level sets of its members; the builder keeps one host env batch per set (built by
  ``with_levels``) and a :class:`~gsl_jax.host_rollout.HostPPO` over them, so the ``P``
  specialists step in one batched (``send``/``recv``: concurrent) host call per step and learn
  in one vmapped, jitted update (:func:`gsl_jax.ppo.make_learn`, DAPG included). The generalist
  keeps its envs from phase I to phase II.
* **Selection**: :func:`~gsl_jax.host.rollouts.evaluate_host` on pinned envs, ``episodes`` envs
  per variation, first episodes only (as the JAX evaluation).
* **Demonstrations**: :func:`~gsl_jax.host.rollouts.policy_rollout`, a stochastic rollout into
  the same ``[T, B]`` trajectory dict the JAX path cuts episodes from, into the same
  :class:`~gsl_jax.demos.DemoBuffer`.

Env seeds are derived from ``config.seed`` and the level set (:func:`env_seed`), never from the
clock. **Checkpoints and resume.** A checkpoint holds everything of a learner but the game
states in the host envs, which EnvPool (or MuJoCo behind Meta-World) cannot save: params,
optimiser state, PRNG keys, reward-normalisation state, update counters and the phase progress
are restored exactly; the host envs are rebuilt with the same seeds as at the run's start and
reset, and the restored learners get their fresh first observations and zeroed running episode
statistics. A resumed host run is therefore deterministic but not bit-identical to an
uninterrupted one (its envs replay level draws from their seeds' start). Plain PPO on host envs
checkpoints and resumes the same way (:mod:`gsl_jax.host.ppo_run`).
"""

from gsl_jax.host.builder import HostRunBuilder, check_host_env, env_seed
from gsl_jax.host.rollouts import evaluate_host, policy_rollout

__all__ = ["HostRunBuilder", "check_host_env", "env_seed", "evaluate_host", "policy_rollout"]

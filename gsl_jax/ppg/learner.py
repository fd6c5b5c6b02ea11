"""One PPG learner: its state, the policy phase's iteration and the auxiliary phase.

A PPG *update* is one policy iteration (:func:`make_policy_iteration`): a rollout of ``T``
steps of ``B`` envs, GAE, advantages normalised over the full ``[T * B]`` batch, then
``ppg.policy_epochs`` epochs of shuffled minibatches that train the policy (clipped surrogate,
entropy, the DAPG term where configured) and the value network together, and the rollout's
observations and value targets written into slot ``iteration`` of the fixed-shape
:class:`RolloutBuffer` in the state. After ``n_pi`` iterations :func:`make_aux_phase` runs
``aux_epochs`` epochs over the ``n_pi * B`` stored rows (one row: one env's ``T`` steps of one
iteration), training both networks on :func:`~gsl_jax.ppg.losses.aux_loss` with its own Adam;
the cloning target is the policy as it was when the auxiliary phase began.
:mod:`gsl_jax.ppg.chunk` runs both as one compiled chunk over a population axis.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from gsl_jax.demos import DemoBuffer
from gsl_jax.distributions import action_noise, distribution_for, sample_with_noise
from gsl_jax.envs.core import VariationSet, VecEnv
from gsl_jax.losses import dapg_loss, gae, normalize
from gsl_jax.networks import PhasicActorCritic
from gsl_jax.normalization import RewardNormState, normalize_reward
from gsl_jax.ppg.config import PPGConfig
from gsl_jax.ppg.losses import aux_loss, policy_phase_loss
from gsl_jax.ppo import LearnerState, Transition, _resets_are_small
from gsl_jax.ppo_config import DAPGConfig, PPOConfig
from gsl_jax.shuffle import shuffle_indices


@struct.dataclass
class RolloutBuffer:
    """The policy phase's rollouts kept for the auxiliary phase (leaves get ``[P]`` in front).

    Attributes:
        obs: ``[n_pi, T, B, *obs_shape]`` observations.
        returns: float32 ``[n_pi, T, B]`` GAE value targets, computed when the rollout was
            learned from (the reference's stored ``vtarg``).
    """

    obs: jax.Array
    returns: jax.Array


@struct.dataclass
class PPGState(LearnerState):
    """A :class:`~gsl_jax.ppo.LearnerState` (``opt_state``: the policy phase's Adam) plus:

    Attributes:
        aux_opt_state: the auxiliary phase's Adam state.
        buffer: the current phase's rollouts (:class:`RolloutBuffer`).
        iteration: int32 ``[]``, policy iterations stored in ``buffer`` (``0 .. n_pi``).
    """

    aux_opt_state: Any
    buffer: RolloutBuffer
    iteration: jax.Array


def make_optimizers(
    ppo: PPOConfig, ppg: PPGConfig
) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """``(policy_phase, aux_phase)`` Adam optimisers, with the optional gradient-norm clip."""

    def adam(lr: float) -> optax.GradientTransformation:
        opt = optax.adam(lr, eps=ppg.adam_eps)
        if ppg.max_grad_norm is not None:
            opt = optax.chain(optax.clip_by_global_norm(ppg.max_grad_norm), opt)
        return optax.flatten(opt)

    return adam(ppo.learning_rate), adam(ppg.aux_learning_rate)


def init_learner(
    key: jax.Array,
    vec_env: VecEnv,
    network: PhasicActorCritic,
    ppo: PPOConfig,
    ppg: PPGConfig,
    variations: VariationSet,
) -> PPGState:
    """A fresh PPG learner: both networks, both optimisers, an empty buffer, envs reset."""
    k_net, k_env, k_rng = jax.random.split(key, 3)
    env_state = vec_env.reset(k_env, variations)
    params = network.init(k_net, env_state.obs[:1])
    policy_opt, aux_opt = make_optimizers(ppo, ppg)
    obs = env_state.obs
    return PPGState(
        params=params,
        opt_state=policy_opt.init(params),
        env=env_state,
        variations=variations,
        reward_norm=RewardNormState.create(ppo.num_envs),
        rng=k_rng,
        updates=jnp.zeros((), jnp.int32),
        aux_opt_state=aux_opt.init(params),
        buffer=RolloutBuffer(
            obs=jnp.zeros((ppg.n_pi, ppo.num_steps, *obs.shape), obs.dtype),
            returns=jnp.zeros((ppg.n_pi, ppo.num_steps, ppo.num_envs), jnp.float32),
        ),
        iteration=jnp.zeros((), jnp.int32),
    )


def make_rollout(vec_env: VecEnv, network: PhasicActorCritic, ppo: PPOConfig):
    """Build ``rollout(state, key) -> (env_state, reward_norm, traj)``: ``T`` steps of ``B``
    envs under the current policy, ``traj`` a :class:`~gsl_jax.ppo.Transition` ``[T, B, ...]``
    (the same rollout as PPO's: noise, env keys and small resets drawn before the loop)."""
    predraw = _resets_are_small(vec_env, ppo.num_steps)
    T, B = ppo.num_steps, ppo.num_envs

    def rollout(state: PPGState, key: jax.Array):
        k_act, k_env = jax.random.split(key)
        noise = action_noise(k_act, network.action_space, (T, B))
        bank = vec_env.level_bank(state.variations)
        draws = jax.vmap(lambda k: vec_env.draw(k, state.variations, predraw, bank))(
            jax.random.split(k_env, T)
        )

        def env_step(carry, xs):
            env_state, norm_state, obs_buffer = carry
            step_noise, step_draws, t = xs
            dist, value = network.apply(state.params, env_state.obs)
            action = sample_with_noise(dist, step_noise)
            log_prob = distribution_for(dist).log_prob(dist, action)
            next_env, reward, done, info = vec_env.step_with_draws(step_draws, env_state, action)
            if ppo.normalize_rewards:
                reward, norm_state = normalize_reward(
                    norm_state, reward, done, ppo.gamma, ppo.reward_clip
                )
            obs_buffer = jax.lax.dynamic_update_index_in_dim(obs_buffer, env_state.obs, t, 0)
            stats = next_env.stats
            step = Transition(
                None, action, log_prob, value, reward, done,
                stats.last_return, stats.last_length, info["success"],
            )  # fmt: skip
            return (next_env, norm_state, obs_buffer), step

        obs_buffer = jnp.zeros((T,) + state.env.obs.shape, state.env.obs.dtype)
        carry = (state.env, state.reward_norm, obs_buffer)
        (env_state, norm_state, obs_buffer), traj = jax.lax.scan(
            env_step, carry, (noise, draws, jnp.arange(T))
        )
        return env_state, norm_state, traj._replace(obs=obs_buffer)

    return rollout


def make_policy_iteration(
    vec_env: VecEnv,
    network: PhasicActorCritic,
    ppo: PPOConfig,
    ppg: PPGConfig,
    dapg: DAPGConfig | None = None,
):
    """Build ``iteration(state, demos=None) -> (state, metrics)``: one policy-phase iteration of
    ONE learner (module docstring); ``metrics`` as :func:`gsl_jax.ppo.make_update`'s.

    With ``dapg`` the DAPG term (:func:`gsl_jax.losses.dapg_loss`) joins the policy loss on every
    ``dapg.demo_freq``-th minibatch of a non-empty ``demos`` buffer, exactly as in PPO.
    """
    policy_opt, _ = make_optimizers(ppo, ppg)
    rollout = make_rollout(vec_env, network, ppo)
    N, M = ppo.batch_size, ppo.num_minibatches

    def demo_term(params, demo_args, index, key):
        demos, max_adv, decay = demo_args

        def term(params):
            obs, action = demos.sample(jax.random.fold_in(key, index), dapg.demo_batch_size)
            dist, _ = network.apply(params, obs)
            log_prob = distribution_for(dist).log_prob(dist, action)
            weight = dapg.demo_coeff * decay
            loss = dapg_loss(log_prob, max_adv, weight, use_log_prob=dapg.use_log_prob)
            return loss.astype(jnp.float32)

        skip = lambda params: jnp.zeros((), jnp.float32)  # noqa: E731
        on_buffer = lambda params: jax.lax.cond(demos.count > 0, term, skip, params)  # noqa: E731
        on_turn = index % dapg.demo_freq == 0
        # Two conds (the turn is shared by a vmapped population, the count may not be): a
        # skipped minibatch never runs the demo batch forward (see gsl_jax.ppo).
        return jax.lax.cond(on_turn, on_buffer, skip, params), on_turn & (demos.count > 0)

    def loss_fn(params, mb, demo_args, index, key):
        dist, value = network.apply(params, mb["obs"])
        D = distribution_for(dist)
        loss, metrics = policy_phase_loss(
            D.log_prob(dist, mb["action"]), D.entropy(dist), value, mb["log_prob"],
            mb["advantages"], mb["returns"],
            clip_eps=ppo.clip_eps, ent_coef=ppo.ent_coef, vf_coef=ppo.vf_coef,
        )  # fmt: skip
        if demo_args is not None:
            term, applied = demo_term(params, demo_args, index, key)
            loss = loss + term
            metrics |= {"dapg_loss": term, "dapg_applied": applied.astype(jnp.float32)}
        return loss, metrics

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def iteration(state: PPGState, demos: DemoBuffer | None = None):
        if (demos is None) != (dapg is None):
            raise ValueError("demos: pass a DemoBuffer exactly when the update has a DAPGConfig")
        rng, k_roll, k_perm = jax.random.split(state.rng, 3)
        env_state, norm_state, traj = rollout(state, k_roll)
        _, last_value = network.apply(state.params, env_state.obs)
        advantages, returns = gae(
            traj.reward, traj.value, traj.done, last_value, ppo.gamma, ppo.gae_lambda
        )
        # The reference normalises the advantages once over the whole batch, not per minibatch.
        adv = normalize(advantages) if ppo.normalize_advantages else advantages
        flat = lambda x: x.reshape((N,) + x.shape[2:])  # noqa: E731
        batch = {
            "obs": flat(traj.obs), "action": flat(traj.action), "log_prob": flat(traj.log_prob),
            "advantages": flat(adv), "returns": flat(returns),
        }  # fmt: skip
        demo_args = None
        if dapg is not None:
            max_adv = normalize(advantages).max() if dapg.normalized_max_advantage else None
            max_adv = advantages.max() if max_adv is None else max_adv
            decay = dapg.decay ** state.updates.astype(jnp.float32)
            demo_args = (demos, jax.lax.stop_gradient(max_adv), decay)

        def epoch(carry, xs):
            key, e = xs
            rows = shuffle_indices(key, N).reshape(M, N // M)

            def step(carry, xs):
                params, opt_state = carry
                idx, i = xs
                mb = jax.tree.map(lambda x: x[idx], batch)
                grads, metrics = grad_fn(params, mb, demo_args, e * M + i, key)
                updates, opt_state = policy_opt.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), metrics

            return jax.lax.scan(step, carry, (rows, jnp.arange(M)))

        keys = jax.random.split(k_perm, ppg.policy_epochs)
        (params, opt_state), mb_metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state), (keys, jnp.arange(ppg.policy_epochs))
        )
        extra = {}
        if dapg is not None:
            applied = mb_metrics.pop("dapg_applied").sum()
            total = mb_metrics.pop("dapg_loss").sum()
            extra["dapg_loss"] = jnp.where(applied > 0, total / jnp.maximum(applied, 1), 0)
        done = traj.done.astype(jnp.float32)
        metrics = jax.tree.map(jnp.mean, mb_metrics) | extra
        metrics.update(
            episodes=done.sum(),
            return_sum=(done * traj.episode_return).sum(),
            length_sum=(done * traj.episode_length).sum(),
            success_sum=(done * traj.success).sum(),
            advantage_max=advantages.max(),
            value_mean=traj.value.mean(),
        )
        slot = jnp.minimum(state.iteration, ppg.n_pi - 1)
        buffer = RolloutBuffer(
            obs=jax.lax.dynamic_update_index_in_dim(state.buffer.obs, traj.obs, slot, 0),
            returns=jax.lax.dynamic_update_index_in_dim(state.buffer.returns, returns, slot, 0),
        )
        new = state.replace(
            params=params, opt_state=opt_state, env=env_state, reward_norm=norm_state, rng=rng,
            updates=state.updates + 1, buffer=buffer, iteration=state.iteration + 1,
        )  # fmt: skip
        return new, metrics

    return iteration


def make_aux_phase(network: PhasicActorCritic, ppo: PPOConfig, ppg: PPGConfig):
    """Build ``aux(state) -> (state, metrics)``: the auxiliary phase of ONE learner over its
    buffer (module docstring); resets ``iteration`` to 0. ``metrics``: ``aux_kl``,
    ``aux_value_loss``, ``aux_true_value_loss`` (means over the phase's minibatches)."""
    _, aux_opt = make_optimizers(ppo, ppg)
    T, B = ppo.num_steps, ppo.num_envs
    rows = ppg.n_pi * B
    per_mb = ppg.aux_minibatch_envs
    num_mb = rows // per_mb

    def loss_fn(params, obs, returns, old_dist):
        dist, value, aux_value = network.apply(params, obs, method=network.with_aux)
        return aux_loss(
            old_dist, dist, aux_value, value, returns,
            beta_clone=ppg.beta_clone, vf_true_weight=ppg.vf_true_weight,
        )  # fmt: skip

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def aux(state: PPGState):
        if ppg.aux_epochs == 0:  # plain PPO with separate networks: the phase only restarts
            zero = jnp.zeros((), jnp.float32)
            names = ("aux_kl", "aux_value_loss", "aux_true_value_loss")
            return state.replace(iteration=jnp.zeros_like(state.iteration)), dict.fromkeys(
                names, zero
            )
        buf = state.buffer
        obs_shape = buf.obs.shape[3:]
        rng, k_aux = jax.random.split(state.rng)

        # The cloning target: the policy as the phase begins, one forward pass per iteration.
        def forward(obs):
            dist, _ = network.apply(state.params, obs.reshape((T * B, *obs_shape)))
            return jax.tree.map(lambda x: x.reshape((T, B, *x.shape[1:])), dist)

        old = jax.lax.map(forward, buf.obs)  # leaves [n_pi, T, B, ...]

        def gather(x, idx):
            # Row r is env r % B of iteration r // B: x[i, :, b] -> [per_mb, T, ...] -> flat.
            picked = x[idx // B, :, idx % B]
            return picked.reshape((per_mb * T, *picked.shape[2:]))

        def step(carry, idx):
            params, opt_state = carry
            old_mb = jax.tree.map(lambda x: gather(x, idx), old)
            grads, metrics = grad_fn(params, gather(buf.obs, idx), gather(buf.returns, idx), old_mb)
            updates, opt_state = aux_opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), metrics

        def epoch(carry, key):
            order = shuffle_indices(key, rows).reshape(num_mb, per_mb)
            return jax.lax.scan(step, carry, order)

        keys = jax.random.split(k_aux, ppg.aux_epochs)
        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, state.aux_opt_state), keys
        )
        new = state.replace(
            params=params,
            aux_opt_state=opt_state,
            rng=rng,
            iteration=jnp.zeros_like(state.iteration),
        )
        return new, jax.tree.map(jnp.mean, metrics)

    return aux

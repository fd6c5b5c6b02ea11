"""The fused PPO update: rollout, GAE and all epochs of minibatch updates in one jitted function.

Read :func:`make_update` top to bottom: it builds ``update(state) -> (state, metrics)`` for ONE
learner. :mod:`gsl_jax.population` vmaps it over a leading population axis ``P`` and scans it over
chunks of updates. An update is a rollout followed by :func:`make_learn`'s learning step (GAE,
epochs of minibatch SGD, optional DAPG) on the collected :class:`Transition` batch; the learning
step is public so that rollouts collected elsewhere -- environments stepped on the host, see
:mod:`gsl_jax.host_rollout` -- train through the same code.

Minibatch loop and the XLA:CPU trap: the gradient of a convolution inside a ``lax.scan`` /
``while`` loop runs far slower on XLA:CPU than the same work unrolled (jax issue #12868;
``docs/benchmarks.md``, section 3). :attr:`PPOConfig.loop` therefore chooses per backend:
``"scan"`` keeps the epoch and minibatch loops (and the chunk of updates) as ``lax.scan`` --
compact programs and fast compiles, right for GPU/TPU and for MLPs everywhere; ``"unroll"``
writes the minibatch steps out in straight-line code and runs chunks as a host loop of jitted
updates -- right for CNNs on CPU; ``"auto"`` picks ``"unroll"`` for a CNN on the CPU backend
and ``"scan"`` otherwise.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from gsl_jax.demos import DemoBuffer
from gsl_jax.distributions import action_noise, distribution_for, sample_with_noise
from gsl_jax.envs.core import VariationSet, VecEnv, VecEnvState
from gsl_jax.losses import dapg_loss, gae, normalize, ppo_loss
from gsl_jax.networks import ActorCritic
from gsl_jax.normalization import RewardNormState, normalize_reward
from gsl_jax.ppo_config import DAPGConfig, PPOConfig, lr_schedule  # re-exported: the configs
from gsl_jax.shuffle import shuffle_indices


@struct.dataclass
class LearnerState:
    """Everything one PPO learner carries between updates (leaves get a leading ``[P]`` axis in a
    population).

    Attributes:
        params: network parameters.
        opt_state: optax state.
        env: the learner's vectorised env state (leaves ``[B, ...]``).
        variations: the variation set the learner's envs draw from.
        reward_norm: running return statistics for reward normalisation.
        rng: PRNG key.
        updates: int32 ``[]``, PPO updates done.
    """

    params: Any
    opt_state: Any
    env: VecEnvState
    variations: VariationSet
    reward_norm: RewardNormState
    rng: jax.Array
    updates: jax.Array


class Transition(NamedTuple):
    """One rollout step of ``B`` envs (``[T, B, ...]`` once scanned)."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array  # possibly normalised; what PPO learns from
    done: jax.Array
    # For logging only: the finished episodes' raw return, length and success.
    episode_return: jax.Array
    episode_length: jax.Array
    success: jax.Array


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Global-norm clipping then Adam at the config's learning rate or schedule
    (:func:`gsl_jax.ppo_config.lr_schedule`)."""
    lr: Any = lr_schedule(config)
    # optax.flatten runs the optimiser on one raveled vector: a handful of large ops instead of
    # a dozen small ones per parameter array, which matters for small networks on CPU.
    return optax.flatten(
        optax.chain(
            optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=config.adam_eps)
        )
    )


def init_learner(
    key: jax.Array,
    vec_env: VecEnv,
    network: ActorCritic,
    config: PPOConfig,
    variations: VariationSet,
) -> LearnerState:
    """A fresh learner: initialised network and optimiser, envs reset on ``variations``."""
    k_net, k_env, k_rng = jax.random.split(key, 3)
    env_state = vec_env.reset(k_env, variations)
    params = network.init(k_net, env_state.obs[:1])
    return LearnerState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        env=env_state,
        variations=variations,
        reward_norm=RewardNormState.create(config.num_envs),
        rng=k_rng,
        updates=jnp.zeros((), jnp.int32),
    )


#: Largest total size of a rollout's ``num_steps * num_envs`` resets that is computed ahead of the
#: rollout loop (one batched call) rather than inside it; bigger ones (pixel envs) stay inside.
_PREDRAW_RESET_BYTES = 16 * 2**20


def _resets_are_small(vec_env: VecEnv, num_steps: int) -> bool:
    """Whether ``num_steps`` steps' worth of ``vec_env`` resets fit :data:`_PREDRAW_RESET_BYTES`."""
    shapes = jax.eval_shape(
        vec_env.env.reset, jax.random.key(0), jax.ShapeDtypeStruct((), jnp.int32)
    )
    per_env = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
    return num_steps * vec_env.num_envs * per_env <= _PREDRAW_RESET_BYTES


def make_minibatch_loss(network: ActorCritic, config: PPOConfig, dapg: DAPGConfig | None = None):
    """Build ``loss(params, mb, demo_args, index, key) -> (loss [], metrics)``: the loss of one
    minibatch of :func:`make_learn`, PPO's plus the DAPG term where it applies.

    Args of ``loss``:
        params: network parameters (the argument differentiated).
        mb: dict of ``[N]`` arrays ``obs [N, ...]``, ``action``, ``log_prob``, ``value``,
            ``advantages``, ``returns``.
        demo_args: ``None`` without ``dapg``, else ``(demos, max_advantage [], decay [])``: the
            :class:`~gsl_jax.demos.DemoBuffer`, the rollout's largest advantage and
            ``dapg.decay ** k``.
        index: the minibatch's global index in the update (a Python int or an int32 ``[]``);
            the DAPG term applies when ``index % dapg.demo_freq == 0`` and the buffer is
            non-empty.
        key: PRNG key; the demo rows are drawn with ``fold_in(key, index)``.

    ``metrics`` holds :func:`~gsl_jax.losses.ppo_loss`'s and, with ``dapg``, ``dapg_loss`` (the
    term, 0 where skipped) and ``dapg_applied`` (1.0 where it applied, else 0.0).
    """

    def policy(params, obs):
        return network.apply(params, obs)

    def demo_term(params, demo_args, index, key) -> tuple[jax.Array, jax.Array]:
        """The DAPG term of global minibatch ``index`` and whether it applied: ``(term [],
        applied [] bool)``, ``(0, False)`` where it does not apply.

        It applies on every ``demo_freq``-th minibatch of a non-empty buffer. Elsewhere the demo
        batch is neither drawn nor run forward and backward (``lax.cond``), so a term that is not
        finite -- a Gaussian density beyond float32's range -- cannot reach those minibatches'
        loss and gradient, as it would if the term were multiplied by a zero weight.
        """
        demos, max_advantage, decay = demo_args

        def term(params):
            obs, action = demos.sample(jax.random.fold_in(key, index), dapg.demo_batch_size)
            demo_dist, _ = policy(params, obs)
            log_prob = distribution_for(demo_dist).log_prob(demo_dist, action)
            weight = dapg.demo_coeff * decay  # lambda_0 * lambda_1 ** k
            loss = dapg_loss(log_prob, max_advantage, weight, use_log_prob=dapg.use_log_prob)
            return loss.astype(jnp.float32)

        def skip(params):
            return jnp.zeros((), jnp.float32)

        def on_buffer(params):
            return jax.lax.cond(demos.count > 0, term, skip, params)

        on_turn = index % dapg.demo_freq == 0
        applied = on_turn & (demos.count > 0)
        if isinstance(on_turn, bool):  # unrolled minibatches: the turn is known when tracing
            return (on_buffer(params) if on_turn else skip(params)), applied
        # Two conds, not one on ``applied``: the minibatch index is the same for every member
        # of a vmapped population, so this cond stays a branch (vmap turns a cond with a batched
        # predicate into a select that runs both sides) even where the buffers are batched.
        return jax.lax.cond(on_turn, on_buffer, skip, params), applied

    def minibatch_loss(params, mb: dict[str, jax.Array], demo_args, index, key):
        dist, value = policy(params, mb["obs"])
        D = distribution_for(dist)
        adv = mb["advantages"]
        if config.normalize_advantages:
            adv = normalize(adv)
        loss, metrics = ppo_loss(
            D.log_prob(dist, mb["action"]),
            D.entropy(dist),
            value,
            mb["log_prob"],
            mb["value"],
            adv,
            mb["returns"],
            clip_eps=config.clip_eps,
            vf_coef=config.vf_coef,
            ent_coef=config.ent_coef,
            clip_value=config.clip_value,
        )
        if demo_args is not None:
            # DAPG: raise the likelihood of demonstrated actions; only the policy head sees it.
            term, applied = demo_term(params, demo_args, index, key)
            loss = loss + term
            metrics["dapg_loss"] = term
            metrics["dapg_applied"] = jnp.asarray(applied, jnp.float32)
        return loss, metrics

    return minibatch_loss


def make_learn(network: ActorCritic, config: PPOConfig, dapg: DAPGConfig | None = None):
    """Build ``learn(state, traj, last_value, key, demos=None) -> (state, metrics)``: the learning
    half of a PPO update, for ONE learner, on a trajectory collected by any means.

    ``learn`` is pure and jittable (wrap it in ``jax.jit``, or ``jax.vmap`` it over a population
    axis first). It runs GAE on ``traj.reward`` (already normalised if the config normalises
    rewards: normalisation belongs to the rollout), then ``config.update_epochs`` epochs of
    shuffled minibatch SGD over the flattened ``[T * B]`` batch, with the DAPG term when ``dapg``
    is set (see :func:`make_update`).

    Args of ``learn``:
        state: the learner; only ``params``, ``opt_state`` and ``updates`` are read.
        traj: a :class:`Transition` with leaves ``[T, B, ...]``, ``T = config.num_steps`` and
            ``B = config.num_envs``; ``done`` ends an episode (terminal or truncated).
        last_value: float32 ``[B]``, the value of the observation after the last step.
        key: PRNG key of the minibatch shuffles (:func:`make_update` passes the third key of
            ``jax.random.split(state.rng, 3)``).
        demos: a :class:`~gsl_jax.demos.DemoBuffer`, exactly when ``dapg`` is set.

    Returns ``(state, metrics)``: ``state`` with new ``params`` and ``opt_state`` and ``updates``
    incremented, everything else untouched; ``metrics`` as documented in :func:`make_update`.
    """
    optimizer = make_optimizer(config)
    loop = config.resolved_loop(network.config.kind)
    minibatch_loss = make_minibatch_loss(network, config, dapg)

    grad_fn = jax.grad(minibatch_loss, has_aux=True)

    def sgd_step(carry, mb, demo_args, index, key):
        params, opt_state = carry
        grads, metrics = grad_fn(params, mb, demo_args, index, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    def epoch(carry, xs, batch, demo_args):
        # Shuffle once per epoch; each minibatch step gathers its own rows of the batch. The
        # batch is loop-invariant (closed over rather than carried), and no shuffled copy of it
        # is made: under vmap, scanning over a shuffled [M, N/M, ...] copy moves the whole batch
        # once more per epoch (6% of an update of 4 vmapped coinrun learners on compact
        # observations; docs/benchmarks.md, section 2).
        params, opt_state = carry
        key, epoch_index = xs
        perm = shuffle_indices(key, config.batch_size)
        rows = perm.reshape(config.num_minibatches, config.minibatch_size)
        first = epoch_index * config.num_minibatches  # global index of this epoch's first minibatch

        def step(carry, idx, i):
            mb = jax.tree.map(lambda x: x[idx], batch)
            return sgd_step(carry, mb, demo_args, first + i, key)

        if loop == "scan":
            indices = jnp.arange(config.num_minibatches)
            (params, opt_state), metrics = jax.lax.scan(
                lambda c, x: step(c, *x), (params, opt_state), (rows, indices)
            )
        else:
            collected = []
            for i in range(config.num_minibatches):
                (params, opt_state), m = step((params, opt_state), rows[i], i)
                collected.append(m)
            metrics = jax.tree.map(lambda *xs: jnp.stack(xs), *collected)
        return (params, opt_state), metrics

    def learn(
        state: LearnerState,
        traj: Transition,
        last_value: jax.Array,
        key: jax.Array,
        demos: DemoBuffer | None = None,
    ):
        if (demos is None) != (dapg is None):
            raise ValueError("demos: pass a DemoBuffer exactly when the update has a DAPGConfig")
        expected = (config.num_steps, config.num_envs)
        if traj.reward.shape != expected or last_value.shape != expected[1:]:
            raise ValueError(
                f"traj: expected rewards [num_steps, num_envs] = {list(expected)} and last_value "
                f"[{config.num_envs}], got {list(traj.reward.shape)} and {list(last_value.shape)}"
            )

        # 1. GAE on the (possibly normalised) rewards, plus the max-entropy bonus if asked.
        reward = traj.reward
        if config.entropy_reward_coef > 0:
            dist, _ = network.apply(state.params, traj.obs.reshape((-1,) + traj.obs.shape[2:]))
            entropy = jax.lax.stop_gradient(distribution_for(dist).entropy(dist))
            reward = reward + config.entropy_reward_coef * entropy.reshape(reward.shape)
        advantages, returns = gae(
            reward, traj.value, traj.done, last_value, config.gamma, config.gae_lambda
        )

        # 2. Epochs of shuffled minibatches over the flattened [T * B] batch.
        flat = lambda x: x.reshape((config.batch_size,) + x.shape[2:])
        batch = {
            "obs": flat(traj.obs),
            "action": flat(traj.action),
            "log_prob": flat(traj.log_prob),
            "value": flat(traj.value),
            "advantages": flat(advantages),
            "returns": flat(returns),
        }
        demo_args = None
        if dapg is not None:
            # max_adv over the whole rollout batch, before minibatching (raw GAE by default).
            max_adv = (
                normalize(advantages).max() if dapg.normalized_max_advantage else advantages.max()
            )
            decay = dapg.decay ** state.updates.astype(jnp.float32)
            demo_args = (demos, jax.lax.stop_gradient(max_adv), decay)
        carry = (state.params, state.opt_state)
        epoch_keys = jax.random.split(key, config.update_epochs)
        epoch_ids = jnp.arange(config.update_epochs)
        if loop == "scan":
            carry, mb_metrics = jax.lax.scan(
                lambda c, xs: epoch(c, xs, batch, demo_args), carry, (epoch_keys, epoch_ids)
            )
        else:
            collected = []
            for i in range(config.update_epochs):
                carry, m = epoch(carry, (epoch_keys[i], i), batch, demo_args)
                collected.append(m)
            mb_metrics = jax.tree.map(lambda *xs: jnp.stack(xs), *collected)
        params, opt_state = carry

        done = traj.done.astype(jnp.float32)
        dapg_metrics = {}
        if dapg is not None:
            # The applied term's mean: averaging in the skipped minibatches would report
            # 1 / demo_freq of it. 0 where it applied nowhere (an empty buffer).
            applied = mb_metrics.pop("dapg_applied").sum()
            total = mb_metrics.pop("dapg_loss").sum()
            dapg_metrics["dapg_loss"] = jnp.where(applied > 0, total / jnp.maximum(applied, 1), 0)
        metrics = jax.tree.map(jnp.mean, mb_metrics) | dapg_metrics
        metrics.update(
            episodes=done.sum(),
            return_sum=(done * traj.episode_return).sum(),
            length_sum=(done * traj.episode_length).sum(),
            success_sum=(done * traj.success).sum(),
            advantage_max=advantages.max(),
            value_mean=traj.value.mean(),
        )
        new_state = state.replace(params=params, opt_state=opt_state, updates=state.updates + 1)
        return new_state, metrics

    return learn


def make_update(
    vec_env: VecEnv, network: ActorCritic, config: PPOConfig, dapg: DAPGConfig | None = None
):
    """Build ``update(state: LearnerState, demos=None) -> (state, metrics)`` for one learner.

    With ``dapg`` the update adds the DAPG demonstration loss (:func:`gsl_jax.losses.dapg_loss`)
    on every ``dapg.demo_freq``-th minibatch (counted across epochs from 0), on a minibatch of
    ``dapg.demo_batch_size`` rows drawn from ``demos`` (a :class:`~gsl_jax.demos.DemoBuffer`);
    an empty buffer contributes nothing.

    ``metrics`` is a dict of scalars: the losses averaged over all minibatches (``dapg_loss``: over
    the minibatches the term applied to, 0 if none), and episode sums
    over the rollout (``episodes``, ``return_sum``, ``length_sum``, ``success_sum``) so that means
    can be taken over any number of updates without bias.
    """
    if vec_env.num_envs != config.num_envs:
        raise ValueError(
            f"ppo.num_envs: config says {config.num_envs} but the VecEnv has {vec_env.num_envs}"
        )
    learn = make_learn(network, config, dapg)
    predraw_resets = _resets_are_small(vec_env, config.num_steps)

    def policy(params, obs):
        dist, value = network.apply(params, obs)
        return dist, value

    def rollout(state: LearnerState, key: jax.Array):
        # All randomness of the rollout (action noise, env keys, next variations and, when
        # small, the resets themselves) is drawn before the loop in a few batched calls: on CPU
        # each PRNG call is a small while loop of its own, and these dominated the loop body.
        k_act, k_env = jax.random.split(key)
        noise = action_noise(k_act, network.action_space, (config.num_steps, config.num_envs))
        env_keys = jax.random.split(k_env, config.num_steps)
        # Games whose levels depend on the seed alone build each level of the set once here.
        bank = vec_env.level_bank(state.variations)
        draws = jax.vmap(lambda k: vec_env.draw(k, state.variations, predraw_resets, bank))(
            env_keys
        )

        def env_step(carry, xs):
            env_state, norm_state, obs_buffer = carry
            step_noise, step_draws, t = xs
            dist, value = policy(state.params, env_state.obs)
            action = sample_with_noise(dist, step_noise)
            log_prob = distribution_for(dist).log_prob(dist, action)
            next_env, reward, done, info = vec_env.step_with_draws(step_draws, env_state, action)
            if config.normalize_rewards:
                learn_reward, norm_state = normalize_reward(
                    norm_state, reward, done, config.gamma, config.reward_clip
                )
            else:
                learn_reward = reward
            stats = next_env.stats
            obs_buffer = jax.lax.dynamic_update_index_in_dim(obs_buffer, env_state.obs, t, 0)
            transition = Transition(
                obs=None,  # written into obs_buffer instead
                action=action,
                log_prob=log_prob,
                value=value,
                reward=learn_reward,
                done=done,
                episode_return=stats.last_return,
                episode_length=stats.last_length,
                success=info["success"],
            )
            return (next_env, norm_state, obs_buffer), transition

        # The observations go into a [T, B, ...] buffer carried through the loop rather than out
        # as a stacked scan output: under vmap a stacked output comes out time-major, [T, P, B,
        # ...], and moving P to the front copies the whole observation batch once per update,
        # where a carried buffer stays [P, T, B, ...] (docs/benchmarks.md, section 2).
        obs_buffer = jnp.zeros((config.num_steps,) + state.env.obs.shape, state.env.obs.dtype)
        steps = jnp.arange(config.num_steps)
        (env_state, norm_state, obs_buffer), traj = jax.lax.scan(
            env_step, (state.env, state.reward_norm, obs_buffer), (noise, draws, steps)
        )
        return env_state, norm_state, traj._replace(obs=obs_buffer)

    def update(state: LearnerState, demos: DemoBuffer | None = None):
        if (demos is None) != (dapg is None):
            raise ValueError("demos: pass a DemoBuffer exactly when the update has a DAPGConfig")
        rng, k_roll, k_perm = jax.random.split(state.rng, 3)

        # 1. Rollout: T steps of B envs under the current policy.
        env_state, norm_state, traj = rollout(state, k_roll)

        # 2. Learning: GAE, then epochs of minibatch SGD (+ DAPG) on the collected batch.
        _, last_value = policy(state.params, env_state.obs)
        state, metrics = learn(state, traj, last_value, k_perm, demos)
        return state.replace(env=env_state, reward_norm=norm_state, rng=rng), metrics

    return update

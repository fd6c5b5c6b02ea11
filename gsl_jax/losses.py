"""Pure loss functions: GAE, the PPO clipped surrogate, the clipped value loss and entropy.

Conventions: ``T`` is the rollout length, ``B`` the number of envs, ``N`` a flat (mini)batch.
``dones[t]`` is true when the episode ended on the transition taken at step ``t``; the value of
the state after it is then not bootstrapped (time-limit truncations are treated as terminal, the
convention of the Procgen baselines). Shapes are asserted with ``chex`` at trace time, so a
mismatched batch fails when the update compiles, not as a silent broadcast.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    dones: jax.Array,
    last_value: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation (Schulman et al. 2016).

    Args:
        rewards: ``[T, B]`` rewards r_t.
        values: ``[T, B]`` value estimates V(s_t).
        dones: ``[T, B]`` episode ended after step t.
        last_value: ``[B]`` V(s_T) of the state after the rollout.

    Returns:
        ``(advantages [T, B], returns [T, B])`` with ``returns = advantages + values``:
        ``delta_t = r_t + gamma (1 - d_t) V(s_{t+1}) - V(s_t)``,
        ``A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}``.
    """
    chex.assert_rank(rewards, 2)
    chex.assert_equal_shape([rewards, values, dones])
    chex.assert_shape(last_value, rewards.shape[1:])
    not_done = 1.0 - dones.astype(values.dtype)
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    deltas = rewards + gamma * not_done * next_values - values

    def backward(carry, xs):
        delta, nd = xs
        adv = delta + gamma * gae_lambda * nd * carry
        return adv, adv

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(last_value), (deltas, not_done), reverse=True
    )
    return advantages, advantages + values


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``(x - mean) / (std + eps)`` over all entries."""
    return (x - x.mean()) / (x.std() + eps)


def policy_loss(
    log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array, clip_eps: float
) -> tuple[jax.Array, jax.Array]:
    """PPO clipped surrogate, to be minimised.

    All inputs ``[N]``. Returns ``(loss [], clip_fraction [])`` with
    ``loss = mean(max(-rho A, -clip(rho, 1-eps, 1+eps) A))``, ``rho = exp(logp - logp_old)``.
    """
    chex.assert_rank(log_prob, 1)
    chex.assert_equal_shape([log_prob, old_log_prob, advantages])
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = -ratio * advantages
    clipped = -jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    clip_fraction = jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))
    return jnp.mean(jnp.maximum(unclipped, clipped)), clip_fraction


def value_loss(
    value: jax.Array,
    old_value: jax.Array,
    returns: jax.Array,
    clip_eps: float,
    clip_value: bool = True,
) -> jax.Array:
    """Value regression loss ``0.5 * mean(err^2)`` on ``[N]`` inputs.

    With ``clip_value`` the error is the larger of the unclipped one and that of
    ``old_value + clip(value - old_value, -eps, eps)`` (the Procgen/OpenAI baselines form).
    """
    chex.assert_equal_shape([value, old_value, returns])
    unclipped = (value - returns) ** 2
    if not clip_value:
        return 0.5 * jnp.mean(unclipped)
    v_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(unclipped, (v_clipped - returns) ** 2))


def ppo_loss(
    log_prob: jax.Array,
    entropy: jax.Array,
    value: jax.Array,
    old_log_prob: jax.Array,
    old_value: jax.Array,
    advantages: jax.Array,
    returns: jax.Array,
    *,
    clip_eps: float,
    vf_coef: float,
    ent_coef: float,
    clip_value: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Total PPO loss ``L_pi + vf_coef L_V - ent_coef H`` on a minibatch of ``[N]`` arrays.

    Returns ``(loss [], metrics)`` with the components, the mean entropy and the clip fraction.
    """
    pg, clip_fraction = policy_loss(log_prob, old_log_prob, advantages, clip_eps)
    vf = value_loss(value, old_value, returns, clip_eps, clip_value)
    ent = jnp.mean(entropy)
    total = pg + vf_coef * vf - ent_coef * ent
    return total, {
        "policy_loss": pg,
        "value_loss": vf,
        "entropy": ent,
        "clip_fraction": clip_fraction,
    }


def dapg_loss(
    demo_log_prob: jax.Array,
    max_advantage: jax.Array,
    weight: jax.Array | float,
    use_log_prob: bool = False,
) -> jax.Array:
    """The DAPG demonstration term as released with GSL, to be added to the PPO loss.

    ``loss = - weight * stop_gradient(max_advantage) * mean(pi(a|s))`` over a demo minibatch,
    where ``pi(a|s) = exp(demo_log_prob)`` is the likelihood (softmax probability for discrete
    actions, density for Gaussian ones), not the log-likelihood.

    A zero ``weight`` does not switch the term off: a density beyond float32's range makes the
    term ``0 * inf = NaN``. Callers skip the term where it does not apply instead of weighting
    it by zero (see :func:`gsl_jax.ppo.make_learn`).

    Args:
        demo_log_prob: ``[N]`` log pi_theta(a|s) of the demo actions under the current policy.
        max_advantage: ``[]`` the largest advantage of the rollout batch (no gradient flows).
        weight: ``[]`` the term's coefficient at this update, ``lambda_0 * lambda_1 ** k``
            (:attr:`~gsl_jax.ppo.DAPGConfig.demo_coeff` times
            :attr:`~gsl_jax.ppo.DAPGConfig.decay` to the power of the update count ``k``;
            the released scripts use ``lambda_0 = 0.5`` and no decay).
        use_log_prob: use ``log pi(a|s)`` instead of ``pi(a|s)`` (original DAPG, Rajeswaran et al.).

    Returns:
        ``[]`` the term, to be minimised.
    """
    chex.assert_rank([demo_log_prob, max_advantage], [1, 0])
    likelihood = demo_log_prob if use_log_prob else jnp.exp(demo_log_prob)
    return -weight * jax.lax.stop_gradient(max_advantage) * jnp.mean(likelihood)

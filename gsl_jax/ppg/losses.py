"""PPG's loss terms: the policy phase's objective and the auxiliary phase's joint loss.

Shapes: ``N`` a flat (mini)batch. Distribution parameters are those of
:mod:`gsl_jax.distributions` (``logits [N, A]`` or ``mean, log_std [N, d]``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from gsl_jax.distributions import CategoricalParams, GaussianParams
from gsl_jax.losses import policy_loss


def kl_divergence(
    old: CategoricalParams | GaussianParams, new: CategoricalParams | GaussianParams
) -> jax.Array:
    """``KL(old || new)`` per row, ``[N]``: the behaviour-cloning distance of the auxiliary phase
    (the reference's ``kl_divergence(oldpd, pd)``).

    Categorical: ``sum_a p_old(a) (log p_old(a) - log p_new(a))``. Diagonal Gaussian: the closed
    form ``sum_d log(s_new / s_old) + (s_old^2 + (m_old - m_new)^2) / (2 s_new^2) - 1/2``.
    """
    if isinstance(old, CategoricalParams):
        log_old = jax.nn.log_softmax(old.logits)
        log_new = jax.nn.log_softmax(new.logits)
        return jnp.sum(jnp.exp(log_old) * (log_old - log_new), axis=-1)
    var_old, var_new = jnp.exp(2 * old.log_std), jnp.exp(2 * new.log_std)
    per_dim = (
        new.log_std - old.log_std + (var_old + (old.mean - new.mean) ** 2) / (2 * var_new) - 0.5
    )
    return jnp.sum(per_dim, axis=-1)


def policy_phase_loss(
    log_prob: jax.Array,
    entropy: jax.Array,
    value: jax.Array,
    old_log_prob: jax.Array,
    advantages: jax.Array,
    returns: jax.Array,
    *,
    clip_eps: float,
    ent_coef: float,
    vf_coef: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """One policy-phase minibatch, ``L_clip - ent_coef H + vf_coef mean((V - V_targ)^2)``, on
    ``[N]`` arrays (``advantages`` already normalised over the full batch).

    The value term is the reference's: unclipped and without a 1/2 (``vfcoef * mse``). With
    separate networks the policy terms reach only the policy network and the value term only
    the value network, so one step on the sum is the reference's policy and value epoch.
    """
    chex.assert_equal_shape([log_prob, entropy, value, old_log_prob, advantages, returns])
    pg, clip_fraction = policy_loss(log_prob, old_log_prob, advantages, clip_eps)
    ent = jnp.mean(entropy)
    vf = jnp.mean((value - returns) ** 2)
    total = pg - ent_coef * ent + vf_coef * vf
    metrics = {"policy_loss": pg, "value_loss": vf, "entropy": ent, "clip_fraction": clip_fraction}
    return total, metrics


def aux_loss(
    old_dist: CategoricalParams | GaussianParams,
    dist: CategoricalParams | GaussianParams,
    aux_value: jax.Array,
    value: jax.Array,
    returns: jax.Array,
    *,
    beta_clone: float,
    vf_true_weight: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The auxiliary phase's joint loss on ``[N]`` rows (the reference's ``aux_train``):

    ``beta_clone * mean(KL(old || new)) + 0.5 mean((V_aux - V_targ)^2)
    + vf_true_weight * 0.5 mean((V - V_targ)^2)``,

    with ``old_dist`` the policy before the auxiliary phase (no gradient), ``aux_value`` the
    policy network's auxiliary head, ``value`` the value network and ``returns`` the stored
    GAE targets ``V_targ`` of the rollouts.
    """
    chex.assert_equal_shape([aux_value, value, returns])
    old_dist = jax.tree.map(jax.lax.stop_gradient, old_dist)
    kl = jnp.mean(kl_divergence(old_dist, dist))
    vf_aux = 0.5 * jnp.mean((aux_value - returns) ** 2)
    vf_true = 0.5 * jnp.mean((value - returns) ** 2)
    total = beta_clone * kl + vf_aux + vf_true_weight * vf_true
    return total, {"aux_kl": kl, "aux_value_loss": vf_aux, "aux_true_value_loss": vf_true}

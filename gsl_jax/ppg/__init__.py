"""PPG, Phasic Policy Gradient (Cobbe et al., 2021), in JAX, after openai/phasic-policy-gradient.

PPG alternates a *policy phase* of ``n_pi`` PPO iterations -- each a rollout and one epoch that
trains a policy network and a separate value network -- with an *auxiliary phase* of
``aux_epochs`` epochs over all of the phase's rollouts, which trains the value network and the
policy network's auxiliary value head on the stored value targets while a behaviour-cloning KL
(weight ``beta_clone``) holds the policy to what it was before the auxiliary phase.

Modules: :mod:`~gsl_jax.ppg.config` (:class:`PPGConfig`, and which
:class:`~gsl_jax.ppo.PPOConfig` fields PPG reads), :mod:`~gsl_jax.ppg.losses` (the two phases'
losses), :mod:`~gsl_jax.ppg.learner` (state with the fixed-shape rollout buffer, the policy
iteration, the auxiliary phase), :mod:`~gsl_jax.ppg.chunk` (a vmapped population and its compiled
chunk, the contract of :mod:`gsl_jax.population`). The networks are
:class:`gsl_jax.networks.PhasicActorCritic`.

Faithful to the reference: separate networks (``arch="dual"``), one Adam (eps 1e-8, no gradient
clipping) for the policy phase and another for the auxiliary phase, both persistent across
phases; advantages normalised once over the full ``[T * B]`` batch; the unclipped value loss
``vf_coef * mse`` in the policy phase; auxiliary minibatches of ``aux_minibatch_envs`` whole
rollout rows (one env's ``T`` steps of one iteration) drawn across all iterations of the phase;
the cloning target computed once, as the auxiliary phase begins; the heads' normed
initialisation (norm 0.1, zero bias).

Where we differ: the torsos keep gsl_jax's orthogonal initialisation (the reference normalises
every conv and dense layer too); the reference's IMPALA encoder is ours (:class:`~gsl_jax.networks.
ImpalaTorso`, dense 256); E_pi must equal E_V (the reference's default; unequal epochs there use
two optimisers); the policy phase's length is counted in iterations inside the compiled chunk, so
a chunk may end inside a phase (the buffer and counter carry over, checkpoints included); rollouts
are stored on the device, not copied to the host; the loop is always ``lax.scan`` (no
``"unroll"`` form for CNNs on CPU); the learning-rate schedule of ``PPOConfig`` is not applied.

GSL with PPG (:attr:`gsl_jax.gsl.GSLConfig.learner`): the DAPG term joins the policy loss in the
policy phase only. The auxiliary phase then clones the pre-phase policy, so it neither adds to nor
undoes what DAPG taught in that phase: it holds the policy where the policy phase (DAPG included)
left it, while the shared features of the auxiliary value head may drift under the cloning
constraint.
"""

from gsl_jax.ppg.chunk import clone_population, gsl_network, init_population, make_chunk
from gsl_jax.ppg.config import PPGConfig, check_pair
from gsl_jax.ppg.learner import PPGState, RolloutBuffer, make_aux_phase, make_policy_iteration
from gsl_jax.ppg.losses import aux_loss, kl_divergence, policy_phase_loss

__all__ = [
    "PPGConfig",
    "PPGState",
    "RolloutBuffer",
    "aux_loss",
    "check_pair",
    "clone_population",
    "gsl_network",
    "init_population",
    "kl_divergence",
    "make_aux_phase",
    "make_chunk",
    "make_policy_iteration",
    "policy_phase_loss",
]

"""gsl_jax: Generalist-Specialist Learning (Jia et al., ICML 2022) in JAX.

The pieces, one module each: environments with variations (:mod:`gsl_jax.envs`), networks
(:mod:`gsl_jax.networks`), pure losses (:mod:`gsl_jax.losses`), the fused PPO update
(:mod:`gsl_jax.ppo`), populations of learners under ``vmap`` (:mod:`gsl_jax.population`) and the
host loop (:mod:`gsl_jax.training`).
"""

import os as _os

# XLA:CPU (jax 0.10) can deadlock -- every thread parked, the computation never finishing -- when
# running the vmapped PPO update of a population (P >= 2, 64-unit MLPs) under its
# concurrency-optimised scheduler; measured here: 6 of 6 such runs hung, 0 of 5 with it off.
# Turn it off unless the user chose a setting. This must happen before the CPU backend starts,
# i.e. before the first JAX computation of the process.
_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
if _FLAG not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + f" {_FLAG}=false").strip()

from gsl_jax.envs.core import (
    Box,
    Discrete,
    Environment,
    EpisodeStats,
    VariationSet,
    VecEnv,
    stack_variation_sets,
)
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.population import clone_learner, init_population, make_chunk, shard_population
from gsl_jax.ppo import LearnerState, PPOConfig, init_learner, make_update
from gsl_jax.training import TrainResult, train_ppo

__version__ = "0.1.0"

__all__ = [
    "Box",
    "Discrete",
    "Environment",
    "EpisodeStats",
    "LearnerState",
    "NetworkConfig",
    "PPOConfig",
    "TrainResult",
    "VariationSet",
    "VecEnv",
    "clone_learner",
    "init_learner",
    "init_population",
    "make_chunk",
    "make_network",
    "make_update",
    "shard_population",
    "stack_variation_sets",
    "train_ppo",
]

"""Procgen *heist* in JAX."""

from gsl_jax.envs.procgen.heist.game import *  # noqa: F403  (temporary, during the move)
from gsl_jax.envs.procgen.heist.game import Heist, HeistState  # noqa: F401

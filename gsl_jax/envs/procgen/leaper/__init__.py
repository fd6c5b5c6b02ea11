"""Procgen *leaper* in JAX: the rules (:mod:`.game`), levels and traffic (:mod:`.levels`),
observations (:mod:`.observe`) and our own art (:mod:`.art`)."""

from gsl_jax.envs.procgen.leaper.art import ground_patterns, palettes
from gsl_jax.envs.procgen.leaper.game import Leaper
from gsl_jax.envs.procgen.leaper.levels import (
    FINISH,
    GOAL_REWARD,
    GRASS,
    ROAD,
    SLOTS,
    TIMEOUT,
    WATER,
    WORLD,
    LeaperState,
)
from gsl_jax.envs.procgen.leaper.observe import AGENT_FEATURES, ROW_FEATURES, ROW_OFFSETS

__all__ = [
    "AGENT_FEATURES",
    "FINISH",
    "GOAL_REWARD",
    "GRASS",
    "ROAD",
    "ROW_FEATURES",
    "ROW_OFFSETS",
    "SLOTS",
    "TIMEOUT",
    "WATER",
    "WORLD",
    "Leaper",
    "LeaperState",
    "ground_patterns",
    "palettes",
]

"""Procgen *chaser* in JAX: the environment (:mod:`.game`), the state and level generator
(:mod:`.levels`), the rules (:mod:`.rules`), the frame and compact view (:mod:`.observe`) and our
own art (:mod:`.art`)."""

from gsl_jax.envs.procgen.chaser.art import chaser_atlas
from gsl_jax.envs.procgen.chaser.game import TIMEOUT, Chaser
from gsl_jax.envs.procgen.chaser.levels import (
    EAT_TIMEOUT,
    EGG_TIMEOUT,
    FLOOR,
    NUM_ENEMIES,
    NUM_LARGE_ORBS,
    ORB,
    UNIT,
    WALL,
    WORLD_DIM,
    ChaserState,
)
from gsl_jax.envs.procgen.chaser.observe import SYMBOLIC_CHANNELS, SYMBOLIC_EXTRAS
from gsl_jax.envs.procgen.chaser.rules import COMPLETION_BONUS, ORB_REWARD

__all__ = [
    "COMPLETION_BONUS",
    "EAT_TIMEOUT",
    "EGG_TIMEOUT",
    "FLOOR",
    "NUM_ENEMIES",
    "NUM_LARGE_ORBS",
    "ORB",
    "ORB_REWARD",
    "SYMBOLIC_CHANNELS",
    "SYMBOLIC_EXTRAS",
    "TIMEOUT",
    "UNIT",
    "WALL",
    "WORLD_DIM",
    "Chaser",
    "ChaserState",
    "chaser_atlas",
]

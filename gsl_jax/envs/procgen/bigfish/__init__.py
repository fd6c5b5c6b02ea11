"""Procgen *bigfish* in JAX: the rules (:mod:`.game`), the constants, state and level starts
(:mod:`.levels`), the observations (:mod:`.observe`) and our own art (:mod:`.art`)."""

from gsl_jax.envs.procgen.bigfish.art import (
    AGENT_ENTRY,
    EYE_ENTRY,
    FISH_ENTRY,
    NUM_THEMES,
    background_pattern,
    palettes,
)
from gsl_jax.envs.procgen.bigfish.game import BigFish
from gsl_jax.envs.procgen.bigfish.levels import (
    FISH_ASPECT,
    FISH_QUOTA,
    MAX_FISH,
    START_R,
    TIMEOUT,
    WORLD,
    BigFishState,
)
from gsl_jax.envs.procgen.bigfish.observe import AGENT_FEATURES, FISH_FEATURES

__all__ = [
    "AGENT_ENTRY",
    "AGENT_FEATURES",
    "EYE_ENTRY",
    "FISH_ASPECT",
    "FISH_ENTRY",
    "FISH_FEATURES",
    "FISH_QUOTA",
    "MAX_FISH",
    "NUM_THEMES",
    "START_R",
    "TIMEOUT",
    "WORLD",
    "BigFish",
    "BigFishState",
    "background_pattern",
    "palettes",
]

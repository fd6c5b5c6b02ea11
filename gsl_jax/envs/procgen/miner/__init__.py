"""Procgen *miner* in JAX: the environment (:mod:`.game`), its level generator and rules as pure
functions (:mod:`.rules`) and our own art (:mod:`.art`)."""

from gsl_jax.envs.procgen.miner.art import miner_atlas
from gsl_jax.envs.procgen.miner.game import (
    COMPLETION_BONUS,
    DIAMOND_REWARD,
    SYMBOLIC_CHANNELS,
    TIMEOUT,
    WORLD_DIM,
    Miner,
    MinerState,
)
from gsl_jax.envs.procgen.miner.rules import (
    BOULDER,
    DIAMOND,
    DIRT,
    MOVES,
    MOVING_BOULDER,
    MOVING_DIAMOND,
    OUT,
    SPACE,
    generate_level,
    object_counts,
    settle,
)

__all__ = [
    "BOULDER",
    "COMPLETION_BONUS",
    "DIAMOND",
    "DIAMOND_REWARD",
    "DIRT",
    "MOVES",
    "MOVING_BOULDER",
    "MOVING_DIAMOND",
    "OUT",
    "SPACE",
    "SYMBOLIC_CHANNELS",
    "TIMEOUT",
    "WORLD_DIM",
    "Miner",
    "MinerState",
    "generate_level",
    "miner_atlas",
    "object_counts",
    "settle",
]

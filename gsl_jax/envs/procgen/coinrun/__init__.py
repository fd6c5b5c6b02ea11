"""Procgen *coinrun* in JAX: the class and rules (:mod:`.game`), the levels and their generator
(:mod:`.levels`), our own art (:mod:`.art`) and the observations (:mod:`.observe`)."""

from gsl_jax.envs.procgen.coinrun.art import AGENTS, BACKGROUNDS, GROUNDS, NUM_THEMES
from gsl_jax.envs.procgen.coinrun.game import REWARD, TIMEOUT, CoinRun
from gsl_jax.envs.procgen.coinrun.levels import (
    AGENT,
    FULL,
    MAX_DY,
    PAD,
    WORLD,
    CoinRunState,
    Columns,
    generate_level,
)
from gsl_jax.envs.procgen.coinrun.observe import NUM_CHANNELS

__all__ = [
    "AGENT",
    "AGENTS",
    "BACKGROUNDS",
    "FULL",
    "GROUNDS",
    "MAX_DY",
    "NUM_CHANNELS",
    "NUM_THEMES",
    "PAD",
    "REWARD",
    "TIMEOUT",
    "WORLD",
    "CoinRun",
    "CoinRunState",
    "Columns",
    "generate_level",
]

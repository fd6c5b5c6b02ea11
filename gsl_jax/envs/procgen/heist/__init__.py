"""Procgen *heist* in JAX: collect coloured keys to open the matching locks and steal the gem.

The rules and the environment (:mod:`.game`), the state and level generator (:mod:`.levels`,
with its grid building blocks in :mod:`.mazegen`), the frame and compact view (:mod:`.observe`)
and our own art (:mod:`.art`).
"""

from gsl_jax.envs.procgen.heist.art import (
    AGENT_RGB,
    FLOOR,
    GEM,
    KEY,
    KEY_RGB,
    LOCK,
    NUM_COLOURS,
    WALL,
    agent_sprites,
    heist_atlas,
)
from gsl_jax.envs.procgen.heist.game import MAXSPEED, MIXRATE, REWARD, TIMEOUT, TOP_SPEED, Heist
from gsl_jax.envs.procgen.heist.levels import (
    AGENT_R,
    GEM_RY,
    ITEM_RX,
    KEY_RY,
    LOCK_R,
    WORLD_DIM,
    HeistState,
)
from gsl_jax.envs.procgen.heist.observe import SYMBOLIC_CHANNELS

__all__ = [
    "AGENT_R",
    "AGENT_RGB",
    "FLOOR",
    "GEM",
    "GEM_RY",
    "ITEM_RX",
    "KEY",
    "KEY_RGB",
    "KEY_RY",
    "LOCK",
    "LOCK_R",
    "MAXSPEED",
    "MIXRATE",
    "NUM_COLOURS",
    "REWARD",
    "SYMBOLIC_CHANNELS",
    "TIMEOUT",
    "TOP_SPEED",
    "WALL",
    "WORLD_DIM",
    "Heist",
    "HeistState",
    "agent_sprites",
    "heist_atlas",
]

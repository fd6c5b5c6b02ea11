"""Procgen *dodgeball* in JAX: the environment (:mod:`.game`), the constants, state and level
generator (:mod:`.levels`), the rules (:mod:`.rules`), the frame and compact view
(:mod:`.observe`) and our own art (:mod:`.art`)."""

from gsl_jax.envs.procgen.dodgeball.game import TIMEOUT, Dodgeball
from gsl_jax.envs.procgen.dodgeball.levels import (
    AGENT_FIRE_DELAY,
    BALL_EXPIRE,
    COMPLETION_BONUS,
    ENEMY_FIRE_DELAY,
    ENEMY_REWARD,
    ENEMY_VEL,
    MAX_BALLS,
    MAX_ENEMIES,
    MAX_ENEMY_BALLS,
    MAX_WALLS,
    MODES,
    WORLD,
    DodgeballState,
)
from gsl_jax.envs.procgen.dodgeball.observe import SYMBOLIC_SIZE

__all__ = [
    "AGENT_FIRE_DELAY",
    "BALL_EXPIRE",
    "COMPLETION_BONUS",
    "ENEMY_FIRE_DELAY",
    "ENEMY_REWARD",
    "ENEMY_VEL",
    "MAX_BALLS",
    "MAX_ENEMIES",
    "MAX_ENEMY_BALLS",
    "MAX_WALLS",
    "MODES",
    "SYMBOLIC_SIZE",
    "TIMEOUT",
    "WORLD",
    "Dodgeball",
    "DodgeballState",
]

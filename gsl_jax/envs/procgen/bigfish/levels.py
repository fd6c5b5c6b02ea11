"""bigfish's constants (from openai/procgen ``src/games/bigfish.cpp`` and
``basic-abstract-game.cpp``), its state and the start of a level.

A level is a function of its seed: :func:`start_state` draws the theme and the player's start
from ``level_key(seed, salt)`` and stores a key derived from it, the *episode key*, in the state
(``rng``, raw uint32 key data, constant through the episode). Step ``t`` draws its spawn from
``fold_in(episode key, t)`` (:mod:`.game`), as the C++ game draws its fish from the level's
``rand_gen`` (seeded with the level seed at reset). In both, what the game draws does not depend
on the actions, so the fish schedule of a level is fixed by its seed. Our generator is
``jax.random``, not Procgen's mt19937, so level ``s`` here is not Procgen's level ``s``; the
distributions are the same.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.bigfish.art import NUM_THEMES
from gsl_jax.envs.procgen.grid import level_key

#: World size (bigfish.cpp ``main_width = main_height = 20``).
WORLD = 20.0
#: Player start radius per distribution mode (bigfish.cpp ``start_r``). Procgen's bigfish has
#: no extreme / memory / exploration modes.
START_R = {"easy": 1.0, "hard": 0.5}
#: Fish radius range (bigfish.cpp ``FISH_MIN_R``, ``FISH_MAX_R``).
FISH_MIN_R, FISH_MAX_R = 0.25, 2.0
#: Fish eaten to complete the level (bigfish.cpp ``FISH_QUOTA``).
FISH_QUOTA = 30
#: Rewards (bigfish.cpp ``POSITIVE_REWARD``, ``COMPLETION_BONUS``).
EAT_REWARD, COMPLETION_REWARD = 1.0, 10.0
#: bigfish.cpp sets ``timeout = 6000`` (game.cpp's default is 1000).
TIMEOUT = 6000
#: Probability of a fish entering per step (bigfish.cpp ``rand_gen.randn(10) == 1``).
SPAWN_PROB = 0.1
#: Fish speed ``0.15 + 0.25 u`` (bigfish.cpp).
FISH_MIN_SPEED, FISH_SPEED_RANGE = 0.15, 0.25
#: Width / height of the three fish sprites (fishTile_074, _078, _080: 78x46, 112x88, 108x58);
#: ``match_aspect_ratio`` sets a fish's ``ry = rx / aspect``. A fish's look indexes this table.
FISH_ASPECT = np.array([78 / 46, 112 / 88, 108 / 58], np.float32)
#: BasicAbstractGame draws the start x for an agent of radius 0.4 (``a_r``).
START_X_RADIUS = 0.4
#: BasicAbstractGame: mixrate, maxspeed (``update_agent_velocity``).
MIXRATE, MAXSPEED = 0.5, 0.5
#: Default fish capacity.
MAX_FISH = 32

_SALT = 0x42494746  # "BIGF": keeps bigfish levels independent of other games' levels


@struct.dataclass
class BigFishState:
    """State of one bigfish episode (world units, y up).

    Attributes:
        x, y: float32 ``[]`` player centre.
        vx, vy: float32 ``[]`` player velocity.
        r: float32 ``[]`` player half-size (``rx = ry``).
        facing_right: bool ``[]``.
        fish: :class:`~gsl_jax.envs.procgen.entities.EntityPool` of ``max_fish`` slots; ``kind``
            is the fish's look (0-2).
        eaten: int32 ``[]`` fish eaten this episode.
        rng: uint32 key data of the episode key (constant; see the module docstring).
        theme: int32 ``[]`` background theme of the level.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    x: jax.Array
    y: jax.Array
    vx: jax.Array
    vy: jax.Array
    r: jax.Array
    facing_right: jax.Array
    fish: ent.EntityPool
    eaten: jax.Array
    rng: jax.Array
    theme: jax.Array
    time: jax.Array
    variation: jax.Array


def start_state(seed: jax.Array, start_r: float, max_fish: int) -> BigFishState:
    """The start of level ``seed`` (int32 ``[]``) for a player of radius ``start_r`` and a pool
    of ``max_fish`` fish slots: the player at rest facing right at ``y = 1 + r``, no fish."""
    key = level_key(seed, _SALT)
    u = jax.random.uniform(key, (2,))  # one draw for the level, one hash for both numbers
    theme = jnp.minimum((u[0] * NUM_THEMES).astype(jnp.int32), NUM_THEMES - 1)
    # BasicAbstractGame::game_reset: x = rand01 * (W - 2 a_r) + a_r with a_r = 0.4.
    x = START_X_RADIUS + u[1] * (WORLD - 2 * START_X_RADIUS)
    r = jnp.float32(start_r)
    zero = jnp.zeros((), jnp.float32)
    return BigFishState(
        x=x.astype(jnp.float32),
        y=1.0 + r,  # bigfish.cpp: agent->y = 1 + agent->ry
        vx=zero,
        vy=zero,
        r=r,
        facing_right=jnp.ones((), bool),
        fish=ent.EntityPool.empty(max_fish),
        eaten=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(jax.random.fold_in(key, 1)),
        theme=theme.astype(jnp.int32),
        time=jnp.zeros((), jnp.int32),
        variation=jnp.asarray(seed, jnp.int32),
    )

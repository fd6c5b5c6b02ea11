"""Procgen *miner* in JAX: a robot digs through dirt for diamonds under falling boulders, then
leaves through the exit.

Rules (from openai/procgen ``src/games/miner.cpp``, ``basic-abstract-game.cpp`` and ``game.cpp``;
our own code, pure functions in :mod:`.rules`):

* World: ``W x W`` cells, ``W = 10`` (easy) or ``20`` (hard), drawn whole over the 64x64 frame.
  A level holds ``W^2 * 12 / 400`` diamonds (3 easy, 12 hard) and ``W^2 * 80 / 400`` boulders
  (20 / 80) on distinct uniform cells, dirt everywhere else; the agent's start cell is empty and
  boulders next to it (8-neighbourhood) turn to dirt. The exit sits on a uniform former-dirt cell
  whose upper neighbour is dirt or the top edge (:func:`~.rules.generate_level`).
* Actions (of the 15, :data:`~gsl_jax.envs.procgen.grid.ACTION_NAMES`): the LEFT combos (0, 1, 2)
  move one cell left, the RIGHT combos (6, 7, 8) one cell right (a diagonal keeps only its
  horizontal part), 3 moves down, 5 up, and NOOP (4) and the special buttons 9-14 stay. Boulders
  (resting or falling) and the world's edge block the agent; dirt and diamonds do not. A
  horizontal move blocked by a resting boulder pushes it when the cell beyond is empty (and
  inside the world); the agent steps into its place.
* Standing on dirt digs it out; standing on a resting diamond collects it: reward 1.
* Then every boulder and diamond is updated once, cells in order from the bottom-left
  (:func:`~.rules.settle`): it falls into an empty cell below (not the agent's), rolls off another
  boulder or diamond sideways into an empty cell whose lower neighbour is empty, or rests. A
  *falling* object landing on the agent's cell ends the episode (death, no reward).
* Reaching the exit once no diamond is left (as counted at the end of the previous step) gives
  reward 10, ends the episode and completes the level (``info["success"]``). As in miner.cpp the
  count is not reset with the level: the first step of an episode reads the count the previous
  episode's last step left (0 after a normal completion), and an env's first episode reads 0, so
  there a first move onto the exit completes the level at once (:meth:`Miner.next_episode`).
* The episode also ends after 1000 steps (game.cpp's default time limit), ``info["truncated"]``.

Differences from Procgen: levels come from ``jax.random`` rather than mt19937, so level ``s``
here is not Procgen's level ``s`` (the distribution is the same procedure). Procgen's "memory"
mode (35x35, agent-centred view) is not implemented.

Observations (``obs_mode``):

* ``"pixels"`` (default): uint8 ``[64, 64, 3]``, the whole world (cells of ``64 / W`` px) in our
  own art; the backdrop behind empty cells has one of eight colour themes per level, as Procgen
  draws a background picture per level.
* ``"symbolic"``: float32 ``[2r + 1, 2r + 1, 7]``, an egocentric window centred on the agent (rows
  point down the frame) with channels (dirt, boulder, diamond, falling, exit, outside the world,
  exit open). "Falling" marks the moving boulders and diamonds (the ones that kill); "exit open"
  is 1 everywhere while the count the exit reads is 0 (once no diamond is left, and on the first
  step of an episode that inherits a 0, see above). The default radius ``r = W - 1`` (window
  19x19 easy, 39x39 hard) shows the whole world from any position.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Info
from gsl_jax.envs.procgen.grid import NUM_ACTIONS, egocentric_window, level_key
from gsl_jax.envs.procgen.miner.art import (
    BACKDROP,
    BOULDER_TILE,
    DIAMOND_TILE,
    DIRT_TILE,
    EXIT_TILE,
    ROBOT_LEFT,
    ROBOT_RIGHT,
    miner_atlas,
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
    dig,
    generate_level,
    move_agent,
    push,
    settle,
)
from gsl_jax.envs.procgen.port import ProcgenPort, check_view_radius
from gsl_jax.envs.procgen.render import TileRenderer

#: World size per distribution mode (miner.cpp ``choose_world_dim``).
WORLD_DIM = {"easy": 10, "hard": 20}
#: Step limit: miner keeps game.cpp's default.
TIMEOUT = 1000
#: Reward per diamond (miner.cpp ``DIAMOND_REWARD``) and for leaving (``COMPLETION_BONUS``).
DIAMOND_REWARD = 1.0
COMPLETION_BONUS = 10.0
#: Channels of the symbolic observation, in order.
SYMBOLIC_CHANNELS = ("dirt", "boulder", "diamond", "falling", "exit", "outside", "exit_open")

_SALT = 0x4D494E45  # "MINE": keeps miner levels independent of other games' levels

# Atlas tile of each grid object code (SPACE .. OUT).
_TILE_OF = np.array(
    [BACKDROP, BOULDER_TILE, DIAMOND_TILE, BOULDER_TILE, DIAMOND_TILE, DIRT_TILE, BACKDROP],
    np.uint8,
)
assert [SPACE, BOULDER, DIAMOND, MOVING_BOULDER, MOVING_DIAMOND, DIRT, OUT] == list(range(7))


@struct.dataclass
class MinerState:
    """State of one miner episode.

    Attributes:
        grid: uint8 ``[W * W]`` object codes (:mod:`.rules`), cell ``(x, y)`` at ``y * W + x``
            with ``y`` up.
        agent: int32 ``[2]`` the agent's cell ``(x, y)``.
        exit: int32 ``[]`` the exit's cell index.
        facing_left: bool ``[]``; the sprite turns with the last requested horizontal move.
        diamonds_left: int32 ``[]`` diamonds as counted at the end of the previous step (the
            exit opens when it is 0); at an episode's start, the count the previous episode's
            last step left (:meth:`Miner.next_episode`), 0 in an env's first episode.
        theme: int32 ``[]`` colour theme of the level.
        time: int32 ``[]`` steps taken this episode.
        variation: int32 ``[]`` level seed.
    """

    grid: jax.Array
    agent: jax.Array
    exit: jax.Array
    facing_left: jax.Array
    diamonds_left: jax.Array
    theme: jax.Array
    time: jax.Array
    variation: jax.Array


class Miner(ProcgenPort):
    """Procgen miner (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (10x10 world) or ``"hard"`` (20x20).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[2r + 1, 2r + 1, 7]``, :data:`SYMBOLIC_CHANNELS`, centred on the agent).
        timeout: episode step limit (Procgen's 1000 by default).
        view_radius: ``r`` of the symbolic window, a positive int; default ``W - 1`` (the whole
            world is always in view). Ignored in pixel mode.
    """

    game = "miner"
    modes = tuple(sorted(WORLD_DIM))
    default_timeout = TIMEOUT
    option_defaults = {"view_radius": None}

    def setup(self, view_radius: int | None) -> None:
        self.world_dim = WORLD_DIM[self.distribution_mode]
        self.view_radius = check_view_radius(view_radius, self.world_dim)
        self.renderer = TileRenderer(self.world_dim, miner_atlas())

    def symbolic_space(self) -> Box:
        side = 2 * self.view_radius + 1
        return Box((side, side, len(SYMBOLIC_CHANNELS)), 0.0, 1.0, jnp.float32)

    def generate(self, seed: jax.Array) -> MinerState:
        """Build level ``seed`` (int32 ``[]``) from the seed alone; ``time`` starts at 0.

        ``diamonds_left`` starts at 0, miner.cpp's ``diamonds_remaining`` in a fresh game (an
        env's first episode); auto-resets replace it by the previous episode's count."""
        k_level, k_theme = jax.random.split(level_key(seed, _SALT))
        grid, agent, exit_cell = generate_level(k_level, self.world_dim)
        theme = jax.random.randint(k_theme, (), 0, self.renderer.atlas.num_themes)
        return MinerState(
            grid=grid,
            agent=agent,
            exit=exit_cell,
            facing_left=jnp.zeros((), jnp.bool_),
            diamonds_left=jnp.zeros((), jnp.int32),
            theme=theme.astype(jnp.int32),
            time=jnp.zeros((), jnp.int32),
            variation=jnp.asarray(seed, jnp.int32),
        )

    def next_episode(self, last: MinerState, start: MinerState) -> MinerState:
        """miner.cpp keeps ``diamonds_remaining`` across a reset: the new episode's first step
        reads the count ``last``'s final step left (the old level's, 0 after a normal
        completion), so a first move onto the exit may complete the new level at once."""
        return start.replace(diamonds_left=last.diamonds_left)

    def transition(
        self, key: jax.Array, state: MinerState, action: jax.Array
    ) -> tuple[MinerState, jax.Array, jax.Array, Info]:
        del key  # miner has no randomness after generation (it spawns no enemies)
        w = self.world_dim
        dx = jnp.asarray(MOVES)[jnp.clip(action, 0, NUM_ACTIONS - 1), 0]
        agent, blocked = move_agent(state.grid, state.agent, action, w)
        # The exit check runs in BasicAbstractGame::game_step, before the push and the update.
        escaped = (agent[1] * w + agent[0] == state.exit) & (state.diamonds_left == 0)
        grid, agent = push(state.grid, agent, dx, blocked, w)
        grid, got_diamond = dig(grid, agent, w)
        grid, crushed, diamonds = settle(grid, agent[1] * w + agent[0], w)
        reward = DIAMOND_REWARD * got_diamond + COMPLETION_BONUS * escaped
        time = state.time + 1
        done, info = self.end_of_step(time, escaped, escaped | crushed, state.variation)
        facing_left = jnp.where(dx < 0, True, jnp.where(dx > 0, False, state.facing_left))
        state = state.replace(
            grid=grid, agent=agent, facing_left=facing_left, diamonds_left=diamonds, time=time
        )
        return state, jnp.asarray(reward, jnp.float32), done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def _image_codes(self, state: MinerState) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(codes [W, W], agent_row, agent_col)`` with row 0 at the top of the frame."""
        w = self.world_dim
        codes = state.grid.reshape(w, w)[::-1]
        return codes, w - 1 - state.agent[1], state.agent[0]

    def _exit_mask(self, state: MinerState) -> jax.Array:
        """bool ``[W, W]`` (rows down): the exit's cell."""
        w = self.world_dim
        return (jnp.arange(w * w) == state.exit).reshape(w, w)[::-1]

    def render(self, state: MinerState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: backdrop, the exit (under any object on its cell), dirt,
        boulders and diamonds, and the robot on top."""
        codes, row, col = self._image_codes(state)
        w = self.world_dim
        tiles = jnp.asarray(_TILE_OF)[codes]
        tiles = jnp.where(self._exit_mask(state) & (codes == SPACE), EXIT_TILE, tiles)
        robot = jnp.where(state.facing_left, ROBOT_LEFT, ROBOT_RIGHT).astype(jnp.uint8)
        flat = jnp.arange(w * w, dtype=jnp.int32).reshape(w, w)
        tiles = jnp.where(flat == row * w + col, robot, tiles)
        return self.renderer.render(tiles, state.theme)

    def symbolic(self, state: MinerState) -> jax.Array:
        """float32 ``[2r + 1, 2r + 1, 7]`` (:data:`SYMBOLIC_CHANNELS`) around the agent."""
        codes, row, col = self._image_codes(state)
        r = self.view_radius
        window = egocentric_window(codes, row, col, r, OUT)
        exit_window = egocentric_window(self._exit_mask(state), row, col, r, False)
        open_plane = jnp.broadcast_to(state.diamonds_left == 0, window.shape)
        channels = [
            window == DIRT,
            (window == BOULDER) | (window == MOVING_BOULDER),
            (window == DIAMOND) | (window == MOVING_DIAMOND),
            (window == MOVING_BOULDER) | (window == MOVING_DIAMOND),
            exit_window,
            window == OUT,
            open_plane,
        ]
        return jnp.stack(channels, axis=-1).astype(jnp.float32)

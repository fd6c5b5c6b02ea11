"""Procgen *bigfish* in JAX: the player fish eats smaller fish, grows, and dies when it touches a
bigger one; the level is complete after 30 fish.

Rules (from openai/procgen ``src/games/bigfish.cpp``, ``basic-abstract-game.cpp``,
``entity.cpp`` and ``game.cpp``; our own code):

* World: ``20 x 20`` world units, no walls; the outside of the world blocks the player. The whole
  world is drawn (bigfish turns ``center_agent`` off), 3.2 pixels per unit.
* The player is a box of half-size ``r`` (``rx = ry``), ``r = 1`` in easy mode and ``0.5`` in
  hard mode (the only difference between the modes). It starts at ``y = 1 + r`` and at
  ``x = 0.4 + 19.2 u`` (``u`` uniform; BasicAbstractGame draws ``x`` for a radius of 0.4 before
  bigfish sets ``r``), at rest, facing right.
* Movement (BasicAbstractGame): the 15 actions are Procgen's button combos; ``a % 9`` gives
  ``(vx, vy) = (a // 3 - 1, a % 3 - 1)`` (y up) and actions 9-14 do not move. Each step the
  velocity becomes ``0.9 (0.5 v + 0.25 action)`` (mixrate 0.5, maxspeed 0.5, decay 0.9); the
  player then moves in 4 sub-steps, x and y separately (x first when the action moves
  horizontally, y first when it moves vertically, otherwise the larger speed first, a tie broken
  by the episode RNG), blocked at the world's edges with Procgen's corner test and edge snapping
  (:func:`~gsl_jax.envs.procgen.movement.smart_step`); each velocity component keeps the fraction
  of unblocked sub-steps. The sprite faces the last horizontal action.
  A faithful quirk: a start ``x`` within 0.98 r of a side (about 6% of easy levels, 1% of hard
  ones) leaves the player partly outside the world. There Procgen's corner test blocks every
  move: a move into that side snaps the player inside (``x = r``), but a move away from it snaps
  it to ``x = 0`` (or 20), where it is stuck for the rest of the episode, as in the C++ game.
* Fish: each step, with probability 1/10, a fish of radius ``r_f = 1.75 u^1.4 + 0.25`` (in
  ``[0.25, 2]``) enters: with probability 1/2 from the left edge (centre ``x = -r_f``, moving
  right) else from the right (``x = 20 + r_f``, moving left), at centre height
  ``y = u (20 - 2 r_f)``, with speed ``0.15 + 0.25 u`` and one of three looks; its box is
  ``rx = r_f`` by ``ry = r_f / aspect`` with the look's sprite aspect ratio (78/46, 112/88,
  108/58 from the C++ assets). Fish move in a straight line at constant speed and vanish once
  entirely outside the world.
* Eating: after moving, every fish whose box overlaps the player's (strictly) is compared by
  half-width: a fish with ``rx > r`` kills the player (the episode ends, no reward); any other is
  eaten: reward 1, the player's ``r`` grows by ``(2 - r_start) / 30`` and the eaten count by 1.
* After 30 fish the episode ends with reward 10 more and the level complete
  (``info["success"]``); the maximum return is 40. Otherwise the episode ends at the timeout of
  6000 steps (bigfish.cpp; game.cpp ends it once ``cur_time >= timeout``) with
  ``info["truncated"]``.

Randomness. A level is a function of its seed: ``init_state`` draws the theme and the start from
``level_key(seed, salt)`` and stores a key derived from it, the *episode key*, in the state
(``rng``, raw uint32 key data, constant through the episode). Step ``t`` draws its spawn from
``fold_in(episode key, t)``, as the C++ game draws its fish from the level's ``rand_gen`` (seeded
with the level seed at reset). In both, what the game draws does not depend on the actions, so
the fish schedule of a level is fixed by its seed. The key passed to
:meth:`BigFish.transition` is unused: the same seed and the same actions always give the same
episode, and ``deterministic_reset = True`` lets :meth:`~gsl_jax.envs.core.VecEnv.level_bank`
build start states once. Our generator is ``jax.random``, not Procgen's mt19937, so level ``s``
here is not Procgen's level ``s``; the distributions are the same.

Differences from the C++ game (all rare or invisible to the agent):

* At most ``max_fish`` (default 32) fish live at once; a spawn into a full pool is dropped. The
  number on screen is about Poisson with mean 9 (22 was the largest seen in 1.2M simulated
  steps), so this practically never happens.
* The C++ game resolves the fish touching the player one at a time, newest first, the player
  growing after each; we compare all of them with the player's size before this step's meals.
  The two differ only when, in one step, the player eats a fish and touches another whose size
  lies within one growth increment (0.033 easy) of its own.
* Fish are drawn in slot order (a new fish takes the first free slot), not in spawn order, so
  where two fish overlap either may be on top. The player is always on top, as in Procgen.
* Art: our own drawing (below) instead of Kenney's fish sprites and the 7 water backgrounds.

Observations (``obs_mode``):

* ``"pixels"`` (default): uint8 ``[64, 64, 3]``, the whole world. One of 7 water colour themes
  per level over one backdrop (gradient, light rays, sand, weeds; Procgen draws one of 7 water
  images per level). Fish are drawn as fish silhouettes
  (:func:`~gsl_jax.envs.procgen.entities.fish_profile`: lens-shaped body, forked tail) facing
  their direction of travel and filling their boxes, in one of three colours (orange, yellow,
  red) by look, with a darker back; the player is a pink fish with an eye, drawn on top.
* ``"symbolic"``: float32 ``[6 + 8 * max_fish]``: the player
  ``(x / 10 - 1, y / 10 - 1, vx / 0.5, vy / 0.5, r / 2, eaten / 30)`` followed by one row of 8
  features per fish slot, the slots *sorted by distance* to the player (nearest first, empty
  slots last and all zero): ``(alive, dx / 10, dy / 10, vx / 0.4, rx / 2, ry / 2, bigger,
  (rx - r) / 2)`` with ``(dx, dy)`` the fish's centre relative to the player's and ``bigger``
  1 where the fish would kill the player. Every entry lies in ``[-3, 3]``.

Speed (``VecEnv(BigFish(), 256)``, random actions, jitted ``lax.scan`` of 100 steps, best of 5,
on the 2-core CPU while other jobs kept its load average near 10, so absolute numbers varied 2.4x
between runs): pixels 34k-82k steps/s (about 0.6x Maze easy pixels with a level bank and 1.2-1.4x
Maze without one, measured in the same runs), symbolic 139k-393k (about 2.7x Maze with a bank);
a level bank changes little, as a bigfish start is cheap to build. ``max_fish=24`` renders about
20% faster. Rendering is most of a pixel step: about 1 ms per 256 frames for the palette gather
and the player, plus 0.045 ms per fish slot. (Measured again on 2026-12-02 on a quiet 2-core
machine, after ``entities.paint_spans`` became a ``fori_loop``: 96k pixel steps/s at batch
256, from 16k with the unrolled loop; ``docs/benchmarks.md`` section 4.) Since 2026-12-03 the
fish loop stops after the last live slot, which under ``vmap`` is the batch's largest: with
random actions at batch 256 about 15 of the 32 slots (at most 20 over 2000 steps), and each
slot's spans are computed inside the loop, so a pixel step went from 111k to about 180k
steps/s on a 2-core Intel Xeon, with identical frames.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Info, StateEnvironment, make_info
from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen import movement as mv
from gsl_jax.envs.procgen.grid import NUM_ACTIONS, action_velocity, level_key
from gsl_jax.envs.procgen.options import check_port_options
from gsl_jax.envs.procgen.render import FRAME_SIZE

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
#: ``match_aspect_ratio`` sets a fish's ``ry = rx / aspect``.
FISH_ASPECT = np.array([78 / 46, 112 / 88, 108 / 58], np.float32)
#: BasicAbstractGame draws the start x for an agent of radius 0.4 (``a_r``).
START_X_RADIUS = 0.4
#: BasicAbstractGame: mixrate, maxspeed (``update_agent_velocity``).
MIXRATE, MAXSPEED = 0.5, 0.5
#: Default fish capacity.
MAX_FISH = 32
OBS_MODES = ("pixels", "symbolic")
NUM_THEMES = 7  # Procgen's water_backgrounds holds 7 images
AGENT_FEATURES, FISH_FEATURES = 6, 8

_SALT = 0x42494746  # "BIGF"

# Palette entries: 0-7 background slots, then the fish looks (belly, back), player, eye.
_BG_SLOTS = 8
_FISH_ENTRY = _BG_SLOTS  # look k: belly 8 + 2k, back 9 + 2k
_AGENT_ENTRY = _FISH_ENTRY + 2 * len(FISH_ASPECT)  # belly 14, back 15
_EYE_ENTRY = _AGENT_ENTRY + 2
_BACK_V = 0.3  # rows above this height (box units) take the darker back colour


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


# --------------------------------------------------------------------------------------------
# Art (numpy, built once)
# --------------------------------------------------------------------------------------------
def background_pattern(size: int = FRAME_SIZE) -> np.ndarray:
    """uint8 ``[size, size]`` background palette slots (0-7), the same in every theme.

    Slots: 0-3 water from light (top) to dark (bottom), 4 light ray, 5 sand, 6 pebble, 7 weed.
    Our own procedural art. One static pattern keeps the frame's base a constant (a per-level
    pattern costs a gather per pixel); the themes differ by palette.
    """
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    rng = np.random.default_rng(7)
    pat = np.minimum(rows * 4 // size, 3).astype(np.uint8)
    ray = ((cols + 0.45 * rows) % 21 < 3) & (rows < size * 0.55)
    pat[ray] = 4
    sand = rows >= size - 5 + np.round(1.5 * np.sin(cols / 5.0)).astype(int)
    pat[sand] = 5
    pat[sand & (rng.random((size, size)) < 0.18)] = 6
    for base, height in ((6, 18), (23, 12), (41, 22), (55, 14)):
        wave = np.round(1.2 * np.sin(rows / 3.0 + base)).astype(int)
        weed = (cols == base + wave) & (rows >= size - 4 - height) & ~sand
        pat[weed] = 7
    return pat


def palettes() -> np.ndarray:
    """uint8 ``[NUM_THEMES, 17, 3]`` RGB of every palette entry per theme."""
    waters = [  # (top, bottom) water colours: light lagoon ... deep sea
        ((92, 176, 214), (34, 92, 150)),
        ((70, 150, 200), (20, 60, 120)),
        ((80, 180, 180), (24, 96, 110)),
        ((60, 120, 190), (16, 40, 96)),
        ((104, 170, 150), (36, 90, 86)),
        ((90, 130, 200), (40, 50, 120)),
        ((40, 110, 150), (10, 36, 64)),
    ]
    sands = [(214, 196, 140), (196, 176, 120), (224, 206, 156), (180, 160, 110)]
    fish = [  # (belly, back) per look: orange, yellow, red
        ((246, 150, 58), (204, 100, 30)),
        ((250, 224, 92), (212, 180, 42)),
        ((228, 82, 84), (170, 40, 52)),
    ]
    agent = [(255, 140, 224), (214, 64, 176)]
    out = np.zeros((NUM_THEMES, _EYE_ENTRY + 1, 3), np.uint8)
    for t, (top, bottom) in enumerate(waters):
        top, bottom = np.array(top, float), np.array(bottom, float)
        for k in range(4):
            out[t, k] = np.round(top + (bottom - top) * k / 3)
        out[t, 4] = np.minimum(top + 28, 255)
        sand = np.array(sands[t % len(sands)], float)
        out[t, 5] = sand
        out[t, 6] = sand * 0.78
        out[t, 7] = (40, 120 + 8 * t, 60)
        for k, (belly, back) in enumerate(fish):
            out[t, _FISH_ENTRY + 2 * k] = belly
            out[t, _FISH_ENTRY + 2 * k + 1] = back
        out[t, _AGENT_ENTRY], out[t, _AGENT_ENTRY + 1] = agent
        out[t, _EYE_ENTRY] = (16, 16, 24)
    return out


# --------------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------------
class BigFish(StateEnvironment):
    """Procgen bigfish (see the module docstring for the rules, observations and differences).

    Args:
        distribution_mode: ``"easy"`` (player starts at radius 1) or ``"hard"`` (0.5).
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (float32
            ``[6 + 8 * max_fish]``).
        timeout: episode step limit (Procgen's bigfish uses 6000).
        max_fish: capacity of the fish pool.
        **options: no other options exist; any given raises ``ValueError`` naming it.
    """

    num_variations = 2**31 - 1
    action_space = Discrete(NUM_ACTIONS)
    deterministic_reset = True  # the start and the episode key depend on the seed alone

    def __init__(
        self,
        distribution_mode: str = "easy",
        obs_mode: str = "pixels",
        timeout: int = TIMEOUT,
        max_fish: int = MAX_FISH,
        **options: Any,
    ):
        check_port_options(
            "BigFish",
            options,
            ["distribution_mode", "obs_mode", "timeout", "max_fish"],
            distribution_mode,
            sorted(START_R),
            obs_mode,
            OBS_MODES,
            timeout,
        )
        if not isinstance(max_fish, int | np.integer) or isinstance(max_fish, bool):
            raise ValueError(f"max_fish: must be an int, got {max_fish!r}")
        if not 1 <= max_fish <= 64:
            raise ValueError(f"max_fish: must lie in [1, 64], got {max_fish}")
        self.distribution_mode = distribution_mode
        self.obs_mode = obs_mode
        self.timeout = int(timeout)
        self.max_episode_steps = self.timeout
        self.max_fish = int(max_fish)
        self.start_r = START_R[distribution_mode]
        self.r_inc = (FISH_MAX_R - self.start_r) / FISH_QUOTA
        self.view = ent.View.whole_world(WORLD, WORLD)
        self._blocked = mv.outside_world(WORLD, WORLD)
        self._background = background_pattern()
        self._palettes = palettes()
        if obs_mode == "pixels":
            self.observation_space = Box((FRAME_SIZE, FRAME_SIZE, 3), 0, 255, jnp.uint8)
        else:
            size = AGENT_FEATURES + FISH_FEATURES * self.max_fish
            self.observation_space = Box((size,), -3.0, 3.0, jnp.float32)

    @property
    def name(self) -> str:
        return f"bigfish-{self.distribution_mode}"

    # ----------------------------------------------------------------------------------------
    # Levels
    # ----------------------------------------------------------------------------------------
    def generate(self, seed: jax.Array) -> BigFishState:
        """The start of level ``seed`` (int32 ``[]``), from the seed alone."""
        key = level_key(seed, _SALT)
        u = jax.random.uniform(key, (2,))  # one draw for the level, one hash for both numbers
        theme = jnp.minimum((u[0] * NUM_THEMES).astype(jnp.int32), NUM_THEMES - 1)
        # BasicAbstractGame::game_reset: x = rand01 * (W - 2 a_r) + a_r with a_r = 0.4.
        x = START_X_RADIUS + u[1] * (WORLD - 2 * START_X_RADIUS)
        r = jnp.float32(self.start_r)
        zero = jnp.zeros((), jnp.float32)
        return BigFishState(
            x=x.astype(jnp.float32),
            y=1.0 + r,  # bigfish.cpp: agent->y = 1 + agent->ry
            vx=zero,
            vy=zero,
            r=r,
            facing_right=jnp.ones((), bool),
            fish=ent.EntityPool.empty(self.max_fish),
            eaten=jnp.zeros((), jnp.int32),
            rng=jax.random.key_data(jax.random.fold_in(key, 1)),
            theme=theme.astype(jnp.int32),
            time=jnp.zeros((), jnp.int32),
            variation=jnp.asarray(seed, jnp.int32),
        )

    def init_state(self, key: jax.Array, variation: jax.Array) -> BigFishState:
        """Start level ``variation``; ``key`` is unused (the level depends on the seed only)."""
        del key
        return self.generate(jnp.asarray(variation, jnp.int32))

    # ----------------------------------------------------------------------------------------
    # Dynamics
    # ----------------------------------------------------------------------------------------
    def transition(
        self, key: jax.Array, state: BigFishState, action: jax.Array
    ) -> tuple[BigFishState, jax.Array, jax.Array, Info]:
        """One step (order of bigfish.cpp ``game_step``); ``key`` is unused, the step's
        randomness comes from the episode key in ``state``."""
        del key
        time = state.time + 1
        # This step's draws: spawn?, radius, height, side, speed, look, sub-step order tie.
        u = jax.random.uniform(jax.random.fold_in(jax.random.wrap_key_data(state.rng), time), (7,))

        # The player: velocity, then smart stepping against the world's edges.
        ax, ay = action_velocity(action)
        ax, ay = ax.astype(jnp.float32), ay.astype(jnp.float32)
        vx, vy = mv.mix_velocity(state.vx, state.vy, ax, ay, MIXRATE, MAXSPEED)
        cmp = jnp.abs(vx) - jnp.abs(vy)
        x_first = jnp.where(cmp == 0, u[6] < 0.5, cmp > 0)
        x_first = jnp.where(ax != 0, True, x_first)
        x_first = jnp.where(ay != 0, False, x_first)  # checked last in the C++ code, so it wins
        x, y, vx, vy = mv.smart_step(
            state.x, state.y, vx, vy, state.r, state.r, x_first, self._blocked
        )

        # Fish swim, then the player meets every fish it overlaps.
        fish = ent.move(state.fish)
        touching = ent.box_overlap(fish, x, y, state.r, state.r)
        bigger = fish.rx > state.r
        died = jnp.any(touching & bigger)
        meals = touching & ~bigger
        n_meals = jnp.sum(meals).astype(jnp.int32)
        r = state.r + self.r_inc * n_meals
        eaten = state.eaten + n_meals
        fish = ent.remove(fish, meals | ent.out_of_bounds(fish, WORLD, WORLD))

        # A new fish enters with probability 1/10 (bigfish.cpp game_step).
        fr = (FISH_MAX_R - FISH_MIN_R) * u[1] ** 1.4 + FISH_MIN_R
        fy = u[2] * (WORLD - 2 * fr)
        moves_right = u[3] < 0.5
        fvx = (FISH_MIN_SPEED + FISH_SPEED_RANGE * u[4]) * jnp.where(moves_right, 1.0, -1.0)
        fx = jnp.where(moves_right, -fr, WORLD + fr)
        look = jnp.minimum((u[5] * len(FISH_ASPECT)).astype(jnp.int32), len(FISH_ASPECT) - 1)
        fry = fr / jnp.asarray(FISH_ASPECT)[look]
        fish, _ = ent.spawn(fish, u[0] < SPAWN_PROB, fx, fy, fvx, 0.0, fr, fry, look)

        complete = eaten >= FISH_QUOTA
        reward = n_meals.astype(jnp.float32) * EAT_REWARD + jnp.where(
            complete, COMPLETION_REWARD, 0.0
        )
        facing_right = jnp.where(ax > 0, True, jnp.where(ax < 0, False, state.facing_right))
        timed_out = time >= self.timeout
        done = died | complete | timed_out
        state = state.replace(
            x=x,
            y=y,
            vx=vx,
            vy=vy,
            r=r,
            facing_right=facing_right,
            fish=fish,
            eaten=eaten,
            time=time,
        )
        info = make_info(complete, timed_out & ~died & ~complete, state.variation)
        return state, reward.astype(jnp.float32), done, info

    # ----------------------------------------------------------------------------------------
    # Observations
    # ----------------------------------------------------------------------------------------
    def observe(self, state: BigFishState) -> jax.Array:
        """The observation of ``state`` in this env's ``obs_mode``."""
        if self.obs_mode == "pixels":
            return self.render(state)
        return self.symbolic(state)

    def render(self, state: BigFishState) -> jax.Array:
        """uint8 ``[64, 64, 3]``: the level's water, the fish, then the player on top."""
        fish = state.fish
        look = (_FISH_ENTRY + 2 * fish.kind).astype(jnp.uint8)

        def fish_spans(i: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
            # Slot i's spans, computed inside the paint loop (see below).
            def one(a: jax.Array) -> jax.Array:
                return jax.lax.dynamic_index_in_dim(a, i, keepdims=True)

            spans = ent.profile_spans(
                self.view,
                one(fish.x),
                one(fish.y),
                one(fish.rx),
                one(fish.ry),
                one(fish.vx) > 0,
                one(fish.alive),
                one(look),
                ent.fish_profile,
                top_entry=one(look) + 1,
                top_from=_BACK_V,
            )
            return tuple(a[0] for a in spans)

        # The player, then its eye, drawn last (render_z = 1 in Procgen).
        one = jnp.ones(1, bool)
        x, y, r = state.x[None], state.y[None], state.r[None]
        facing = state.facing_right[None]
        a_spans = ent.profile_spans(
            self.view,
            x,
            y,
            r,
            r,
            facing,
            one,
            jnp.full(1, _AGENT_ENTRY, jnp.uint8),
            ent.fish_profile,
            top_entry=jnp.full(1, _AGENT_ENTRY + 1, jnp.uint8),
            top_from=_BACK_V,
        )
        side = jnp.where(facing, 1.0, -1.0)
        e_spans = ent.profile_spans(
            self.view,
            x + side * 0.45 * r,
            y + 0.3 * r,
            0.2 * r,
            0.2 * r,
            facing,
            one,
            jnp.full(1, _EYE_ENTRY, jnp.uint8),
        )
        # Fish slots past the last live one paint nothing, so the loop stops there and their
        # spans are never computed (most levels have far fewer fish than slots); then the
        # player and its eye.
        canvas = ent.paint_each(
            jnp.asarray(self._background), ent.last_live(fish.alive), fish_spans
        )
        left, width, entry = (
            jnp.concatenate(parts) for parts in zip(a_spans, e_spans, strict=True)
        )
        canvas = ent.paint_spans(canvas, left, width, entry)
        return ent.colourise(canvas, jnp.asarray(self._palettes)[state.theme])

    def symbolic(self, state: BigFishState) -> jax.Array:
        """float32 ``[6 + 8 * max_fish]`` (layout in the module docstring)."""
        half = WORLD / 2
        fish = state.fish
        dx, dy = fish.x - state.x, fish.y - state.y
        alive = fish.alive.astype(jnp.float32)
        rows = (
            jnp.stack(
                [
                    alive,
                    dx / half,
                    dy / half,
                    fish.vx / (FISH_MIN_SPEED + FISH_SPEED_RANGE),
                    fish.rx / FISH_MAX_R,
                    fish.ry / FISH_MAX_R,
                    (fish.rx > state.r).astype(jnp.float32),
                    (fish.rx - state.r) / FISH_MAX_R,
                ],
                axis=-1,
            )
            * alive[:, None]
        )
        # Nearest fish first, empty slots last: the MLP sees the same order in every state.
        dist = jnp.where(fish.alive, dx * dx + dy * dy, jnp.inf)
        rows = jnp.clip(ent.sort_rows(rows, dist), -3.0, 3.0)
        agent = jnp.stack(
            [
                state.x / half - 1.0,
                state.y / half - 1.0,
                state.vx / MAXSPEED,
                state.vy / MAXSPEED,
                state.r / FISH_MAX_R,
                state.eaten.astype(jnp.float32) / FISH_QUOTA,
            ]
        )
        return jnp.concatenate([agent, rows.reshape(-1)]).astype(jnp.float32)

"""bigfish's observations: the 64x64 frame and the compact (symbolic) vector.

* Pixels (:func:`render`): uint8 ``[64, 64, 3]``, the whole world (bigfish turns Procgen's
  ``center_agent`` off), 3.2 pixels per world unit, y up. One of 7 water colour themes per level
  over one backdrop (gradient, light rays, sand, weeds; Procgen draws one of 7 water images per
  level). Fish are drawn as fish silhouettes
  (:func:`~gsl_jax.envs.procgen.entities.fish_profile`: lens-shaped body, forked tail) facing
  their direction of travel and filling their boxes, in one of three colours (orange, yellow,
  red) by look, with a darker back, in slot order; the player is a pink fish with an eye, drawn
  on top. The colours are our own (:mod:`.art`).
* Symbolic (:func:`symbolic`): float32 ``[6 + 8 * max_fish]``: the player
  ``(x / 10 - 1, y / 10 - 1, vx / 0.5, vy / 0.5, r / 2, eaten / 30)`` followed by one row of 8
  features per fish slot, the slots *sorted by distance* to the player (nearest first, empty
  slots last and all zero): ``(alive, dx / 10, dy / 10, vx / 0.4, rx / 2, ry / 2, bigger,
  (rx - r) / 2)`` with ``(dx, dy)`` the fish's centre relative to the player's and ``bigger``
  1 where the fish would kill the player. Every entry lies in ``[-3, 3]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gsl_jax.envs.procgen import entities as ent
from gsl_jax.envs.procgen.bigfish.art import AGENT_ENTRY, BACK_V, EYE_ENTRY, FISH_ENTRY
from gsl_jax.envs.procgen.bigfish.levels import (
    FISH_MAX_R,
    FISH_MIN_SPEED,
    FISH_QUOTA,
    FISH_SPEED_RANGE,
    MAXSPEED,
    WORLD,
    BigFishState,
)

#: Player features and features per fish slot of the symbolic observation.
AGENT_FEATURES, FISH_FEATURES = 6, 8
#: The symbolic observation's bound: every entry lies in ``[-SYMBOLIC_BOUND, SYMBOLIC_BOUND]``.
SYMBOLIC_BOUND = 3.0
#: The frame shows the whole world.
VIEW = ent.View.whole_world(WORLD, WORLD)


def render(state: BigFishState, background: np.ndarray, palettes: np.ndarray) -> jax.Array:
    """uint8 ``[64, 64, 3]``: the level's water, the fish, then the player on top.

    ``background`` is :func:`~.art.background_pattern` (uint8 ``[64, 64]``) and ``palettes``
    is :func:`~.art.palettes` (uint8 ``[NUM_THEMES, EYE_ENTRY + 1, 3]``).
    """
    fish = state.fish
    look = (FISH_ENTRY + 2 * fish.kind).astype(jnp.uint8)

    def fish_spans(i: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        # Slot i's spans, computed inside the paint loop (see below).
        def one(a: jax.Array) -> jax.Array:
            return jax.lax.dynamic_index_in_dim(a, i, keepdims=True)

        spans = ent.profile_spans(
            VIEW,
            one(fish.x),
            one(fish.y),
            one(fish.rx),
            one(fish.ry),
            one(fish.vx) > 0,
            one(fish.alive),
            one(look),
            ent.fish_profile,
            top_entry=one(look) + 1,
            top_from=BACK_V,
        )
        return tuple(a[0] for a in spans)

    # The player, then its eye, drawn last (render_z = 1 in Procgen).
    one = jnp.ones(1, bool)
    x, y, r = state.x[None], state.y[None], state.r[None]
    facing = state.facing_right[None]
    a_spans = ent.profile_spans(
        VIEW,
        x,
        y,
        r,
        r,
        facing,
        one,
        jnp.full(1, AGENT_ENTRY, jnp.uint8),
        ent.fish_profile,
        top_entry=jnp.full(1, AGENT_ENTRY + 1, jnp.uint8),
        top_from=BACK_V,
    )
    side = jnp.where(facing, 1.0, -1.0)
    e_spans = ent.profile_spans(
        VIEW,
        x + side * 0.45 * r,
        y + 0.3 * r,
        0.2 * r,
        0.2 * r,
        facing,
        one,
        jnp.full(1, EYE_ENTRY, jnp.uint8),
    )
    # Fish slots past the last live one paint nothing, so the loop stops there and their
    # spans are never computed (most levels have far fewer fish than slots); then the
    # player and its eye.
    canvas = ent.paint_each(jnp.asarray(background), ent.last_live(fish.alive), fish_spans)
    left, width, entry = (jnp.concatenate(parts) for parts in zip(a_spans, e_spans, strict=True))
    canvas = ent.paint_spans(canvas, left, width, entry)
    return ent.colourise(canvas, jnp.asarray(palettes)[state.theme])


def symbolic(state: BigFishState) -> jax.Array:
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
    rows = jnp.clip(ent.sort_rows(rows, dist), -SYMBOLIC_BOUND, SYMBOLIC_BOUND)
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

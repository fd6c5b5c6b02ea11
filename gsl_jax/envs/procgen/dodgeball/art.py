"""dodgeball's art, drawn by our own code: one floor pattern and a palette per floor theme.

A frame is first painted as palette entries (uint8 ``[64, 64]``) and then coloured with the
level's theme palette (:func:`palettes`). The entries:

* 0-3: the floor (:func:`floor_pattern`: two tile shades, grout, speckle);
* :data:`WALL_ENTRY`, ``+ 1``: the room walls (stone, its darker lower half);
* :data:`DOOR_ENTRY` / ``+ 1``: the exit door closed (red) / open (green);
* :data:`ENEMY_ENTRY` ``+ k``: enemies of colour theme ``k`` (``k < NUM_ENEMY_THEMES``);
* :data:`AGENT_ENTRY`, ``+ 1``: the agent's body and the mark on the side it faces;
* :data:`BALL_ENTRY`, ``+ 1``: the agent's balls and the enemies' balls.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.dodgeball.levels import NUM_ENEMY_THEMES, NUM_THEMES
from gsl_jax.envs.procgen.render import FRAME_SIZE

WALL_ENTRY = 4
DOOR_ENTRY = WALL_ENTRY + 2
ENEMY_ENTRY = DOOR_ENTRY + 2
AGENT_ENTRY = ENEMY_ENTRY + NUM_ENEMY_THEMES
BALL_ENTRY = AGENT_ENTRY + 2
NUM_ENTRIES = BALL_ENTRY + 2


def floor_pattern(size: int = FRAME_SIZE) -> np.ndarray:
    """uint8 ``[size, size]`` floor slots 0-3, the same in every theme: a checker of 8-pixel
    tiles (slots 0, 1) with grout lines (2) and a sparse speckle (3)."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    pat = ((rows // 8 + cols // 8) % 2).astype(np.uint8)
    pat[(rows % 8 == 0) | (cols % 8 == 0)] = 2
    rng = np.random.default_rng(21)
    pat[(rng.random((size, size)) < 0.05) & (pat != 2)] = 3
    return pat


def palettes() -> np.ndarray:
    """uint8 ``[NUM_THEMES, NUM_ENTRIES, 3]`` RGB of every palette entry per floor theme."""
    floors = [  # (tile a, tile b) per theme: sand, slate, clay, moss, ice, dusk
        ((196, 178, 140), (180, 162, 124)),
        ((120, 128, 140), (106, 114, 126)),
        ((176, 120, 96), (160, 106, 84)),
        ((112, 140, 96), (98, 126, 84)),
        ((168, 196, 212), (150, 180, 198)),
        ((120, 100, 140), (106, 88, 126)),
    ]
    enemies = [
        (230, 60, 60),
        (250, 160, 40),
        (240, 220, 60),
        (60, 200, 90),
        (60, 140, 240),
        (170, 80, 220),
        (240, 110, 190),
    ]
    out = np.zeros((NUM_THEMES, NUM_ENTRIES, 3), np.uint8)
    for t, (a, b) in enumerate(floors):
        a, b = np.array(a, float), np.array(b, float)
        out[t, 0], out[t, 1] = a, b
        out[t, 2] = b * 0.8
        out[t, 3] = np.minimum(a * 1.12, 255)
        out[t, WALL_ENTRY] = (92, 88, 84)
        out[t, WALL_ENTRY + 1] = (62, 58, 56)
        out[t, DOOR_ENTRY] = (200, 40, 40)
        out[t, DOOR_ENTRY + 1] = (50, 190, 70)
        for k, colour in enumerate(enemies):
            out[t, ENEMY_ENTRY + k] = colour
        out[t, AGENT_ENTRY] = (30, 40, 60)
        out[t, AGENT_ENTRY + 1] = (250, 250, 250)
        out[t, BALL_ENTRY] = (245, 245, 245)
        out[t, BALL_ENTRY + 1] = (20, 20, 20)
    return out

"""chaser's art, drawn by our own code: dark themed floors, pale stone walls, green orbs, yellow
crystals, olive eggs, small red enemies (three animation frames), light-blue edible enemies and
the violet agent.

The grid layer (:func:`chaser_atlas`) holds what never moves: floor, wall, small orb, large orb
and egg (eggs and large orbs sit on cell centres). Enemies and the agent move by 1/16 cell and
are painted on the overlay in the colours of :data:`OVERLAY_RGB`.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.chaser.levels import NUM_THEMES
from gsl_jax.envs.procgen.render import Atlas, bricks, ellipse, speckle, texel_centres

# Atlas tile ids: the state's FLOOR / WALL / ORB (levels.py), then the sprites that render adds.
FLOOR, WALL, ORB, LARGE_ORB, EGG = 0, 1, 2, 3, 4

_TEX = 20  # texels per tile: the small orb is exactly 0.3 of a cell (chaser.cpp ``ORB_DIM``)

#: Overlay colour classes (1-based rows of :data:`OVERLAY_RGB`), each a (body, top) pair:
#: enemy animation frames 0-2, the edible enemy, the agent.
ENEMY_ENTRY = (1, 3, 5)
WEAK_ENTRY = 7
AGENT_ENTRY = 9
OVERLAY_RGB = np.array(
    [
        (176, 40, 40),  # enemy frame 0
        (96, 20, 24),
        (200, 70, 48),  # enemy frame 1
        (110, 30, 22),
        (160, 30, 80),  # enemy frame 2
        (90, 16, 50),
        (90, 170, 240),  # edible enemy
        (40, 90, 170),
        (76, 56, 226),  # agent
        (236, 120, 220),
    ],
    np.uint8,
)


def chaser_atlas() -> Atlas:
    """Tiles: themed speckled floor, grey stone blocks, the green orb square (0.3 of a cell),
    the yellow crystal (a diamond of half-size 0.4) and the olive spiked egg."""
    t = _TEX
    y, x = texel_centres(t)
    floor = speckle(t, 0.2, seed=3).astype(np.uint8)
    wall = bricks(t, rows=2).astype(np.uint8)
    wall[(y < 0.12) & ~bricks(t, rows=2)] = 2  # lit top edge of the stone block
    orb = np.zeros((t, t), np.uint8)
    orb[(np.abs(y - 0.5) < 0.15) & (np.abs(x - 0.5) < 0.15)] = 1
    crystal = np.zeros((t, t), np.uint8)
    diamond = np.abs(y - 0.5) + np.abs(x - 0.5) < 0.4
    crystal[diamond] = 1
    crystal[diamond & (x < 0.5) & (y < 0.5)] = 2  # facet
    egg = np.zeros((t, t), np.uint8)
    body = ellipse(t, 0.55, 0.5, 0.38, 0.32)
    spikes = (
        (np.abs(x - 0.5) < 0.45)
        & (np.abs(y - 0.55) < 0.42)
        & ((np.abs(x - 0.5) + np.abs(y - 0.55) * 0.6) % 0.2 < 0.06)
    )
    egg[body | spikes] = 1
    egg[ellipse(t, 0.45, 0.4, 0.1, 0.08)] = 2
    patterns = np.stack([floor, wall, orb, crystal, egg])

    floors = [  # (base, speckle): dark stone floors with a tint, like Procgen's backgrounds
        ((84, 84, 86), (60, 60, 64)),
        ((70, 78, 70), (52, 60, 52)),
        ((88, 80, 70), (66, 58, 50)),
        ((72, 72, 88), (54, 54, 68)),
        ((66, 82, 84), (48, 62, 64)),
        ((92, 76, 76), (70, 56, 56)),
    ]
    assert len(floors) == NUM_THEMES
    fixed = [  # like Procgen, everything but the background looks the same in every level
        [(186, 202, 208), (158, 174, 182), (214, 226, 230), (0, 0, 0)],
        [(0, 0, 0), (0, 255, 0), (0, 0, 0), (0, 0, 0)],
        [(0, 0, 0), (236, 200, 56), (255, 240, 150), (0, 0, 0)],
        [(0, 0, 0), (96, 128, 40), (200, 170, 60), (0, 0, 0)],
    ]
    palettes = np.array([[[*f, (0, 0, 0), (0, 0, 0)], *fixed] for f in floors], np.uint8)
    transparent = np.array([False, False, True, True, True])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)

"""chaser's art, drawn by our own code: themed floors, stone walls, green orbs, yellow crystals,
eggs, red enemies (three animation frames), blue edible enemies and the agent.

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
        (206, 46, 46),  # enemy frame 0
        (120, 20, 30),
        (226, 82, 52),  # enemy frame 1
        (130, 36, 24),
        (186, 36, 92),  # enemy frame 2
        (110, 18, 60),
        (70, 110, 240),  # edible enemy
        (40, 60, 170),
        (244, 170, 220),  # agent
        (255, 255, 255),
    ],
    np.uint8,
)


def chaser_atlas() -> Atlas:
    """Tiles: themed speckled floor, grey stone blocks, the green orb square (0.3 of a cell),
    the yellow crystal (a diamond of half-size 0.4) and the violet spiked egg."""
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

    floors = [  # (base, speckle): slate, moss, sand, plum, teal, rust
        ((58, 64, 80), (48, 52, 66)),
        ((52, 84, 52), (42, 70, 42)),
        ((126, 108, 78), (108, 92, 66)),
        ((80, 52, 86), (66, 42, 72)),
        ((36, 86, 92), (28, 72, 78)),
        ((104, 62, 44), (88, 52, 36)),
    ]
    assert len(floors) == NUM_THEMES
    fixed = [  # like Procgen, everything but the background looks the same in every level
        [(150, 150, 158), (96, 96, 104), (196, 196, 204), (0, 0, 0)],
        [(0, 0, 0), (0, 255, 0), (0, 0, 0), (0, 0, 0)],
        [(0, 0, 0), (250, 214, 40), (255, 246, 160), (0, 0, 0)],
        [(0, 0, 0), (150, 106, 176), (236, 226, 246), (0, 0, 0)],
    ]
    palettes = np.array([[[*f, (0, 0, 0), (0, 0, 0)], *fixed] for f in floors], np.uint8)
    transparent = np.array([False, False, True, True, True])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)

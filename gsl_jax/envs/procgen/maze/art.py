"""Maze's art, drawn by our own code: a themed floor, sand-brick walls, the cheese and the mouse.

Tile ids index both the state grid and the atlas (:data:`FLOOR` ... :data:`MOUSE_RIGHT`).
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.render import Atlas, bricks, ellipse, speckle, texel_centres

# Tile ids of the state grid and of the atlas.
FLOOR, WALL, GOAL, MOUSE_LEFT, MOUSE_RIGHT = 0, 1, 2, 3, 4

_TEX = 8  # texels per tile side; a cell is only 2.6-4.3 px wide, so more detail is invisible


def maze_atlas() -> Atlas:
    """Our own art for maze: themed floor, sand-brick wall, cheese and a mouse (both facings)."""
    t = _TEX
    floor = speckle(t, 0.25, seed=1).astype(np.uint8)  # slot 1: darker speckle
    wall = bricks(t, rows=2).astype(np.uint8)  # slot 1: mortar

    y, x = texel_centres(t)
    cheese = np.zeros((t, t), np.uint8)
    wedge = (y > 0.15) & (y < 0.9) & (x > 0.05) & (x < 0.95) & (y - 0.15 > 0.45 * (0.95 - x))
    cheese[wedge] = 1
    cheese[wedge & (ellipse(t, 0.72, 0.55, 0.1, 0.1) | ellipse(t, 0.55, 0.8, 0.08, 0.08))] = 2

    mouse = np.zeros((t, t), np.uint8)  # facing left
    mouse[ellipse(t, 0.6, 0.56, 0.32, 0.4) | ellipse(t, 0.5, 0.26, 0.25, 0.23)] = 1
    mouse[ellipse(t, 0.3, 0.4, 0.14, 0.12)] = 2  # ear
    mouse[(y > 0.8) & (x > 0.85)] = 2  # tail
    mouse[ellipse(t, 0.5, 0.2, 0.07, 0.07)] = 3  # eye
    patterns = np.stack([floor, wall, cheese, mouse, mouse[:, ::-1]])

    floors = [  # (base, speckle) per theme: grass, dirt, stone, water, violet, teal, brick, ash
        ((62, 112, 52), (46, 92, 40)),
        ((112, 82, 52), (92, 66, 42)),
        ((92, 92, 104), (72, 72, 84)),
        ((42, 72, 124), (32, 56, 104)),
        ((82, 52, 104), (66, 40, 88)),
        ((32, 92, 92), (24, 76, 76)),
        ((104, 42, 42), (84, 32, 32)),
        ((52, 52, 52), (40, 40, 40)),
    ]
    fixed = [  # like Procgen, walls / cheese / mouse look the same in every theme
        [(216, 190, 128), (196, 170, 110), (0, 0, 0), (0, 0, 0)],
        [(0, 0, 0), (250, 206, 60), (200, 150, 30), (0, 0, 0)],
        [(0, 0, 0), (170, 170, 176), (236, 150, 170), (10, 10, 10)],
        [(0, 0, 0), (170, 170, 176), (236, 150, 170), (10, 10, 10)],
    ]
    palettes = np.array(
        [[[*f, (0, 0, 0), (0, 0, 0)], *fixed] for f in floors], np.uint8
    )  # [num_themes, 5, 4, 3]
    transparent = np.array([False, False, True, True, True])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)

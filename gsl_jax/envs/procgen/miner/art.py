"""Miner's art, drawn by our own code: a themed backdrop, dirt, a grey boulder, a blue diamond,
the exit window and a green robot (both facings).

The ids here are *atlas* ids (tile 0 is the backdrop that shows through empty cells); the state
grid uses the object codes of :mod:`.rules` and :func:`~.game.Miner.render` maps one to the other.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.render import Atlas, ellipse, speckle, texel_centres

# Atlas tile ids.
BACKDROP, DIRT_TILE, BOULDER_TILE, DIAMOND_TILE, EXIT_TILE, ROBOT_RIGHT, ROBOT_LEFT = range(7)

_TEX = 8  # texels per tile side; a cell is 6.4 px (easy) or 3.2 px (hard) wide


def miner_atlas() -> Atlas:
    """Tiles: themed backdrop, dirt, boulder, diamond, exit window and the robot facing right and
    left."""
    t = _TEX
    y, x = texel_centres(t)
    backdrop = speckle(t, 0.15, seed=11).astype(np.uint8)  # slot 1: a darker speckle

    dirt = np.zeros((t, t), np.uint8)
    dirt[speckle(t, 0.3, seed=12)] = 1
    dirt[speckle(t, 0.1, seed=13)] = 2

    boulder = np.zeros((t, t), np.uint8)
    rock = ellipse(t, 0.55, 0.5, 0.42, 0.46)
    boulder[rock] = 1
    boulder[rock & ellipse(t, 0.4, 0.35, 0.14, 0.16)] = 2  # highlight
    boulder[rock & ~ellipse(t, 0.5, 0.45, 0.36, 0.4)] = 3  # shaded rim

    diamond = np.zeros((t, t), np.uint8)
    gem = np.abs(x - 0.5) * 1.1 + np.abs(y - 0.55) <= 0.44
    diamond[gem] = 1
    diamond[gem & (y < 0.45)] = 2  # lighter crown
    diamond[gem & (np.abs(x - 0.5) < 0.08) & (y > 0.45)] = 3  # central facet

    window = np.full((t, t), 1, np.uint8)  # glass
    frame = (x < 1.5 / t) | (x > 1 - 1.5 / t) | (y < 1.5 / t) | (y > 1 - 1.5 / t)
    window[frame | (np.abs(x - 0.5) < 0.07) | (np.abs(y - 0.5) < 0.07)] = 2  # frame and mullions
    window[(~frame) & (y < 0.4) & (x < 0.4)] = 3  # reflection

    robot = np.zeros((t, t), np.uint8)  # facing right
    robot[(y > 0.25) & (y < 0.75) & (x > 0.15) & (x < 0.8)] = 1  # body
    robot[ellipse(t, 0.82, 0.3, 0.13, 0.13) | ellipse(t, 0.82, 0.68, 0.13, 0.13)] = 3  # wheels
    robot[ellipse(t, 0.42, 0.62, 0.09, 0.09)] = 2  # eye
    robot[(y > 0.08) & (y < 0.26) & (np.abs(x - 0.45) < 0.05)] = 3  # antenna
    patterns = np.stack([backdrop, dirt, boulder, diamond, window, robot, robot[:, ::-1]])

    backdrops = [  # (base, speckle) per theme: like Procgen's per-level background picture
        ((58, 88, 128), (48, 74, 110)),
        ((96, 128, 72), (80, 110, 60)),
        ((132, 104, 72), (112, 88, 60)),
        ((90, 70, 120), (74, 58, 100)),
        ((60, 112, 112), (48, 94, 94)),
        ((120, 70, 70), (100, 58, 58)),
        ((70, 70, 80), (58, 58, 66)),
        ((150, 130, 90), (128, 110, 76)),
    ]
    fixed = [  # dirt, boulder, diamond, exit and robot look the same in every theme
        [(120, 78, 40), (98, 62, 30), (146, 100, 58), (0, 0, 0)],
        [(0, 0, 0), (140, 140, 146), (190, 190, 196), (96, 96, 102)],
        [(0, 0, 0), (60, 120, 240), (150, 200, 255), (30, 70, 190)],
        [(0, 0, 0), (120, 190, 230), (70, 60, 50), (220, 240, 250)],
        [(0, 0, 0), (80, 190, 80), (240, 240, 240), (40, 110, 40)],
        [(0, 0, 0), (80, 190, 80), (240, 240, 240), (40, 110, 40)],
    ]
    palettes = np.array(
        [[[*b, (0, 0, 0), (0, 0, 0)], *fixed] for b in backdrops], np.uint8
    )  # [num_themes, 7, 4, 3]
    transparent = np.array([False, False, True, True, False, True, True])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)

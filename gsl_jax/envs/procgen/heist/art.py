"""Heist's art, drawn by our own code: themed floors, dirt walls, a gem, keys and lock blocks in
three colours, an astronaut seen from above and the key-ring icons.

Tile ids index both the state grid and the atlas (:data:`FLOOR`, :data:`WALL`, :data:`GEM`,
``KEY + c`` and ``LOCK + c`` for colour ``c`` in 0 (blue), 1 (green), 2 (red)). The agent and
the held keys are drawn on the renderer's overlay layer: classes 1-3 are the agent's colours
(:data:`AGENT_RGB`), 4-6 the keys' (:data:`KEY_RGB`), see :data:`OVERLAY_RGB`.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.render import Atlas, ellipse, speckle, texel_centres

# Tile ids of the state grid and of the atlas.
FLOOR, WALL, GEM = 0, 1, 2
KEY = 3  # KEY + c, c in 0..2
LOCK = 6  # LOCK + c
#: Colours of keys and locks (heist.cpp: blue, green, red assets, ``image_theme`` 0, 1, 2).
NUM_COLOURS = 3
#: RGB of the blue, green and red keys and locks.
KEY_RGB = ((60, 110, 235), (60, 190, 80), (225, 60, 60))
#: Colours of the agent sprite's classes 1 (suit), 2 (visor) and 3 (pack).
AGENT_RGB = ((230, 232, 240), (90, 170, 230), (120, 120, 130))
#: uint8 ``[6, 3]``: the overlay colours, classes 1-3 the agent, 4-6 the held keys.
OVERLAY_RGB = np.array(AGENT_RGB + KEY_RGB, np.uint8)

_TEX = 8  # texels per tile side (a tile is 7.1 px easy, 4.9 px hard)


def heist_atlas() -> Atlas:
    """Tiles: themed floor, dirt wall, gem, three keys, three lock blocks."""
    t = _TEX
    y, x = texel_centres(t)
    floor = np.zeros((t, t), np.uint8)
    floor[speckle(t, 0.2, seed=3)] = 1
    floor[(y < 1.0 / t) | (x < 1.0 / t)] = 2  # faint seams between floor plates
    wall = np.zeros((t, t), np.uint8)
    wall[speckle(t, 0.3, seed=5)] = 1
    wall[speckle(t, 0.12, seed=6)] = 2
    gem = np.zeros((t, t), np.uint8)
    diamond = np.abs(x - 0.5) * 1.1 + np.abs(y - 0.55) <= 0.42
    gem[diamond] = 1
    gem[diamond & (y < 0.45)] = 2  # lighter crown
    gem[diamond & (np.abs(x - 0.5) < 0.08) & (y > 0.45)] = 3  # central facet
    key = np.zeros((t, t), np.uint8)
    ring = ellipse(t, 0.3, 0.5, 0.26, 0.26) & ~ellipse(t, 0.3, 0.5, 0.11, 0.11)
    shaft = (np.abs(x - 0.5) < 0.09) & (y > 0.5) & (y < 0.95)
    teeth = (x > 0.5) & (x < 0.75) & (((y > 0.68) & (y < 0.76)) | ((y > 0.84) & (y < 0.93)))
    key[ring | shaft | teeth] = 1
    lock = np.ones((t, t), np.uint8)  # a full block (heist.cpp uses a block asset for locks)
    lock[(x < 1.0 / t) | (y < 1.0 / t) | (x > 1 - 1.0 / t) | (y > 1 - 1.0 / t)] = 2  # rim
    lock[
        ellipse(t, 0.42, 0.5, 0.13, 0.13) | ((np.abs(x - 0.5) < 0.07) & (y > 0.42) & (y < 0.72))
    ] = 3
    patterns = np.stack([floor, wall, gem, key, key, key, lock, lock, lock])

    floors = [  # (base, speckle, seam) per theme
        ((70, 70, 86), (60, 60, 74), (52, 52, 64)),
        ((96, 78, 60), (84, 68, 52), (74, 60, 46)),
        ((48, 84, 68), (40, 72, 58), (34, 62, 50)),
        ((44, 58, 96), (36, 48, 82), (30, 40, 70)),
        ((92, 60, 92), (80, 50, 80), (68, 42, 68)),
        ((104, 98, 70), (90, 84, 60), (78, 72, 52)),
        ((36, 36, 40), (28, 28, 32), (22, 22, 26)),
        ((96, 56, 50), (84, 48, 42), (72, 40, 36)),
    ]
    black = (0, 0, 0)
    fixed = [
        [(120, 84, 50), (100, 68, 40), (140, 100, 62), black],  # dirt wall
        [black, (240, 200, 40), (255, 236, 130), (200, 150, 20)],  # gem
    ]
    fixed += [[black, rgb, black, black] for rgb in KEY_RGB]  # keys
    fixed += [  # locks: coloured block, darker rim, dark keyhole
        [black, rgb, tuple(v // 2 for v in rgb), (20, 20, 24)] for rgb in KEY_RGB
    ]
    palettes = np.array([[[*f, black], *fixed] for f in floors], np.uint8)  # [num_themes, 9, 4, 3]
    transparent = np.array([False, False, True, True, True, True, False, False, False])
    return Atlas(patterns=patterns, transparent=transparent, palettes=palettes)


def agent_sprites(size: int) -> np.ndarray:
    """Our astronaut seen from above, for each of the 9 move ids (id 4 repeats "right").

    Returns uint8 ``[9, size, size]`` colour classes: 0 transparent, 1 white suit, 2 blue visor on
    the side it faces, 3 grey pack on the other (colours :data:`AGENT_RGB`).
    """
    out = np.zeros((9, size, size), np.uint8)
    c = (np.arange(size) + 0.5) / size
    yy, xx = np.meshgrid(c, c, indexing="ij")
    body = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 <= 0.25
    for move in range(9):
        vx, vy = move // 3 - 1, move % 3 - 1
        if move == 4:
            vx, vy = 1, 0
        norm = np.hypot(vx, vy)
        along = (xx - 0.5) * vx / norm - (yy - 0.5) * vy / norm  # image y points down
        out[move][body] = 1
        out[move][body & (along > 0.12)] = 2
        out[move][body & (along < -0.3)] = 3
    return out


def ring_key_icon() -> np.ndarray:
    """bool ``[4, 4]``: a tiny key lying on its side, for the key ring at the top right."""
    return np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 1], [0, 0, 0, 0]], bool)


def ring_key_masks() -> np.ndarray:
    """bool ``[3, 64, 64]``: where each held key is drawn. heist.cpp puts key ``i`` of the ring
    at ``x = 1 - 0.03 (2 i + 1.25)`` of the frame width, near the top, blue rightmost."""
    masks = np.zeros((NUM_COLOURS, 64, 64), bool)
    for c in range(NUM_COLOURS):
        left = 60 - 4 * c
        masks[c, 3:7, left : left + 4] = ring_key_icon()
    return masks

"""leaper's art, drawn by our own code: static palette-entry patterns of the ground kinds and
one palette per background theme.

A frame is first painted as palette entries (uint8 ``[64, 64]``) and then coloured with the
level's theme palette (:func:`palettes`). The entries:

* 0-2: grass (base, light blade, dark patch); the nine themes differ in these colours;
* 3-4: road (asphalt, lane marking); 5-6: water (water, ripple); 7-8: finish (dark, light
  squares);
* :data:`CAR_ENTRY` ``+ k``: car body of colour ``k`` (``k < 5``); :data:`WINDOW_ENTRY`: the
  cars' windscreens;
* :data:`LOG_ENTRY`, ``+ 1``: log wood and its grain;
* :data:`FROG_ENTRY`, ``+ 1``, ``+ 2``: the frog's body, back stripe and eyes.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.leaper.levels import NUM_CAR_LOOKS, NUM_THEMES
from gsl_jax.envs.procgen.render import FRAME_SIZE

ROAD_ENTRY, WATER_ENTRY, FINISH_ENTRY = 3, 5, 7
CAR_ENTRY = 9
WINDOW_ENTRY = CAR_ENTRY + NUM_CAR_LOOKS
LOG_ENTRY = WINDOW_ENTRY + 1
FROG_ENTRY = LOG_ENTRY + 2
NUM_ENTRIES = FROG_ENTRY + 3


def pixel_grid(world: int, size: int = FRAME_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``([size], [size])``: world x of every pixel column's centre and world y of every
    pixel row's centre (row 0 at the top) when the whole ``world x world`` map fills the frame
    (Procgen's view with ``center_agent`` off)."""
    centres = (np.arange(size) + 0.5) * (world / size)
    return centres.astype(np.float32), (world - centres).astype(np.float32)


def ground_patterns(world: int, size: int = FRAME_SIZE) -> np.ndarray:
    """uint8 ``[4, size, size]``: the whole frame painted as grass, road, water and finish
    (index = row kind); the renderer picks each pixel row's pattern by the kind of its row."""
    xs, ys = pixel_grid(world, size)
    x, y = np.meshgrid(xs, ys, indexing="xy")
    fx, fy = x % 1.0, y % 1.0
    rng = np.random.default_rng(11)
    grass = np.zeros((size, size), np.uint8)
    grass[rng.random((size, size)) < 0.12] = 1
    grass[(np.sin(x * 1.7) + np.cos(y * 1.3)) > 1.4] = 2
    road = np.full((size, size), ROAD_ENTRY, np.uint8)
    # A dashed line along each lane's top edge.
    road[(fy > 0.9) & ((x % 1.0) < 0.5)] = ROAD_ENTRY + 1
    water = np.full((size, size), WATER_ENTRY, np.uint8)
    water[np.abs(fy - 0.5 - 0.15 * np.sin(x * 4.0)) < 0.06] = WATER_ENTRY + 1
    finish = (FINISH_ENTRY + ((np.floor(fx * 4) + np.floor(fy * 4)) % 2)).astype(np.uint8)
    return np.stack([grass, road, water, finish])


def palettes() -> np.ndarray:
    """uint8 ``[NUM_THEMES, NUM_ENTRIES, 3]`` RGB of every palette entry per theme."""
    grasses = [
        ((96, 160, 72), (128, 190, 96), (72, 128, 56)),
        ((120, 170, 80), (150, 200, 110), (90, 140, 60)),
        ((80, 140, 90), (110, 170, 120), (60, 110, 70)),
        ((140, 160, 90), (170, 190, 120), (110, 130, 70)),
        ((170, 150, 110), (196, 176, 136), (140, 120, 86)),
        ((110, 110, 120), (140, 140, 150), (86, 86, 96)),
        ((70, 120, 60), (100, 150, 84), (50, 92, 44)),
        ((150, 130, 90), (180, 160, 116), (120, 102, 70)),
        ((100, 150, 130), (130, 180, 160), (76, 120, 104)),
    ]
    cars = [(236, 200, 40), (40, 40, 48), (60, 110, 220), (60, 170, 70), (210, 50, 50)]
    out = np.zeros((NUM_THEMES, NUM_ENTRIES, 3), np.uint8)
    for t, grass in enumerate(grasses):
        out[t, 0:3] = grass
        out[t, ROAD_ENTRY : ROAD_ENTRY + 2] = ((70, 70, 76), (220, 220, 210))
        out[t, WATER_ENTRY : WATER_ENTRY + 2] = ((48, 110, 200), (110, 170, 235))
        out[t, FINISH_ENTRY : FINISH_ENTRY + 2] = ((30, 30, 30), (240, 240, 240))
        out[t, CAR_ENTRY : CAR_ENTRY + NUM_CAR_LOOKS] = cars
        out[t, WINDOW_ENTRY] = (150, 200, 230)
        out[t, LOG_ENTRY : LOG_ENTRY + 2] = ((150, 100, 50), (100, 64, 30))
        out[t, FROG_ENTRY : FROG_ENTRY + 3] = ((60, 200, 60), (30, 130, 40), (250, 250, 250))
    return out

"""bigfish's art, drawn by our own code: one water backdrop and a palette per theme.

A frame is first painted as palette entries (uint8 ``[64, 64]``) and then coloured with the
level's theme palette (:func:`palettes`). The entries are laid out as:

* 0-7: the backdrop's slots (:func:`background_pattern`);
* :data:`FISH_ENTRY` ``+ 2k`` / ``+ 2k + 1``: belly / back of fish look ``k`` (``k < NUM_LOOKS``);
* :data:`AGENT_ENTRY` / ``+ 1``: belly / back of the player;
* :data:`EYE_ENTRY`: the player's eye.
"""

from __future__ import annotations

import numpy as np

from gsl_jax.envs.procgen.render import FRAME_SIZE

#: Water colour themes, one drawn per level (Procgen's water_backgrounds holds 7 images).
NUM_THEMES = 7
#: Fish looks: bigfish.cpp's three fish sprites (their aspect ratios are ``levels.FISH_ASPECT``).
NUM_LOOKS = 3
#: Palette entries of the backdrop's slots.
BG_SLOTS = 8
#: First palette entry of the fish looks (belly ``FISH_ENTRY + 2k``, back ``+ 1``).
FISH_ENTRY = BG_SLOTS
#: Palette entry of the player's belly (its back is ``AGENT_ENTRY + 1``).
AGENT_ENTRY = FISH_ENTRY + 2 * NUM_LOOKS
#: Palette entry of the player's eye, the last entry.
EYE_ENTRY = AGENT_ENTRY + 2
#: Rows of a fish above this height (in units of its half-height) take the darker back colour.
BACK_V = 0.3


def background_pattern(size: int = FRAME_SIZE) -> np.ndarray:
    """uint8 ``[size, size]`` background palette slots (0-7), the same in every theme.

    Slots: 0-3 water from light (top) to dark (bottom), 4 light ray, 5 sand, 6 pebble, 7 weed.
    One static pattern keeps the frame's base a constant (a per-level pattern costs a gather per
    pixel); the themes differ by palette.
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
    """uint8 ``[NUM_THEMES, EYE_ENTRY + 1, 3]`` RGB of every palette entry per theme."""
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
    out = np.zeros((NUM_THEMES, EYE_ENTRY + 1, 3), np.uint8)
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
            out[t, FISH_ENTRY + 2 * k] = belly
            out[t, FISH_ENTRY + 2 * k + 1] = back
        out[t, AGENT_ENTRY], out[t, AGENT_ENTRY + 1] = agent
        out[t, EYE_ENTRY] = (16, 16, 24)
    return out

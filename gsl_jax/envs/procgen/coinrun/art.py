"""Coinrun's art, drawn by our own code: palettes (background, ground and agent themes), 5 x 5
tile art and the alien's sprites.

Everything is a palette *entry* (:data:`NUM_ENTRIES` per theme); :func:`palettes` maps entries
to RGB per theme. Easy mode uses theme 0 (the first background, ground and agent colour).
"""

from __future__ import annotations

import numpy as np

# Palette entries.
BG_SKY, BG_CLOUD, BG_DOT = 0, 1, 2
WM_BASE, WM_DARK, WM_LIGHT, WT_TOP, WT_TOP2 = 3, 4, 5, 6, 7
LV_BASE, LV_BRIGHT, LV_DARK = 8, 9, 10
CR_WOOD, CR_DARK, CR_LIGHT = 11, 12, 13
CO_GOLD, CO_DARK, CO_SHINE = 14, 15, 16
SW_METAL, SW_DARK, SW_HUB = 17, 18, 19
AG_BODY, AG_DARK, AG_EYE, AG_PUPIL = 20, 21, 22, 23
EN_BODY, EN_DARK, EN_EYE, EN_PUPIL = 24, 25, 26, 27
NUM_ENTRIES = 32

#: (sky, cloud, dot) per background theme: alien dusk (easy's), day, night, desert, cave, toxic.
BACKGROUNDS = (
    ((78, 60, 116), (118, 92, 150), (196, 150, 210)),
    ((112, 176, 228), (226, 238, 248), (170, 210, 240)),
    ((22, 28, 64), (48, 56, 96), (238, 226, 140)),
    ((222, 184, 126), (240, 214, 168), (196, 150, 96)),
    ((52, 40, 36), (72, 58, 50), (112, 92, 70)),
    ((40, 84, 64), (64, 116, 86), (150, 206, 120)),
)
#: (base, dark, light, top, top highlight) per ground theme: dirt (easy's), grass, planet, sand,
#: snow, stone.
GROUNDS = (
    ((134, 92, 58), (104, 70, 44), (160, 116, 78), (96, 168, 64), (128, 196, 84)),
    ((116, 84, 52), (90, 64, 40), (142, 106, 70), (58, 150, 58), (92, 186, 80)),
    ((96, 100, 124), (74, 78, 100), (122, 128, 150), (150, 110, 170), (184, 140, 204)),
    ((214, 186, 122), (190, 160, 100), (232, 208, 150), (236, 216, 160), (248, 234, 190)),
    ((150, 170, 196), (122, 142, 170), (184, 200, 220), (236, 242, 250), (255, 255, 255)),
    ((120, 120, 120), (94, 94, 94), (146, 146, 146), (160, 160, 152), (186, 186, 176)),
)
#: (body, dark) per agent colour: beige (easy's), blue, green, pink, yellow.
AGENTS = (
    ((230, 200, 160), (186, 150, 112)),
    ((96, 150, 230), (60, 104, 180)),
    ((110, 200, 110), (70, 150, 70)),
    ((240, 140, 180), (196, 96, 136)),
    ((246, 216, 80), (200, 168, 40)),
)
NUM_THEMES = len(BACKGROUNDS) * len(GROUNDS) * len(AGENTS)

#: Pixels (= texels) per tile: the renderer draws tiles 5 pixels wide, so the 64-pixel frame
#: shows 12.8 tiles (Procgen: 13 tiles of 4.92 pixels).
TILE_PX = 5
#: Tiles a 64-pixel view can touch (the canvas is 70 x 70 pixels).
VIEW_TILES = 14
CANVAS = VIEW_TILES * TILE_PX
CLEAR = 255  # transparent sprite texel
#: Tile looks of the base layer (opaque); 0 is the background.
B_SKY, B_WALL_MID, B_WALL_TOP, B_LAVA_MID, B_LAVA_TOP, B_CRATE = range(6)
#: Sprite looks drawn over the base layer.
P_NONE, P_COIN, P_SAW = 0, 1, 2  # saws have two frames: 2 and 3
#: The agent covers frame rows 28-34 and columns 29-33: it is always drawn at the centre
#: (pixel 32 is its centre; Procgen's alien is 1 tile wide).
AGENT_ROWS = (28, 35)
AGENT_COLS = (29, 34)


def palettes() -> np.ndarray:
    """uint8 ``[NUM_THEMES, NUM_ENTRIES, 3]``; theme ``(bg * 6 + ground) * 5 + agent``."""
    fixed = {
        LV_BASE: (232, 96, 24),
        LV_BRIGHT: (255, 196, 64),
        LV_DARK: (176, 52, 16),
        CR_WOOD: (190, 130, 60),
        CR_DARK: (120, 76, 32),
        CR_LIGHT: (222, 170, 96),
        CO_GOLD: (250, 204, 40),
        CO_DARK: (196, 140, 20),
        CO_SHINE: (255, 246, 190),
        SW_METAL: (196, 200, 208),
        SW_DARK: (110, 116, 126),
        SW_HUB: (60, 62, 70),
        AG_EYE: (250, 250, 250),
        AG_PUPIL: (20, 20, 30),
        EN_BODY: (150, 70, 200),
        EN_DARK: (90, 36, 130),
        EN_EYE: (250, 250, 250),
        EN_PUPIL: (20, 20, 30),
    }
    out = np.zeros((NUM_THEMES, NUM_ENTRIES, 3), np.uint8)
    for b, bg in enumerate(BACKGROUNDS):
        for g, gr in enumerate(GROUNDS):
            for a, ag in enumerate(AGENTS):
                pal = out[(b * len(GROUNDS) + g) * len(AGENTS) + a]
                pal[[BG_SKY, BG_CLOUD, BG_DOT]] = bg
                pal[[WM_BASE, WM_DARK, WM_LIGHT, WT_TOP, WT_TOP2]] = gr
                pal[[AG_BODY, AG_DARK]] = ag
                for entry, rgb in fixed.items():
                    pal[entry] = rgb
    return out


def _pattern(rows: list[str], key: dict[str, int]) -> np.ndarray:
    return np.array([[key[ch] for ch in row] for row in rows], np.uint8)


def tile_art() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Our own 5 x 5 art (palette entries, row 0 at the top).

    Returns:
        ``(motif, bases, parts)``: uint8 ``[20, 20]`` background pattern of 4 x 4 tiles; uint8
        ``[6, 5, 5]`` base tiles (index ``B_*``; 0 unused, the background shows); uint8
        ``[4, 5, 5]`` sprite parts (index ``P_*``, :data:`CLEAR` where the base shows).
    """
    n = 4 * TILE_PX
    yy, xx = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
    motif = np.full((n, n), BG_SKY, np.uint8)
    cloud = (((yy - 6) / 2.6) ** 2 + ((xx - 7) / 5.5) ** 2 <= 1) | (
        ((yy - 4.5) / 2.2) ** 2 + ((xx - 9.5) / 3.0) ** 2 <= 1
    )
    motif[cloud] = BG_CLOUD
    for y0, x0 in ((14, 3), (17, 14), (11, 17), (2, 17), (18, 7)):
        motif[y0, x0] = BG_DOT
    k = {
        "m": WM_BASE,
        "d": WM_DARK,
        "l": WM_LIGHT,
        "t": WT_TOP,
        "T": WT_TOP2,
        "v": LV_BASE,
        "V": LV_BRIGHT,
        "x": LV_DARK,
        "w": CR_WOOD,
        "W": CR_DARK,
        "L": CR_LIGHT,
        "g": CO_GOLD,
        "G": CO_DARK,
        "s": CO_SHINE,
        "a": SW_METAL,
        "A": SW_DARK,
        "h": SW_HUB,
        ".": CLEAR,
    }
    bases = np.zeros((6, TILE_PX, TILE_PX), np.uint8)
    bases[B_WALL_MID] = _pattern(["mmdml", "mlmmd", "dmmlm", "mmdmm", "lmmmd"], k)
    bases[B_WALL_TOP] = _pattern(["TtTtT", "ttttt", "tmtdt", "mmmlm", "ldmmm"], k)
    bases[B_LAVA_MID] = _pattern(["vvxvV", "vVvvv", "vvvxv", "xvVvv", "vvvvx"], k)
    bases[B_LAVA_TOP] = _pattern(["VvVVv", "vVvvV", "vvxvv", "vVvvv", "vvvVx"], k)
    bases[B_CRATE] = _pattern(["WWWWW", "WLwLW", "WwLwW", "WLwLW", "WWWWW"], k)
    parts = np.full((4, TILE_PX, TILE_PX), CLEAR, np.uint8)
    parts[P_COIN] = _pattern([".GGG.", "GgsgG", "GggsG", "GgggG", ".GGG."], k)
    parts[P_SAW] = _pattern(["a.a.a", ".aAa.", "aAhAa", ".aAa.", "a.a.a"], k)
    parts[P_SAW + 1] = _pattern(["..a..", "aaAaa", ".AhA.", "aaAaa", "..a.."], k)
    return motif, bases, parts


def agent_sprites() -> np.ndarray:
    """uint8 ``[3 poses, 2 facings (left, right), 7, 5]`` the alien (:data:`CLEAR` around it);
    poses: standing, walking frame 1, walking frame 2."""
    key = {".": CLEAR, "A": AG_BODY, "D": AG_DARK, "E": AG_EYE, "P": AG_PUPIL}
    head = [".AAA.", ".AAEP", ".AAA.", "DAAAD", ".AAA."]
    legs = {0: [".A.A.", ".D.D."], 1: ["A...A", "D...D"], 2: [".A.A.", "D...D"]}
    out = np.zeros((3, 2, 7, 5), np.uint8)
    for pose in range(3):
        right = _pattern(head + legs[pose], key)
        out[pose, 1] = right
        out[pose, 0] = right[:, ::-1]
    return out


class CanvasArt:
    """The static art the renderer reads, laid out canvas-sized so that drawing a look is one
    select against a constant.

    Attributes:
        bases: uint8 ``[6, 70, 70]`` each base look repeated over the 14 x 14-tile canvas.
        parts: uint8 ``[4, 70, 70]`` each sprite part repeated likewise.
        motif: uint8 ``[100, 100]`` the background pattern, tiled large enough to be cut out at
            any phase.
        palettes: uint8 ``[NUM_THEMES * NUM_ENTRIES, 3]`` the flattened palettes.
        agent: uint8 ``[3, 2, 7, 5]`` from :func:`agent_sprites`.
    """

    def __init__(self) -> None:
        motif, bases, parts = tile_art()
        reps = (VIEW_TILES, VIEW_TILES)
        self.bases = np.stack([np.tile(b, reps) for b in bases])
        self.parts = np.stack([np.tile(q, reps) for q in parts])
        self.motif = np.tile(motif, (5, 5))
        self.palettes = palettes().reshape(NUM_THEMES * NUM_ENTRIES, 3)
        self.agent = agent_sprites()

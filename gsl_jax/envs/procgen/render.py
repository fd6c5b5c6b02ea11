"""Frame rendering shared by the JAX Procgen games: a tile atlas drawn by our own code, per-level
colour themes, a 64x64 tile-grid renderer and a sprite paster.

An :class:`Atlas` stores, for each tile type, a small ``[T, T]`` *pattern* of colour slots rather
than RGB pixels; a theme supplies the RGB colour of every slot of every tile
(``palettes [num_themes, num_tiles, K, 3]``). The renderer first builds the palette entry of every
pixel with a few uint8 ``where`` selects against static per-tile pixel patterns, then colours the
frame with one gather from the level's small palette. (Measured on a 2-core CPU at 256 envs, this
is about twice as fast as selecting RGB values tile by tile; XLA's CPU gathers cost about 1.5 ns
per element, so the renderer does exactly one per pixel.)

Tile 0 is the background: it is drawn everywhere first. A tile whose ``transparent`` flag is set
shows the background through its slot 0, which is how sprites (the agent, the goal) sit on the
floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

FRAME_SIZE = 64


@dataclass(frozen=True, eq=False)
class Atlas:
    """The look of a game's tiles.

    Attributes:
        patterns: uint8 ``[num_tiles, T, T]``, the colour slot of every texel (row 0 at the top).
        transparent: bool ``[num_tiles]``; True where slot 0 of the tile lets the background show.
        palettes: uint8 ``[num_themes, num_tiles, K, 3]``, the RGB colour of every slot per theme.
    """

    patterns: np.ndarray
    transparent: np.ndarray
    palettes: np.ndarray

    def __post_init__(self) -> None:
        num_tiles, t0, t1 = self.patterns.shape
        if t0 != t1:
            raise ValueError(f"patterns: tiles must be square, got {t0}x{t1}")
        if self.palettes.ndim != 4 or self.palettes.shape[1] != num_tiles:
            raise ValueError(
                f"palettes: expected [num_themes, {num_tiles}, K, 3], got {self.palettes.shape}"
            )
        if int(self.patterns.max()) >= self.palettes.shape[2]:
            raise ValueError("patterns: a texel uses a colour slot the palettes do not define")

    @property
    def num_themes(self) -> int:
        return self.palettes.shape[0]

    @property
    def num_tiles(self) -> int:
        return self.patterns.shape[0]


class TileRenderer:
    """Draws a ``[W, W]`` grid of tile ids as a ``[64, 64, 3]`` uint8 frame.

    As in Procgen's ``BasicAbstractGame`` (with ``center_agent`` off) the whole world fills the
    frame: one cell is ``64 / W`` pixels wide, so cells are not whole pixels (4.27 px for W = 15);
    pixel ``p`` shows the cell under its centre, ``floor((p + 0.5) * W / 64)``, and the texel
    under its centre within that cell. The pixel-to-cell and pixel-to-texel maps are static numpy
    arrays computed once here.
    """

    def __init__(self, world_dim: int, atlas: Atlas, size: int = FRAME_SIZE):
        if world_dim < 1 or world_dim > size:
            raise ValueError(f"world_dim: must lie in [1, {size}], got {world_dim}")
        self.world_dim = world_dim
        self.atlas = atlas
        self.size = size
        pos = (np.arange(size) + 0.5) * world_dim / size
        self._cell = np.minimum(pos.astype(np.int32), world_dim - 1)  # [size]
        tex = atlas.patterns.shape[1]
        texel = np.minimum(((pos - self._cell) * tex).astype(np.int32), tex - 1)  # [size]
        # [num_tiles, size, size]: the colour slot every pixel would show for every tile type ...
        slots = atlas.patterns[:, texel[:, None], texel[None, :]]
        # ... and the palette entry (tile * K + slot) it would show; transparent slots are 0.
        k = atlas.palettes.shape[2]
        offsets = np.arange(atlas.num_tiles)[:, None, None] * k
        entries = np.where((slots == 0) & atlas.transparent[:, None, None], 0, slots + offsets)
        # uint8 entries keep the per-pixel selects narrow (4x less data than int32).
        dtype = np.uint8 if entries.max() < 256 else np.int32
        self._entries = entries.astype(dtype)
        self._palettes = atlas.palettes.reshape(atlas.num_themes, atlas.num_tiles * k, 3)

    def render(self, tiles: jax.Array, theme: jax.Array) -> jax.Array:
        """Draw ``tiles`` (int ``[W, W]`` of tile ids) in colour theme ``theme`` (int32 ``[]``).

        Returns uint8 ``[size, size, 3]``.
        """
        # Upsample cell ids to pixels with two static takes (row gather, then column gather).
        ids = jnp.take(jnp.take(tiles.astype(jnp.uint8), self._cell, axis=0), self._cell, axis=1)
        # Palette entry (tile * K + slot) of every pixel: uint8 selects over [size, size].
        entry = jnp.asarray(self._entries[0])
        for t in range(1, self.atlas.num_tiles):
            mask = ids == t
            if self.atlas.transparent[t]:
                mask = mask & (self._entries[t] != 0)
            entry = jnp.where(mask, jnp.asarray(self._entries[t]), entry)
        # One small gather colours the frame; cheaper here than a select per palette colour.
        return jnp.asarray(self._palettes)[theme][entry]


def paste_sprite(
    frame: jax.Array, rgb: jax.Array, alpha: jax.Array, top: jax.Array, left: jax.Array
) -> jax.Array:
    """Paste a sprite onto ``frame`` with its top-left pixel at ``(top, left)``.

    Args:
        frame: uint8 ``[H, W, 3]``.
        rgb: uint8 ``[h, w, 3]``, the sprite's colours.
        alpha: bool ``[h, w]``, True where the sprite is opaque.
        top, left: int32 ``[]`` pixel position; clamped so the sprite stays inside the frame
            (``lax.dynamic_slice`` semantics).

    Returns:
        uint8 ``[H, W, 3]``. Under ``vmap`` the slice and update move one ``h x w`` block per
        frame, so pasting costs far less than a per-pixel gather.
    """
    h, w = alpha.shape
    top = jnp.clip(top, 0, frame.shape[0] - h)
    left = jnp.clip(left, 0, frame.shape[1] - w)
    patch = jax.lax.dynamic_slice(frame, (top, left, 0), (h, w, 3))
    patch = jnp.where(alpha[..., None], rgb, patch)
    return jax.lax.dynamic_update_slice(frame, patch, (top, left, 0))


# --------------------------------------------------------------------------------------------
# Drawing helpers for building atlases (numpy, run once at construction)
# --------------------------------------------------------------------------------------------
def texel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y, x)`` float ``[size, size]`` coordinates of texel centres in ``[0, 1]``."""
    c = (np.arange(size) + 0.5) / size
    return np.meshgrid(c, c, indexing="ij")


def ellipse(size: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """bool ``[size, size]``: texels inside the ellipse (coordinates in units of the tile)."""
    y, x = texel_centres(size)
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def bricks(size: int, rows: int = 2, mortar: int = 1) -> np.ndarray:
    """bool ``[size, size]``: True on the mortar lines of a running-bond brick wall."""
    out = np.zeros((size, size), bool)
    course = size // rows
    for r in range(rows):
        y0 = r * course
        out[y0 : y0 + mortar, :] = True
        joint = (size // 2) * (r % 2)
        out[y0 : y0 + course, joint : joint + mortar] = True
    return out


def speckle(size: int, density: float, seed: int) -> np.ndarray:
    """bool ``[size, size]``: a fixed random speckle (the same for every level)."""
    return np.random.default_rng(seed).random((size, size)) < density

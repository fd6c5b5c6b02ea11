"""Frame rendering shared by the JAX Procgen games: a tile atlas drawn by our own code, per-level
colour themes and a 64x64 tile-grid renderer with an optional overlay layer.

An :class:`Atlas` stores, for each tile type, a small ``[T, T]`` *pattern* of colour slots rather
than RGB pixels; a theme supplies the RGB colour of every slot of every tile
(``palettes [num_themes, num_tiles, K, 3]``). The renderer first builds the palette entry of every
pixel with a few uint8 ``where`` selects against static per-tile pixel patterns, then colours the
frame with one gather from the level's small palette: exactly one gather per pixel, which on
XLA:CPU beats selecting RGB values tile by tile (figures in ``docs/benchmarks.md``, section 4).

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
    """Draws a ``[W, W]`` grid of tile ids as a ``[64, 64, 3]`` uint8 frame, optionally with an
    overlay layer of extra colours on top (sprites at sub-tile positions, a HUD).

    As in Procgen's ``BasicAbstractGame`` (with ``center_agent`` off) the whole world fills the
    frame: one cell is ``64 / W`` pixels wide, so cells are not whole pixels (4.27 px for W = 15);
    pixel ``p`` shows the cell under its centre, ``floor((p + 0.5) * W / 64)``, and the texel
    under its centre within that cell. The pixel-to-cell and pixel-to-texel maps are static numpy
    arrays computed once here.

    Args:
        world_dim: ``W``, cells per side.
        atlas: the tiles' look.
        size: frame side in pixels.
        overlay_rgb: uint8 ``[n, 3]``, the colours of overlay classes ``1 .. n`` (row ``i - 1``
            is class ``i``), or ``None`` for no overlay.

    The overlay is drawn by choosing each pixel's palette entry before the single colour
    gather: selecting on the finished RGB frame instead makes XLA:CPU redo the whole tile
    render for every channel, and pasting with ``dynamic_update_slice`` becomes a scatter under
    ``vmap``.
    """

    def __init__(
        self,
        world_dim: int,
        atlas: Atlas,
        size: int = FRAME_SIZE,
        overlay_rgb: np.ndarray | None = None,
    ):
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
        palettes = atlas.palettes.reshape(atlas.num_themes, atlas.num_tiles * k, 3)
        #: Palette entry of overlay colour ``i`` (``i >= 1``) is ``overlay_base + i``.
        self.overlay_base = atlas.num_tiles * k - 1
        if overlay_rgb is not None:
            overlay_rgb = np.asarray(overlay_rgb, np.uint8)
            extra = np.broadcast_to(overlay_rgb, (atlas.num_themes,) + overlay_rgb.shape)
            palettes = np.concatenate([palettes, extra], axis=1)
            if palettes.shape[1] > 256:
                raise ValueError("overlay_rgb: too many colours for uint8 palette entries")
        # uint8 entries keep the per-pixel selects narrow (4x less data than int32).
        dtype = np.uint8 if palettes.shape[1] <= 256 else np.int32
        self._entries = entries.astype(dtype)
        self._palettes = palettes.astype(np.uint8)

    def render(
        self, tiles: jax.Array, theme: jax.Array, overlay: jax.Array | None = None
    ) -> jax.Array:
        """Draw ``tiles`` (int ``[W, W]`` of tile ids) in colour theme ``theme`` (int32 ``[]``),
        with ``overlay`` (uint8 ``[size, size]``, 0 = none, ``i`` = overlay colour ``i``) on top
        when given (the renderer must have been built with ``overlay_rgb``).

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
        if overlay is not None:
            if self._palettes.shape[1] == self.overlay_base + 1:
                raise ValueError("overlay: this renderer was built without overlay_rgb")
            entry = jnp.where(overlay > 0, overlay + np.uint8(self.overlay_base), entry)
        # One small gather colours the frame; cheaper here than a select per palette colour.
        return jnp.asarray(self._palettes)[theme][entry]


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

"""Tile-grid building blocks of heist's level generator (mazegen.cpp's
``generate_maze_with_doors``): neighbour counts, uniform picks from hashed noise and a search
that records which lock each tile lies behind.

All functions are pure ``jax.numpy`` on static ``[W, W]`` shapes (row 0 at the top), so they jit
and nest under ``vmap``. None of them depends on heist's tile ids.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

#: The 4-neighbourhood as ``(d_row, d_col)``.
NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def shift(grid: jax.Array, d_row: int, d_col: int, fill: Any) -> jax.Array:
    """``out[r, c] = grid[r - d_row, c - d_col]`` (a static shift of a ``[W, W]`` grid by at most
    one tile per axis), ``fill`` where that falls outside."""
    w = grid.shape[0]
    padded = jnp.pad(grid, 1, constant_values=fill)
    return jax.lax.slice(padded, (1 - d_row, 1 - d_col), (1 - d_row + w, 1 - d_col + w))


def open_neighbours(open_grid: jax.Array) -> jax.Array:
    """int32 ``[W, W]``: the number of open 4-neighbours of every tile of ``open_grid`` (bool
    ``[W, W]``); outside the grid counts as closed."""
    return sum(shift(open_grid, dr, dc, False).astype(jnp.int32) for dr, dc in NEIGHBOURS)


def pick(noise: jax.Array, mask: jax.Array) -> jax.Array:
    """Flat index (int32 ``[]``) of the ``True`` entry of ``mask`` with the largest ``noise``
    (both ``[W, W]``, ``noise`` distinct uint32): a uniform pick among the ``True`` entries when
    ``noise`` is random; 0 if ``mask`` is empty."""
    scores = jnp.where(mask, noise | jnp.uint32(1), jnp.uint32(0)).reshape(-1)
    # Two plain reductions (max, then the index holding it) rather than argmax, whose variadic
    # reduce is slow on XLA:CPU.
    best = jnp.max(scores)
    index = jnp.arange(scores.shape[0], dtype=jnp.int32)
    return jnp.min(jnp.where(scores == best, index, scores.shape[0] - 1)).astype(jnp.int32)


def hash_noise(words: jax.Array, n: int) -> jax.Array:
    """``n`` distinct pseudo-random uint32 (``[n]``) from two seed words (uint32 ``[2]``):
    murmur3's 32-bit finaliser applied to ``i * golden + words[0]`` (xor ``words[1]``).

    The finaliser is a bijection, so the ``n`` values are distinct. It stands in for threefry
    draws of the same size, which cost far more than a few integer ops on XLA:CPU.
    """
    x = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(0x9E3779B9) + words[0]
    x = x ^ words[1]
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def search_from(
    start: jax.Array, open_grid: jax.Array, gate: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Breadth-first search over the open tiles of a perfect maze from the tile ``start``.

    Args:
        start: bool ``[W, W]``, one True tile (not a gate).
        open_grid: bool ``[W, W]``.
        gate: int32 ``[W, W]``: ``j + 1`` on the tile of lock ``j`` (``j < 7``), else 0.

    Returns:
        ``(dist, region)`` int32 ``[W, W]``: search distance from ``start`` (-1 where unreached)
        and the lock behind which each tile lies: ``j + 1`` if the last lock on the path from
        ``start`` (the tile itself excluded) is lock ``j``, 0 if there is none. In a perfect maze
        every tile has a single parent, so a tile takes its region from it.
    """
    # One int32 array (dist + 1) * 8 + region (0 = unreached) carries the whole search, one
    # layer per loop step: fewer, larger fusions per step than separate distance, region and
    # frontier arrays.

    def layer(enc: jax.Array, d: jax.Array) -> jax.Array:
        front = (enc >> 3) == d + 1
        # What each frontier tile hands its neighbours: 1 + the region behind it.
        handed = jnp.where(front, jnp.where(gate > 0, gate, enc & 7) + 1, 0)
        padded = jnp.pad(handed, 1)
        incoming = jnp.maximum(
            jnp.maximum(padded[:-2, 1:-1], padded[2:, 1:-1]),
            jnp.maximum(padded[1:-1, :-2], padded[1:-1, 2:]),
        )
        new = (incoming > 0) & open_grid & (enc == 0)
        return jnp.where(new, (d + 2) * 8 + incoming - 1, enc)

    def cond(carry):
        enc, d = carry
        return jnp.any((enc >> 3) == d + 1)

    def body(carry):
        enc, d = carry
        return layer(enc, d), d + 1

    enc = jnp.where(start, 8, 0).astype(jnp.int32)
    enc, _ = jax.lax.while_loop(cond, body, (enc, jnp.zeros((), jnp.int32)))
    return (enc >> 3) - 1, enc & 7

"""leaper's random draws, computed entry by entry with our own unrolled Threefry-2x32.

Each value here equals what ``jax.random`` gives for the same key (JAX's default,
``jax_threefry_partitionable``, threefry generator; tests/test_procgen_leaper.py checks it), so
a level and its traffic are the same as with ``jax.random.uniform``. Why not call
``jax.random``: on CPU JAX lowers Threefry as a rolled five-iteration loop whose every round
writes whole arrays to memory, while the same 20 rounds written out below fuse into one
elementwise kernel, several times faster; and :func:`uniform_at` draws only the entries that
are used (leaper's pre-start traffic needs the spawn test of every step but the car colour only
of the cars that are still there at the start).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: Threefry-2x32's rotation distances (Salmon et al. 2011, 20 rounds) and key-schedule parity.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA


def _rotl(x: jax.Array, d: int) -> jax.Array:
    return (x << jnp.uint32(d)) | (x >> jnp.uint32(32 - d))


def threefry2x32(key: jax.Array, c0: jax.Array, c1: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 of the counter words ``(c0, c1)`` (uint32, broadcast together) under
    ``key`` (uint32 ``[2]`` key data): the two output words, each of the counters' shape."""
    k = (key[0], key[1], key[0] ^ key[1] ^ jnp.uint32(_PARITY))
    x0, x1 = c0 + k[0], c1 + k[1]
    for group in range(5):
        for d in _ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, d) ^ x0
        x0 = x0 + k[(group + 1) % 3]
        x1 = x1 + k[(group + 2) % 3] + jnp.uint32(group + 1)
    return x0, x1


def uniform_at(key: jax.Array, index: jax.Array) -> jax.Array:
    """float32 of ``index``'s shape: the entries ``index`` (non-negative int32) of the flattened
    ``jax.random.uniform(wrap_key_data(key), shape)``, for any ``shape`` with more entries than
    the largest index; ``key``: uint32 ``[2]`` key data.

    JAX draws entry ``i`` from ``threefry2x32(key, (0, i))``: the xor of its two words, whose
    top 23 bits become the mantissa of a float in ``[1, 2)``, minus 1.
    """
    index = jnp.asarray(index).astype(jnp.uint32)
    x0, x1 = threefry2x32(key, jnp.zeros_like(index), index)
    bits = ((x0 ^ x1) >> jnp.uint32(9)) | jnp.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(bits, jnp.float32) - jnp.float32(1.0)


def fold_in(key: jax.Array, data: jax.Array) -> jax.Array:
    """uint32 ``[2]``: the key data of ``jax.random.fold_in(wrap_key_data(key), data)`` for
    int32 ``data >= 0`` (the two words of ``threefry2x32(key, (0, data))``)."""
    x0, x1 = threefry2x32(key, jnp.uint32(0), jnp.asarray(data).astype(jnp.uint32))
    return jnp.stack([x0, x1])

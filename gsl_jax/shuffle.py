"""Random permutations for minibatch shuffling, cheaper on XLA:CPU than jax.random.permutation."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def shuffle_indices(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random permutation of ``0 .. n-1`` (int32 ``[n]``), faster on CPU than
    ``jax.random.permutation``.

    Each round sorts ONE uint32 array whose high bits are random and whose low
    ``b = ceil(log2 n)`` bits hold the position, so the sorted low bits are a random permutation;
    XLA sorts a single operand much faster than the key-value pair that ``permutation`` sorts.
    Ties in the random bits (probability ``2**-(32 - b)`` per pair) keep position order, so it
    runs ``ceil(3 b / (32 - b))`` independent rounds and composes them: at least ``3 b`` random
    bits per element, the budget ``jax.random.permutation`` spends (``ceil(3 b / 32)`` rounds of
    32-bit keys). For ``n > 2**24`` too few bits would be left, so it falls back to
    ``jax.random.permutation``.
    """
    bits = max(1, (n - 1).bit_length())
    if bits > 24:
        return jax.random.permutation(key, n)
    rounds = math.ceil(3 * bits / (32 - bits))
    mask = jnp.uint32((1 << bits) - 1)
    position = jnp.arange(n, dtype=jnp.uint32)
    perm = position
    for round_key in jax.random.split(key, rounds):
        packed = (jax.random.bits(round_key, (n,), jnp.uint32) & ~mask) | position
        perm = perm[jax.lax.sort(packed) & mask]
    return perm.astype(jnp.int32)

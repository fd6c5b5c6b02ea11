"""Choosing the specialists' variations: the N_lenv lowest-performing ones, split N_s ways.

Algorithm 1, steps 6-7 of the paper: rank the variations by the generalist's evaluation score
(mean return by default, or success rate), take the ``n_low`` lowest (ties broken at random from
a PRNG key: with few evaluation episodes many variations score exactly 0, and breaking ties by id
would hand the specialists the lowest ids every time), and split them into ``n_specialists``
disjoint subsets whose sizes differ by at most one: at random (default, as third-party
re-implementations do) or in contiguous runs of the ranking.
"""

from __future__ import annotations

from typing import Literal

import jax
import numpy as np

SplitMode = Literal["random", "contiguous"]


def lowest_variations(
    variations: np.ndarray, scores: np.ndarray, n_low: int, key: jax.Array
) -> np.ndarray:
    """The ``n_low`` variations with the lowest ``scores`` (``[V]`` each), lowest first; among
    equal scores the order is a random permutation drawn from ``key`` (never a higher score
    before a lower one)."""
    variations = np.asarray(variations).reshape(-1)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if variations.shape != scores.shape:
        raise ValueError(f"scores: {scores.size} scores for {variations.size} variations")
    if not 1 <= n_low <= variations.size:
        raise ValueError(
            f"n_low: must lie in [1, {variations.size}] (the number of variations), got {n_low}"
        )
    tiebreak = np.asarray(jax.random.permutation(key, variations.size))
    order = np.lexsort((tiebreak, scores))  # by score, then by the random rank
    return variations[order[:n_low]]


def split_variations(
    variations: np.ndarray,
    n_specialists: int,
    mode: SplitMode = "random",
    seed: int = 0,
) -> list[np.ndarray]:
    """Split ``variations`` into ``n_specialists`` disjoint, non-empty subsets.

    ``"random"`` shuffles with ``seed`` first; ``"contiguous"`` keeps the given order (e.g. the
    ranking, so that each specialist gets variations of similar difficulty).
    """
    variations = np.asarray(variations).reshape(-1)
    if n_specialists < 1:
        raise ValueError(f"n_specialists: must be >= 1, got {n_specialists}")
    if n_specialists > variations.size:
        raise ValueError(
            f"n_specialists: {n_specialists} specialists need at least as many variations, "
            f"but only {variations.size} (n_low) were selected"
        )
    if mode == "random":
        variations = np.random.default_rng(seed).permutation(variations)
    elif mode != "contiguous":
        raise ValueError(f"split: must be 'random' or 'contiguous', got {mode!r}")
    return [np.sort(part) for part in np.array_split(variations, n_specialists)]

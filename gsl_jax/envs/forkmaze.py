"""ForkMaze: a small family of context-dependent mazes on which one PPO policy plateaus.

The environment is built to show the motivation of generalist-specialist learning on a CPU in
seconds. An episode walks down a corridor of ``depth`` forks; at each fork the agent turns left
(action 0) or right (action 1). A wrong turn leads into a dead end and ends the episode with no
reward; taking all ``depth`` turns right reaches the goal: reward 1 and ``success``.

The *variation* fixes which path is right, and the observation shows a *cue* that identifies the
variation, so the right turn at each fork depends on the context:

* variations ``num_hard .. num_variations - 1`` are **easy**: their path is all left turns;
* variations ``0 .. num_hard - 1`` are **hard**: their path is a random sequence of turns (drawn
  from the variation id, with at least ``depth // 3`` right turns).

The cue is a fixed random binary code of ``cue_bits`` bits per variation (drawn from the id), so
variations share features and a network generalises across them. That is what makes the family
hard for a single policy: the easy majority quickly teaches the shared network to turn left
everywhere, its exploration on the hard cues collapses with it, and since a hard path is found by
chance with probability ``2 ** -depth`` at best, PPO stops improving at the easy variations'
share. A specialist trained only on a few hard variations has no easy majority pulling it back,
so its entropy bonus restores exploration and it finds their paths; its demonstrations then teach
the generalist (phase II with DAPG).

Observation: float32 ``[cue_bits + depth]``, the cue (0/1) followed by a one-hot of the fork
index. Episodes last at most ``depth`` steps; ``max_episode_steps = depth``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from gsl_jax.envs.core import Box, Discrete, Info, StateEnvironment, make_info


@struct.dataclass
class ForkMazeState:
    """One episode: the variation's path and cue, and how far the agent got.

    Attributes:
        path: int32 ``[depth]`` the right turn (0 left, 1 right) at each fork.
        cue: float32 ``[cue_bits]`` the variation's cue.
        fork: int32 ``[]`` the fork the agent stands at.
        variation: int32 ``[]``.
    """

    path: jax.Array
    cue: jax.Array
    fork: jax.Array
    variation: jax.Array


class ForkMaze(StateEnvironment):
    """The fork maze family (see the module docstring).

    Args:
        num_variations: size of the family.
        num_hard: how many of them (ids ``0 .. num_hard - 1``) have a random path.
        depth: forks per maze; a blind guess finds a hard path with probability ``2 ** -depth``.
        cue_bits: length of the binary cue in the observation.
        seed: seed of the family (cues and hard paths).
    """

    action_space = Discrete(2)
    deterministic_reset = True

    def __init__(
        self,
        num_variations: int = 32,
        num_hard: int = 4,
        depth: int = 8,
        cue_bits: int = 8,
        seed: int = 0,
        **options: Any,
    ):
        if options:
            raise ValueError(f"{sorted(options)[0]}: unknown ForkMaze option")
        if num_variations < 1:
            raise ValueError(f"num_variations: must be positive, got {num_variations}")
        if not 0 <= num_hard <= num_variations:
            raise ValueError(f"num_hard: must lie in [0, {num_variations}], got {num_hard}")
        if depth < 1:
            raise ValueError(f"depth: must be positive, got {depth}")
        if cue_bits < 1 or 2**cue_bits < num_variations:
            raise ValueError(
                f"cue_bits: {cue_bits} bits cannot tell {num_variations} variations apart"
            )
        self.num_variations = int(num_variations)
        self.num_hard = int(num_hard)
        self.depth = int(depth)
        self.cue_bits = int(cue_bits)
        self.seed = int(seed)
        self.max_episode_steps = self.depth
        self.observation_space = Box((self.cue_bits + self.depth,), 0.0, 1.0, jnp.float32)
        self.cues, self.paths = self._family()

    @property
    def name(self) -> str:
        return f"forkmaze-{self.num_variations}x{self.depth}"

    def _family(self) -> tuple[jax.Array, jax.Array]:
        """Distinct cues ``[V, cue_bits]`` and paths ``[V, depth]`` of the whole family."""
        k_cue, k_path = jax.random.split(jax.random.key(self.seed))
        codes = jax.random.permutation(k_cue, 2**self.cue_bits)[: self.num_variations]
        bits = (codes[:, None] >> jnp.arange(self.cue_bits)) & 1
        random_paths = jax.random.bernoulli(k_path, 0.5, (self.num_variations, self.depth))
        # at least depth // 3 right turns, so a hard path never coincides with the easy one
        need = jnp.arange(self.depth) < max(1, self.depth // 3)
        random_paths = random_paths | need[None, :]
        order = jax.vmap(lambda k: jax.random.permutation(k, self.depth))(
            jax.random.split(k_path, self.num_variations)
        )
        random_paths = jnp.take_along_axis(random_paths, order, axis=1)
        hard = jnp.arange(self.num_variations) < self.num_hard
        paths = jnp.where(hard[:, None], random_paths, False)
        return bits.astype(jnp.float32), paths.astype(jnp.int32)

    def init_state(self, key: jax.Array, variation: jax.Array) -> ForkMazeState:
        del key  # a variation always starts the same way
        v = jnp.asarray(variation, jnp.int32)
        return ForkMazeState(self.paths[v], self.cues[v], jnp.zeros((), jnp.int32), v)

    def transition(
        self, key: jax.Array, state: ForkMazeState, action: jax.Array
    ) -> tuple[ForkMazeState, jax.Array, jax.Array, Info]:
        del key
        right = jnp.asarray(action, jnp.int32) == state.path[state.fork]
        fork = state.fork + 1
        reached = right & (fork == self.depth)
        done = ~right | reached
        reward = reached.astype(jnp.float32)
        return state.replace(fork=fork), reward, done, make_info(reached, False, state.variation)

    def observe(self, state: ForkMazeState) -> jax.Array:
        where = jax.nn.one_hot(jnp.minimum(state.fork, self.depth - 1), self.depth)
        return jnp.concatenate([state.cue, where]).astype(jnp.float32)

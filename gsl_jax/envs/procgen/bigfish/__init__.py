"""Procgen *bigfish* in JAX (:mod:`.game`)."""

from gsl_jax.envs.procgen.bigfish.game import FISH_ASPECT, BigFish, BigFishState, palettes

__all__ = ["FISH_ASPECT", "BigFish", "BigFishState", "palettes"]

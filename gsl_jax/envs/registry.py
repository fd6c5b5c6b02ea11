"""Build any of gsl_jax's environments by name, as the command line and the benchmarks do.

Names:

* ``"forkmaze"``: :class:`~gsl_jax.envs.forkmaze.ForkMaze` (options: num_variations, num_hard,
  depth, cue_bits, seed);
* a gymnax id with a variation family, e.g. ``"CartPole-v1"``
  (:class:`~gsl_jax.envs.gymnax.GymnaxEnv`);
* a Procgen game with a JAX port, e.g. ``"maze"`` or ``"coinrun"``
  (:func:`gsl_jax.envs.procgen.make`; options: distribution_mode, obs_mode, ...).

``make_env(name, **options)`` returns the environment; ``env_spec(name, **options)`` is the JSON
record a run saves so that it can rebuild the same environment on resume.
"""

from __future__ import annotations

from typing import Any

from gsl_jax.envs.core import Environment


def env_names() -> list[str]:
    """Every name :func:`make_env` accepts."""
    from gsl_jax.envs.gymnax import SPECS
    from gsl_jax.envs.procgen import GAMES

    return ["forkmaze", *sorted(SPECS), *sorted(GAMES)]


def make_env(name: str, **options: Any) -> Environment:
    """The environment called ``name`` built with ``options``; ``ValueError`` naming ``env`` for
    an unknown name."""
    from gsl_jax.envs.gymnax import SPECS, GymnaxEnv
    from gsl_jax.envs.procgen import GAMES
    from gsl_jax.envs.procgen import make as make_procgen

    if name == "forkmaze":
        from gsl_jax.envs.forkmaze import ForkMaze

        return ForkMaze(**options)
    if name in SPECS:
        return GymnaxEnv(name, **options)
    if name in GAMES:
        return make_procgen(name, **options)
    raise ValueError(f"env: unknown environment {name!r}; known ones are {env_names()}")


def env_spec(name: str, **options: Any) -> dict[str, Any]:
    """The JSON-ready record ``{"name": ..., "options": {...}}`` that rebuilds the env."""
    return {"name": name, "options": dict(options)}

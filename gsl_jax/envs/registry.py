"""Build any of gsl_jax's environments by name, as the command line and the benchmarks do.

Names:

* ``"forkmaze"``: :class:`~gsl_jax.envs.forkmaze.ForkMaze` (options: num_variations, num_hard,
  depth, cue_bits, seed);
* any gymnax id, e.g. ``"CartPole-v1"`` or ``"Breakout-MinAtar"``
  (:class:`~gsl_jax.envs.gymnax.GymnaxEnv`; option: family, default the standard parameters);
* a Procgen game with a JAX port, e.g. ``"maze"`` or ``"coinrun"``
  (:func:`gsl_jax.envs.procgen.make`; options: distribution_mode, obs_mode, ...).

``make_env(name, **options)`` returns the environment; ``env_spec(name, **options)`` is the JSON
record a run saves so that it can rebuild the same environment on resume.
"""

from __future__ import annotations

import inspect
from typing import Any

from gsl_jax.envs.core import Environment


def env_names() -> list[str]:
    """Every name :func:`make_env` accepts."""
    from gsl_jax.envs.gymnax import gymnax_ids
    from gsl_jax.envs.procgen import GAMES

    return ["forkmaze", *gymnax_ids(), *sorted(GAMES)]


def make_env(name: str, **options: Any) -> Environment:
    """The environment called ``name`` built with ``options``; ``ValueError`` naming ``env`` for
    an unknown name."""
    from gsl_jax.envs.gymnax import GymnaxEnv, gymnax_ids
    from gsl_jax.envs.procgen import GAMES
    from gsl_jax.envs.procgen import make as make_procgen

    if name == "forkmaze":
        from gsl_jax.envs.forkmaze import ForkMaze

        return ForkMaze(**options)
    if name in gymnax_ids():
        return GymnaxEnv(name, **options)
    if name in GAMES:
        return make_procgen(name, **options)
    raise ValueError(f"env: unknown environment {name!r}; known ones are {env_names()}")


def _constructor_defaults(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keyword defaults of ``cls.__init__`` (less ``self``, ``**options`` and ``skip``)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.name != "self" and p.name not in skip and p.default is not inspect.Parameter.empty
    }


def default_options(name: str) -> dict[str, Any]:
    """Every option of the env called ``name`` with its default value, as the env resolves it
    (a Procgen port's timeout is the game's own; a gymnax env's family is ``{}``, the standard
    parameters)."""
    from gsl_jax.envs.gymnax import GymnaxEnv, gymnax_ids
    from gsl_jax.envs.procgen import GAMES, game_class

    if name == "forkmaze":
        from gsl_jax.envs.forkmaze import ForkMaze

        return _constructor_defaults(ForkMaze)
    if name in gymnax_ids():
        defaults = _constructor_defaults(GymnaxEnv, skip=("name",))
        defaults["family"] = {}  # None and {} both mean gymnax's standard parameters
        return defaults
    if name in GAMES:
        port = game_class(name)
        defaults = {**_constructor_defaults(port), **port.option_defaults}
        defaults["timeout"] = port.default_timeout
        return defaults
    raise ValueError(f"env: unknown environment {name!r}; known ones are {env_names()}")


def env_spec(name: str, **options: Any) -> dict[str, Any]:
    """The JSON-ready record ``{"name": ..., "options": {...}}`` that rebuilds the env: every
    option, the defaults filled in, so that a run resumed or evaluated later on a version whose
    defaults changed is refused (naming the option) instead of silently using another env."""
    return {"name": name, "options": {**default_options(name), **options}}

"""JAX re-implementations of OpenAI Procgen games, and the registry that builds them by name.

Every game is a package (``maze/``, ``heist/``, ...) on the :class:`~.port.ProcgenPort` base
(``port``), which owns what all games share. The games also share ``grid`` (actions, level
seeds, maze generation), ``render`` (tile atlas, themes, the 64x64 tile renderer), ``movement``
(Procgen's kinematics) and ``entities`` (fixed-capacity entity pools and their painting).
``docs/adding_a_game.md`` is the checklist for a new port.

The registry :data:`GAMES` maps a Procgen game name to the ``"module:Class"`` of its port. A port
module is imported only when :func:`make` (or :func:`game_class`) asks for it, so one port that
fails to import does not break ``import gsl_jax.envs.procgen`` or the other games; it fails when
used, with an ``ImportError`` that names the game. :func:`available_games` imports them all and
so raises for a broken one rather than letting it drop silently out of a benchmark.

    env = make("coinrun", distribution_mode="easy", obs_mode="pixels")
"""

from __future__ import annotations

import importlib
from typing import Any

from gsl_jax.envs.core import Environment
from gsl_jax.envs.procgen.grid import ACTION_NAMES, NUM_ACTIONS
from gsl_jax.envs.procgen.maze import Maze, MazeState

#: Procgen game name -> ``"module:Class"`` of its JAX port (imported lazily).
GAMES: dict[str, str] = {
    "maze": "gsl_jax.envs.procgen.maze:Maze",
    "heist": "gsl_jax.envs.procgen.heist:Heist",
    "bigfish": "gsl_jax.envs.procgen.bigfish:BigFish",
    "coinrun": "gsl_jax.envs.procgen.coinrun:CoinRun",
    "chaser": "gsl_jax.envs.procgen.chaser:Chaser",
    "leaper": "gsl_jax.envs.procgen.leaper:Leaper",
    "miner": "gsl_jax.envs.procgen.miner:Miner",
    "dodgeball": "gsl_jax.envs.procgen.dodgeball:Dodgeball",
}

#: Procgen's distribution modes (procgen ``game.cpp``: easy 0, hard 1, extreme 2, memory 10,
#: exploration 20). A port supports a subset and its constructor rejects the rest.
DISTRIBUTION_MODES: tuple[str, ...] = ("easy", "hard", "extreme", "memory", "exploration")


def _check_game(game: str) -> str:
    if not isinstance(game, str) or game not in GAMES:
        raise ValueError(
            f"game: {game!r} is not a Procgen game with a JAX port; known games are {sorted(GAMES)}"
        )
    return game


def game_class(game: str) -> type[Environment]:
    """The port class of ``game`` (a key of :data:`GAMES`), importing its module now.

    Raises ``ValueError`` naming ``game`` for an unknown name and ``ImportError`` naming the game
    when its module is missing or fails to import.
    """
    module_name, class_name = GAMES[_check_game(game)].split(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"game {game!r}: its port {GAMES[game]} cannot be imported ({error})"
        ) from error


def available_games() -> list[str]:
    """Every game of :data:`GAMES`, in registry order, each imported now.

    Raises ``ImportError`` naming the game whose port is missing or fails to import (a broken
    port must fail loudly, not drop out of a benchmark's table).
    """
    for game in GAMES:
        game_class(game)
    return list(GAMES)


def make(
    game: str, distribution_mode: str = "easy", obs_mode: str = "pixels", **options: Any
) -> Environment:
    """Build the JAX port of Procgen ``game``.

    Args:
        game: one of :data:`GAMES` (:func:`available_games` lists them).
        distribution_mode: a Procgen distribution mode; the port raises ``ValueError`` for one it
            does not implement.
        obs_mode: ``"pixels"`` (uint8 ``[64, 64, 3]``) or ``"symbolic"`` (the port's compact
            float32 view, documented in its module).
        **options: passed to the port's constructor (e.g. ``timeout``); unknown ones raise
            ``ValueError`` naming the option.

    Raises:
        ValueError: naming ``game`` (unknown game, with the known ones), ``distribution_mode``
            (not a Procgen mode, or not supported by the port) or the bad option.
    """
    _check_game(game)
    if distribution_mode not in DISTRIBUTION_MODES:
        raise ValueError(
            f"distribution_mode: {distribution_mode!r} is not a Procgen distribution mode; "
            f"choose one of {list(DISTRIBUTION_MODES)}"
        )
    cls = game_class(game)
    return cls(distribution_mode=distribution_mode, obs_mode=obs_mode, **options)


def __getattr__(name: str) -> Any:
    """Lazy access to the other ports' classes, e.g. ``gsl_jax.envs.procgen.CoinRun``."""
    for game, target in GAMES.items():
        if target.split(":")[1] == name:
            return game_class(game)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTION_NAMES",
    "DISTRIBUTION_MODES",
    "GAMES",
    "NUM_ACTIONS",
    "Maze",
    "MazeState",
    "available_games",
    "game_class",
    "make",
]

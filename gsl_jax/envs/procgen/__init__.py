"""JAX re-implementations of OpenAI Procgen games.

``grid`` (actions, level seeds, maze generation) and ``render`` (tile atlas, themes, 64x64
renderer, sprite pasting) are shared by the games; :class:`Maze` is the first game.
"""

from gsl_jax.envs.procgen.grid import ACTION_NAMES, NUM_ACTIONS
from gsl_jax.envs.procgen.maze import Maze, MazeState

__all__ = ["ACTION_NAMES", "NUM_ACTIONS", "Maze", "MazeState"]

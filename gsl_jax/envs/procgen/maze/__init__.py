"""Procgen *maze* in JAX: the rules and level generator (:mod:`.game`) and our own art
(:mod:`.art`)."""

from gsl_jax.envs.procgen.maze.art import FLOOR, GOAL, MOUSE_LEFT, MOUSE_RIGHT, WALL, maze_atlas
from gsl_jax.envs.procgen.maze.game import MOVES, REWARD, TIMEOUT, WORLD_DIM, Maze, MazeState

__all__ = [
    "FLOOR",
    "GOAL",
    "MOUSE_LEFT",
    "MOUSE_RIGHT",
    "MOVES",
    "REWARD",
    "TIMEOUT",
    "WALL",
    "WORLD_DIM",
    "Maze",
    "MazeState",
    "maze_atlas",
]

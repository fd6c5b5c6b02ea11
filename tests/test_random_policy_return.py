"""gsl_jax.evaluation.random_policy_return: the uniform-random baseline of the learning tests
and curves, checked on ForkMaze, whose random return is known: a random walk takes the right turn
at each of ``depth`` forks with probability 1/2, so it reaches the goal (return 1, else 0) with
probability ``2 ** -depth`` on every variation."""

from __future__ import annotations

import math

import pytest

from gsl_jax.envs.forkmaze import ForkMaze
from gsl_jax.evaluation import random_policy_return


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_random_return_of_forkmaze_is_two_to_the_minus_depth(depth):
    env = ForkMaze(num_variations=8, num_hard=4, depth=depth)
    num_envs = 4096
    value = random_policy_return(env, list(range(8)), num_envs=num_envs, seed=0)
    p = 2.0**-depth
    # a mean of num_envs Bernoulli(p) first-episode returns: within 5 standard errors of p
    assert abs(value - p) < 5 * math.sqrt(p * (1 - p) / num_envs), (value, p)
    assert value * num_envs == pytest.approx(round(value * num_envs))  # k successes of num_envs
    # the same seed gives the same value; another seed another sample
    assert random_policy_return(env, list(range(8)), num_envs=num_envs, seed=0) == value
    assert random_policy_return(env, list(range(8)), num_envs=num_envs, seed=1) != value


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": [0, 8]}, "levels: variation ids \\[8\\]"),
        ({"levels": []}, "levels: the variation set is empty"),
        ({"num_envs": 0}, "num_envs: must be a positive integer"),
        ({"num_envs": 2.5}, "num_envs: must be an integer"),
        ({"seed": -1}, "seed: must be >= 0"),
        ({"seed": True}, "seed: must be an integer"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    env = ForkMaze(num_variations=8, depth=2)
    args = {"levels": [0, 1], "num_envs": 4, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        random_policy_return(env, **args)

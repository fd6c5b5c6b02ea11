"""Per-variation evaluation and the choice of the specialists' variations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gsl_jax.envs.core import Box, Discrete, Environment, make_info
from gsl_jax.evaluation import evaluate_variations
from gsl_jax.networks import NetworkConfig, make_network
from gsl_jax.selection import lowest_variations, split_variations


class Countdown(Environment):
    """Variation v: the episode lasts v + 1 steps and pays 1 per step; success iff v is even."""

    num_variations = 10
    max_episode_steps = 20
    observation_space = Box((1,))
    action_space = Discrete(2)

    def reset(self, key, variation):
        state = (jnp.asarray(variation, jnp.int32), jnp.int32(0))
        return jnp.zeros(1), state

    def step(self, key, state, action):
        variation, t = state
        t = t + 1
        done = t > variation
        info = make_info(done & (variation % 2 == 0), False, variation)
        return jnp.zeros(1), (variation, t), jnp.float32(1.0), done, info


def test_evaluate_variations_by_hand():
    env = Countdown()
    net = make_network(NetworkConfig(hidden=(8,)), env.action_space, (1,))
    params = net.init(jax.random.key(0), jnp.zeros((1, 1)))
    scores = evaluate_variations(env, net, params, [0, 3, 4], episodes=2, seed=1)
    assert scores.returns.tolist() == [[1, 1], [4, 4], [5, 5]]
    assert scores.lengths.tolist() == [[1, 1], [4, 4], [5, 5]]
    assert scores.success.tolist() == [[True, True], [False, False], [True, True]]
    assert scores.finished.all()
    capped = evaluate_variations(env, net, params, [9], episodes=1, max_steps=5)
    assert capped.returns.tolist() == [[5]] and not capped.finished.any()
    with pytest.raises(ValueError, match="variations: variation ids \\[10\\]"):
        evaluate_variations(env, net, params, [10])


def test_lowest_variations_ranks_by_score_and_breaks_ties_at_random():
    ids = np.array([10, 11, 12, 13, 14])
    scores = np.array([5.0, 1.0, 3.0, 1.0, 9.0])
    # 11 and 13 tie at 1.0: both come before 12 (3.0), in a key-dependent order.
    picks = {tuple(lowest_variations(ids, scores, 3, jax.random.key(k)).tolist()) for k in range(8)}
    assert picks == {(11, 13, 12), (13, 11, 12)}
    with pytest.raises(ValueError, match="n_low: must lie in \\[1, 5\\]"):
        lowest_variations(ids, scores, 6, jax.random.key(0))


def test_tied_zero_scores_are_chosen_by_the_key_and_never_beat_a_lower_score():
    """Two evaluation episodes: most variations score exactly 0. The 4 lowest must be the one
    negative variation plus 3 of the 0-scorers, and which 3 depends on the key (not on the ids)."""
    ids = np.arange(40)
    scores = np.zeros(40)
    scores[25] = -1.0
    scores[::7] = 2.0  # ids 0, 7, 14, 21, 28, 35 scored higher: never picked
    chosen = [lowest_variations(ids, scores, 4, jax.random.key(k)).tolist() for k in range(6)]
    for low in chosen:
        assert low[0] == 25 and all(scores[v] == 0.0 for v in low[1:])
    assert len({tuple(low) for low in chosen}) > 1  # different keys, different ties broken
    first = lowest_variations(ids, scores, 4, jax.random.key(3)).tolist()
    assert first == chosen[3]  # the same key, the same choice
    assert [1, 2, 3] not in [low[1:] for low in chosen]  # not simply the lowest ids


def test_split_variations_is_disjoint_and_balanced():
    ids = np.arange(10)
    parts = split_variations(ids, 3, "random", seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert sorted(len(p) for p in parts) == [3, 3, 4]
    assert [p.tolist() for p in split_variations(ids, 2, "contiguous")] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
    ]
    again = split_variations(ids, 3, "random", seed=0)
    assert all((a == b).all() for a, b in zip(parts, again, strict=True))
    with pytest.raises(ValueError, match="n_specialists: 4 specialists need"):
        split_variations(np.arange(3), 4)

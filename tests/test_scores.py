"""Procgen-normalised scores and the rliable-style aggregates (gsl_jax.scores), against
hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from gsl_jax import scores as sc


def test_normalisation_uses_the_official_constants():
    # coinrun easy: R_min 5, R_max 10 -> 7.5 is halfway, 10 is 1, 0 is -1
    assert sc.normalize_score([7.5, 10.0, 0.0], "coinrun").tolist() == [0.5, 1.0, -1.0]
    # bigfish hard: R_min 0, R_max 40
    assert sc.normalize_score(10.0, "bigfish", "hard") == pytest.approx(0.25)
    # fruitbot easy (real games only): (13.95 - -1.5) / (32.4 - -1.5) = 15.45 / 33.9
    assert sc.normalize_score(13.95, "fruitbot", "easy", "envpool") == pytest.approx(15.45 / 33.9)
    assert sc.score_range("maze", "hard") == (4.0, 10.0)
    assert len(sc.PROCGEN_SCORE_RANGES) == 32
    assert set(g for g, _ in sc.PORT_SCORE_RANGES) == {
        "maze",
        "heist",
        "bigfish",
        "coinrun",
        "chaser",
        "leaper",
        "miner",
        "dodgeball",
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("fruitbot", "easy", "jax"), "game"),  # no port
        (("chess", "easy", "envpool"), "game"),
        (("maze", "memory", "jax"), "distribution_mode"),
        (("maze", "easy", "gym"), "backend"),
    ],
)
def test_unknown_constants_name_the_argument(args, field):
    with pytest.raises(ValueError, match=field):
        sc.score_range(*args)


def test_iqm_drops_a_quarter_at_each_end():
    # 8 scores: drop floor(8/4) = 2 at each end -> mean(3, 4, 5, 6) = 4.5
    assert sc.iqm([[8, 1], [2, 7], [3, 6], [4, 5]]) == pytest.approx(4.5)
    # 6 scores: drop floor(1.5) = 1 at each end -> mean(2, 3, 4, 100) = 27.25
    assert sc.iqm([0, 2, 3, 4, 100, 1000]) == pytest.approx(27.25)
    # fewer than 4 scores: nothing dropped
    assert sc.iqm([1.0, 2.0, 6.0]) == pytest.approx(3.0)


def test_iqm_agrees_with_scipy_trim_mean_as_rliable_computes_it():
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(0).normal(size=(7, 3))
    assert sc.iqm(x) == pytest.approx(stats.trim_mean(x, 0.25, axis=None))


def test_optimality_gap_counts_only_the_shortfall_below_gamma():
    # gamma 1: shortfalls 1 - 0.2, 1 - 0.5, 0 (1.3 is capped), 1 - (-0.5) -> (0.8+0.5+0+1.5)/4
    assert sc.optimality_gap([[0.2, 0.5], [1.3, -0.5]]) == pytest.approx(0.7)
    assert sc.optimality_gap([0.5, 0.9], gamma=0.5) == pytest.approx(0.0)


def test_mean_and_median_pool_all_scores():
    assert sc.mean_score([[1, 2], [3, 10]]) == pytest.approx(4.0)
    assert sc.median_score([[1, 2], [3, 10]]) == pytest.approx(2.5)


def test_stratified_bootstrap_resamples_runs_within_each_task():
    # Column j holds only values in [100 j, 100 j + 10): a resample that mixed tasks would show
    # a value from another column; each resampled column must also keep its size.
    x = np.array([[0.0, 100.0, 200.0], [1.0, 101.0, 201.0], [2.0, 102.0, 202.0]])
    seen = []
    sc.stratified_bootstrap(x, lambda r: seen.append(r.copy()) or 0.0, reps=50, seed=3)
    assert len(seen) == 50
    for r in seen:
        assert r.shape == x.shape
        for j in range(3):
            assert set(r[:, j]) <= set(x[:, j])
    # with three runs some resample must repeat a run
    assert any(len(set(r[:, 0])) < 3 for r in seen)


def test_interval_of_one_run_or_constant_scores_collapses_to_the_point():
    point, low, high = sc.interval_estimate([[0.3, 0.7]], sc.mean_score, reps=100)
    assert (point, low, high) == pytest.approx((0.5, 0.5, 0.5))
    point, low, high = sc.interval_estimate(np.full((5, 2), 0.25), sc.iqm, reps=100)
    assert (point, low, high) == pytest.approx((0.25, 0.25, 0.25))


def test_bootstrap_interval_of_the_mean_matches_the_normal_approximation():
    # One task, 400 runs: the percentile interval of the mean is close to mean +- 1.96 s / sqrt(n)
    rng = np.random.default_rng(0)
    x = rng.normal(0.4, 0.2, size=(400, 1))
    point, low, high = sc.interval_estimate(x, sc.mean_score, reps=2000, seed=1)
    half = 1.96 * x.std(ddof=1) / np.sqrt(400)
    assert point == pytest.approx(x.mean())
    assert low == pytest.approx(point - half, abs=0.004)
    assert high == pytest.approx(point + half, abs=0.004)


def test_aggregate_reports_every_estimator_with_an_interval():
    x = np.array([[0.1, 0.9], [0.3, 0.5], [0.2, 0.7]])
    out = sc.aggregate(x, reps=200)
    assert set(out) == {"iqm", "mean", "median", "optimality_gap"}
    assert out["mean"]["point"] == pytest.approx(x.mean())
    assert out["optimality_gap"]["point"] == pytest.approx(1 - x.mean())  # all below 1
    for v in out.values():
        assert v["ci"][0] <= v["point"] + 1e-12 and v["point"] <= v["ci"][1] + 1e-12


def test_score_matrix_orders_seeds_and_games_and_finds_holes():
    runs = [
        {"game": "maze", "seed": 1, "method": "gsl", "heldout": {"normalized": 0.4}},
        {"game": "coinrun", "seed": 1, "method": "gsl", "heldout": {"normalized": 0.2}},
        {"game": "maze", "seed": 0, "method": "gsl", "heldout": {"normalized": 0.3}},
        {"game": "coinrun", "seed": 0, "method": "gsl", "heldout": {"normalized": 0.1}},
        {"game": "maze", "seed": 0, "method": "ppo", "heldout": {"normalized": 9.0}},
    ]
    m, games, seeds = sc.score_matrix(runs, "gsl", "heldout")
    assert games == ["coinrun", "maze"] and seeds == [0, 1]
    assert m.tolist() == [[0.1, 0.3], [0.2, 0.4]]
    with pytest.raises(ValueError, match="runs"):
        sc.score_matrix(runs[1:], "gsl", "heldout")


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), [[np.nan, 1.0]], np.zeros((2, 2, 2))])
def test_bad_score_matrices_are_rejected(bad):
    with pytest.raises(ValueError, match="scores"):
        sc.interval_estimate(bad, sc.mean_score, reps=10)

"""Procgen-normalised scores and their aggregates across games and seeds, with bootstrap CIs.

Normalisation (Cobbe et al. 2020, "Leveraging Procedural Generation to Benchmark Reinforcement
Learning", and openai/train-procgen)::

    normalised = (R - R_min) / (R_max - R_min)

with the per-game, per-mode constants of :data:`PROCGEN_SCORE_RANGES`: ``R_max`` is the game's
maximum return, ``R_min`` about the return of a PPO agent trained without observations. A score
of 0 is "no better than a blind policy", 1 is "the maximum return".

The JAX ports (:mod:`gsl_jax.envs.procgen`) use the **same constants** as the real games
(:data:`PORT_SCORE_RANGES`). Why that is sound: every port keeps its game's reward structure (maze,
heist, coinrun and leaper: 10 for completing the level, nothing else; bigfish: 1 per fish eaten and
10 for the 30th, at most 40; miner: 1 per diamond and 10 for leaving; chaser: a small reward per
orb and 10 for the last; dodgeball: 2 per enemy hit and 10 for leaving) and its time limit, so
``R_max`` is the same by construction; and
``benchmarks/procgen_fidelity.py`` plays the same random and observation-blind policies on the
ports and on OpenAI's C++ games (EnvPool) and checks that their mean returns and episode lengths
agree within 15%, so the return of a blind policy -- what ``R_min`` stands for -- carries over.
Where that harness reports a miss for a game, the port's scores are still comparable among
themselves but not exactly to the published ones; the benchmark labels every score with its backend
(``"jax"`` port or ``"envpool"`` real game).

Aggregates follow Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice"
(the ``rliable`` library), on a score matrix ``[num_runs, num_tasks]`` (runs = seeds, tasks =
games): the interquartile mean (IQM), the mean, the median and the optimality gap, each with a
stratified percentile-bootstrap confidence interval (runs resampled with replacement within each
task). The estimators are implemented here in numpy with rliable's definitions (``rliable`` 1.2
itself did not import in this project's environment: its dependency ``arch`` breaks on pandas 3):

* IQM: the mean of the scores left after dropping ``floor(0.25 n)`` of the ``n`` pooled scores
  at each end (``scipy.stats.trim_mean(scores, 0.25, axis=None)``, as rliable's
  ``metrics.aggregate_iqm``);
* optimality gap: ``mean(gamma - min(score, gamma))`` with threshold ``gamma = 1``;
* mean and median: of all pooled scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: ``(game, distribution_mode) -> (R_min, R_max)``: the openai/train-procgen constants for the
#: 16 real games (easy and hard).
PROCGEN_SCORE_RANGES: dict[tuple[str, str], tuple[float, float]] = {}
_TABLE = {  # game: (easy R_min, easy R_max, hard R_min, hard R_max)
    "coinrun": (5, 10, 5, 10),
    "starpilot": (2.5, 64, 1.5, 35),
    "caveflyer": (3.5, 12, 2, 13.4),
    "dodgeball": (1.5, 19, 1.5, 19),
    "fruitbot": (-1.5, 32.4, -0.5, 27.2),
    "chaser": (0.5, 13, 0.5, 14.2),
    "miner": (1.5, 13, 1.5, 20),
    "jumper": (1, 10, 1, 10),
    "leaper": (1.5, 10, 1.5, 10),
    "maze": (5, 10, 4, 10),
    "bigfish": (1, 40, 0, 40),
    "heist": (3.5, 10, 2, 10),
    "climber": (2, 12.6, 1, 12.6),
    "plunder": (4.5, 30, 3, 30),
    "ninja": (3.5, 10, 2, 10),
    "bossfight": (0.5, 13, 0.5, 13),
}
for _game, (_emin, _emax, _hmin, _hmax) in _TABLE.items():
    PROCGEN_SCORE_RANGES[(_game, "easy")] = (float(_emin), float(_emax))
    PROCGEN_SCORE_RANGES[(_game, "hard")] = (float(_hmin), float(_hmax))

#: The JAX ports' constants: the real games' (see the module docstring for why).
PORT_SCORE_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    key: value
    for key, value in PROCGEN_SCORE_RANGES.items()
    if key[0] in ("maze", "heist", "bigfish", "coinrun", "chaser", "leaper", "miner", "dodgeball")
}

BACKENDS = ("jax", "envpool")


def score_range(game: str, distribution_mode: str = "easy", backend: str = "jax") -> tuple:
    """``(R_min, R_max)`` of ``game`` in ``distribution_mode`` on ``backend``.

    Raises ``ValueError`` naming ``backend``, ``game`` or ``distribution_mode`` when there is no
    constant for it (the ports cover maze, heist, bigfish and coinrun; the real games all 16 in
    easy and hard).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {list(BACKENDS)}, got {backend!r}")
    table = PORT_SCORE_RANGES if backend == "jax" else PROCGEN_SCORE_RANGES
    games = sorted({g for g, _ in table})
    if game not in games:
        raise ValueError(f"game: no {backend} score constants for {game!r}; known: {games}")
    if (game, distribution_mode) not in table:
        raise ValueError(
            f"distribution_mode: no score constants for {game} in {distribution_mode!r} mode; "
            "only easy and hard have them"
        )
    return table[(game, distribution_mode)]


def normalize_score(
    returns: Any, game: str, distribution_mode: str = "easy", backend: str = "jax"
) -> np.ndarray:
    """``(R - R_min) / (R_max - R_min)`` elementwise, float64, same shape as ``returns``."""
    r_min, r_max = score_range(game, distribution_mode, backend)
    return (np.asarray(returns, np.float64) - r_min) / (r_max - r_min)


# ------------------------------------------------------------------------------------------------
# Point estimates on a score matrix [num_runs, num_tasks] (any shape: the scores are pooled)
# ------------------------------------------------------------------------------------------------
def iqm(scores: Any) -> float:
    """Interquartile mean of all scores: drop ``floor(n / 4)`` at each end, average the rest."""
    x = np.sort(np.asarray(scores, np.float64).reshape(-1))
    if x.size == 0:
        raise ValueError("scores: empty")
    cut = int(0.25 * x.size)
    return float(x[cut : x.size - cut].mean())


def optimality_gap(scores: Any, gamma: float = 1.0) -> float:
    """``mean(gamma - min(score, gamma))``: how far the scores fall short of ``gamma``."""
    x = np.asarray(scores, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("scores: empty")
    return float(np.mean(gamma - np.minimum(x, gamma)))


def mean_score(scores: Any) -> float:
    """Mean of all scores."""
    return float(np.mean(np.asarray(scores, np.float64)))


def median_score(scores: Any) -> float:
    """Median of all scores."""
    return float(np.median(np.asarray(scores, np.float64)))


#: The aggregates reported by :func:`aggregate`, by name.
AGGREGATES: dict[str, Callable[[Any], float]] = {
    "iqm": iqm,
    "mean": mean_score,
    "median": median_score,
    "optimality_gap": optimality_gap,
}


def _check_matrix(scores: Any) -> np.ndarray:
    x = np.asarray(scores, np.float64)
    if x.ndim == 1:
        x = x[:, None]  # one task
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"scores: expected a [num_runs, num_tasks] matrix, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("scores: every score must be finite")
    return x


def stratified_bootstrap(
    scores: Any, statistic: Callable[[np.ndarray], float], reps: int = 2000, seed: int = 0
) -> np.ndarray:
    """``[reps]`` values of ``statistic`` on stratified bootstrap resamples of ``scores``.

    ``scores`` is ``[num_runs, num_tasks]``; each resample draws ``num_runs`` runs with
    replacement *within each task* (column) independently, so every task keeps its weight.
    """
    x = _check_matrix(scores)
    if reps <= 0:
        raise ValueError(f"reps: must be positive, got {reps}")
    rng = np.random.default_rng(seed)
    n, m = x.shape
    idx = rng.integers(0, n, size=(reps, n, m))  # row index per (rep, draw, task)
    resampled = np.take_along_axis(np.broadcast_to(x, (reps, n, m)), idx, axis=1)
    return np.array([statistic(r) for r in resampled])


def interval_estimate(
    scores: Any,
    statistic: Callable[[np.ndarray], float],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, low, high)``: ``statistic`` on ``scores`` and its stratified percentile-bootstrap
    interval at ``confidence``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must lie in (0, 1), got {confidence}")
    x = _check_matrix(scores)
    boot = stratified_bootstrap(x, statistic, reps, seed)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(boot, [tail, 100.0 - tail])
    return float(statistic(x)), float(low), float(high)


def aggregate(
    scores: Any, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Every aggregate of :data:`AGGREGATES` on ``scores`` ``[num_runs, num_tasks]``:
    ``{name: {"point": float, "ci": [low, high]}}`` (JSON-ready)."""
    out = {}
    for name, fn in AGGREGATES.items():
        point, low, high = interval_estimate(scores, fn, reps, confidence, seed)
        out[name] = {"point": point, "ci": [low, high]}
    return out


def score_matrix(
    runs: list[Mapping[str, Any]], method: str, split: str, key: str = "normalized"
) -> tuple[np.ndarray, list[str], list[int]]:
    """Gather ``[num_seeds, num_games]`` from benchmark run records.

    Each record has ``game``, ``seed``, ``method`` and ``{split: {key: float}}``; the games and
    seeds are sorted. Raises ``ValueError`` if a (seed, game) cell is missing.
    """
    chosen = [r for r in runs if r["method"] == method and split in r]
    games = sorted({r["game"] for r in chosen})
    seeds = sorted({int(r["seed"]) for r in chosen})
    out = np.full((len(seeds), len(games)), np.nan)
    for r in chosen:
        out[seeds.index(int(r["seed"])), games.index(r["game"])] = r[split][key]
    if np.isnan(out).any():
        raise ValueError(f"runs: missing {method} {split} scores for some (seed, game) pairs")
    return out, games, seeds

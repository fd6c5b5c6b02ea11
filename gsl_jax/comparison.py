"""GSL against plain PPO at an equal budget of total env-steps, evaluated per variation.

:func:`compare_gsl_ppo` runs :func:`~gsl_jax.gsl.run_gsl`, reads how many env-steps it used in
all (generalist, specialists, evaluation and demo collection), trains a PPO generalist with the
same PPO settings and network for that many env-steps, and evaluates both final policies on every
training variation with the same evaluation keys. :func:`plot_comparison` draws the two learning
curves against total env-steps with GSL's phase boundaries marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax.envs.core import Environment
from gsl_jax.evaluation import VariationScores, evaluate_variations
from gsl_jax.gsl import GSLConfig, GSLResult, run_gsl
from gsl_jax.phases import FINETUNE_LOW, GENERALIST_LABELS, PHASE1, RECORD_LABELS, SPECIALISTS
from gsl_jax.training import TrainResult, train_ppo


@dataclass
class Comparison:
    """What :func:`compare_gsl_ppo` returns.

    Attributes:
        gsl: the GSL run; ``ppo`` the PPO run.
        total_steps: env-steps each method used (PPO's is rounded up to whole chunks).
        gsl_scores / ppo_scores: per-variation evaluation of the final generalists.
    """

    gsl: GSLResult
    ppo: TrainResult
    gsl_total_steps: int
    ppo_total_steps: int
    gsl_scores: VariationScores
    ppo_scores: VariationScores

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: success rate and mean return of both, and the margin."""
        out: dict[str, Any] = {
            "gsl_total_steps": self.gsl_total_steps,
            "ppo_total_steps": self.ppo_total_steps,
        }
        for name, scores in (("gsl", self.gsl_scores), ("ppo", self.ppo_scores)):
            out[f"{name}_success"] = float(scores.success_rate().mean())
            out[f"{name}_return"] = float(scores.mean_return().mean())
            out[f"{name}_success_per_variation"] = scores.success_rate().round(3).tolist()
        out["success_margin"] = out["gsl_success"] - out["ppo_success"]
        out["return_margin"] = out["gsl_return"] - out["ppo_return"]
        return out


def compare_gsl_ppo(
    env: Environment,
    config: GSLConfig,
    eval_episodes: int = 16,
    log=print,
) -> Comparison:
    """Run GSL and PPO on ``env`` at equal total env-steps and evaluate both per variation.

    Both place their learners by the one rule of :func:`gsl_jax.population.place_population`:
    the PPO baseline, a single learner, stays on one device as GSL's generalist does."""
    gsl = run_gsl(env, config, log=log)
    gsl_total = int(gsl.records[-1]["total_steps"])
    steps_per_chunk = config.updates_per_chunk * config.ppo.batch_size
    ppo_total = -(-gsl_total // steps_per_chunk) * steps_per_chunk
    log(f"PPO baseline: {ppo_total:,} env-steps (GSL used {gsl_total:,})")
    ppo = train_ppo(
        env,
        config.ppo,
        config.network,
        total_steps=ppo_total,
        variation_sets=[np.arange(config.train_variations(env))],
        seed=config.seed,
        updates_per_chunk=config.updates_per_chunk,
        progress=False,
    )
    ids = np.arange(config.train_variations(env))

    def score(network, params) -> VariationScores:
        return evaluate_variations(
            env, network, params, ids, episodes=eval_episodes, seed=config.seed + 1
        )

    first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
    return Comparison(
        gsl,
        ppo,
        gsl_total,
        ppo_total,
        score(gsl.network, first(gsl.generalist.params)),
        score(ppo.network, first(ppo.state.params)),
    )


def plot_comparison(result: Comparison, path: str | Path, title: str = "") -> Path:
    """Learning curves (mean training return against total env-steps) of GSL's generalist and of
    PPO, GSL's phase boundaries shaded, saved as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ppo_steps = [h["step"] for h in result.ppo.history]
    ax.plot(ppo_steps, [h["return_mean"] for h in result.ppo.history], label="PPO", color="C0")
    records = result.gsl.records
    # The generalist's curve in two pieces, phase I and phase II, with the specialists between.
    boundary = next(
        (i for i, r in enumerate(records) if r.get("gsl_phase", PHASE1) != PHASE1), len(records)
    )
    for piece, label in ((records[:boundary], "GSL generalist"), (records[boundary:], None)):
        gen = [r for r in piece if r["phase"] in GENERALIST_LABELS]
        ax.plot(
            [r["total_steps"] for r in gen],
            [r["return_mean"] for r in gen],
            ".-",
            label=label,
            color="C3",
            markersize=3,
        )
    workers = (RECORD_LABELS[SPECIALISTS], RECORD_LABELS[FINETUNE_LOW])
    spec = [r["total_steps"] for r in records if r["phase"] in workers]
    if spec:
        ax.axvspan(min(spec), max(spec), color="C2", alpha=0.15, label="specialists training")
    ax.set_xlabel("total env-steps (specialists, evaluation and demos included)")
    ax.set_ylabel("mean training episode return")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

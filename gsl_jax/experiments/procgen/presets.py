"""The experiment's presets and the checks that need the games: from the command line's options to
validated :class:`~gsl_jax.experiments.procgen.settings.Settings`, before anything compiles.

``quick`` (default): **coinrun**, easy, 200 training levels, 100 held-out, the port's compact
(``symbolic``) 13x13x9 observation, an MLP (64, 64), 64 envs x 128 steps, seeds 0 and 1, a GSL
budget of 3.3M env-steps per seed (phase I at most 45%, 4 specialists on the 8 worst levels 30%,
phase II the rest): sized for a 2-core CPU (docs/benchmarks.md). ``paper``: every ported game,
pixels, the IMPALA CNN, the Procgen paper's PPO (64 envs x 256 steps, gamma 0.999), 25M env-steps
per game and method, 3 seeds, 16 specialists on the 64 worst levels, and both of the paper's base
learners (PPO and PPG, :mod:`gsl_jax.ppg`, each an experiment of its own: ``run_dir/ppo``,
``run_dir/ppg``), for accelerators. ``tiny``: a smoke test (maze, eight levels, seconds of
training). ``study``: the GSL study's runs (docs/gsl_protocol.md): quick's learner and GSL at the
plateau map's budget B = 9,994,240 env-steps for both methods with GSL capped at it
(``fixed_budget``), 500 held-out levels, 4 evaluation episodes per level; the study's driver
(``benchmarks/gsl_study.py``) sets games, levels, seeds and variants. ``custom``: quick's values
with nothing locked. A preset fixes its defining options
(:data:`~gsl_jax.experiments.procgen.settings.LOCKED`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gsl_jax.envs.procgen import GAMES
from gsl_jax.experiments.procgen.settings import (
    QUICK_GSL,
    Settings,
    apply_overrides,
    locked_changes,
)
from gsl_jax.networks import NetworkConfig
from gsl_jax.presets import LOG_PROB_DAPG, PROCGEN, PROCGEN_COMPACT

_replace = dataclasses.replace
QUICK = Settings()
#: B of the GSL study: the plateau map's 10M env-steps per member, rounded down to its chunks
#: (244 of 40,960), a whole number of PROCGEN_COMPACT's 8,192-step updates.
STUDY_BUDGET = 9_994_240
PRESETS: dict[str, Settings] = {
    "quick": QUICK,
    "custom": QUICK,
    "paper": Settings(
        games=tuple(GAMES),  # every JAX port
        seeds=(0, 1, 2),
        learners=("ppo", "ppg"),  # the paper's two base learners, one experiment each
        obs_mode="pixels",
        steps=25_000_000,
        phase1_fraction=0.4,
        final_eval_episodes=4,
        gif_steps=300,
        checkpoint_every=10,
        gsl=_replace(
            QUICK_GSL,
            ppo=PROCGEN,
            network=NetworkConfig(kind="impala"),
            dapg=LOG_PROB_DAPG,  # the released weight 0.5; not measured
            updates_per_chunk=5,
            num_specialists=16,
            num_low=64,
            eval_episodes=4,
            specialist_demo_episodes=256,
            generalist_demo_episodes=256,
            demo_steps=512,
        ),
    ),
    # docs/gsl_protocol.md: the plateau map's PPO, its run length as the budget B of both
    # methods, GSL capped at B, 500 held-out levels; games, levels and seeds per setting.
    "study": Settings(
        games=("bigfish",),
        seeds=(0, 1, 2),
        heldout_levels=500,
        steps=STUDY_BUDGET,
        fixed_budget=True,
        final_eval_episodes=4,
        gif_levels=0,
        checkpoint_every=20,
    ),
    "tiny": Settings(
        games=("maze",),
        seeds=(0,),
        num_levels=8,
        heldout_levels=4,
        steps=6 * 16 * 16,
        phase1_fraction=0.34,
        specialist_fraction=0.34,
        final_eval_episodes=1,
        gif_levels=2,
        gif_steps=12,
        checkpoint_every=4,
        timeout=40,
        gsl=_replace(
            QUICK_GSL,
            ppo=PROCGEN_COMPACT.replace(
                num_envs=16, num_steps=16, num_minibatches=2, update_epochs=1
            ),
            network=NetworkConfig(kind="mlp", hidden=(16,)),
            updates_per_chunk=1,
            num_specialists=1,  # one specialist (on two levels): one compile less than two
            num_low=2,
            eval_episodes=1,
            specialist_demo_episodes=4,
            generalist_demo_episodes=4,
            demo_steps=32,
        ),
    ),
}


def resolve_settings(preset: str, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The preset's settings with ``overrides`` (``None`` values ignored) applied and checked.

    An option is a path (``"gsl.ppo.ent_coef"``) or a command-line name (``"learning_rate"``).
    Raises ``ValueError`` naming the option for an unknown preset or option, an override that
    changes an option the preset fixes, or any invalid value.
    """
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(f"preset: unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    base = PRESETS[preset]
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    settings = apply_overrides(base, given)
    locked_changes(preset, base, given)
    validate_settings(settings)
    return settings


def validate_settings(s: Settings) -> None:
    """The checks that need the games or couple the backend to other options (the fields were
    checked when ``s`` was built)."""
    from gsl_jax.envs.envpool import GAME_MODES
    from gsl_jax.envs.procgen import GAMES

    known = sorted(GAMES) if s.backend == "jax" else sorted(GAME_MODES)
    for game in s.games:
        if game not in known:
            where = "with a JAX port" if s.backend == "jax" else "in Procgen"
            raise ValueError(f"games: {game!r} is not a game {where}; known: {known}")
    if s.backend == "envpool":
        if s.obs_mode != "pixels":
            raise ValueError(
                "obs_mode: the real games (--backend envpool) only have pixel observations; use "
                "--preset paper or --preset custom --obs-mode pixels --network impala"
            )
        if s.timeout is not None:
            raise ValueError("timeout: the real games keep their own time limits")
    if s.gsl.network.kind != "mlp" and s.obs_mode == "symbolic" and "bigfish" in s.games:
        raise ValueError("network: bigfish's symbolic observation is a vector; use --network mlp")

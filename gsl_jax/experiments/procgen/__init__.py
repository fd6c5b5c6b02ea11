"""PPO vs PPO+GSL on Procgen: train on N levels, test on held-out ones, at equal total env-steps.

**Protocol.** For every game and seed: GSL (:func:`gsl_jax.gsl.run_gsl`: phase I, selection of
the worst training levels, vmapped specialists, demonstrations, phase II with DAPG) trains on
levels ``0 .. N-1``. Its total env-steps -- generalist, specialists, the selection evaluation and
the demo rollouts -- are the budget of the PPO baseline, which is the *same* generalist continued
with plain PPO from GSL's phase-I checkpoint (the branch point): both methods share phase I bit
for bit and differ only in what GSL does with the rest of the budget. Then every final policy
plays ``final_eval_episodes`` episodes on each training level and on each held-out level
``N .. N+K-1``, and the generalist at the branch point and each specialist (on its own levels)
are scored the same way. Returns become Procgen-normalised scores (:mod:`gsl_jax.scores`)
aggregated over games and seeds (IQM, mean, median, optimality gap, stratified bootstrap 95%
CIs). With ``methods=("ppo",)`` PPO trains alone for ``steps``. Seeds run one after another:
each seed's plateau criterion sets its own phase lengths and so its own PPO budget.

**Run directory** (docs/run_directory.md): ``experiment.json``, ``results.json``,
``metrics.jsonl``, the plots and GIF of :mod:`gsl_jax.report`, and per game and seed
``GAME/seedS/{gsl,ppo}/`` and ``eval.json``. Both methods checkpoint; a resumed experiment
continues from the last complete checkpoints and skips finished parts.

**EnvPool backend.** ``backend="envpool"`` runs the same protocol on OpenAI's C++ games: GSL and
the baseline drive an :class:`~gsl_jax.envs.envpool.EnvPoolProcgen` template through the host
backend (:mod:`gsl_jax.host`), checkpoint and resume as on the ports (the games themselves are
re-seeded on resume, docs/run_directory.md), and every level is evaluated on envs pinned to it.

Modules: :mod:`~.settings` (the settings, overrides, saved JSON), :mod:`~.presets`,
:mod:`~.runs` (the experiment and its runs), :mod:`~.baseline` (the PPO baseline, through the
library's chunk loop), :mod:`~.evaluate`, :mod:`~.results` (run directory, ``results.json``),
:mod:`~.study` (the GSL study of docs/gsl_protocol.md: its settings, variants and tables).
"""

from gsl_jax.experiments.procgen.baseline import run_baseline
from gsl_jax.experiments.procgen.presets import PRESETS, resolve_settings, validate_settings
from gsl_jax.experiments.procgen.results import (
    EXPERIMENT_KIND,
    print_table,
    summarize,
)
from gsl_jax.experiments.procgen.runs import run_experiment
from gsl_jax.experiments.procgen.settings import (
    ALIASES,
    DERIVED,
    LOCKED,
    METHODS,
    Settings,
    apply_overrides,
    chunk_steps,
    env_options,
    gsl_config,
)

__all__ = [
    "ALIASES",
    "DERIVED",
    "EXPERIMENT_KIND",
    "LOCKED",
    "METHODS",
    "PRESETS",
    "Settings",
    "apply_overrides",
    "chunk_steps",
    "env_options",
    "gsl_config",
    "print_table",
    "resolve_settings",
    "run_experiment",
    "run_baseline",
    "summarize",
    "validate_settings",
]

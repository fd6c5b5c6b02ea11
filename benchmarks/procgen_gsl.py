"""PPO vs PPO+GSL on Procgen: train on N levels, test on held-out ones, at equal total env-steps.

    python benchmarks/procgen_gsl.py                          # the quick preset (CPU, < 20 min)
    python benchmarks/procgen_gsl.py --preset paper --games coinrun maze   # accelerators
    python benchmarks/procgen_gsl.py --resume              # continue runs/procgen_gsl_quick
    python benchmarks/procgen_gsl.py --backend envpool --preset paper --methods ppo  # real games
    gsl-jax report runs/procgen_gsl_quick                     # redraw the plots and the GIF

**Protocol.** For every game and seed: GSL (:func:`gsl_jax.gsl.run_gsl`: phase I, selection of
the worst training levels, vmapped specialists, demonstrations, phase II with DAPG) trains on
levels ``0 .. N-1`` (default 200, easy). Its total env-steps -- generalist, specialists, the
selection evaluation and the demo rollouts -- are the budget of the PPO baseline, which is the
*same* generalist continued with plain PPO from GSL's phase-I checkpoint (the branch point):
both methods share phase I bit for bit, and differ only in what GSL does with the rest of the
budget. Then every final policy plays ``--final-eval-episodes`` episodes on each training level and
on each held-out level ``N .. N+K-1`` (default K = 100), and the generalist at the branch point and
each specialist (on its own levels) are scored the same way. Returns become Procgen-normalised
scores (:mod:`gsl_jax.scores`) and are aggregated over games and seeds (IQM, mean, median,
optimality gap, stratified bootstrap 95% CIs). ``--methods ppo`` trains PPO alone for ``steps``.
Seeds run one after another, not vmapped: each seed's plateau criterion sets its own phase
lengths and so its own PPO budget (within a seed, GSL's specialists are one vmapped program).

**Outputs** (one run directory, ``--run-dir``): ``experiment.json`` (the settings),
``results.json`` (per run and aggregate scores), ``metrics.jsonl`` (every training record,
tagged with game, seed and method; x axis ``total_steps``), TensorBoard events (``tensorboard
--logdir RUN_DIR``), ``learning_curves.png``, ``level_heatmap.png``, ``scores.png`` and
``generalist.gif`` (:mod:`gsl_jax.report`), and per game and seed ``GAME/seedS/{gsl,ppo}/``
(checkpoints, metrics, events) and ``eval.json`` (per-level returns).

**Resume.** Both methods checkpoint (GSL at phase boundaries and every ``checkpoint_every``
chunks, PPO every ``checkpoint_every`` chunks); ``--resume`` continues from the last complete
checkpoints and skips finished parts. A run directory that holds another experiment, or a
finished one, is never written to.

**Presets.** ``quick`` (default): **coinrun**, easy, 200 training levels, 100 held-out, the
port's compact (``symbolic``) 13x13x9 observation, an MLP (64, 64), 64 envs x 128 steps, seeds
0 and 1, a GSL budget of 3.3M env-steps per seed: phase I at most 1.5M (the plateau criterion
may end it in its last quarter), 4 specialists x 270k on the 8 worst levels (2 each), phase II
737k. Chosen from measurements on the shared 2-core CPU: in 400k env-steps PPO on maze's
compact view stayed at the random policy's return (about 5, success 0.5) while coinrun's rose
from 4.2 to 6.4, so coinrun is the port that reaches GSL's starting point, a plateau, within a
CPU budget. One seed of this preset took 540 s (load average 2-5 from other jobs): GSL 333 s,
PPO 175 s, evaluation 21 s, plots and GIF 11 s. What it shows (seed 0): the plateau fired at
1.13M (training return 6.9); the specialists solved 7 of their 8 levels (return 10, from 0 under
the phase-I generalist); GSL's final generalist scored 7.4 train / 7.05 held-out and PPO, with
the same 3.07M total env-steps, 8.8 / 7.95 (normalised held-out 0.41 vs 0.59). At equal
*generalist* env-steps (1.87M) PPO's training return was 7.76 against GSL's 7.54. So at this
scale the specialists succeed but distilling them does not beat PPO spending the same samples
on all levels: the effect is absent, visibly. ``paper``: pixels, IMPALA CNN, the Procgen
paper's PPO (64 envs x 256 steps, gamma 0.999), 25M env-steps per game and method, 3 seeds,
16 specialists on the 64 worst levels (for GPUs/TPUs). ``tiny``: a smoke test (maze, eight
levels, seconds of training). ``custom``: quick's values with nothing locked. A preset fixes its
defining options (observations, network and budget); giving one of them with a different value
is an error -- use ``--preset custom``.

**EnvPool backend.** ``--backend envpool`` trains PPO on OpenAI's C++ games through
:func:`gsl_jax.host_rollout.train_ppo_envpool` and evaluates on held-out levels with host
rollouts. GSL's driver compiles whole phases as JAX programs over a JAX environment, so it does
**not** run on EnvPool: ``--backend envpool`` needs ``--methods ppo`` (an error otherwise), and
its runs resume at the granularity of a finished (game, seed) pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from gsl_jax import scores as sc
from gsl_jax.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    read_meta,
    restore_checkpoint,
    save_checkpoint,
)
from gsl_jax.evaluation import evaluate_variations
from gsl_jax.gsl import GSLConfig, RunBuilder, run_gsl
from gsl_jax.logging import RunLogger, summarize_chunk
from gsl_jax.networks import NetworkConfig
from gsl_jax.plateau import PlateauConfig
from gsl_jax.population import make_chunk
from gsl_jax.ppo import DAPGConfig, PPOConfig

EXPERIMENT_KIND = "gsl_jax.benchmarks.procgen_gsl"
EXPERIMENT_VERSION = 1
METHODS = ("ppo", "gsl")


@dataclass(frozen=True)
class Settings:
    """Everything that defines one benchmark experiment (saved as ``experiment.json``).

    Attributes:
        games: Procgen games (the JAX ports, or any of the 16 with ``backend="envpool"``).
        seeds: one GSL and one PPO run per seed and game.
        methods: ``"ppo"`` and/or ``"gsl"``.
        backend: ``"jax"`` (the ports) or ``"envpool"`` (the real games; PPO only).
        distribution_mode: ``"easy"`` or ``"hard"``.
        obs_mode: ``"symbolic"`` (the ports' compact view) or ``"pixels"``.
        network: ``"mlp"``, ``"small_cnn"`` or ``"impala"``; ``hidden`` the MLP sizes.
        num_levels: N, training levels ``0 .. N-1``.
        heldout_levels: K, held-out levels ``N .. N+K-1``.
        steps: the budget per game, seed and method: GSL's phases are cut from it (phase I at
            most ``phase1_fraction``, the specialists together ``specialist_fraction``, phase
            II the rest); PPO then gets exactly what GSL used (PPO alone: ``steps``).
        num_envs, num_steps, num_minibatches, update_epochs, learning_rate, gamma: PPO.
        updates_per_chunk: PPO updates per compiled chunk (one record each).
        num_specialists, num_low: N_s and N_lenv.
        eval_episodes: episodes per training level when GSL selects its worst levels.
        final_eval_episodes: episodes per level of the final evaluation.
        demo_episodes: successful episodes kept from the specialists (and as many from the
            generalist); ``demo_steps`` env-steps per env of a demo rollout.
        demo_coeff: DAPG's lambda_0, the weight of the demo term in phase II (see
            :func:`gsl_config` for the measurement behind quick's 0.1).
        gif_levels, gif_steps: held-out levels and frames of the GIF.
        checkpoint_every: chunks between checkpoints.
        timeout: episode step limit (default: the game's own).
    """

    games: tuple[str, ...] = ("coinrun",)
    seeds: tuple[int, ...] = (0, 1)
    methods: tuple[str, ...] = METHODS
    backend: str = "jax"
    distribution_mode: str = "easy"
    obs_mode: str = "symbolic"
    network: str = "mlp"
    hidden: tuple[int, ...] = (64, 64)
    num_levels: int = 200
    heldout_levels: int = 100
    steps: int = 3_300_000
    phase1_fraction: float = 0.45
    specialist_fraction: float = 0.3
    num_envs: int = 64
    num_steps: int = 128
    num_minibatches: int = 8
    update_epochs: int = 3
    learning_rate: float = 5e-4
    gamma: float = 0.99
    updates_per_chunk: int = 3
    num_specialists: int = 4
    num_low: int = 8
    eval_episodes: int = 2
    final_eval_episodes: int = 2
    demo_episodes: int = 64
    demo_steps: int = 256
    demo_coeff: float = 0.1
    gif_levels: int = 4
    gif_steps: int = 200
    checkpoint_every: int = 5
    timeout: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))


_QUICK = Settings()
PRESETS: dict[str, Settings] = {
    "quick": _QUICK,
    "custom": _QUICK,
    "paper": Settings(
        games=("coinrun",),
        seeds=(0, 1, 2),
        obs_mode="pixels",
        network="impala",
        steps=25_000_000,
        phase1_fraction=0.4,
        specialist_fraction=0.3,
        num_steps=256,
        gamma=0.999,
        updates_per_chunk=5,
        num_specialists=16,
        num_low=64,
        eval_episodes=4,
        final_eval_episodes=4,
        demo_episodes=256,
        demo_steps=512,
        demo_coeff=0.5,  # the released scripts' value; not measured at this scale
        gif_steps=300,
        checkpoint_every=10,
    ),
    "tiny": Settings(
        games=("maze",),
        seeds=(0,),
        num_levels=8,
        heldout_levels=4,
        hidden=(16,),
        steps=6 * 16 * 16,
        phase1_fraction=0.34,
        specialist_fraction=0.34,
        num_envs=16,
        num_steps=16,
        num_minibatches=2,
        update_epochs=1,
        updates_per_chunk=1,
        num_specialists=1,  # one specialist (on two levels): one compile less than two
        num_low=2,
        eval_episodes=1,
        final_eval_episodes=1,
        demo_episodes=4,
        demo_steps=32,
        gif_levels=2,
        gif_steps=12,
        checkpoint_every=4,
        timeout=40,
    ),
}
#: The options a preset fixes (its defining choices); other options may be changed freely.
LOCKED = ("obs_mode", "network", "hidden", "steps")
#: Options whose value may differ between a saved experiment and a resumed one.
RESUMABLE_CHANGES = ()


# ------------------------------------------------------------------------------------------------
# Settings: from the command line, validated before anything trains
# ------------------------------------------------------------------------------------------------
def resolve_settings(preset: str, overrides: dict[str, Any]) -> Settings:
    """The preset's settings with ``overrides`` (``None`` values ignored) applied and checked.

    Raises ``ValueError`` naming the option for an unknown preset, an override that conflicts
    with the preset's defining options (:data:`LOCKED`) or any invalid value.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset: unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    base = PRESETS[preset]
    given = {k: v for k, v in overrides.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a benchmark option")
    for name, value in given.items():
        if isinstance(getattr(base, name), tuple):
            given[name] = tuple(value)
    if preset != "custom":
        for name in LOCKED:
            if name in given and given[name] != getattr(base, name):
                raise ValueError(
                    f"{name}: the {preset} preset fixes {name} = {getattr(base, name)!r}, "
                    f"got {given[name]!r}; drop the option or use --preset custom"
                )
    settings = dataclasses.replace(base, **given)
    validate_settings(settings)
    return settings


def validate_settings(s: Settings) -> None:
    """Check every option (and that the games exist) before anything is compiled."""
    from gsl_jax.envs.envpool import GAME_MODES
    from gsl_jax.envs.procgen import GAMES

    if not s.games:
        raise ValueError("games: give at least one game")
    if len(set(s.games)) != len(s.games):
        raise ValueError(f"games: duplicates in {list(s.games)}")
    if not s.seeds or len(set(s.seeds)) != len(s.seeds) or min(s.seeds) < 0:
        raise ValueError(f"seeds: give distinct non-negative seeds, got {list(s.seeds)}")
    if not s.methods or set(s.methods) - set(METHODS) or len(set(s.methods)) != len(s.methods):
        raise ValueError(f"methods: choose from {list(METHODS)}, got {list(s.methods)}")
    if s.backend not in sc.BACKENDS:
        raise ValueError(f"backend: must be one of {list(sc.BACKENDS)}, got {s.backend!r}")
    known = sorted(GAMES) if s.backend == "jax" else sorted(GAME_MODES)
    for game in s.games:
        if game not in known:
            where = "with a JAX port" if s.backend == "jax" else "in Procgen"
            raise ValueError(f"games: {game!r} is not a game {where}; known: {known}")
    if s.distribution_mode not in ("easy", "hard"):
        raise ValueError(f"distribution_mode: must be easy or hard, got {s.distribution_mode!r}")
    if s.obs_mode not in ("symbolic", "pixels"):
        raise ValueError(f"obs_mode: must be symbolic or pixels, got {s.obs_mode!r}")
    if s.network not in ("mlp", "small_cnn", "impala"):
        raise ValueError(f"network: must be mlp, small_cnn or impala, got {s.network!r}")
    if s.backend == "envpool":
        if "gsl" in s.methods:
            raise ValueError(
                "methods: GSL's driver compiles its phases over a JAX environment and cannot "
                "drive EnvPool's host-side games; use --methods ppo with --backend envpool, or "
                "the JAX ports (--backend jax) for GSL"
            )
        if s.obs_mode != "pixels":
            raise ValueError(
                "obs_mode: the real games (--backend envpool) only have pixel observations; use "
                "--preset paper or --preset custom --obs-mode pixels --network impala"
            )
    if s.network != "mlp" and s.obs_mode == "symbolic" and "bigfish" in s.games:
        raise ValueError("network: bigfish's symbolic observation is a vector; use --network mlp")
    positive = (
        "num_levels",
        "heldout_levels",
        "steps",
        "num_envs",
        "num_steps",
        "num_minibatches",
        "update_epochs",
        "updates_per_chunk",
        "num_specialists",
        "num_low",
        "eval_episodes",
        "final_eval_episodes",
        "demo_steps",
        "gif_steps",
        "checkpoint_every",
    )
    for name in positive:
        value = getattr(s, name)
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    if s.timeout is not None and (not isinstance(s.timeout, int) or s.timeout <= 0):
        raise ValueError(f"timeout: must be a positive integer, got {s.timeout!r}")
    if s.timeout is not None and s.backend == "envpool":
        raise ValueError("timeout: the real games keep their own time limits (--backend envpool)")
    for name in ("demo_episodes", "gif_levels", "demo_coeff"):
        if getattr(s, name) < 0:
            raise ValueError(f"{name}: must be >= 0, got {getattr(s, name)!r}")
    if s.gif_levels > s.heldout_levels:
        raise ValueError(f"gif_levels: {s.gif_levels} exceeds the {s.heldout_levels} held-out")
    if not (0 < s.phase1_fraction < 1 and 0 < s.specialist_fraction < 1):
        raise ValueError("phase1_fraction, specialist_fraction: must lie in (0, 1)")
    if s.phase1_fraction + s.specialist_fraction >= 1:
        raise ValueError("specialist_fraction: phase I and the specialists leave no phase II")
    if s.num_levels + s.heldout_levels >= 2**31 - 1:
        raise ValueError("heldout_levels: training and held-out levels exceed the level seeds")
    if "gsl" in s.methods and s.num_low > s.num_levels:
        raise ValueError(f"num_low: {s.num_low} worst levels of only {s.num_levels}")
    ppo_config(s)  # PPO's own checks (e.g. minibatches dividing the batch)
    if "gsl" in s.methods:
        gsl_config(s, s.seeds[0])  # GSLConfig's checks


def ppo_config(s: Settings) -> PPOConfig:
    """The PPO settings of both methods (the Procgen recipe with ``s``'s sizes)."""
    return PPOConfig(
        num_envs=s.num_envs,
        num_steps=s.num_steps,
        num_minibatches=s.num_minibatches,
        update_epochs=s.update_epochs,
        learning_rate=s.learning_rate,
        gamma=s.gamma,
        gae_lambda=0.95,
        ent_coef=0.01,
        normalize_rewards=True,
    )


def chunk_steps(s: Settings) -> int:
    """Env-steps of one learner per compiled chunk."""
    return s.updates_per_chunk * s.num_envs * s.num_steps


def _round_up(x: float, step: int) -> int:
    return max(step, int(math.ceil(x / step)) * step)


def gsl_config(s: Settings, seed: int) -> GSLConfig:
    """GSL's config for one seed: phases cut from ``s.steps`` (see :class:`Settings`).

    Phase I ends at its budget, or earlier when the plateau criterion fires in the last quarter
    of it: measured on coinrun at 1M env-steps, the criterion fired on a noisy dip at 390k
    while PPO went on improving, and the run handed 40% of its budget to specialists too early.
    DAPG uses log pi and the normalised max advantage (the ForkMaze preset's measured choice:
    with pi itself the demo gradient vanishes on actions the generalist has ruled out), with
    ``s.demo_coeff`` (quick: 0.1, not the released 0.5). Measured on coinrun seed 0 with
    phase II (737k env-steps) rerun from one phase-II checkpoint and demo buffer
    (docs/benchmarks.md section 6), mean training return over its first / last 100k steps:
    plain PPO 7.44 / 7.94 and 7.48 / 7.76 (two rollout keys); log pi at 0.5 7.20 / 7.68, at 0.1
    7.25 / 7.88. At 0.5 the term clones a few hundred stochastic demo episodes and holds the
    policy's entropy at its phase-I level (1.78 after phase II, PPO 1.60); 0.1 is the variant
    closest to plain PPO. No variant beat plain PPO from the same start.
    """
    chunk = chunk_steps(s)
    phase1 = _round_up(s.steps * s.phase1_fraction, chunk)
    specialist = _round_up(s.steps * s.specialist_fraction / s.num_specialists, chunk)
    phase2 = _round_up(s.steps - phase1 - s.num_specialists * specialist, chunk)
    return GSLConfig(
        ppo=ppo_config(s),
        network=NetworkConfig(kind=s.network, hidden=s.hidden),
        dapg=DAPGConfig(demo_coeff=s.demo_coeff, use_log_prob=True, normalized_max_advantage=True),
        plateau=PlateauConfig(
            window=5, rel_improvement=0.05, min_steps=(3 * phase1) // 4, max_steps=phase1
        ),
        num_train_variations=s.num_levels,
        num_specialists=s.num_specialists,
        num_low=s.num_low,
        split="random",
        select_metric="return",
        eval_episodes=s.eval_episodes,
        specialist_steps=specialist,
        specialist_demo_episodes=s.demo_episodes,
        generalist_demo_episodes=s.demo_episodes,
        demo_steps=s.demo_steps,
        phase2_steps=phase2,
        updates_per_chunk=s.updates_per_chunk,
        seed=seed,
    )


def env_options(s: Settings) -> dict[str, Any]:
    """The options of ``make_env`` for every game of ``s``."""
    options: dict[str, Any] = {"distribution_mode": s.distribution_mode, "obs_mode": s.obs_mode}
    if s.timeout is not None:
        options["timeout"] = s.timeout
    return options


# ------------------------------------------------------------------------------------------------
# The run directory
# ------------------------------------------------------------------------------------------------
def prepare_run_dir(run_dir: Path, s: Settings, resume: bool) -> bool:
    """Check ``run_dir`` against ``s`` and ``resume``; returns whether the experiment is finished.

    A fresh run needs an empty or missing directory; a resumed one needs this experiment's
    ``experiment.json`` with the same settings. Raises ``FileExistsError`` / ``ValueError`` /
    ``FileNotFoundError`` naming ``run_dir`` otherwise. Writes nothing.
    """
    saved_path = run_dir / "experiment.json"
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"run_dir: {run_dir} is a file")
    if saved_path.exists():
        try:
            saved = json.loads(saved_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"run_dir: {saved_path} is unreadable ({err})") from None
        if saved.get("kind") != EXPERIMENT_KIND:
            raise ValueError(f"run_dir: {run_dir} holds another kind of run ({saved.get('kind')})")
        diffs = [
            f"{k}: saved {saved['settings'].get(k)!r}, given {v!r}"
            for k, v in s.to_dict().items()
            if saved["settings"].get(k) != v and k not in RESUMABLE_CHANGES
        ]
        if diffs:
            raise ValueError(
                f"run_dir: {run_dir} holds another experiment ({'; '.join(diffs[:4])}); "
                "choose another --run-dir"
            )
        if not resume:
            state = "a finished" if (run_dir / "results.json").exists() else "an unfinished"
            raise FileExistsError(
                f"run_dir: {run_dir} already holds {state} run of this experiment; pass --resume "
                "to continue it (or redraw with `gsl-jax report`), or choose another --run-dir"
            )
        return (run_dir / "results.json").exists()
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ValueError(
            f"run_dir: {run_dir} is not empty and holds no procgen_gsl experiment; choose "
            "another --run-dir"
        )
    if resume:
        raise FileNotFoundError(f"run_dir: {run_dir} holds no experiment to resume")
    return False


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------
# Progress: one bar over the whole experiment, labelled with the game, seed, method and phase
# ------------------------------------------------------------------------------------------------
class Progress:
    """A tqdm bar of total env-steps over all runs, its label the current run and phase."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True)
        self.done = 0
        self.start = time.perf_counter()

    def label(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text, refresh=True)

    def advance(self, steps: int) -> None:
        self.done += steps
        if self.bar is not None:
            if self.done > self.bar.total:
                self.bar.total = self.done
            self.bar.update(steps)

    def retotal(self, total: int) -> None:
        if self.bar is not None:
            self.bar.total = max(total, self.done)
            self.bar.refresh()

    def write(self, text: str) -> None:
        text = f"[{time.perf_counter() - self.start:7.1f} s] {text}"
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------------------
# PPO: the generalist continued from GSL's branch point (or from scratch), with checkpoints
# ------------------------------------------------------------------------------------------------
def branch_checkpoint(gsl_dir: Path) -> Path:
    """GSL's checkpoint at the end of phase I (written when the next phase begins)."""
    for path in list_checkpoints(gsl_dir / "checkpoints"):
        if read_meta(path)["progress"]["phase"] not in ("phase1",):
            return path
    raise FileNotFoundError(f"run_dir: {gsl_dir} has no checkpoint after phase I")


class Context:
    """The network, env batch and a fresh generalist (the restore template) of one (game,
    seed), built once: every :func:`~gsl_jax.population.init_population` call compiles anew."""

    def __init__(self, env, config: GSLConfig):
        self.env, self.config = env, config
        self.build = RunBuilder(env, config)  # the very network, env batch and init GSL uses
        self._like = None

    @property
    def like(self):
        if self._like is None:
            self._like = self.build.fresh_generalist()
        return self._like

    def restore_gsl(self, path: Path):
        """``(progress, arrays)`` of a GSL checkpoint."""
        return self.build.restore(path, self.like)

    def restore_ppo(self, path: Path):
        """``(state, meta)`` of a PPO checkpoint."""
        arrays, meta = restore_checkpoint(path, {"generalist": self.like})
        return arrays["generalist"], meta


def run_ppo(
    ctx: Context,
    total_steps: int,
    ppo_dir: Path,
    branch: Path | None,
    checkpoint_every: int,
    progress: Progress,
    env_spec: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Train the PPO generalist to ``total_steps`` env-steps; returns its records.

    Starts from GSL's phase-I checkpoint ``branch`` (its records up to there become PPO's first
    records) or, with ``branch=None``, from the same initial state GSL's generalist has
    (``gsl_jax.gsl``'s init key). Resumes from ``ppo_dir``'s last complete checkpoint.
    """
    config, build = ctx.config, ctx.build
    chunk_size = config.updates_per_chunk * config.ppo.batch_size
    records: list[dict[str, Any]] = []
    prefix: list[dict[str, Any]] = []
    latest = latest_checkpoint(ppo_dir / "checkpoints")
    if latest is not None:
        state, meta = ctx.restore_ppo(latest)
        records = meta["records"]
    elif branch is not None:
        prog, arrays = ctx.restore_gsl(branch)
        state = arrays["generalist"]
        prefix = [dict(r, method="ppo") for r in prog.records if r["phase"] == "generalist"]
    else:
        state = ctx.like
    ppo_dir.mkdir(parents=True, exist_ok=True)
    if not (ppo_dir / "config.json").exists():  # what gsl_jax.report needs to rebuild the policy
        _write_json(
            ppo_dir / "config.json",
            {"env": ctx.env.name, "env_spec": env_spec or {}, "config": config.to_dict()},
        )
    # metrics.jsonl holds exactly the checkpointed records; RunLogger appends the new ones.
    (ppo_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    done_steps = (records or prefix)[-1]["total_steps"] if (records or prefix) else 0
    num_chunks = max(0, math.ceil((total_steps - done_steps) / chunk_size))
    saved = len(list_checkpoints(ppo_dir / "checkpoints"))
    chunk = make_chunk(build.vec_env, build.net, config.ppo, config.updates_per_chunk)
    start = records[-1]["total_steps"] if records else 0
    logger = RunLogger(ppo_dir, total_steps, progress=False, desc="ppo", start_step=start)
    with logger:
        for r in prefix:  # GSL's phase I, shared by both methods
            logger.log(r["total_steps"], r)
            records.append(r)
        for i in range(num_chunks):
            state, metrics = chunk(state)
            done_steps += chunk_size
            record = {
                "phase": "generalist",
                "method": "ppo",
                "generalist_steps": done_steps,
                "total_steps": done_steps,
                **summarize_chunk(metrics),
            }
            records.append(record)
            logger.log(done_steps, record)
            progress.advance(chunk_size)
            if (i + 1) % checkpoint_every == 0 or i + 1 == num_chunks:
                saved += 1
                save_checkpoint(
                    ppo_dir / "checkpoints",
                    saved,
                    {"generalist": state},
                    {"records": records, "total_steps": done_steps},
                )
    if num_chunks == 0 and latest is None:
        saved += 1
        save_checkpoint(
            ppo_dir / "checkpoints",
            saved,
            {"generalist": state},
            {"records": records, "total_steps": done_steps},
        )
    _write_json(ppo_dir / "result.json", {"total_steps": done_steps, "records": len(records)})
    return records


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------
def _split_scores(scores, n_train: int) -> dict[str, dict[str, list[float]]]:
    ret, suc = scores.mean_return(), scores.success_rate()
    return {
        "train": {"return": ret[:n_train].tolist(), "success": suc[:n_train].tolist()},
        "heldout": {"return": ret[n_train:].tolist(), "success": suc[n_train:].tolist()},
    }


def evaluate_run(ctx: Context, s: Settings, sub: Path, seed: int) -> dict[str, Any]:
    """Per-level returns and success of every policy of one (game, seed); see module docstring."""
    n, k = s.num_levels, s.heldout_levels
    ids = np.arange(n + k)
    out: dict[str, Any] = {
        "train_levels": [0, n],
        "heldout_levels": [n, n + k],
        "episodes": s.final_eval_episodes,
        "policies": {},
    }
    env, net = ctx.env, ctx.build.net

    def score(params, levels=ids):
        return evaluate_variations(
            env, net, params, levels, episodes=s.final_eval_episodes, seed=10_000 + seed
        )

    first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
    gsl_dir = sub / "gsl"
    if "gsl" in s.methods:
        ckpts = list_checkpoints(gsl_dir / "checkpoints")
        _, arrays = ctx.restore_gsl(ckpts[-1])
        out["policies"]["gsl"] = _split_scores(score(first(arrays["generalist"].params)), n)
        branch = branch_checkpoint(gsl_dir)
        prog, arrays = ctx.restore_gsl(branch)
        out["policies"]["phase1"] = _split_scores(score(first(arrays["generalist"].params)), n)
        # The specialists' last checkpoint (its chunk count says how far they had trained).
        spec = [p for p in ckpts if read_meta(p)["progress"]["phase"] == "specialists"]
        if spec:
            prog, arrays = ctx.restore_gsl(spec[-1])
            per_level: dict[int, tuple[float, float]] = {}
            for i, subset in enumerate(prog.subsets):
                params = jax.tree.map(lambda x, i=i: x[i], arrays["worker"].params)
                sc_i = score(params, np.asarray(subset))
                for v, r, w in zip(subset, sc_i.mean_return(), sc_i.success_rate(), strict=True):
                    per_level[int(v)] = (float(r), float(w))
            low = [int(v) for v in prog.low]
            out["specialists"] = {
                "levels": low,
                "subsets": prog.subsets,
                "return": [per_level[v][0] for v in low],
                "success": [per_level[v][1] for v in low],
                "chunks_trained": prog.chunk,
            }
    if "ppo" in s.methods:
        state, _ = ctx.restore_ppo(latest_checkpoint(sub / "ppo" / "checkpoints"))
        out["policies"]["ppo"] = _split_scores(score(first(state.params)), n)
    return out


def evaluate_envpool(game: str, s: Settings, network, params, levels: range, seed: int) -> dict:
    """Host evaluation on the real game: every env plays its first ``final_eval_episodes``
    episodes on levels drawn from ``levels``; returns per-level means (levels never drawn are
    left out) and the pooled episode means."""
    from gsl_jax.distributions import distribution_for
    from gsl_jax.envs.envpool import EnvPoolProcgen

    num_envs = min(64, max(1, len(levels)))
    env = EnvPoolProcgen(
        game, s.distribution_mode, num_envs=num_envs, levels=levels, seed=100_000 + seed * num_envs
    )
    apply = jax.jit(network.apply)
    key = jax.random.key(seed)
    obs = env.reset()
    remaining = np.full(num_envs, s.final_eval_episodes)
    by_level: dict[int, list[tuple[float, bool]]] = {}
    while remaining.max() > 0:
        key, k = jax.random.split(key)
        dist, _ = apply(params, obs)
        action = np.asarray(distribution_for(dist).sample(k, dist))
        obs, _, done, info = env.step(action)
        for b in np.flatnonzero(done & (remaining > 0)):
            by_level.setdefault(int(info["variation"][b]), []).append(
                (float(info["episode_return"][b]), bool(info["success"][b]))
            )
            remaining[b] -= 1
    env.close()
    seen = sorted(by_level)
    return {
        "levels": seen,
        "return": [float(np.mean([r for r, _ in by_level[v]])) for v in seen],
        "success": [float(np.mean([w for _, w in by_level[v]])) for v in seen],
    }


# ------------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------------
def summarize(run_dir: Path, s: Settings) -> dict[str, Any]:
    """``results.json``: per (game, seed, method) train / held-out return, success and
    normalised score, and the aggregates over games and seeds."""
    runs = []
    for game in s.games:
        r_min, r_max = sc.score_range(game, s.distribution_mode, s.backend)
        for seed in s.seeds:
            sub = run_dir / game / f"seed{seed}"
            ev = json.loads((sub / "eval.json").read_text())
            for method in s.methods:
                row: dict[str, Any] = {"game": game, "seed": seed, "method": method}
                res_path = sub / method / "result.json"
                if res_path.exists():
                    res = json.loads(res_path.read_text())
                    row["total_steps"] = res.get("total_steps")
                    if method == "gsl":
                        row["generalist_steps"] = res.get("generalist_steps")
                        row["demos_kept"] = res.get("demos_kept")
                        row["low_levels"] = res.get("low_variations")
                for split in ("train", "heldout"):
                    per = ev["policies"][method][split]
                    mean_return = float(np.mean(per["return"]))
                    row[split] = {
                        "return": mean_return,
                        "success": float(np.mean(per["success"])),
                        "normalized": float(
                            sc.normalize_score(mean_return, game, s.distribution_mode, s.backend)
                        ),
                    }
                runs.append(row)
    aggregates: dict[str, Any] = {}
    for method in s.methods:
        aggregates[method] = {}
        for split in ("train", "heldout"):
            matrix, games, seeds = sc.score_matrix(runs, method, split)
            aggregates[method][split] = sc.aggregate(matrix, reps=2000, seed=0)
    return {
        "kind": EXPERIMENT_KIND,
        "settings": s.to_dict(),
        "score_constants": {
            g: list(sc.score_range(g, s.distribution_mode, s.backend)) for g in s.games
        },
        "runs": runs,
        "aggregates": aggregates,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "jax_backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
        },
    }


def merge_metrics(run_dir: Path, s: Settings) -> None:
    """Rewrite ``RUN_DIR/metrics.jsonl``: every run's records tagged with game, seed, method."""
    lines = []
    for game in s.games:
        for seed in s.seeds:
            for method in s.methods:
                path = run_dir / game / f"seed{seed}" / method / "metrics.jsonl"
                for r in _read_jsonl(path):
                    lines.append(json.dumps({"game": game, "seed": seed, "method": method, **r}))
    tmp = run_dir / "metrics.jsonl.tmp"
    tmp.write_text("".join(line + "\n" for line in lines))
    tmp.replace(run_dir / "metrics.jsonl")


def print_table(results: dict[str, Any], write: Callable[[str], None] = print) -> None:
    """The per-game table and the aggregates, as Markdown."""
    s = results["settings"]
    write(
        "\n| game | method | train return | held-out return | held-out success "
        "| held-out normalised | total env-steps |"
    )
    write("|---|---|---|---|---|---|---|")
    for game in s["games"]:
        for method in s["methods"]:
            rows = [r for r in results["runs"] if r["game"] == game and r["method"] == method]

            def ms(values):
                v = np.asarray(values, float)
                return f"{v.mean():.2f} +- {v.std():.2f}" if v.size > 1 else f"{v.mean():.2f}"

            write(
                f"| {game} | {method.upper()} | {ms([r['train']['return'] for r in rows])} | "
                f"{ms([r['heldout']['return'] for r in rows])} | "
                f"{ms([r['heldout']['success'] for r in rows])} | "
                f"{ms([r['heldout']['normalized'] for r in rows])} | "
                f"{int(np.mean([r.get('total_steps') or 0 for r in rows])):,} |"
            )
    write("\nAggregates of normalised scores over games and seeds (95% stratified bootstrap CI):")
    for method, per in results["aggregates"].items():
        for split, agg in per.items():
            parts = [
                f"{name} {v['point']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]"
                for name, v in agg.items()
            ]
            write(f"  {method.upper():4s} {split:8s} " + ", ".join(parts))


# ------------------------------------------------------------------------------------------------
# The experiment
# ------------------------------------------------------------------------------------------------
def run_experiment(
    s: Settings,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    report: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the whole experiment in ``run_dir``; returns ``results.json``'s content.

    Every check (settings, games, run directory) happens before anything trains.
    """
    from gsl_jax.envs.registry import env_spec, make_env

    validate_settings(s)
    run_dir = Path(run_dir)
    finished = prepare_run_dir(run_dir, s, resume)
    if finished:
        return json.loads((run_dir / "results.json").read_text())
    envs = {}
    if s.backend == "jax":
        envs = {g: make_env(g, **env_options(s)) for g in s.games}
    else:
        from gsl_jax.envs.envpool import envpool_unavailable_reason

        reason = envpool_unavailable_reason()
        if reason is not None:
            raise ImportError(f"backend: envpool is unavailable ({reason})")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "experiment.json").exists():
        _write_json(
            run_dir / "experiment.json",
            {
                "kind": EXPERIMENT_KIND,
                "version": EXPERIMENT_VERSION,
                "settings": s.to_dict(),
                "command": " ".join(sys.argv),
            },
        )
    bar = Progress(_pair_estimate(s) * len(s.games) * len(s.seeds), progress)
    start = time.perf_counter()
    try:
        for game in s.games:
            for seed in s.seeds:
                sub = run_dir / game / f"seed{seed}"
                if s.backend == "jax":
                    _run_jax_pair(envs[game], game, seed, s, sub, bar, env_spec)
                else:
                    _run_envpool_pair(game, seed, s, sub, bar)
                merge_metrics(run_dir, s)
    finally:
        bar.close()
    results = summarize(run_dir, s)
    results["seconds"] = time.perf_counter() - start
    _write_json(run_dir / "results.json", results)
    print_table(results)
    if report:
        from gsl_jax.report import write_report

        print(f"drawing the report ({time.perf_counter() - start:.1f} s)", flush=True)
        for path in write_report(run_dir):
            print(f"wrote {path} ({time.perf_counter() - start:.1f} s)", flush=True)
    return results


def _run_jax_pair(env, game: str, seed: int, s: Settings, sub: Path, bar: Progress, spec) -> None:
    config = gsl_config(s, seed)
    ctx = Context(env, config)
    gsl_dir, ppo_dir = sub / "gsl", sub / "ppo"
    budget = s.steps
    branch = None
    if "gsl" in s.methods:
        # a resumed run restarts at its last checkpoint: count the steps done up to there
        latest = latest_checkpoint(gsl_dir / "checkpoints")
        seen = [read_meta(latest)["progress"]["total_steps"] if latest is not None else 0]
        bar.advance(seen[0])
        bar.label(f"{game} seed {seed} GSL phase1")

        def on_record(record: dict[str, Any]) -> None:
            bar.label(f"{game} seed {seed} GSL {record['phase']}")
            bar.advance(record["total_steps"] - seen[0])
            seen[0] = record["total_steps"]

        result = run_gsl(
            env,
            config,
            run_dir=gsl_dir,
            resume=(gsl_dir / "config.json").exists(),
            checkpoint_every=s.checkpoint_every,
            progress=False,
            log=lambda m: bar.write(f"[{game} seed {seed} GSL] {m}"),
            on_record=on_record,
            env_spec=spec(game, **env_options(s)),
        )
        budget = int(result.records[-1]["total_steps"])
        bar.advance(budget - seen[0])
        branch = branch_checkpoint(gsl_dir)
    if "ppo" in s.methods:
        chunk = chunk_steps(s)
        total = _round_up(budget, chunk)
        # The bar counts env-steps computed: PPO's share of GSL's phase I is not run again.
        shared = read_meta(branch)["progress"]["generalist_steps"] if branch is not None else 0
        latest = latest_checkpoint(ppo_dir / "checkpoints")
        resumed = read_meta(latest)["total_steps"] if latest is not None else shared
        bar.retotal(bar.done + total - shared + _remaining_estimate(s, game, seed))
        bar.advance(resumed - shared)
        bar.label(f"{game} seed {seed} PPO")
        if not (ppo_dir / "result.json").exists():
            bar.write(
                f"[{game} seed {seed} PPO] {total - resumed:,} env-steps to go after "
                f"{resumed:,} ({shared:,} shared with GSL's phase I); budget {total:,}"
            )
            run_ppo(
                ctx, total, ppo_dir, branch, s.checkpoint_every, bar, spec(game, **env_options(s))
            )
    if not (sub / "eval.json").exists():
        bar.label(f"{game} seed {seed} evaluating")
        bar.write(
            f"[{game} seed {seed}] evaluating on {s.num_levels} training and "
            f"{s.heldout_levels} held-out levels"
        )
        _write_json(sub / "eval.json", evaluate_run(ctx, s, sub, seed))


def _remaining_estimate(s: Settings, game: str, seed: int) -> int:
    """Estimated env-steps of the (game, seed) pairs after this one."""
    pairs = [(g, x) for g in s.games for x in s.seeds]
    later = len(pairs) - 1 - pairs.index((game, seed))
    return later * _pair_estimate(s)


def _pair_estimate(s: Settings) -> int:
    """Env-steps computed for one (game, seed): GSL's budget, plus PPO's beyond the phase I it
    shares with GSL (the bar's total is corrected as the phases' real lengths become known)."""
    if len(s.methods) == 1:
        return s.steps
    return int(s.steps * (2 - s.phase1_fraction))


def _run_envpool_pair(game: str, seed: int, s: Settings, sub: Path, bar: Progress) -> None:
    from gsl_jax.host_rollout import train_ppo_envpool
    from gsl_jax.networks import make_network

    ppo_dir = sub / "ppo"
    net_config = NetworkConfig(kind=s.network, hidden=s.hidden)
    params_path = ppo_dir / "params.npz"
    if not (ppo_dir / "result.json").exists():
        if ppo_dir.exists():  # an interrupted run: it restarts (EnvPool's games cannot be saved)
            shutil.rmtree(ppo_dir)
        bar.label(f"{game} seed {seed} PPO (envpool)")
        result = train_ppo_envpool(
            game,
            s.distribution_mode,
            ppo_config(s),
            net_config,
            total_steps=s.steps,
            levels=range(s.num_levels),
            seed=seed,
            updates_per_chunk=s.updates_per_chunk,
            run_dir=ppo_dir,
            progress=False,
        )
        leaves = jax.tree.leaves(jax.tree.map(lambda x: np.asarray(x[0]), result.state.params))
        np.savez(params_path, *leaves)
        bar.advance(result.history[-1]["step"])
        _write_json(ppo_dir / "result.json", {"total_steps": result.history[-1]["step"]})
    if not (sub / "eval.json").exists():
        from gsl_jax.envs.core import Discrete

        network = make_network(net_config, Discrete(15), (64, 64, 3))
        like = network.init(jax.random.key(0), np.zeros((1, 64, 64, 3), np.uint8))
        with np.load(params_path) as data:
            leaves = [data[f"arr_{i}"] for i in range(len(data.files))]
        params = jax.tree.unflatten(jax.tree.structure(like), leaves)
        bar.label(f"{game} seed {seed} evaluating (envpool)")
        n, k = s.num_levels, s.heldout_levels
        train = evaluate_envpool(game, s, network, params, range(0, n), seed)
        held = evaluate_envpool(game, s, network, params, range(n, n + k), seed)
        ev = {
            "train_levels": [0, n],
            "heldout_levels": [n, n + k],
            "episodes": s.final_eval_episodes,
            "policies": {"ppo": {"train": train, "heldout": held}},
        }
        _write_json(sub / "eval.json", ev)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procgen_gsl.py",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "GSL runs only on the JAX ports: --backend envpool trains PPO alone (--methods ppo); "
            "giving gsl there is an error. Options left out take the preset's value; a preset's "
            "defining options (obs-mode, network, hidden, steps) may not be changed except with "
            "--preset custom. Outputs: RUN_DIR/results.json, metrics.jsonl, TensorBoard events, "
            "learning_curves.png, level_heatmap.png, scores.png, generalist.gif."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--preset", default="quick", choices=sorted(PRESETS), help="default: quick")
    add("--run-dir", type=Path, default=None, help="default: runs/procgen_gsl_<preset>")
    add("--resume", action="store_true", help="continue the experiment in --run-dir")
    add("--games", nargs="+", default=None, help="Procgen games (quick: coinrun)")
    add("--seeds", nargs="+", type=int, default=None, help="(quick: 0 1)")
    add("--methods", nargs="+", default=None, choices=METHODS, help="(default: ppo gsl)")
    add("--backend", default=None, choices=sc.BACKENDS, help="jax ports (default) or envpool")
    add("--distribution-mode", default=None, choices=("easy", "hard"))
    add("--obs-mode", default=None, choices=("symbolic", "pixels"))
    add("--network", default=None, choices=("mlp", "small_cnn", "impala"))
    add("--hidden", nargs="+", type=int, default=None, help="MLP hidden sizes")
    add("--num-levels", type=int, default=None, help="training levels 0..N-1 (default 200)")
    add("--heldout-levels", type=int, default=None, help="held-out levels N..N+K-1 (100)")
    add("--steps", type=int, default=None, help="env-step budget per game, seed and method")
    for name in (
        "num_envs",
        "num_steps",
        "num_minibatches",
        "update_epochs",
        "updates_per_chunk",
        "num_specialists",
        "num_low",
        "eval_episodes",
        "final_eval_episodes",
        "demo_episodes",
        "demo_steps",
        "gif_levels",
        "gif_steps",
        "checkpoint_every",
    ):
        add("--" + name.replace("_", "-"), type=int, default=None)
    for name in ("learning_rate", "gamma", "phase1_fraction", "specialist_fraction"):
        add("--" + name.replace("_", "-"), type=float, default=None)
    for name in ("demo_coeff",):
        add("--" + name.replace("_", "-"), type=float, default=None)
    add("--timeout", type=int, default=None, help="episode step limit (default: the game's)")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--no-report", action="store_true", help="skip the plots and the GIF")
    return parser


OPTION_FIELDS = [f.name for f in dataclasses.fields(Settings)]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the command line, check everything, run; exits with a message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        overrides = {name: getattr(args, name) for name in OPTION_FIELDS}
        settings = resolve_settings(args.preset, overrides)
        run_dir = args.run_dir or Path(f"runs/procgen_gsl_{args.preset}")
        return run_experiment(
            settings, run_dir, args.resume, not args.no_progress, not args.no_report
        )
    except (ValueError, FileExistsError, FileNotFoundError, ImportError) as err:
        raise SystemExit(f"procgen_gsl: error: {err}") from None


if __name__ == "__main__":
    main()

"""The ``gsl-jax`` command line.

    gsl-jax ppo   [--env CartPole-v1] [--total-steps 200000] [--preset classic_control]
                  [--family pole] [--num-seeds 4] [--ppo.lr-schedule cosine] [...]
    gsl-jax train [--env forkmaze] [--run-dir runs/gsl] [--gsl.num-specialists 4] [...]
    gsl-jax train --method ppo [--total-steps N] [--gsl.ppo.learning-rate 5e-4] [...]
    gsl-jax train --backend envpool --env coinrun --gsl.num-train-variations 200 [...]
    gsl-jax train --resume RUN_DIR
    gsl-jax eval  RUN_DIR [--episodes 8] [--heldout 0]
    gsl-jax report RUN_DIR [--no-gif]     (a benchmarks/procgen_gsl.py run directory)

Every option is generated from the config dataclasses, with its default in ``--help``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import tyro

from gsl_jax.gsl import GSLConfig
from gsl_jax.loop import MAX_VALUE_LOSS, check_max_value_loss
from gsl_jax.networks import NetworkConfig
from gsl_jax.presets import FORKMAZE_GSL, PRESETS
from gsl_jax.rundir import MANIFEST, RunDirectory, write_atomic


@dataclass(frozen=True)
class PPOOverrides:
    """PPO fields to change from the preset (unset fields keep the preset's value)."""

    num_envs: int | None = None
    num_steps: int | None = None
    num_minibatches: int | None = None
    update_epochs: int | None = None
    learning_rate: float | None = None
    gamma: float | None = None
    gae_lambda: float | None = None
    clip_eps: float | None = None
    ent_coef: float | None = None
    vf_coef: float | None = None
    max_grad_norm: float | None = None
    normalize_rewards: bool | None = None
    loop: Literal["auto", "scan", "unroll"] | None = None
    lr_schedule: Literal["constant", "linear", "cosine"] | None = None
    """Learning-rate schedule; linear and cosine anneal to 0 over the run's updates."""


@dataclass(frozen=True)
class PPOCommand:
    """Train PPO on any gymnax environment (several seeds at once) and report its return."""

    env: str = "CartPole-v1"
    """Any gymnax id (CartPole-v1, Breakout-MinAtar, Catch-bsuite, ...), standard parameters."""
    family: str | None = None
    """A registered variation family of the env (e.g. pole for CartPole-v1); default none."""
    total_steps: int = 200_000
    """Env-steps to train for per seed: exactly total_steps // (num_envs x num_steps) updates."""
    num_seeds: int = 1
    """Independent seeds, trained together as one vmapped population."""
    preset: Literal["classic_control", "continuous_control", "procgen"] = "classic_control"
    """PPO hyperparameter preset (see gsl_jax.presets; classic_control and continuous_control
    anneal the learning rate linearly over the run)."""
    ppo: PPOOverrides = field(default_factory=PPOOverrides)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    seed: int = 0
    updates_per_chunk: int = 10
    """PPO updates per compiled chunk (one log line per chunk)."""
    run_dir: Path | None = None
    """Write metrics.jsonl, TensorBoard events and result.json here (a new or empty folder)."""


def run_ppo(cmd: PPOCommand) -> float:
    """Run the ``ppo`` subcommand; returns the final mean episode return (over the seeds)."""
    from gsl_jax.envs.gymnax import GymnaxEnv, gymnax_ids
    from gsl_jax.loop import chunk_budget
    from gsl_jax.training import train_ppo

    overrides = {f.name: getattr(cmd.ppo, f.name) for f in fields(cmd.ppo)}
    config = PRESETS[cmd.preset].replace(**{k: v for k, v in overrides.items() if v is not None})
    if cmd.total_steps <= 0:
        raise ValueError(f"total_steps: must be positive, got {cmd.total_steps}")
    if cmd.updates_per_chunk <= 0:
        raise ValueError(f"updates_per_chunk: must be positive, got {cmd.updates_per_chunk}")
    if cmd.num_seeds <= 0:
        raise ValueError(f"num_seeds: must be positive, got {cmd.num_seeds}")
    if not 0 <= cmd.seed < 2**32:  # jax keeps 32 bits of a seed; refuse what it would wrap
        raise ValueError(f"seed: must be in [0, 2**32), got {cmd.seed}")
    if cmd.env not in gymnax_ids():
        raise ValueError(f"env: unknown gymnax environment {cmd.env!r}; known: {gymnax_ids()}")
    budget = chunk_budget(cmd.total_steps, config.batch_size, cmd.updates_per_chunk)
    env = GymnaxEnv(cmd.env, family=cmd.family)
    print(
        f"gsl-jax ppo: {cmd.env} with {env.num_variations} variation(s), {cmd.num_seeds} seed(s), "
        f"{budget.num_updates} updates of {config.num_envs} envs x {config.num_steps} steps "
        f"({budget.num_updates * config.batch_size:,} env-steps per seed), lr "
        f"{config.learning_rate:g} {config.lr_schedule}"
    )
    result = train_ppo(
        env,
        config,
        cmd.network,
        total_steps=cmd.total_steps,
        seed=cmd.seed,
        updates_per_chunk=cmd.updates_per_chunk,
        run_dir=cmd.run_dir,
        num_seeds=cmd.num_seeds,
    )
    final = result.final_return
    steps = result.history[-1]["step"]
    rate = [h["steps_per_second"] for h in result.history[1:]] or [math.nan]
    per_seed = result.history[-1]["return_mean_per_member"]
    print(
        f"final mean episode return: {final:.1f} after {steps:,} env-steps per seed "
        f"({sum(rate) / len(rate):,.0f} steps/s; {result.compile_seconds:.1f} s compiling, "
        f"first chunk {result.first_chunk_seconds:.1f} s)"
    )
    if cmd.num_seeds > 1:
        print("last chunk's return per seed: " + ", ".join(f"{r:.1f}" for r in per_seed))
    if cmd.run_dir is not None:
        summary = {
            "env": cmd.env,
            "family": cmd.family,
            "final_return": final,
            "final_return_per_seed": per_seed,
            "env_steps": steps,
            "seed": cmd.seed,
            "num_seeds": cmd.num_seeds,
        }
        RunDirectory.load(cmd.run_dir).write_json("result.json", summary)
    return final


@dataclass(frozen=True)
class TrainCommand:
    """Train a generalist with generalist-specialist learning (GSL), or with plain PPO
    (--method ppo), into a resumable run_dir."""

    method: Literal["gsl", "ppo"] = "gsl"
    """gsl, or ppo: plain PPO with the same --gsl.ppo, --gsl.network, --gsl.num-train-variations,
    --gsl.updates-per-chunk and --gsl.seed, the same run_dir layout, checkpoints and --resume."""
    total_steps: int | None = None
    """--method ppo only: env-steps to train for (default: the GSL config's training budget,
    plateau.max-steps + phase2-steps + num-specialists x specialist-steps + low-finetune-steps)."""
    env: str = "forkmaze"
    """Environment: forkmaze, any gymnax id (e.g. CartPole-v1, Breakout-MinAtar; standard
    parameters unless --family) or a Procgen game (maze, heist, bigfish, coinrun)."""
    backend: Literal["jax", "envpool"] = "jax"
    """jax (the JAX envs above) or envpool: the real Procgen game --env (any of the 16) on
    host envs through EnvPool (pixels; the [procgen] extra), levels 0 .. num-train-variations-1."""
    family: str | None = None
    """gymnax only: a registered variation family (e.g. pole for CartPole-v1)."""
    distribution_mode: str | None = None
    """Procgen only: easy or hard (default easy)."""
    obs_mode: str | None = None
    """Procgen only: pixels or symbolic (default pixels)."""
    gsl: GSLConfig = FORKMAZE_GSL
    """GSL settings; the defaults suit forkmaze on a CPU."""
    run_dir: Path | None = None
    """Output folder (default runs/gsl; a new or empty one): config, checkpoints, metrics.jsonl,
    TensorBoard, demos.npz, result.json."""
    resume: Path | None = None
    """Resume the run in this folder from its last complete checkpoint (uses its saved config;
    a damaged newest checkpoint falls back to the one before)."""
    branch_from: Path | None = None
    """GSL only: take phase I over from this GSL run's folder instead of training it (its
    config must agree on every field phase I reads: --gsl.ppo, network, plateau, seed, ...);
    the run then ends as it would from scratch (ablations of what follows phase I)."""
    max_value_loss: float = MAX_VALUE_LOSS
    """Stop the run when a value loss exceeds this (runaway divergence; inf: off). Non-finite
    losses or parameters always stop it."""
    checkpoint_every: int = 10
    """Chunks between checkpoints inside a phase."""
    progress: bool = True
    """Draw a progress bar."""
    coordinator: str | None = None
    """Multi-process GSL (docs/scaling.md): HOST:PORT of process 0, the same on every process;
    with --num-processes and --process-id."""
    num_processes: int | None = None
    """Multi-process GSL: how many processes take part (must divide --gsl.num-specialists; the
    generalist's --gsl.ppo.num-envs must divide by the devices of all processes together)."""
    process_id: int | None = None
    """Multi-process GSL: this process's index, 0 .. num-processes - 1 (0 writes the run files)."""
    distributed: bool = False
    """Multi-process GSL without the three flags above: JAX detects the cluster (SLURM, Cloud
    TPU, Open MPI)."""
    distributed_timeout: int = 300
    """Seconds to wait for the coordinator and the other processes."""


@dataclass(frozen=True)
class EvalCommand:
    """Evaluate a GSL run's generalist per variation and write eval.json."""

    run_dir: tyro.conf.Positional[Path]
    """The run folder written by gsl-jax train."""
    episodes: int = 8
    """Episodes per variation."""
    heldout: int = 0
    """Also evaluate this many held-out variations (the ids right after the training ones)."""
    greedy: bool = False
    """Act with the most likely action instead of sampling."""
    out: Path | None = None
    """Where to write the results (default RUN_DIR/eval.json; never overwritten; its folder must
    exist)."""


@dataclass(frozen=True)
class ReportCommand:
    """Redraw the plots (and the GIF) of a benchmarks/procgen_gsl.py run directory."""

    run_dir: tyro.conf.Positional[Path]
    """The run folder written by benchmarks/procgen_gsl.py (it holds results.json)."""
    gif: bool = True
    """Also redraw generalist.gif (rolls the final generalist out on held-out levels)."""


def _env_options(cmd: TrainCommand) -> dict:
    options = {}
    for name in ("distribution_mode", "obs_mode", "family"):
        value = getattr(cmd, name)
        if value is not None:
            options[name] = value
    return options


def _train_env_spec(cmd: TrainCommand, config) -> dict:
    """The env spec of a fresh ``train`` command (``ValueError`` naming a bad option)."""
    from gsl_jax.envs.registry import env_spec

    if cmd.backend == "jax":
        return env_spec(cmd.env, **_env_options(cmd))
    from gsl_jax.envs.envpool import GAME_MODES, envpool_spec

    if cmd.env not in GAME_MODES:
        raise ValueError(f"env: --backend envpool runs the Procgen games {sorted(GAME_MODES)}")
    if cmd.obs_mode not in (None, "pixels"):
        raise ValueError("obs_mode: the real games (--backend envpool) have pixels only")
    if cmd.family is not None:
        raise ValueError("family: gymnax only; not with --backend envpool")
    if config.num_train_variations is None:
        raise ValueError("gsl.num_train_variations: set the levels to train on (e.g. 200)")
    levels = range(config.num_train_variations)
    return envpool_spec(cmd.env, cmd.distribution_mode or "easy", config.ppo.num_envs, levels)


def ppo_run_config(cmd: TrainCommand):
    """The :class:`~gsl_jax.training.PPORunConfig` of a ``train --method ppo`` command."""
    from gsl_jax.training import PPORunConfig

    g = cmd.gsl
    return PPORunConfig(
        ppo=g.ppo,
        network=g.network,
        total_steps=cmd.total_steps if cmd.total_steps is not None else g.max_total_steps,
        num_train_variations=g.num_train_variations,
        updates_per_chunk=g.updates_per_chunk,
        seed=g.seed,
    )


def run_train(cmd: TrainCommand) -> dict:
    """Run the ``train`` subcommand; returns the result summary."""
    from gsl_jax.envs.registry import env_spec
    from gsl_jax.gsl import GSLConfig, result_summary, run_gsl
    from gsl_jax.run_layout import env_from_spec, load_run, read_json
    from gsl_jax.training import PPORunConfig, run_ppo

    if cmd.checkpoint_every <= 0:
        raise ValueError(f"checkpoint_every: must be positive, got {cmd.checkpoint_every}")
    check_max_value_loss(cmd.max_value_loss)
    flags = (cmd.coordinator, cmd.num_processes, cmd.process_id)
    if cmd.distributed or any(x is not None for x in flags):
        if cmd.method == "ppo":
            raise ValueError("method: multi-process runs are GSL runs (--method gsl)")
        from gsl_jax import distributed  # before anything else starts JAX

        distributed.initialize(*flags, timeout=cmd.distributed_timeout)
    if cmd.method != "ppo" and cmd.total_steps is not None:
        raise ValueError(
            "total_steps: only --method ppo takes it (a GSL run's budget is its phases'; "
            "--gsl.total-steps caps them all)"
        )
    if cmd.method == "ppo" and cmd.branch_from is not None:
        raise ValueError("branch_from: GSL runs only (--method gsl)")
    if cmd.resume is not None and cmd.run_dir is not None and cmd.run_dir != cmd.resume:
        raise ValueError(
            f"run_dir: --resume {cmd.resume} continues the run in that folder; --run-dir "
            f"{cmd.run_dir} points elsewhere (drop it, or start a fresh run there)"
        )
    run_dir = cmd.run_dir or Path("runs/gsl")
    method, spec = cmd.method, None
    config = ppo_run_config(cmd) if method == "ppo" else cmd.gsl
    if cmd.resume is not None:
        run_dir = cmd.resume
        saved = load_run(run_dir)
        if cmd.method == "ppo" and saved["method"] != "ppo":
            raise ValueError(f"resume: {run_dir} holds a {saved['method']} run, not a ppo run")
        given = (cmd.gsl, cmd.env, cmd.total_steps)
        untouched = given == (TrainCommand.gsl, TrainCommand.env, TrainCommand.total_steps)
        if untouched and not _env_options(cmd):  # no options given: continue with the saved
            method, spec = saved["method"], saved.get("env_spec") or {}
            if spec.get("backend", "jax") == "jax":  # refill defaults: a changed one is refused
                spec = env_spec(spec["name"], **spec.get("options", {}))
            klass = PPORunConfig if method == "ppo" else GSLConfig
            config = klass.from_dict(saved["config"])
    spec = spec or _train_env_spec(cmd, config)
    env = env_from_spec(spec)  # a JAX env, or an EnvPool template (host envs: gsl_jax.host)
    resumed = " (resume)" if cmd.resume else ""
    print(f"gsl-jax train: {env.name}, method {method}, run_dir {run_dir}{resumed}")
    common = dict(
        run_dir=run_dir,
        resume=cmd.resume is not None,
        checkpoint_every=cmd.checkpoint_every,
        progress=cmd.progress,
        env_spec=spec,
        max_value_loss=cmd.max_value_loss,
    )
    if method == "ppo":
        run_ppo(env, config, **common)
        keys = ("final_return", "generalist_steps", "total_steps")
        summary = read_json(Path(run_dir) / "result.json", keys)
    else:
        result = run_gsl(env, config, branch_from=cmd.branch_from, **common)
        summary = result_summary(result, env)
    print(
        f"final mean episode return: {summary['final_return']:.3f} after "
        f"{summary['generalist_steps']:,} generalist / {summary['total_steps']:,} total env-steps"
    )
    return summary


def run_eval(cmd: EvalCommand) -> dict:
    """Run the ``eval`` subcommand; returns what it writes to ``eval.json``."""
    import numpy as np

    from gsl_jax.envs.core import Environment
    from gsl_jax.evaluation import evaluate_variations
    from gsl_jax.gsl import load_generalist
    from gsl_jax.host import evaluate_host

    out = cmd.out or cmd.run_dir / "eval.json"
    if out.exists():
        raise FileExistsError(f"out: {out} exists already; not overwriting it")
    if not out.parent.is_dir():  # checked before the evaluation, not after
        raise FileNotFoundError(f"out: the folder {out.parent} of {out} does not exist")
    if cmd.episodes <= 0:
        raise ValueError(f"episodes: must be positive, got {cmd.episodes}")
    if cmd.heldout < 0:
        raise ValueError(f"heldout: must be >= 0, got {cmd.heldout}")
    env, config, params, network, phase, path = load_generalist(cmd.run_dir)
    evaluate = evaluate_variations
    if not isinstance(env, Environment):  # a host env (EnvPool): pinned host envs per level
        if cmd.greedy:
            raise ValueError("greedy: a host env's evaluation samples its actions")
        evaluate = lambda *args, episodes, seed, greedy: evaluate_host(*args, episodes, seed)  # noqa: E731
    print(f"gsl-jax eval: checkpoint {path} (phase {phase})")
    n_train = config.train_variations(env)
    if n_train + cmd.heldout > env.num_variations:
        raise ValueError(
            f"heldout: {cmd.heldout} held-out variations after {n_train} training ones exceed "
            f"the {env.num_variations} variations of {env.name}"
        )
    report: dict = {
        "env": env.name,
        "phase": phase,
        "checkpoint": str(path),
        "episodes": cmd.episodes,
    }
    splits = {"train": np.arange(n_train)}
    if cmd.heldout:
        splits["heldout"] = np.arange(n_train, n_train + cmd.heldout)
    for split, ids in splits.items():
        scores = evaluate(
            env, network, params, ids, episodes=cmd.episodes, seed=config.seed, greedy=cmd.greedy
        )
        returns, success = scores.mean_return(), scores.success_rate()
        report[split] = {
            "mean_return": float(returns.mean()),
            "success_rate": float(success.mean()),
            "per_variation": {
                int(v): {"return": float(r), "success": float(s)}
                for v, r, s in zip(ids, returns, success, strict=True)
            },
        }
        print(
            f"{split}: {ids.size} variations, mean return {returns.mean():.3f}, "
            f"success {success.mean():.3f}"
        )
    text = json.dumps(report, indent=1) + "\n"
    inside = out.parent.resolve() == cmd.run_dir.resolve()
    if inside and (cmd.run_dir / MANIFEST).exists():  # recorded as the run's own file
        RunDirectory.load(cmd.run_dir).write_json(out.name, report)
    else:
        write_atomic(out, text)
    return report


def run_report(cmd: ReportCommand) -> list[Path]:
    """Run the ``report`` subcommand; returns the files written."""
    from gsl_jax.report import write_report

    paths = write_report(cmd.run_dir, gif=cmd.gif)
    for path in paths:
        print(f"wrote {path}")
    return paths


COMMANDS = {
    "ppo": PPOCommand,
    "train": TrainCommand,
    "eval": EvalCommand,
    "report": ReportCommand,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gsl-jax`` command."""
    runners = {
        PPOCommand: run_ppo,
        TrainCommand: run_train,
        EvalCommand: run_eval,
        ReportCommand: run_report,
    }
    try:
        # Configs validate as tyro builds them, so a bad value fails here, before any compile.
        cmd = tyro.extras.subcommand_cli_from_dict(COMMANDS, args=argv, description=__doc__)
        runners[type(cmd)](cmd)
    except KeyboardInterrupt:
        raise SystemExit(
            "gsl-jax: interrupted (SIGINT); checkpoints already written are complete: "
            "continue with `gsl-jax train --resume RUN_DIR`"
        ) from None
    except (ValueError, FileExistsError, FileNotFoundError, ImportError) as err:
        raise SystemExit(f"gsl-jax: error: {err}") from None
    except OSError as err:  # read-only or full disk, a path that is a file, ...
        where = f"{err.filename}: " if err.filename else ""
        raise SystemExit(f"gsl-jax: error: {where}{err.strerror or err}") from None


if __name__ == "__main__":
    main()

"""The ``gsl-jax`` command line.

    gsl-jax ppo [--env CartPole-v1] [--total-steps 200000] [--preset classic_control] [...]

Every option is generated from the config dataclasses, with its default in ``--help``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

import tyro

from gsl_jax.envs.gymnax import SPECS
from gsl_jax.networks import NetworkConfig
from gsl_jax.presets import PRESETS

GymnaxName = Literal[tuple(SPECS)]  # type: ignore[valid-type]


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


@dataclass(frozen=True)
class PPOCommand:
    """Train a PPO generalist on a gymnax environment with variations and report its return."""

    env: GymnaxName = "CartPole-v1"  # type: ignore[valid-type]
    """gymnax environment (its variations are the default parameter family)."""
    total_steps: int = 200_000
    """Env-steps to train for."""
    preset: Literal["classic_control", "continuous_control", "procgen"] = "classic_control"
    """PPO hyperparameter preset (see gsl_jax.presets)."""
    ppo: PPOOverrides = field(default_factory=PPOOverrides)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    seed: int = 0
    updates_per_chunk: int = 10
    """PPO updates per compiled chunk (one log line per chunk)."""
    run_dir: Path | None = None
    """Write metrics.jsonl, TensorBoard events and result.json here."""
    lr_decay: bool = True
    """Anneal the learning rate linearly to zero over the run."""


def run_ppo(cmd: PPOCommand) -> float:
    """Run the ``ppo`` subcommand; returns the final mean episode return."""
    from gsl_jax.envs.gymnax import GymnaxEnv
    from gsl_jax.training import train_ppo

    overrides = {f.name: getattr(cmd.ppo, f.name) for f in fields(cmd.ppo)}
    config = PRESETS[cmd.preset].replace(**{k: v for k, v in overrides.items() if v is not None})
    if cmd.total_steps <= 0:
        raise ValueError(f"total_steps: must be positive, got {cmd.total_steps}")
    if cmd.lr_decay:
        updates = -(-cmd.total_steps // config.batch_size)
        config = config.replace(lr_decay_updates=updates)
    if cmd.run_dir is not None and (cmd.run_dir / "result.json").exists():
        raise FileExistsError(
            f"run_dir: {cmd.run_dir} already holds a finished run (result.json); "
            "choose another directory"
        )
    env = GymnaxEnv(cmd.env)
    print(
        f"gsl-jax ppo: {cmd.env} with {env.num_variations} variations, "
        f"{cmd.total_steps:,} env-steps, {config.num_envs} envs x {config.num_steps} steps"
    )
    result = train_ppo(
        env,
        config,
        cmd.network,
        total_steps=cmd.total_steps,
        seed=cmd.seed,
        updates_per_chunk=cmd.updates_per_chunk,
        run_dir=cmd.run_dir,
    )
    final = result.final_return
    steps = result.history[-1]["step"]
    rate = [h["steps_per_second"] for h in result.history[1:]] or [math.nan]
    print(
        f"final mean episode return: {final:.1f} after {steps:,} env-steps "
        f"({sum(rate) / len(rate):,.0f} steps/s after a {result.compile_seconds:.1f} s first chunk)"
    )
    if cmd.run_dir is not None:
        summary = {"env": cmd.env, "final_return": final, "env_steps": steps, "seed": cmd.seed}
        (cmd.run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    return final


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gsl-jax`` command."""
    cmd = tyro.extras.subcommand_cli_from_dict({"ppo": PPOCommand}, args=argv, description=__doc__)
    try:
        run_ppo(cmd)
    except (ValueError, FileExistsError) as err:
        raise SystemExit(f"gsl-jax: error: {err}") from None


if __name__ == "__main__":
    main()

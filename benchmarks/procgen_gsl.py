"""PPO vs PPO+GSL on Procgen: train on N levels, test on held-out ones, at equal total env-steps.

    python benchmarks/procgen_gsl.py                          # the quick preset (CPU, < 20 min)
    python benchmarks/procgen_gsl.py --preset paper --games coinrun maze   # accelerators
    python benchmarks/procgen_gsl.py --resume              # continue runs/procgen_gsl_quick
    python benchmarks/procgen_gsl.py --backend envpool --preset paper   # GSL and PPO, real games
    python benchmarks/procgen_gsl.py --set gsl.ppo.ent_coef=0.02     # any option, by its path
    python benchmarks/procgen_gsl.py --learner ppg          # PPG (gsl_jax.ppg) as base learner
    gsl-jax report runs/procgen_gsl_quick                     # redraw the plots and the GIF

The experiment (protocol, presets, runs, evaluation, results) is the library package
:mod:`gsl_jax.experiments.procgen`; this script is its command line. Its run directory is
described in docs/run_directory.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gsl_jax.experiments.procgen import (
    ALIASES,
    METHODS,
    PRESETS,
    env_options,
    gsl_config,
    resolve_settings,
    run_experiment,
)
from gsl_jax.experiments.procgen.settings import LEARNERS

__all__ = ["PRESETS", "build_parser", "env_options", "gsl_config", "main"]

#: Options of the command line besides the aliases of nested ones, with their types.
_OWN = {
    "num_levels": int,
    "heldout_levels": int,
    "steps": int,
    "final_eval_episodes": int,
    "gif_levels": int,
    "gif_steps": int,
    "checkpoint_every": int,
    "timeout": int,
    "phase1_fraction": float,
    "specialist_fraction": float,
}
_FLOAT_ALIASES = ("learning_rate", "gamma", "demo_coeff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procgen_gsl.py",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "--backend envpool runs GSL and PPO on the real games (host envs, pixels only). "
            "Options left out take the preset's value; a preset's defining options (obs-mode, "
            "network, hidden, steps) may be changed only with --preset custom. --set PATH=VALUE "
            "sets any option by its path (VALUE as JSON), e.g. gsl.dapg.demo_freq=2."
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
    add("--learner", nargs="+", default=None, choices=LEARNERS, help="base learners (ppo)")
    add("--backend", default=None, choices=("jax", "envpool"), help="jax ports or envpool")
    add("--distribution-mode", default=None, choices=("easy", "hard"))
    add("--obs-mode", default=None, choices=("symbolic", "pixels"))
    add("--network", default=None, choices=("mlp", "small_cnn", "impala"))
    add("--hidden", nargs="+", type=int, default=None, help="MLP hidden sizes")
    for name, kind in _OWN.items():
        add("--" + name.replace("_", "-"), type=kind, default=None)
    for name in sorted(set(ALIASES) - {"network", "hidden"}):
        kind = float if name in _FLOAT_ALIASES else int
        add("--" + name.replace("_", "-"), type=kind, default=None, help=f"= {ALIASES[name][0]}")
    add(
        "--fixed-budget",
        action="store_true",
        default=None,
        help="cap GSL's total env-steps at --steps; phase II takes what the rest leaves",
    )
    add("--set", action="append", default=[], metavar="PATH=VALUE", help="any option by path")
    add("--no-progress", action="store_true", help="no progress bar")
    add("--no-report", action="store_true", help="skip the plots and the GIF")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ["games", "seeds", "methods", "backend", "distribution_mode", "obs_mode"]
    names += [*ALIASES, *_OWN, "fixed_budget"]
    out = {name: getattr(args, name) for name in names}
    out["learners"] = args.learner
    for item in args.set:
        path, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set: expected PATH=VALUE, got {item!r}")
        try:
            out[path.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[path.strip()] = text  # a bare string, e.g. gsl.split=contiguous
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the command line, check everything, run; exits with a message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(args.preset, _overrides(args))
        run_dir = args.run_dir or Path(f"runs/procgen_gsl_{args.preset}")
        return run_experiment(
            settings, run_dir, args.resume, not args.no_progress, not args.no_report
        )
    except (ValueError, FileExistsError, FileNotFoundError, ImportError) as err:
        raise SystemExit(f"procgen_gsl: error: {err}") from None


if __name__ == "__main__":
    main()
